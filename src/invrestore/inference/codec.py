"""The :class:`~invrestore.api.Codec` over a learned codec (ILC, bls2017, CompressAI teachers): images to the bytes
of an ``.irc`` file (:mod:`invrestore.entropy.bitstream`) and back.

``invrestore.load("ilc-small-q1")`` returns one; ``invrestore compress``/``decompress`` drive the same object. See
docs/api.md ("Codec details") and docs/compression.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from invrestore.errors import CheckpointError, ConfigError, ImageShapeError, InvalidBitstream
from invrestore.inference.images import Kind, Like, from_tensor, model_device, to_tensor

__all__ = ["ImageCodec"]


class ImageCodec:
    """A :class:`Codec` over a learned codec (ILC, bls2017): ``compress`` gives the bytes of our ``.irc``
    container, ``decompress`` checks that they were written by this model with these weights.

    Attributes:
        model: the codec (eval mode, with coding tables).
        name: its registry name (the model id written into the files).
    """

    def __init__(self, model: nn.Module, name: str | None = None) -> None:
        self.model: Any = model.eval()
        self.name = name or str(getattr(model, "name", "codec"))
        listing: Any = getattr(model, "entropy_bottlenecks", None)
        ebs: list[Any] = list(listing()) if callable(listing) else []
        if not all(bool(getattr(eb, "has_tables", False)) for eb in ebs):
            raise CheckpointError(
                f"the weights of '{self.name}' have no coding tables: call model.eval().update() after training "
                "and save the weights again (invrestore.train.save_weights(model.state_dict(), path))"
            )

    def __repr__(self) -> str:
        return f"ImageCodec({self.name!r})"

    @property
    def device(self) -> torch.device:
        """Where the codec runs (decode on the same kind of device as the encoder: the entropy model's rounding
        may differ between devices)."""
        return model_device(self.model)

    def to(self, device: str | torch.device) -> ImageCodec:
        """Move the codec to ``device``; returns self."""
        self.model.to(device)
        return self

    def config_hash(self) -> bytes:
        """The hash of the architecture and coding tables that every file this codec writes records."""
        digest: bytes = self.model.config_hash()
        return digest

    def estimated_bpp(self, x: Any) -> float:
        """The rate the entropy model estimates for image ``x`` (bits per pixel, without the container)."""
        from invrestore.entropy.codec import estimated_bpp

        t, _ = to_tensor(x)
        if t.shape[1] == 1:
            t = t.expand(-1, 3, -1, -1)
        with torch.no_grad():
            est = self.model(t.to(self.device))
        return float(estimated_bpp(est.likelihoods, int(t.shape[-2]), int(t.shape[-1]))[0])

    def compress(self, x: Any) -> bytes:
        """One RGB image (single-channel is expanded, alpha dropped) -> the bytes of an ``.irc`` file."""
        t, _ = to_tensor(x)
        if t.shape[0] != 1:
            raise ImageShapeError(f"compress takes one image, got a batch of {t.shape[0]}")
        if t.shape[1] == 1:
            t = t.expand(-1, 3, -1, -1)
        if max(t.shape[-2:]) > 65535:
            raise ConfigError(f"the image is {t.shape[-1]}×{t.shape[-2]}; the container stores sides up to 65535")
        bits = self.model.compress(t.to(model_device(self.model)))
        data: bytes = bits.to_bytes()
        return data

    def decompress(self, data: bytes, *, kind: Kind = "tensor", max_pixels: int | None = None) -> Any:
        """The bytes of an ``.irc`` file -> the image: a ``(3, H, W)`` tensor, or ``kind="numpy"`` (uint8 HWC) or
        ``"pil"``. ``max_pixels`` bounds the image size the file may declare (default: the decoder's limit).

        Raises:
            InvalidBitstream: malformed data, another model, or other weights than this codec's.
        """
        from invrestore.entropy.bitstream import Bitstream

        bits = Bitstream.from_bytes(data)
        if bits.model != self.name:
            raise InvalidBitstream(f"the data was written by model '{bits.model}', not '{self.name}'")
        if bits.config_hash != self.model.config_hash():
            raise InvalidBitstream(f"the data was written by '{bits.model}' with other weights or coding tables")
        from invrestore.entropy.codec import MAX_DECODE_PIXELS

        x = self.model.decompress(bits, max_pixels=MAX_DECODE_PIXELS if max_pixels is None else max_pixels)
        like = {
            "tensor": Like("tensor", False, torch.float32, None, None),
            "numpy": Like("numpy", False, np.uint8, None, None),
            "pil": Like("pil", False, None, None, "RGB"),
        }.get(kind)
        if like is None:
            raise ConfigError(f"kind must be 'tensor', 'numpy' or 'pil', not {kind!r}")
        return from_tensor(x.cpu(), like)
