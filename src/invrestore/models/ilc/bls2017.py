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

__all__ = ["BLS2017"]


def _conv(c_in: int, c_out: int, kernel: int, stride: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=bias)


def _deconv(c_in: int, c_out: int, kernel: int, stride: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, output_padding=stride - 1)


class BLS2017(LearnedCodec):
    """Ballé 2017 transforms + factorized entropy model (see the module docstring for the diagram).

    Args:
        N: Number of filters of every hidden layer and of the latent ``y`` (128 in TFC, 256 in ILC).
        name: Model id written into compressed files (default ``bls2017-N``; shipped weights have their own).

    Use ``forward`` to train (loss ``λ·255²·MSE + bpp``, ``aux_loss`` optional), then :meth:`update` once,
    then :meth:`compress` / :meth:`decompress`.
    """

    downsampling_factor = 16

    def __init__(self, N: int = 128, name: str | None = None) -> None:
        super().__init__()
        if N < 1:
            raise ValueError(f"N must be ≥ 1, got {N}")
        self.N = int(N)
        self.name = name or f"bls2017-{self.N}"
        self.g_a = nn.Sequential(_conv(3, N, 9, 4), GDN(N), _conv(N, N, 5, 2), GDN(N), _conv(N, N, 5, 2, bias=False))
        self.g_s = nn.Sequential(_deconv(N, N, 5, 2), IGDN(N), _deconv(N, N, 5, 2), IGDN(N), _deconv(N, 3, 9, 4))
        self.entropy_bottleneck = EntropyBottleneck(N)

    def codec_config(self) -> dict[str, Any]:
        return {"name": self.name, "family": "bls2017", "N": self.N}

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
        """Shape ``(N, h, w)`` of ``y`` for an ``H×W`` image (after centred padding)."""
        f = self.downsampling_factor
        return self.N, -(-height // f), -(-width // f)


@register_model("bls2017-128", "ilc", "Ballé 2017 factorized-prior codec, N=128 (TFC default; ILC teacher topology)")
def bls2017_128(**kw: Any) -> BLS2017:
    return BLS2017(**{"N": 128, **kw})


@register_model("bls2017-256", "ilc", "Ballé 2017 factorized-prior codec, N=256 (the ILC paper's teacher)")
def bls2017_256(**kw: Any) -> BLS2017:
    return BLS2017(**{"N": 256, **kw})
