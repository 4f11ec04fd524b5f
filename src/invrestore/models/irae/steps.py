"""The IRAE training step (pure), its data pipeline, and the :class:`~invrestore.train.loop.Task` for the loop.

Data flow of one step (``docs/restoration.md``–1.3):

.. code-block:: none

    image ─► CenterCrop/Resize (dataset, :class:`CenterCropResize`) ─► [random crop] ─► x (B,C,H,W)
    x ─► 5-bit quantise + U(0, 1/32) dequantisation noise (step; also the target) ─► x
    x ─► degradation (step, seeded by the loop's per-step generator): AWGN / JPEG / mask ─► y
    loss = L1(IRAE(y), x)

The degradation runs in the training step rather than in the dataset so that the dequantised clean image (the
official target) is what gets degraded, with the loop's reproducible per-step generator. JPEG is encoded on the
CPU (Pillow); on a GPU this is a host round trip per batch. The pipeline pieces (:class:`CenterCropResize`,
:func:`dequantize`, :func:`degrade_batch`, :func:`make_degradation`) live in :mod:`invrestore.data.restoration`,
shared with the baselines, and are re-exported here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.data.restoration import (
    CenterCropResize,
    degrade_batch,
    dequantize,
    make_degradation,
    restoration_train_set,
    validate_restoration,
)
from invrestore.metrics import psnr
from invrestore.models.irae.config import IRAEConfig
from invrestore.models.irae.losses import l1_loss
from invrestore.models.irae.model import IRAE, pad_to_multiple

__all__ = [
    "CenterCropResize",
    "IRAETask",
    "degrade_batch",
    "dequantize",
    "make_degradation",
    "training_losses",
]


def training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: IRAEConfig, generator: torch.Generator
) -> tuple[Tensor, dict[str, float]]:
    """One IRAE step's loss: dequantise the clean crops, degrade them, ``L1(IRAE(y), x)``. Pure (no optimiser).

    ``batch["x"]`` is the clean crop ``(B, C, H, W)`` (``batch["x_lq"]`` is ignored: the degradation is applied
    here, see the module docstring). ``model`` may be DDP-wrapped.
    """
    x = batch["x"]
    if cfg.data.dequantize_bits:
        x = dequantize(x, cfg.data.dequantize_bits, generator)
    y, _ = degrade_batch(x, cfg.data, generator)
    x_hat = model(y)
    loss = l1_loss(x_hat, x, cfg.loss.reduction)
    with torch.no_grad():
        batch_psnr = float(psnr(x_hat.detach().clamp(0, 1), x, quantize=False).mean())
    return loss, {"loss": float(loss.detach()), "psnr": batch_psnr}


class IRAETask:
    """Trains IRAE with the paper's recipe through :func:`invrestore.train.loop.fit`."""

    best_metric = "psnr"

    def __init__(self, cfg: IRAEConfig) -> None:
        self.cfg = cfg
        self.train = cfg.train
        self.name = cfg.model.name

    def config(self) -> Any:
        return self.cfg

    def build_model(self) -> nn.Module:
        from invrestore.models.registry import create_model

        m = self.cfg.model
        return create_model(
            m.name,
            width=m.width,
            depth=m.depth,
            levels=m.levels,
            lu=m.lu,
            unused_gaussianize=m.unused_gaussianize,
            memory_efficient=m.memory_efficient,
        )

    def train_dataset(self) -> Dataset[Any]:
        return restoration_train_set(self.cfg.data, self.cfg.train.seed)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float]]:
        return training_losses(model, batch, self.cfg, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Mean PSNR/SSIM on the validation set (see :func:`~invrestore.data.restoration.validate_restoration`)."""
        inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        multiple = inner.multiple if isinstance(inner, IRAE) else 1

        def run(deg: Any) -> Tensor:
            h, w = deg.y.shape[-2:]
            return inner(pad_to_multiple(deg.y.to(device), multiple))[..., :h, :w]

        return validate_restoration(run, self.cfg.data, self.cfg.train.seed)
