"""Input handling shared by the full-reference metrics (quantisation, Y conversion, border crop)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from invrestore.color import ImageShapeError, rgb_to_y_matlab
from invrestore.errors import ConfigError

Channel = Literal["rgb", "y"]

#: Peak value of the 0–255 scale on which all metrics are computed.
PEAK = 255.0


def quantize_8bit(x: Tensor) -> Tensor:
    """8-bit codes of a [0, 1] image, as float: :math:`\\lfloor 255\\,\\mathrm{clip}(x,0,1)+0.5\\rfloor`.

    Rounds half up (MATLAB's ``im2uint8``/``uint8()`` convention for non-negative values); ties are
    measure-zero for real images, so this agrees with NumPy/PyTorch's round-half-to-even in practice.

    Args:
        x: Float tensor in [0, 1] (values outside are clipped), any shape.

    Returns:
        Float tensor of the same shape and dtype with integer values in [0, 255].
    """
    return torch.floor(x.clamp(0.0, 1.0) * PEAK + 0.5)


def prepare_pair(
    a: Tensor, b: Tensor, crop_border: int, channel: Channel, quantize: bool, name: str
) -> tuple[Tensor, Tensor, bool]:
    """Bring two images to the form every metric works on.

    Steps: validate shapes -> (B, C, H, W) -> float64 -> 0–255 scale (rounded to 8 bits when ``quantize``) ->
    MATLAB Y, unrounded (when ``channel='y'`` and C = 3; a single channel is used as is) -> crop
    ``crop_border`` pixels on each side.

    Returns:
        ``(a255, b255, batched)``: float64 tensors ``(B, C', H - 2c, W - 2c)`` and whether the input had a
        batch axis.
    """
    if a.shape != b.shape:
        raise ImageShapeError(f"{name}: images must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.ndim not in (3, 4):
        raise ImageShapeError(f"{name}: expected (C, H, W) or (B, C, H, W), got shape {tuple(a.shape)}")
    if not (a.is_floating_point() and b.is_floating_point()):
        raise ImageShapeError(f"{name}: expected floating-point images in [0, 1], got {a.dtype} and {b.dtype}")
    if channel not in ("rgb", "y"):
        raise ConfigError(f"{name}: channel must be 'rgb' or 'y', got {channel!r}")
    if crop_border < 0 or int(crop_border) != crop_border:
        raise ConfigError(f"{name}: crop_border must be a non-negative integer, got {crop_border!r}")
    batched = a.ndim == 4
    x = (a if batched else a.unsqueeze(0)).to(torch.float64)
    y = (b if batched else b.unsqueeze(0)).to(torch.float64)
    if quantize:
        x, y = quantize_8bit(x), quantize_8bit(y)
    else:
        x, y = x * PEAK, y * PEAK
    if channel == "y":
        c = x.shape[1]
        if c == 3:
            x = rgb_to_y_matlab(x / PEAK) * PEAK
            y = rgb_to_y_matlab(y / PEAK) * PEAK
        elif c != 1:
            raise ImageShapeError(f"{name}: channel='y' needs 1 or 3 channels, got {c}")
    if crop_border:
        h, w = x.shape[-2:]
        if 2 * crop_border >= min(h, w):
            raise ImageShapeError(f"{name}: crop_border={crop_border} leaves nothing of a {h}x{w} image")
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
        y = y[..., crop_border:-crop_border, crop_border:-crop_border]
    return x, y, batched


def finish(values: Tensor, batched: bool) -> Tensor:
    """(B,) per-image values -> (B,) if batched else a 0-d tensor."""
    return values if batched else values[0]
