"""Rate–distortion points of IRN + JPEG (+ CRM), bicubic + JPEG (+ CRM) and JPEG alone (IRN, IJCV Fig. 9).

Protocol (``docs/irn-extensions.md``, ``docs/compression.md`` "IRN + codecs (Table 14 / Fig. 9)"), per HR image ``x``
(RGB, mod-cropped to the scale ``s``) and per JPEG quality ``q``:

- ``irn+jpeg+crm`` / ``irn+jpeg``: ``y_q = Quant(G(x)[:, :3])`` (IRN's 8-bit LR) → JPEG_q → decode → ``R`` →
  ``Quant`` (the CRM trained for ``q``; skipped for ``irn+jpeg``) → ``G⁻¹(cat(·, z))``, ``z ~ N(0, I)`` from a
  generator seeded with ``seed`` for every image (as ``invrestore upscale --seed`` and ``bench codecs``, so every
  quality and both IRN methods see the same ``z`` for an image);
- ``bicubic+jpeg+crm`` / ``bicubic+jpeg``: the 8-bit MATLAB-bicubic LR → JPEG_q → (``R`` → ``Quant``) → MATLAB
  bicubic up;
- ``jpeg``: JPEG of the 8-bit HR itself, at its own list of qualities.

The pipelines are :func:`~invrestore.models.irn.crm.pipeline.jpeg_crm` (the coded part, shared with
:func:`~invrestore.models.irn.crm.pipeline.irn_jpeg_crm`) between the method's down- and upscaling. JPEG is Pillow
(libjpeg-turbo, IJG quality scale, baseline, no Huffman optimisation) with explicit chroma subsampling (4:2:0 by
default, as the official code's cv2 ``imencode``). Every JPEG is written (atomically) to
``<out>/<method>/q<Q>/<stem>.jpg``; the **rate** is the size of that file on disk and the image is **decoded from
the file read back**. Per point: ``bpp = 8 · Σ bytes / Σ H·W`` of the HR images, and ``psnr_rgb`` is the mean over
images of the RGB PSNR of the 8-bit output against the 8-bit HR (:func:`psnr_u8`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError, ScaleError

if TYPE_CHECKING:
    from invrestore.evaluation.rd import ImagesArg
    from invrestore.models.irn.model import IRN

__all__ = [
    "CSV_COLUMNS",
    "METHODS",
    "PER_IMAGE_COLUMNS",
    "JpegRDImage",
    "JpegRDPoint",
    "check_qualities",
    "jpeg_rd_points",
    "psnr_u8",
]

#: The methods, in the order of the output.
METHODS: tuple[str, ...] = ("irn+jpeg+crm", "irn+jpeg", "bicubic+jpeg+crm", "bicubic+jpeg", "jpeg")

#: Columns of :meth:`JpegRDPoint.csv_row` (one row per method × quality).
CSV_COLUMNS: tuple[str, ...] = ("method", "quality", "scale", "encoder", "images", "total_bytes", "bpp", "psnr_rgb")

#: Columns of :meth:`JpegRDPoint.per_image_rows`.
PER_IMAGE_COLUMNS: tuple[str, ...] = ("method", "quality", "image", "height", "width", "bytes", "bpp", "psnr_rgb")


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    """RGB PSNR of two uint8 ``(H, W[, C])`` images through the library's one PSNR."""
    from invrestore.metrics import psnr

    def t(u: np.ndarray) -> Tensor:
        x = torch.from_numpy(np.array(u, dtype=np.float64)) / 255.0  # a writable copy (decoded arrays are not)
        return x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1)

    return float(psnr(t(a), t(b)))


def check_qualities(qualities: Iterable[int], what: str = "JPEG quality") -> list[int]:
    """The sorted distinct qualities, each an integer in 1..100.

    Raises:
        ConfigError: a value outside 1..100 or not an integer.
    """
    out: set[int] = set()
    for q in qualities:
        if isinstance(q, bool) or int(q) != q or not 1 <= int(q) <= 100:
            raise ConfigError(f"{what} must be an integer in 1..100, got {q}")
        out.add(int(q))
    return sorted(out)


@dataclass(frozen=True)
class JpegRDImage:
    """One image at one point: the JPEG file's size and the PSNR of the restored HR.

    Attributes:
        image: image name (the file stem).
        height: HR height.
        width: HR width.
        num_bytes: size of the JPEG file on disk.
        psnr_rgb: RGB PSNR (dB) of the 8-bit output against the 8-bit HR.
        path: the JPEG file.
    """

    image: str
    height: int
    width: int
    num_bytes: int
    psnr_rgb: float
    path: Path

    @property
    def bpp(self) -> float:
        """``8 · bytes / (H · W)`` of the HR image."""
        return 8.0 * self.num_bytes / (self.height * self.width)


@dataclass(frozen=True)
class JpegRDPoint:
    """One method at one JPEG quality over all images.

    Attributes:
        method: one of :data:`METHODS`.
        quality: JPEG quality (of the LR for the rescaling methods, of the HR for ``jpeg``).
        scale: rescaling factor (1 for ``jpeg``).
        encoder: the JPEG encoder and its settings.
        per_image: the per-image results.
    """

    method: str
    quality: int
    scale: int
    encoder: str
    per_image: tuple[JpegRDImage, ...] = field(repr=False)

    @property
    def images(self) -> int:
        """Number of images."""
        return len(self.per_image)

    @property
    def total_bytes(self) -> int:
        """Σ JPEG file sizes."""
        return sum(r.num_bytes for r in self.per_image)

    @property
    def pixels(self) -> int:
        """Σ H·W of the HR images."""
        return sum(r.height * r.width for r in self.per_image)

    @property
    def bpp(self) -> float:
        """``8 · total_bytes / pixels``."""
        return 8.0 * self.total_bytes / self.pixels

    @property
    def psnr_rgb(self) -> float:
        """Mean RGB PSNR (dB) over the images."""
        return float(np.mean([r.psnr_rgb for r in self.per_image]))

    def csv_row(self) -> dict[str, Any]:
        """The row of the R–D CSV (:data:`CSV_COLUMNS`)."""
        return {
            "method": self.method,
            "quality": self.quality,
            "scale": self.scale,
            "encoder": self.encoder,
            "images": self.images,
            "total_bytes": self.total_bytes,
            "bpp": f"{self.bpp:.6f}",
            "psnr_rgb": f"{self.psnr_rgb:.4f}",
        }

    def per_image_rows(self) -> list[dict[str, Any]]:
        """Per-image rows (:data:`PER_IMAGE_COLUMNS`)."""
        return [
            {
                "method": self.method,
                "quality": self.quality,
                "image": r.image,
                "height": r.height,
                "width": r.width,
                "bytes": r.num_bytes,
                "bpp": f"{r.bpp:.6f}",
                "psnr_rgb": f"{r.psnr_rgb:.4f}",
            }
            for r in self.per_image
        ]


def _store_in(path: Path) -> Callable[[int, bytes], bytes]:
    """A :data:`~invrestore.models.irn.crm.pipeline.JPEGStore` that writes the bytes to ``path`` and reads them back."""
    from invrestore.io import atomic_write

    def store(_: int, data: bytes) -> bytes:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as fh:
            fh.write(data)
        return path.read_bytes()

    return store


def jpeg_rd_points(
    images: ImagesArg,
    out_dir: str | Path,
    *,
    scale: int,
    qualities: Sequence[int],
    hr_qualities: Sequence[int] = (),
    irn: IRN | None = None,
    crms: Mapping[int, nn.Module] | None = None,
    bicubic_crms: Mapping[int, nn.Module] | None = None,
    bicubic: bool = True,
    subsampling: str = "4:2:0",
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: Callable[[list[tuple[str, Tensor]]], Iterable[tuple[str, Tensor]]] | None = None,
) -> list[JpegRDPoint]:
    """R–D points of the lossy IRN / bicubic / JPEG pipelines (see the module docstring), from real files.

    Args:
        images: HR images (see :func:`~invrestore.evaluation.rd.as_named_images`), RGB in [0, 1], height and width
            multiples of ``scale``; their names (file stems) name the JPEG files and must be distinct.
        out_dir: folder of the JPEG files, ``<out_dir>/<method>/q<Q>/<name>.jpg`` (created; files overwritten).
        scale: rescaling factor of the IRN and bicubic methods.
        qualities: LR JPEG qualities of the ``irn+jpeg`` and ``bicubic+jpeg`` methods.
        hr_qualities: HR JPEG qualities of the ``jpeg`` method (empty: no ``jpeg`` rows).
        irn: the IRN (``None``: no IRN rows); moved to ``device`` and put in eval mode.
        crms: CRM per LR quality for ``irn+jpeg+crm`` (each quality must be in ``qualities``); needs ``irn``.
        bicubic_crms: CRM per LR quality for ``bicubic+jpeg+crm``, trained on the bicubic LR.
        bicubic: whether to compute the ``bicubic+jpeg`` rows.
        subsampling: JPEG chroma subsampling (``4:2:0``, ``4:2:2`` or ``4:4:4``).
        seed: seed of IRN's ``z``, the same for every image.
        device: where the networks run.
        progress: wraps the list of images for iteration (e.g. a tqdm progress bar).

    Returns:
        One :class:`JpegRDPoint` per method and quality, in :data:`METHODS` order, then by quality.

    Raises:
        ConfigError: a quality outside 1..100, a CRM for a quality not in ``qualities``, CRMs without an IRN, an IRN
            of another scale, an unknown subsampling, duplicate image names or nothing to compute.
        ScaleError: an image whose size is not a multiple of ``scale``.
    """
    from invrestore.codecs import describe
    from invrestore.degradations.jpeg import SUBSAMPLING
    from invrestore.degradations.rescaling import BicubicMethod
    from invrestore.evaluation.rd import as_named_images
    from invrestore.io import to_uint8
    from invrestore.models.irn.crm.pipeline import bicubic_lr, jpeg_crm

    qs = check_qualities(qualities, "LR JPEG quality")
    hr_qs = check_qualities(hr_qualities, "HR JPEG quality")
    crm_map = {check_qualities([q], "CRM quality")[0]: m for q, m in (crms or {}).items()}
    bic_map = {check_qualities([q], "bicubic CRM quality")[0]: m for q, m in (bicubic_crms or {}).items()}
    if subsampling not in SUBSAMPLING:
        raise ConfigError(f"unknown subsampling {subsampling!r}; expected one of {', '.join(SUBSAMPLING)}")
    if scale < 1:
        raise ConfigError(f"scale must be a positive integer, got {scale}")
    for what, mapping in (("a CRM", crm_map), ("a bicubic CRM", bic_map)):
        extra = sorted(set(mapping) - set(qs))
        if extra:
            raise ConfigError(
                f"{what} is given for JPEG quality {extra[0]}, which is not among the LR qualities "
                f"{','.join(map(str, qs)) or '(none)'}"
            )
    if crm_map and irn is None:
        raise ConfigError("IRN + JPEG + CRM needs the IRN (give its weights)")
    if irn is not None and irn.scale != scale:
        raise ConfigError(f"the IRN rescales by {irn.scale}, not by the requested scale {scale}")
    named = as_named_images(images)
    stems = [n for n, _ in named]
    dup = next((n for n in stems if stems.count(n) > 1), None)
    if dup is not None:
        raise ConfigError(f"two images are named '{dup}'; their JPEG files would overwrite each other")
    for name, x in named:
        if x.shape[-2] % scale or x.shape[-1] % scale:
            raise ScaleError(
                f"image '{name}' is {x.shape[-2]}×{x.shape[-1]}, not a multiple of the scale {scale}; modcrop it first"
            )

    dev = torch.device(device)
    # (method, quality, crm): the jobs of each image, in output order
    jobs: list[tuple[str, int, nn.Module | None]] = []
    if irn is not None:
        irn = irn.to(dev).eval()
        jobs += [("irn+jpeg+crm", q, crm_map[q].to(dev).eval()) for q in qs if q in crm_map]
        jobs += [("irn+jpeg", q, None) for q in qs]
    jobs += [("bicubic+jpeg+crm", q, bic_map[q].to(dev).eval()) for q in qs if q in bic_map]
    if bicubic:
        jobs += [("bicubic+jpeg", q, None) for q in qs]
    jobs += [("jpeg", q, None) for q in hr_qs]
    if not jobs:
        raise ConfigError("nothing to compute: no LR qualities with an IRN or bicubic, and no HR qualities")

    out = Path(out_dir)
    results: dict[tuple[str, int], list[JpegRDImage]] = {(m, q): [] for m, q, _ in jobs}
    bic = BicubicMethod()
    with torch.no_grad():
        for name, x_cpu in progress(named) if progress is not None else named:
            ref = to_uint8(x_cpu)
            h, w = ref.shape[:2]
            x = x_cpu.unsqueeze(0).to(dev)
            lr_irn = irn.downscale(x)[0] if irn is not None else None
            lr_bic = bicubic_lr(x, scale) if any(m.startswith("bicubic") for m, _, _ in jobs) else None
            for method, q, crm in jobs:
                path = out / method / f"q{q}" / f"{name}.jpg"
                store = _store_in(path)
                if method == "jpeg":
                    x_hat, nbytes = jpeg_crm(None, x, q, subsampling, store)
                elif method.startswith("irn"):
                    assert irn is not None and lr_irn is not None
                    r, nbytes = jpeg_crm(crm, lr_irn, q, subsampling, store)
                    g = torch.Generator(device=dev).manual_seed(seed)
                    x_hat = irn.upscale(r, generator=g)
                else:
                    assert lr_bic is not None
                    r, nbytes = jpeg_crm(crm, lr_bic, q, subsampling, store)
                    x_hat = bic.upscale(r, scale)
                p = psnr_u8(to_uint8(x_hat[0]), ref)
                results[(method, q)].append(JpegRDImage(name, h, w, nbytes, p, path))
    return [
        JpegRDPoint(
            method=method,
            quality=q,
            scale=1 if method == "jpeg" else scale,
            encoder=describe("jpeg", q, subsampling),
            per_image=tuple(results[(method, q)]),
        )
        for method, q, _ in jobs
    ]
