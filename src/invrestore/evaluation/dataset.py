"""Evaluate a method on a whole dataset under a protocol."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from invrestore.degradations.rescaling import RescalingMethod
from invrestore.errors import DatasetNotFoundError
from invrestore.evaluation.protocols import EvaluationProtocol, ImageResult, get_protocol

__all__ = ["METRIC_KEYS", "DatasetResult", "evaluate_dataset"]

#: The metric columns of a result row, in order.
METRIC_KEYS: tuple[str, ...] = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")
#: The LR-similarity columns (protocols built with ``score_lr=True``).
LR_METRIC_KEYS: tuple[str, ...] = ("lr_psnr_y", "lr_ssim_y", "lr_psnr_rgb", "lr_ssim_rgb")


@dataclass(frozen=True)
class DatasetResult:
    """Per-image scores and their means (the papers' numbers are means of per-image PSNR/SSIM).

    Attributes:
        protocol: Protocol name.
        scale: Scale factor.
        per_image: One :class:`ImageResult` per image, in input order.
        means: Mean of each metric in :data:`METRIC_KEYS` over the images (``None`` if the protocol has no
            such metric, e.g. ``psnr_rgb`` under ``vdsr``).
    """

    protocol: str
    scale: int
    per_image: list[ImageResult]
    means: dict[str, float | None] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Per-image rows ``{name, psnr_y, ssim_y, psnr_rgb, ssim_rgb}``."""
        return [r.as_dict() for r in self.per_image]


def _mean(values: list[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return math.fsum(v for v in values if v is not None) / len(values)


def evaluate_dataset(
    images: Iterable[tuple[str, Tensor]],
    method: RescalingMethod,
    scale: int,
    protocol: str | EvaluationProtocol,
    device: torch.device | str | None = None,
) -> DatasetResult:
    """Evaluate ``method`` at ``scale`` on every ``(name, hr)`` pair and average the per-image scores.

    Args:
        images: ``(name, hr)`` pairs, ``hr`` shaped ``(C, H, W)`` float in [0, 1] from 8-bit data (see
            :meth:`EvaluationProtocol.evaluate`).
        method: The rescaling method.
        scale: Integer scale factor.
        protocol: A protocol or its registered name (``'irn'``, ``'vdsr'``, ``'lapsrn'``).
        device: Move each image there first (e.g. the method's device); ``None`` leaves them where they are.

    Returns:
        A :class:`DatasetResult`.

    Raises:
        DatasetNotFoundError: if ``images`` is empty.
    """
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    results: list[ImageResult] = []
    with torch.no_grad():
        for name, hr in images:
            if device is not None:
                hr = hr.to(device)
            results.append(proto.evaluate(hr, method, scale, name=name))
    if not results:
        raise DatasetNotFoundError("evaluate_dataset received no images")
    means = {k: _mean([getattr(r, k) for r in results]) for k in METRIC_KEYS}
    if proto.score_lr:
        means.update({k: _mean([getattr(r, k) for r in results]) for k in LR_METRIC_KEYS})
    return DatasetResult(protocol=proto.name, scale=int(scale), per_image=results, means=means)
