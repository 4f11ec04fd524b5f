"""The baselines' training step (pure) and the :class:`~invrestore.train.loop.Task` for the loop.

Data flow of one step (the IRAE pipeline, :mod:`invrestore.data.restoration`):

.. code-block:: none

    image ─► CenterCrop/Resize ─► [random crop] ─► [5-bit dequantisation] ─► x (B,C,H,W)
    x ─► AWGN (σ per image) / JPEG (step, seeded by the loop's per-step generator) ─► y
    x̂ = net(y)   (FFDNet: net(y, σ/255) with the σ the degradation drew)
    loss = L1 or MSE(x̂, x)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.data.restoration import (
    degrade_batch_with_sigma,
    dequantize,
    restoration_train_set,
    validate_restoration,
)
from invrestore.metrics import psnr
from invrestore.models.baselines.config import BaselineConfig
from invrestore.models.baselines.model import FFDNet

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


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def restore_batch(model: nn.Module, y: Tensor, sigma: Tensor | float | None = None) -> Tensor:
    """Run a baseline on ``y`` ``(B, C, H, W)``; FFDNet also gets ``sigma`` (0–255 scale, number or ``(B,)``).

    ``model`` may be DDP-wrapped. The output is not clamped.

    Raises:
        ValueError: FFDNet without ``sigma``.
    """
    if isinstance(_unwrap(model), FFDNet):
        if sigma is None:
            raise ValueError("FFDNet needs the noise level sigma")
        s = sigma / 255.0 if isinstance(sigma, (int, float)) else sigma.to(y.device, y.dtype) / 255.0
        out: Tensor = model(y, s)
        return out
    out = model(y)
    return out


def training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: BaselineConfig, generator: torch.Generator
) -> tuple[Tensor, dict[str, float]]:
    """One step's loss: dequantise the clean crops, degrade them, ``loss(net(y), x)``. Pure (no optimiser).

    ``batch["x"]`` is the clean crop ``(B, C, H, W)``; the degradation is applied here (``batch["x_lq"]`` is
    ignored).
    """
    x = batch["x"]
    if cfg.data.dequantize_bits:
        x = dequantize(x, cfg.data.dequantize_bits, generator)
    d = degrade_batch_with_sigma(x, cfg.data, generator)
    x_hat = restore_batch(model, d.y, d.sigma)
    loss = pixel_loss(x_hat, x, cfg.loss.kind, cfg.loss.reduction)
    with torch.no_grad():
        batch_psnr = float(psnr(x_hat.detach().clamp(0, 1), x, quantize=False).mean())
    return loss, {"loss": float(loss.detach()), "psnr": batch_psnr}


class BaselineTask:
    """Trains a DnCNN / FFDNet / U-Net / AR-CNN baseline through :func:`invrestore.train.loop.fit`."""

    best_metric = "psnr"

    def __init__(self, cfg: BaselineConfig) -> None:
        self.cfg = cfg
        self.train = cfg.train
        self.name = cfg.model.name

    def config(self) -> Any:
        return self.cfg

    def build_model(self) -> nn.Module:
        from invrestore.models.registry import create_model

        return create_model(self.cfg.model.name, **self.cfg.model.overrides())

    def train_dataset(self) -> Dataset[Any]:
        return restoration_train_set(self.cfg.data, self.cfg.train.seed)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float]]:
        return training_losses(model, batch, self.cfg, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Mean PSNR/SSIM on the validation set, exactly as IRAE's (see
        :func:`~invrestore.data.restoration.validate_restoration`)."""
        inner = _unwrap(model)
        return validate_restoration(
            lambda deg: restore_batch(inner, deg.y.to(device), deg.sigma), self.cfg.data, self.cfg.train.seed
        )
