"""Peak signal-to-noise ratio with the conventions of the super-resolution literature."""

from __future__ import annotations

import torch
from torch import Tensor

from invrestore.metrics._common import PEAK, Channel, finish, prepare_pair

__all__ = ["psnr"]


def psnr(a: Tensor, b: Tensor, crop_border: int = 0, channel: Channel = "rgb", quantize: bool = True) -> Tensor:
    """PSNR in dB on the 0–255 scale, per image.

    .. math::

        \\mathrm{PSNR} = 10 \\log_{10} \\frac{255^2}{\\mathrm{MSE}},\\qquad
        \\mathrm{MSE} = \\frac{1}{C H W} \\sum_{c,i,j} (a_{cij} - b_{cij})^2

    computed in float64 after (1) rounding both images to 8 bits when ``quantize``
    (:math:`\\lfloor 255\\,\\mathrm{clip}(x,0,1)+0.5\\rfloor`), (2) taking MATLAB's Y **unrounded** when
    ``channel='y'`` (:math:`16 + (65.481R + 128.553G + 24.966B)/255` on the 0–255 scale), and (3) cropping
    ``crop_border`` pixels on each side. Identical images give ``inf``.

    Args:
        a: Image(s) in [0, 1], ``(C, H, W)`` or ``(B, C, H, W)``, any float dtype.
        b: Reference image(s), same shape as ``a``.
        crop_border: Pixels removed on each side before scoring (the literature uses the scale factor).
        channel: ``'rgb'`` scores all channels; ``'y'`` scores MATLAB's Y of a 3-channel image.
            Single-channel images are scored directly with either choice (MATLAB convention for grayscale).
        quantize: Round both images to 8 bits first (what a saved PNG would give). With ``False`` the float
            values are scored as is (times 255).

    Returns:
        float64 tensor: 0-d for ``(C, H, W)`` inputs, shape ``(B,)`` for batched inputs (one value per image,
        never averaged over the batch). Use ``float(psnr(a, b))`` for a Python number.

    Raises:
        ImageShapeError: mismatched or unsupported shapes, or a crop larger than the image.
        ConfigError: invalid ``channel`` or ``crop_border``.
    """
    x, y, batched = prepare_pair(a, b, crop_border, channel, quantize, "psnr")
    mse = (x - y).pow(2).flatten(1).mean(dim=1)
    values = 10.0 * torch.log10(PEAK**2 / mse)  # mse = 0 -> inf
    return finish(values, batched)
