"""IRN's validation during training: the ``irn`` evaluation protocol's scores, computed here from the metrics.

The training tasks sit below :mod:`invrestore.evaluation` (which imports the models), so they cannot call its
``evaluate_dataset``; :func:`rescaling_scores` runs the same pipeline as its ``irn`` protocol (``docs/irn.md``)
with :mod:`invrestore.metrics` and gives the same numbers (``tests/models/irn/test_irn_training.py`` compares
them)::

    HR uint8 RGB -> modcrop(s) -> float32 -> G: LR -> round to uint8 -> G⁻¹(LR, z ~ N(0, I)) -> round to uint8
      -> Y = MATLAB rgb2ycbcr, unrounded -> shave s -> PSNR, SSIM (Wang); RGB PSNR/SSIM with the same shave.

A grayscale image is scored directly as Y (its "RGB" scores equal the Y ones), as the protocol does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from invrestore.degradations.rescaling import RescalingMethod
from invrestore.errors import DatasetNotFoundError, ScaleError
from invrestore.metrics import psnr, quantize_8bit, ssim

__all__ = ["METRIC_KEYS", "mean_scores", "rescaling_image_scores", "rescaling_scores"]

#: The keys of :func:`rescaling_scores` (the protocol's metric columns).
METRIC_KEYS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


def _image_scores(hr: Tensor, method: RescalingMethod, s: int) -> tuple[float, float, float, float]:
    if min(hr.shape[-2:]) < 2 * s + 1:
        raise ScaleError(f"validation image {tuple(hr.shape[-2:])} is too small for scale {s}")
    codes = quantize_8bit(hr.to(torch.float64))
    h, w = codes.shape[-2:]
    codes = codes[..., : h - h % s, : w - w % s]
    x = (codes / 255.0).to(torch.float32).unsqueeze(0)
    lr = method.downscale(x, s)
    lr = (quantize_8bit(lr) / 255.0).to(torch.float32)
    sr = quantize_8bit(method.upscale(lr, s).to(torch.float64)) / 255.0
    ref = codes.unsqueeze(0) / 255.0
    psnr_y = float(psnr(sr, ref, crop_border=s, channel="y")[0])
    ssim_y = float(ssim(sr, ref, crop_border=s, channel="y", variant="wang")[0])
    if codes.shape[0] == 1:
        return psnr_y, ssim_y, psnr_y, ssim_y
    psnr_rgb = float(psnr(sr, ref, crop_border=s, channel="rgb")[0])
    ssim_rgb = float(ssim(sr, ref, crop_border=s, channel="rgb", variant="wang")[0])
    return psnr_y, ssim_y, psnr_rgb, ssim_rgb


def rescaling_image_scores(
    images: Iterable[Tensor], method: RescalingMethod, scale: int, device: torch.device | None = None
) -> list[dict[str, float]]:
    """``psnr_y``, ``ssim_y``, ``psnr_rgb``, ``ssim_rgb`` of ``method`` at ``scale`` for each of ``images`` (HR
    ``(C, H, W)`` floats from 8-bit files), in order, under the ``irn`` protocol (see the module docstring).

    Raises:
        DatasetNotFoundError: ``images`` is empty.
        ScaleError: an image smaller than ``2·scale + 1`` pixels on a side.
    """
    rows: list[dict[str, float]] = []
    with torch.no_grad():
        for hr in images:
            scores = _image_scores(hr if device is None else hr.to(device), method, int(scale))
            rows.append(dict(zip(METRIC_KEYS, scores, strict=True)))
    if not rows:
        raise DatasetNotFoundError("no validation images: check data.val_set and data.root")
    return rows


def rescaling_scores(
    images: Iterable[Tensor], method: RescalingMethod, scale: int, device: torch.device | None = None
) -> dict[str, float]:
    """Mean ``psnr_y``, ``ssim_y``, ``psnr_rgb``, ``ssim_rgb`` of ``method`` at ``scale`` over ``images``: the means
    of :func:`rescaling_image_scores`.

    Raises:
        DatasetNotFoundError: ``images`` is empty.
        ScaleError: an image smaller than ``2·scale + 1`` pixels on a side.
    """
    return mean_scores(rescaling_image_scores(images, method, scale, device=device))


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each of :data:`METRIC_KEYS` over per-image ``rows`` (:func:`rescaling_image_scores`)."""
    return {k: math.fsum(r[k] for r in rows) / len(rows) for k in METRIC_KEYS}
