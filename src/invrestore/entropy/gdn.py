"""Generalized divisive normalization (GDN) and its approximate inverse (IGDN).

Ballé, Laparra & Simoncelli, "Density modeling of images using a generalized normalization transformation"
(ICLR 2016), and "End-to-end optimized image compression" (ICLR 2017)::

    GDN:   y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)
    IGDN:  y_i = x_i · sqrt(β_i + Σ_j γ_ij x_j²)

β > 0 and γ ≥ 0 are kept in range by the reparametrisation of Ballé (PCS 2018, §3), see
:class:`NonNegativeParametrizer`. Shapes: ``(B, C, H, W) -> (B, C, H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.entropy.ops import lower_bound

__all__ = ["GDN", "IGDN", "NonNegativeParametrizer"]


class NonNegativeParametrizer(nn.Module):
    """Maps an unconstrained parameter ``p`` to a value ``v ≥ minimum``.

    ``v = max(p, sqrt(minimum + ε²))² − ε²`` with ``ε = reparam_offset``; :meth:`init` is its inverse,
    ``p = sqrt(max(v + ε², ε²))``. The square makes small values well-conditioned for gradient descent and the
    bound (with a pass-through gradient, :func:`~invrestore.entropy.ops.lower_bound`) keeps ``v`` in range.

    Args:
        minimum: Lower bound of the represented value.
        reparam_offset: ``ε``, a small pedestal that keeps the gradient finite at 0.
    """

    pedestal: Tensor
    bound: Tensor

    def __init__(self, minimum: float = 0.0, reparam_offset: float = 2.0**-18) -> None:
        super().__init__()
        self.minimum = float(minimum)
        self.register_buffer("pedestal", torch.tensor(reparam_offset**2), persistent=False)
        self.register_buffer("bound", torch.tensor((minimum + reparam_offset**2) ** 0.5), persistent=False)

    def init(self, value: Tensor) -> Tensor:
        """The parameter ``p`` that represents ``value``."""
        return torch.sqrt(torch.clamp(value + self.pedestal, min=self.pedestal))

    def forward(self, p: Tensor) -> Tensor:
        return lower_bound(p, self.bound) ** 2 - self.pedestal


class GDN(nn.Module):
    """Generalized divisive normalization (``inverse=False``) or its inverse IGDN (``inverse=True``).

    Args:
        channels: Number of channels ``C``.
        inverse: Multiply by the norm instead of dividing (IGDN, used in synthesis transforms).
        beta_min: Lower bound of β (keeps the division finite).
        gamma_init: γ starts as ``gamma_init · I``.

    Parameters ``beta`` (C,) and ``gamma`` (C, C) hold the reparametrised values; the effective β and γ are the
    properties :attr:`effective_beta` and :attr:`effective_gamma`.
    """

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1) -> None:
        super().__init__()
        self.channels = int(channels)
        self.inverse = bool(inverse)
        self.beta_reparam = NonNegativeParametrizer(minimum=beta_min)
        self.gamma_reparam = NonNegativeParametrizer()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, inverse={self.inverse}"

    @property
    def effective_beta(self) -> Tensor:
        """β, shape ``(C,)``, all ≥ ``beta_min``."""
        out: Tensor = self.beta_reparam(self.beta)
        return out

    @property
    def effective_gamma(self) -> Tensor:
        """γ, shape ``(C, C)``, all ≥ 0; row ``i`` weighs the squared inputs in the norm of channel ``i``."""
        out: Tensor = self.gamma_reparam(self.gamma)
        return out

    def forward(self, x: Tensor) -> Tensor:
        c = self.channels
        norm = F.conv2d(x * x, self.effective_gamma.reshape(c, c, 1, 1), self.effective_beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


class IGDN(GDN):
    """Inverse GDN, ``y_i = x_i · sqrt(β_i + Σ_j γ_ij x_j²)`` (same parameters as :class:`GDN`)."""

    def __init__(self, channels: int, beta_min: float = 1e-6, gamma_init: float = 0.1) -> None:
        super().__init__(channels, inverse=True, beta_min=beta_min, gamma_init=gamma_init)
