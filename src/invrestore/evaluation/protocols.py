"""Named evaluation protocols for image rescaling / super-resolution.

Published "PSNR/SSIM on Y" numbers depend on details that papers rarely state: when images are rounded to 8
bits, whether Y is rounded, whether the resize runs in single or double precision, how SSIM treats borders,
and how many border pixels are shaved. The tables of the IRN paper alone mix three pipelines, so each is a
named, frozen :class:`EvaluationProtocol` here (registry :data:`PROTOCOLS`, :func:`get_protocol`):

``irn`` — IRN/BasicSR code path (``test.py``)::

    HR uint8 RGB -> modcrop(s) -> float32 -> method.downscale -> round to uint8 (LR "PNG")
      -> method.upscale -> round to uint8 -> Y = MATLAB rgb2ycbcr, unrounded
      -> shave s -> PSNR, SSIM (Wang, 'valid' 11×11 σ=1.5); RGB PSNR/SSIM with the same shave.

``vdsr`` — VDSR's MATLAB script, behind the ×2/×3/×4 "Bicubic" rows copied by later papers::

    HR uint8 RGB -> Y = round(rgb2ycbcr(HR)) (uint8 Y) -> modcrop(s) -> float64
      -> method.downscale -> method.upscale (no rounding in between) -> round to uint8
      -> shave s -> PSNR, SSIM (Wang 'valid') on uint8 Y. No RGB metrics (``None``).

``lapsrn`` — LapSRN's MATLAB script, behind the ×8 rows::

    HR uint8 RGB -> modcrop(s) -> float64 -> method.downscale -> method.upscale (no rounding in between)
      -> round to uint8 -> Y = rgb2ycbcr, unrounded -> shave s -> PSNR, SSIM (MATLAB ssim(): replicate
      'same'). RGB PSNR/SSIM use the same SSIM variant and shave.

Grayscale (single-channel) images are scored directly as Y, the MATLAB convention (Set14 ``bridge.png``);
their "RGB" metrics (``irn``, ``lapsrn``) are computed on that single channel and therefore equal the Y
numbers. With ``grayscale_as_rgb=True`` (IRN's ``cv2.IMREAD_COLOR`` loader) the channel is replicated to RGB
when loaded and the image is then treated like any colour image. Its Y is then 16 + 219/255·gray, which
shrinks every error by 219/255 and raises that image's PSNR by 20·log10(255/219) = 1.32 dB (the Set14 mean by
≈ 0.094 dB, at every scale).

Measured on Set5/Set14/BSD100 with :class:`~invrestore.degradations.rescaling.BicubicMethod`, ``vdsr`` (×2–×4) and
``lapsrn`` (×8) reproduce the IRN paper's "Bicubic & Bicubic" rows within 0.01 dB and 0.001 SSIM
(see ``tests/evaluation``).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from invrestore.color import ImageShapeError, rgb_to_y_matlab
from invrestore.degradations.rescaling import RescalingMethod
from invrestore.errors import ConfigError, ScaleError
from invrestore.metrics import psnr, quantize_8bit, ssim
from invrestore.metrics.ssim import Variant

__all__ = ["PROTOCOLS", "EvaluationProtocol", "ImageResult", "get_protocol", "modcrop"]


@dataclass(frozen=True)
class ImageResult:
    """Scores of one image. RGB scores are ``None`` where the protocol has no RGB output (``vdsr``)."""

    name: str
    psnr_y: float
    ssim_y: float
    psnr_rgb: float | None
    ssim_rgb: float | None
    #: LR similarity to the MATLAB-bicubic LR (IRN paper Table 7), no shave; set with ``score_lr=True``.
    lr_psnr_y: float | None = None
    lr_ssim_y: float | None = None
    lr_psnr_rgb: float | None = None
    lr_ssim_rgb: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row ``{name, psnr_y, ssim_y, psnr_rgb, ssim_rgb[, lr_psnr_y, ...]}`` (LR keys only when scored)."""
        row = dataclasses.asdict(self)
        return {k: v for k, v in row.items() if not (k.startswith("lr_") and v is None)}


def modcrop(x: Tensor, scale: int) -> Tensor:
    """Crop the bottom/right so that H and W are multiples of ``scale`` (MATLAB/BasicSR ``modcrop``).

    ``(..., H, W) -> (..., H - H mod s, W - W mod s)``.
    """
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def _check_scale(scale: int) -> int:
    if isinstance(scale, bool) or int(scale) != scale or scale < 1:
        raise ScaleError(f"evaluation protocols need an integer scale >= 1, got {scale!r}")
    return int(scale)


@dataclass(frozen=True)
class EvaluationProtocol:
    """One evaluation pipeline (see the module docstring for the three registered ones).

    Attributes:
        name: Registry name.
        description: One-line summary.
        y_first: Convert the HR image to 8-bit MATLAB Y *before* resizing and hand the method the single Y
            channel (``vdsr``). Otherwise the method sees all channels and Y is taken from its quantised
            output.
        quantize_lr: Round the method's LR to 8 bits before upscaling (``irn``: the LR is an image file).
        dtype: Precision of the tensors handed to the method (float32 for ``irn``, float64 for the MATLAB
            ones).
        ssim_variant: ``'wang'`` ('valid' window) or ``'matlab'`` (MATLAB ``ssim()``, replicate padding).
        grayscale_as_rgb: Replicate single-channel images to RGB when loading (IRN's loader) instead of
            scoring the gray channel directly as Y (the MATLAB convention, default).
    """

    name: str
    description: str
    y_first: bool
    quantize_lr: bool
    dtype: torch.dtype
    ssim_variant: Variant
    grayscale_as_rgb: bool = False
    score_lr: bool = False

    def with_options(self, **changes: Any) -> EvaluationProtocol:
        """A copy with some fields changed, e.g.
        ``get_protocol('irn').with_options(grayscale_as_rgb=True)``."""
        return dataclasses.replace(self, **changes)

    def evaluate(self, hr: Tensor, method: RescalingMethod, scale: int, name: str = "") -> ImageResult:
        """Run ``method`` on one image under this protocol and score it.

        Args:
            hr: HR image ``(C, H, W)``, C = 1 or 3, float in [0, 1] that came from 8 bits (values k/255; it is
                rounded to 8 bits again here, so other values are quantised first). Any device.
            method: A :class:`~invrestore.degradations.rescaling.RescalingMethod`; it receives ``(1, C', H', W')``
                tensors in :attr:`dtype` on ``hr``'s device.
            scale: Integer scale factor; it is also the border shaved before scoring.
            name: Image name stored in the result.

        Returns:
            The :class:`ImageResult` (Python floats).

        Raises:
            ImageShapeError: bad input shape, or the method returned a wrongly shaped tensor.
            ScaleError: non-integer scale or an image smaller than the scale.
        """
        s = _check_scale(scale)
        if hr.ndim != 3 or hr.shape[0] not in (1, 3):
            raise ImageShapeError(
                f"{self.name}: expected an HR image (C, H, W) with C in (1, 3), got {tuple(hr.shape)}"
            )
        if min(hr.shape[-2:]) < 2 * s + 1:
            raise ScaleError(f"{self.name}: image {tuple(hr.shape[-2:])} is too small for scale {s}")
        codes = quantize_8bit(hr.to(torch.float64))  # integer codes 0..255
        if codes.shape[0] == 1 and self.grayscale_as_rgb:
            codes = codes.expand(3, -1, -1)
        gray = codes.shape[0] == 1
        if self.y_first and not gray:
            # MATLAB rgb2ycbcr on uint8 input returns uint8: Y is rounded before anything else.
            codes = quantize_8bit(rgb_to_y_matlab(codes / 255.0))
        codes = modcrop(codes, s)
        x = (codes / 255.0).to(self.dtype).unsqueeze(0)  # (1, C, H, W)

        lr = method.downscale(x, s)
        _check_output(self.name, "downscale", lr, (x.shape[0], x.shape[1], x.shape[2] // s, x.shape[3] // s))
        if self.quantize_lr:
            lr = (quantize_8bit(lr) / 255.0).to(self.dtype)
        sr = method.upscale(lr, s)
        _check_output(self.name, "upscale", sr, tuple(x.shape))
        sr = quantize_8bit(sr.to(torch.float64)) / 255.0
        ref = codes.unsqueeze(0) / 255.0

        # Metrics: both images are now exact multiples of 1/255; channel='y' takes MATLAB Y unrounded
        # (a single channel is scored directly).
        psnr_y = float(psnr(sr, ref, crop_border=s, channel="y")[0])
        ssim_y = float(ssim(sr, ref, crop_border=s, channel="y", variant=self.ssim_variant)[0])
        lr_scores: dict[str, float | None] = {}
        if self.score_lr:
            lr_scores = self._score_lr(lr, x, s, gray)
        if self.y_first:
            return ImageResult(name, psnr_y, ssim_y, None, None, **lr_scores)
        if gray:
            return ImageResult(name, psnr_y, ssim_y, psnr_y, ssim_y, **lr_scores)
        psnr_rgb = float(psnr(sr, ref, crop_border=s, channel="rgb")[0])
        ssim_rgb = float(ssim(sr, ref, crop_border=s, channel="rgb", variant=self.ssim_variant)[0])
        return ImageResult(name, psnr_y, ssim_y, psnr_rgb, ssim_rgb, **lr_scores)

    def _score_lr(self, lr: Tensor, x: Tensor, s: int, gray: bool) -> dict[str, float | None]:
        from invrestore.degradations.rescaling import BicubicMethod

        ref = quantize_8bit(BicubicMethod().downscale(x, s).to(torch.float64)) / 255.0
        got = quantize_8bit(lr.to(torch.float64)) / 255.0
        out: dict[str, float | None] = {
            "lr_psnr_y": float(psnr(got, ref, channel="y")[0]),
            "lr_ssim_y": float(ssim(got, ref, channel="y", variant=self.ssim_variant)[0]),
        }
        if not gray and not self.y_first:
            out["lr_psnr_rgb"] = float(psnr(got, ref, channel="rgb")[0])
            out["lr_ssim_rgb"] = float(ssim(got, ref, channel="rgb", variant=self.ssim_variant)[0])
        return out


def _check_output(protocol: str, stage: str, out: Tensor, expected: tuple[int, ...]) -> None:
    if tuple(out.shape) != expected:
        raise ImageShapeError(f"{protocol}: method.{stage} returned shape {tuple(out.shape)}, expected {expected}")


IRN = EvaluationProtocol(
    name="irn",
    description="IRN/BasicSR test.py: float32 method, uint8 LR and SR, Y unrounded, shave=scale, Wang SSIM",
    y_first=False,
    quantize_lr=True,
    dtype=torch.float32,
    ssim_variant="wang",
)
VDSR = EvaluationProtocol(
    name="vdsr",
    description="VDSR MATLAB: uint8 Y first, float64 resize of Y, round at the end, shave=scale, Wang SSIM",
    y_first=True,
    quantize_lr=False,
    dtype=torch.float64,
    ssim_variant="wang",
)
LAPSRN = EvaluationProtocol(
    name="lapsrn",
    description="LapSRN MATLAB: float64 RGB resize, round at the end, Y unrounded, shave=scale, ssim()",
    y_first=False,
    quantize_lr=False,
    dtype=torch.float64,
    ssim_variant="matlab",
)

#: Registered protocols by name (read-only).
PROTOCOLS: Mapping[str, EvaluationProtocol] = types.MappingProxyType({p.name: p for p in (IRN, VDSR, LAPSRN)})


def get_protocol(name: str) -> EvaluationProtocol:
    """The registered protocol called ``name`` (``'irn'``, ``'vdsr'`` or ``'lapsrn'``).

    Raises:
        ConfigError: for an unknown name.
    """
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ConfigError(f"unknown evaluation protocol {name!r}; expected one of {sorted(PROTOCOLS)}") from None
