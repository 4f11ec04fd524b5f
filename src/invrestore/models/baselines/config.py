"""Training configuration of the restoration baselines (frozen dataclasses; YAML is only their serialization).

The IRAE paper compares against DnCNN, FFDNet and U-Net (denoising) and U-Net and AR-CNN (JPEG) on CelebA-64 but
gives no training recipe for them, and the official repository ships none (``specs/restoration_vae.md`` §1.5).
The default recipe is therefore IRAE's own, so that the comparison is like for like **[proposal]**: the same data
pipeline (CelebA CenterCrop 148 → Resize 64, 5-bit dequantisation of the clean image), ``L1`` loss (mean), Adam
lr 1e-3 without weight decay, gradient clipping 50, batch 100, lr ×0.2 at epoch 50 of 150.

Losses (``loss.kind``/``loss.reduction``):

- ``"l1"`` (default; the IRAE comparison): ``mean |x̂ − x|`` (``reduction="sum"``: per-image sum, batch mean).
- ``"mse"``: ``mean (x̂ − x)²``; with ``reduction="sum"`` it is DnCNN's paper loss
  ``1/(2N) Σᵢ ‖x̂ᵢ − xᵢ‖²`` (eq. 1 of Zhang et al. 2017, written on the image rather than the residual: the two
  are equal for ``residual=True``). FFDNet's paper uses the same form.

The DnCNN paper's optimiser (SGD, momentum 0.9, weight decay 1e-4, lr 0.1 → 1e-4 over 50 epochs, batch 128 of
40×40 patches) is not available in the generic loop (Adam/Adamax only); the presets use Adam.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from invrestore.errors import ConfigError
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = [
    "LOSSES",
    "MODELS",
    "TASKS",
    "BaselineConfig",
    "BaselineDataConfig",
    "BaselineLossConfig",
    "BaselineModelConfig",
]

#: Registered baseline models.
MODELS = ("dncnn", "ffdnet", "unet", "arcnn")
#: Training tasks of the baselines (JPEG artefact removal is ``"dejpeg"``).
TASKS = ("denoise", "dejpeg")
#: Pixel losses.
LOSSES = ("l1", "mse")

# constructor arguments each model accepts (None in the config = the registered preset's value)
_ARGS: dict[str, tuple[str, ...]] = {
    "dncnn": ("middle_layers", "width", "batch_norm", "residual"),
    "ffdnet": ("num_layers", "width", "batch_norm", "residual"),
    "unet": ("depth", "width"),
    "arcnn": (),
}


@dataclass(frozen=True)
class BaselineModelConfig:
    """The registered model and the constructor arguments to override (``None`` keeps the paper preset).

    Attributes:
        name: ``"dncnn"``, ``"ffdnet"``, ``"unet"`` or ``"arcnn"``.
        width: feature channels (DnCNN 64, FFDNet 96, U-Net 64 at the first level).
        middle_layers: DnCNN's conv + BN + ReLU layers (40 in the IRAE repo; 15 = DnCNN-S).
        num_layers: FFDNet's total convolutions (12 for colour).
        depth: U-Net's resolution levels (4).
        batch_norm: BatchNorm in DnCNN's/FFDNet's middle layers.
        residual: DnCNN/FFDNet return ``y − net(y)`` (the original DnCNN) instead of ``net(y)`` (the IRAE repo).
    """

    name: str = "dncnn"
    width: int | None = None
    middle_layers: int | None = None
    num_layers: int | None = None
    depth: int | None = None
    batch_norm: bool | None = None
    residual: bool | None = None

    def __post_init__(self) -> None:
        if self.name not in MODELS:
            raise ConfigError(f"model.name must be one of {MODELS}, got {self.name!r}")
        bad = [
            k
            for k in ("width", "middle_layers", "num_layers", "depth", "batch_norm", "residual")
            if getattr(self, k) is not None and k not in _ARGS[self.name]
        ]
        if bad:
            raise ConfigError(f"model.{bad[0]} does not apply to {self.name} (it takes {_ARGS[self.name] or 'none'})")

    def overrides(self) -> dict[str, Any]:
        """The non-``None`` constructor arguments, for :func:`invrestore.models.create_model`."""
        return {k: getattr(self, k) for k in _ARGS[self.name] if getattr(self, k) is not None}


@dataclass(frozen=True)
class BaselineDataConfig:
    """Training/validation images, their preprocessing and the degradation.

    The fields and their defaults are those of IRAE's data config (the IRAE comparison; see
    :class:`invrestore.models.irae.IRAEDataConfig` for the pipeline), with the task ``"denoise"`` or ``"dejpeg"``.

    Attributes:
        root: data root (``None``: ``$INVRESTORE_DATA`` or the default).
        train_sets: registered dataset names used for training.
        train_folders: extra image folders.
        center_crop: square centre crop before resizing (``None`` = none).
        resize: shorter side after the crop (Pillow bilinear; ``None`` = none).
        crop_size: random training crop (``None`` = the whole preprocessed image).
        augment: random flips/rotations.
        repeat: crops per image per epoch.
        dequantize_bits: 5-bit dequantisation of the clean image as IRAE (0 = plain 8-bit images).
        task: ``"denoise"`` or ``"dejpeg"``.
        sigma: AWGN level (0–255 scale).
        sigma_range: blind range ``(lo, hi)`` with one σ per image (``None`` = fixed ``sigma``).
        integer_sigma: integer σ in ``lo..hi−1`` (IRAE's blind draw with ``(1, 55)``).
        clip_noise: clamp noisy images to [0, 1].
        quality: JPEG quality factor.
        mask_mode: unused (the pipeline's inpainting field).
        val_set: registered validation dataset (``None``: ``val_folders``; both empty: no validation).
        val_folders: validation image folders.
        val_limit: validate on the first N images only (0 = all).
    """

    root: str | None = None
    train_sets: tuple[str, ...] = ("CelebA",)
    train_folders: tuple[str, ...] = ()
    center_crop: int | None = 148
    resize: int | None = 64
    crop_size: int | None = None
    augment: bool = False
    repeat: int = 1
    dequantize_bits: int = 5
    task: str = "denoise"
    sigma: float = 25.0
    sigma_range: tuple[float, float] | None = None
    integer_sigma: bool = False
    clip_noise: bool = False
    quality: int = 20
    mask_mode: str = "center"
    val_set: str | None = None
    val_folders: tuple[str, ...] = ()
    val_limit: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"data.task must be one of {TASKS}, got {self.task!r}")
        if not 0 <= self.dequantize_bits <= 8:
            raise ConfigError(f"data.dequantize_bits must be in 0..8, got {self.dequantize_bits}")


@dataclass(frozen=True)
class BaselineLossConfig:
    """Pixel loss (see the module docstring): ``kind`` ``"l1"``/``"mse"``, ``reduction`` ``"mean"``/``"sum"``."""

    kind: str = "l1"
    reduction: str = "mean"

    def __post_init__(self) -> None:
        if self.kind not in LOSSES:
            raise ConfigError(f"loss.kind must be one of {LOSSES}, got {self.kind!r}")
        if self.reduction not in ("mean", "sum"):
            raise ConfigError(f"loss.reduction must be 'mean' or 'sum', got {self.reduction!r}")


def _default_train() -> TrainConfig:
    n = 1_627  # CelebA, batch 100, drop_last
    optim = OptimConfig(lr=1e-3, weight_decay=0.0, milestones=(50 * n,), gamma=0.2, grad_clip=50.0)
    return TrainConfig(steps=150 * n, batch_size=100, seed=0, val_every=n, ckpt_every=n, optim=optim)


@dataclass(frozen=True)
class BaselineConfig:
    """A baseline experiment (defaults: DnCNN, CelebA-64 denoising at σ = 25, IRAE's recipe)."""

    family: str = "baselines"
    model: BaselineModelConfig = field(default_factory=BaselineModelConfig)
    data: BaselineDataConfig = field(default_factory=BaselineDataConfig)
    loss: BaselineLossConfig = field(default_factory=BaselineLossConfig)
    train: TrainConfig = field(default_factory=_default_train)

    def __post_init__(self) -> None:
        if self.model.name == "ffdnet" and self.data.task != "denoise":
            raise ConfigError("FFDNet is a denoiser (its input is the noise level): use data.task=denoise")
