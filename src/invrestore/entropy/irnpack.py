"""The IRNPACK container of ``invrestore pack`` / ``unpack``: an IRN LR image in a standard codec plus what is needed
to restore the HR image.

Byte layout (format version 2)::

    offset  size  field
    0       7     magic b"IRNPACK"
    7       1     format version (2)
    8       4     n = big-endian length of the JSON header (1..65536)
    12      n     UTF-8 JSON header (below)
    12+n    4     big-endian CRC-32 of bytes 0 .. 12+n (magic, version, length and header)
    16+n    …     payload: the LR image encoded by the codec (PNG, lossless WebP/JPEG XL, or JPEG), untouched

Header fields (all required, no others allowed)::

    model          registered IRN rescaling model name (e.g. "irn-x2"), never a path
    scale          int 2..16 (the model's scale)
    size           [H, W] of the HR image, ints 1..65535
    lr_size        [h, w] of the LR image = [ceil(H / scale), ceil(W / scale)]
    channels       1 or 3 (channels of the HR image)
    codec          "png", "webp", "jxl" or "jpeg"
    payload_bytes  length of the payload
    crc32          CRC-32 of the payload
    quality        (jpeg only) int 1..100
    subsampling    (jpeg only) "4:2:0", "4:2:2" or "4:4:4"
    crm            (jpeg only) null, or the name of a shipped compression-restoration module (e.g. "crm-q90")

Both the header and the payload are checksummed, so a flipped bit anywhere is detected, and a forged header (with
recomputed checksums) is still refused unless every field is valid. A file never makes invrestore open a path: the
model and CRM are names looked up in the registry. The payload stays at the end of the file, so it can be cut out
(``payload_bytes`` from the end) and opened by any viewer. Version-1 files (written before the header checksum
existed) are refused with a message saying to re-create them.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from invrestore.errors import InvalidBitstream

__all__ = [
    "CODECS",
    "FORMAT_VERSION",
    "MAGIC",
    "SUBSAMPLINGS",
    "PackNames",
    "decode_payload",
    "read_pack",
    "validate_header",
    "write_pack",
]

MAGIC = b"IRNPACK"
FORMAT_VERSION = 2
CODECS = ("png", "webp", "jxl", "jpeg")
SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")
MAX_SIDE = 65535
_HEADER_MAX = 1 << 16
_PREFIX = struct.Struct(">7sBI")
_REQUIRED = ("model", "scale", "size", "lr_size", "channels", "codec", "payload_bytes", "crc32")
_JPEG_ONLY = ("quality", "subsampling", "crm")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._+\-]{0,63}")


def write_pack(header: dict[str, Any], payload: bytes) -> bytes:
    """Serialise a pack file (layout in the module docstring); ``payload_bytes`` and ``crc32`` are filled in.

    The header is written as given (so tests and fuzzers can forge one); :func:`read_pack` validates it.
    """
    head = dict(header, payload_bytes=len(payload), crc32=zlib.crc32(payload))
    blob = json.dumps(head, sort_keys=True, separators=(",", ":")).encode()
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(blob)) + blob
    return prefix + struct.pack(">I", zlib.crc32(prefix)) + payload


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_pair(header: dict[str, Any], key: str, source: str) -> tuple[int, int]:
    v = header[key]
    if not (isinstance(v, list) and len(v) == 2 and all(_is_int(x) and 1 <= x <= MAX_SIDE for x in v)):
        raise InvalidBitstream(f"{source}: header field '{key}' must be two integers in 1..{MAX_SIDE}, not {v!r}")
    return int(v[0]), int(v[1])


@dataclass(frozen=True)
class PackNames:
    """The model and CRM names a pack may name (the caller's registry; this container knows no models)."""

    models: tuple[str, ...]
    crms: tuple[str, ...]


def validate_header(header: object, source: str = "file", names: PackNames | None = None) -> dict[str, Any]:
    """Check every field of a pack header (types, ranges, consistency; see the module docstring).

    Args:
        header: the parsed JSON header.
        source: name of the file, for the messages.
        names: also check that ``model`` and ``crm`` are among these names (see
            :func:`invrestore.models.catalog.pack_names`); None: only their form is checked.

    Returns:
        The header (unchanged).

    Raises:
        InvalidBitstream: a missing, unknown, mistyped, out-of-range or inconsistent field.
    """
    if not isinstance(header, dict):
        raise InvalidBitstream(f"{source} has a corrupt header (not a JSON object)")
    missing = [k for k in _REQUIRED if k not in header]
    if missing:
        raise InvalidBitstream(f"{source} has an incomplete header (missing {', '.join(missing)})")
    codec = header["codec"]
    if codec not in CODECS:
        raise InvalidBitstream(f"{source}: unknown codec {codec!r} (expected one of {', '.join(CODECS)})")
    allowed = set(_REQUIRED) | (set(_JPEG_ONLY) if codec == "jpeg" else set())
    unknown = sorted(str(k) for k in header if k not in allowed)
    if unknown:
        raise InvalidBitstream(f"{source}: unexpected header field(s) {', '.join(unknown)} for codec {codec}")
    model = header["model"]
    if not (isinstance(model, str) and _NAME_RE.fullmatch(model)):
        raise InvalidBitstream(f"{source}: header field 'model' must be a registered model name, not {model!r}")
    scale = header["scale"]
    if not (_is_int(scale) and 2 <= scale <= 16):
        raise InvalidBitstream(f"{source}: header field 'scale' must be an integer in 2..16, not {scale!r}")
    h, w = _int_pair(header, "size", source)
    lh, lw = _int_pair(header, "lr_size", source)
    if (lh, lw) != (math.ceil(h / scale), math.ceil(w / scale)):
        raise InvalidBitstream(f"{source} has an inconsistent header (size {w}×{h}, LR {lw}×{lh}, scale {scale}; W×H)")
    if not (_is_int(header["channels"]) and header["channels"] in (1, 3)):
        raise InvalidBitstream(f"{source}: header field 'channels' must be 1 or 3, not {header['channels']!r}")
    for key, top in (("payload_bytes", 1 << 40), ("crc32", 0xFFFFFFFF)):
        if not (_is_int(header[key]) and 0 <= header[key] <= top):
            raise InvalidBitstream(f"{source}: header field '{key}' must be an integer in 0..{top}")
    if codec == "jpeg":
        missing = [k for k in _JPEG_ONLY if k not in header]
        if missing:
            raise InvalidBitstream(f"{source}: a JPEG pack needs header field(s) {', '.join(missing)}")
        q = header["quality"]
        if not (_is_int(q) and 1 <= q <= 100):
            raise InvalidBitstream(f"{source}: header field 'quality' must be an integer in 1..100, not {q!r}")
        if header["subsampling"] not in SUBSAMPLINGS:
            raise InvalidBitstream(
                f"{source}: header field 'subsampling' must be one of {', '.join(SUBSAMPLINGS)}, "
                f"not {header['subsampling']!r}"
            )
        crm = header["crm"]
        if crm is not None and not (isinstance(crm, str) and _NAME_RE.fullmatch(crm)):
            raise InvalidBitstream(f"{source}: header field 'crm' must be null or a shipped CRM name, not {crm!r}")
    if names is not None:
        _check_names(header, source, names)
    return header


def _check_names(header: dict[str, Any], source: str, names: PackNames) -> None:
    if header["model"] not in names.models:
        raise InvalidBitstream(
            f"{source} names the model {header['model']!r}, which is not a registered IRN rescaling model "
            f"({', '.join(names.models)})"
        )
    crm = header.get("crm")
    if crm is not None and crm not in names.crms:
        raise InvalidBitstream(
            f"{source} names the CRM {crm!r}, which is not a shipped CRM ({', '.join(names.crms)}); "
            "pass --crm PATH (or --crm none) to unpack"
        )


def read_pack(data: bytes, source: str = "file", names: PackNames | None = None) -> tuple[dict[str, Any], bytes]:
    """Parse and validate a pack file into ``(header, payload)``.

    Raises:
        InvalidBitstream: wrong magic, another version, truncated, checksum mismatch (header or payload), bad JSON,
            or any field invalid (see :func:`validate_header`).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidBitstream(f"{source}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < len(MAGIC) + 1 or not data.startswith(MAGIC):
        raise InvalidBitstream(f"{source} is not an invrestore pack file (no {MAGIC.decode()} signature)")
    version = data[len(MAGIC)]
    if version == 1:
        raise InvalidBitstream(
            f"{source} is a pack file of format version 1 (written by an older invrestore, without a header "
            "checksum); this invrestore reads version 2: re-create it with `invrestore pack`"
        )
    if version != FORMAT_VERSION:
        raise InvalidBitstream(
            f"{source} is a pack file of version {version}; this invrestore reads version {FORMAT_VERSION}"
        )
    if len(data) < _PREFIX.size + 4:
        raise InvalidBitstream(f"{source} is truncated ({len(data)} bytes)")
    _, _, n = _PREFIX.unpack_from(data, 0)
    start = _PREFIX.size
    if not 1 <= n <= _HEADER_MAX or start + n + 4 > len(data):
        raise InvalidBitstream(f"{source} is truncated or corrupt (header of {n} bytes in a {len(data)}-byte file)")
    (head_crc,) = struct.unpack_from(">I", data, start + n)
    if zlib.crc32(data[: start + n]) != head_crc:
        raise InvalidBitstream(f"{source} is corrupt (header CRC-32 mismatch)")
    try:
        header = json.loads(data[start : start + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise InvalidBitstream(f"{source} has a corrupt header: {str(e)[:100]}") from e
    header = validate_header(header, source)
    payload = data[start + n + 4 :]
    if len(payload) != header["payload_bytes"]:
        raise InvalidBitstream(
            f"{source} is truncated or has trailing data: payload of {len(payload)} bytes, "
            f"header says {header['payload_bytes']}"
        )
    if zlib.crc32(payload) != header["crc32"]:
        raise InvalidBitstream(f"{source} is corrupt (payload CRC-32 mismatch)")
    if names is not None:
        _check_names(header, source, names)
    return header, payload


def decode_payload(payload: bytes, codec: str, source: str = "file") -> Any:
    """Decode the LR payload of a pack file into a ``(C, h, w)`` float tensor in [0, 1].

    Raises:
        InvalidBitstream: the payload does not decode (any decoder failure), or it is a decompression bomb.
    """
    import warnings

    from PIL import Image

    from invrestore.codecs import decode_tensor
    from invrestore.errors import InvRestoreError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return decode_tensor(payload, codec)
    except InvRestoreError as e:
        raise InvalidBitstream(f"{source}: the LR payload does not decode ({e})") from e
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError, MemoryError) as e:
        raise InvalidBitstream(f"{source}: the LR payload does not decode ({type(e).__name__}: {e})") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidBitstream(f"{source}: the LR payload is too large ({e})") from e
