"""``invrestore downscale`` / ``upscale`` / ``decolorize`` / ``colorize``: IRN as a tool on image files.

``downscale`` writes 8-bit RGB PNG LR images whose PNG text records the model, the scale, the original size (as
``HxW``) and the original channel count; ``upscale`` restores them, refusing (unless ``--force``) an LR image whose
metadata names another model or scale. Every metadata field is validated before anything is written. Any size
works (reflect padding to a multiple of the scale, cropped back; large images are tiled, see ``docs/tiling.md``).

Grayscale inputs run as RGB; their LR keeps all three channels (averaging them to one would lose what IRN encodes
in the colour channels, about 5 dB at ×2) and records ``channels=1``, so ``upscale`` returns a grayscale image.
RGBA inputs lose their alpha. Upscaling draws ``z`` from a :class:`~invrestore.tiling.ZField` seeded by ``--seed``:
the same seed gives the same image whether or not it is tiled.

Batch semantics (inputs as files, folders, globs; ``--resume``; ``torchrun``) are those of :mod:`invrestore.batch`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import torch

from invrestore.batch import Inference, Job, Plan, pixel_limit, plan_batch
from invrestore.errors import ConfigError, ImageReadError
from invrestore.inference.lr_meta import META_MODEL, lr_meta, parse_lr_meta, read_lr_meta

if TYPE_CHECKING:
    from invrestore.inference.rescaler import ImageRescaler

F = TypeVar("F", bound=Callable[..., Any])

BATCH_HELP = (
    "IMAGES are files, folders and quoted glob patterns ('dir/*.png', 'dir/**/*.jpg'). All headers and output "
    "names are checked before anything is written; an image that fails later is reported, the others are written, "
    "and the command exits 1 after a summary. Under torchrun each process takes its own shard."
)


# -- options shared by the file commands ---------------------------------------------------------------------
def batch_options(f: F) -> F:
    """``--resume``, ``--recursive``, ``--progress/--no-progress`` and ``--max-pixels``."""
    for opt in reversed(
        [
            click.option("--resume", is_flag=True, help="Skip inputs whose output file already exists."),
            click.option("--recursive", is_flag=True, help="Take images from sub-folders of folder inputs too."),
            click.option(
                "--progress/--no-progress",
                default=None,
                help="Progress bars on stderr (over images, and over tiles of a single image) [default: on a TTY].",
            ),
            click.option(
                "--max-pixels",
                type=click.IntRange(min=1),
                default=None,
                help="Refuse input images with more pixels than this (a safety limit on untrusted files; there is "
                "no memory limit: large images are tiled).",
            ),
        ]
    ):
        f = opt(f)
    return f


def inference_options(f: F) -> F:
    """``--device``, ``--tile``, ``--tile-overlap``, ``--max-memory``, ``--compile``, ``--precision``."""
    for opt in reversed(
        [
            click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps."),
            click.option(
                "--tile",
                default="auto",
                show_default=True,
                help="Tile side in pixels of the model's input (LR pixels for upscale); auto: tile only when the "
                "whole image would exceed --max-memory; 0: never tile.",
            ),
            click.option(
                "--tile-overlap",
                default="auto",
                show_default=True,
                help="Pixels of context around each tile (auto: the model's measured receptive field).",
            ),
            click.option(
                "--max-memory",
                default="auto",
                show_default=True,
                help="Memory budget of the model's activations, e.g. 2GB, 512MiB (auto: half the free memory, at "
                "most 768 MiB on the CPU).",
            ),
            click.option(
                "--compile",
                "compile_",
                is_flag=True,
                help="Fast path, the measured fastest that stays within 1e-4 of the default path (FastOptions.preset "
                "'fast'): on CPU fused DenseBlocks + channels-last, on CUDA torch.compile + CUDA graphs (the first "
                "image of each size pays the compilation).",
            ),
            click.option(
                "--precision",
                type=click.Choice(["float32", "bfloat16", "float16"]),
                default="float32",
                show_default=True,
                help="Precision of the convolutions (IRN's coupling arithmetic stays float32).",
            ),
        ]
    ):
        f = opt(f)
    return f


def make_inference(kw: dict[str, Any]) -> Inference:
    """The :class:`Inference` settings from the options of :func:`inference_options` and :func:`batch_options`."""
    return Inference.from_options(
        device=kw["device"],
        tile=kw["tile"],
        tile_overlap=kw["tile_overlap"],
        max_memory=kw["max_memory"],
        compile=kw["compile_"],
        precision=kw["precision"],
        progress=kw["progress"],
    )


def make_plan(
    images: tuple[str, ...], output: str, kw: dict[str, Any], desc: str, *, exts: tuple[str, ...] | None = None
) -> Plan:
    """Expand, validate, shard and resume-filter the batch (see :mod:`invrestore.batch`)."""
    from invrestore.batch import IMAGE_EXTS

    return plan_batch(
        images,
        output,
        desc=desc,
        exts=exts or IMAGE_EXTS,
        resume=kw["resume"],
        recursive=kw["recursive"],
        max_pixels=kw.get("max_pixels"),
    )


def wxh(w: int, h: int) -> str:
    """A size as users read it: width × height."""
    return f"{w}×{h}"


def run_plan(plan: Plan, work: Callable[[Job], str | None], inf: Inference) -> None:
    """Process this rank's jobs (output folder created on first write, removed again if left empty), each under
    ``torch.inference_mode`` (the fast paths return inference tensors)."""

    def guarded(job: Job) -> str | None:
        with torch.inference_mode():
            return work(job)

    try:
        if plan.jobs:
            plan.out_dir.ensure()
        with pixel_limit(plan.max_pixels):
            plan.report.run(plan.jobs, guarded, show_progress=inf.show_progress)
    finally:
        plan.out_dir.close()
    plan.report.finish()


def tile_progress(plan: Plan, inf: Inference) -> bool:
    """Show a bar over tiles when the batch has one image (a bar over images otherwise)."""
    return inf.show_progress and len(plan.jobs) == 1


# -- models ------------------------------------------------------------------------------------------------------
def load_rescaler(model: str, weights: str | None, inf: Inference, *, color: bool = False) -> ImageRescaler:
    """The rescaler ``model`` (shipped weights unless ``weights``) with the command's device, tiling and fast path
    (:func:`invrestore.api.load_rescaler`); tile bars only for a single image."""
    from invrestore.api import load_rescaler as load

    m = load(model, weights, device=inf.device, color=color)
    m.configure(inf)
    return m


# -- downscale ---------------------------------------------------------------------------------------------------
@click.command("downscale", epilog=BATCH_HELP)
@click.argument("images", nargs=-1, required=True)
@click.option("--model", default="irn-x4", show_default=True, help="IRN model (irn-x2, irn-x4, ...).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@batch_options
@inference_options
def downscale(images: tuple[str, ...], model: str, weights: str | None, output: str, **kw: Any) -> None:
    """Downscale IMAGES with IRN into 8-bit PNG LR images (with metadata for `invrestore upscale`)."""
    from invrestore.io import read_image, write_image

    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "downscale")
    m = load_rescaler(model, weights, inf)
    m.progress = tile_progress(plan, inf)

    def work(job: Job) -> str:
        x = read_image(job.src)  # (C,H,W); alpha dropped; grey runs as RGB
        c, h, w = x.shape
        lr, _ = m.downscale(x)
        write_image(job.dst, lr, text=lr_meta(model, m.scale, (h, w), c))
        tiled = f", {m.last_tile}px tiles" if m.last_tile else ""
        return f"{job.src} ({wxh(w, h)}) -> {job.dst} ({wxh(lr.shape[-1], lr.shape[-2])}{tiled})"

    run_plan(plan, work, inf)


# -- upscale -----------------------------------------------------------------------------------------------------
def _temperature(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"--temperature must be a finite number > 0, not {value} (use --z zero for z = 0)")
    return value


SEED_RANGE = click.IntRange(0, 2**63 - 1)


@click.command("upscale", epilog=BATCH_HELP)
@click.argument("images", nargs=-1, required=True)
@click.option("--model", default=None, help="IRN model (default: the one recorded in the LR image).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--z", "z_mode", type=click.Choice(["random", "zero"]), default="random", show_default=True)
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Scale of the random z (> 0).")
@click.option("--seed", type=SEED_RANGE, default=0, show_default=True, help="Seed of the random z (per image).")
@click.option("--force", is_flag=True, help="Upscale even if the LR image records another model or scale.")
@batch_options
@inference_options
def upscale(
    images: tuple[str, ...],
    model: str | None,
    weights: str | None,
    output: str,
    z_mode: str,
    temperature: float,
    seed: int,
    force: bool,
    **kw: Any,
) -> None:
    """Restore HR images from LR images written by `invrestore downscale`."""
    from invrestore.inference.images import to_channels
    from invrestore.io import read_image, write_image
    from invrestore.tiling import ZField

    _temperature(temperature)
    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "upscale", exts=(".png",))
    infos: dict[Path, tuple[str, dict[str, Any]]] = {}
    for job in plan.all_jobs:  # check everything before writing anything
        meta = parse_lr_meta(job.src, read_lr_meta(job.src), (job.size[1], job.size[0]))
        recorded = meta.get("model")
        name = model or recorded
        if name is None:
            raise ConfigError(
                f"{job.src} has no invrestore metadata (not written by `invrestore downscale`); "
                "IRN can only restore its own LR images — pass --model to try anyway"
            )
        if recorded is not None and model is not None and recorded != model and not force:
            raise ConfigError(f"{job.src} was downscaled by {recorded}, not {model}; use --force to upscale anyway")
        infos[job.src] = (name, meta)
    rescalers: dict[str, ImageRescaler] = {}

    def work(job: Job) -> str:
        name, meta = infos[job.src]
        if name not in rescalers:
            rescalers[name] = load_rescaler(name, weights, inf)
            rescalers[name].progress = tile_progress(plan, inf)
        m = rescalers[name]
        s = m.scale
        if meta.get("scale", s) != s and not force:
            raise ConfigError(f"{job.src} records scale {meta['scale']} but {name} rescales by {s}")
        y = read_image(job.src, mode="rgb")
        lh, lw = y.shape[-2:]
        h, w = meta["size"] if "size" in meta and meta.get("scale", s) == s else (lh * s, lw * s)
        zf = ZField(m.z_channels, seed, temperature=temperature, mode=z_mode)  # type: ignore[arg-type]
        x = to_channels(m.upscale(y, zf, size=(h, w)), meta.get("channels", 3))
        write_image(job.dst, x)
        tiled = f", {m.last_tile}px tiles" if m.last_tile else ""
        return f"{job.src} ({wxh(lw, lh)}) -> {job.dst} ({wxh(w, h)}{tiled})"

    run_plan(plan, work, inf)


# -- decolorize / colorize ---------------------------------------------------------------------------------------
def _header_is_gray(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")
    except OSError as e:
        raise ImageReadError(path, str(e) or "not a recognised image") from e


@click.command("decolorize", epilog=BATCH_HELP)
@click.argument("images", nargs=-1, required=True)
@click.option("--model", default="irn-color", show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@batch_options
@inference_options
def decolorize(images: tuple[str, ...], model: str, weights: str | None, output: str, **kw: Any) -> None:
    """Turn colour IMAGES into 8-bit grayscale PNGs that `invrestore colorize` turns back into colour."""
    from invrestore.io import read_image, write_image

    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "decolorize")
    for job in plan.all_jobs:  # refuse gray inputs before writing anything
        if _header_is_gray(job.src):
            raise ConfigError(f"{job.src} is already grayscale: there is no colour to decolorize")
    m = load_rescaler(model, weights, inf, color=True)
    m.progress = tile_progress(plan, inf)

    def work(job: Job) -> str:
        x = read_image(job.src)
        if x.shape[0] == 1:
            raise ConfigError(f"{job.src} is already grayscale: there is no colour to decolorize")
        gray, _ = m.downscale(x)
        write_image(job.dst, gray, text=lr_meta(model, None, (x.shape[1], x.shape[2]), 3))
        tiled = f", {m.last_tile}px tiles" if m.last_tile else ""
        return f"{job.src} ({wxh(x.shape[2], x.shape[1])}) -> {job.dst} (gray{tiled})"

    run_plan(plan, work, inf)


@click.command("colorize", epilog=BATCH_HELP)
@click.argument("images", nargs=-1, required=True)
@click.option("--model", default=None, help="Model (default: the one recorded in the gray image).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--force", is_flag=True, help="Colorize gray images that `invrestore decolorize` did not write.")
@batch_options
@inference_options
def colorize(
    images: tuple[str, ...], model: str | None, weights: str | None, output: str, force: bool, **kw: Any
) -> None:
    """Restore colour images from grayscale PNGs written by `invrestore decolorize` (z = 0, as the paper)."""
    from invrestore.io import read_image, write_image
    from invrestore.tiling import ZField

    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "colorize", exts=(".png",))
    recorded_names: list[str] = []
    for job in plan.all_jobs:
        recorded = read_lr_meta(job.src).get(META_MODEL)
        if recorded is not None and not recorded.startswith("irn-color"):
            raise ImageReadError(job.src, f"its metadata field {META_MODEL}={recorded!r} is not a colorization model")
        if recorded is None and not force:
            raise ConfigError(
                f"{job.src} was not written by `invrestore decolorize`; use --force to colorize it anyway"
            )
        if recorded is not None and model is not None and recorded != model and not force:
            raise ConfigError(f"{job.src} was decolorized by {recorded}, not {model}; use --force to colorize anyway")
        if recorded is not None:
            recorded_names.append(recorded)
    name = model or (recorded_names[0] if recorded_names else "irn-color")
    m = load_rescaler(name, weights, inf, color=True)
    m.progress = tile_progress(plan, inf)
    zero = ZField(m.z_channels, 0, mode="zero")

    def work(job: Job) -> str:
        gray = read_image(job.src, mode="gray")
        write_image(job.dst, m.upscale(gray, zero))
        tiled = f", {m.last_tile}px tiles" if m.last_tile else ""
        return f"{job.src} ({wxh(gray.shape[-1], gray.shape[-2])}) -> {job.dst} (colour{tiled})"

    run_plan(plan, work, inf)
