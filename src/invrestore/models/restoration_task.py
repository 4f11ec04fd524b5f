"""The training task that IRAE and the restoration baselines share: one image in, one restored image out.

Both families train on the restoration pipeline of :mod:`invrestore.data.restoration` (``docs/restoration.md``):

.. code-block:: none

    image ─► CenterCrop/Resize (dataset) ─► [random crop] ─► x (B,C,H,W)
    x ─► [5-bit quantise + U(0, 1/32) dequantisation noise] ─► x            (the target)
    x ─► degradation (AWGN / JPEG / mask, seeded by the loop's per-step generator) ─► y, σ
    loss = pixel_loss(restore(model, y, σ), x)

The degradation runs in the step, not in the dataset, so that the dequantised clean image is what gets degraded,
with the loop's reproducible per-step generator. A family subclasses :class:`RestorationTask` and gives its
``pixel_loss`` (and ``restore`` when its network needs more than ``model(y)``); model building, the dataset, the
step and the validation are shared.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.data.restoration import (
    Degraded,
    degrade_batch_with_sigma,
    dequantize,
    restoration_train_set,
    validate_restoration,
)
from invrestore.imageops import pad_to_multiple
from invrestore.metrics import psnr
from invrestore.models.registry import build_model
from invrestore.train.config import TrainConfig
from invrestore.train.task import BaseTask, unwrap

__all__ = ["RestorationConfig", "RestorationTask", "restoration_step", "restore_padded"]

#: ``restore(model, y, sigma) -> x̂``: runs a network on a degraded batch (σ on the 0–255 scale, or None).
Restore = Callable[[nn.Module, Tensor, Tensor | None], Tensor]


class RestorationConfig(Protocol):
    """What :class:`RestorationTask` reads from a family's config."""

    @property
    def model(self) -> Any: ...  # name + the constructor's keyword arguments

    @property
    def data(self) -> Any: ...  # a RestorationDataConfig

    @property
    def train(self) -> TrainConfig: ...


C = TypeVar("C", bound=RestorationConfig)


def restore_padded(model: nn.Module, y: Tensor, sigma: Tensor | None = None) -> Tensor:
    """``model(y)`` for a batch of any size (not clamped): padded at the bottom/right to the network's
    ``multiple`` (when it has one; DDP/compile wrappers are looked through) and cropped back; ``sigma`` unused."""
    m = int(getattr(unwrap(model), "multiple", 1))
    h, w = y.shape[-2:]
    out: Tensor = model(pad_to_multiple(y, m))
    return out[..., :h, :w]


def restoration_step(
    model: nn.Module,
    batch: dict[str, Tensor],
    data: Any,
    generator: torch.Generator,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    restore: Restore,
) -> tuple[Tensor, dict[str, Tensor]]:
    """One step's loss: dequantise the clean crops, degrade them, ``loss_fn(restore(model, y, σ), x)``. Pure.

    ``batch["x"]`` is the clean crop ``(B, C, H, W)`` (``batch["x_lq"]`` is ignored: the degradation is applied
    here, see the module docstring); ``data`` is the family's data config (``dequantize_bits`` and the
    degradation settings). ``model`` may be DDP-wrapped.

    Returns:
        ``(loss, {"loss", "psnr"})``; the metrics are detached tensors (no host sync in the step).
    """
    x = batch["x"]
    if data.dequantize_bits:
        x = dequantize(x, data.dequantize_bits, generator)
    d = degrade_batch_with_sigma(x, data, generator)
    x_hat = restore(model, d.y, d.sigma)
    loss = loss_fn(x_hat, x)
    with torch.no_grad():
        batch_psnr = psnr(x_hat.detach().clamp(0, 1), x, quantize=False).mean()
    return loss, {"loss": loss.detach(), "psnr": batch_psnr.detach()}


class RestorationTask(BaseTask[C]):
    """A restoration family's task for :func:`invrestore.train.loop.fit` (see the module docstring).

    The config ``cfg`` has ``model`` (a model config: ``name`` + the constructor's keyword arguments), ``data``
    (a :class:`~invrestore.data.restoration.RestorationDataConfig`) and ``train``. Subclasses implement
    :meth:`pixel_loss`; the best checkpoint is the one with the highest validation PSNR.
    """

    best_metric = "psnr"

    def build_model(self) -> nn.Module:
        return build_model(self.cfg.model)

    def train_dataset(self) -> Dataset[Any]:
        dataset: Dataset[Any] = restoration_train_set(self.cfg.data, self.train.seed)
        return dataset

    @abstractmethod
    def pixel_loss(self, x_hat: Tensor, x: Tensor) -> Tensor:
        """The training loss between the restored and the clean batch."""

    def restore(self, model: nn.Module, y: Tensor, sigma: Tensor | None) -> Tensor:
        """Run ``model`` on a degraded batch of any size, not clamped (default: :func:`restore_padded`); ``sigma``
        (0–255) is for networks that take the noise level."""
        return restore_padded(model, y, sigma)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return restoration_step(model, batch, self.cfg.data, generator, self.pixel_loss, self.restore)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Mean PSNR/SSIM on the validation set (see :func:`~invrestore.data.restoration.validate_restoration`):
        every image whole, its degradation seeded by its index."""
        inner = self.unwrap(model)

        def run(deg: Degraded) -> Tensor:
            return self.restore(inner, deg.y.to(device), deg.sigma)

        return validate_restoration(run, self.cfg.data, self.train.seed)
