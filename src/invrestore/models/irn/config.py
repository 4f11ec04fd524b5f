"""IRN training configuration (frozen dataclasses; the YAML presets in ``configs/irn/`` serialize them).

Every dataclass checks its own values when it is built and raises :class:`~invrestore.errors.ConfigError` naming
the key and the allowed values, so a bad preset fails when it is loaded, not at the first training step.
``model`` holds exactly the keyword arguments of the model's constructor (:func:`invrestore.models.registry
.build_model`); where to start from (``init_weights``) is a setting of the experiment, at the top level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from invrestore.errors import ConfigError
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = ["IRNConfig", "IRNDataConfig", "IRNLossConfig", "IRNModelConfig"]

GUIDE_LOSSES = ("l2", "l1")


def _check_range(key: str, value: float, low: float, high: float | None = None, low_open: bool = False) -> None:
    bad = value <= low if low_open else value < low
    if high is not None:
        bad = bad or value > high
    if bad:
        lo = f"> {low:g}" if low_open else f">= {low:g}"
        allowed = lo if high is None else f"in [{low:g}, {high:g}]"
        raise ConfigError(f"{key}={value!r} is out of range; allowed: {allowed}")


@dataclass(frozen=True)
class IRNModelConfig:
    """Which registered IRN variant to train (``irn-x2``, ``irn-x3``, ``irn-x4``, ``irn-x4e``, ``irn-x8``); the
    other fields are the constructor's keyword arguments.

    Attributes:
        name: the registry name.
        memory_efficient: recompute activations by inversion in the backward pass instead of storing them.
    """

    name: str = "irn-x4"
    memory_efficient: bool = False


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

    def __post_init__(self) -> None:
        if self.guide_loss not in GUIDE_LOSSES:
            raise ConfigError(f"loss.guide_loss={self.guide_loss!r} is unknown; allowed: {', '.join(GUIDE_LOSSES)}")
        for key in ("lambda_fit", "lambda_rec", "lambda_ce", "gaussian_scale", "y_noise_sigma"):
            _check_range(f"loss.{key}", getattr(self, key), 0.0)
        _check_range("loss.y_noise_prob", self.y_noise_prob, 0.0, 1.0)
        _check_range("loss.eps", self.eps, 0.0, low_open=True)


@dataclass(frozen=True)
class IRNDataConfig:
    """Training and validation data.

    Attributes:
        root: data root (``None``: ``$INVRESTORE_DATA`` or the default).
        train_sets: registered dataset names whose images are used for training.
        train_folders: extra image folders (absolute or relative paths).
        crop_size: HR crop (144 in the paper); the LR guide crop is ``crop_size / s``.
        repeat: crops per image per epoch.
        val_set: registered dataset for periodic validation (``None`` to skip): Y-PSNR of the ``irn`` protocol for
            IRN, RGB PSNR for IRN_color.
        val_limit: validate on the first N images only (0 = all).

    The LR target is the family's: MATLAB bicubic of the whole image for IRN, full-range BT.601 luma of the crop
    for IRN_color (``family: irn-color``, :mod:`invrestore.models.irn.color_config`).
    """

    root: str | None = None
    train_sets: tuple[str, ...] = ("DIV2K-train",)
    train_folders: tuple[str, ...] = ()
    crop_size: int = 144
    repeat: int = 1
    val_set: str | None = "Set5"
    val_limit: int = 0

    def __post_init__(self) -> None:
        _check_range("data.crop_size", self.crop_size, 1)
        _check_range("data.repeat", self.repeat, 1)
        _check_range("data.val_limit", self.val_limit, 0)


#: Keys of older presets and where they went (``invrestore.train.config.merge_config`` names the new place).
MOVED_KEYS: Mapping[str, str] = {
    "model.init_weights": "it is a top-level key now: init_weights (e.g. --set init_weights=PATH)",
    "data.guide": "IRN always uses the bicubic guide; IRN_color (guide: luma) is its own family: family: irn-color "
    "(configs/irn/color.yaml)",
}


@dataclass(frozen=True)
class IRNConfig:
    """A whole IRN experiment.

    Attributes:
        init_weights: start the model from these weights (our safetensors or an official ``IRN_x4.pth``-style
            file); the optimiser starts afresh. ``None``: a random initialisation.
    """

    moved_keys: ClassVar[Mapping[str, str]] = MOVED_KEYS

    family: str = "irn"
    model: IRNModelConfig = field(default_factory=IRNModelConfig)
    loss: IRNLossConfig = field(default_factory=IRNLossConfig)
    data: IRNDataConfig = field(default_factory=IRNDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(optim=OptimConfig()))
    init_weights: str | None = None
