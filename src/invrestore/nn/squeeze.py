"""Space-to-depth (``Squeeze``) and depth-to-space (``Unsqueeze``) for any integer factor.

Both are permutations, so their log-det is zero. Within an ``s × s`` patch the sub-pixel ``(i, j)`` (row
``i``, column ``j``) has raster index ``k = i·s + j``. Two channel orders are offered:

- ``"band"`` (default): output channel ``k·C + c`` — grouped by sub-pixel, then by channel, like IRN's Haar
  and learnable downsampling ("sub-band major"); the first ``C`` channels are the top-left sub-image.
- ``"glow"``: output channel ``c·s² + k`` — grouped by channel, then by sub-pixel, like Glow, IRAE and
  RealNVP's channel-wise squeeze (``reshape(B,C,H/s,s,W/s,s).permute(0,1,3,5,2,4)``).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from invrestore.errors import ScaleError
from invrestore.nn.base import InvertibleModule

__all__ = ["Squeeze", "SqueezeOrder", "Unsqueeze", "squeeze2d", "unsqueeze2d"]

SqueezeOrder = Literal["band", "glow"]
_ORDERS = ("band", "glow")


def _check_order(order: str) -> None:
    if order not in _ORDERS:
        raise ValueError(f"unknown squeeze order {order!r}; expected one of {_ORDERS}")


def squeeze2d(x: Tensor, factor: int, order: SqueezeOrder = "band") -> Tensor:
    """Space-to-depth: ``(B, C, H, W) -> (B, C·s², H/s, W/s)``.

    Args:
        x: input ``(B, C, H, W)``; ``H`` and ``W`` must be divisible by ``factor``.
        factor: the integer factor ``s >= 1``.
        order: ``"band"`` (channel ``k·C + c``) or ``"glow"`` (channel ``c·s² + k``), ``k = i·s + j``.

    Raises:
        ScaleError: if ``H`` or ``W`` is not divisible by ``factor``.
    """
    _check_order(order)
    b, c, h, w = x.shape
    s = factor
    if h % s or w % s:
        raise ScaleError(f"squeeze by {s} needs H and W divisible by {s}, got {h}x{w}")
    x6 = x.reshape(b, c, h // s, s, w // s, s)
    if order == "band":
        x6 = x6.permute(0, 3, 5, 1, 2, 4)  # (B, i, j, C, h, w)
    else:
        x6 = x6.permute(0, 1, 3, 5, 2, 4)  # (B, C, i, j, h, w)
    return x6.reshape(b, c * s * s, h // s, w // s)


def unsqueeze2d(y: Tensor, factor: int, order: SqueezeOrder = "band") -> Tensor:
    """Depth-to-space, the inverse of :func:`squeeze2d`: ``(B, C·s², h, w) -> (B, C, h·s, w·s)``.

    Raises:
        ScaleError: if the channel count is not divisible by ``s²``.
    """
    _check_order(order)
    b, cs, h, w = y.shape
    s = factor
    if cs % (s * s):
        raise ScaleError(f"unsqueeze by {s} needs channels divisible by {s * s}, got {cs}")
    c = cs // (s * s)
    if order == "band":
        y6 = y.reshape(b, s, s, c, h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        y6 = y.reshape(b, c, s, s, h, w).permute(0, 1, 4, 2, 5, 3)
    return y6.reshape(b, c, h * s, w * s)


class Squeeze(InvertibleModule):
    """Invertible space-to-depth ``(B, C, H, W) -> (B, C·s², H/s, W/s)`` with log-det 0.

    Used by RealNVP (Dinh et al., 2017) and Glow (Kingma & Dhariwal, 2018) to trade resolution for channels.

    Args:
        factor: the integer factor ``s``.
        order: channel order, ``"band"`` (``k·C + c``, default) or ``"glow"`` (``c·s² + k``), ``k = i·s + j``.
    """

    def __init__(self, factor: int = 2, order: SqueezeOrder = "band") -> None:
        super().__init__()
        if factor < 1:
            raise ValueError(f"squeeze factor must be >= 1, got {factor}")
        _check_order(order)
        self.factor = factor
        self.order: SqueezeOrder = order

    def extra_repr(self) -> str:
        return f"factor={self.factor}, order={self.order!r}"

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return squeeze2d(x, self.factor, self.order), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return unsqueeze2d(y, self.factor, self.order), y.new_zeros(y.shape[0])


class Unsqueeze(InvertibleModule):
    """Invertible depth-to-space ``(B, C·s², h, w) -> (B, C, h·s, w·s)``, the inverse of :class:`Squeeze`.

    Args:
        factor: the integer factor ``s``.
        order: channel order of the input, as in :class:`Squeeze`.
    """

    def __init__(self, factor: int = 2, order: SqueezeOrder = "band") -> None:
        super().__init__()
        if factor < 1:
            raise ValueError(f"unsqueeze factor must be >= 1, got {factor}")
        _check_order(order)
        self.factor = factor
        self.order: SqueezeOrder = order

    def extra_repr(self) -> str:
        return f"factor={self.factor}, order={self.order!r}"

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return unsqueeze2d(x, self.factor, self.order), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return squeeze2d(y, self.factor, self.order), y.new_zeros(y.shape[0])
