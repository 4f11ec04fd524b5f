"""IRN's Haar wavelet downsampling (Xiao et al., "Invertible Image Rescaling", ECCV 2020 / IJCV 2022)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import ScaleError
from invrestore.nn.base import InvertibleModule

__all__ = ["HaarDownsampling", "haar_filters"]


def haar_filters() -> Tensor:
    """The four un-normalised 2×2 Haar filters, shape ``(4, 1, 2, 2)``, in IRN's order.

    With ``a, b, c, d`` the top-left, top-right, bottom-left and bottom-right pixels of a 2×2 block:
    filter 0 = ``a+b+c+d`` (LL), 1 = ``a−b+c−d`` (column difference), 2 = ``a+b−c−d`` (row difference),
    3 = ``a−b−c+d`` (diagonal).
    """
    w = torch.ones(4, 1, 2, 2)
    w[1, 0, 0, 1] = w[1, 0, 1, 1] = -1.0
    w[2, 0, 1, 0] = w[2, 0, 1, 1] = -1.0
    w[3, 0, 0, 1] = w[3, 0, 1, 0] = -1.0
    return w


class HaarDownsampling(InvertibleModule):
    """One level of the Haar transform with IRN's exact conventions: ``(B, C, H, W) -> (B, 4C, H/2, W/2)``.

    Paper: Xiao et al., "Invertible Image Rescaling" (ECCV 2020; IJCV 2022), §3.2 "Wavelet transformation".

    For each channel and each 2×2 block ``[[a, b], [c, d]]``::

        LL = (a+b+c+d)/4   F1 = (a−b+c−d)/4   F2 = (a+b−c−d)/4   F3 = (a−b−c+d)/4

    The output is grouped by sub-band, then by channel: ``[LL (C) | F1 (C) | F2 (C) | F3 (C)]``, i.e. output
    channel ``k·C + c`` holds band ``k`` of input channel ``c``. The transform is the 4×4 Hadamard matrix
    divided by 4, so ``|det| = 1/16`` per block and ``logdet = (C·H·W/4)·ln(1/16) = −C·H·W·ln 2`` per sample.
    The inverse does not divide: ``a = LL+F1+F2+F3``, ``b = LL−F1+F2−F3``, ``c = LL+F1−F2−F3``,
    ``d = LL−F1−F2+F3``.

    The filters are a frozen ``nn.Parameter`` ``haar_weights`` of shape ``(4C, 1, 2, 2)`` (row ``4c+k`` =
    filter ``k``), as in the official code, so official checkpoints load and parameter totals match.

    Args:
        channels: number of input channels ``C``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.haar_weights = nn.Parameter(torch.cat([haar_filters()] * channels, dim=0), requires_grad=False)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def _logdet(self, x: Tensor, numel: int, sign: float) -> Tensor:
        return x.new_full((x.shape[0],), sign * (numel / 4) * math.log(16.0))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ScaleError(f"HaarDownsampling needs even H and W, got {h}x{w}")
        out = F.conv2d(x, self.haar_weights, stride=2, groups=self.channels) / 4.0
        out = out.reshape(b, c, 4, h // 2, w // 2).transpose(1, 2).reshape(b, 4 * c, h // 2, w // 2)
        return out, self._logdet(x, c * h * w, -1.0)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, c4, h, w = y.shape
        c = c4 // 4
        out = y.reshape(b, 4, c, h, w).transpose(1, 2).reshape(b, c4, h, w)
        out = F.conv_transpose2d(out, self.haar_weights, stride=2, groups=self.channels)
        return out, self._logdet(y, c * 4 * h * w, 1.0)
