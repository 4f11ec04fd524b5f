"""IRN training configuration (frozen dataclasses; the YAML presets in ``configs/irn/`` serialize them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from invrestore.train.config import OptimConfig, TrainConfig

__all__ = ["IRNConfig", "IRNDataConfig", "IRNLossConfig", "IRNModelConfig"]


@dataclass(frozen=True)
class IRNModelConfig:
    """Which registered IRN variant to train (``irn-x2``, ``irn-x3``, ``irn-x4``, ``irn-x4e``, ``irn-x8``)."""

    name: str = "irn-x4"
    memory_efficient: bool = False
    init_weights: str | None = None  # start from these weights (safetensors or official .pth)


@dataclass(frozen=True)
class IRNLossConfig:
    """Loss weights of the official recipe (``docs/irn-extensions.md``). Pixel losses are summed over C,H,W and
    averaged over the batch.

    Attributes:
        lambda_fit: guide loss weight λ (``s²`` in the official ymls).
        lambda_rec: reconstruction loss weight.
        lambda_ce: latent loss weight (Σz²/B, the CE term without its ½).
        guide_loss: ``"l2"`` (squared error) or ``"l1"`` (Charbonnier; the ×2 noise fine-tune).
        gaussian_scale: std of the ẑ drawn for the backward pass (0 for the colour model).
        y_noise_prob, y_noise_sigma: noise fine-tune: with this probability per batch add σ·N(0,1) to Quant(y).
        eps: Charbonnier ε (``√(d² + ε)``).
    """

    lambda_fit: float = 16.0
    lambda_rec: float = 1.0
    lambda_ce: float = 1.0
    guide_loss: str = "l2"
    gaussian_scale: float = 1.0
    y_noise_prob: float = 0.0
    y_noise_sigma: float = 0.01
    eps: float = 1e-6


@dataclass(frozen=True)
class IRNDataConfig:
    """Training and validation data.

    Attributes:
        root: data root (``None``: ``$INVRESTORE_DATA`` or the default).
        train_sets: registered dataset names whose images are used for training.
        train_folders: extra image folders (absolute or relative paths).
        crop_size: HR crop (144 in the paper); the LR guide crop is ``crop_size / s``.
        repeat: crops per image per epoch.
        val_set: registered dataset for periodic validation (Y-PSNR, ``irn`` protocol), ``None`` to skip.
        val_limit: validate on the first N images only (0 = all).
        guide: the LR target: ``"bicubic"`` (MATLAB bicubic of the whole image, rescaling) or ``"luma"``
            (full-range BT.601 luma of the crop, 0.299R + 0.587G + 0.114B: IRN_color's cv2 BGR2GRAY).
    """

    root: str | None = None
    train_sets: tuple[str, ...] = ("DIV2K-train",)
    train_folders: tuple[str, ...] = ()
    crop_size: int = 144
    repeat: int = 1
    val_set: str | None = "Set5"
    val_limit: int = 0
    guide: str = "bicubic"


@dataclass(frozen=True)
class IRNConfig:
    """A whole IRN experiment."""

    family: str = "irn"
    model: IRNModelConfig = field(default_factory=IRNModelConfig)
    loss: IRNLossConfig = field(default_factory=IRNLossConfig)
    data: IRNDataConfig = field(default_factory=IRNDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(optim=OptimConfig()))
