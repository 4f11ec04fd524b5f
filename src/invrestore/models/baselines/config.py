"""Training configuration of the restoration baselines (frozen dataclasses; YAML is only their serialization).

The IRAE paper compares against DnCNN, FFDNet and U-Net (denoising) and U-Net and AR-CNN (JPEG) on CelebA-64 but
gives no training recipe for them, and the official repository ships none (``docs/restoration.md``).
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
from typing import Any, ClassVar

from omegaconf import OmegaConf

from invrestore.data.restoration import RestorationDataConfig
from invrestore.errors import ConfigError
from invrestore.models.baselines.model import ARCNN, DnCNN, FFDNet, UNet  # also registers the entries
from invrestore.models.registry import MODELS as REGISTRY
from invrestore.models.registry import entry_model_config
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = [
    "LOSSES",
    "MODEL_CONFIGS",
    "TASKS",
    "ARCNNConfig",
    "BaselineConfig",
    "BaselineDataConfig",
    "BaselineLossConfig",
    "BaselineModelConfig",
    "DnCNNConfig",
    "FFDNetConfig",
    "UNetConfig",
    "baseline_model_config",
    "trainable_models",
]

#: Training tasks of the baselines (JPEG artefact removal is ``"dejpeg"``).
TASKS = ("denoise", "dejpeg")
#: Pixel losses.
LOSSES = ("l1", "mse")


def _at_least(key: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"model.{key} must be >= {low}, got {value}")


@dataclass(frozen=True)
class DnCNNConfig:
    """``dncnn``: the fields other than ``name`` are :class:`~invrestore.models.baselines.DnCNN`'s keyword
    arguments (defaults: the IRAE repo's colour DnCNN; ``middle_layers=15`` is DnCNN-S)."""

    name: str = "dncnn"
    in_channels: int = 3
    middle_layers: int = 40
    width: int = 64
    batch_norm: bool = True
    residual: bool = False

    def __post_init__(self) -> None:
        _at_least("in_channels", self.in_channels, 1)
        _at_least("middle_layers", self.middle_layers, 0)
        _at_least("width", self.width, 1)


@dataclass(frozen=True)
class FFDNetConfig:
    """``ffdnet``: :class:`~invrestore.models.baselines.FFDNet`'s keyword arguments (the paper's colour model)."""

    name: str = "ffdnet"
    in_channels: int = 3
    num_layers: int = 12
    width: int = 96
    batch_norm: bool = True
    residual: bool = False

    def __post_init__(self) -> None:
        _at_least("in_channels", self.in_channels, 1)
        _at_least("num_layers", self.num_layers, 2)
        _at_least("width", self.width, 1)


@dataclass(frozen=True)
class UNetConfig:
    """``unet``: :class:`~invrestore.models.baselines.UNet`'s keyword arguments (``out_channels: null`` = the
    input's channels)."""

    name: str = "unet"
    in_channels: int = 3
    out_channels: int | None = None
    depth: int = 4
    width: int = 64
    negative_slope: float = 0.2
    last_kernel: int = 3

    def __post_init__(self) -> None:
        _at_least("in_channels", self.in_channels, 1)
        _at_least("depth", self.depth, 1)
        _at_least("width", self.width, 1)
        if self.last_kernel < 1 or self.last_kernel % 2 == 0:
            raise ConfigError(f"model.last_kernel must be an odd size >= 1, got {self.last_kernel}")


@dataclass(frozen=True)
class ARCNNConfig:
    """``arcnn``: :class:`~invrestore.models.baselines.ARCNN`'s keyword arguments."""

    name: str = "arcnn"
    in_channels: int = 3
    init_std: float = 1e-3

    def __post_init__(self) -> None:
        _at_least("in_channels", self.in_channels, 1)


#: The base entries of the trainable baselines: registry name → its model config (``name`` + the constructor's
#: keyword arguments).
MODEL_CONFIGS: dict[str, type] = {
    "dncnn": DnCNNConfig,
    "ffdnet": FFDNetConfig,
    "unet": UNetConfig,
    "arcnn": ARCNNConfig,
}
#: The model config of each trainable builder.
_CONFIG_OF_BUILDER: dict[object, type] = {
    DnCNN: DnCNNConfig,
    FFDNet: FFDNetConfig,
    UNet: UNetConfig,
    ARCNN: ARCNNConfig,
}
#: A baseline's model config (``BaselineConfig.model``).
BaselineModelConfig = DnCNNConfig | FFDNetConfig | UNetConfig | ARCNNConfig


def trainable_models() -> tuple[str, ...]:
    """The registered baselines that ``model.name`` accepts: every entry of the family built by one of the four
    classes (``dncnn``, ``ffdnet``, ``unet``, ``arcnn`` and variants such as ``dncnn-s-denoise25``; not KAIR's
    published layouts)."""
    return tuple(n for n, e in REGISTRY.items() if e.family == "baselines" and e.builder in _CONFIG_OF_BUILDER)


def baseline_model_config(name: str = "dncnn", **settings: Any) -> BaselineModelConfig:
    """The model config of baseline ``name`` with ``settings`` (its constructor's keyword arguments); the settings
    not given are the entry's (``dncnn-s-denoise25``: ``middle_layers=15``), then the constructor's defaults.

    A setting of ``None`` means "not given" (configs saved by older versions list every baseline's settings,
    with ``null`` for those of the other models).

    Raises:
        ConfigError: an unknown model, a setting the model does not take, or a value of the wrong type.
    """
    entry = REGISTRY.get(name)
    cls = _CONFIG_OF_BUILDER.get(entry.builder) if entry is not None and entry.family == "baselines" else None
    if entry is None or cls is None:
        raise ConfigError(f"model.name must be one of {trainable_models()}, got {name!r}")
    cfg: BaselineModelConfig = entry_model_config(cls, name, {k: v for k, v in settings.items() if v is not None})
    return cfg


@dataclass(frozen=True)
class BaselineDataConfig(RestorationDataConfig):
    """The baselines' data: IRAE's fields and defaults (the IRAE comparison; see
    :class:`~invrestore.data.restoration.RestorationDataConfig`), with the task ``"denoise"`` or ``"dejpeg"``."""

    tasks: ClassVar[tuple[str, ...]] = TASKS


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
    """A baseline experiment (defaults: DnCNN, CelebA-64 denoising at σ = 25, IRAE's recipe).

    ``model`` is the model config of ``model.name`` (:data:`MODEL_CONFIGS`; YAML ``model: {name: unet, depth: 3}``):
    given as a mapping it is turned into that config here, so only the chosen model's settings are accepted.
    """

    family: str = "baselines"
    model: Any = field(default_factory=lambda: {"name": "dncnn"})  # a BaselineModelConfig once built
    data: BaselineDataConfig = field(default_factory=BaselineDataConfig)
    loss: BaselineLossConfig = field(default_factory=BaselineLossConfig)
    train: TrainConfig = field(default_factory=_default_train)

    def __post_init__(self) -> None:
        if not isinstance(self.model, tuple(MODEL_CONFIGS.values())):
            raw = OmegaConf.to_container(self.model) if OmegaConf.is_config(self.model) else self.model
            if not isinstance(raw, dict):
                raise ConfigError(f"model must be a mapping with a name (one of {trainable_models()}), got {raw!r}")
            object.__setattr__(self, "model", baseline_model_config(**{str(k): v for k, v in raw.items()}))
        if isinstance(self.model, FFDNetConfig) and self.data.task != "denoise":
            raise ConfigError("FFDNet is a denoiser (its input is the noise level): use data.task=denoise")
