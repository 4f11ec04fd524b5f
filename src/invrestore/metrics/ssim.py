"""Structural similarity (SSIM, Wang et al. 2004) and its multi-scale version (MS-SSIM, Wang et al. 2003).

Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error visibility to
structural similarity", IEEE TIP 13(4), 2004. Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale structural
similarity for image quality assessment", Asilomar 2003.

With a normalised Gaussian window :math:`G` (11×11, σ = 1.5), local statistics
:math:`\\mu_x = G * x`, :math:`\\sigma_x^2 = G * x^2 - \\mu_x^2`, :math:`\\sigma_{xy} = G * (xy) -
\\mu_x\\mu_y` and :math:`C_1 = (0.01 L)^2`, :math:`C_2 = (0.03 L)^2` with :math:`L = 255`:

.. math::

    \\mathrm{SSIM}(x, y) = \\operatorname{mean}\\;
    \\underbrace{\\frac{2\\mu_x\\mu_y + C_1}{\\mu_x^2 + \\mu_y^2 + C_1}}_{l}\\;
    \\underbrace{\\frac{2\\sigma_{xy} + C_2}{\\sigma_x^2 + \\sigma_y^2 + C_2}}_{cs}

Two border conventions exist and give different numbers (≈ 1e-3 on benchmark images):

* ``variant='wang'``: 'valid' filtering, the map is (H − 10) × (W − 10). Wang's ``ssim_index.m``, BasicSR/IRN
  (``filter2D`` then a 5-pixel crop), ``skimage.metrics.structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False)`` after its own 5-pixel crop, and
  ``kornia.metrics.ssim(padding='valid')``.
* ``variant='matlab'``: MATLAB's built-in ``ssim()``: the Gaussian filter (``imgaussfilt``, size 2⌈3σ⌉+1 = 11)
  is applied with **replicate** padding, so the map has the image's size; its mean is the score.

No automatic downsampling is applied (unlike Wang's published script for large images), as in BasicSR and the
papers that use it. RGB SSIM is the mean of the per-channel SSIMs (per-channel 2-D windows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from invrestore.color import ImageShapeError
from invrestore.errors import ConfigError
from invrestore.metrics._common import PEAK, Channel, finish, prepare_pair

__all__ = ["MS_SSIM_WEIGHTS", "gaussian_window_1d", "irae_legacy_ssim", "ms_ssim", "ssim"]

Variant = Literal["wang", "matlab"]

#: Exponents of the five MS-SSIM scales (Wang et al. 2003), finest first.
MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

_WIN_SIZE = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


def gaussian_window_1d(size: int = _WIN_SIZE, sigma: float = _SIGMA, dtype: torch.dtype = torch.float64) -> Tensor:
    """Normalised 1-D Gaussian :math:`g_k \\propto \\exp(-(k - (n-1)/2)^2 / 2\\sigma^2)`, :math:`k = 0..n-1`.

    The 2-D window is the outer product :math:`g g^T` (already normalised), equal to MATLAB's
    ``fspecial('gaussian', n, sigma)`` and OpenCV's ``getGaussianKernel(n, sigma) @ getGaussianKernel(n,
    sigma).T``.
    """
    k = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(k**2) / (2.0 * sigma**2))
    return (g / g.sum()).to(dtype)


def _filter(x: Tensor, g: Tensor) -> Tensor:
    """Separable 'valid' filtering of the last two axes of ``x`` with the 1-D window ``g``
    (cross-correlation).

    ``(..., H, W) -> (..., H - n + 1, W - n + 1)``. Written as shift-and-add: on the CPU this is several times
    faster than ``conv2d`` in float64, which has no optimised kernel.
    """
    n_g = g.numel()
    taps = [float(v) for v in g.tolist()]
    h_out = x.shape[-2] - n_g + 1
    out = x[..., 0:h_out, :] * taps[0]
    for k in range(1, n_g):
        out.add_(x[..., k : k + h_out, :], alpha=taps[k])
    w_out = x.shape[-1] - n_g + 1
    res = out[..., 0:w_out] * taps[0]
    for k in range(1, n_g):
        res.add_(out[..., k : k + w_out], alpha=taps[k])
    return res


def _ssim_and_cs(x: Tensor, y: Tensor, variant: str, data_range: float = PEAK) -> tuple[Tensor, Tensor]:
    """Per-image, per-channel means of the SSIM map and of the contrast-structure map, both (B, C)."""
    g = gaussian_window_1d(dtype=x.dtype).to(x.device)
    half = _WIN_SIZE // 2
    if variant == "matlab":
        x = F.pad(x, (half, half, half, half), mode="replicate")
        y = F.pad(y, (half, half, half, half), mode="replicate")
    elif variant != "wang":
        raise ConfigError(f"ssim variant must be 'wang' or 'matlab', got {variant!r}")
    if min(x.shape[-2:]) < _WIN_SIZE:
        raise ImageShapeError(f"SSIM ('{variant}') needs images of at least {_WIN_SIZE}x{_WIN_SIZE} pixels")
    c1 = (_K1 * data_range) ** 2
    c2 = (_K2 * data_range) ** 2
    b = x.shape[0]
    # Filter the five moments in one call: x, y, x^2, y^2, xy.
    stats = _filter(torch.cat([x, y, x * x, y * y, x * y], dim=0), g)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.split(b, dim=0)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    s_xx, s_yy, s_xy = e_xx - mu_xx, e_yy - mu_yy, e_xy - mu_xy
    cs_map = (2.0 * s_xy + c2) / (s_xx + s_yy + c2)
    ssim_map = (2.0 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs_map
    return ssim_map.mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))


def ssim(
    a: Tensor,
    b: Tensor,
    crop_border: int = 0,
    channel: Channel = "rgb",
    variant: Variant = "wang",
    quantize: bool = True,
) -> Tensor:
    """SSIM on the 0–255 scale in float64, per image (see the module docstring for the formula and variants).

    Preprocessing is the same as :func:`invrestore.metrics.psnr`: 8-bit rounding when ``quantize``, MATLAB Y
    unrounded for ``channel='y'``, then a crop of ``crop_border`` pixels on each side (before filtering).

    Args:
        a: Image(s) in [0, 1], ``(C, H, W)`` or ``(B, C, H, W)``.
        b: Reference image(s), same shape.
        crop_border: Pixels removed on each side before scoring.
        channel: ``'rgb'`` (mean of the per-channel SSIMs) or ``'y'`` (MATLAB Y of a 3-channel image;
            single-channel images are scored directly).
        variant: ``'wang'`` ('valid' window; BasicSR/IRN) or ``'matlab'`` (MATLAB ``ssim()``: replicate
            padding).
        quantize: Round both images to 8 bits first.

    Returns:
        float64 tensor: 0-d for ``(C, H, W)`` inputs, ``(B,)`` for batched inputs.

    Raises:
        ImageShapeError: mismatched shapes or images smaller than the 11×11 window (after cropping, for
            ``'wang'``).
        ConfigError: invalid ``channel``, ``variant`` or ``crop_border``.
    """
    x, y, batched = prepare_pair(a, b, crop_border, channel, quantize, "ssim")
    s, _ = _ssim_and_cs(x, y, variant)
    return finish(s.mean(dim=1), batched)


def ms_ssim(
    a: Tensor,
    b: Tensor,
    crop_border: int = 0,
    channel: Channel = "rgb",
    quantize: bool = True,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
) -> Tensor:
    """Multi-scale SSIM (Wang et al. 2003) on the 0–255 scale, per image.

    .. math::

        \\mathrm{MS\\text{-}SSIM} = \\operatorname{mean}_c \\Big( [\\mathrm{SSIM}_M]_+^{\\beta_M}
        \\prod_{j=1}^{M-1} [cs_j]_+^{\\beta_j} \\Big)

    where scale :math:`j` is the image downsampled :math:`j-1` times by a 2×2 average pool (stride 2; an odd
    side is zero-padded by one pixel on each side first, with the zeros counted in the average), :math:`cs_j`
    and :math:`\\mathrm{SSIM}_M` are the means of the Wang-'valid' maps of each channel, :math:`[\\cdot]_+ =
    \\max(\\cdot, 0)` and :math:`\\beta` = ``weights``. These are the conventions of
    ``pytorch_msssim.ms_ssim`` (used by CompressAI and the learned-compression literature), which this
    function reproduces.

    Args:
        a: Image(s) in [0, 1], ``(C, H, W)`` or ``(B, C, H, W)``. The short side (after cropping) must exceed
            ``10 · 2^(M-1)`` pixels (161 for the default 5 scales).
        b: Reference image(s), same shape.
        crop_border: Pixels removed on each side first.
        channel: ``'rgb'`` or ``'y'``, as in :func:`ssim`.
        quantize: Round both images to 8 bits first.
        weights: The exponents :math:`\\beta_1..\\beta_M`, finest scale first.

    Returns:
        float64 tensor: 0-d for ``(C, H, W)`` inputs, ``(B,)`` for batched inputs.

    Raises:
        ImageShapeError: mismatched shapes or images too small for the number of scales.
    """
    x, y, batched = prepare_pair(a, b, crop_border, channel, quantize, "ms_ssim")
    levels = len(weights)
    if levels < 1:
        raise ConfigError("ms_ssim needs at least one weight")
    min_side = (_WIN_SIZE - 1) * 2 ** (levels - 1)
    if min(x.shape[-2:]) <= min_side:
        raise ImageShapeError(
            f"ms_ssim with {levels} scales needs a short side > {min_side} pixels, got {tuple(x.shape[-2:])}"
        )
    factors: list[Tensor] = []
    for level in range(levels):
        s, cs = _ssim_and_cs(x, y, "wang")
        if level == levels - 1:
            factors.append(torch.relu(s))
        else:
            factors.append(torch.relu(cs))
            pad = (x.shape[-2] % 2, x.shape[-1] % 2)  # odd side: one zero on each side
            x = F.avg_pool2d(x, kernel_size=2, stride=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, stride=2, padding=pad)
    w = torch.tensor(list(weights), dtype=x.dtype, device=x.device).view(-1, 1, 1)
    per_channel = torch.prod(torch.stack(factors, dim=0) ** w, dim=0)  # (B, C)
    return finish(per_channel.mean(dim=1), batched)


def irae_legacy_ssim(x: Tensor, y: Tensor) -> Tensor:
    """The official IRAE code's SSIM, kept only to compare with its published numbers (do not report it as SSIM).

    The code calls legacy skimage ``compare_ssim(X, Y, win_size=3, multichannel=True)`` on ``(C, H, W)`` float
    arrays without ``data_range``. So skimage (i) takes the *last* axis W as the channel axis and scores W images of
    size C×H, (ii) uses the float default ``data_range = 2`` (range −1..1), which quadruples C1 and C2 and inflates
    the score, with a 3×3 uniform window and sample covariance (N/(N−1)), and (iii) averages the SSIM map over the
    pixels at least one pixel from the border of each C×H slice — for C = 3 only the middle row.

    Args:
        x, y: ``(B, C, H, W)`` images in [0, 1] (C ≥ 3 and H ≥ 3).

    Returns:
        ``(B,)`` float64 scores (the mean over the W slices), equal to
        ``skimage.metrics.structural_similarity(X, Y, win_size=3, channel_axis=-1, data_range=2)`` per image.
    """
    if x.shape != y.shape or x.ndim != 4 or x.shape[1] < 3 or x.shape[2] < 3:
        raise ImageShapeError(
            f"expected two (B, C>=3, H>=3, W) tensors of one shape, got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    b, _, _, w = x.shape
    # (B, C, H, W) -> (B·W, 1, C, H): one C×H image per W slice
    a = x.double().permute(0, 3, 1, 2).reshape(b * w, 1, x.shape[1], x.shape[2])
    c = y.double().permute(0, 3, 1, 2).reshape(b * w, 1, x.shape[1], x.shape[2])

    def mean3(t: Tensor) -> Tensor:  # 3×3 uniform filter on the valid (uncropped) region
        return F.avg_pool2d(t, 3, stride=1)

    ua, uc = mean3(a), mean3(c)
    cov = 9.0 / 8.0
    va = cov * (mean3(a * a) - ua * ua)
    vc = cov * (mean3(c * c) - uc * uc)
    vac = cov * (mean3(a * c) - ua * uc)
    c1, c2 = (0.01 * 2.0) ** 2, (0.03 * 2.0) ** 2
    smap = ((2 * ua * uc + c1) * (2 * vac + c2)) / ((ua * ua + uc * uc + c1) * (va + vc + c2))
    return smap.reshape(b, -1).mean(dim=1)
