"""Rate helpers: bits per pixel (codecs) and bits per dimension (likelihood models)."""

from __future__ import annotations

import math
from typing import overload

from torch import Tensor

from invrestore.errors import ConfigError

__all__ = ["bits_per_dim", "bpp"]


def bpp(num_bytes: int, height: int, width: int) -> float:
    """Bits per pixel of a compressed image: :math:`8 \\cdot \\text{bytes} / (H W)`.

    Args:
        num_bytes: Size of the whole bitstream (or file) in bytes.
        height: Image height :math:`H` in pixels.
        width: Image width :math:`W` in pixels.

    Returns:
        Bits per pixel (per spatial position, all channels together).

    Raises:
        ConfigError: if a size is negative or the image is empty.
    """
    if num_bytes < 0 or height <= 0 or width <= 0:
        raise ConfigError(f"bpp needs num_bytes >= 0 and a non-empty image, got {num_bytes}, {height}x{width}")
    return 8.0 * num_bytes / (height * width)


@overload
def bits_per_dim(nll_nats: float, num_dims: int) -> float: ...
@overload
def bits_per_dim(nll_nats: Tensor, num_dims: int) -> Tensor: ...
def bits_per_dim(nll_nats: float | Tensor, num_dims: int) -> float | Tensor:
    """Negative log-likelihood in bits per dimension: :math:`\\mathrm{NLL}_\\text{nats} / (D \\ln 2)`.

    Args:
        nll_nats: Total negative log-likelihood of one sample in nats (a float, or a tensor such as ``(B,)``).
        num_dims: Number of dimensions :math:`D` of one sample (e.g. :math:`C H W`).

    Returns:
        Bits per dimension, same type (and shape) as ``nll_nats``.

    Raises:
        ConfigError: if ``num_dims`` is not positive.
    """
    if num_dims <= 0:
        raise ConfigError(f"bits_per_dim needs num_dims > 0, got {num_dims}")
    return nll_nats / (num_dims * math.log(2.0))
