"""IRAE: the Invertible Restoring AutoEncoder, ``IRAE = G₂⁻¹ ∘ G₁`` with two Glows.

Paper: "Invertibility is Indispensable: Invertible Restoring AutoEncoder" (IRAE), §4 and §5.1. Official code:
``Lillian1082/IRAE_pytorch`` (``Model/IRAE.py``, ``Model/glow.py``); what it really does is written down in
``docs/restoration.md``, which this module follows (nothing was copied).

.. code-block:: none

    y (B,3,H,W) ──► G₁ ──► z (B,3,H,W) ──► G₂⁻¹ ──► x̂ (B,3,H,W)          IRAE(y)   = G₂⁻¹(G₁(y))
                                                                          IRAE⁻¹(x) = G₁⁻¹(G₂(x))

    G (one Glow, L levels, K steps per level; n₀ = C, n_{i+1} = 2·n_i):
    x ─► x − 0.5 ─► level 0
    level i:  Squeeze 2×2 ("glow" order, channel c·4 + 2·dy + dx)   (n_i, h, w) -> (4n_i, h/2, w/2)
              K × FlowStep(4n_i)
              split: channels [0, 2n_i) ─► level i+1 ; channels [2n_i, 4n_i) = z_{i+1} (factored out)
              (the last level keeps all 4n_i channels: [x_top | z_L])
              Unsqueeze 2×2 (so the packed latent has the image's shape)
    FlowStep(C) = ActNorm(C) ─► InvConv1x1(C) ─► AffineCoupling(C)

Latents. The official Glow returns the list ``[z₁ (2C,H/2,W/2), z₂ (4C,H/4,W/4), …, z_L, x_top (2^L·C, H/2^L,
W/2^L)]``; here the flow is shape-preserving (``FactorOut`` keeps the factored-out parts in place, and every level
ends with an unsqueeze), so ``G(x)`` is one ``(B, C, H, W)`` tensor holding the same numbers.
:meth:`IRAEGlow.latents` unpacks it into the official list and :meth:`IRAEGlow.pack_latents` packs it back. The
decoder consumes the same packed tensor, so ``IRAE`` needs no latent transform in between (there is none in the
official code either). H and W must be multiples of ``2^L``.

Blocks (all from :mod:`invrestore.nn`):

- **ActNorm** ``z = (x − b)/s``; data-initialised on the first training-mode forward (``b`` = channel mean,
  ``s`` = biased std + 1e-6).
- **InvConv1x1** plain ``C×C`` weight, initialised as the Q of a QR decomposition of a Gaussian matrix
  (``lu=True`` offers Glow's LU form; the official code keeps ``lu_factorize=False``).
- **AffineCoupling** ``[x_a | x_b] = chunk(x, 2)``; ``h = NN(x_b)``; ``t = h[:, 0::2]``,
  ``s = σ(h[:, 1::2] + 2)``; ``z_a = s·x_a + t``, ``z_b = x_b`` (``reverse=True``: the *second* half conditions,
  ``layout="interleaved"``, ``scale_fn="glow"``). ``NN`` = ``GlowSubnet(variant="irae", hidden=width)``:
  3×3 conv (no bias) → ActNorm → ReLU → 1×1 conv with ``padding=1`` (no bias) → ActNorm → ReLU → 3×3 conv with
  ``padding=0`` (zero-initialised, bias) × ``exp(log_scale_factor)``. The scale is bounded only by the sigmoid,
  ``s ∈ (0, 1)``; at initialisation ``s = σ(2) ≈ 0.881`` (the layer is not the identity). The official
  ``clamp(±1e9)`` is a no-op and is left out.

Reproduced quirks of the official code (``docs/restoration.md``):

- The decoder's step-level ActNorms only ever run in the inverse direction, so they are never data-initialised:
  they start at the identity and are learned from there. Here they are built with ``data_init=False``, which
  keeps that true even if :meth:`IRAE.inverse` (``G₂`` forward) runs in training mode. The ActNorms *inside*
  the decoder's coupling networks are data-initialised on the first batch (the coupling inverse runs ``NN``
  forward), as in the official code.
- No log-determinant or likelihood is used by the restoration loss; the blocks still compute it (it is cheap)
  and :class:`IRAEGlow` returns it.

Parameter count. Per flow step on ``C`` channels with width ``w``:
``C² + 4C + 9·(C/2)·w + 9·w·C + w² + 4w`` (ActNorm 2C, 1×1 conv C², NN 9·(C/2)·w + 2w + w² + 2w + 9wC + C,
``log_scale_factor`` C). The paper preset (C = 3, K = 16, L = 2, w = 64) has 650,752 per Glow and
**1,301,504** for IRAE. The official definition has **1,308,128**: it also builds a ``Split.gaussianize`` module
(3×3 conv from ``2n_i`` to ``4n_i`` channels with bias, plus a ``(4n_i, 1, 1)`` log-scale) at every level of both
Glows and never calls it (6,624 dead parameters). ``unused_gaussianize=True`` adds those dead parameters (never
used in forward or inverse) so the total equals the official 1,308,128; the default leaves them out. The paper's
"1.33×10⁶" matches neither (−1.6 % from the official count); no K/L/LU variant reproduces it, and the spec
suspects the missing GDN/GAE model file.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError, ScaleError
from invrestore.imageops import pad_to_multiple
from invrestore.models.registry import register_model
from invrestore.nn import (
    ActNorm,
    AffineCoupling,
    FactorOut,
    InvConv1x1,
    InvertibleModule,
    InvertibleSequential,
    Squeeze,
    Unsqueeze,
    squeeze2d,
    subnet_factory,
    unsqueeze2d,
)

__all__ = ["IRAE", "FlowStep", "IRAEGlow", "flow_step_parameter_count", "pad_to_multiple"]


def flow_step_parameter_count(channels: int, width: int) -> int:
    """Parameters of one plain (non-LU) :class:`FlowStep` on ``channels`` channels with coupling width ``width``."""
    c, w = channels, width
    return c * c + 4 * c + 9 * (c // 2) * w + 9 * w * c + w * w + 4 * w


class FlowStep(InvertibleModule):
    """One Glow step of IRAE: ActNorm → InvConv1x1 → AffineCoupling. ``(B, C, H, W)`` both ways.

    Paper: Kingma & Dhariwal, "Glow", NeurIPS 2018, §3; IRAE §4.4. See the module docstring for each block.
    The inverse runs the three blocks in reverse order.

    Args:
        channels: ``C`` (even).
        width: hidden width of the coupling network (64 in IRAE).
        lu: LU-parameterised 1×1 convolution (the official code uses the plain one).
        actnorm_data_init: data-initialise the step's ActNorm (``False`` for IRAE's decoder, see the module
            docstring); the coupling network's inner ActNorms are always data-initialised.
    """

    def __init__(self, channels: int, width: int = 64, lu: bool = False, actnorm_data_init: bool = True) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels, data_init=actnorm_data_init)
        self.invconv = InvConv1x1(channels, lu=lu, init="orthogonal")
        self.coupling = AffineCoupling(
            channels,
            subnet=subnet_factory("glow", hidden=width, variant="irae"),
            scale_fn="glow",
            reverse=True,
            layout="interleaved",
        )

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, ld0 = self.actnorm(x)
        x, ld1 = self.invconv(x)
        x, ld2 = self.coupling(x)
        return x, ld0 + ld1 + ld2

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y, ld2 = self.coupling.inverse(y)
        y, ld1 = self.invconv.inverse(y)
        y, ld0 = self.actnorm.inverse(y)
        return y, ld0 + ld1 + ld2


class _UnusedGaussianize(nn.Module):
    """The official ``Split.gaussianize`` parameters (3×3 conv ``C/2 → C`` with bias, ``(C, 1, 1)`` log-scale).

    The official code builds it at every level and never calls it; it exists only so that
    ``IRAE(unused_gaussianize=True)`` has the official parameter count. It has no forward.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Conv2d(channels // 2, channels, 3, padding=1)
        self.log_scale_factor = nn.Parameter(torch.zeros(channels, 1, 1))
        nn.init.zeros_(self.net.weight)
        assert self.net.bias is not None
        nn.init.zeros_(self.net.bias)


class IRAEGlow(InvertibleModule):
    """IRAE's Glow ``G``: ``(B, C, H, W) in [0, 1] -> packed latent (B, C, H, W)`` and back.

    See the module docstring for the architecture, the latent layout and the parameter count.

    Args:
        in_channels: image channels ``C``.
        width: coupling-network width (64).
        depth: flow steps per level ``K`` (16).
        levels: number of levels ``L`` (2); H and W must be multiples of ``2^L``.
        lu: LU-parameterised 1×1 convolutions.
        step_actnorm_data_init: data-initialise the step-level ActNorms (``False`` for IRAE's decoder ``G₂``).
        unused_gaussianize: also hold the official, never-used ``Split.gaussianize`` parameters.
        memory_efficient: recompute activations by inversion in backward (see ``docs/invertible.md`` §4).
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 64,
        depth: int = 16,
        levels: int = 2,
        lu: bool = False,
        step_actnorm_data_init: bool = True,
        unused_gaussianize: bool = False,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        if levels < 1 or depth < 0 or width < 1:
            raise ConfigError(
                f"IRAE needs levels >= 1, depth >= 0 and width >= 1, got levels={levels}, depth={depth}, width={width}"
            )
        self.in_channels = in_channels
        self.levels = levels
        self.depth = depth
        self.width = width

        def level(i: int, n: int) -> InvertibleSequential:
            blocks: list[InvertibleModule] = [Squeeze(2, "glow")]
            blocks += [FlowStep(4 * n, width, lu, step_actnorm_data_init) for _ in range(depth)]
            if i < levels - 1:
                blocks.append(FactorOut(2 * n, level(i + 1, 2 * n)))
            blocks.append(Unsqueeze(2, "glow"))
            return InvertibleSequential(*blocks)

        self.flow = level(0, in_channels)
        self.flow.memory_efficient = memory_efficient
        self.unused_gaussianize: nn.ModuleList | None = None
        if unused_gaussianize:
            self.unused_gaussianize = nn.ModuleList([_UnusedGaussianize(4 * in_channels * 2**i) for i in range(levels)])

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this (``2^L``)."""
        return 2**self.levels

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, width={self.width}, depth={self.depth}, levels={self.levels}"

    def _check(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ScaleError(f"H×W = {h}×{w} must be multiples of 2^L = {self.multiple}; pad first")

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x (B, C, H, W) -> (z, logdet)``: preprocess ``x − 0.5``, then the flow; ``z`` is packed."""
        self._check(x)
        return self.flow(x - 0.5)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``z (B, C, H, W) -> (x, logdet)``: the inverse flow, then ``+ 0.5``."""
        self._check(y)
        x, logdet = self.flow.inverse(y)
        return x + 0.5, logdet

    def latents(self, z: Tensor) -> list[Tensor]:
        """Unpack ``z`` into the official list ``[z₁, …, z_L, x_top]`` (``z_i``: ``(B, 2^i·C, H/2^i, W/2^i)``,
        ``x_top``: ``(B, 2^L·C, H/2^L, W/2^L)``)."""
        self._check(z)
        out: list[Tensor] = []
        h = z
        for _ in range(self.levels):
            s = squeeze2d(h, 2, "glow")
            half = s.shape[1] // 2
            out.append(s[:, half:])
            h = s[:, :half]
        return [*out, h]

    def pack_latents(self, zs: list[Tensor]) -> Tensor:
        """Inverse of :meth:`latents`: ``[z₁, …, z_L, x_top] -> z (B, C, H, W)``."""
        if len(zs) != self.levels + 1:
            raise ValueError(f"expected {self.levels + 1} latents, got {len(zs)}")
        h = zs[-1]
        for i in reversed(range(self.levels)):
            h = unsqueeze2d(torch.cat([h, zs[i]], dim=1), 2, "glow")
        return h


class IRAE(nn.Module):
    """Invertible Restoring AutoEncoder ``x̂ = G₂⁻¹(G₁(y))``: ``(B, C, H, W) -> (B, C, H, W)``, invertible.

    ``G₁`` (``encoder``) and ``G₂`` (``decoder``) are independently parameterised :class:`IRAEGlow` stacks of the
    same shape. The paper preset is ``K = 16``, ``L = 2``, width 64 (registered as ``irae``). See the module
    docstring for the architecture, the quirks reproduced and the parameter count (1,301,504; 1,308,128 with
    ``unused_gaussianize=True``, the official count; the paper says 1.33M).

    Data-dependent initialisation: the first training-mode call of :meth:`forward` initialises the encoder's
    ActNorms and the decoder's coupling-network ActNorms (use :func:`invrestore.nn.data_initialize` on a batch
    to do it explicitly). Invertibility then holds to float32 precision: ``inverse(forward(y)) ≈ y``.

    Args:
        in_channels: image channels ``C``.
        width: coupling-network width.
        depth: flow steps per level ``K``.
        levels: levels ``L``; H and W must be multiples of ``2^L`` (:meth:`restore` pads other sizes).
        lu: LU-parameterised 1×1 convolutions (the official code: plain).
        unused_gaussianize: hold the official, never-used ``Split.gaussianize`` parameters (official count).
        memory_efficient: recompute activations by inversion in backward.
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 64,
        depth: int = 16,
        levels: int = 2,
        lu: bool = False,
        unused_gaussianize: bool = False,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.levels = levels

        def glow(step_actnorm_data_init: bool) -> IRAEGlow:
            return IRAEGlow(
                in_channels=in_channels,
                width=width,
                depth=depth,
                levels=levels,
                lu=lu,
                step_actnorm_data_init=step_actnorm_data_init,
                unused_gaussianize=unused_gaussianize,
                memory_efficient=memory_efficient,
            )

        self.encoder = glow(True)
        self.decoder = glow(False)

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this (``2^L``) for :meth:`forward` and :meth:`inverse`."""
        return self.encoder.multiple

    def encode(self, y: Tensor) -> Tensor:
        """``G₁(y)``: the packed latent ``(B, C, H, W)`` of a degraded image."""
        return self.encoder(y)[0]

    def decode(self, z: Tensor) -> Tensor:
        """``G₂⁻¹(z)``: the restored image from a packed latent."""
        return self.decoder.inverse(z)[0]

    def forward(self, y: Tensor) -> Tensor:
        """Restore: ``y (B, C, H, W) -> x̂ = G₂⁻¹(G₁(y))`` (not clamped; H, W multiples of ``2^L``)."""
        return self.decode(self.encode(y))

    def inverse(self, x: Tensor) -> Tensor:
        """The exact inverse ``IRAE⁻¹(x) = G₁⁻¹(G₂(x))`` (the official ``IRAE.inverse``)."""
        return self.encoder.inverse(self.decoder(x)[0])[0]

    @torch.no_grad()
    def restore(self, y: Tensor, pad_mode: str = "reflect") -> Tensor:
        """Inference on any size: pad bottom/right to multiples of ``2^L``, restore, crop back, clamp to [0, 1].

        Args:
            y: degraded images ``(B, C, H, W)`` or one image ``(C, H, W)``.
            pad_mode: ``"reflect"`` (default), ``"replicate"`` or ``"constant"``.
        """
        single = y.ndim == 3
        if single:
            y = y.unsqueeze(0)
        h, w = y.shape[-2:]
        out = self(pad_to_multiple(y, self.multiple, pad_mode))[..., :h, :w].clamp(0, 1)
        return out[0] if single else out


register_model(
    "irae",
    IRAE,
    family="irae",
    trainer="irae",
    params=1_301_504,
    description="IRAE (K=16, L=2, width 64)",
)
register_model(
    "irae-denoise25",
    IRAE,
    family="irae",
    trainer="irae",
    params=1_301_504,
    description="IRAE (K=16, L=2, width 64) trained here for σ = 25 denoising (CPU budget)",
    pretrained="irae-denoise25.safetensors",
    task="denoise",
)
