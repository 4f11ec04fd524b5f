"""``invrestore downscale`` / ``invrestore upscale``: IRN as a tool on image files.

``downscale`` writes 8-bit PNG LR images whose PNG text records the model, the scale and the original size;
``upscale`` restores them, refusing (unless ``--force``) an LR image whose metadata names another model or scale.
Any size works (reflect padding to a multiple of the scale, cropped back), as do grayscale (run as RGB, returned
as gray) and RGBA (alpha dropped) inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import torch

from invrestore.errors import ConfigError, ImageReadError
from invrestore.imageops import pad_to_multiple
from invrestore.models.irn.model import IRN

T = TypeVar("T")

META_MODEL = "invrestore.model"
META_SCALE = "invrestore.scale"
META_SIZE = "invrestore.size"
META_CHANNELS = "invrestore.channels"


def load_irn(model: str, weights: str | None) -> IRN:
    """The IRN ``model`` with ``weights`` (or its shipped weights), in eval mode."""
    from invrestore.models.irn import load_official_checkpoint
    from invrestore.models.registry import create_model

    net = load_official_checkpoint(weights, model) if weights else create_model(model, pretrained=True)
    if not isinstance(net, IRN):
        raise ConfigError(f"'{model}' is not an IRN rescaling model")
    return net.eval()


#: Rough peak memory of IRN inference per HR pixel (float32 activations of the widest dense-block input).
BYTES_PER_PIXEL = 220
DEFAULT_MAX_PIXELS = 40_000_000


def check_size(path: Path, h: int, w: int, max_pixels: int) -> None:
    """Refuse images whose inference would need more memory than ``max_pixels`` allows, with the estimate."""
    if h * w > max_pixels:
        gb = h * w * BYTES_PER_PIXEL / 2**30
        raise ConfigError(
            f"{path} has {h}×{w} = {h * w / 1e6:.1f} MP; IRN inference would need about {gb:.1f} GB of memory. "
            f"Pass --max-pixels {h * w} to process it anyway, or split it into tiles."
        )


def _out_path(out_dir: Path, src: Path) -> Path:
    return out_dir / f"{src.stem}.png"


def _progress(items: list[T], desc: str) -> Iterator[T]:
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, unit="img", disable=len(items) < 2)


@click.command("downscale")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", default="irn-x4", show_default=True, help="IRN model (irn-x2, irn-x4, ...).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True, help="Refuse larger images.")
def downscale(images: tuple[str, ...], model: str, weights: str | None, output: str, max_pixels: int) -> None:
    """Downscale IMAGES with IRN into 8-bit PNG LR images (with metadata for `invrestore upscale`)."""
    from invrestore.io import read_image, write_image

    net = load_irn(model, weights)
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    s = net.scale
    for path in _progress([Path(p) for p in images], "downscale"):
        from invrestore.io import image_size

        check_size(path, *image_size(path), max_pixels)
        x = read_image(path)  # (C,H,W); alpha dropped
        c, h, w = x.shape
        rgb = x.expand(3, -1, -1) if c == 1 else x
        with torch.no_grad():
            y, _ = net.downscale(pad_to_multiple(rgb.unsqueeze(0), s))
        lr = y[0]
        if c == 1:
            lr = lr.mean(dim=0, keepdim=True)
        meta = {META_MODEL: model, META_SCALE: str(s), META_SIZE: f"{h}x{w}", META_CHANNELS: str(c)}
        dst = _out_path(out_dir, path)
        write_image(dst, lr if c == 3 else lr.expand(3, -1, -1), text=meta)
        click.echo(f"{path} ({h}×{w}) -> {dst} ({lr.shape[-2]}×{lr.shape[-1]})")


def _parse_meta(path: Path) -> dict[str, str]:
    from invrestore.io import read_png_text

    return {k: v for k, v in read_png_text(path).items() if k.startswith("invrestore.")}


@click.command("upscale")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", default=None, help="IRN model (default: the one recorded in the LR image).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--z", "z_mode", type=click.Choice(["random", "zero"]), default="random", show_default=True)
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Scale of the random z.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random z (per image).")
@click.option("--force", is_flag=True, help="Upscale even if the LR image records another model or scale.")
@click.option("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True, help="Refuse larger outputs.")
def upscale(
    images: tuple[str, ...],
    model: str | None,
    weights: str | None,
    output: str,
    z_mode: str,
    temperature: float,
    seed: int,
    force: bool,
    max_pixels: int,
) -> None:
    """Restore HR images from LR images written by `invrestore downscale`."""
    from invrestore.io import read_image, write_image

    out_dir = Path(output)
    jobs = []
    for path in [Path(p) for p in images]:  # check everything before writing anything
        meta = _parse_meta(path) if path.is_file() else {}
        if not path.is_file():
            raise ImageReadError(path, "no such file")
        recorded = meta.get(META_MODEL)
        name = model or recorded
        if name is None:
            raise ConfigError(
                f"{path} has no invrestore metadata (not written by `invrestore downscale`); "
                "IRN can only restore its own LR images — pass --model to try anyway"
            )
        if recorded is not None and model is not None and recorded != model and not force:
            raise ConfigError(f"{path} was downscaled by {recorded}, not {model}; use --force to upscale anyway")
        jobs.append((path, name, meta))
    out_dir.mkdir(parents=True, exist_ok=True)
    nets: dict[str, IRN] = {}
    for path, name, meta in _progress(jobs, "upscale"):
        if name not in nets:
            nets[name] = load_irn(name, weights)
        net = nets[name]
        s = net.scale
        if META_SCALE in meta and int(meta[META_SCALE]) != s and not force:
            raise ConfigError(f"{path} records scale {meta[META_SCALE]} but {name} rescales by {s}")
        y = read_image(path, mode="rgb")
        lh, lw = y.shape[-2:]
        if META_SIZE in meta:
            h, w = (int(v) for v in meta[META_SIZE].split("x"))
            if (lh, lw) != ((h + s - 1) // s, (w + s - 1) // s) and not force:
                raise ConfigError(f"{path} is {lh}×{lw} but its metadata says it comes from {h}×{w} at ×{s}")
        else:
            h, w = lh * s, lw * s
        check_size(path, h, w, max_pixels)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            x = net.upscale(y.unsqueeze(0), z_mode=z_mode, temperature=temperature, generator=gen)  # type: ignore[arg-type]
        x = x[0, :, :h, :w]
        if meta.get(META_CHANNELS) == "1":
            x = x.mean(dim=0, keepdim=True)
        dst = _out_path(out_dir, path)
        write_image(dst, x)
        click.echo(f"{path} ({lh}×{lw}) -> {dst} ({h}×{w})")


def load_color_model(model: str, weights: str | None) -> Any:
    """The IRN_color model with ``weights`` (or its shipped weights), in eval mode."""
    from invrestore.models.irn import IRNColor, load_official_checkpoint
    from invrestore.models.registry import create_model

    net = load_official_checkpoint(weights, model) if weights else create_model(model, pretrained=True)
    if not isinstance(net, IRNColor):
        raise ConfigError(f"'{model}' is not a decolorization model (use irn-color)")
    return net.eval()


@click.command("decolorize")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", default="irn-color", show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True, help="Refuse larger images.")
def decolorize(images: tuple[str, ...], model: str, weights: str | None, output: str, max_pixels: int) -> None:
    """Turn colour IMAGES into 8-bit grayscale PNGs that `invrestore colorize` turns back into colour."""
    from invrestore.io import image_size, read_image, write_image

    paths = [Path(p) for p in images]
    for path in paths:  # refuse bad inputs before writing anything
        check_size(path, *image_size(path), max_pixels)
        if read_image(path).shape[0] == 1:
            raise ConfigError(f"{path} is already grayscale: there is no colour to decolorize")
    net = load_color_model(model, weights)
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in _progress(paths, "decolorize"):
        x = read_image(path)
        with torch.no_grad():
            gray, _ = net.decolorize(x.unsqueeze(0))
        dst = _out_path(out_dir, path)
        meta = {META_MODEL: model, META_SIZE: f"{x.shape[1]}x{x.shape[2]}", META_CHANNELS: "3"}
        write_image(dst, gray[0], text=meta)
        click.echo(f"{path} -> {dst} (gray)")


@click.command("colorize")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", default=None, help="Model (default: the one recorded in the gray image).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--force", is_flag=True, help="Colorize gray images that `invrestore decolorize` did not write.")
def colorize(images: tuple[str, ...], model: str | None, weights: str | None, output: str, force: bool) -> None:
    """Restore colour images from grayscale PNGs written by `invrestore decolorize` (z = 0, as the paper)."""
    from invrestore.io import read_image, write_image

    jobs = []
    for path in [Path(p) for p in images]:
        if not path.is_file():
            raise ImageReadError(path, "no such file")
        recorded = _parse_meta(path).get(META_MODEL)
        if recorded is None and not force:
            raise ConfigError(f"{path} was not written by `invrestore decolorize`; use --force to colorize it anyway")
        if recorded is not None and model is not None and recorded != model and not force:
            raise ConfigError(f"{path} was decolorized by {recorded}, not {model}; use --force to colorize anyway")
        jobs.append(path)
    name = model or _parse_meta(jobs[0]).get(META_MODEL) or "irn-color"
    net = load_color_model(name, weights)
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in _progress(jobs, "colorize"):
        gray = read_image(path, mode="gray")
        with torch.no_grad():
            x = net.colorize(gray.unsqueeze(0))[0]
        dst = _out_path(out_dir, path)
        write_image(dst, x)
        click.echo(f"{path} -> {dst} (colour)")
