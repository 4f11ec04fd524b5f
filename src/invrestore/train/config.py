"""Configs are frozen dataclasses; YAML is only their serialization (OmegaConf structured configs).

Unknown keys raise :class:`~invrestore.errors.ConfigError`, nothing mutates a config, and every run saves its resolved
config beside its checkpoints. ``--set key=value`` overrides use OmegaConf's dotlist syntax
(``train.optim.lr=1e-4``, ``data.crop_size=96``).

A config class may declare the keys older presets used and where they went, as a class attribute
``moved_keys: ClassVar[Mapping[str, str]] = {"model.init_weights": "it is a top-level key now: init_weights"}``; a
preset or override that still uses one is a :class:`~invrestore.errors.ConfigError` saying so, instead of OmegaConf's
"key not in" message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from invrestore.errors import ConfigError

__all__ = ["FAST_SETTINGS", "OptimConfig", "TrainConfig", "config_to_yaml", "load_config", "merge_config"]

T = TypeVar("T")

#: What ``train.optim.optimizer`` and ``train.optim.schedule`` accept (see :mod:`invrestore.train.schedules`).
OPTIMIZERS = ("adam", "adamax")
SCHEDULES = ("multistep", "plateau", "multistep-plateau", "linear")
#: The fast path's and safeguards' choices (docs/training.md).
PRECISIONS = ("float32", "bf16", "fp16")
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
NAN_POLICIES = ("raise", "rollback")
#: What ``invrestore train --fast`` (``load_task(..., fast=True)``) applies before the user's own overrides: the
#: settings measured fastest on the CPU for the convolutional families (docs/training.md, "Measured on this CPU"). A
#: family whose training set or layers do not suit one leaves it out (its task's ``fast_settings``).
FAST_SETTINGS = (
    "train.precision=bf16",
    "train.channels_last=true",
    "train.fused_optim=true",
    "train.device_resident=true",
    "train.sync_every=10",
)


@dataclass(frozen=True)
class OptimConfig:
    """One optimiser and its learning-rate schedule (default: the IRN/BasicSR recipe).

    Attributes:
        optimizer: ``"adam"`` (coupled L2 weight decay, as IRN/BasicSR) or ``"adamax"`` (selfVAE).
        lr, betas, weight_decay: the optimiser's settings.
        schedule: ``"multistep"`` (× ``gamma`` at each of ``milestones``, counted in steps), ``"plateau"``
            (× ``gamma`` when the validation metric has not improved for ``plateau_patience`` validations, down to
            ``min_lr``), ``"multistep-plateau"`` (the multistep rule, then from the last milestone on also the
            plateau rule, both with ``gamma``; IRAE's paper rule) or ``"linear"`` (constant until ``decay_start``,
            then linear to 0 at the last step; pix2pix's rule).
        stop_lr: stop training once this optimiser's learning rate has fallen below it (0: never; IRAE: 1e-6).
        grad_clip: global L2-norm clipping of this optimiser's parameters; 0 disables.
    """

    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-5
    milestones: tuple[int, ...] = (100_000, 200_000, 300_000, 400_000)
    gamma: float = 0.5
    grad_clip: float = 10.0  # global L2 norm; 0 disables
    optimizer: str = "adam"
    schedule: str = "multistep"
    plateau_patience: int = 10
    min_lr: float = 0.0
    decay_start: int = 0
    stop_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"train.optim.optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"train.optim.schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if not self.lr > 0:
            raise ConfigError(f"train.optim.lr must be > 0, not {self.lr}")
        if not self.gamma > 0:
            raise ConfigError(f"train.optim.gamma must be > 0, not {self.gamma}")
        for key in ("weight_decay", "grad_clip", "min_lr", "stop_lr"):
            if getattr(self, key) < 0:
                raise ConfigError(f"train.optim.{key} must be >= 0, not {getattr(self, key)}")
        for key in ("plateau_patience", "decay_start"):
            if getattr(self, key) < 0:
                raise ConfigError(f"train.optim.{key} must be >= 0, not {getattr(self, key)}")
        if any(m < 0 for m in self.milestones):
            raise ConfigError(f"train.optim.milestones must be step numbers >= 0, not {list(self.milestones)}")


@dataclass(frozen=True)
class TrainConfig:
    """The generic loop's settings (see :func:`invrestore.train.loop.fit`).

    ``batch_size`` is the global batch: with N processes each takes ``batch_size / N``.
    """

    steps: int = 500_000
    batch_size: int = 16
    seed: int = 10
    log_every: int = 100
    val_every: int = 5_000
    ckpt_every: int = 5_000
    num_workers: int = 0
    device: str = "auto"  # "auto" = cuda if available, else cpu
    # On CUDA: TF32 tensor cores for float32 convolutions and matrix products (as in the PyTorch 1.x releases the
    # official codes trained with), and cuDNN autotuning for the fixed training crop. Both off = plain float32.
    tf32: bool = True
    cudnn_benchmark: bool = True
    tensorboard: bool = False
    optim: OptimConfig = field(default_factory=OptimConfig)
    # The fast path (docs/training.md). Every default reproduces the plain float32 eager loop exactly.
    precision: str = "float32"  # float32 | bf16 | fp16 (autocast; fp16 adds a dynamic gradient scaler)
    flow_float32: bool = True  # under bf16/fp16: keep invertible streams, exp() and log-dets in float32
    channels_last: bool = False  # model and batches in channels-last memory format
    compile: str = ""  # "" (off) | default | reduce-overhead (CUDA graphs) | max-autotune: torch.compile the step
    fused_optim: bool = False  # Adam/Adamax with fused=True on CUDA (foreach=True elsewhere)
    device_resident: bool = False  # decode the training set once onto the device; crops and flips cut there
    sync_every: int = 1  # steps between host syncs (finiteness checks, metric reads); >1 only with log_every
    # Safeguards: what to do when a loss or gradient is NaN/Inf.
    nan_policy: str = "raise"  # raise | rollback (to the last good in-memory snapshot, then lr × nan_lr_factor)
    nan_lr_factor: float = 0.5
    snapshot_every: int = 100  # steps between in-memory snapshots of model + optimisers (rollback only)
    max_rollbacks: int = 1  # a non-finite step after this many rollbacks stops the run with an error

    def __post_init__(self) -> None:
        for key in ("steps", "batch_size", "log_every", "ckpt_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key} must be at least 1, not {getattr(self, key)}")
        for key in ("val_every", "num_workers", "max_rollbacks"):
            if getattr(self, key) < 0:
                raise ConfigError(f"train.{key} must be >= 0, not {getattr(self, key)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.compile not in COMPILE_MODES:
            modes = ", ".join(repr(m) for m in COMPILE_MODES)
            raise ConfigError(f"train.compile must be one of {modes}, not {self.compile!r}")
        if self.nan_policy not in NAN_POLICIES:
            raise ConfigError(f"train.nan_policy must be 'raise' or 'rollback', not {self.nan_policy!r}")
        for key in ("sync_every", "snapshot_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key} must be at least 1, not {getattr(self, key)}")
        if not 0.0 < self.nan_lr_factor <= 1.0:
            raise ConfigError(f"train.nan_lr_factor must be in (0, 1], not {self.nan_lr_factor}")


def merge_config(schema: type[T], *sources: Any, overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Build a config of type ``schema`` from dicts/YAML strings/configs and dotlist overrides.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or a malformed override.
    """
    try:
        base = OmegaConf.structured(schema)
        parts = [OmegaConf.create(s) if not OmegaConf.is_config(s) else s for s in sources]
        for o in overrides:
            if "=" not in o:
                raise ConfigError(f"override '{o}' is not of the form key=value")
        _check_moved(schema, parts, overrides)
        merged = OmegaConf.merge(base, *parts, OmegaConf.from_dotlist(list(overrides)))
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        msg = str(e).splitlines()[0]
        full_key = getattr(e, "full_key", None)
        raise ConfigError(f"invalid config: {msg}" + (f" (key '{full_key}')" if full_key else "")) from e
    assert isinstance(obj, schema)
    return obj


def _dotted_keys(node: Any, prefix: str = "") -> Iterator[str]:
    if OmegaConf.is_dict(node):
        for k in node:  # type: ignore[union-attr]
            key = f"{prefix}{k}"
            yield key
            yield from _dotted_keys(node._get_node(k), key + ".")  # type: ignore[union-attr]


def _check_moved(schema: type, parts: list[Any], overrides: list[str] | tuple[str, ...]) -> None:
    """Raise :class:`ConfigError` for a key that ``schema.moved_keys`` lists (see the module docstring)."""
    moved: Mapping[str, str] = getattr(schema, "moved_keys", {})
    if not moved:
        return
    used = [k for p in parts for k in _dotted_keys(p)]
    used += [o.split("=", 1)[0].strip().lstrip("+~") for o in overrides]
    for key in used:
        if key in moved:
            raise ConfigError(f"config key '{key}' is from an older preset: {moved[key]}")


def load_config(schema: type[T], path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Read a YAML config file into ``schema`` (see :func:`merge_config`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found")
    try:
        data = OmegaConf.load(path)
    except Exception as e:  # yaml errors come in several types
        raise ConfigError(f"cannot parse config '{path}': {e}") from e
    return merge_config(schema, data, overrides=overrides)


def config_to_yaml(cfg: Any) -> str:
    """Serialize a config dataclass to YAML."""
    if not is_dataclass(cfg):
        raise TypeError("config_to_yaml expects a dataclass instance")
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))
