"""Deterministic, non-invertible transformations ``y = d(x)`` of selfVAE (paper §3, appendix A.3).

Paper: Gatopoulos & Tomczak, "Self-Supervised Variational Auto-Encoders", Entropy 2021;
``docs/selfvae.md``.

- :func:`downscale_pil_bilinear` — the official srVAE ``ToPILImage → Resize((H/s, W/s)) → ToTensor``, i.e.
  Pillow's ``Image.resize(..., Image.BILINEAR)``, re-implemented bit-exactly without Pillow: Pillow's
  precomputed triangle-filter taps (support ``s``; centre ``(i + ½)·s``; first tap ``int(centre − s + ½)``
  clipped at 0), normalised, converted to 22-bit fixed point (``int(w·2²² ± ½)``), accumulated from
  ``2²¹`` (round half up), shifted by 22 and clipped to ``[0, 255]``; horizontal pass first, uint8 between
  the passes. At ``s = 2`` this is the separable filter ``[1, 3, 3, 1]/8`` at stride 2 with renormalised edge taps.
- :func:`downscale_bicubic` — MATLAB ``imresize(x, 1/s, 'bicubic')`` (the paper's Fig. 1 names bicubic), via
  :func:`invrestore.degradations.imresize.imresize` with 8-bit rounding after each pass.
- :func:`sketch` — dodge (or burn) blend of the grayscale image with its blurred inverse (a proposal: the paper
  gives no parameters; see the function).

All functions take ``(B, C, H, W)`` floats on the grid ``{0, 1/255, …, 1}`` (or ``torch.uint8``) and return the
same kind.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from invrestore.degradations.imresize import imresize

__all__ = ["downscale", "downscale_bicubic", "downscale_pil_bilinear", "resize_pil_bilinear", "sketch", "to_gray_pil"]

_PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed-point precision for 8-bit images


def _to_uint8(x: Tensor) -> tuple[Tensor, bool]:
    if x.dtype == torch.uint8:
        return x, True
    return torch.round(x.clamp(0, 1) * 255).to(torch.uint8), False


def _from_uint8(x: Tensor, was_uint8: bool, like: Tensor) -> Tensor:
    return x if was_uint8 else x.to(like.dtype) / 255.0


def _pil_bilinear_taps(in_size: int, out_size: int) -> tuple[Tensor, Tensor]:
    """Pillow's fixed-point bilinear coefficients: ``(indices (out, K), int weights (out, K))``."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    ksize = math.ceil(support) * 2 + 1
    idx = torch.zeros(out_size, ksize, dtype=torch.long)
    wts = torch.zeros(out_size, ksize, dtype=torch.long)
    for i in range(out_size):
        center = (i + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        taps = []
        for k in range(xmax):
            t = abs((k + xmin - center + 0.5) / filterscale)
            taps.append(1.0 - t if t < 1.0 else 0.0)
        total = sum(taps)
        for k, w in enumerate(taps):
            w = w / total if total != 0.0 else w
            fixed = int(-0.5 + w * (1 << _PRECISION_BITS)) if w < 0 else int(0.5 + w * (1 << _PRECISION_BITS))
            idx[i, k] = xmin + k
            wts[i, k] = fixed
    return idx, wts


def _pil_pass(x: Tensor, dim: int, out_size: int) -> Tensor:
    """One 8-bit fixed-point resampling pass of Pillow along ``dim`` (``-1`` horizontal, ``-2`` vertical)."""
    idx, wts = _pil_bilinear_taps(x.shape[dim], out_size)
    xi = x.to(torch.int64)
    gathered = xi.index_select(dim, idx.reshape(-1).to(x.device))
    if dim == -1:
        gathered = gathered.reshape(*x.shape[:-1], out_size, idx.shape[1])
        acc = (gathered * wts.to(x.device)).sum(-1)
    else:
        gathered = gathered.reshape(*x.shape[:-2], out_size, idx.shape[1], x.shape[-1])
        acc = (gathered * wts.to(x.device).unsqueeze(-1)).sum(-2)
    acc = acc + (1 << (_PRECISION_BITS - 1))
    return (acc >> _PRECISION_BITS).clamp(0, 255).to(torch.uint8)


def resize_pil_bilinear(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bit-exact Pillow ``Image.resize((W', H'), Image.BILINEAR)`` on 8-bit images.

    Args:
        x: ``(B, C, H, W)`` (or ``(C, H, W)``) uint8, or float on the grid ``{0, 1/255, …, 1}``.
        size: output ``(H', W')``.

    Returns:
        ``(B, C, H', W')``, same kind as ``x`` (uint8, or float multiples of 1/255).
    """
    xu, was_uint8 = _to_uint8(x)
    out = xu
    if size[1] != xu.shape[-1]:
        out = _pil_pass(out, -1, size[1])
    if size[0] != xu.shape[-2]:
        out = _pil_pass(out, -2, size[0])
    return _from_uint8(out, was_uint8, x)


def downscale_pil_bilinear(x: Tensor, factor: int = 2) -> Tensor:
    """The official srVAE downscale: Pillow BILINEAR to ``(H // s, W // s)``. ``(B,C,H,W) -> (B,C,H/s,W/s)``.

    Args:
        x: uint8, or float on the 8-bit grid.
        factor: integer factor ``s``.
    """
    return resize_pil_bilinear(x, (x.shape[-2] // factor, x.shape[-1] // factor))


def downscale_bicubic(x: Tensor, factor: int = 2) -> Tensor:
    """MATLAB-style bicubic (antialiased) downscale with 8-bit rounding after each pass (the paper's alternative).

    ``(B,C,H,W) -> (B,C,H/s,W/s)``; uint8 in → uint8 out, float in → float multiples of 1/255.
    """
    if x.dtype == torch.uint8:
        return imresize(x, 1.0 / factor)
    return imresize(x, 1.0 / factor, uint8=True)


def downscale(x: Tensor, factor: int = 2, method: Literal["pil_bilinear", "bicubic"] = "pil_bilinear") -> Tensor:
    """Dispatch to :func:`downscale_pil_bilinear` (official) or :func:`downscale_bicubic`."""
    if method == "pil_bilinear":
        return downscale_pil_bilinear(x, factor)
    if method == "bicubic":
        return downscale_bicubic(x, factor)
    raise ValueError(f"unknown downscale method {method!r}")


def to_gray_pil(x: Tensor) -> Tensor:
    """Pillow's ``convert("L")`` luma on 8-bit RGB: ``(19595 R + 38470 G + 7471 B + 2¹⁵) >> 16`` (ITU-R 601-2,
    ``L = 0.299 R + 0.587 G + 0.114 B`` in Pillow's fixed point). ``(B,3,H,W) uint8 -> (B,1,H,W) uint8``."""
    xi = x.to(torch.int64)
    g = (xi[:, 0] * 19595 + xi[:, 1] * 38470 + xi[:, 2] * 7471 + 0x8000) >> 16
    return g.unsqueeze(1).to(torch.uint8)


def _gaussian_blur_reflect101(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of a float ``(B,1,H,W)`` image, kernel ``2⌈3σ⌉+1`` taps, border reflect-101."""
    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = (k / k.sum()).to(x.dtype)
    h, w = x.shape[-2:]
    if radius >= min(h, w):
        raise ValueError(f"blur radius {radius} needs images larger than {h}x{w} (reflect padding)")
    x = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(x, k.view(1, 1, -1, 1))


def sketch(x: Tensor, sigma: float = 2.0, mode: Literal["dodge", "burn"] = "dodge") -> Tensor:
    """Pencil-sketch transform of selfVAE-sketch (paper appendix A.3: dodge-blend the grayscale image with its
    blurred inverse). ``(B,3,H,W) -> (B,1,H,W)``; deterministic, all steps in 8 bits.

    Recipe (a documented proposal; the paper gives no parameters):

    1. ``g = L(x)`` — Pillow luma (:func:`to_gray_pil`).
    2. ``inv = 255 − g``.
    3. ``b = round(GaussianBlur_σ(inv))`` with ``2⌈3σ⌉+1`` taps (13 for σ = 2), border reflect-101, round half up.
    4. dodge: ``s = 0`` where ``b = 255``, else ``min(255, round(256·g/(255 − b)))`` (``cv2.divide(g, 255 − b,
       scale=256)`` semantics, round half up); burn: ``s = 255 − divide(255 − g, 255 − b, 256)``.

    Args:
        x: RGB image, uint8 or float on the 8-bit grid.
        sigma: blur standard deviation in pixels (the classic 21-tap recipe is too coarse for 64² images).
        mode: ``"dodge"`` (default) or ``"burn"``.

    Returns:
        ``(B, 1, H, W)`` sketch, same kind as ``x``.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"sketch expects (B, 3, H, W), got {tuple(x.shape)}")
    xu, was_uint8 = _to_uint8(x)
    g = to_gray_pil(xu).to(torch.float64)
    blur = torch.floor(_gaussian_blur_reflect101(255.0 - g, sigma) + 0.5).clamp(0, 255)
    den = 255.0 - blur

    def divide(num: Tensor) -> Tensor:
        q = torch.floor(256.0 * num / den.clamp(min=1.0) + 0.5)
        return torch.where(den == 0, torch.zeros_like(q), q.clamp(max=255.0))

    if mode == "dodge":
        s = divide(g)
    elif mode == "burn":
        s = 255.0 - divide(255.0 - g)
    else:
        raise ValueError(f"unknown sketch mode {mode!r}")
    return _from_uint8(s.to(torch.uint8), was_uint8, x)
