"""Image-quality and rate metrics with the literature's conventions.

All full-reference metrics take float images in [0, 1] shaped ``(C, H, W)`` or ``(B, C, H, W)``, compute in
float64 on the 0–255 scale, and return a float64 tensor: 0-d for one image, ``(B,)`` (one value per image) for
a batch. With ``quantize=True`` (default) both images are first rounded to 8 bits, :math:`\\lfloor
255\\,\\mathrm{clip}(x,0,1) + 0.5\\rfloor`; ``channel='y'`` scores MATLAB's Y (BT.601 studio range,
unrounded); ``crop_border`` removes that many pixels on each side (the SR literature uses the scale factor).

- :func:`psnr` — PSNR in dB.
- :func:`ssim` — SSIM, ``variant='wang'`` ('valid' 11×11 σ=1.5 Gaussian; BasicSR/IRN) or ``'matlab'`` (MATLAB
  ``ssim()``, replicate padding).
- :func:`ms_ssim` — MS-SSIM (5 scales, ``pytorch_msssim`` conventions).
- :func:`bpp`, :func:`bits_per_dim` — rate helpers.
"""

from invrestore.metrics._common import quantize_8bit
from invrestore.metrics.psnr import psnr
from invrestore.metrics.rate import bits_per_dim, bpp
from invrestore.metrics.ssim import MS_SSIM_WEIGHTS, gaussian_window_1d, irae_legacy_ssim, ms_ssim, ssim

__all__ = [
    "MS_SSIM_WEIGHTS",
    "bits_per_dim",
    "bpp",
    "gaussian_window_1d",
    "irae_legacy_ssim",
    "ms_ssim",
    "psnr",
    "quantize_8bit",
    "ssim",
]
