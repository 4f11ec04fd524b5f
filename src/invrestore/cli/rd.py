"""``invrestore bench rd``: rate–distortion curves of learned codecs and standard codecs on a dataset.

Attach :data:`rd_cmd` to the ``bench`` group (``bench.add_command(rd_cmd)``). The protocol and the reference
encoders' settings are those of :mod:`invrestore.evaluation.rd`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from invrestore.errors import ConfigError

__all__ = ["key_value_pairs", "parse_model_specs", "parse_qualities", "rd_cmd", "write_rd_plot"]


def key_value_pairs(spec: str | None, expected: str) -> list[tuple[str, str]]:
    """``"a=x, b=y"`` → ``[("a", "x"), ("b", "y")]`` (blank items skipped, both sides stripped).

    Raises:
        ConfigError: an item without ``=`` or with an empty side; the message is ``f"{expected}, got {item!r}"``.
    """
    out: list[tuple[str, str]] = []
    for item in (s.strip() for s in (spec or "").split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{expected}, got {item!r}")
        out.append((key.strip(), value.strip()))
    return out


def parse_model_specs(specs: Sequence[str]) -> list[tuple[str, str | None]]:
    """``["ilc-q3=w.safetensors", "ilc-small-q1", ...]`` → ``[("ilc-q3", "w.safetensors"), ("ilc-small-q1", None),
    ...]`` (also comma-separated). A bare name stands for the codec's shipped weights.

    Raises:
        ConfigError: an entry is malformed, or a bare name has no shipped weights.
    """
    from invrestore.models.registry import MODELS, list_models

    expected = "--models expects NAME=WEIGHTS (e.g. ilc-q3=ilc-q3.safetensors) or the name of a shipped codec"
    out: list[tuple[str, str | None]] = []
    for spec in specs:
        for item in (s.strip() for s in spec.split(",")):
            if not item:
                continue
            if "=" in item:
                out += key_value_pairs(item, expected)
                continue
            list_models()
            entry = MODELS.get(item)
            if entry is None or entry.pretrained is None or entry.family != "ilc":
                shipped = [n for n in list_models("ilc") if MODELS[n].pretrained]
                raise ConfigError(
                    f"{expected}; no weights ship with '{item}' (codecs with shipped weights: "
                    f"{', '.join(shipped) or 'none'})"
                )
            out.append((item, None))
    return out


def parse_qualities(specs: Sequence[str], references: Sequence[str]) -> dict[str, list[int] | None]:
    """Qualities per reference codec from ``--qualities`` values.

    ``"10,30,50"`` applies to every reference without its own list; ``"jpeg=10,20,30"`` to one codec (repeat the
    option for several). Codecs not mentioned get ``None`` (their default sweep).

    Raises:
        ConfigError: malformed list or a codec that is not among ``references``.
    """
    common: list[int] | None = None
    own: dict[str, list[int]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        target = key.strip().lower() if sep else None
        text = values if sep else spec
        try:
            qs = [int(v) for v in text.replace(" ", "").split(",") if v]
        except ValueError:
            raise ConfigError(f"--qualities expects integers like 10,30,50 or jpeg=10,30,50, got '{spec}'") from None
        if not qs:
            raise ConfigError(f"--qualities: empty list in '{spec}'")
        if target is None:
            common = qs
        elif target not in references:
            raise ConfigError(f"--qualities names '{target}', which is not in --references ({', '.join(references)})")
        else:
            own[target] = qs
    return {r: own.get(r, common) for r in references}


def write_rd_plot(points: Sequence[Any], path: Path) -> str | None:
    """PSNR-RGB vs real bpp, one curve per method, as a PNG; returns a note instead if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"matplotlib is not installed; no plot written to {path} (the CSV has the numbers)"
    from invrestore.io import atomic_write

    fig, ax = plt.subplots(figsize=(7, 5))
    methods: dict[str, list[Any]] = {}
    for p in points:
        methods.setdefault(p.name, []).append(p)
    for name, pts in methods.items():
        pts = sorted(pts, key=lambda p: p.bpp_real)
        ax.plot([p.bpp_real for p in pts], [p.psnr_rgb for p in pts], marker="o", label=name)
        nq = [(p.bpp_real, p.psnr_no_quant) for p in pts if p.psnr_no_quant is not None]
        if nq:
            ax.plot([b for b, _ in nq], [v for _, v in nq], marker="x", linestyle=":", label=f"{name} (no quant.)")
    ax.set_xlabel("bits per pixel (real files)")
    ax.set_ylabel("PSNR-RGB (dB, 8-bit)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    return None


def _fmt(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


@click.command("rd")
@click.option(
    "--models",
    "models",
    multiple=True,
    metavar="NAME[=WEIGHTS]",
    help="Learned codec and its weights (with coding tables), or a shipped codec by name; repeat or comma-separate, "
    "e.g. ilc-q3=w.safetensors,ilc-small-q1.",
)
@click.option("--dataset", default="Kodak24", show_default=True, help="Dataset name (see `invrestore data list`).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Data root folder.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N images.")
@click.option(
    "--references",
    default="jpeg,webp",
    show_default=True,
    help="Standard codecs to sweep: any of jpeg,webp,jxl,heif (or 'none'). Missing optional encoders are skipped.",
)
@click.option(
    "--qualities",
    multiple=True,
    metavar="LIST",
    help="Reference qualities: 10,30,50 for all, or jpeg=10,30,50 for one codec (repeatable). Default: a sweep.",
)
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), required=True, help="R–D CSV (method × quality).")
@click.option("--per-image-csv", type=click.Path(dir_okay=False), default=None, help="Also write per-image rows.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="PSNR–bpp plot (.png; needs matplotlib).")
@click.option("--no-quant/--skip-no-quant", default=True, show_default=True, help="Compute the NQ diagnostic.")
@click.option("--device", default="cpu", show_default=True, help="Device of the learned codecs (cpu, cuda, ...).")
def rd_cmd(
    models: tuple[str, ...],
    dataset: str,
    data_root: str | None,
    limit: int | None,
    references: str,
    qualities: tuple[str, ...],
    csv_out: str,
    per_image_csv: str | None,
    plot: str | None,
    no_quant: bool,
    device: str,
) -> None:
    """Rate–distortion benchmark: real-file bpp, 8-bit PSNR-RGB, MS-SSIM, estimated bpp and the "no quantisation"
    PSNR of learned codecs, against JPEG/WebP/JPEG XL/HEVC-intra at several qualities."""
    from invrestore.api import load_codec
    from invrestore.data import resolve_dataset
    from invrestore.evaluation.rd import (
        REFERENCE_CODECS,
        RDPoint,
        as_named_images,
        method_and_quality,
        per_image_csv_text,
        rd_csv_text,
        rd_points_learned,
        rd_points_reference,
    )
    from invrestore.io import atomic_write

    specs = parse_model_specs(models)
    refs = [r.strip().lower() for r in references.split(",") if r.strip() and r.strip().lower() != "none"]
    unknown = [r for r in refs if r not in REFERENCE_CODECS]
    if unknown:
        raise ConfigError(f"unknown reference codec(s) {', '.join(unknown)}; available: {', '.join(REFERENCE_CODECS)}")
    if not specs and not refs:
        raise ConfigError("nothing to benchmark: give --models NAME=WEIGHTS and/or --references")
    quality_map = parse_qualities(qualities, refs)
    for path in [csv_out, per_image_csv, plot]:
        if path is not None and not Path(path).parent.is_dir():
            raise ConfigError(f"cannot write '{path}': folder '{Path(path).parent}' does not exist")

    files = list(resolve_dataset(dataset, data_root).files)
    if limit is not None:
        files = files[:limit]
    images = as_named_images(files)
    click.echo(f"{dataset}: {len(images)} images")

    points: list[RDPoint] = []
    for name, weights in specs:
        codec = load_codec(name, weights, device=device).model
        method, quality = method_and_quality(name, Path(weights).stem if weights else None)
        click.echo(f"{name} ({weights or 'shipped weights'}) ...")
        points += rd_points_learned(codec, images, name=method, quality=quality, no_quant=no_quant)
    notes: list[str] = []
    for ref in refs:
        click.echo(f"{ref}: {REFERENCE_CODECS[ref].settings}")
        points += rd_points_reference(ref, quality_map[ref], images, on_skip=notes.append)
    for note in notes:
        click.echo(f"note: {note}")

    click.echo(f"{'method':<14} {'quality':>8} {'bpp':>8} {'bpp est':>8} {'PSNR':>7} {'MS-SSIM':>8} {'PSNR NQ':>8}")
    for p in points:
        click.echo(
            f"{p.name:<14} {'' if p.quality is None else str(p.quality):>8} {p.bpp_real:>8.4f} "
            f"{_fmt(p.bpp_estimated, 4):>8} {p.psnr_rgb:>7.2f} {_fmt(p.ms_ssim, 4):>8} {_fmt(p.psnr_no_quant, 2):>8}"
        )
    with atomic_write(csv_out) as fh:
        fh.write(rd_csv_text(points).encode())
    click.echo(f"wrote {csv_out} ({len(points)} rows)")
    if per_image_csv:
        with atomic_write(per_image_csv) as fh:
            fh.write(per_image_csv_text(points).encode())
        click.echo(f"wrote {per_image_csv}")
    if plot:
        if not points:
            click.echo(f"note: nothing to plot; {plot} not written")
        else:
            plot_note = write_rd_plot(points, Path(plot))
            click.echo(f"note: {plot_note}" if plot_note else f"wrote {plot}")
