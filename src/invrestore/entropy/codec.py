"""Pieces shared by learned image codecs: the training output, centred padding, rate estimates, file checks.

A codec is a :class:`LearnedCodec` (the two of the library: :class:`~invrestore.models.ilc.BLS2017`, the ILC
teacher, and :class:`~invrestore.models.ilc.ILC`) and follows CompressAI's split:

- ``forward(x) -> CodecOutput`` for training and rate *estimation* (likelihoods of the latent plus uniform noise in
  train mode, of the median-rounded latent in eval mode);
- ``update()`` once after training, to fit the quantiles and build the integer coding tables;
- ``compress(x) -> Bitstream`` and ``decompress(Bitstream) -> x_hat`` for real coding (defined here from the
  subclass's ``encode_latent`` / ``decode_latent`` / ``latent_shape``).

Images of any size are padded *centred* to the codec's multiple (replicate padding; the amounts are stored in
the container) and cropped back after decoding. Real rate is ``8 · len(bits.to_bytes()) / (H W)``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.entropy.bitstream import Bitstream
from invrestore.entropy.bottleneck import EntropyBottleneck
from invrestore.errors import ImageShapeError, InvalidBitstream

__all__ = [
    "MAX_DECODE_PIXELS",
    "CodecOutput",
    "LearnedCodec",
    "centered_padding",
    "config_hash",
    "crop_padding",
    "estimated_bits",
    "estimated_bpp",
    "pad_centered",
]

MAX_DECODE_PIXELS = 1 << 26
"""Default cap on ``H·W`` a decoder accepts (about 67 megapixels), so a crafted file cannot demand huge memory."""


@dataclass(frozen=True)
class CodecOutput:
    """What a codec's ``forward`` returns.

    Attributes:
        x_hat: Reconstruction ``(B, 3, H, W)`` (not clamped).
        likelihoods: Per-latent likelihoods, e.g. ``{"y": (B, C, h, w)}``; ``−Σ log₂`` is the estimated rate.
    """

    x_hat: Tensor
    likelihoods: dict[str, Tensor]


def centered_padding(height: int, width: int, multiple: int) -> tuple[int, int, int, int]:
    """Padding ``(top, bottom, left, right)`` that brings ``H×W`` up to multiples of ``multiple``, centred.

    The extra row (column) of an odd total goes to the bottom (right), as in CompressAI's ``compute_padding``.
    """
    ph = (-height) % multiple
    pw = (-width) % multiple
    return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2


def pad_centered(x: Tensor, padding: tuple[int, int, int, int], mode: str = "replicate") -> Tensor:
    """Pad ``x`` ``(B, C, H, W)`` by ``(top, bottom, left, right)`` (no-op for zero padding)."""
    top, bottom, left, right = padding
    if not any(padding):
        return x
    return F.pad(x, (left, right, top, bottom), mode=mode)


def crop_padding(x: Tensor, padding: tuple[int, int, int, int]) -> Tensor:
    """Remove the padding added by :func:`pad_centered`."""
    top, bottom, left, right = padding
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]


def estimated_bits(likelihoods: Mapping[str, Tensor]) -> Tensor:
    """Estimated size in bits per batch item, ``−Σ log₂ p`` over all latents; shape ``(B,)``."""
    total: Tensor | None = None
    for lik in likelihoods.values():
        bits = -torch.log2(lik).reshape(lik.shape[0], -1).sum(dim=1)
        total = bits if total is None else total + bits
    if total is None:
        raise ValueError("no likelihoods given")
    return total


def estimated_bpp(likelihoods: Mapping[str, Tensor], height: int, width: int) -> Tensor:
    """Estimated bits per pixel per batch item, ``−Σ log₂ p / (H W)`` with the unpadded ``H×W``; ``(B,)``."""
    return estimated_bits(likelihoods) / (height * width)


def config_hash(config: Mapping[str, Any], *tables: Tensor) -> bytes:
    """8-byte identity of a model configuration and its integer coding tables (first bytes of SHA-256).

    ``config`` is serialized as sorted-key JSON; each table contributes its shape and its values as
    little-endian int64, so the hash is the same on every machine.
    """
    h = hashlib.sha256(json.dumps(dict(config), sort_keys=True, separators=(",", ":")).encode())
    for t in tables:
        arr = t.detach().cpu().to(torch.int64).numpy().astype("<i8")
        h.update(json.dumps(list(arr.shape)).encode())
        h.update(arr.tobytes())
    return h.digest()[:8]


class LearnedCodec(nn.Module):
    """Common part of the factorized-prior learned codecs (one latent ``y`` coded by ``self.entropy_bottleneck``).

    Subclasses define ``forward`` (training), the transforms :meth:`encode_latent` (padded image → ``y``) and
    :meth:`decode_latent` (``ŷ`` → padded image), and :meth:`latent_shape`; this class turns them into
    :meth:`compress`, :meth:`decompress_latent` and :meth:`decompress` with the container checks.

    Attributes:
        name: Registry name written into the container's model id.
        downsampling_factor: Inputs are padded to multiples of this.
    """

    name: str = "codec"
    downsampling_factor: int = 1

    def entropy_bottlenecks(self) -> Iterator[EntropyBottleneck]:
        """All entropy bottlenecks of the model."""
        for m in self.modules():
            if isinstance(m, EntropyBottleneck):
                yield m

    def update(self, force: bool = False) -> bool:
        """Fit quantiles and build the coding tables of every entropy model (call once after training).

        Returns:
            Whether any table was (re)built.
        """
        updated = False
        for eb in self.entropy_bottlenecks():
            updated |= eb.update(force=force)
        return updated

    def aux_loss(self) -> Tensor:
        """Sum of the entropy models' auxiliary quantile losses (optional; :meth:`update` bisects anyway)."""
        losses = [eb.aux_loss() for eb in self.entropy_bottlenecks()]
        return torch.stack(losses).sum() if losses else torch.zeros(())

    def aux_parameters(self) -> list[nn.Parameter]:
        """Parameters trained only by :meth:`aux_loss` (the entropy models' ``quantiles``)."""
        return [eb.quantiles for eb in self.entropy_bottlenecks()]

    def main_parameters(self) -> list[nn.Parameter]:
        """All other parameters (trained by the rate–distortion loss)."""
        aux = {id(p) for p in self.aux_parameters()}
        return [p for p in self.parameters() if id(p) not in aux]

    def codec_config(self) -> dict[str, Any]:
        """JSON-able architecture description hashed into the container (override in subclasses)."""
        return {"name": self.name}

    def config_hash(self) -> bytes:
        """8-byte identity of :meth:`codec_config` and every coding table."""
        tables = [t for eb in self.entropy_bottlenecks() for t in (eb.quantized_cdf, eb.cdf_length, eb.offset)]
        return config_hash(self.codec_config(), *tables)

    def check_bitstream(self, bits: Bitstream, max_pixels: int = MAX_DECODE_PIXELS) -> tuple[int, int, int, int]:
        """Check that ``bits`` was written by this model and is consistent; returns the expected padding.

        Raises:
            InvalidBitstream: other model or weights, image too large, or padding inconsistent with the size.
        """
        if bits.model != self.name:
            raise InvalidBitstream(f"the file was written by model '{bits.model}', not '{self.name}'")
        if bits.config_hash != self.config_hash():
            raise InvalidBitstream(
                f"the file was written by '{bits.model}' with other weights or coding tables (config hash "
                f"{bits.config_hash.hex()} ≠ {self.config_hash().hex()})"
            )
        h, w = bits.image_size
        if h * w > max_pixels:
            raise InvalidBitstream(f"image of {h}x{w} pixels exceeds the decoder limit of {max_pixels} pixels")
        padding = centered_padding(h, w, self.downsampling_factor)
        if tuple(bits.padding) != padding:
            raise InvalidBitstream(f"padding {bits.padding} does not match a {h}x{w} image (expected {padding})")
        return padding

    entropy_bottleneck: EntropyBottleneck

    def encode_latent(self, x: Tensor) -> Tensor:
        """Analysis transform of a padded image ``(1, 3, H, W)`` to ``y`` (before quantisation)."""
        raise NotImplementedError  # abstract: defined by each codec

    def decode_latent(self, y_hat: Tensor) -> Tensor:
        """Synthesis transform of the dequantised ``ŷ`` to the padded image."""
        raise NotImplementedError  # abstract: defined by each codec

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """Shape ``(C_y, h, w)`` of ``y`` for an ``H×W`` image (after centred padding)."""
        raise NotImplementedError  # abstract: defined by each codec

    @torch.no_grad()
    def compress(self, x: Tensor) -> Bitstream:
        """Entropy-code one image ``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1].

        Raises:
            CheckpointError: :meth:`update` has not been called (no coding tables).
        """
        x = self._as_batch_of_one(x)
        h, w = x.shape[-2:]
        padding = centered_padding(h, w, self.downsampling_factor)
        y = self.encode_latent(pad_centered(x, padding))
        (string,) = self.entropy_bottleneck.compress(y)
        return Bitstream(
            model=self.name,
            config_hash=self.config_hash(),
            image_size=(int(h), int(w)),
            padding=padding,
            shapes=(tuple(int(d) for d in y.shape[1:]),),
            strings=(string,),
        )

    @torch.no_grad()
    def decompress_latent(self, bits: Bitstream, max_pixels: int = MAX_DECODE_PIXELS) -> Tensor:
        """Decode the integer symbols of ``y``, ``(1, C_y, h, w)`` int32, after checking the container.

        Raises:
            InvalidBitstream: other model, inconsistent header, or corrupt payload.
        """
        self.check_bitstream(bits, max_pixels)
        expected = (self.latent_shape(*bits.image_size),)
        if tuple(bits.shapes) != expected:
            raise InvalidBitstream(f"latent shapes {bits.shapes} do not match the image size (expected {expected})")
        return self.entropy_bottleneck.decompress_symbols([bits.strings[0]], expected[0][1:])

    @torch.no_grad()
    def decompress(self, bits: Bitstream, max_pixels: int = MAX_DECODE_PIXELS) -> Tensor:
        """Reconstruct ``(1, 3, H, W)`` in [0, 1] from a :class:`~invrestore.entropy.Bitstream`.

        Raises:
            InvalidBitstream: other model, inconsistent header, or corrupt payload.
            CheckpointError: the model has no coding tables.
        """
        symbols = self.decompress_latent(bits, max_pixels)
        device = next(self.parameters()).device
        y_hat = self.entropy_bottleneck.dequantize(symbols.to(device))
        padding = centered_padding(*bits.image_size, self.downsampling_factor)
        return crop_padding(self.decode_latent(y_hat), padding).clamp(0.0, 1.0)

    @staticmethod
    def _as_batch_of_one(x: Tensor) -> Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ImageShapeError(f"expected one RGB image (3, H, W) or (1, 3, H, W), got {tuple(x.shape)}")
        if not math.prod(x.shape):
            raise ImageShapeError("cannot compress an empty image")
        return x
