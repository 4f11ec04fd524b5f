"""MATLAB-compatible ``imresize`` (bicubic with antialiasing) in PyTorch.

Every super-resolution and rescaling benchmark generates its low-resolution images with MATLAB's
``imresize(x, 1/s, 'bicubic')``; other resamplers (PyTorch ``F.interpolate``, Pillow, OpenCV, kornia, skimage)
give LR images that are 40–60 dB away from it and numbers that cannot be compared with papers. This module
reproduces MATLAB's algorithm:

* **Kernel**: Keys' cubic convolution with :math:`a = -0.5` (``'cubic'``),

  .. math::

      k(t) = \\begin{cases}
      (a+2)|t|^3 - (a+3)|t|^2 + 1 & |t| \\le 1 \\\\
      a|t|^3 - 5a|t|^2 + 8a|t| - 4a & 1 < |t| \\le 2 \\\\
      0 & \\text{otherwise,}
      \\end{cases}

  or the triangle (``'linear'``, MATLAB's ``'bilinear'``).
* **Antialiasing** when shrinking (scale :math:`s < 1`): the kernel is stretched, :math:`k_s(t) = s\\,k(s t)`,
  and its support grows from :math:`w` to :math:`w / s` input pixels.
* **Geometry** (0-based output index :math:`i`): the output pixel centre maps to the input coordinate
  :math:`u_i = (i + 0.5)/s - 0.5`; the taps are :math:`j = \\lfloor u_i - w/(2s) \\rfloor + 0, \\dots, P - 1`
  with :math:`P = \\lceil w/s \\rceil + 2`, the weights :math:`k_s(u_i - j)` are normalised to sum to 1 for
  every output pixel, and out-of-range taps are mirrored with **symmetric padding** (the edge pixel is
  repeated: ``[.. b a | a b c .. | c b ..]``; MATLAB's ``aux = [1:n, n:-1:1]`` indexing, valid for any amount
  of padding).
* **Output size** :math:`\\lceil s \\cdot n \\rceil` per axis for a scale factor; for an explicit size the
  per-axis scale is ``out / in``.
* **Axis order**: MATLAB's ``dimensionOrder`` resizes first along the axis with the *smallest* scale factor (a
  stable sort, so H before W on ties, which is what BasicSR's ``imresize_np`` and bicubic-pytorch always do).
  For float data the order does not matter mathematically (the two 1-D operators act on different axes and
  commute); it matters for the 8-bit mode, where each pass is rounded.
* **8-bit semantics** (``uint8=True`` or a ``torch.uint8`` input): MATLAB's ``imresize`` on a ``uint8`` image
  rounds (half away from zero) and saturates to [0, 255] after *each* 1-D pass, because its intermediate image
  keeps the input's class.

Implementation decision: this is our own implementation, written from the description above. For each axis the
(indices, weights) of the :math:`P` taps are computed once per call in float64, taps whose weight is zero for
every output pixel are dropped (as MATLAB does), and the pass is a gather + weighted sum over the taps
(``index_select`` per tap, :math:`O(\\text{out} \\cdot P)` work per line), which is differentiable with
respect to the image and runs on any device. ``bicubic-pytorch`` (sanghyun-son's implementation, which matches
BasicSR's port of MATLAB ``imresize`` exactly) is used only as a **test oracle** (agreement ≤ 1e-5 on float
inputs).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from invrestore.color import ImageShapeError
from invrestore.errors import ConfigError, ScaleError

__all__ = ["KERNELS", "cubic_kernel", "imresize", "imresize_output_size", "linear_kernel", "resize_weights"]

KernelName = Literal["cubic", "linear"]


def cubic_kernel(t: Tensor, a: float = -0.5) -> Tensor:
    """Keys' cubic convolution kernel (MATLAB's ``cubic``, support [-2, 2]).

    Args:
        t: Distances, any shape.
        a: The free parameter; MATLAB and every SR benchmark use ``-0.5``.

    Returns:
        :math:`k(t)` with the shape and dtype of ``t``.
    """
    at = t.abs()
    at2 = at * at
    at3 = at2 * at
    inner = (a + 2.0) * at3 - (a + 3.0) * at2 + 1.0
    outer = a * at3 - 5.0 * a * at2 + 8.0 * a * at - 4.0 * a
    return torch.where(at <= 1.0, inner, torch.where(at <= 2.0, outer, torch.zeros_like(t)))


def linear_kernel(t: Tensor) -> Tensor:
    """Triangle kernel :math:`\\max(0, 1 - |t|)` (MATLAB's ``triangle`` / ``'bilinear'``, support [-1, 1])."""
    return (1.0 - t.abs()).clamp_min(0.0)


#: Kernel name -> (function, support width in input pixels at scale 1).
KERNELS: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {
    "cubic": (cubic_kernel, 4.0),
    "linear": (linear_kernel, 2.0),
}


def resize_weights(
    in_length: int, out_length: int, scale: float, kernel: str = "cubic", antialias: bool = True
) -> tuple[Tensor, Tensor]:
    """Tap indices and weights of one 1-D MATLAB ``imresize`` pass (MATLAB's ``contributions``).

    Output sample :math:`i` is :math:`y_i = \\sum_{p} W_{ip}\\, x_{I_{ip}}`.

    Args:
        in_length: Input length :math:`n`.
        out_length: Output length :math:`m`.
        scale: Scale factor :math:`s` of this axis (``out / in`` for explicit sizes).
        kernel: ``'cubic'`` or ``'linear'``.
        antialias: Stretch the kernel by :math:`1/s` when :math:`s < 1`.

    Returns:
        ``(indices, weights)``: ``indices`` is an int64 tensor ``(m, P)`` with values in ``[0, n)``
        (mirrored), ``weights`` a float64 tensor ``(m, P)`` whose rows sum to 1. Both on the CPU.
    """
    if kernel not in KERNELS:
        raise ConfigError(f"unknown resize kernel {kernel!r}; expected one of {sorted(KERNELS)}")
    fn, width = KERNELS[kernel]
    stretch = antialias and scale < 1.0
    if stretch:
        width = width / scale
    u = (torch.arange(out_length, dtype=torch.float64) + 0.5) / scale - 0.5
    left = torch.floor(u - width / 2.0)
    n_taps = math.ceil(width) + 2
    idx = left.unsqueeze(1) + torch.arange(n_taps, dtype=torch.float64).unsqueeze(0)  # (m, P)
    dist = u.unsqueeze(1) - idx
    w = scale * fn(scale * dist) if stretch else fn(dist)
    w = w / w.sum(dim=1, keepdim=True)
    # Symmetric padding: index j maps to aux[j mod 2n] with aux = [0..n-1, n-1..0].
    period = 2 * in_length
    j = torch.remainder(idx.long(), period)
    j = torch.where(j < in_length, j, period - 1 - j)
    # Drop the tap columns that are zero for every output sample (MATLAB does the same).
    keep = (w != 0).any(dim=0)
    return j[:, keep].contiguous(), w[:, keep].contiguous()


def imresize_output_size(
    in_size: tuple[int, int], scale: float | Sequence[float] | None = None, size: Sequence[int] | None = None
) -> tuple[tuple[int, int], tuple[float, float]]:
    """Output size and per-axis scale factors, following MATLAB's ``fixupSizeAndScale``.

    Args:
        in_size: ``(H, W)`` of the input.
        scale: One factor for both axes, or ``(s_h, s_w)``. Output size is ``ceil(s * in)`` per axis.
        size: Explicit ``(H_out, W_out)``; the scales are then ``out / in``.

    Returns:
        ``((H_out, W_out), (s_h, s_w))``.

    Raises:
        ScaleError: if neither or both of ``scale`` and ``size`` are given, or a value is not positive.
    """
    if (scale is None) == (size is None):
        raise ScaleError("imresize needs exactly one of `scale` and `size`")
    h, w = in_size
    if size is not None:
        if len(size) != 2:
            raise ScaleError(f"size must be (H_out, W_out), got {tuple(size)}")
        oh, ow = int(size[0]), int(size[1])
        if oh <= 0 or ow <= 0 or oh != size[0] or ow != size[1]:
            raise ScaleError(f"output size must be positive integers, got {tuple(size)}")
        return (oh, ow), (oh / h, ow / w)
    assert scale is not None
    if isinstance(scale, numbers.Real):  # also numpy scalars
        sh = sw = float(scale)
    else:
        pair = tuple(scale)  # type: ignore[arg-type]
        if len(pair) != 2:
            raise ScaleError(f"scale must be a number or (s_h, s_w), got {pair}")
        sh, sw = float(pair[0]), float(pair[1])
    if not (sh > 0 and sw > 0 and math.isfinite(sh) and math.isfinite(sw)):
        raise ScaleError(f"scale factors must be positive and finite, got {(sh, sw)}")
    return (math.ceil(h * sh), math.ceil(w * sw)), (sh, sw)


def _quantize_8bit(x: Tensor, unit_range: bool) -> Tensor:
    # MATLAB's uint8 conversion: round half away from zero (= half up after clipping at 0), saturate to
    # [0, 255].
    if unit_range:
        return torch.floor(x.clamp(0.0, 1.0) * 255.0 + 0.5) / 255.0
    return torch.floor(x + 0.5).clamp(0.0, 255.0)


def _resize_axis(x: Tensor, dim: int, indices: Tensor, weights: Tensor) -> Tensor:
    """Apply one 1-D pass along ``dim`` (-2 or -1) of ``x`` (..., H, W)."""
    idx = indices.to(x.device)
    wts = weights.to(device=x.device, dtype=x.dtype)
    shape = (-1, 1) if dim == -2 else (-1,)
    out = None
    for p in range(idx.shape[1]):
        term = x.index_select(dim, idx[:, p]) * wts[:, p].reshape(shape)
        out = term if out is None else out + term
    assert out is not None
    return out


def imresize(
    x: Tensor,
    scale: float | Sequence[float] | None = None,
    *,
    size: Sequence[int] | None = None,
    antialias: bool = True,
    kernel: KernelName = "cubic",
    uint8: bool = False,
) -> Tensor:
    """Resize like MATLAB ``imresize(x, scale, 'bicubic')`` (see the module docstring for the algorithm).

    Shapes: ``(B, C, H, W) -> (B, C, H', W')``, ``(C, H, W) -> (C, H', W')``, ``(H, W) -> (H', W')`` with
    :math:`H' = \\lceil s_h H \\rceil`, :math:`W' = \\lceil s_w W \\rceil` (or the explicit ``size``).

    Args:
        x: Image tensor, float32/float64 (kept; float16/bfloat16 are computed in float32 and cast back)
            or uint8.
        scale: Scale factor (``0.25`` shrinks 4×, ``4`` enlarges 4×), or ``(s_h, s_w)``.
        size: Explicit output size ``(H', W')``, instead of ``scale``.
        antialias: Antialiasing when shrinking (MATLAB's default ``true``).
        kernel: ``'cubic'`` (MATLAB ``'bicubic'``, a = -0.5) or ``'linear'`` (MATLAB ``'bilinear'``).
        uint8: MATLAB's semantics for ``uint8`` images: round half up and clip after each axis pass. For a
            float input the values are taken on the [0, 1] scale (each pass yields multiples of 1/255) and the
            result is float; the rounding has zero gradient. A ``torch.uint8`` input always gets these
            semantics and returns ``torch.uint8`` (computed in float64, values on the 0–255 scale).

    Returns:
        The resized tensor, same number of dimensions, dtype and device as ``x``.

    Raises:
        ImageShapeError: if ``x`` is not 2-, 3- or 4-dimensional or has an unsupported dtype.
        ScaleError: for invalid ``scale`` / ``size``.
        ConfigError: for an unknown kernel.
    """
    if x.ndim not in (2, 3, 4):
        raise ImageShapeError(f"imresize expects (H, W), (C, H, W) or (B, C, H, W), got shape {tuple(x.shape)}")
    if kernel not in KERNELS:
        raise ConfigError(f"unknown resize kernel {kernel!r}; expected one of {sorted(KERNELS)}")
    in_dtype = x.dtype
    is_uint8 = in_dtype == torch.uint8
    if is_uint8:
        work = x.to(torch.float64)
    elif in_dtype in (torch.float32, torch.float64):
        work = x
    elif x.is_floating_point():
        work = x.to(torch.float32)
    else:
        raise ImageShapeError(f"imresize supports floating-point and uint8 tensors, got {in_dtype}")
    quantize = uint8 or is_uint8
    unit_range = not is_uint8

    in_hw = (int(x.shape[-2]), int(x.shape[-1]))
    out_hw, scales = imresize_output_size(in_hw, scale, size)
    if quantize:
        work = _quantize_8bit(work, unit_range)
    # MATLAB's dimensionOrder: smallest scale first; stable, so H first on ties.
    order = sorted(range(2), key=lambda k: scales[k])
    for k in order:
        if scales[k] == 1.0 and out_hw[k] == in_hw[k]:
            continue  # identity pass: the cubic/linear weights are exactly one-hot
        indices, weights = resize_weights(in_hw[k], out_hw[k], scales[k], kernel=kernel, antialias=antialias)
        work = _resize_axis(work, -2 + k, indices, weights)
        if quantize:
            work = _quantize_8bit(work, unit_range)
    if is_uint8:
        return work.to(torch.uint8)
    return work.to(in_dtype)
