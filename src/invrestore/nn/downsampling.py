"""IRN's learnable downsampling (IRN_LD, the official ``ConvDownsampling``), for scales such as 3."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import ScaleError
from invrestore.nn.base import InvertibleModule
from invrestore.nn.squeeze import squeeze2d, unsqueeze2d

__all__ = ["LearnableDownsampling", "PaddingPolicy"]

PaddingPolicy = Literal["error", "replicate", "reflect", "zeros"]
_POLICIES = ("error", "replicate", "reflect", "zeros")


def _initial_matrix(s: int) -> Tensor:
    m = torch.eye(s * s)
    if s == 2:  # the official code starts from the Haar rows (/4) at s=2
        m = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0], [1.0, -1.0, -1.0, 1.0]])
        return m / 4.0
    m[0] = 1.0 / (s * s)
    return m


class LearnableDownsampling(InvertibleModule):
    """Squeeze by ``s`` followed by one learnable ``s²×s²`` matrix shared by all channels (IRN_LD).

    Paper: Xiao et al., "Invertible Rescaling Network and Its Extensions", IJCV 2022 (IRN_LD, learnable
    downsampling). Shapes: ``(B, C, H, W) -> (B, s²·C, H/s, W/s)``.

    Each ``s×s`` patch of channel ``c`` is flattened in raster order (``p_m``, ``m = i·s + j``) and mapped by
    ``M``::

        y[k·C + c] = Σ_m M[k, m] · p_m[c]          (grouped by sub-band, then channel, like HaarDownsampling)

    ``logdet = C·(H/s)·(W/s)·log|det M|`` per sample; the inverse applies ``M⁻¹`` (``torch.linalg.inv``,
    computed in float64). ``M`` is the parameter ``conv_weights`` of shape ``(s², s²)`` — the official name
    and shape, so official checkpoints load (81 parameters at ``s = 3``). Initialisation: identity with row 0
    replaced by ``1/s²`` (the patch mean, so channels ``0..C−1`` start as the box-downscaled image); at
    ``s = 2`` the Haar rows divided by 4, which makes the block equal to :class:`HaarDownsampling` at
    initialisation.

    Padding policy (the module stays stateless): ``padding="error"`` (default) raises :class:`ScaleError` when
    ``H`` or ``W`` is not divisible by ``s``. ``"replicate"``, ``"reflect"`` or ``"zeros"`` pad the
    bottom/right edge up to the next multiple of ``s`` before the transform; the module does not remember the
    original size, so ``inverse`` returns the padded size and the caller crops to ``[..., :H, :W]``. Padded
    inputs are not a bijection of the unpadded input, and the log-det is that of the padded tensor.

    Args:
        channels: number of input channels ``C`` (the matrix is shared, so it only fixes the shapes).
        scale: the factor ``s >= 2``.
        padding: the padding policy described above.
    """

    def __init__(self, channels: int, scale: int, padding: PaddingPolicy = "error") -> None:
        super().__init__()
        if scale < 2:
            raise ValueError(f"scale must be >= 2, got {scale}")
        if padding not in _POLICIES:
            raise ValueError(f"unknown padding policy {padding!r}; expected one of {_POLICIES}")
        self.channels = channels
        self.scale = scale
        self.padding: PaddingPolicy = padding
        self.conv_weights = nn.Parameter(_initial_matrix(scale))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, scale={self.scale}, padding={self.padding!r}"

    def _pad(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        s = self.scale
        ph, pw = (-h) % s, (-w) % s
        if ph == 0 and pw == 0:
            return x
        if self.padding == "error":
            raise ScaleError(
                f"LearnableDownsampling by {s} needs H and W divisible by {s}, got {h}x{w} "
                "(pad the input or choose padding='replicate'|'reflect'|'zeros')"
            )
        mode = "constant" if self.padding == "zeros" else self.padding
        return F.pad(x, (0, pw, 0, ph), mode=mode)

    def _logabsdet(self) -> Tensor:
        return torch.linalg.slogdet(self.conv_weights.double())[1].to(self.conv_weights.dtype)

    def _mix(self, z: Tensor, m: Tensor) -> Tensor:
        b, cs, h, w = z.shape
        s2 = self.scale * self.scale
        out = torch.matmul(m, z.reshape(b, s2, (cs // s2) * h * w))
        return out.reshape(b, cs, h, w)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self._pad(x)
        z = squeeze2d(x, self.scale, "band")  # channel k·C + c holds sub-pixel k of channel c
        y = self._mix(z, self.conv_weights)
        per_pixel = y.shape[1] // (self.scale * self.scale) * y.shape[2] * y.shape[3]
        return y, x.new_zeros(x.shape[0]) + per_pixel * self._logabsdet()

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        m_inv = torch.linalg.inv(self.conv_weights.double()).to(self.conv_weights.dtype)
        z = self._mix(y, m_inv)
        x = unsqueeze2d(z, self.scale, "band")
        per_pixel = y.shape[1] // (self.scale * self.scale) * y.shape[2] * y.shape[3]
        return x, y.new_zeros(y.shape[0]) - per_pixel * self._logabsdet()
