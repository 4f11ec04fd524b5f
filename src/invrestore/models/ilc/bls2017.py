"""The factorized-prior teacher of ILC: Ballé, Laparra & Simoncelli, "End-to-end optimized image compression"
(ICLR 2017), with the deep factorized entropy model of Ballé et al. (ICLR 2018), as in TFC ``examples/bls2017.py``.

::

    x ─► conv 9×9/4 ─► GDN ─► conv 5×5/2 ─► GDN ─► conv 5×5/2 (no bias) ─► y ─┐
                                                                              Q + EntropyBottleneck
    x̂ ◄─ conv⊤ 9×9/4 ◄─ IGDN ◄─ conv⊤ 5×5/2 ◄─ IGDN ◄─ conv⊤ 5×5/2 ◄──────── ŷ ─┘

Shapes: ``x`` ``(B, 3, H, W)`` in [0, 1] → ``y`` ``(B, N, H/16, W/16)`` → ``x̂`` ``(B, 3, H, W)``.

Padding ("same", as TFC's ``same_zeros``): a strided analysis convolution with kernel ``k`` and stride ``s`` pads
``k // 2`` zeros on each side, so output sample ``i`` is centred on input sample ``s·i`` (``⌈H/s⌉`` outputs); the
synthesis transposed convolutions use ``padding = k // 2`` and ``output_padding = s − 1`` (exactly ``s·H``
outputs, the adjoint of the analysis layout). Inputs whose sides are not multiples of 16 are padded centred
(replicate) and the output is cropped back; the container stores the original size and the padding.

A second topology, ``topology="bmshj2018-factorized"``, is the factorized-prior model of Ballé, Minnen, Singh,
Hwang & Johnston (ICLR 2018) as CompressAI builds it (``bmshj2018-factorized``): four 5×5 stride-2
convolutions (all with biases) and three GDNs, with ``M`` latent channels after ``N`` hidden ones::

    x ─► conv 5×5/2 ─► GDN ─► conv 5×5/2 ─► GDN ─► conv 5×5/2 ─► GDN ─► conv 5×5/2 (N→M) ─► y (M channels)
    x̂ ◄─ conv⊤ 5×5/2 ◄─ IGDN ◄─ conv⊤ 5×5/2 ◄─ IGDN ◄─ conv⊤ 5×5/2 ◄─ IGDN ◄─ conv⊤ 5×5/2 (M→N) ◄─ ŷ

with the same padding conventions (CompressAI's ``conv``/``deconv`` use ``k // 2`` and ``output_padding = s − 1``
too). CompressAI's published checkpoints use ``N = 128, M = 192`` (qualities 1–5) and ``N = 192, M = 320``
(6–8); :func:`invrestore.models.ilc.compressai.load_compressai_teacher` loads them into this topology.
"""

from __future__ import annotations

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
from invrestore.entropy.gdn import GDN, IGDN
from invrestore.models.registry import register_model

__all__ = ["BLS2017", "TOPOLOGIES"]

#: The transform topologies :class:`BLS2017` can build.
TOPOLOGIES = ("bls2017", "bmshj2018-factorized")


def _conv(c_in: int, c_out: int, kernel: int, stride: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=bias)


def _deconv(c_in: int, c_out: int, kernel: int, stride: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, output_padding=stride - 1)


class BLS2017(LearnedCodec):
    """Ballé 2017 transforms + factorized entropy model (see the module docstring for the diagram).

    Args:
        N: Number of filters of every hidden layer (and of the latent ``y`` in the ``bls2017`` topology; 128 in
            TFC, 256 in ILC).
        name: Model id written into compressed files (default ``bls2017-N``, or ``bmshj2018-factorized-N-M``;
            shipped weights have their own).
        M: Latent channels of the ``bmshj2018-factorized`` topology (default ``N``); the ``bls2017`` topology
            codes ``N`` channels (``M`` must be ``None`` or ``N``).
        topology: ``"bls2017"`` (9×9/4, 5×5/2, 5×5/2 analysis; the default) or ``"bmshj2018-factorized"``
            (four 5×5/2 convolutions, CompressAI's layout).

    Attributes:
        latent_channels: Channels of the coded latent ``y`` (``N``, or ``M`` for ``bmshj2018-factorized``).

    Use ``forward`` to train (loss ``λ·255²·MSE + bpp``, ``aux_loss`` optional), then :meth:`update` once,
    then :meth:`compress` / :meth:`decompress`.
    """

    downsampling_factor = 16

    def __init__(self, N: int = 128, name: str | None = None, M: int | None = None, topology: str = "bls2017") -> None:
        super().__init__()
        if N < 1:
            raise ValueError(f"N must be ≥ 1, got {N}")
        if topology not in TOPOLOGIES:
            raise ValueError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")
        self.N = int(N)
        self.topology = topology
        if topology == "bls2017":
            if M is not None and M != N:
                raise ValueError(f"the bls2017 topology codes N = {N} channels; M = {M} needs bmshj2018-factorized")
            self.latent_channels = self.N
            self.name = name or f"bls2017-{self.N}"
            self.g_a = nn.Sequential(
                _conv(3, N, 9, 4), GDN(N), _conv(N, N, 5, 2), GDN(N), _conv(N, N, 5, 2, bias=False)
            )
            self.g_s = nn.Sequential(_deconv(N, N, 5, 2), IGDN(N), _deconv(N, N, 5, 2), IGDN(N), _deconv(N, 3, 9, 4))
        else:
            M = self.N if M is None else int(M)
            if M < 1:
                raise ValueError(f"M must be ≥ 1, got {M}")
            self.latent_channels = M
            self.name = name or f"bmshj2018-factorized-{self.N}-{M}"
            self.g_a = nn.Sequential(
                _conv(3, N, 5, 2), GDN(N), _conv(N, N, 5, 2), GDN(N), _conv(N, N, 5, 2), GDN(N), _conv(N, M, 5, 2)
            )
            self.g_s = nn.Sequential(
                _deconv(M, N, 5, 2), IGDN(N), _deconv(N, N, 5, 2), IGDN(N), _deconv(N, N, 5, 2), IGDN(N),
                _deconv(N, 3, 5, 2),
            )  # fmt: skip
        self.entropy_bottleneck = EntropyBottleneck(self.latent_channels)

    @property
    def M(self) -> int:
        """Latent channels (``N`` for the ``bls2017`` topology)."""
        return self.latent_channels

    def codec_config(self) -> dict[str, Any]:
        if self.topology == "bls2017":
            return {"name": self.name, "family": "bls2017", "N": self.N}  # unchanged: shipped files hash this
        return {"name": self.name, "family": "bls2017", "topology": self.topology, "N": self.N, "M": self.M}

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> CodecOutput:
        """Training / estimation pass. ``x`` ``(B, 3, H, W)``; any size (padded centred, cropped back).

        ``generator`` draws the training noise (train mode only).
        """
        padding = centered_padding(x.shape[-2], x.shape[-1], self.downsampling_factor)
        y = self.g_a(pad_centered(x, padding))
        y_hat, lik = self.entropy_bottleneck(y, generator=generator)
        x_hat = crop_padding(self.g_s(y_hat), padding)
        return CodecOutput(x_hat=x_hat, likelihoods={"y": lik})

    def encode_latent(self, x: Tensor) -> Tensor:
        return self.g_a(x)

    def decode_latent(self, y_hat: Tensor) -> Tensor:
        return self.g_s(y_hat)

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """Shape ``(latent_channels, h, w)`` of ``y`` for an ``H×W`` image (after centred padding)."""
        f = self.downsampling_factor
        return self.latent_channels, -(-height // f), -(-width // f)


# The registered codecs of this topology (``bls2017-N`` for other ``N`` is built by
# :func:`invrestore.models.ilc.loading.create_codec` for decoding; training presets name a registered model).
register_model(
    "bls2017-8", BLS2017, family="ilc", trainer="bls2017", kwargs={"N": 8}, params=11_099,
    description="Tiny Ballé 2017 codec, N=8, for tests and smoke runs (teacher of ilc-tiny)",
)  # fmt: skip
register_model(
    "bls2017-128", BLS2017, family="ilc", trainer="bls2017", kwargs={"N": 128}, params=1_774_979,
    description="Ballé 2017 factorized-prior codec, N=128 (TFC default; ILC teacher topology)",
)  # fmt: skip
register_model(
    "bls2017-256", BLS2017, family="ilc", trainer="bls2017", kwargs={"N": 256}, params=6_957_827,
    description="Ballé 2017 factorized-prior codec, N=256 (the ILC paper's teacher)",
)  # fmt: skip
register_model(
    "bmshj2018-factorized-128-192", BLS2017, family="ilc", trainer="bls2017",
    kwargs={"N": 128, "M": 192, "topology": "bmshj2018-factorized"}, params=2_998_147,
    description="Ballé 2018 factorized prior in CompressAI's layout (bmshj2018-factorized q1–5), N=128, M=192",
)  # fmt: skip
register_model(
    "bmshj2018-factorized-192-320", BLS2017, family="ilc", trainer="bls2017",
    kwargs={"N": 192, "M": 320, "topology": "bmshj2018-factorized"}, params=7_030_531,
    description="Ballé 2018 factorized prior in CompressAI's layout (bmshj2018-factorized q6–8), N=192, M=320",
)  # fmt: skip
# The shipped CPU-trained teachers (``benchmarks/compression_cpu_experiment.sh``; cards in ``invrestore/weights``),
# trained at ``QUALITY_LAMBDAS[n]`` of :mod:`invrestore.models.ilc.model`; ``ilc-small-q{n}`` is distilled from each.
register_model(
    "bls2017-128-q1", BLS2017, family="ilc", trainer="bls2017", kwargs={"N": 128, "name": "bls2017-128-q1"},
    params=1_774_979, pretrained="bls2017-128-q1.safetensors",
    description="Ballé 2017 codec N=128 trained on CPU at λ = 0.0067 (teacher of ilc-small-q1)",
)  # fmt: skip
register_model(
    "bls2017-128-q4", BLS2017, family="ilc", trainer="bls2017", kwargs={"N": 128, "name": "bls2017-128-q4"},
    params=1_774_979, pretrained="bls2017-128-q4.safetensors",
    description="Ballé 2017 codec N=128 trained on CPU at λ = 0.025 (teacher of ilc-small-q4)",
)  # fmt: skip
