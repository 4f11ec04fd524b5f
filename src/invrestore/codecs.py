"""Standard image codecs as in-memory ``bytes`` encoders/decoders (IRN + codecs, ``docs/irn-extensions.md``).

Lossless codecs (8-bit RGB or grayscale, exact round trip):

- ``png``: Pillow's PNG encoder (zlib), ``compress_level`` = ``effort`` (default 6, Pillow's default).
- ``webp``: Pillow's libwebp in **lossless** mode; ``effort`` is WebP's lossless ``quality`` (compression effort,
  default 75 = cwebp's default) with ``method`` 4. Higher efforts are much slower (q100 m6: ~13 s per 512² image).
- ``jxl``: JPEG XL **lossless** (modular mode) via the optional ``pillow-jxl-plugin`` (``pip install
  pillow-jxl-plugin``), ``effort`` default 7 (libjxl's default). JPEG XL stands in for FLIF, which cannot be
  obtained here (no Debian package, no Python binding); JPEG XL's modular mode descends from FLIF/FUIF.

Lossy:

- ``jpeg``: Pillow (libjpeg-turbo), IJG ``jpeg_set_quality`` scale ``quality`` ∈ 1..100, baseline, no Huffman
  optimisation, chroma subsampling stated explicitly (default **4:2:0**, the default of Pillow, OpenCV and
  the official IRN code's cv2 ``imencode``). Pillow and OpenCV write byte-identical files at the same settings.

Images are uint8 arrays ``(H, W)`` or ``(H, W, 3)``; :func:`encode_tensor` accepts float tensors in [0, 1]
(quantised with round-half-up, :func:`invrestore.io.to_uint8`).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from invrestore.errors import ConfigError, InvalidBitstream

__all__ = [
    "FLIF_NOTE",
    "LOSSLESS_CODECS",
    "decode",
    "decode_tensor",
    "describe",
    "encode",
    "encode_jpeg",
    "encode_lossless",
    "encode_tensor",
    "jxl_available",
    "require_jxl",
]

#: The lossless codecs, in the order Table 14 lists them (JPEG XL in FLIF's place).
LOSSLESS_CODECS: tuple[str, ...] = ("png", "webp", "jxl")

#: Pillow ``subsampling`` codes.
_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}

#: Default effort per lossless codec.
_DEFAULT_EFFORT = {"png": 6, "webp": 75, "jxl": 7}

FLIF_NOTE = (
    "FLIF is not available (no Debian package, no Python binding); JPEG XL lossless (modular mode, a FLIF/FUIF "
    "descendant) is used in its place"
)

_MAGIC = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "webp": (b"RIFF",),
    "jxl": (b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n"),
    "jpeg": (b"\xff\xd8\xff",),
}


def jxl_available() -> bool:
    """Whether the optional JPEG XL plugin (``pillow-jxl-plugin``) can be imported."""
    try:
        import pillow_jxl  # noqa: F401
    except ImportError:
        return False
    return True


def require_jxl() -> None:
    """Import the JPEG XL plugin (registers the ``JXL`` format with Pillow).

    Raises:
        ConfigError: the plugin is not installed (the message says what to install).
    """
    try:
        import pillow_jxl  # noqa: F401
    except ImportError as e:
        raise ConfigError(
            "the jxl codec needs the optional JPEG XL plugin: pip install pillow-jxl-plugin "
            f"(or pick --codec png/webp). {FLIF_NOTE}."
        ) from e


def _check_array(img: np.ndarray) -> np.ndarray:
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {arr.dtype}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _check_codec(codec: str) -> str:
    if codec not in LOSSLESS_CODECS:
        if codec == "flif":
            raise ConfigError(f"{FLIF_NOTE}; use --codec jxl")
        raise ConfigError(f"unknown lossless codec {codec!r}; expected one of {', '.join(LOSSLESS_CODECS)}")
    return codec


def encode_lossless(img: np.ndarray, codec: str, effort: int | None = None) -> bytes:
    """Encode a uint8 image losslessly with ``codec`` (``png``, ``webp`` or ``jxl``).

    Args:
        img: ``(H, W)`` or ``(H, W, 3)`` uint8.
        codec: the codec name.
        effort: PNG ``compress_level`` (0–9), WebP lossless ``quality`` (0–100) or JPEG XL ``effort`` (1–9);
            ``None`` uses the defaults of the module docstring.

    Returns:
        The encoded file as bytes.

    Raises:
        ConfigError: unknown codec, or ``jxl`` without its plugin.
    """
    codec = _check_codec(codec)
    arr = _check_array(img)
    e = _DEFAULT_EFFORT[codec] if effort is None else int(effort)
    pil = Image.fromarray(arr)
    buf = io.BytesIO()
    if codec == "png":
        pil.save(buf, format="PNG", compress_level=e)
    elif codec == "webp":
        pil.save(buf, format="WEBP", lossless=True, quality=e, method=4, exact=True)
    else:
        require_jxl()
        pil.save(buf, format="JXL", lossless=True, effort=e)
    return buf.getvalue()


def encode_jpeg(img: np.ndarray, quality: int, subsampling: str = "4:2:0") -> bytes:
    """Encode a uint8 image as baseline JPEG with Pillow at IJG ``quality`` (1..100) and ``subsampling``.

    The one JPEG encoder of the library is :func:`invrestore.degradations.jpeg.jpeg_encode`; this adapts uint8
    arrays to it.
    """
    from invrestore.degradations.jpeg import jpeg_encode

    if subsampling not in _SUBSAMPLING:
        raise ConfigError(f"unknown subsampling {subsampling!r}; expected one of {', '.join(_SUBSAMPLING)}")
    arr = _check_array(img)
    t = torch.from_numpy(np.array(arr, dtype=np.float64)) / 255.0  # a writable copy (arr may be read-only)
    t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
    return jpeg_encode(t, quality, subsampling)  # type: ignore[arg-type]


def encode(
    img: np.ndarray, codec: str, quality: int = 90, subsampling: str = "4:2:0", effort: int | None = None
) -> bytes:
    """Encode with any codec of this module: the lossless ones, or ``jpeg`` at ``quality``/``subsampling``."""
    if codec == "jpeg":
        return encode_jpeg(img, quality, subsampling)
    return encode_lossless(img, codec, effort)


def _sniff(data: bytes) -> str | None:
    for name, magics in _MAGIC.items():
        if any(data.startswith(m) for m in magics):
            if name == "webp" and data[8:12] != b"WEBP":
                continue
            return name
    return None


def decode(data: bytes, codec: str | None = None, channels: int = 3) -> np.ndarray:
    """Decode bytes of any codec of this module to uint8 ``(H, W, 3)`` (``channels=3``) or ``(H, W)`` (1).

    Args:
        data: the encoded image.
        codec: the expected codec; ``None`` detects it from the signature.
        channels: 3 (RGB) or 1 (grayscale).

    Raises:
        InvalidBitstream: the bytes are not an image of ``codec`` or cannot be decoded.
        ConfigError: JPEG XL data without the plugin.
    """
    found = _sniff(data)
    if found is None:
        raise InvalidBitstream("the payload is not a PNG, WebP, JPEG XL or JPEG image")
    if codec is not None and found != codec:
        raise InvalidBitstream(f"the payload is a {found} image, not {codec}")
    if found == "jxl":
        require_jxl()
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except Exception as e:  # Pillow raises several types for corrupt data
        raise InvalidBitstream(f"cannot decode the {found} payload: {type(e).__name__}: {e}") from e
    return np.ascontiguousarray(arr)


def encode_tensor(
    x: Tensor, codec: str, quality: int = 90, subsampling: str = "4:2:0", effort: int | None = None
) -> bytes:
    """Encode a float image ``(C, H, W)`` in [0, 1] (C = 1 or 3), rounded half-up to 8 bits first."""
    from invrestore.io import to_uint8

    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"expected a (C, H, W) image with C in {{1, 3}}, got {tuple(x.shape)}")
    return encode(to_uint8(x), codec, quality, subsampling, effort)


def decode_tensor(data: bytes, codec: str | None = None, channels: int = 3) -> Tensor:
    """Decode to a float32 ``(C, H, W)`` tensor ``k / 255``."""
    import torch

    arr = decode(data, codec, channels)
    t = torch.from_numpy(arr.astype(np.float32) / 255.0)
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def describe(codec: str, quality: int | None = None, subsampling: str = "4:2:0", effort: int | None = None) -> str:
    """A one-line statement of encoder and settings (for tables and CSV files)."""
    import PIL

    if codec == "png":
        return (
            f"Pillow {PIL.__version__} PNG (zlib) compress_level={_DEFAULT_EFFORT['png'] if effort is None else effort}"
        )
    if codec == "webp":
        e = _DEFAULT_EFFORT["webp"] if effort is None else effort
        return f"Pillow {PIL.__version__} WebP lossless quality={e} method=4"
    if codec == "jxl":
        e = _DEFAULT_EFFORT["jxl"] if effort is None else effort
        return f"pillow-jxl-plugin JPEG XL lossless (modular) effort={e} [FLIF substitute]"
    if codec == "jpeg":
        q = "" if quality is None else f" q={quality}"
        return f"Pillow {PIL.__version__} JPEG (libjpeg-turbo; IJG quality scale){q} {subsampling} baseline"
    raise ConfigError(f"unknown codec {codec!r}")
