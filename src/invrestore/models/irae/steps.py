"""The IRAE training step (pure) and :class:`IRAETask`, the ``family: irae`` task of the generic loop.

Data flow of one step (``docs/restoration.md``–1.3; shared with the baselines, see
:mod:`invrestore.models.restoration_task`):

.. code-block:: none

    image ─► CenterCrop/Resize (dataset, :class:`CenterCropResize`) ─► [random crop] ─► x (B,C,H,W)
    x ─► 5-bit quantise + U(0, 1/32) dequantisation noise (step; also the target) ─► x
    x ─► degradation (step, seeded by the loop's per-step generator): AWGN / JPEG / mask ─► y
    loss = L1(IRAE(y), x)

The degradation runs in the training step rather than in the dataset so that the dequantised clean image (the
official target) is what gets degraded, with the loop's reproducible per-step generator. JPEG is encoded on the
CPU (Pillow); on a GPU this is a host round trip per batch. The pipeline pieces (:class:`CenterCropResize`,
:func:`dequantize`, :func:`degrade_batch`, :func:`make_degradation`) live in :mod:`invrestore.data.restoration`
and are re-exported here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from invrestore.data.restoration import CenterCropResize, degrade_batch, dequantize, make_degradation
from invrestore.models.irae.config import IRAEConfig
from invrestore.models.irae.losses import l1_loss
from invrestore.models.registry import register_task
from invrestore.models.restoration_task import RestorationTask, restoration_step, restore_padded

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
) -> tuple[Tensor, dict[str, Tensor]]:
    """One IRAE step's loss: dequantise the clean crops, degrade them, ``L1(IRAE(y), x)``. Pure (no optimiser).

    ``batch["x"]`` is the clean crop ``(B, C, H, W)`` (``batch["x_lq"]`` is ignored: the degradation is applied
    here, see the module docstring). ``model`` may be DDP-wrapped. The metrics (``loss``, ``psnr``) are detached
    tensors. Sizes that are not multiples of ``2^L`` are padded and cropped back, as in validation.
    """
    return restoration_step(
        model, batch, cfg.data, generator, lambda x_hat, x: l1_loss(x_hat, x, cfg.loss.reduction), restore_padded
    )


@register_task("irae", IRAEConfig)
class IRAETask(RestorationTask[IRAEConfig]):
    """Trains IRAE with the paper's recipe through :func:`invrestore.train.loop.fit`: the model built from
    ``cfg.model`` by the registry, L1 loss, validation PSNR/SSIM on whole images (padded to ``2^L``)."""

    def pixel_loss(self, x_hat: Tensor, x: Tensor) -> Tensor:
        return l1_loss(x_hat, x, self.cfg.loss.reduction)
