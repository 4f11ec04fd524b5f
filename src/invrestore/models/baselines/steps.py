"""The baselines' training step (pure) and :class:`BaselineTask`, the ``family: baselines`` task of the loop.

Data flow of one step (the IRAE pipeline, shared through :mod:`invrestore.models.restoration_task`):

.. code-block:: none

    image ─► CenterCrop/Resize ─► [random crop] ─► [5-bit dequantisation] ─► x (B,C,H,W)
    x ─► AWGN (σ per image) / JPEG (step, seeded by the loop's per-step generator) ─► y
    x̂ = net(y)   (FFDNet: net(y, σ/255) with the σ the degradation drew)
    loss = L1 or MSE(x̂, x)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from invrestore.models.baselines.config import BaselineConfig
from invrestore.models.baselines.model import FFDNet
from invrestore.models.registry import register_task
from invrestore.models.restoration_task import RestorationTask, restoration_step
from invrestore.train.task import unwrap

__all__ = ["BaselineTask", "pixel_loss", "restore_batch", "training_losses"]


def pixel_loss(x_hat: Tensor, x: Tensor, kind: str = "l1", reduction: str = "mean") -> Tensor:
    """L1 or MSE between ``(B, C, H, W)`` batches.

    Args:
        kind: ``"l1"`` or ``"mse"``.
        reduction: ``"mean"`` (over B·C·H·W) or ``"sum"`` (per-image sum, batch mean; for ``"mse"`` halved:
            DnCNN's ``1/(2N) Σ ‖x̂ᵢ − xᵢ‖²``).
    """
    d = x_hat - x
    e = d.abs() if kind == "l1" else d.pow(2)
    if reduction == "mean":
        return e.mean()
    per_image = e.flatten(1).sum(dim=1).mean()
    return per_image if kind == "l1" else 0.5 * per_image


def restore_batch(model: nn.Module, y: Tensor, sigma: Tensor | float | None = None) -> Tensor:
    """Run a baseline on ``y`` ``(B, C, H, W)``; FFDNet also gets ``sigma`` (0–255 scale, number or ``(B,)``).

    ``model`` may be DDP-wrapped. The output is not clamped (the networks pad odd sizes themselves).

    Raises:
        ValueError: FFDNet without ``sigma``.
    """
    if isinstance(unwrap(model), FFDNet):
        if sigma is None:
            raise ValueError("FFDNet needs the noise level sigma")
        s = sigma / 255.0 if isinstance(sigma, (int, float)) else sigma.to(y.device, y.dtype) / 255.0
        out: Tensor = model(y, s)
        return out
    out = model(y)
    return out


def training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: BaselineConfig, generator: torch.Generator
) -> tuple[Tensor, dict[str, Tensor]]:
    """One step's loss: dequantise the clean crops, degrade them, ``loss(net(y), x)``. Pure (no optimiser).

    ``batch["x"]`` is the clean crop ``(B, C, H, W)``; the degradation is applied here (``batch["x_lq"]`` is
    ignored). The metrics (``loss``, ``psnr``) are detached tensors.
    """
    return restoration_step(
        model,
        batch,
        cfg.data,
        generator,
        lambda x_hat, x: pixel_loss(x_hat, x, cfg.loss.kind, cfg.loss.reduction),
        restore_batch,
    )


@register_task("baselines", BaselineConfig)
class BaselineTask(RestorationTask[BaselineConfig]):
    """Trains a DnCNN / FFDNet / U-Net / AR-CNN baseline through :func:`invrestore.train.loop.fit`: the model built
    from ``cfg.model`` by the registry, validated exactly as IRAE (whole images, FFDNet given the drawn σ)."""

    def pixel_loss(self, x_hat: Tensor, x: Tensor) -> Tensor:
        return pixel_loss(x_hat, x, self.cfg.loss.kind, self.cfg.loss.reduction)

    def restore(self, model: nn.Module, y: Tensor, sigma: Tensor | None) -> Tensor:
        return restore_batch(model, y, sigma)
