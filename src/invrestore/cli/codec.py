"""``invrestore pack`` / ``unpack``: IRN LR images in a standard lossless codec (or JPEG, with a CRM).

The pack file format (IRNPACK, version 2: magic, checksummed JSON header naming a registered model and optionally a
shipped CRM, then the untouched codec payload) is defined and validated in :mod:`invrestore.entropy.irnpack`;
every field of a file is checked before use, and a file can only name registered models, never a path. The IRN
runs through its :class:`~invrestore.api.Rescaler`, the CRM through its :class:`~invrestore.api.Restorer`. The
benchmarks (``invrestore bench``) are in :mod:`invrestore.cli.bench`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
import torch

from invrestore.entropy.irnpack import decode_payload, read_pack, write_pack
from invrestore.errors import ConfigError, InvalidBitstream
from invrestore.models.catalog import pack_names

__all__ = ["pack", "unpack"]


# -- pack / unpack --------------------------------------------------------------------------------------------------
@click.command("pack")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--model", default="irn-x4", show_default=True, help="IRN model (irn-x2, irn-x4, ...).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option(
    "--codec",
    type=click.Choice(["png", "webp", "jxl", "jpeg"]),
    default="png",
    show_default=True,
    help="Codec of the LR image: lossless png, webp or jxl (needs pillow-jxl-plugin; it stands in for FLIF), "
    "or lossy jpeg.",
)
@click.option("--effort", type=int, default=None, help="Codec effort (PNG level, WebP quality, JXL effort).")
@click.option("--quality", type=click.IntRange(1, 100), default=None, help="JPEG quality (--codec jpeg; default 90).")
@click.option(
    "--subsampling",
    type=click.Choice(["4:2:0", "4:2:2", "4:4:4"]),
    default="4:2:0",
    show_default=True,
    help="JPEG chroma subsampling (--codec jpeg).",
)
@click.option(
    "--crm",
    default=None,
    help="--codec jpeg: the compression-restoration module `unpack` runs on the decoded LR, recorded in the file "
    "by name (a shipped CRM: crm-q90, for irn-x2 or irn-x2-noise at q90). For your own CRM weights, pack without "
    "--crm and pass --crm PATH to unpack.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output pack file.")
@click.option(
    "--max-pixels", type=int, default=None, help="Refuse larger images (default: $INVRESTORE_MAX_PIXELS or 256 MP)."
)
def pack(
    image: str,
    model: str,
    weights: str | None,
    codec: str,
    effort: int | None,
    quality: int | None,
    subsampling: str,
    crm: str | None,
    output: str,
    max_pixels: int | None,
) -> None:
    """Downscale IMAGE with IRN and store the 8-bit LR (losslessly, or as JPEG) with what `invrestore unpack` needs.

    Lossy example (IRN paper §3.5): invrestore pack photo.png --model irn-x2 --codec jpeg --quality 90
    --crm crm-q90 -o photo.irn
    """
    from invrestore.api import load_rescaler
    from invrestore.codecs import encode_jpeg, encode_lossless, require_jxl
    from invrestore.io import atomic_write, image_size, read_image, set_max_pixels, to_uint8

    if codec == "jxl":
        require_jxl()
    if codec != "jpeg" and (quality is not None or crm is not None):
        raise ConfigError("--quality and --crm are for --codec jpeg (the lossless codecs need no restoration)")
    if codec == "jpeg" and effort is not None:
        raise ConfigError("--effort is for the lossless codecs; JPEG takes --quality")
    if crm is not None:
        _check_pack_crm(crm, model, quality if quality is not None else 90)  # before any work
    if effort is not None and not 0 <= effort <= 100:
        raise ConfigError(f"--effort must be in 0..100 (PNG uses 0..9), not {effort}")
    if max_pixels is not None and max_pixels < 1:
        raise ConfigError(f"--max-pixels must be a positive number of pixels, not {max_pixels}")
    _check_output_file(output)
    path = Path(image)
    if max_pixels is not None:
        set_max_pixels(max_pixels)
    image_size(path)  # header check (pixel limit) before the model loads
    x = read_image(path)
    c, h, w = x.shape
    irn = load_rescaler(model, weights)
    irn.tile = None  # the whole image (a pack holds one LR of the whole image)
    s = irn.scale
    y, _ = irn.downscale(x)  # grey runs as RGB, padded to the scale
    lr = to_uint8(y)
    header: dict[str, Any] = {
        "model": model,
        "scale": s,
        "size": [h, w],
        "lr_size": list(lr.shape[:2]),
        "channels": c,
        "codec": codec,
    }
    if codec == "jpeg":
        q = 90 if quality is None else quality
        payload = encode_jpeg(lr, q, subsampling)
        header.update(quality=q, subsampling=subsampling, crm=crm)
    else:
        payload = encode_lossless(lr, codec, effort)
    data = write_pack(header, payload)
    read_pack(data, output, names=pack_names())  # never write a file unpack would refuse
    with atomic_write(output) as fh:
        fh.write(data)
    bpp = 8 * len(data) / (h * w)
    what = f"jpeg q{header['quality']}" + (f" + {crm}" if crm else "") if codec == "jpeg" else codec
    click.echo(
        f"{path} ({w}×{h}) -> {output} ({what} LR {lr.shape[1]}×{lr.shape[0]}, {len(data)} bytes, {bpp:.3f} bpp)"
    )


def _check_output_file(output: str) -> None:
    """Refuse an output path that cannot be written (before any work is done)."""
    out = Path(output)
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise ConfigError(f"output '{out}' is a folder; give a file name")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"cannot write '{out}': folder '{folder}' {what}")


def _check_pack_crm(spec: str, model: str, quality: int) -> None:
    """Refuse a CRM that is not a shipped name (a pack file records names only), or one for another IRN/quality."""
    from invrestore.models.irn.crm import SHIPPED_CRMS, load_crm

    if spec not in SHIPPED_CRMS:
        raise ConfigError(
            f"--crm '{spec}' is not a shipped CRM ({', '.join(SHIPPED_CRMS)}): a pack file records a CRM by name "
            "only; pack without --crm and pass --crm PATH to `invrestore unpack` to use your own weights"
        )
    trained_q, irns = SHIPPED_CRMS[spec]
    if model not in irns or trained_q != quality:
        raise ConfigError(
            f"{spec} restores JPEG quality {trained_q} of the LR of {' or '.join(irns)}; use --model "
            f"{irns[-1]} --quality {trained_q}, or pass your own CRM weights to `invrestore unpack --crm PATH`"
        )
    load_crm(spec)


@click.command("unpack")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("--model", default=None, help="Override the IRN model recorded in the file (needs --force).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output image (.png, ...).")
@click.option("--z", "z_mode", type=click.Choice(["random", "zero"]), default="random", show_default=True)
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Scale of the random z.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random z.")
@click.option("--force", is_flag=True, help="Use --model even if the file records another model.")
@click.option(
    "--crm",
    default=None,
    help="JPEG packs: the CRM to run on the decoded LR instead of the one the file records; 'none' for no CRM.",
)
def unpack(
    file: str,
    weights: str | None,
    model: str | None,
    output: str,
    z_mode: str,
    temperature: float,
    seed: int,
    force: bool,
    crm: str | None,
) -> None:
    """Restore the HR image from a FILE written by `invrestore pack` (JPEG packs: decode, CRM, then IRN⁻¹)."""
    from invrestore.api import load, load_rescaler, wrap
    from invrestore.errors import ImageReadError
    from invrestore.inference.images import to_channels
    from invrestore.io import get_max_pixels, write_image

    if not (math.isfinite(temperature) and 0 <= temperature <= 10):
        raise ConfigError(f"--temperature must be a number in 0..10, not {temperature}")
    _check_output_file(output)
    path = Path(file)
    if not path.is_file():
        raise ImageReadError(path, "no such file" if not path.exists() else "not a regular file")
    header, payload = read_pack(path.read_bytes(), str(path), names=pack_names())
    hh, ww = header["size"]
    if hh * ww > get_max_pixels():
        raise InvalidBitstream(
            f"{path} describes a {ww}×{hh} image, above the pixel limit of {get_max_pixels() / 1e6:g} MP "
            "(raise it with INVRESTORE_MAX_PIXELS)"
        )
    name = header["model"]
    if model is not None and model != name:
        if not force:
            raise ConfigError(f"{path} was packed with {name}, not {model}; use --force to restore anyway")
        name = model
    irn = load_rescaler(name, weights)
    irn.tile = None
    s = irn.scale
    if s != int(header["scale"]):
        raise ConfigError(f"{path} records scale {header['scale']} but {name} rescales by {s}")
    if crm is not None and header["codec"] != "jpeg":
        raise ConfigError(f"{path} holds a lossless {header['codec']} LR; --crm is for JPEG packs")
    crm_spec = crm if crm is not None else header.get("crm")
    restorer = None
    if header["codec"] == "jpeg" and crm_spec and crm_spec != "none":
        from invrestore.models.irn.crm import SHIPPED_CRMS, load_crm

        if crm is None:
            # a name from the file: only a shipped CRM, loaded by name (never a path, even if one exists)
            if crm_spec not in SHIPPED_CRMS:
                raise InvalidBitstream(f"{path} names an unknown CRM {crm_spec!r}; pass --crm PATH (or --crm none)")
            restorer = load(crm_spec)
        else:
            restorer = wrap(load_crm(crm_spec), crm_spec)
        restorer.tile = None
    y = decode_payload(payload, header["codec"], str(path))
    lh, lw = header["lr_size"]
    if tuple(y.shape) != (3, lh, lw):
        raise InvalidBitstream(
            f"{path}: the LR image is {y.shape[-1]}×{y.shape[-2]} with {y.shape[0]} channel(s), "
            f"the header says {lw}×{lh} RGB"
        )
    if restorer is not None:  # the CRM's output, 8-bit quantised: the LR the IRN expects
        y = torch.round(restorer.restore(y) * 255.0) / 255.0
    h, w = header["size"]
    gen = torch.Generator().manual_seed(seed)
    x = irn.upscale(y, generator=gen, temperature=0.0 if z_mode == "zero" else temperature, size=(h, w))
    write_image(output, to_channels(x, int(header["channels"])))
    click.echo(f"{path} -> {output} ({w}×{h})")
