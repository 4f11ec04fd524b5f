"""Rate–distortion benchmark of learned codecs (ILC, bls2017) and standard image codecs.

The protocol follows ``docs/compression.md`` (CompressAI's ``eval_model``, with real files):

- **Rate.** ``bpp_real = 8 · len(file bytes) / (H · W)`` of the *unpadded* image, where the file is the whole
  container (:class:`~invrestore.entropy.Bitstream` header and CRC included) or the whole encoded JPEG/WebP/JPEG XL/
  HEIF file. Learned codecs also report ``bpp_estimated = −Σ log₂ p(ŷ) / (H · W)`` from an eval-mode ``forward``.
- **Distortion.** The decoded image (decoded from the bytes, not taken from the encoder) and the original are both
  rounded to 8 bits; ``psnr_rgb`` is PSNR over the three RGB channels and ``ms_ssim`` is MS-SSIM (``pytorch_msssim``
  conventions; ``None`` for images whose short side is ≤ 160 pixels, which 5 scales cannot handle).
- **"No quantisation" (NQ)** diagnostic of ILC Table III: ``psnr_no_quant`` is the PSNR of the reconstruction
  from the *unrounded* latent ``y`` (ILC: ``f⁻¹(y, 0)``; bls2017: ``g_s(g_a(x))``); ``None`` for codecs without it.
- **Averaging.** Every metric of an :class:`RDPoint` is the mean of the per-image values (PSNR averaged in dB,
  as in CompressAI and the papers); the per-image rows are kept in :attr:`RDPoint.per_image`.

Reference codecs (:data:`REFERENCE_CODECS`), all through Pillow and its plugins, 8-bit RGB input:

- ``jpeg``: Pillow (libjpeg-turbo), IJG ``jpeg_set_quality`` scale 1–95, **4:2:0** chroma subsampling, baseline
  Huffman tables (no ``optimize``), no progressive mode.
- ``webp``: Pillow (libwebp), lossy, quality 0–100, ``method=4`` (Pillow's default), 4:2:0 (WebP's only lossy mode).
- ``jxl``: pillow-jxl-plugin (libjxl), lossy VarDCT, the plugin's ``quality`` 0–100 (libjxl maps it to a
  Butteraugli distance, as ``cjxl -q`` does), ``effort=7``; optional.
- ``heif``: pillow-heif (libheif + x265), HEVC-intra (the stand-in for BPG), libheif's ``quality`` 0–100,
  4:2:0; the bytes include the HEIF container; optional.

An optional encoder that is not installed is *skipped* with a note (:func:`reference_unavailable_reason`); it is
never an error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from invrestore.errors import CheckpointError, ConfigError

__all__ = [
    "CSV_COLUMNS",
    "REFERENCE_CODECS",
    "ImagesArg",
    "RDImageRow",
    "RDPoint",
    "ReferenceCodec",
    "as_named_images",
    "decode_reference",
    "encode_reference",
    "method_and_quality",
    "per_image_csv_text",
    "rd_csv_text",
    "rd_points_learned",
    "rd_points_reference",
    "reference_unavailable_reason",
]

CSV_COLUMNS = ("method", "quality", "bpp_real", "bpp_est", "psnr_rgb", "ms_ssim", "psnr_no_quant")
"""Columns of the R–D CSV (one row per method × quality)."""

ImagesArg = Mapping[str, Tensor] | Iterable[Tensor | str | Path | tuple[str, Tensor | str | Path]]
"""Images to evaluate: ``{name: tensor}``, or ``(name, tensor)`` pairs, tensors or paths (see
:func:`as_named_images`)."""

_MS_SSIM_MIN_SIDE = 161  # 5 scales of an 11×11 window


@dataclass(frozen=True)
class RDImageRow:
    """Scores of one image at one operating point.

    Attributes:
        image: Image name.
        height: Image height (unpadded).
        width: Image width (unpadded).
        num_bytes: Size of the whole encoded file.
        bpp_real: ``8 · num_bytes / (H · W)``.
        bpp_estimated: Learned codecs: ``−Σ log₂ p / (H · W)``; ``None`` for reference codecs.
        psnr_rgb: PSNR-RGB in dB, both images rounded to 8 bits.
        ms_ssim: MS-SSIM (8-bit), ``None`` if the image is too small for 5 scales.
        psnr_no_quant: PSNR of the reconstruction from the unquantised latent, ``None`` where not applicable.
    """

    image: str
    height: int
    width: int
    num_bytes: int
    bpp_real: float
    bpp_estimated: float | None
    psnr_rgb: float
    ms_ssim: float | None
    psnr_no_quant: float | None


@dataclass(frozen=True)
class RDPoint:
    """One operating point (a codec with its weights, or a reference codec at one quality), averaged over images.

    Attributes:
        name: Method (``ilc``, ``bls2017-256``, ``jpeg``, …).
        quality: Quality setting (reference codecs), ``ilc-q{n}``'s ``n``, or a label of the weights.
        bpp_real: Mean real bpp.
        bpp_estimated: Mean estimated bpp (learned codecs), else ``None``.
        psnr_rgb: Mean PSNR-RGB (dB).
        ms_ssim: Mean MS-SSIM, ``None`` if any image was too small for it.
        psnr_no_quant: Mean NQ PSNR, ``None`` where not applicable.
        per_image: The per-image rows.
        settings: Human-readable encoder settings (stated in reports).
    """

    name: str
    quality: int | str | None
    bpp_real: float
    bpp_estimated: float | None
    psnr_rgb: float
    ms_ssim: float | None
    psnr_no_quant: float | None
    per_image: tuple[RDImageRow, ...] = field(default=(), repr=False)
    settings: str = ""

    def csv_row(self) -> dict[str, Any]:
        """The row of the R–D CSV (:data:`CSV_COLUMNS`); ``None`` becomes an empty cell."""
        values: dict[str, Any] = {
            "method": self.name,
            "quality": "" if self.quality is None else self.quality,
            "bpp_real": self.bpp_real,
            "bpp_est": self.bpp_estimated,
            "psnr_rgb": self.psnr_rgb,
            "ms_ssim": self.ms_ssim,
            "psnr_no_quant": self.psnr_no_quant,
        }
        return {k: _fmt_cell(v) for k, v in values.items()}


def _fmt_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}"
    return v


def _mean(values: Sequence[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return float(sum(float(v) for v in values if v is not None) / len(values))


def _aggregate(name: str, quality: int | str | None, rows: Sequence[RDImageRow], settings: str = "") -> RDPoint:
    if not rows:
        raise ConfigError("no images to evaluate")
    psnr_mean = _mean([r.psnr_rgb for r in rows])
    bpp_mean = _mean([r.bpp_real for r in rows])
    assert psnr_mean is not None and bpp_mean is not None
    return RDPoint(
        name=name,
        quality=quality,
        bpp_real=bpp_mean,
        bpp_estimated=_mean([r.bpp_estimated for r in rows]),
        psnr_rgb=psnr_mean,
        ms_ssim=_mean([r.ms_ssim for r in rows]),
        psnr_no_quant=_mean([r.psnr_no_quant for r in rows]),
        per_image=tuple(rows),
        settings=settings,
    )


# -- inputs ------------------------------------------------------------------------------------------------------


def as_named_images(images: ImagesArg) -> list[tuple[str, Tensor]]:
    """Normalise the images argument to ``[(name, (3, H, W) float tensor in [0, 1])]``.

    Accepts a mapping ``name -> tensor``, or a sequence of ``(name, tensor)`` pairs, tensors (named ``img000``,
    …) or image paths (read as RGB, named by their stem). A batch of one ``(1, 3, H, W)`` is accepted for a
    tensor.

    Raises:
        ConfigError: no images, or a tensor that is not one RGB image.
    """
    from invrestore.io import read_image

    items: list[tuple[str, Tensor | str | Path]]
    if isinstance(images, Mapping):
        items = list(images.items())
    else:
        items = []
        for i, im in enumerate(images):
            if isinstance(im, tuple) and len(im) == 2:  # already named: (name, tensor or path)
                items.append((str(im[0]), im[1]))
            else:
                items.append((Path(im).stem if isinstance(im, (str, Path)) else f"img{i:03d}", im))
    out: list[tuple[str, Tensor]] = []
    for name, im in items:
        x = read_image(im, mode="rgb") if isinstance(im, (str, Path)) else im
        if x.dim() == 4 and x.shape[0] == 1:
            x = x[0]
        if x.dim() != 3 or x.shape[0] != 3 or x.shape[1] < 1 or x.shape[2] < 1:
            raise ConfigError(f"image '{name}': expected an RGB image (3, H, W), got {tuple(x.shape)}")
        out.append((str(name), x.detach().float().clamp(0.0, 1.0).cpu()))
    if not out:
        raise ConfigError("no images to evaluate")
    return out


def _scores(x_hat: Tensor, x: Tensor) -> tuple[float, float | None]:
    """8-bit PSNR-RGB and MS-SSIM (None when the image is too small) of one ``(3, H, W)`` pair."""
    from invrestore.metrics import ms_ssim, psnr

    x_hat = x_hat.detach().cpu().to(torch.float64)
    x = x.detach().cpu().to(torch.float64)
    p = float(psnr(x_hat, x, quantize=True))
    m = float(ms_ssim(x_hat, x, quantize=True)) if min(x.shape[-2:]) >= _MS_SSIM_MIN_SIDE else None
    return p, m


# -- learned codecs ----------------------------------------------------------------------------------------------


def method_and_quality(codec_name: str, label: str | None = None) -> tuple[str, int | str | None]:
    """Split a codec name into the R–D method and quality: ``ilc-q3`` → ``("ilc", 3)``; other names keep their
    name, with ``label`` (e.g. the weights file's stem) as the quality."""
    head, sep, tail = codec_name.rpartition("-q")
    if sep and head and tail.isdigit():
        return head, int(tail)
    return codec_name, label


@torch.no_grad()
def _unquantized(codec: Any, x: Tensor) -> Tensor | None:
    """Reconstruction from the unrounded latent, ``(1, 3, H, W)`` clamped, or None if the codec has none."""
    if hasattr(codec, "reconstruct_unquantized"):
        out: Tensor = codec.reconstruct_unquantized(x)
        return out.clamp(0.0, 1.0)
    g_a, g_s = getattr(codec, "g_a", None), getattr(codec, "g_s", None)
    if callable(g_a) and callable(g_s):  # bls2017: the baseline of ILC Table III's NQ column
        from invrestore.entropy.codec import centered_padding, crop_padding, pad_centered

        padding = centered_padding(x.shape[-2], x.shape[-1], int(codec.downsampling_factor))
        x_hat = crop_padding(g_s(g_a(pad_centered(x, padding))), padding)
        return x_hat.clamp(0.0, 1.0)
    return None


def rd_points_learned(
    codec: Any,
    images: ImagesArg,
    name: str | None = None,
    quality: int | str | None = None,
    no_quant: bool = True,
) -> list[RDPoint]:
    """Real-bitstream R–D point of a learned codec (one point: one model with its weights).

    Per image: ``codec.compress`` → container bytes → ``Bitstream.from_bytes`` → ``codec.decompress``; the real
    rate counts every byte of the container. The estimate comes from an eval-mode ``forward`` (same quantizer).

    Args:
        codec: A :class:`~invrestore.entropy.codec.LearnedCodec` with coding tables (``update()``-d weights),
            e.g. from :func:`invrestore.models.ilc.load_codec`. It is put in eval mode; its device is used.
        images: See :func:`as_named_images`.
        name: Method name; default from :attr:`codec.name` via :func:`method_and_quality`.
        quality: Quality label; default from the codec name (``ilc-q3`` → 3).
        no_quant: Also compute the NQ diagnostic (where the codec supports it).

    Returns:
        A list with one :class:`RDPoint` (a list, like :func:`rd_points_reference`, so results concatenate).

    Raises:
        CheckpointError: the codec has no coding tables.
    """
    from invrestore.entropy.bitstream import Bitstream
    from invrestore.entropy.codec import estimated_bpp

    codec_name = str(getattr(codec, "name", type(codec).__name__))
    default_name, default_quality = method_and_quality(codec_name)
    method = name if name is not None else default_name
    q = quality if quality is not None else default_quality
    ebs = list(codec.entropy_bottlenecks()) if hasattr(codec, "entropy_bottlenecks") else []
    if not ebs or not all(eb.has_tables for eb in ebs):
        raise CheckpointError(
            f"codec '{codec_name}' has no coding tables: call model.eval().update() after training and save the "
            "weights again (invrestore.models.ilc.finalize_codec_weights)"
        )
    codec.eval()
    try:
        device = next(codec.parameters()).device
    except StopIteration:  # pragma: no cover - every codec has parameters
        device = torch.device("cpu")
    rows: list[RDImageRow] = []
    with torch.no_grad():
        for img_name, x in as_named_images(images):
            h, w = int(x.shape[-2]), int(x.shape[-1])
            xb = x.unsqueeze(0).to(device)
            data = codec.compress(xb).to_bytes()
            x_hat = codec.decompress(Bitstream.from_bytes(data))
            est = float(estimated_bpp(codec(xb).likelihoods, h, w)[0])
            p, m = _scores(x_hat[0], x)
            nq: float | None = None
            if no_quant:
                x_nq = _unquantized(codec, xb)
                if x_nq is not None:
                    nq = _scores(x_nq[0], x)[0]
            rows.append(
                RDImageRow(
                    image=img_name,
                    height=h,
                    width=w,
                    num_bytes=len(data),
                    bpp_real=8.0 * len(data) / (h * w),
                    bpp_estimated=est,
                    psnr_rgb=p,
                    ms_ssim=m,
                    psnr_no_quant=nq,
                )
            )
    return [_aggregate(method, q, rows, settings=f"{codec_name}, real container bytes (header + CRC included)")]


# -- reference codecs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceCodec:
    """A standard image codec used as an R–D reference.

    Attributes:
        key: Short name (``jpeg``, ``webp``, ``jxl``, ``heif``).
        settings: The encoder, quality scale and subsampling, as stated in reports.
        default_qualities: Qualities swept when none are given.
        quality_range: Valid ``(min, max)`` quality.
        module: Optional plugin module that must import (``None``: built into Pillow).
        pillow_feature: Pillow feature that must be present (``jpg``, ``webp``) or ``None``.
        install_hint: What to install when it is missing.
    """

    key: str
    settings: str
    default_qualities: tuple[int, ...]
    quality_range: tuple[int, int]
    module: str | None = None
    pillow_feature: str | None = None
    install_hint: str = ""


REFERENCE_CODECS: dict[str, ReferenceCodec] = {
    c.key: c
    for c in [
        ReferenceCodec(
            "jpeg",
            "Pillow/libjpeg-turbo, IJG quality scale, 4:2:0, baseline tables, no optimize",
            (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
            (1, 95),
            pillow_feature="jpg",
            install_hint="a Pillow built with libjpeg",
        ),
        ReferenceCodec(
            "webp",
            "Pillow/libwebp lossy, quality 0-100, method 4, 4:2:0",
            (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
            (0, 100),
            pillow_feature="webp",
            install_hint="a Pillow built with libwebp",
        ),
        ReferenceCodec(
            "jxl",
            "pillow-jxl-plugin/libjxl lossy (VarDCT), plugin quality 0-100 (libjxl maps it to a Butteraugli distance "
            "like cjxl -q), effort 7",
            (10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
            (0, 99),
            module="pillow_jxl",
            install_hint="pip install pillow-jxl-plugin",
        ),
        ReferenceCodec(
            "heif",
            "pillow-heif/libheif+x265 HEVC-intra (BPG stand-in), libheif quality 0-100, 4:2:0, HEIF container "
            "bytes included",
            (5, 10, 20, 30, 40, 50, 60, 70, 80, 90),
            (0, 100),
            module="pillow_heif",
            install_hint="pip install pillow-heif",
        ),
    ]
}
"""The reference codecs by key."""


def _reference(key: str) -> ReferenceCodec:
    try:
        return REFERENCE_CODECS[key.lower()]
    except KeyError:
        raise ConfigError(f"unknown reference codec '{key}'; available: {', '.join(REFERENCE_CODECS)}") from None


def reference_unavailable_reason(key: str) -> str | None:
    """Why the reference codec ``key`` cannot run here (a one-line note), or ``None`` if it can.

    Raises:
        ConfigError: unknown key.
    """
    ref = _reference(key)
    if ref.pillow_feature is not None:
        from PIL import features

        if not features.check(ref.pillow_feature):
            return f"{ref.key}: skipped, this Pillow has no {ref.pillow_feature} support ({ref.install_hint})"
    if ref.module is not None:
        import importlib

        try:
            importlib.import_module(ref.module)
        except ImportError as e:
            return f"{ref.key}: skipped, optional encoder '{ref.module}' is not installed ({ref.install_hint}): {e}"
    return None


def _check_quality(ref: ReferenceCodec, quality: int) -> int:
    lo, hi = ref.quality_range
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not lo <= int(quality) <= hi:
        raise ConfigError(f"{ref.key}: quality must be an integer in [{lo}, {hi}], got {quality!r}")
    return int(quality)


def _to_pil(x: Tensor) -> Any:
    from PIL import Image

    from invrestore.io import to_uint8

    return Image.fromarray(to_uint8(x), mode="RGB")


def encode_reference(key: str, image: Tensor | Any, quality: int) -> bytes:
    """Encode one RGB image with a reference codec; returns the whole file's bytes.

    Args:
        key: ``jpeg``, ``webp``, ``jxl`` or ``heif``.
        image: ``(3, H, W)`` float tensor in [0, 1] (rounded to 8 bits) or an RGB PIL image.
        quality: Quality on the codec's own scale (see :data:`REFERENCE_CODECS`).

    Raises:
        ConfigError: unknown codec, bad quality, or the (optional) encoder is not available.
    """
    ref = _reference(key)
    q = _check_quality(ref, quality)
    reason = reference_unavailable_reason(ref.key)
    if reason is not None:
        raise ConfigError(reason)
    im = _to_pil(image) if isinstance(image, Tensor) else image.convert("RGB")
    buf = io.BytesIO()
    if ref.key == "jpeg":
        from invrestore.codecs import encode_jpeg

        return encode_jpeg(np.asarray(im), q, "4:2:0")  # the library's one JPEG encoder (baseline, no optimize)
    if ref.key == "webp":
        im.save(buf, format="WEBP", quality=q, lossless=False, method=4)
    elif ref.key == "jxl":
        import pillow_jxl  # noqa: F401  (registers the JXL plugin with Pillow)

        im.save(buf, format="JXL", quality=q, effort=7, lossless=False)
    else:  # heif
        import pillow_heif

        pillow_heif.from_pillow(im).save(buf, quality=q, chroma=420)
    return buf.getvalue()


def decode_reference(key: str, data: bytes) -> Tensor:
    """Decode bytes written by :func:`encode_reference`; ``(3, H, W)`` float32 in [0, 1] (8-bit values).

    Raises:
        ConfigError: unknown codec or the (optional) decoder is not available.
    """
    ref = _reference(key)
    reason = reference_unavailable_reason(ref.key)
    if reason is not None:
        raise ConfigError(reason)
    if ref.key == "heif":
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        arr = np.asarray(heif.to_pillow().convert("RGB"))
    else:
        from PIL import Image

        if ref.key == "jxl":
            import pillow_jxl  # noqa: F401

        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(np.array(arr, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div(255.0)


def rd_points_reference(
    codec_name: str,
    qualities: Sequence[int] | None,
    images: ImagesArg,
    on_skip: Callable[[str], None] | None = None,
) -> list[RDPoint]:
    """R–D points of a reference codec, one per quality, from the real encoded bytes (decoded back to score).

    Args:
        codec_name: ``jpeg``, ``webp``, ``jxl`` or ``heif``.
        qualities: Qualities to sweep; ``None`` = the codec's defaults.
        images: See :func:`as_named_images`.
        on_skip: Called with a one-line note when the (optional) encoder is not installed; the result is then
            empty. Default: the note is issued as a :class:`RuntimeWarning`.

    Returns:
        One :class:`RDPoint` per quality (``bpp_estimated`` and ``psnr_no_quant`` are ``None``), or ``[]`` if the
        encoder is missing.

    Raises:
        ConfigError: unknown codec or a quality outside its range.
    """
    ref = _reference(codec_name)
    qs = [_check_quality(ref, q) for q in (ref.default_qualities if qualities is None else qualities)]
    reason = reference_unavailable_reason(ref.key)
    if reason is not None:
        if on_skip is not None:
            on_skip(reason)
        else:
            import warnings

            warnings.warn(reason, RuntimeWarning, stacklevel=2)
        return []
    named = as_named_images(images)
    points: list[RDPoint] = []
    for q in qs:
        rows: list[RDImageRow] = []
        for img_name, x in named:
            h, w = int(x.shape[-2]), int(x.shape[-1])
            data = encode_reference(ref.key, x, q)
            x_hat = decode_reference(ref.key, data)
            if tuple(x_hat.shape) != tuple(x.shape):
                raise ConfigError(f"{ref.key} q{q}: decoded {tuple(x_hat.shape)} for an image of {tuple(x.shape)}")
            p, m = _scores(x_hat, x)
            rows.append(
                RDImageRow(
                    image=img_name,
                    height=h,
                    width=w,
                    num_bytes=len(data),
                    bpp_real=8.0 * len(data) / (h * w),
                    bpp_estimated=None,
                    psnr_rgb=p,
                    ms_ssim=m,
                    psnr_no_quant=None,
                )
            )
        points.append(_aggregate(ref.key, q, rows, settings=ref.settings))
    return points


def rd_csv_text(points: Sequence[RDPoint]) -> str:
    """The R–D CSV: a header of :data:`CSV_COLUMNS` and one row per point (method × quality)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for p in points:
        writer.writerow(p.csv_row())
    return buf.getvalue()


def per_image_csv_text(points: Sequence[RDPoint]) -> str:
    """Per-image rows of every point: ``method, quality, image, height, width, num_bytes`` and the metrics."""
    cols = ["method", "quality", "image", "height", "width", "num_bytes", *CSV_COLUMNS[2:]]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for p in points:
        for r in p.per_image:
            values = {
                "method": p.name,
                "quality": "" if p.quality is None else p.quality,
                "image": r.image,
                "height": r.height,
                "width": r.width,
                "num_bytes": r.num_bytes,
                "bpp_real": r.bpp_real,
                "bpp_est": r.bpp_estimated,
                "psnr_rgb": r.psnr_rgb,
                "ms_ssim": r.ms_ssim,
                "psnr_no_quant": r.psnr_no_quant,
            }
            writer.writerow({k: _fmt_cell(v) for k, v in values.items()})
    return buf.getvalue()
