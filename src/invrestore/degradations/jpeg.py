"""Real JPEG compression through Pillow (libjpeg / libjpeg-turbo), encoded and decoded in memory.

Definition of ``JPEG(quality=QF)`` applied to a float image ``x`` in [0, 1]:

1. **Quantise** to 8 bits with round-half-up, ``u = ⌊255·clamp(x, 0, 1) + 0.5⌋`` (the same rule as
   :func:`invrestore.io.to_uint8`, which the test-set files were written with).
2. **Encode** with Pillow's JPEG encoder: ``Image.save(buf, "JPEG", quality=QF, subsampling=…)``.
   Colour images are encoded from RGB (libjpeg converts to YCbCr internally) with **4:2:0 chroma
   subsampling** by default (``subsampling="4:2:0"``, Pillow's ``subsampling=2``, always passed explicitly
   rather than relying on Pillow's default). One-channel images are encoded as greyscale
   ("L"); subsampling does not apply. Baseline (non-progressive), no ``optimize`` pass, the IJG standard
   quantisation tables scaled by ``QF`` (libjpeg's ``jpeg_set_quality``), the default integer DCT.
3. **Decode** the bytes with Pillow and return ``v / 255`` as a float tensor (same dtype and device as ``x``).

The bytes are those of Pillow's encoder at the same settings (tested), so datasets made with this degradation
equal JPEG files written by Pillow at that quality. The IRAE paper does not name its JPEG tool or dataset
(``docs/restoration.md``); the official code reads pre-made JPEG folders with OpenCV (which also uses
libjpeg with 4:2:0 at the same quality scaling, but works in BGR order — the encoded image is the same).

``quality`` may be a range ``(lo, hi)`` for blind JPEG artefact removal: one integer ``QF ∈ lo..hi`` (inclusive)
is drawn per image from the generator. A fixed quality ignores the generator.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from invrestore.errors import ConfigError

__all__ = ["JPEG", "SUBSAMPLING", "jpeg_compress", "jpeg_decode", "jpeg_encode"]

Subsampling = Literal["4:4:4", "4:2:2", "4:2:0"]

#: Pillow's ``subsampling`` argument for each chroma subsampling name.
SUBSAMPLING: dict[str, int] = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def _check_quality(q: int) -> int:
    if not 1 <= int(q) <= 100 or int(q) != q:
        raise ConfigError(f"JPEG quality must be an integer in 1..100, got {q}")
    return int(q)


def _to_uint8_hwc(x: Tensor) -> np.ndarray:
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"expected a (C, H, W) image with C in {{1, 3}}, got {tuple(x.shape)}")
    q = torch.floor(x.detach().to(torch.float64).clamp(0, 1) * 255.0 + 0.5).to(torch.uint8)
    arr = q.permute(1, 2, 0).cpu().numpy()
    return arr[..., 0] if arr.shape[2] == 1 else arr


def jpeg_encode(x: Tensor, quality: int, subsampling: Subsampling = "4:2:0") -> bytes:
    """Encode one image ``(C, H, W)`` in [0, 1] (C = 1 or 3) as JPEG bytes with Pillow.

    Args:
        x: the image; it is first rounded half-up to 8 bits.
        quality: JPEG quality factor QF in 1..100 (libjpeg's scaling of the standard tables).
        subsampling: chroma subsampling for colour images (``"4:2:0"`` default).

    Returns:
        The JPEG file as bytes (baseline JFIF).
    """
    if subsampling not in SUBSAMPLING:
        raise ConfigError(f"unknown subsampling {subsampling!r}; expected one of {sorted(SUBSAMPLING)}")
    arr = _to_uint8_hwc(x)
    img = Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=_check_quality(quality), subsampling=SUBSAMPLING[subsampling])
    return buf.getvalue()


def jpeg_decode(data: bytes, channels: int = 3) -> Tensor:
    """Decode JPEG bytes to a float32 ``(C, H, W)`` tensor in [0, 1] (``channels`` = 1 or 3)."""
    with Image.open(io.BytesIO(data)) as img:
        arr = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    t = torch.from_numpy(arr.copy())
    t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
    return t.to(torch.float32) / 255.0


def jpeg_compress(x: Tensor, quality: int, subsampling: Subsampling = "4:2:0") -> Tensor:
    """Encode and decode ``x`` (``(C, H, W)`` or ``(B, C, H, W)``) at ``quality``; same shape, dtype, device."""
    if x.ndim == 4:
        return torch.stack([jpeg_compress(xi, quality, subsampling) for xi in x])
    out = jpeg_decode(jpeg_encode(x, quality, subsampling), channels=x.shape[0])
    return out.to(device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)


class JPEG:
    """JPEG-compression degradation at quality QF (fixed, or drawn per image), usable as a ``PairedDataset``
    ``degrade``: ``(C, H, W) or (B, C, H, W) -> same shape``.

    Paper: the IRAE paper's §5.2 ("JPEG image decompression", QF ∈ {10, 20, 30, 40}); AR-CNN (Dong et al.,
    ICCV 2015). See the module docstring for the exact definition (round-half-up to uint8, Pillow, 4:2:0).

    Args:
        quality: QF in 1..100, or an inclusive range ``(lo, hi)`` drawn uniformly per image.
        subsampling: chroma subsampling of colour images.
    """

    def __init__(self, quality: int | tuple[int, int] = 20, subsampling: Subsampling = "4:2:0") -> None:
        if isinstance(quality, (tuple, list)):
            lo, hi = (_check_quality(q) for q in quality)
            if lo > hi:
                raise ConfigError(f"the JPEG quality range must satisfy lo <= hi, got {quality}")
            self.quality: int | tuple[int, int] = (lo, hi)
        else:
            self.quality = _check_quality(quality)
        if subsampling not in SUBSAMPLING:
            raise ConfigError(f"unknown subsampling {subsampling!r}; expected one of {sorted(SUBSAMPLING)}")
        self.subsampling: Subsampling = subsampling

    def __repr__(self) -> str:
        return f"JPEG(quality={self.quality}, subsampling={self.subsampling!r})"

    def sample_quality(self, generator: torch.Generator | None) -> int:
        """The QF for the next image (draws from ``generator`` only for a range)."""
        if isinstance(self.quality, int):
            return self.quality
        lo, hi = self.quality
        dev = generator.device if generator is not None else torch.device("cpu")
        return int(torch.randint(lo, hi + 1, (1,), generator=generator, device=dev))

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if x.ndim == 4:
            return torch.stack([self(xi, generator) for xi in x])
        return jpeg_compress(x, self.sample_quality(generator), self.subsampling)
