"""RealNVP prior ``p_λ(u)`` of selfVAE, built from the invertible blocks of :mod:`invrestore.nn`.

Papers: Dinh et al., "Density estimation using Real NVP", ICLR 2017; used as the top prior of selfVAE
(Gatopoulos & Tomczak, Entropy 2021) in the official srVAE code, ``docs/selfvae.md``.

Architecture for ``num_scales = 2`` on ``(C, h, w)`` (10 couplings; ``ckb`` = checkerboard coupling, ``ch`` =
channel coupling)::

    scale 0:  ckb ckb' ckb  → Squeeze(2, glow) → ch ch' ch (4C ch.) → Unsqueeze
              → AltSqueeze → FactorOut(keep 2C: scale 1) → AltUnsqueeze
    scale 1:  ckb ckb' ckb ckb'                                  (on 2C × h/2 × w/2)
    log p(u) = log N(f(u); 0, I) + log|det ∂f/∂u|

Coupling s/t net: ``DenseNetLayer(C_in, g, steps) → WNConv3×3(C_in + g·steps → 2·C_in)``, split into halves
``(s_raw, t)``, ``log s = γ ⊙ tanh(s_raw)`` with a weight-normalised per-channel scale ``γ`` (init 1).

Deviation from the official code (documented): the official coupling is ``x ← (x + t)·e^{log s}``; the
:class:`~invrestore.nn.AffineCoupling` used here computes ``x ← x·e^{log s} + t``. Both are the same family
(``t' = t·e^{log s}``) with the same log-determinant ``Σ log s``; the masks and their alternation are the
official ones (checkerboard ``(i + j) mod 2``, top-left transformed first; the official channel coupling with
``reverse_mask=False`` transforms the *first* half, i.e. ``reverse=True`` here).

``AltSqueeze`` (added in this family, :mod:`invrestore.nn` has no such block) is RealNVP's alternative 2×2
squeeze: sub-pixels in the order (top-left, bottom-right, top-right, bottom-left), channel ``q·C + c``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from invrestore.models.selfvae.layers import DenseNetLayer, WNConv2d
from invrestore.nn import (
    AffineCoupling,
    FactorOut,
    Inverse,
    InvertibleModule,
    InvertibleSequential,
    Squeeze,
    Unsqueeze,
    squeeze2d,
    standard_normal_log_prob,
    unsqueeze2d,
)

__all__ = ["AltSqueeze", "RealNVPPrior", "Rescale", "StNet"]

# band-squeeze raster index k = 2i + j of the sub-pixel in output band q: TL, BR, TR, BL
_ALT_ORDER = (0, 3, 1, 2)


class AltSqueeze(InvertibleModule):
    """RealNVP's alternative squeeze ``(B,C,H,W) -> (B,4C,H/2,W/2)``, log-det 0.

    Output channel ``q·C + c`` holds sub-pixel ``[TL, BR, TR, BL][q]`` of channel ``c``, so the first ``2C``
    channels are the diagonal sub-pixels (a 2×2-block checkerboard).
    """

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, c = x.shape[:2]
        y = squeeze2d(x, 2, "band")
        bands = y.reshape(b, 4, c, *y.shape[2:])[:, list(_ALT_ORDER)]
        return bands.reshape(y.shape), x.new_zeros(b)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, c4 = y.shape[:2]
        inv = [_ALT_ORDER.index(k) for k in range(4)]
        bands = y.reshape(b, 4, c4 // 4, *y.shape[2:])[:, inv]
        return unsqueeze2d(bands.reshape(y.shape), 2, "band"), y.new_zeros(b)


class Rescale(nn.Module):
    """Weight-normalised per-channel scale ``γ = g·v/|v|`` (init ``γ = 1``): ``(B,C,H,W) -> γ ⊙ x``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(channels, 1, 1))
        self.weight_v = nn.Parameter(torch.ones(channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.weight_g * self.weight_v / self.weight_v.abs() * x


class StNet(nn.Module):
    """Scale/translation net of a prior coupling: ``(B, C_in, h, w) -> (B, 2·C_in, h, w)`` = ``[log s | t]``.

    Args:
        in_channels: ``C_in`` (the conditioning part).
        out_channels: must be ``2·C_in`` (``log s`` and ``t`` of the transformed part).
        growth_rate: dense growth rate ``g`` (official 64).
        steps: dense steps (official 5).
    """

    def __init__(self, in_channels: int, out_channels: int, growth_rate: int = 64, steps: int = 5) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"StNet needs an even number of outputs, got {out_channels}")
        self.dense = DenseNetLayer(in_channels, growth_rate, steps)
        self.conv = WNConv2d(self.dense.out_channels, out_channels, kernel_size=3, padding=1)
        self.rescale = Rescale(out_channels // 2)

    def forward(self, x: Tensor) -> Tensor:
        s, t = self.conv(self.dense(x)).chunk(2, dim=1)
        return torch.cat([self.rescale(torch.tanh(s)), t], dim=1)


class RealNVPPrior(nn.Module):
    """RealNVP density ``p_λ(u)`` over latents ``(B, C, h, w)`` (see the module docstring).

    Args:
        shape: latent shape ``(C, h, w)`` (official ``(16, 8, 8)``); ``h, w`` divisible by ``2^(num_scales−1)``.
        growth_rate: s/t-net growth rate.
        steps: s/t-net dense steps.
        num_scales: number of scales (official 2).
    """

    def __init__(
        self, shape: tuple[int, int, int] = (16, 8, 8), growth_rate: int = 64, steps: int = 5, num_scales: int = 2
    ) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.growth_rate = growth_rate
        self.steps = steps
        self.flow = self._build(shape[0], 0, num_scales)

    def _coupling(self, channels: int, mask: str, reverse: bool) -> AffineCoupling:
        def subnet(i: int, o: int) -> nn.Module:
            return StNet(i, o, self.growth_rate, self.steps)

        return AffineCoupling(
            channels,
            subnet=subnet,
            scale_fn="exp",  # the subnet already returns log s = γ·tanh(·)
            mask=mask,  # type: ignore[arg-type]
            reverse=reverse,
            layout="halves",
        )

    def _build(self, c: int, idx: int, num_scales: int) -> InvertibleSequential:
        last = idx == num_scales - 1
        blocks: list[InvertibleModule] = [self._coupling(c, "checkerboard", r) for r in (False, True, False)]
        if last:
            blocks.append(self._coupling(c, "checkerboard", True))
            return InvertibleSequential(*blocks)
        blocks.append(Squeeze(2, "glow"))
        blocks.extend(self._coupling(4 * c, "channel", r) for r in (True, False, True))
        blocks.append(Unsqueeze(2, "glow"))
        blocks.append(AltSqueeze())
        blocks.append(FactorOut(2 * c, self._build(2 * c, idx + 1, num_scales)))
        blocks.append(Inverse(AltSqueeze()))
        return InvertibleSequential(*blocks)

    def forward(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """Density direction ``u -> (v, log|det ∂v/∂u|)``, ``(B,C,h,w) -> ((B,C,h,w), (B,))``."""
        return self.flow(u)

    def log_prob(self, u: Tensor) -> Tensor:
        """``log p_λ(u) = log N(f(u); 0, I) + log|det ∂f/∂u|``, ``(B, C, h, w) -> (B,)``."""
        v, logdet = self.flow(u)
        return standard_normal_log_prob(v) + logdet

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` latents ``u = f⁻¹(v)``, ``v ~ N(0, I)``: returns ``(n, C, h, w)``."""
        p = next(self.parameters())
        v = torch.randn((n, *self.shape), generator=generator, dtype=p.dtype, device=p.device)
        u, _ = self.flow.inverse(v)
        return u
