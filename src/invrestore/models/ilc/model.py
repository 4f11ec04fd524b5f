"""ILC: Invertible Lossy Compression (Wang, Xiao, Liu, Tian & Liu, 2020), the codec.

An invertible encoding module (IEM) ``f`` replaces the analysis/synthesis pair of an auto-encoder codec::

    x ─► [Haar ×L₁ ─► InvConv1x1 ─► K₁ couplings] ─► [Haar ─► InvConv1x1 ─► K₂ couplings] ─► … ─► (y | z)
                                                                                                 │
    ŷ = Q(y) ─► EntropyBottleneck (only y is coded);  z is dropped and modelled as N(0, I)       │
    x̂ = f⁻¹(ŷ, z = 0)  ◄──────────────────────────────────────────────────────────────────────────┘

Shapes (paper sizes, ``docs/irn-extensions.md``): ``x`` ``(B, 3, H, W)`` in [0, 1] → stage 1 applies two Haar
levels (48 channels at ``H/4``), stages 2 and 3 one each (192 at ``H/8``, 768 at ``H/16``) →
``y`` = the first 256 channels (the teacher's latent channels, so knowledge distillation is channel-wise),
``z`` = the other 512. Haar puts low frequencies first, so ``y`` starts from the low-pass channels.

A *coupling layer* is Eq. 1 of the paper, two affine half-steps on the ``1:2`` split ``h = (h₁ | h₂)``
(``h₁`` = the first ``C // 3`` channels)::

    h₁ ← h₁ ⊙ exp(α·s(ψ(h₂))) + φ(h₂)          (AffineCoupling, reverse=True)
    h₂ ← h₂ ⊙ exp(α·s(ρ(h₁))) + η(h₁)          (AffineCoupling, reverse=False)

with four separate "bottleneck" subnets ψ, φ, ρ, η (``K×K → ReLU → 1×1 → ReLU → K×K``, last layer zero, so a new
coupling is the identity) and the clamp ``s(t) = 2σ(t) − 1`` with ``α = 1`` (IRN's ``InvBlockExp``; the paper
only says ``α`` acts "as a clamp"). Every stage's invertible 1×1 convolution starts at the identity.

Quantization is the entropy model's single quantizer ``round(y − m) + m`` (channel medians ``m``): the rate uses
uniform noise in training, the distortion path uses the same rounding as :meth:`ILC.compress` through a
straight-through estimator (:meth:`~invrestore.entropy.EntropyBottleneck.quantize_ste`), and decoding runs
``f⁻¹(ŷ, 0)``. So ``decompress(compress(x))`` equals ``forward(x).x_hat`` in eval mode (clamped to [0, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from invrestore.entropy.bottleneck import EntropyBottleneck
from invrestore.entropy.codec import (
    CodecOutput,
    LearnedCodec,
    centered_padding,
    crop_padding,
    pad_centered,
)
from invrestore.errors import ConfigError
from invrestore.models.registry import register_model
from invrestore.nn import AffineCoupling, BottleneckSubnet, HaarDownsampling, InvConv1x1, InvertibleSequential

__all__ = [
    "ILC",
    "PAPER_RESULTS",
    "PAPER_STAGES",
    "QUALITY_LAMBDAS",
    "SMALL_STAGES",
    "TINY_STAGES",
    "IEMStage",
    "ILCOutput",
    "ScaleShiftSubnet",
    "init_from_teacher",
]

_TABLE_BUFFERS = ("quantized_cdf", "cdf_length", "offset")


@dataclass(frozen=True)
class IEMStage:
    """One stage of the invertible encoding module.

    Attributes:
        haar_levels: Haar levels at the start of the stage (each: ×4 channels, ÷2 in height and width).
        hidden: Width of the bottleneck subnets (Table I: 128, 256, 1024).
        kernel_size: ``K`` of the subnets' outer convolutions (Table I: 5, 3, 3).
        couplings: Number of coupling layers (each = the two half-steps of Eq. 1; the paper does not say,
            we use 2).
    """

    haar_levels: int
    hidden: int
    kernel_size: int
    couplings: int


PAPER_STAGES: tuple[IEMStage, ...] = (
    IEMStage(haar_levels=2, hidden=128, kernel_size=5, couplings=2),
    IEMStage(haar_levels=1, hidden=256, kernel_size=3, couplings=2),
    IEMStage(haar_levels=1, hidden=1024, kernel_size=3, couplings=2),
)
"""Table I of the paper (widths and kernels) with (2, 2, 2) couplings (the paper gives no count)."""


@dataclass(frozen=True)
class ILCOutput(CodecOutput):
    """What :meth:`ILC.forward` returns.

    Attributes:
        x_hat: ``f⁻¹(ŷ_STE, z = 0)`` cropped to the input size ``(B, 3, H, W)`` (not clamped).
        likelihoods: ``{"y": (B, C_y, h, w)}`` — of ``y + U(−½, ½)`` in train mode, of the coded ``ŷ`` in eval mode.
        y: The coded part of ``f(x)`` before quantization ``(B, C_y, h, w)``.
        z: The dropped part ``(B, C_z, h, w)`` (pushed towards N(0, I) in training).
    """

    y: Tensor
    z: Tensor


class ScaleShiftSubnet(nn.Module):
    """Two separate bottleneck subnets (``ψ`` and ``φ``, or ``ρ`` and ``η``) as one coupling subnet.

    Returns ``cat(scale(x), shift(x))`` so that :class:`~invrestore.nn.AffineCoupling` with ``layout="halves"``
    reads the raw log-scale from the first half and the shift from the second. Shapes:
    ``(B, in, H, W) -> (B, out, H, W)`` with ``out`` even.

    Args:
        in_channels: Input channels.
        out_channels: ``2 ×`` the transformed channels.
        hidden: Bottleneck width.
        kernel_size: ``K``.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int, kernel_size: int) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"out_channels must be even, got {out_channels}")
        n = out_channels // 2
        self.scale = BottleneckSubnet(in_channels, n, hidden=hidden, kernel_size=kernel_size)
        self.shift = BottleneckSubnet(in_channels, n, hidden=hidden, kernel_size=kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.scale(x), self.shift(x)], dim=1)


def _subnet_factory(hidden: int, kernel_size: int) -> Any:
    def make(c_in: int, c_out: int) -> nn.Module:
        return ScaleShiftSubnet(c_in, c_out, hidden, kernel_size)

    return make


class ILC(LearnedCodec):
    """Invertible lossy compression codec (see the module docstring for the diagram and conventions).

    Args:
        latent_channels: Channels of the coded latent ``y`` (= the teacher's ``N``; 256 in the paper).
        stages: The IEM stages (default: :data:`PAPER_STAGES`).
        clamp: ``α`` of the coupling clamp ``α·(2σ(t) − 1)``.
        name: Registry name written into the container (e.g. ``"ilc-q3"``).
        in_channels: Image channels (3).
        memory_efficient: Recompute IEM activations by inversion in backward instead of storing them.

    Attributes:
        total_channels: ``in_channels · 4^L`` with ``L`` the total number of Haar levels.
        downsampling_factor: ``2^L``; inputs are padded (centred, replicate) to multiples of it.
    """

    def __init__(
        self,
        latent_channels: int = 256,
        stages: Sequence[IEMStage] = PAPER_STAGES,
        clamp: float = 1.0,
        name: str = "ilc",
        in_channels: int = 3,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        self.stages = tuple(stages)
        if not self.stages:
            raise ValueError("ILC needs at least one stage")
        levels = sum(s.haar_levels for s in self.stages)
        self.total_channels = in_channels * 4**levels
        if not 1 <= latent_channels < self.total_channels:
            raise ValueError(f"latent_channels must be in [1, {self.total_channels}), got {latent_channels}")
        self.name = name
        self.in_channels = int(in_channels)
        self.latent_channels = int(latent_channels)
        self.clamp = float(clamp)
        self.downsampling_factor = 2**levels
        blocks: list[nn.Module] = []
        c = self.in_channels
        for stage in self.stages:
            if stage.haar_levels < 0 or stage.couplings < 0:
                raise ValueError(f"invalid stage {stage}")
            for _ in range(stage.haar_levels):
                blocks.append(HaarDownsampling(c))
                c *= 4
            blocks.append(InvConv1x1(c, lu=False, init="identity"))
            factory = _subnet_factory(stage.hidden, stage.kernel_size)
            split = c // 3
            for _ in range(stage.couplings):
                for reverse in (True, False):  # h1 from h2, then h2 from the new h1 (Eq. 1)
                    blocks.append(
                        AffineCoupling(
                            c, factory, scale_fn="irn", clamp=self.clamp, split=split, reverse=reverse, layout="halves"
                        )
                    )
        self.iem = InvertibleSequential(*blocks, memory_efficient=memory_efficient)  # type: ignore[arg-type]
        self.entropy_bottleneck = EntropyBottleneck(self.latent_channels)

    def codec_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": "ilc",
            "latent_channels": self.latent_channels,
            "in_channels": self.in_channels,
            "clamp": self.clamp,
            "stages": [[s.haar_levels, s.hidden, s.kernel_size, s.couplings] for s in self.stages],
        }

    # -- the invertible transform ------------------------------------------------------------------------------
    def analysis(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(y, z) = f(x)`` for ``x`` ``(B, 3, H, W)`` with ``H, W`` multiples of :attr:`downsampling_factor`."""
        h, _ = self.iem(x)
        return h[:, : self.latent_channels], h[:, self.latent_channels :]

    def synthesis(self, y: Tensor, z: Tensor | None = None) -> Tensor:
        """``f⁻¹(y, z)``; ``z = None`` means the mode ``z = 0``."""
        if z is None:
            b, _, h, w = y.shape
            z = y.new_zeros(b, self.total_channels - self.latent_channels, h, w)
        x, _ = self.iem.inverse(torch.cat([y, z], dim=1))
        return x

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> ILCOutput:
        """Training / estimation pass; ``x`` ``(B, 3, H, W)`` of any size (padded centred, cropped back).

        ``x_hat = f⁻¹(ŷ_STE, 0)`` with ``ŷ_STE`` the coded values (identity gradient); the likelihoods are of
        ``y + U(−½, ½)`` in train mode (``generator`` draws the noise) and of ``ŷ`` in eval mode.
        """
        padding = centered_padding(x.shape[-2], x.shape[-1], self.downsampling_factor)
        y, z = self.analysis(pad_centered(x, padding))
        _, lik = self.entropy_bottleneck(y, generator=generator)
        y_hat = self.entropy_bottleneck.quantize_ste(y)
        x_hat = crop_padding(self.synthesis(y_hat), padding)
        return ILCOutput(x_hat=x_hat, likelihoods={"y": lik}, y=y, z=z)

    @torch.no_grad()
    def reconstruct_unquantized(self, x: Tensor) -> Tensor:
        """The paper's "NQ" diagnostic (Table III): ``f⁻¹(y, 0)`` with ``y`` *not* quantized, cropped, clamped."""
        padding = centered_padding(x.shape[-2], x.shape[-1], self.downsampling_factor)
        y, _ = self.analysis(pad_centered(x, padding))
        return crop_padding(self.synthesis(y), padding).clamp(0.0, 1.0)

    # -- coding --------------------------------------------------------------------------------------------------
    def encode_latent(self, x: Tensor) -> Tensor:
        """``y`` of the padded image (``z`` is dropped: the decoder uses ``z = 0``)."""
        return self.analysis(x)[0]

    def decode_latent(self, y_hat: Tensor) -> Tensor:
        """``f⁻¹(ŷ, z = 0)``."""
        return self.synthesis(y_hat)

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """Shape ``(C_y, h, w)`` of ``y`` for an ``H×W`` image (after centred padding)."""
        f = self.downsampling_factor
        return self.latent_channels, -(-height // f), -(-width // f)


@torch.no_grad()
def init_from_teacher(ilc: ILC, teacher: nn.Module) -> None:
    """Initialise ``ilc``'s entropy model from ``teacher``'s (density parameters and quantiles), as in the paper.

    The coding tables are *not* copied: they are cleared, so :meth:`ILC.update` must be called after training
    (tables copied from the teacher would make ``update()`` a no-op and describe the wrong density).

    Raises:
        ConfigError: the teacher has no ``entropy_bottleneck`` or its channels/filters differ from ``ilc``'s.
    """
    src = getattr(teacher, "entropy_bottleneck", None)
    dst = ilc.entropy_bottleneck
    if not isinstance(src, EntropyBottleneck):
        raise ConfigError(f"the teacher {type(teacher).__name__} has no entropy_bottleneck")
    if (src.channels, src.filters) != (dst.channels, dst.filters):
        raise ConfigError(
            f"the teacher's entropy model has {src.channels} channels and filters {src.filters}; "
            f"{ilc.name} needs {dst.channels} channels and filters {dst.filters}"
        )
    state = {k: v for k, v in src.state_dict().items() if k not in _TABLE_BUFFERS}
    missing, unexpected = dst.load_state_dict(state, strict=False)
    if unexpected or set(missing) != set(_TABLE_BUFFERS):
        raise ConfigError(f"cannot copy the teacher's entropy model (missing {missing}, unexpected {unexpected})")
    device = dst.quantiles.device
    dst._buffers["quantized_cdf"] = torch.zeros(dst.channels, 0, dtype=torch.int32, device=device)
    dst._buffers["cdf_length"] = torch.zeros(dst.channels, dtype=torch.int32, device=device)
    dst._buffers["offset"] = torch.zeros(dst.channels, dtype=torch.int32, device=device)


#: The teacher λ (``λ·255²·MSE + bpp``) of each paper quality point: a starting grid for hitting
#: ILC Table III's 0.30–0.78 bpp (to be verified once the teachers are trained).
QUALITY_LAMBDAS: dict[int, float] = {1: 0.0067, 2: 0.013, 3: 0.018, 4: 0.025, 5: 0.036}
#: ILC's quantized results in Table III of the paper (Kodak, PSNR-RGB dB @ bpp), per quality point.
PAPER_RESULTS: dict[int, tuple[float, float]] = {
    1: (30.59, 0.3047),
    2: (32.36, 0.4917),
    3: (32.59, 0.5295),
    4: (33.40, 0.6197),
    5: (34.62, 0.7798),
}

SMALL_STAGES: tuple[IEMStage, ...] = (
    IEMStage(haar_levels=2, hidden=32, kernel_size=5, couplings=1),
    IEMStage(haar_levels=1, hidden=64, kernel_size=3, couplings=1),
    IEMStage(haar_levels=1, hidden=128, kernel_size=3, couplings=1),
)
"""A CPU-sized IEM (same layout as the paper, narrower subnets, one coupling per stage)."""

TINY_STAGES: tuple[IEMStage, ...] = (
    IEMStage(haar_levels=2, hidden=8, kernel_size=3, couplings=1),
    IEMStage(haar_levels=1, hidden=8, kernel_size=3, couplings=1),
    IEMStage(haar_levels=1, hidden=16, kernel_size=3, couplings=1),
)
"""A tiny IEM for tests and smoke runs (pairs with an ``N = 8`` bls2017 teacher)."""


# The registered ILC models: the five paper quality points (teacher bls2017-256 trained at ``QUALITY_LAMBDAS[q]``),
# the CPU size, the shipped CPU-trained codecs (``benchmarks/compression_cpu_experiment.sh``; cards in
# ``invrestore/weights``; each distilled from ``bls2017-128-q{n}``) and a tiny one for tests.
_PAPER = {"latent_channels": 256, "stages": PAPER_STAGES}
_SMALL = {"latent_channels": 128, "stages": SMALL_STAGES}
_PAPER_DESC = "ILC at paper size (Table I, 2 couplings/stage, y = 256 channels), quality"
register_model(
    "ilc-q1", ILC, family="ilc", trainer="ilc", kwargs={**_PAPER, "name": "ilc-q1"}, params=71_110_064,
    description=f"{_PAPER_DESC} 1: teacher bls2017-256 with λ = 0.0067; paper Kodak 30.59 dB @ 0.3047 bpp",
)  # fmt: skip
register_model(
    "ilc-q2", ILC, family="ilc", trainer="ilc", kwargs={**_PAPER, "name": "ilc-q2"}, params=71_110_064,
    description=f"{_PAPER_DESC} 2: teacher bls2017-256 with λ = 0.013; paper Kodak 32.36 dB @ 0.4917 bpp",
)  # fmt: skip
register_model(
    "ilc-q3", ILC, family="ilc", trainer="ilc", kwargs={**_PAPER, "name": "ilc-q3"}, params=71_110_064,
    description=f"{_PAPER_DESC} 3: teacher bls2017-256 with λ = 0.018; paper Kodak 32.59 dB @ 0.5295 bpp",
)  # fmt: skip
register_model(
    "ilc-q4", ILC, family="ilc", trainer="ilc", kwargs={**_PAPER, "name": "ilc-q4"}, params=71_110_064,
    description=f"{_PAPER_DESC} 4: teacher bls2017-256 with λ = 0.025; paper Kodak 33.4 dB @ 0.6197 bpp",
)  # fmt: skip
register_model(
    "ilc-q5", ILC, family="ilc", trainer="ilc", kwargs={**_PAPER, "name": "ilc-q5"}, params=71_110_064,
    description=f"{_PAPER_DESC} 5: teacher bls2017-256 with λ = 0.036; paper Kodak 34.62 dB @ 0.7798 bpp",
)  # fmt: skip
register_model(
    "ilc-small", ILC, family="ilc", trainer="ilc", kwargs={**_SMALL, "name": "ilc-small"}, params=4_865_616,
    description="CPU-sized ILC (y = 128 channels; teacher bls2017-128)",
)  # fmt: skip
register_model(
    "ilc-small-q1", ILC, family="ilc", trainer="ilc", kwargs={**_SMALL, "name": "ilc-small-q1"}, params=4_865_616,
    pretrained="ilc-small-q1.safetensors",
    description="ilc-small trained on CPU at λ_T = 0.0067, distilled from bls2017-128-q1",
)  # fmt: skip
register_model(
    "ilc-small-q4", ILC, family="ilc", trainer="ilc", kwargs={**_SMALL, "name": "ilc-small-q4"}, params=4_865_616,
    pretrained="ilc-small-q4.safetensors",
    description="ilc-small trained on CPU at λ_T = 0.025, distilled from bls2017-128-q4",
)  # fmt: skip
register_model(
    "ilc-tiny", ILC, family="ilc", trainer="ilc",
    kwargs={"latent_channels": 8, "stages": TINY_STAGES, "name": "ilc-tiny"}, params=1_148_856,
    description="Tiny ILC for tests and smoke runs (y = 8 channels; teacher bls2017-8)",
)  # fmt: skip
