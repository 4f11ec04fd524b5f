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
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import torch
from torch import Tensor

from invrestore.batch import Inference, Job, Plan, pixel_limit, plan_batch
from invrestore.errors import ConfigError, ImageReadError
from invrestore.imageops import pad_to_multiple
from invrestore.models.irn.model import IRN

F = TypeVar("F", bound=Callable[..., Any])

META_MODEL = "invrestore.model"
META_SCALE = "invrestore.scale"
META_SIZE = "invrestore.size"
META_CHANNELS = "invrestore.channels"

#: Largest side recorded in an LR PNG's metadata that upscale accepts (PNG's own limit is 2^31 - 1).
MAX_SIDE = 1 << 20

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
                "most 1 GiB on the CPU).",
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
def load_irn(model: str, weights: str | None) -> IRN:
    """The IRN ``model`` with ``weights`` (or its shipped weights), in eval mode."""
    from invrestore.models.irn import load_official_checkpoint
    from invrestore.models.registry import create_model

    net = load_official_checkpoint(weights, model) if weights else create_model(model, pretrained=True)
    if not isinstance(net, IRN):
        raise ConfigError(f"'{model}' is not an IRN rescaling model")
    return net.eval()


def _irn_names() -> tuple[str, ...]:
    from invrestore.models.registry import MODELS, list_models

    list_models()
    return tuple(n for n, e in MODELS.items() if e.family == "irn" and n != "irn-color")


def _fast_irn(net: Any, inf: Inference) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    from invrestore.fast import irn_functions

    net.to(inf.device)
    return irn_functions(net, inf.fast, inf.device)


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
    from invrestore.tiling import irn_downscale, irn_kind

    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "downscale")
    net = load_irn(model, weights)
    fwd, _ = _fast_irn(net, inf)
    s = net.scale
    kind = irn_kind(net, "down")

    def work(job: Job) -> str:
        x = read_image(job.src)  # (C,H,W); alpha dropped
        c, h, w = x.shape
        xp = pad_to_multiple((x.expand(3, -1, -1) if c == 1 else x).unsqueeze(0), s)
        hp, wp = xp.shape[-2:]
        tile = inf.tile_for(kind, hp, wp, s)
        lr = irn_downscale(
            net, xp, tile=tile, overlap=inf.overlap, forward=fwd, device=inf.device, progress=tile_progress(plan, inf)
        )[0]
        meta = {META_MODEL: model, META_SCALE: str(s), META_SIZE: f"{h}x{w}", META_CHANNELS: str(c)}
        write_image(job.dst, lr, text=meta)
        tiled = f", {tile}px tiles" if tile else ""
        return f"{job.src} ({wxh(w, h)}) -> {job.dst} ({wxh(lr.shape[-1], lr.shape[-2])}{tiled})"

    run_plan(plan, work, inf)


# -- upscale -----------------------------------------------------------------------------------------------------
def parse_lr_meta(path: Path, meta: dict[str, str], lr_hw: tuple[int, int]) -> dict[str, Any]:
    """Validate the invrestore text fields of an LR PNG: model (a registered IRN name), scale (a positive int),
    size (``HxW`` positive ints consistent with the LR size and the scale), channels (1 or 3).

    Raises:
        ImageReadError: a malformed or inconsistent field, naming it.
    """
    out: dict[str, Any] = {}

    def bad(key: str, why: str) -> ImageReadError:
        return ImageReadError(path, f"its metadata field {key}={meta[key]!r} {why}; was it written by downscale?")

    if META_MODEL in meta:
        names = _irn_names()
        if meta[META_MODEL] not in names:
            raise bad(META_MODEL, f"is not an IRN model ({', '.join(names)})")
        out["model"] = meta[META_MODEL]
    if META_SCALE in meta:
        if not re.fullmatch(r"[1-9]\d{0,2}", meta[META_SCALE]):
            raise bad(META_SCALE, "is not a scale (a positive integer)")
        out["scale"] = int(meta[META_SCALE])
    if META_SIZE in meta:
        m = re.fullmatch(r"([1-9]\d{0,7})x([1-9]\d{0,7})", meta[META_SIZE])
        if m is None or max(int(m.group(1)), int(m.group(2))) > MAX_SIDE:
            raise bad(META_SIZE, "is not a size HxW in pixels")
        h, w = int(m.group(1)), int(m.group(2))
        s = out.get("scale")
        if s is not None and (math.ceil(h / s), math.ceil(w / s)) != lr_hw:
            raise bad(META_SIZE, f"does not match the {wxh(lr_hw[1], lr_hw[0])} LR image at ×{s}")
        out["size"] = (h, w)
    if META_CHANNELS in meta:
        if meta[META_CHANNELS] not in ("1", "3"):
            raise bad(META_CHANNELS, "is not 1 or 3")
        out["channels"] = int(meta[META_CHANNELS])
    return out


def _parse_meta(path: Path) -> dict[str, str]:
    from invrestore.io import read_png_text

    return {k: v for k, v in read_png_text(path).items() if k.startswith("invrestore.")}


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
    from invrestore.io import read_image, write_image
    from invrestore.tiling import ZField, irn_kind, irn_upscale

    _temperature(temperature)
    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "upscale", exts=(".png",))
    infos: dict[Path, tuple[str, dict[str, Any]]] = {}
    for job in plan.all_jobs:  # check everything before writing anything
        meta = parse_lr_meta(job.src, _parse_meta(job.src), (job.size[1], job.size[0]))
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
    nets: dict[str, tuple[IRN, Callable[[Tensor], Tensor]]] = {}

    def work(job: Job) -> str:
        name, meta = infos[job.src]
        if name not in nets:
            net = load_irn(name, weights)
            nets[name] = (net, _fast_irn(net, inf)[1])
        net, inv = nets[name]
        s = net.scale
        if meta.get("scale", s) != s and not force:
            raise ConfigError(f"{job.src} records scale {meta['scale']} but {name} rescales by {s}")
        y = read_image(job.src, mode="rgb")
        lh, lw = y.shape[-2:]
        h, w = meta["size"] if "size" in meta and meta.get("scale", s) == s else (lh * s, lw * s)
        zf = ZField(net.out_channels - net.in_channels, seed, temperature=temperature, mode=z_mode)  # type: ignore[arg-type]
        tile = inf.tile_for(irn_kind(net, "up"), lh, lw, 1)
        x = irn_upscale(
            net, y.unsqueeze(0), zf, tile=tile, overlap=inf.overlap, inverse=inv, device=inf.device,
            progress=tile_progress(plan, inf),
        )  # fmt: skip
        x = x[0, :, :h, :w].clamp(0, 1)
        if meta.get("channels") == 1:
            x = x.mean(dim=0, keepdim=True)
        write_image(job.dst, x)
        tiled = f", {tile}px tiles" if tile else ""
        return f"{job.src} ({wxh(lw, lh)}) -> {job.dst} ({wxh(w, h)}{tiled})"

    run_plan(plan, work, inf)


# -- decolorize / colorize ---------------------------------------------------------------------------------------
def load_color_model(model: str, weights: str | None) -> Any:
    """The IRN_color model with ``weights`` (or its shipped weights), in eval mode."""
    from invrestore.models.irn import IRNColor, load_official_checkpoint
    from invrestore.models.registry import create_model

    net = load_official_checkpoint(weights, model) if weights else create_model(model, pretrained=True)
    if not isinstance(net, IRNColor):
        raise ConfigError(f"'{model}' is not a decolorization model (use irn-color)")
    return net.eval()


def _header_is_gray(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")
    except OSError as e:
        raise ImageReadError(path, str(e) or "not a recognised image") from e


def _color_map(
    fn: Callable[[Tensor], Tensor], x: Tensor, out_channels: int, inf: Inference, progress: bool
) -> tuple[Tensor, int | None]:
    """Run the scale-1 IRN_color map ``fn`` whole or tiled (kind ``irn-color``)."""
    from invrestore.tiling import tiled_map

    h, w = x.shape[-2:]
    tile = inf.tile_for("irn-color", h, w, 1)
    if tile is None:
        return fn(x.to(inf.device)).cpu().float(), None
    overlap = inf.overlap
    if overlap is None:
        from invrestore.tiling import default_overlap

        overlap = default_overlap("irn-color")
    out = tiled_map(
        lambda t, box: fn(t), x, tile=tile, overlap=overlap, out_channels=out_channels, device=inf.device,
        progress=progress,
    )  # fmt: skip
    return out, tile


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
    net = load_color_model(model, weights)
    fwd, _ = _fast_irn(net, inf)

    def work(job: Job) -> str:
        x = read_image(job.src)
        if x.shape[0] == 1:
            raise ConfigError(f"{job.src} is already grayscale: there is no colour to decolorize")
        out, tile = _color_map(lambda t: fwd(t)[:, :1], x.unsqueeze(0), 1, inf, tile_progress(plan, inf))
        gray = torch.round(out[0].clamp(0, 1) * 255.0) / 255.0
        meta = {META_MODEL: model, META_SIZE: f"{x.shape[1]}x{x.shape[2]}", META_CHANNELS: "3"}
        write_image(job.dst, gray, text=meta)
        tiled = f", {tile}px tiles" if tile else ""
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

    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "colorize", exts=(".png",))
    recorded_names: list[str] = []
    for job in plan.all_jobs:
        recorded = _parse_meta(job.src).get(META_MODEL)
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
    net = load_color_model(name, weights)
    _, inv = _fast_irn(net, inf)

    def work(job: Job) -> str:
        gray = read_image(job.src, mode="gray").unsqueeze(0)

        def colour(t: Tensor) -> Tensor:
            return inv(torch.cat([t, t.new_zeros(t.shape[0], 2, *t.shape[-2:])], dim=1))

        out, tile = _color_map(colour, gray, 3, inf, tile_progress(plan, inf))
        write_image(job.dst, out[0].clamp(0, 1))
        tiled = f", {tile}px tiles" if tile else ""
        return f"{job.src} ({wxh(gray.shape[-1], gray.shape[-2])}) -> {job.dst} (colour{tiled})"

    run_plan(plan, work, inf)
