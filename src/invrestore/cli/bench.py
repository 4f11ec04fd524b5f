"""``invrestore bench``: IRN with lossless codecs (``codecs``), IRN + JPEG + CRM (``jpeg-rd``), learned codecs (``rd``).

``bench codecs`` reproduces the protocol of IRN's Table 14 (``docs/compression.md``): per scale, the total bytes of
the LR images in each lossless codec and the mean 8-bit RGB PSNR of the restored HR, for IRN (when weights are
given) and bicubic down/up, plus JPEG on the HR image at the quality whose mean PSNR is closest to each method's.
Bytes are the lengths of the real encoded bitstreams (codec bytes only; no container). IRN runs through its
:class:`~invrestore.api.Rescaler`.

``bench jpeg-rd`` computes the lossy R–D curves of IRN's Fig. 9 (IRN + JPEG (+ CRM), bicubic + JPEG (+ CRM), JPEG
alone) with :func:`invrestore.evaluation.jpeg_rd.jpeg_rd_points`; the JPEG files are kept and measured on disk.

``bench rd`` is :mod:`invrestore.cli.rd`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch

from invrestore.errors import ConfigError

__all__ = ["bench"]


# -- bench codecs ---------------------------------------------------------------------------------------------------
def _parse_weights(spec: str | None) -> dict[str, str]:
    from invrestore.cli.rd import key_value_pairs

    return dict(key_value_pairs(spec, "--model-weights expects MODEL=WEIGHTS[,MODEL=WEIGHTS]"))


def _jpeg_matched(
    hrs: list[np.ndarray], target: float, subsampling: str, cache: dict[int, tuple[int, float]]
) -> tuple[int, int, float]:
    """The JPEG quality in 1..100 whose mean PSNR is closest to ``target``: ``(q, total bytes, mean PSNR)``.

    Mean PSNR rises with q (not strictly for every q), so a bisection for the first q reaching ``target`` is
    followed by a comparison of that q and its neighbour below.
    """
    from invrestore.codecs import decode, encode_jpeg
    from invrestore.evaluation.jpeg_rd import psnr_u8

    def at(q: int) -> tuple[int, float]:
        if q not in cache:
            total, ps = 0, []
            for hr in hrs:
                data = encode_jpeg(hr, q, subsampling)
                total += len(data)
                ps.append(psnr_u8(decode(data, "jpeg", hr.shape[2] if hr.ndim == 3 else 1), hr))
            cache[q] = (total, float(np.mean(ps)))
        return cache[q]

    lo, hi = 1, 100
    while lo < hi:
        mid = (lo + hi) // 2
        if at(mid)[1] >= target:
            hi = mid
        else:
            lo = mid + 1
    best = min({lo, max(lo - 1, 1)}, key=lambda q: (abs(at(q)[1] - target), q))
    return best, *at(best)


@click.group("bench")
def bench() -> None:
    """Benchmarks: IRN with lossless codecs (`codecs`), IRN + JPEG + CRM (`jpeg-rd`), learned codecs (`rd`)."""


def _attach_rd() -> None:
    from invrestore.cli.rd import rd_cmd

    bench.add_command(rd_cmd)


_attach_rd()


@bench.command("codecs")
@click.option("--dataset", default="Kodak24", show_default=True, help="Registered dataset.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Data root.")
@click.option("--scale", "scales", default="2,4", show_default=True, help="Comma-separated scales.")
@click.option(
    "--model-weights",
    default=None,
    help="IRN weights per model, e.g. irn-x2=W2.pth,irn-x4=shipped (the weights shipped in the package).",
)
@click.option("--codecs", "codec_list", default="png,webp,jxl", show_default=True, help="Lossless codecs.")
@click.option("--subsampling", type=click.Choice(["4:2:0", "4:2:2", "4:4:4"]), default="4:2:0", show_default=True)
@click.option("--limit", type=int, default=0, help="Use the first N images only (0 = all).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of IRN's random z.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), required=True, help="Output CSV.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also a PNG plot (needs matplotlib; default: next to the CSV).",
)
def bench_codecs(
    dataset: str,
    data_root: str | None,
    scales: str,
    model_weights: str | None,
    codec_list: str,
    subsampling: str,
    limit: int,
    seed: int,
    csv_path: str,
    plot_path: str | None,
) -> None:
    """IRN/bicubic LR + lossless codecs vs JPEG at matched PSNR (IRN Table 14 protocol, RGB PSNR, total bytes)."""
    from invrestore.api import load_rescaler
    from invrestore.codecs import FLIF_NOTE, describe, encode_lossless, jxl_available
    from invrestore.data import ImageFolder, modcrop, resolve_dataset
    from invrestore.degradations.rescaling import BicubicMethod
    from invrestore.evaluation.jpeg_rd import psnr_u8
    from invrestore.io import atomic_write, to_uint8

    codecs = [c.strip() for c in codec_list.split(",") if c.strip()]
    for c in codecs:
        if c not in ("png", "webp", "jxl"):
            raise ConfigError(f"unknown lossless codec {c!r}; choose from png, webp, jxl ({FLIF_NOTE})")
    if "jxl" in codecs and not jxl_available():
        click.echo("note: pillow-jxl-plugin is not installed; skipping JPEG XL (pip install pillow-jxl-plugin)")
        codecs.remove("jxl")
    if "jxl" in codecs:
        click.echo(f"note: {FLIF_NOTE}")
    try:
        scale_list = [int(s) for s in scales.split(",") if s.strip()]
    except ValueError as e:
        raise ConfigError(f"--scale expects integers like 2,4, got {scales!r}") from e
    weights = _parse_weights(model_weights)
    files = list(resolve_dataset(dataset, data_root).files)
    if limit:
        files = files[:limit]
    images = ImageFolder(files, mode="rgb")
    rows: list[dict[str, Any]] = []

    def add(scale: int, method: str, codec: str, enc: str, total: int, pixels: int, p: float, **extra: Any) -> None:
        rows.append(
            {
                "scale": scale,
                "method": method,
                "codec": codec,
                "encoder": enc,
                "images": len(files),
                "total_bytes": total,
                "total_MB": round(total / 1e6, 4),
                "bpp": round(8 * total / pixels, 4),
                "psnr_rgb": round(p, 3),
                "jpeg_quality": extra.get("q", ""),
                "matched_to": extra.get("matched", ""),
            }
        )
        click.echo(f"×{scale} {method:>8} + {codec:<5} {total / 1e6:9.3f} MB  {p:6.2f} dB  {extra.get('q', '')}")

    for s in scale_list:
        hrs = [modcrop(images.load(i), s) for i in range(len(images))]
        hr_u8 = [to_uint8(x) for x in hrs]
        pixels = sum(x.shape[-2] * x.shape[-1] for x in hrs)
        methods: list[tuple[str, Any]] = [("bicubic", None)]
        name = f"irn-x{s}"
        if name in weights:
            w = weights[name]
            irn = load_rescaler(name, None if w == "shipped" else w)
            irn.tile = None  # whole images, as the protocol
            methods.insert(0, ("irn", irn))
        jpeg_cache: dict[int, tuple[int, float]] = {}
        for label, net in methods:
            totals = dict.fromkeys(codecs, 0)
            ps: list[float] = []
            for x, ref in zip(hrs, hr_u8, strict=True):
                with torch.no_grad():
                    if net is None:
                        bic = BicubicMethod()
                        lr = to_uint8(bic.downscale(x.unsqueeze(0), s)[0])
                        lr_t = torch.from_numpy(lr.astype(np.float32) / 255).permute(2, 0, 1)
                        up = bic.upscale(lr_t.unsqueeze(0), s)[0]
                    else:
                        y, _ = net.downscale(x)
                        lr = to_uint8(y)
                        lr_t = torch.from_numpy(lr.astype(np.float32) / 255).permute(2, 0, 1)
                        up = net.upscale(lr_t, generator=torch.Generator().manual_seed(seed))
                for c in codecs:
                    totals[c] += len(encode_lossless(lr, c))
                ps.append(psnr_u8(to_uint8(up), ref))
            mean_p = float(np.mean(ps))
            for c in codecs:
                add(s, label, c, describe(c), totals[c], pixels, mean_p)
            q, jb, jp = _jpeg_matched(hr_u8, mean_p, subsampling, jpeg_cache)
            add(s, "jpeg", "jpeg", describe("jpeg", q, subsampling), jb, pixels, jp, q=q, matched=label)
    fields = list(rows[0]) if rows else ["scale"]
    with atomic_write(csv_path, "wb") as fh:
        text = _csv_text(rows, fields)
        fh.write(text.encode())
    click.echo(f"wrote {csv_path} ({len(rows)} rows)")
    _maybe_plot(rows, Path(plot_path) if plot_path else Path(csv_path).with_suffix(".png"))


def _csv_text(rows: list[dict[str, Any]], fields: list[str]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _maybe_plot(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        click.echo("note: matplotlib is not installed; no plot written (the CSV has all numbers)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        ax.scatter(r["bpp"], r["psnr_rgb"], label=f"×{r['scale']} {r['method']}+{r['codec']}")
    ax.set_xlabel("bpp (of the HR image)")
    ax.set_ylabel("PSNR RGB (dB)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    click.echo(f"wrote {path}")


# -- bench jpeg-rd --------------------------------------------------------------------------------------------------
def _parse_quality_list(text: str, option: str) -> list[int]:
    """``"10,20,30"`` (or ``"10-90:10"`` for 10, 20, …, 90) → sorted distinct qualities in 1..100."""
    from invrestore.evaluation.jpeg_rd import check_qualities

    values: list[int] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            if "-" in item.lstrip("-"):
                span, _, step = item.partition(":")
                lo, hi = (int(v) for v in span.split("-", 1))
                values += list(range(lo, hi + 1, int(step) if step else 1))
            else:
                values.append(int(item))
        except ValueError:
            raise ConfigError(f"{option} expects qualities like 10,20,30 or 10-90:10, got {item!r}") from None
    if not values:
        raise ConfigError(f"{option}: no quality in {text!r}")
    return check_qualities(values, f"{option}: JPEG quality")


def _parse_crm_specs(spec: str | None, option: str) -> dict[int, str]:
    """``"90=crm90.safetensors,50=crm50.safetensors"`` → ``{90: "crm90.safetensors", 50: ...}``."""
    from invrestore.cli.rd import key_value_pairs
    from invrestore.evaluation.jpeg_rd import check_qualities

    out: dict[int, str] = {}
    expected = f"{option} expects QUALITY=WEIGHTS[,QUALITY=WEIGHTS] (e.g. 90=crm-q90.safetensors)"
    for q_text, path in key_value_pairs(spec, expected):
        try:
            q = int(q_text)
        except ValueError:
            raise ConfigError(f"{option}: {q_text!r} is not a JPEG quality (in '{q_text}={path}')") from None
        q = check_qualities([q], f"{option}: JPEG quality")[0]
        if q in out:
            raise ConfigError(f"{option} gives two CRMs for quality {q}")
        out[q] = path
    return out


@bench.command("jpeg-rd")
@click.option("--dataset", default="Kodak24", show_default=True, help="Registered dataset.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Data root.")
@click.option("--scale", type=click.IntRange(min=2), default=2, show_default=True, help="Rescaling factor.")
@click.option(
    "--qualities",
    default="10,20,30,40,50,60,70,80,90",
    show_default=True,
    help="JPEG qualities of the LR (IRN and bicubic methods): 10,20,30 or 10-90:10.",
)
@click.option(
    "--hr-qualities",
    default="5-95:5",
    show_default=True,
    help="JPEG qualities of the HR itself (the `jpeg` curve); 'none' for no JPEG rows.",
)
@click.option("--irn", "irn_name", default=None, help="IRN model (default: irn-x<scale>).")
@click.option(
    "--irn-weights",
    default=None,
    help="IRN weights: a file, or 'shipped' for those in the package. Omitted: no IRN rows.",
)
@click.option(
    "--crm",
    "crm_spec",
    default=None,
    metavar="Q=PATH[,Q=PATH]",
    help="CRM per LR quality for IRN: a weights file or a shipped name (90=crm-q90, for irn-x2 / irn-x2-noise).",
)
@click.option(
    "--bicubic-crm",
    "bicubic_crm_spec",
    default=None,
    metavar="Q=PATH[,Q=PATH]",
    help="CRM per LR quality trained on the bicubic LR (model.lr_source: bicubic): a weights file.",
)
@click.option("--subsampling", type=click.Choice(["4:2:0", "4:2:2", "4:4:4"]), default="4:2:0", show_default=True)
@click.option("--limit", type=click.IntRange(min=0), default=0, help="Use the first N images only (0 = all).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of IRN's random z (the same per image).")
@click.option("--device", default="cpu", show_default=True, help="Device of the networks (cpu, cuda, ...).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Folder of the JPEG files.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), required=True, help="Output CSV.")
@click.option("--per-image-csv", type=click.Path(dir_okay=False), default=None, help="Also per-image rows.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="PNG plot of PSNR vs bpp (needs matplotlib; default: next to the CSV).",
)
def bench_jpeg_rd(
    dataset: str,
    data_root: str | None,
    scale: int,
    qualities: str,
    hr_qualities: str,
    irn_name: str | None,
    irn_weights: str | None,
    crm_spec: str | None,
    bicubic_crm_spec: str | None,
    subsampling: str,
    limit: int,
    seed: int,
    device: str,
    out_dir: str,
    csv_path: str,
    per_image_csv: str | None,
    plot_path: str | None,
) -> None:
    """IRN + JPEG (+ CRM) vs bicubic + JPEG (+ CRM) vs JPEG: R–D points from real JPEG files (IRN Fig. 9).

    Every JPEG is kept as OUT/METHOD/qQ/STEM.jpg; bpp = 8 · Σ file sizes / Σ HR pixels, and the RGB PSNR of the
    8-bit output (decoded from the file) against the 8-bit HR is averaged over the images.
    """
    from types import SimpleNamespace

    from invrestore.api import load_rescaler
    from invrestore.batch import progress, progress_enabled
    from invrestore.cli.rd import write_rd_plot
    from invrestore.data import ImageFolder, modcrop, resolve_dataset
    from invrestore.evaluation.jpeg_rd import CSV_COLUMNS, PER_IMAGE_COLUMNS, jpeg_rd_points
    from invrestore.io import atomic_write
    from invrestore.models.irn.crm import load_crm

    # everything is checked and loaded before any file is written
    qs = _parse_quality_list(qualities, "--qualities")
    hr_qs = [] if hr_qualities.strip().lower() == "none" else _parse_quality_list(hr_qualities, "--hr-qualities")
    crm_paths = _parse_crm_specs(crm_spec, "--crm")
    bic_paths = _parse_crm_specs(bicubic_crm_spec, "--bicubic-crm")
    if crm_paths and irn_weights is None:
        raise ConfigError("--crm needs --irn-weights (the IRN whose LR the CRM restores; 'shipped' for ours)")
    plot_file = Path(plot_path) if plot_path else Path(csv_path).with_suffix(".png")
    for path in (csv_path, per_image_csv, plot_file):
        if path is not None and not Path(path).parent.is_dir():
            raise ConfigError(f"cannot write '{path}': folder '{Path(path).parent}' does not exist")
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ConfigError(f"--out '{out_dir}' exists and is not a folder")
    files = list(resolve_dataset(dataset, data_root).files)
    if limit:
        files = files[:limit]
    name = irn_name or f"irn-x{scale}"
    irn = None
    if irn_weights is not None:
        irn = load_rescaler(name, None if irn_weights == "shipped" else irn_weights).model
        if irn.scale != scale:
            raise ConfigError(f"{name} rescales by {irn.scale}, not by --scale {scale}")
    crms = {q: load_crm(p) for q, p in crm_paths.items()}
    bic_crms = {q: load_crm(p) for q, p in bic_paths.items()}
    images = ImageFolder(files, mode="rgb")
    named = [(Path(f).stem, modcrop(images.load(i), scale)) for i, f in enumerate(files)]
    click.echo(f"{dataset}: {len(named)} images, ×{scale}, JPEG {subsampling}; files under {out_dir}")
    if irn is None:
        click.echo("note: no --irn-weights; IRN rows skipped")

    points = jpeg_rd_points(
        named,
        out_dir,
        scale=scale,
        qualities=qs,
        hr_qualities=hr_qs,
        irn=irn,
        crms=crms,
        bicubic_crms=bic_crms,
        subsampling=subsampling,
        seed=seed,
        device=device,
        progress=lambda items: progress(items, "jpeg-rd", enabled=progress_enabled(None)),
    )
    click.echo(f"{'method':<17} {'q':>3} {'total bytes':>12} {'bpp':>8} {'PSNR':>7}")
    for p in points:
        click.echo(f"{p.method:<17} {p.quality:>3} {p.total_bytes:>12,} {p.bpp:>8.4f} {p.psnr_rgb:>7.2f}")
    with atomic_write(csv_path) as fh:
        fh.write(_csv_text([p.csv_row() for p in points], list(CSV_COLUMNS)).encode())
    click.echo(f"wrote {csv_path} ({len(points)} rows)")
    if per_image_csv:
        rows = [r for p in points for r in p.per_image_rows()]
        with atomic_write(per_image_csv) as fh:
            fh.write(_csv_text(rows, list(PER_IMAGE_COLUMNS)).encode())
        click.echo(f"wrote {per_image_csv}")
    curves = [SimpleNamespace(name=p.method, bpp_real=p.bpp, psnr_rgb=p.psnr_rgb, psnr_no_quant=None) for p in points]
    note = write_rd_plot(curves, plot_file)
    click.echo(f"note: {note}" if note else f"wrote {plot_file}")
