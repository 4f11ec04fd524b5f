"""IRAE training configuration (frozen dataclasses; YAML is only their serialization).

Recipe (``docs/restoration.md``–1.3): L1 loss, Adam(lr 1e-3, default betas, no weight decay), gradient
clipping at norm 50, batch 100 of CelebA 64×64 (CenterCrop 148 → Resize 64, 5-bit quantisation + dequantisation
noise), 150 epochs, the checkpoint with the best validation PSNR kept.

Learning-rate rules (both are offered, ``schedule.rule``):

- ``"paper"`` (§5.1): 1e-3, then 2e-4 after 50 epochs; afterwards ÷5 whenever the validation PSNR has not improved
  for 10 epochs; stop when the rate falls below 1e-6.
- ``"official"`` (the released code): ÷10 at epoch 50 (``MultiStepLR``), 150 epochs, no plateau rule.

The generic loop (:func:`invrestore.train.loop.fit`) schedules on *steps*, so :func:`irae_config` converts epochs to
steps with ``schedule.steps_per_epoch`` (CelebA: ⌊162,770 / 100⌋ = 1,627 with ``drop_last``), validates once per
epoch and maps the first decay onto ``train.optim.milestones``/``gamma``. The paper rule runs as the loop's
``"multistep-plateau"`` schedule: after the milestone, ×0.2 whenever ``plateau_patience_epochs`` validations brought
no PSNR gain, and ``stop_lr = min_lr`` ends the run once the rate falls below 1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from invrestore.data.restoration import RestorationDataConfig
from invrestore.errors import ConfigError
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = [
    "TASKS",
    "IRAEConfig",
    "IRAEDataConfig",
    "IRAELossConfig",
    "IRAEModelConfig",
    "IRAEScheduleConfig",
    "irae_config",
]

#: Restoration tasks of the paper.
TASKS = ("denoise", "jpeg", "inpaint")


@dataclass(frozen=True)
class IRAEModelConfig:
    """The registered model (``irae``) and its constructor's keyword arguments: the fields other than ``name`` are
    passed to :class:`~invrestore.models.irae.IRAE` as they are (``build_model(cfg.model)``)."""

    name: str = "irae"
    in_channels: int = 3
    width: int = 64
    depth: int = 16
    levels: int = 2
    lu: bool = False
    unused_gaussianize: bool = False
    memory_efficient: bool = False

    def __post_init__(self) -> None:
        for key, value, low in (("in_channels", self.in_channels, 1), ("width", self.width, 1)):
            if value < low:
                raise ConfigError(f"model.{key} must be >= {low}, got {value}")
        if self.depth < 0:
            raise ConfigError(f"model.depth (flow steps per level) must be >= 0, got {self.depth}")
        if self.levels < 1:
            raise ConfigError(f"model.levels must be >= 1, got {self.levels}")


@dataclass(frozen=True)
class IRAEDataConfig(RestorationDataConfig):
    """IRAE's data: :class:`~invrestore.data.restoration.RestorationDataConfig` with the paper's tasks."""

    tasks: ClassVar[tuple[str, ...]] = TASKS


@dataclass(frozen=True)
class IRAELossConfig:
    """Pixel loss. ``reduction="mean"`` is the official ``nn.L1Loss()`` (mean over B·C·H·W); ``"sum"`` is the
    paper's eq. 4 (per-image sum averaged over the batch; a constant factor C·H·W larger)."""

    reduction: str = "mean"

    def __post_init__(self) -> None:
        if self.reduction not in ("mean", "sum"):
            raise ConfigError(f"loss.reduction must be 'mean' or 'sum', got {self.reduction!r}")


@dataclass(frozen=True)
class IRAEScheduleConfig:
    """The learning-rate rule, in epochs (converted to loop steps by :func:`irae_config`).

    Attributes:
        rule: ``"paper"`` or ``"official"`` (see the module docstring).
        steps_per_epoch: optimiser steps per epoch (CelebA, batch 100, ``drop_last``: 1,627).
        epochs: total epochs (150 in the official code).
        decay_epoch: epoch of the first decay (50).
        plateau_patience_epochs: paper rule: epochs without a PSNR gain before ÷``1/plateau_factor``.
        plateau_factor: paper rule: multiplier at a plateau (1/5).
        min_lr: paper rule: stop when the rate falls below this.
    """

    rule: str = "paper"
    steps_per_epoch: int = 1_627
    epochs: int = 150
    decay_epoch: int = 50
    plateau_patience_epochs: int = 10
    plateau_factor: float = 0.2
    min_lr: float = 1e-6

    def __post_init__(self) -> None:
        if self.rule not in ("paper", "official"):
            raise ConfigError(f"schedule.rule must be 'paper' or 'official', got {self.rule!r}")
        for key in ("steps_per_epoch", "epochs"):
            if getattr(self, key) < 1:
                raise ConfigError(f"schedule.{key} must be >= 1, got {getattr(self, key)}")
        if self.decay_epoch < 0 or self.plateau_patience_epochs < 1:
            raise ConfigError(
                "schedule.decay_epoch must be >= 0 and schedule.plateau_patience_epochs >= 1, got "
                f"{self.decay_epoch} and {self.plateau_patience_epochs}"
            )
        if not 0 < self.plateau_factor < 1:
            raise ConfigError(f"schedule.plateau_factor must lie in (0, 1), got {self.plateau_factor}")

    @property
    def first_decay_gamma(self) -> float:
        """1e-3 → 2e-4 (×0.2) in the paper, ÷10 in the official code."""
        return 0.2 if self.rule == "paper" else 0.1


def _schedule_fields(s: IRAEScheduleConfig) -> dict[str, Any]:
    """The loop's schedule settings for a rule: the paper's multistep-then-plateau with a stop, or multistep."""
    fields: dict[str, Any] = {"milestones": (s.decay_epoch * s.steps_per_epoch,), "gamma": s.first_decay_gamma}
    if s.rule == "paper":
        fields.update(schedule="multistep-plateau", plateau_patience=s.plateau_patience_epochs, stop_lr=s.min_lr)
    return fields


def _default_train() -> TrainConfig:
    s = IRAEScheduleConfig()
    optim = OptimConfig(lr=1e-3, weight_decay=0.0, grad_clip=50.0, **_schedule_fields(s))
    n = s.steps_per_epoch
    return TrainConfig(steps=s.epochs * n, batch_size=100, seed=0, val_every=n, ckpt_every=n, optim=optim)


@dataclass(frozen=True)
class IRAEConfig:
    """A whole IRAE experiment (defaults: CelebA-64 denoising at σ = 25, paper schedule)."""

    family: str = "irae"
    model: IRAEModelConfig = field(default_factory=IRAEModelConfig)
    data: IRAEDataConfig = field(default_factory=IRAEDataConfig)
    loss: IRAELossConfig = field(default_factory=IRAELossConfig)
    schedule: IRAEScheduleConfig = field(default_factory=IRAEScheduleConfig)
    train: TrainConfig = field(default_factory=_default_train)


def irae_config(
    task: str = "denoise",
    rule: str = "paper",
    steps_per_epoch: int = 1_627,
    **data_overrides: Any,
) -> IRAEConfig:
    """A consistent IRAE preset: the schedule in epochs converted to the loop's step milestones.

    Args:
        task: ``"denoise"``, ``"jpeg"`` or ``"inpaint"``. Inpainting uses the official (missing) script's settings
            as the spec records them: batch 18, lr 1e-4, 200 epochs, 256×256 images (CelebA CenterCrop 148 →
            Resize 256), box masks.
        rule: ``"paper"`` or ``"official"`` learning-rate rule.
        steps_per_epoch: optimiser steps per epoch for the chosen data and batch size.
        **data_overrides: fields of :class:`IRAEDataConfig` (e.g. ``sigma=50``, ``quality=10``).
    """
    schedule = IRAEScheduleConfig(rule=rule, steps_per_epoch=steps_per_epoch)
    lr, batch = 1e-3, 100
    data_kw: dict[str, Any] = {"task": task}
    if task == "jpeg":
        # the official JPEG data: 64×64 random crops of pre-made images, no 5-bit pipeline; dataset unnamed
        data_kw.update(crop_size=64, dequantize_bits=0, repeat=10)
    elif task == "inpaint":
        lr, batch = 1e-4, 18
        schedule = replace(schedule, epochs=200)
        data_kw.update(resize=256)
    data_kw.update(data_overrides)
    data = IRAEDataConfig(**data_kw)
    n = schedule.steps_per_epoch
    optim = OptimConfig(lr=lr, weight_decay=0.0, grad_clip=50.0, **_schedule_fields(schedule))
    train = TrainConfig(steps=schedule.epochs * n, batch_size=batch, seed=0, val_every=n, ckpt_every=n, optim=optim)
    return IRAEConfig(data=data, schedule=schedule, train=train)
