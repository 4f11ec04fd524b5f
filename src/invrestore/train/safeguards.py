"""Training safeguards: detect a non-finite loss or gradient, roll back to the last good state, lower the lr.

With ``train.nan_policy: rollback`` the loop keeps an in-memory :class:`Snapshot` (model, optimisers, schedulers,
RNG) every ``train.snapshot_every`` steps, taken only at steps whose losses and gradients were checked finite. A
NaN/Inf in the loss or the gradient norm restores the last snapshot, multiplies every learning rate by
``train.nan_lr_factor`` (0.5) for the rest of the run, logs a ``rollback`` record and goes on from the snapshot's
step (the data order depends only on the step, so the same batches come again). A non-finite step after
``train.max_rollbacks`` rollbacks stops the run with :class:`TrainingDivergedError`. With the default
``nan_policy: raise`` the first non-finite loss stops the run with that error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from invrestore.errors import InvRestoreError

__all__ = ["Snapshot", "TrainingDivergedError", "scale_learning_rates"]


class TrainingDivergedError(InvRestoreError, FloatingPointError):
    """A loss or gradient became NaN/Inf and the run could not (or was not asked to) recover."""


@dataclass
class Snapshot:
    """A copy of the training state at ``step``, kept in host memory."""

    step: int
    model: dict[str, torch.Tensor]
    optimizers: dict[str, Any]
    schedulers: dict[str, Any]
    rng: dict[str, Any]
    scaler: dict[str, Any] | None = None

    @classmethod
    def take(
        cls,
        step: int,
        model: nn.Module,
        optimizers: dict[str, torch.optim.Optimizer],
        schedulers: dict[str, Any],
        rng: dict[str, Any],
        scaler: torch.amp.GradScaler | None = None,
    ) -> Snapshot:
        return cls(
            step=step,
            model={k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
            optimizers={k: _to_cpu(copy.deepcopy(o.state_dict())) for k, o in optimizers.items()},
            schedulers={k: copy.deepcopy(s.state_dict()) for k, s in schedulers.items()},
            rng=copy.deepcopy(rng),
            scaler=copy.deepcopy(scaler.state_dict()) if scaler is not None else None,
        )

    def restore(
        self,
        model: nn.Module,
        optimizers: dict[str, torch.optim.Optimizer],
        schedulers: dict[str, Any],
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        model.load_state_dict(self.model)
        for k, o in optimizers.items():
            o.load_state_dict(copy.deepcopy(self.optimizers[k]))  # moves the state back to the parameters' device
        for k, s in schedulers.items():
            s.load_state_dict(copy.deepcopy(self.schedulers[k]))
        if scaler is not None and self.scaler is not None:
            scaler.load_state_dict(copy.deepcopy(self.scaler))


def _to_cpu(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj


def scale_learning_rates(
    optimizers: dict[str, torch.optim.Optimizer], schedulers: dict[str, Any], factor: float
) -> None:
    """Multiply every learning rate by ``factor`` for the rest of the run: the optimisers' current and initial rates
    and the schedulers' base rates (so that step and lambda schedules keep the lower level)."""
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["lr"] = group["lr"] * factor
            if "initial_lr" in group:
                group["initial_lr"] = group["initial_lr"] * factor
    for sched in schedulers.values():
        for s in (sched, getattr(sched, "multistep", None)):
            if s is not None and hasattr(s, "base_lrs"):
                s.base_lrs = [b * factor for b in s.base_lrs]
            if s is not None and hasattr(s, "_last_lr"):
                s._last_lr = [g["lr"] for g in s.optimizer.param_groups]
