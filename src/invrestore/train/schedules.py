"""Optimisers and learning-rate schedules of the generic loop (:func:`invrestore.train.loop.fit`), built from an
:class:`~invrestore.train.config.OptimConfig`; see that class for the schedules' rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from invrestore.errors import ConfigError
from invrestore.train.config import OptimConfig

__all__ = ["MultiStepThenPlateau", "apply_schedule_config", "make_optimizer", "make_scheduler"]


def make_optimizer(
    params: list[torch.nn.Parameter], o: OptimConfig, options: dict[str, bool] | None = None
) -> torch.optim.Optimizer:
    kw: dict[str, Any] = dict(options or {})
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay, **kw)
    if o.optimizer == "adamax":
        kw.pop("fused", None)  # Adamax has no fused kernel: use the multi-tensor one
        if options:
            kw["foreach"] = True
        return torch.optim.Adamax(params, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay, **kw)
    raise ConfigError(f"unknown optimizer {o.optimizer!r} (adam, adamax)")


def make_scheduler(optimizer: torch.optim.Optimizer, o: OptimConfig, steps: int) -> Any:
    if o.schedule == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(o.milestones), gamma=o.gamma)
    if o.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=o.gamma, patience=o.plateau_patience, min_lr=o.min_lr
        )
    if o.schedule == "multistep-plateau":
        return MultiStepThenPlateau(optimizer, o)
    if o.schedule == "linear":
        start, span = o.decay_start, max(1, steps - o.decay_start)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, _LinearDecay(start, span))
    raise ConfigError(f"unknown schedule {o.schedule!r} (multistep, plateau, multistep-plateau, linear)")


class MultiStepThenPlateau:
    """``MultiStepLR`` on steps; from the last milestone on, also ``ReduceLROnPlateau`` on the validation metric
    (IRAE's paper rule: 1e-3, ×0.2 at epoch 50, then ×0.2 after ``plateau_patience`` validations without a gain).
    Both multiply the optimiser's current rate, so they compose."""

    def __init__(self, optimizer: torch.optim.Optimizer, o: OptimConfig) -> None:
        self.multistep = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(o.milestones), gamma=o.gamma)
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=o.gamma, patience=o.plateau_patience, min_lr=o.min_lr
        )
        self.start = max(o.milestones, default=0)

    def step(self) -> None:
        self.multistep.step()

    def step_metric(self, value: float) -> None:
        if self.multistep.last_epoch >= self.start:
            self.plateau.step(value)

    def configure(self, o: OptimConfig) -> None:
        from collections import Counter

        self.multistep.milestones = Counter(o.milestones)
        self.multistep.gamma = self.plateau.factor = o.gamma
        self.plateau.patience = o.plateau_patience
        self.start = max(o.milestones, default=0)

    def state_dict(self) -> dict[str, Any]:
        return {"multistep": self.multistep.state_dict(), "plateau": self.plateau.state_dict(), "start": self.start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.multistep.load_state_dict(state["multistep"])
        self.plateau.load_state_dict(state["plateau"])
        self.start = int(state["start"])


@dataclass(frozen=True)
class _LinearDecay:
    """LR factor 1 until ``start``, then linear to 0 over ``span`` steps (picklable for checkpoints)."""

    start: int
    span: int

    def __call__(self, step: int) -> float:
        return 1.0 if step < self.start else max(0.0, 1.0 - (step - self.start) / self.span)


def apply_schedule_config(scheduler: Any, o: OptimConfig, steps: int) -> None:
    """After loading a scheduler's state, let the current config's schedule settings win (a run resumed with
    ``--set train.steps=... --set train.optim.milestones=[...]`` follows the new schedule from there on)."""
    from collections import Counter

    if isinstance(scheduler, torch.optim.lr_scheduler.MultiStepLR):
        scheduler.milestones = Counter(o.milestones)
        scheduler.gamma = o.gamma
    elif isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.factor, scheduler.patience = o.gamma, o.plateau_patience
    elif isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
        scheduler.lr_lambdas = [_LinearDecay(o.decay_start, max(1, steps - o.decay_start))]
    elif isinstance(scheduler, MultiStepThenPlateau):
        scheduler.configure(o)
