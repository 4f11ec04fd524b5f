""":class:`IRNColorTask`: trains IRN_color (``family: irn-color``) with the generic loop.

The step is IRN's (:func:`~invrestore.models.irn.steps.training_losses`, with the model's 1-channel split); what
differs is the guide (the full-range BT.601 luma of the crop instead of the bicubic LR) and the validation (RGB
PSNR/SSIM of colorize(decolorize(x)) with z = 0, :func:`~invrestore.models.irn.color.color_metrics`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.models.irn.color import IRNColor, color_metrics
from invrestore.models.irn.color_config import IRNColorConfig
from invrestore.models.irn.steps import init_from, training_losses, validation_images
from invrestore.models.registry import build_model, register_task
from invrestore.train.task import BaseTask

__all__ = ["IRNColorTask"]


def has_colour(x: Tensor) -> bool:
    """Whether a ``(C, H, W)`` image has colour to hide: three channels, not all equal (Set14's ``bridge`` and
    ``man`` are skipped by IRN_color's validation, as by its report and the ``decolorize`` command)."""
    return x.shape[0] == 3 and not (torch.equal(x[0], x[1]) and torch.equal(x[1], x[2]))


@register_task("irn-color", IRNColorConfig)
class IRNColorTask(BaseTask[IRNColorConfig]):
    """Trains IRN_color with the official recipe (:class:`~invrestore.models.irn.color_config.IRNColorConfig`)."""

    best_metric = "psnr_rgb"  # the paper's colour metric
    scale = 1

    def build_model(self) -> nn.Module:
        return init_from(build_model(self.cfg.model), self.cfg.init_weights)

    def train_dataset(self) -> Dataset[Any]:
        from invrestore.color import rgb_to_luma_bt601
        from invrestore.data import ImageFolder, PairedDataset, training_files

        d = self.cfg.data
        files = training_files(d.train_sets, d.train_folders, d.root, min_size=d.crop_size)

        def luma_guide(x: Tensor, g: torch.Generator) -> Tensor:
            return rgb_to_luma_bt601(x)  # the official cv2 BGR2GRAY of the float crop

        images = ImageFolder(files, mode="rgb", cache=True)
        return PairedDataset(images, d.crop_size, luma_guide, where="crop", seed=self.cfg.train.seed, repeat=d.repeat)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return training_losses(model, batch, self.cfg.loss, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        net = self.unwrap(model)
        if not isinstance(net, IRNColor):
            raise TypeError(f"expected an IRNColor, got {type(net).__name__}")
        images = (x for x in validation_images(self.cfg.data) if has_colour(x))  # gray: nothing to decolorize
        rows = [color_metrics(net, x.unsqueeze(0).to(device)) for x in images]
        if not rows:
            return {}
        return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
