"""The base of every family's training task: what :func:`invrestore.train.loop.fit` calls, with real defaults.

A family's task subclasses :class:`BaseTask`, names its config class, and implements the three methods that are
its own (``build_model``, ``train_dataset``, ``training_step``); the rest has defaults it may override:

.. code-block:: python

    @register_task("irae", IRAEConfig)           # invrestore.models.registry: the YAML preset's `family:` key
    class IRAETask(BaseTask[IRAEConfig]):
        best_metric = "psnr"

        def build_model(self) -> nn.Module:
            return build_model(self.cfg.model)   # the model config's fields are the constructor's arguments
        def train_dataset(self) -> Dataset: ...
        def training_step(self, model, batch, generator) -> (loss, metrics): ...
        def validate(self, model, device) -> dict[str, float]: ...

``training_step`` is pure: ``(model, batch, generator) -> (loss or {name: loss}, metrics)``. Its metrics should be
detached tensors, not Python floats, so that the step never waits for the device: the loop sums them on the device
and reads them on the host once per ``train.sync_every`` / ``log_every`` steps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.train.config import FAST_SETTINGS, OptimConfig, TrainConfig

__all__ = ["BaseTask", "unwrap"]

C = TypeVar("C")


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside DistributedDataParallel / DataParallel and ``torch.compile`` wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


class BaseTask(ABC, Generic[C]):
    """What a model family gives the training loop (see the module docstring).

    Attributes:
        cfg: the family's whole frozen config (its ``train`` field is the loop's :class:`TrainConfig`).
        train: ``cfg.train``.
        name: the run's name (default: ``cfg.model.name``).
        best_metric: key of :meth:`validate`'s result by which the best checkpoint is kept (higher is better).
        sync_gradients: ``"ddp"`` (wrap the model in DistributedDataParallel) or ``"allreduce"`` (the loop averages
            gradients itself; for steps that call sub-networks directly, e.g. a GAN's G and D).
        family: the registered task key (the preset's ``family:``), set by ``register_task``.
        config_class: the family's config dataclass, set by ``register_task``.
        fast_settings: the ``key=value`` overrides ``invrestore train --fast`` applies for this family (default
            :data:`~invrestore.train.config.FAST_SETTINGS`; the user's ``--set`` overrides come after and win).
    """

    best_metric: ClassVar[str] = "loss"
    sync_gradients: ClassVar[str] = "ddp"
    family: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    fast_settings: ClassVar[tuple[str, ...]] = FAST_SETTINGS

    def __init__(self, cfg: C) -> None:
        self.cfg = cfg
        train = getattr(cfg, "train", None)
        if not isinstance(train, TrainConfig):
            raise TypeError(f"{type(self).__name__} needs a config with a `train: TrainConfig` field")
        self.train: TrainConfig = train
        model_cfg = getattr(cfg, "model", None)
        self.name: str = str(getattr(model_cfg, "name", type(self).__name__))

    # -- what every family implements ----------------------------------------------------------------------------
    @abstractmethod
    def build_model(self) -> nn.Module:
        """The network to train (built from ``cfg.model``; see :func:`invrestore.models.registry.build_model`)."""

    @abstractmethod
    def train_dataset(self) -> Dataset[Any]:
        """The training set (items are dicts of tensors)."""

    @abstractmethod
    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor | dict[str, Tensor], dict[str, Any]]:
        """One pure step: ``(loss or {name: loss}, detached tensor metrics)``."""

    # -- hooks with defaults ---------------------------------------------------------------------------------------
    def config(self) -> C:
        """The config the run was built from (saved as the run folder's ``config.yaml``)."""
        return self.cfg

    unwrap = staticmethod(unwrap)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Validation metrics (default: none, so the last checkpoint is the one kept)."""
        return {}

    def param_groups(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        """One optimiser per name over these parameters (default: ``"main"`` over every trainable parameter)."""
        return {"main": [p for p in model.parameters() if p.requires_grad]}

    def optim_configs(self) -> dict[str, OptimConfig]:
        """The optimiser settings of each name of :meth:`param_groups` (default: ``{"main": train.optim}``)."""
        return {"main": self.train.optim}

    def finalize(self, run_dir: Path) -> Path | None:
        """Called once after training on the main process; may write deployable weights and return their path."""
        return None
