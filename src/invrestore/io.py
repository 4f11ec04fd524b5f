"""Image reading and writing with explicit dtypes, explicit rounding and atomic writes.

Conventions (used by the whole library):

- Images in memory are float tensors ``(C, H, W)`` in ``[0, 1]``; the dtype is explicit (``float32`` by default).
- 8-bit files map ``k -> k / 255``; 16-bit files map ``k -> k / 65535``. A 16-bit PNG never silently becomes 8-bit:
  Pillow reads 16-bit *RGB* PNGs as 8-bit, so those are decoded with OpenCV (``pip install invrestore[cv]``); without
  OpenCV such a file raises :class:`~invrestore.errors.ImageReadError` saying what to install.
- Grayscale stays one channel unless ``mode="rgb"`` is asked for (then it is replicated to 3 channels).
- Alpha (RGBA, LA, palette with transparency) is **dropped** by default (``alpha="drop"``: the colour channels are
  kept as stored, which is what OpenCV's ``IMREAD_COLOR`` and the research codebases do); ``alpha="composite"``
  blends onto a white background instead, ``alpha="error"`` refuses such files.
- Palette images are expanded to RGB; EXIF orientation is applied (``exif_transpose``).
- CMYK and YCbCr are converted to RGB, 1-bit to 8-bit gray; 32-bit integer and floating-point images are refused.
- A **pixel limit** (default :data:`DEFAULT_MAX_PIXELS`) guards every read: a larger image (or a file whose header
  claims one) is refused from its header, before any pixel memory is allocated, with a message naming
  ``$INVRESTORE_MAX_PIXELS``; :func:`set_max_pixels` changes it for the process. It replaces Pillow's own
  decompression-bomb check.
- Writing quantises with explicit round-half-up: ``floor(255 * clamp(x, 0, 1) + 0.5)``, and writes atomically
  (temporary file ``.<name>.tmp-<pid>`` in the same folder, then ``os.replace``), so a failed or interrupted write
  never leaves a half-written file; the temporary file is removed on any exception (``KeyboardInterrupt``
  included). Only ``kill -9`` can leave one behind: :func:`clean_stale_tmps` (run by every writer once per folder)
  removes those whose process is gone.
- Any ``OSError`` while writing (missing folder, not a folder, permission, disk full) becomes
  :class:`~invrestore.errors.ImageWriteError` with one line naming the path.
"""

from __future__ import annotations

import io as _io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from struct import error as struct_error
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from invrestore.errors import ConfigError, ImageReadError, ImageTooLargeError, ImageWriteError
from invrestore.io_atomic import atomic_write, clean_stale_tmps, default_file_mode

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS_ENV",
    "atomic_write",
    "clean_stale_tmps",
    "default_file_mode",
    "get_max_pixels",
    "image_size",
    "list_images",
    "probe_image",
    "read_image",
    "read_image_uint",
    "read_png_text",
    "set_max_pixels",
    "to_uint8",
    "write_image",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")

ModeArg = Literal["keep", "rgb", "gray"]
AlphaArg = Literal["drop", "composite", "error"]


DEFAULT_MAX_PIXELS = 256_000_000
"""Default pixel limit of every image read (256 MP: 16000×16000). Reading converts to float, ~24 bytes per RGB
pixel at the peak, so this is ~6 GB; raise it with ``$INVRESTORE_MAX_PIXELS`` or :func:`set_max_pixels`."""
MAX_PIXELS_ENV = "INVRESTORE_MAX_PIXELS"
_max_pixels_override: int | None = None


def set_max_pixels(n: int | None) -> None:
    """Set the pixel limit of every image read in this process (``None``: back to ``$INVRESTORE_MAX_PIXELS`` or
    the default).

    Raises:
        ConfigError: ``n`` is not a positive integer.
    """
    global _max_pixels_override
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(f"the pixel limit must be a positive integer, not {n!r}")
    _max_pixels_override = n
    _sync_pillow_limit()


def get_max_pixels() -> int:
    """The pixel limit in force: :func:`set_max_pixels`, else ``$INVRESTORE_MAX_PIXELS``, else the default.

    Raises:
        ConfigError: ``$INVRESTORE_MAX_PIXELS`` is set but not a positive integer.
    """
    if _max_pixels_override is not None:
        return _max_pixels_override
    env = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not env:
        return DEFAULT_MAX_PIXELS
    try:
        n = int(env)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"${MAX_PIXELS_ENV} must be a positive integer (a pixel count), not {env!r}")
    return n


def _sync_pillow_limit() -> None:
    # Pillow refuses > 2 × MAX_IMAGE_PIXELS inside Image.open, before we see the header: keep its bomb check at our
    # limit (its warning between 1× and 2× is turned into our error by _check_pixels).
    try:
        limit = get_max_pixels()
    except ConfigError:
        limit = DEFAULT_MAX_PIXELS
    Image.MAX_IMAGE_PIXELS = limit


def _too_large(path: str | Path, w: int, h: int, limit: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        path,
        f"it is {w}×{h} = {w * h / 1e6:.1f} MP, above the pixel limit of {limit / 1e6:g} MP; "
        f"raise it with {MAX_PIXELS_ENV}={w * h} if the image is genuine",
    )


def _check_pixels(path: str | Path, w: int, h: int) -> None:
    limit = get_max_pixels()
    if w * h > limit:
        raise _too_large(path, w, h, limit)


_sync_pillow_limit()


def list_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Sorted image files (by extension, case-insensitive) in ``folder``."""
    folder = Path(folder)
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _read_16bit_with_cv2(path: Path) -> np.ndarray:
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImageReadError(
            path,
            "16-bit colour PNG needs OpenCV to decode without losing precision; "
            "install it with `pip install invrestore[cv]`",
        ) from e
    data = np.fromfile(str(path), dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageReadError(path, "OpenCV could not decode the file")
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
        else:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    return np.asarray(arr)


def _png_bit_depth(path: Path) -> int | None:
    """The IHDR bit depth of a PNG file, or None if it is not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(29)
    if len(head) < 29 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24]


_UNSUPPORTED_MODES = {
    "I": "32-bit integer images are not supported (save it as 8- or 16-bit)",
    "F": "floating-point images are not supported (save it as 8- or 16-bit)",
}


@contextmanager
def _open(path: Path) -> Iterator[Image.Image]:
    """Open ``path`` with Pillow (header only), mapping every failure to :class:`ImageReadError` and refusing
    images above the pixel limit before any pixel data is decoded."""
    if not path.exists():
        raise ImageReadError(path, "no such file")
    if path.is_dir():
        raise ImageReadError(path, "it is a folder, not an image file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ImageReadError(path, e.strerror or str(e)) from e
    if size == 0:
        raise ImageReadError(path, "the file is empty")
    limit = get_max_pixels()
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_pixels(path, *img.size)
                yield img
    except ImageReadError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        w, h = _claimed_size(path)
        raise _too_large(path, w, h, limit) if w * h > 0 else ImageTooLargeError(path, str(e)) from e
    except UnidentifiedImageError as e:
        raise ImageReadError(path, "not a recognised image format (corrupt, or not an image)") from e
    except PermissionError as e:
        raise ImageReadError(path, "permission denied") from e
    except (OSError, SyntaxError, ValueError, EOFError, struct_error, IndexError, TypeError, KeyError) as e:
        raise ImageReadError(path, _read_reason(e)) from e
    except MemoryError as e:
        raise ImageReadError(path, "not enough memory to decode it (corrupt header, or too large)") from e


def _read_reason(e: BaseException) -> str:
    msg = str(e) or type(e).__name__
    low = msg.lower()
    if "truncated" in low or isinstance(e, EOFError) or "unexpected end" in low:
        return "the file is truncated"
    if "broken data stream" in low or "crc" in low or "decoder error" in low or "corrupt" in low:
        return f"the file is corrupt ({msg})"
    return f"the file is corrupt or unsupported ({msg})"


def _claimed_size(path: Path) -> tuple[int, int]:
    """Width and height a PNG/JPEG header claims (0, 0 if unknown), without Pillow's limits."""
    saved = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                return img.size
    except Exception:
        return 0, 0
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def read_image_uint(
    path: str | Path,
    mode: ModeArg = "keep",
    alpha: AlphaArg = "drop",
) -> np.ndarray:
    """Read an image as an unsigned-integer array ``(H, W)`` or ``(H, W, 3)`` (uint8 or uint16).

    Args:
        path: image file (PNG, JPEG, WebP, TIFF, BMP, ...).
        mode: ``"keep"`` keeps grayscale as 2-D, ``"rgb"`` replicates grayscale to 3 channels, ``"gray"`` converts
            colour to full-range luma (Pillow's ITU-R 601-2 ``L`` conversion, rounded; 16-bit colour is converted
            with the same weights in float then rounded).
        alpha: policy for an alpha channel (see the module docstring).

    Raises:
        ImageReadError: the file is missing, empty, truncated, corrupt, not an image, or of an unsupported mode.
        ImageTooLargeError: the image is above the pixel limit (see :func:`get_max_pixels`).
    """
    path = Path(path)
    if mode not in ("keep", "rgb", "gray"):
        raise ValueError(f"mode must be 'keep', 'rgb' or 'gray', not {mode!r}")
    try:
        bit_depth = _png_bit_depth(path)
    except OSError:
        bit_depth = None  # _open reports the problem
    arr: np.ndarray
    if bit_depth is not None:
        # Pillow does not check the CRC of image-data chunks while decoding: a damaged chunk length or data can
        # decode to a silently wrong image. Verify every chunk checksum first (fast: no decompression).
        with _open(path) as check:
            check.verify()
    with _open(path) as opened:
        if opened.mode in _UNSUPPORTED_MODES and not (opened.mode == "I" and bit_depth == 16):
            raise ImageReadError(path, _UNSUPPORTED_MODES[opened.mode])
        img: Image.Image = ImageOps.exif_transpose(opened)
        img.load()
        has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
        if has_alpha and alpha == "error":
            raise ImageReadError(path, "it has an alpha channel (pass alpha='drop' or 'composite')")
        if bit_depth == 16 and img.mode not in ("I;16", "I;16B", "I", "L", "LA"):
            # Pillow would give 8 bits: decode with OpenCV instead.
            arr = _read_16bit_with_cv2(path)
        elif img.mode in ("I;16", "I;16B", "I;16L") or (img.mode == "I" and bit_depth == 16):
            arr = np.asarray(img, dtype=np.uint16) if img.mode != "I" else np.asarray(img).astype(np.uint16)
        elif img.mode in _UNSUPPORTED_MODES:
            raise ImageReadError(path, _UNSUPPORTED_MODES[img.mode])
        else:
            if img.mode == "P":
                img = img.convert("RGBA" if has_alpha else "RGB")
            elif img.mode == "1":
                img = img.convert("L")
            elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                img = img.convert("RGB")
            elif img.mode not in ("L", "LA", "RGB", "RGBA"):
                img = img.convert("RGBA" if has_alpha else "RGB")
            arr = np.asarray(img)
    arr = _apply_alpha(arr, alpha)
    return _apply_mode(arr, mode)


def probe_image(path: str | Path) -> tuple[int, int, str]:
    """Validate an image file cheaply and return ``(W, H, mode)`` (Pillow's mode name, e.g. ``"RGB"``).

    Checks that the file exists, is a supported image below the pixel limit and of a supported mode, and that its
    data decodes: PNG chunks and checksums are verified without decompressing, a JPEG is decoded at 1/8 scale,
    other formats below 4 MP are fully decoded (larger ones are checked from their header only).

    Raises:
        ImageReadError: as :func:`read_image_uint`; ImageTooLargeError above the pixel limit.
    """
    path = Path(path)
    with _open(path) as img:
        w, h = img.size
        mode = img.mode
        fmt = img.format
        if mode in _UNSUPPORTED_MODES and not (mode == "I" and _png_bit_depth(path) == 16):
            raise ImageReadError(path, _UNSUPPORTED_MODES[mode])
        if fmt == "JPEG":
            img.draft(img.mode, (max(1, w // 8), max(1, h // 8)))
            img.load()
        elif fmt != "PNG" and w * h <= 4_000_000:
            img.load()
    if fmt == "PNG":
        with _open(path) as img:
            img.verify()
    return w, h, mode


def _apply_alpha(arr: np.ndarray, alpha: AlphaArg) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        color, a = arr[..., :-1], arr[..., -1:]
        if alpha == "composite":
            maxval = 65535.0 if arr.dtype == np.uint16 else 255.0
            af = a.astype(np.float64) / maxval
            blended = color.astype(np.float64) * af + maxval * (1.0 - af)
            color = np.floor(blended + 0.5).astype(arr.dtype)
        arr = color
        if arr.shape[2] == 1:
            arr = arr[..., 0]
    return arr


def _apply_mode(arr: np.ndarray, mode: ModeArg) -> np.ndarray:
    if mode == "rgb" and arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if mode == "gray" and arr.ndim == 3:
        maxval = 65535.0 if arr.dtype == np.uint16 else 255.0
        y = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        return np.clip(np.floor(y + 0.5), 0, maxval).astype(arr.dtype)
    if mode not in ("keep", "rgb", "gray"):
        raise ValueError(f"mode must be 'keep', 'rgb' or 'gray', not {mode!r}")
    return arr


def read_image(
    path: str | Path,
    mode: ModeArg = "keep",
    alpha: AlphaArg = "drop",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Read an image file into a float tensor ``(C, H, W)`` in ``[0, 1]``.

    8-bit data is divided by 255 and 16-bit data by 65535. ``C`` is 1 for grayscale (unless ``mode="rgb"``) and 3
    for colour. See :func:`read_image_uint` for the arguments and errors.
    """
    arr = read_image_uint(path, mode=mode, alpha=alpha)
    maxval = 65535.0 if arr.dtype == np.uint16 else 255.0
    t = torch.from_numpy(np.ascontiguousarray(arr).astype(np.float64) / maxval)
    if t.ndim == 2:
        t = t.unsqueeze(0)
    else:
        t = t.permute(2, 0, 1)
    return t.to(dtype).contiguous()


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Quantise a ``(C, H, W)`` (or ``(H, W)``) float image in [0, 1] to uint8 ``(H, W[, C])`` with round-half-up."""
    if x.ndim == 3:
        x = x.permute(1, 2, 0)
        if x.shape[2] == 1:
            x = x[..., 0]
    elif x.ndim != 2:
        raise ValueError(f"expected an image of shape (C,H,W) or (H,W), got {tuple(x.shape)}")
    q = torch.floor(x.detach().to(torch.float64).clamp(0, 1) * 255.0 + 0.5)
    return q.to(torch.uint8).cpu().numpy()


def _to_uint16(x: torch.Tensor) -> np.ndarray:
    if x.ndim == 3:
        x = x.permute(1, 2, 0)
        if x.shape[2] == 1:
            x = x[..., 0]
    q = torch.floor(x.detach().to(torch.float64).clamp(0, 1) * 65535.0 + 0.5)
    return q.to(torch.int32).cpu().numpy().astype(np.uint16)


def write_image(
    path: str | Path,
    image: torch.Tensor | np.ndarray,
    *,
    quality: int = 95,
    subsampling: str = "4:2:0",
    lossless: bool = False,
    bits: int = 8,
    text: dict[str, str] | None = None,
) -> Path:
    """Write an image atomically. The format follows the extension (PNG, JPEG, WebP, TIFF, BMP).

    Args:
        path: destination; written through a temporary file and renamed, so it is never half-written.
        image: float tensor ``(C, H, W)``/``(H, W)`` in [0, 1] (quantised with round-half-up), or a uint8/uint16
            array ``(H, W[, C])`` written as is.
        quality: JPEG/WebP quality (1-100).
        subsampling: JPEG chroma subsampling, ``"4:4:4"``, ``"4:2:2"`` or ``"4:2:0"``.
        lossless: lossless WebP.
        bits: 8 or 16 (16 only for PNG; needs OpenCV for colour images).
        text: PNG text chunks (e.g. model name and original size), ignored for other formats.

    Returns:
        The path written.
    """
    path = Path(path)
    ext = path.suffix.lower()
    fmt = {
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".webp": "WEBP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".bmp": "BMP",
    }.get(ext)
    if fmt is None:
        raise ImageWriteError(f"cannot write '{path}': unknown image extension '{ext}' (use .png, .jpg, .webp)")
    if bits not in (8, 16):
        raise ImageWriteError(f"bits must be 8 or 16, not {bits}")
    if isinstance(image, torch.Tensor):
        arr = to_uint8(image) if bits == 8 else _to_uint16(image)
    else:
        arr = np.asarray(image)
        if arr.dtype not in (np.uint8, np.uint16):
            raise ImageWriteError("numpy images must be uint8 or uint16; pass float data as a torch tensor")
    if arr.dtype == np.uint16 and fmt != "PNG":
        raise ImageWriteError(f"16-bit images can only be written as PNG, not {fmt}")

    buf = _io.BytesIO()
    if arr.dtype == np.uint16:
        _encode_png16(arr, buf, text)
    else:
        img = Image.fromarray(arr)
        kwargs: dict[str, object] = {}
        if fmt == "JPEG":
            kwargs = {"quality": int(quality), "subsampling": subsampling}
        elif fmt == "WEBP":
            kwargs = {"quality": int(quality), "lossless": lossless, "method": 6 if lossless else 4}
        elif fmt == "PNG":
            kwargs = {"compress_level": 6}
            if text:
                info = PngImagePlugin.PngInfo()
                for k, v in text.items():
                    info.add_text(k, v)
                kwargs["pnginfo"] = info
        img.save(buf, format=fmt, **kwargs)
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())
    return path


def _encode_png16(arr: np.ndarray, buf: _io.BytesIO, text: dict[str, str] | None) -> None:
    if arr.ndim == 2:
        img = Image.fromarray(arr)  # uint16 2-D -> mode "I;16"
        info = None
        if text:
            info = PngImagePlugin.PngInfo()
            for k, v in text.items():
                info.add_text(k, v)
        img.save(buf, format="PNG", pnginfo=info)
        return
    try:
        import cv2
    except ImportError as e:  # pragma: no cover
        raise ImageWriteError("writing 16-bit colour PNG needs OpenCV: `pip install invrestore[cv]`") from e
    if text:
        raise ImageWriteError("PNG text metadata is not supported for 16-bit colour PNG")
    ok, enc = cv2.imencode(".png", cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageWriteError("OpenCV could not encode the 16-bit PNG")
    buf.write(enc.tobytes())


def image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` of an image file from its header (EXIF orientation not applied); refuses files above the pixel
    limit. Note the order: height first (:func:`probe_image` returns width first)."""
    with _open(Path(path)) as img:
        w, h = img.size
    return h, w


def read_png_text(path: str | Path) -> dict[str, str]:
    """The text chunks of a PNG file (empty for other formats)."""
    with _open(Path(path)) as img:
        info = getattr(img, "text", None)
        return {str(k): str(v) for k, v in dict(info).items()} if info else {}
