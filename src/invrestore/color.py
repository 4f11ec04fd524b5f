"""Colour conversions with the conventions of the image-restoration literature.

Two different "Y" channels are in common use and they must not be confused:

* **MATLAB** ``rgb2ycbcr`` (ITU-R BT.601, *studio* range), used by every super-resolution / rescaling paper
  that reports "PSNR on Y". For :math:`R, G, B \\in [0, 1]` and outputs on the 0–255 scale

  .. math::

      \\begin{aligned}
      Y   &= 16  + 65.481 R + 128.553 G + 24.966 B  &&\\in [16, 235] \\\\
      C_b &= 128 - 37.797 R -  74.203 G + 112.000 B &&\\in [16, 240] \\\\
      C_r &= 128 + 112.000 R - 93.786 G -  18.214 B &&\\in [16, 240]
      \\end{aligned}

  The functions here return these values divided by 255, so that everything stays in [0, 1]
  (:func:`rgb_to_ycbcr_matlab`, :func:`ycbcr_matlab_to_rgb`, :func:`rgb_to_y_matlab`). They do **not** round:
  MATLAB rounds only when its input is ``uint8``; the 8-bit rounding conventions of each evaluation protocol
  live in :mod:`invrestore.evaluation`.

* **Full-range BT.601 luma** :math:`0.299 R + 0.587 G + 0.114 B` (JPEG/JFIF, OpenCV ``BGR2GRAY``, Pillow
  ``"L"``), exposed as :func:`rgb_to_luma_bt601`. ``kornia.color.rgb_to_ycbcr`` uses this convention; its Y is
  not MATLAB's.

All functions take tensors shaped ``(..., 3, H, W)`` (channel axis third from the end), keep the input's
floating dtype (float32 or float64) and device, and are differentiable.
"""

from __future__ import annotations

import torch
from torch import Tensor

from invrestore.errors import ImageShapeError

__all__ = [
    "MATLAB_YCBCR_MATRIX",
    "MATLAB_YCBCR_OFFSET",
    "ImageShapeError",
    "rgb_to_luma_bt601",
    "rgb_to_y_matlab",
    "rgb_to_ycbcr_matlab",
    "ycbcr_matlab_to_rgb",
]


#: MATLAB's ``rgb2ycbcr`` matrix, rows (Y, Cb, Cr), for RGB in [0, 1] and YCbCr on the 0–255 scale.
MATLAB_YCBCR_MATRIX: tuple[tuple[float, float, float], ...] = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
#: MATLAB's ``rgb2ycbcr`` offsets (Y, Cb, Cr) on the 0–255 scale.
MATLAB_YCBCR_OFFSET: tuple[float, float, float] = (16.0, 128.0, 128.0)

_BT601_LUMA: tuple[float, float, float] = (0.299, 0.587, 0.114)


def _check_three_channels(x: Tensor, what: str) -> None:
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ImageShapeError(f"{what} expects a tensor shaped (..., 3, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ImageShapeError(f"{what} expects a floating-point tensor, got dtype {x.dtype}")


def _apply_matrix(x: Tensor, matrix: Tensor, offset: Tensor) -> Tensor:
    # (..., 3, H, W) -> (..., K, H, W): out[k] = sum_c matrix[k, c] * x[c] + offset[k]
    out = torch.einsum("kc,...chw->...khw", matrix, x)
    return out + offset.view(-1, 1, 1)


def _matlab_matrix(x: Tensor) -> tuple[Tensor, Tensor]:
    """MATLAB's matrix and offset mapping [0,1] RGB to [0,1] YCbCr (both divided by 255), in x's dtype."""
    m = torch.tensor(MATLAB_YCBCR_MATRIX, dtype=torch.float64) / 255.0
    o = torch.tensor(MATLAB_YCBCR_OFFSET, dtype=torch.float64) / 255.0
    return m.to(device=x.device, dtype=x.dtype), o.to(device=x.device, dtype=x.dtype)


def rgb_to_ycbcr_matlab(rgb: Tensor) -> Tensor:
    """MATLAB ``rgb2ycbcr`` (BT.601 studio range), unrounded, on the [0, 1] scale.

    .. math::

        [Y, C_b, C_r]^T = \\frac{1}{255}\\Big([16, 128, 128]^T + M\\,[R, G, B]^T\\Big),\\quad
        M = \\begin{bmatrix} 65.481 & 128.553 & 24.966 \\\\ -37.797 & -74.203 & 112 \\\\
        112 & -93.786 & -18.214 \\end{bmatrix}

    Args:
        rgb: RGB image(s) in [0, 1], shape ``(..., 3, H, W)``, float32 or float64.

    Returns:
        YCbCr with the same shape and dtype: Y in [16/255, 235/255], Cb and Cr in [16/255, 240/255].
        Multiply by 255 to get MATLAB's numbers for double input in [0, 1] (times 255).

    Raises:
        ImageShapeError: if the tensor is not floating point or its channel axis (``-3``) is not 3.
    """
    _check_three_channels(rgb, "rgb_to_ycbcr_matlab")
    m, o = _matlab_matrix(rgb)
    return _apply_matrix(rgb, m, o)


def ycbcr_matlab_to_rgb(ycbcr: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_ycbcr_matlab` (MATLAB ``ycbcr2rgb``), without clipping.

    .. math::

        [R, G, B]^T = M^{-1}\\big(255\\,[Y, C_b, C_r]^T - [16, 128, 128]^T\\big)

    Args:
        ycbcr: YCbCr image(s) on the [0, 1] scale (MATLAB values / 255), shape ``(..., 3, H, W)``.

    Returns:
        RGB with the same shape and dtype. Values outside [0, 1] are possible for YCbCr triples that are
        not the image of an RGB colour; clamp if needed.

    Raises:
        ImageShapeError: if the tensor is not floating point or its channel axis (``-3``) is not 3.
    """
    _check_three_channels(ycbcr, "ycbcr_matlab_to_rgb")
    m64 = torch.tensor(MATLAB_YCBCR_MATRIX, dtype=torch.float64) / 255.0
    o64 = torch.tensor(MATLAB_YCBCR_OFFSET, dtype=torch.float64) / 255.0
    inv = torch.linalg.inv(m64)
    # rgb = inv @ (ycbcr - o) = inv @ ycbcr - inv @ o  (inverse computed once in float64)
    off = -(inv @ o64)
    return _apply_matrix(
        ycbcr, inv.to(device=ycbcr.device, dtype=ycbcr.dtype), off.to(device=ycbcr.device, dtype=ycbcr.dtype)
    )


def rgb_to_y_matlab(rgb: Tensor) -> Tensor:
    """The Y channel of MATLAB ``rgb2ycbcr``, unrounded, on the [0, 1] scale.

    .. math::

        Y = \\frac{16 + 65.481 R + 128.553 G + 24.966 B}{255} \\in \\Big[\\frac{16}{255},
        \\frac{235}{255}\\Big]

    Args:
        rgb: RGB image(s) in [0, 1], shape ``(..., 3, H, W)``, float32 or float64.

    Returns:
        Y with shape ``(..., 1, H, W)`` and the input's dtype.

    Raises:
        ImageShapeError: if the tensor is not floating point or its channel axis (``-3``) is not 3.
    """
    _check_three_channels(rgb, "rgb_to_y_matlab")
    m, o = _matlab_matrix(rgb)
    return _apply_matrix(rgb, m[:1], o[:1])


def rgb_to_luma_bt601(rgb: Tensor) -> Tensor:
    """Full-range BT.601 luma (JPEG / OpenCV ``BGR2GRAY`` / Pillow ``"L"`` convention, no rounding).

    .. math::

        L = 0.299 R + 0.587 G + 0.114 B \\in [0, 1]

    This is **not** the Y used for "PSNR on Y" in the super-resolution literature; see
    :func:`rgb_to_y_matlab`.

    Args:
        rgb: RGB image(s) in [0, 1], shape ``(..., 3, H, W)``, float32 or float64.

    Returns:
        Luma with shape ``(..., 1, H, W)`` and the input's dtype.

    Raises:
        ImageShapeError: if the tensor is not floating point or its channel axis (``-3``) is not 3.
    """
    _check_three_channels(rgb, "rgb_to_luma_bt601")
    w = torch.tensor([_BT601_LUMA], dtype=rgb.dtype, device=rgb.device)
    return _apply_matrix(rgb, w, torch.zeros(1, dtype=rgb.dtype, device=rgb.device))
