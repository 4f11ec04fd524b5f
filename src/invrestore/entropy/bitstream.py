"""The versioned container of a compressed image (``.irc`` files).

Byte layout (format version 1; all integers little-endian, unsigned)::

    offset  size      field
    0       4         magic  b"\\x89IRC"
    4       1         format version (1)
    5       1         flags (0; reserved)
    6       1         k = length of the model id (1..64)
    7       k         model id, ASCII [A-Za-z0-9._+-] (the registry name, e.g. "bls2017-128")
    7+k     8         config hash (model configuration + coding tables, see the codec)
    15+k    4, 4      original height H, width W (1..65535)
    23+k    2 × 4     centred padding top, bottom, left, right
    31+k    1         n = number of latents (1..8)
    32+k    per latent: 1 byte d = ndim (1..4), d × 4 bytes of dims (1..65535 each), 4 bytes payload length
    …       Σ         the n entropy-coded payloads, in order
    end−4   4         CRC-32 (zlib) of every byte before it

The container overhead is ``36 + k + Σ(5 + 4 d)`` bytes, CRC included (``53 + k`` for one 3-D latent).
:meth:`Bitstream.from_bytes` checks the magic, then the CRC, then every field against the bytes that remain and
against the limits above before anything is allocated; any failure raises
:class:`~invrestore.errors.InvalidBitstream` with the reason, never another exception.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from invrestore.errors import InvalidBitstream

__all__ = ["FORMAT_VERSION", "MAGIC", "MAX_LATENTS", "MAX_SIDE", "Bitstream"]

MAGIC = b"\x89IRC"
FORMAT_VERSION = 1
MAX_SIDE = 65535
"""Largest image side and latent dimension a container may describe."""
MAX_LATENTS = 8
_MAX_NDIM = 4
_MAX_ID = 64
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\-]*")
_FIXED = struct.Struct("<4sBBB")  # magic, version, flags, id length


@dataclass(frozen=True)
class Bitstream:
    """One compressed image: what the decoder needs besides the model weights.

    Attributes:
        model: Registry name of the model that wrote it.
        config_hash: 8 bytes identifying the model configuration and coding tables.
        image_size: Original ``(H, W)`` before padding.
        padding: Centred padding ``(top, bottom, left, right)`` added before the analysis transform.
        shapes: Shape of each coded latent (e.g. ``((C, H/16, W/16),)``).
        strings: Entropy-coded payload of each latent.
        version: Container format version.
    """

    model: str
    config_hash: bytes
    image_size: tuple[int, int]
    padding: tuple[int, int, int, int]
    shapes: tuple[tuple[int, ...], ...]
    strings: tuple[bytes, ...]
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        problem = _check_fields(self)
        if problem:
            raise ValueError(f"invalid Bitstream: {problem}")

    @property
    def payload_bytes(self) -> int:
        """Bytes of entropy-coded data (all payloads)."""
        return sum(len(s) for s in self.strings)

    @property
    def header_bytes(self) -> int:
        """Bytes of container overhead (everything in :meth:`to_bytes` but the payloads, CRC included)."""
        return 36 + len(self.model) + sum(5 + 4 * len(s) for s in self.shapes)

    @property
    def num_bytes(self) -> int:
        """Total size of :meth:`to_bytes`."""
        return self.header_bytes + self.payload_bytes

    def bpp(self) -> float:
        """Real bits per pixel of the file: ``8 · num_bytes / (H W)`` of the original image."""
        h, w = self.image_size
        return 8.0 * self.num_bytes / (h * w)

    def to_bytes(self) -> bytes:
        """Serialize (layout in the module docstring)."""
        mid = self.model.encode("ascii")
        parts = [_FIXED.pack(MAGIC, self.version, 0, len(mid)), mid, self.config_hash]
        parts.append(struct.pack("<II4HB", *self.image_size, *self.padding, len(self.shapes)))
        for shape, s in zip(self.shapes, self.strings):
            parts.append(struct.pack(f"<B{len(shape)}II", len(shape), *shape, len(s)))
        parts.extend(self.strings)
        body = b"".join(parts)
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Bitstream:
        """Parse a container.

        Raises:
            InvalidBitstream: not an invrestore file, unsupported version, checksum mismatch (corrupt or
                truncated), or a field out of range.
        """
        try:
            buf = bytes(data)
        except Exception as err:
            raise InvalidBitstream(f"expected bytes, got {type(data).__name__}") from err
        if len(buf) < 4 or buf[:4] != MAGIC:
            raise InvalidBitstream("not an invrestore compressed file (bad magic bytes)")
        if len(buf) < _FIXED.size + 4:
            raise InvalidBitstream(f"file is truncated ({len(buf)} bytes)")
        _, version, flags, id_len = _FIXED.unpack_from(buf, 0)
        if version != FORMAT_VERSION:
            raise InvalidBitstream(
                f"unsupported container format version {version} (this invrestore reads version {FORMAT_VERSION})"
            )
        (crc,) = struct.unpack_from("<I", buf, len(buf) - 4)
        body = memoryview(buf)[:-4]
        if zlib.crc32(body) != crc:
            raise InvalidBitstream("checksum mismatch: the file is corrupt or truncated")
        reader = _Reader(buf, _FIXED.size, len(buf) - 4)
        if flags != 0:
            raise InvalidBitstream(f"unknown flags 0x{flags:02x}")
        if not 1 <= id_len <= _MAX_ID:
            raise InvalidBitstream(f"model id length {id_len} out of range")
        raw_id = reader.take(id_len, "model id")
        try:
            model = raw_id.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidBitstream("model id is not ASCII") from None
        if not _ID_RE.fullmatch(model):
            raise InvalidBitstream(f"malformed model id {model!r}")
        config_hash = reader.take(8, "config hash")
        h, w, top, bottom, left, right, n = reader.unpack("<II4HB", "image header")
        if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
            raise InvalidBitstream(f"image size {h}x{w} out of range (1..{MAX_SIDE})")
        if not 1 <= n <= MAX_LATENTS:
            raise InvalidBitstream(f"number of latents {n} out of range (1..{MAX_LATENTS})")
        shapes: list[tuple[int, ...]] = []
        lengths: list[int] = []
        for i in range(n):
            (ndim,) = reader.unpack("<B", f"latent {i} header")
            if not 1 <= ndim <= _MAX_NDIM:
                raise InvalidBitstream(f"latent {i} has {ndim} dimensions (1..{_MAX_NDIM})")
            *dims, length = reader.unpack(f"<{ndim}II", f"latent {i} header")
            if not all(1 <= d <= MAX_SIDE for d in dims):
                raise InvalidBitstream(f"latent {i} shape {tuple(dims)} out of range (1..{MAX_SIDE})")
            shapes.append(tuple(dims))
            lengths.append(length)
        if sum(lengths) != reader.remaining:
            raise InvalidBitstream(
                f"payload lengths add up to {sum(lengths)} bytes but {reader.remaining} bytes remain"
            )
        strings = tuple(reader.take(length, f"payload {i}") for i, length in enumerate(lengths))
        return cls(model, config_hash, (h, w), (top, bottom, left, right), tuple(shapes), strings, version)


class _Reader:
    """Bounds-checked cursor over ``buf[pos:end]``."""

    def __init__(self, buf: bytes, pos: int, end: int) -> None:
        self.buf, self.pos, self.end = buf, pos, end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.remaining:
            raise InvalidBitstream(f"file is truncated: {what} needs {n} bytes, {self.remaining} remain")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size, what))


def _check_fields(b: Bitstream) -> str | None:
    if b.version != FORMAT_VERSION:
        return f"version must be {FORMAT_VERSION}"
    if not isinstance(b.model, str) or not (1 <= len(b.model) <= _MAX_ID and _ID_RE.fullmatch(b.model)):
        return f"model id {b.model!r} must be 1..{_MAX_ID} characters of [A-Za-z0-9._+-]"
    if not isinstance(b.config_hash, bytes) or len(b.config_hash) != 8:
        return "config_hash must be 8 bytes"
    if len(b.image_size) != 2 or not all(1 <= int(v) <= MAX_SIDE for v in b.image_size):
        return f"image_size {b.image_size} out of range (1..{MAX_SIDE})"
    if len(b.padding) != 4 or not all(0 <= int(v) <= 0xFFFF for v in b.padding):
        return f"padding {b.padding} must be 4 values in 0..65535"
    if not 1 <= len(b.shapes) <= MAX_LATENTS or len(b.strings) != len(b.shapes):
        return f"need 1..{MAX_LATENTS} latents with one payload each"
    for shape in b.shapes:
        if not 1 <= len(shape) <= _MAX_NDIM or not all(1 <= int(d) <= MAX_SIDE for d in shape):
            return f"latent shape {shape} out of range"
    if not all(isinstance(s, bytes) and len(s) <= 0xFFFFFFFF for s in b.strings):
        return "payloads must be bytes"
    return None
