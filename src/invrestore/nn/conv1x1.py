"""Invertible 1×1 convolution (Glow), plain or LU-decomposed."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.nn.base import InvertibleModule

__all__ = ["InvConv1x1"]

Conv1x1Init = Literal["identity", "orthogonal"]


def _initial_weight(channels: int, init: str) -> Tensor:
    if init == "identity":
        return torch.eye(channels)
    if init == "orthogonal":
        q, _ = torch.linalg.qr(torch.randn(channels, channels, dtype=torch.float64))
        return q.float()
    raise ValueError(f"unknown init {init!r}; expected 'identity' or 'orthogonal'")


class InvConv1x1(InvertibleModule):
    """Invertible 1×1 convolution ``y[:, i] = Σ_j W[i, j] x[:, j]``: ``(B, C, H, W) -> (B, C, H, W)``.

    Paper: Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018, §3.2.

    ``logdet = H·W·log|det W|`` per sample.

    - Plain (``lu=False``): ``W`` is the parameter ``weight`` of shape ``(C, C)``. ``log|det W|`` and ``W⁻¹``
      are computed in float64 on every call (no cached inverse, so nothing can go stale).
    - LU (``lu=True``): ``W = P · L · (U + diag(sign · exp(log_scale)))`` with ``P`` a fixed permutation
      buffer ``perm``, ``L`` unit lower-triangular (parameter ``lower``; only its strict lower part is used),
      ``U`` strictly upper-triangular (parameter ``upper``; only its strict upper part is used), ``log_scale``
      a parameter and ``sign`` a fixed buffer. Then ``log|det W| = Σ log_scale``.

    Args:
        channels: number of channels ``C``.
        lu: use the LU parameterisation.
        init: ``"identity"`` or ``"orthogonal"`` (Q of the QR decomposition of a Gaussian matrix; uses the
            global RNG).
    """

    perm: Tensor
    sign: Tensor

    def __init__(self, channels: int, lu: bool = False, init: Conv1x1Init = "identity") -> None:
        super().__init__()
        self.channels = channels
        self.lu = lu
        self.init = init
        w0 = _initial_weight(channels, init)
        if not lu:
            self.weight = nn.Parameter(w0)
            return
        p, lower, upper = torch.linalg.lu(w0.double())
        diag = torch.diagonal(upper)
        self.register_buffer("perm", p.float())
        self.register_buffer("sign", torch.sign(diag).float())
        self.lower = nn.Parameter(torch.tril(lower, -1).float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_scale = nn.Parameter(torch.log(diag.abs()).float())

    def extra_repr(self) -> str:
        return f"channels={self.channels}, lu={self.lu}, init={self.init!r}"

    def matrix(self) -> Tensor:
        """The current ``C×C`` weight matrix ``W``."""
        if not self.lu:
            return self.weight
        eye = torch.eye(self.channels, dtype=self.lower.dtype, device=self.lower.device)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign * torch.exp(self.log_scale))
        return self.perm @ lower @ upper

    def _logabsdet(self) -> Tensor:
        if self.lu:
            return self.log_scale.sum()
        return torch.linalg.slogdet(self.weight.double())[1].to(self.weight.dtype)

    def _conv(self, x: Tensor, w: Tensor) -> Tensor:
        return F.conv2d(x, w.reshape(self.channels, self.channels, 1, 1))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        hw = x.shape[2] * x.shape[3]
        return self._conv(x, self.matrix()), x.new_zeros(x.shape[0]) + hw * self._logabsdet()

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        w = self.matrix()
        w_inv = torch.linalg.inv(w.double()).to(w.dtype)
        hw = y.shape[2] * y.shape[3]
        return self._conv(y, w_inv), y.new_zeros(y.shape[0]) - hw * self._logabsdet()
