"""``invrestore restore``: denoising, JPEG artefact removal, inpainting, deraining and dehazing of image files with
IRAE, a baseline (DnCNN, FFDNet, U-Net, AR-CNN) or a pix2pix generator.

Inputs are degraded images, or (``--degrade``) clean images that are first degraded with a seeded degradation; then
the degraded image is written too and the PSNR of the restored (and of the degraded) image against the clean input
is printed. Any size works: the input is padded (reflect) to the model's multiple and the output cropped back, and
an image whose activations would exceed ``--max-memory`` is processed in tiles (see ``docs/tiling.md``; tiles
overlap by the model's measured receptive field, so the result equals the whole-image one within one 8-bit level).
pix2pix's default train-mode inference normalises with whole-image statistics and is never tiled: an explicit
``--tile`` is refused and automatic tiling falls back to the whole image with a warning.
Greyscale inputs run as RGB and come back grey; alpha is dropped. Outputs are 8-bit PNGs, written atomically.
Each image's ``--seed`` is reset per image, so results do not depend on the batch or on ``torchrun`` sharding.
Batch semantics (inputs as files, folders, globs; ``--resume``; ``torchrun``) are those of :mod:`invrestore.batch`.
"""

from __future__ import annotations

import math
from typing import Any

import click
import torch
from torch import Tensor

from invrestore.batch import Job
from invrestore.cli.rescale import (
    BATCH_HELP,
    SEED_RANGE,
    batch_options,
    inference_options,
    make_inference,
    make_plan,
    run_plan,
    tile_progress,
)
from invrestore.errors import ConfigError

__all__ = ["TASKS", "restore"]

TASKS = ("denoise", "dejpeg", "inpaint", "derain", "dehaze")


def _check_options(
    task: str, name: str | None, sigma: float | None, quality: int | None, mask: str | None, degrade: bool
) -> None:
    if sigma is not None and not math.isfinite(sigma):
        raise ConfigError(f"--sigma must be a finite noise level in [0, 255], not {sigma}")
    if sigma is not None and task != "denoise":
        raise ConfigError("--sigma applies to --task denoise only")
    if quality is not None and task != "dejpeg":
        raise ConfigError("--quality applies to --task dejpeg only")
    if mask is not None and task != "inpaint":
        raise ConfigError("--mask applies to --task inpaint only")
    if name == "ffdnet" and task != "denoise":
        raise ConfigError("ffdnet is a denoiser: use --task denoise")
    if name == "ffdnet" and sigma is None:
        raise ConfigError("ffdnet needs the noise level of the input: pass --sigma N (0–255 scale)")
    if degrade and task == "denoise" and sigma is None:
        raise ConfigError("--degrade --task denoise needs --sigma N (the noise to add)")
    if name is not None and name.startswith("pix2pix") and task in ("dejpeg", "inpaint"):
        raise ConfigError(f"pix2pix models restore derain, dehaze or denoise inputs, not --task {task}")
    if name is not None and not name.startswith("pix2pix") and task in ("derain", "dehaze"):
        raise ConfigError(f"--task {task} needs a pix2pix model (e.g. a run of configs/pix2pix/*.yaml)")
    if degrade and task == "dejpeg" and quality is None:
        raise ConfigError("--degrade --task dejpeg needs --quality Q (the JPEG quality factor)")
    if not degrade and task == "inpaint" and mask is None:
        raise ConfigError("--task inpaint needs --mask MASK.png (white = hole) for already degraded inputs")


def _read_mask(path: str, h: int, w: int) -> Tensor:
    from invrestore.io import read_image

    m = read_image(path, mode="gray")
    if m.shape[-2:] != (h, w):
        raise ConfigError(f"mask {path} is {m.shape[-2]}×{m.shape[-1]}, the image {h}×{w}")
    return (m > 0.5).float()


@click.command("restore", epilog=BATCH_HELP)
@click.argument("images", nargs=-1, required=True)
@click.option("--task", type=click.Choice(TASKS), required=True, help="Restoration task.")
@click.option(
    "--sigma",
    type=click.FloatRange(0, 255),
    default=None,
    help="Noise σ (0–255): FFDNet's input; the noise of --degrade.",
)
@click.option("--quality", type=click.IntRange(1, 100), default=None, help="JPEG quality factor (1–100) of --degrade.")
@click.option("--mask", type=click.Path(dir_okay=False), default=None, help="Inpainting mask (white = hole).")
@click.option(
    "--model",
    default=None,
    help="irae, dncnn, ffdnet, unet, arcnn or pix2pix-* (default: the run's); shipped weights, no --weights needed: "
    "irae-denoise25, dncnn-s-denoise25, pix2pix-derain.",
)
@click.option("--weights", default=None, help="Weights file, checkpoint folder or run folder (else the shipped).")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--degrade", is_flag=True, help="Degrade clean inputs first, write them, print PSNR vs the input.")
@click.option("--seed", type=SEED_RANGE, default=0, show_default=True, help="Seed of --degrade (per image).")
@batch_options
@inference_options
def restore(
    images: tuple[str, ...],
    task: str,
    sigma: float | None,
    quality: int | None,
    mask: str | None,
    model: str | None,
    weights: str | None,
    output: str,
    degrade: bool,
    seed: int,
    **kw: Any,
) -> None:
    """Restore degraded IMAGES (denoise, dejpeg, inpaint; derain, dehaze with pix2pix) into OUTPUT/<name>.png.

    With --degrade the IMAGES are clean: each is degraded first (seeded; AWGN of --sigma, JPEG at --quality,
    --mask / a random box hole, synthetic rain or haze), OUTPUT/<name>_degraded.png is written too, and the PSNR of
    the restored image against the input is printed. Inpainting keeps the known pixels (the composite x̂·m + y·(1 − m)).
    """
    from invrestore.api import load_restorer
    from invrestore.degradations import JPEG, GaussianNoise, Inpainting
    from invrestore.degradations.haze import Haze
    from invrestore.degradations.rain import Rain
    from invrestore.inference.images import as_rgb, to_channels
    from invrestore.io import read_image, write_image
    from invrestore.metrics import psnr
    from invrestore.models.catalog import restoration_models, shipped_restoration_models
    from invrestore.zoo import run_config

    _check_options(task, model, sigma, quality, mask, degrade)
    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "restore")
    if mask is not None:  # check every input against the mask before loading the model or writing anything
        for job in plan.all_jobs:
            _read_mask(mask, job.size[1], job.size[0])
    if model is not None and model not in restoration_models():
        raise ConfigError(f"'{model}' is not a restoration model; choose from {', '.join(restoration_models())}")
    if weights is None and model is None:
        shipped = ", ".join(shipped_restoration_models())
        raise ConfigError(f"pass --model NAME (with shipped weights: {shipped}) or --weights PATH")
    if weights is not None and model is None and run_config(weights) is None:
        raise ConfigError(f"'{weights}' has no run config.yaml beside it: pass --model NAME")
    restorer = load_restorer(model, weights, device=inf.device)
    name = restorer.name
    _check_options(task, name, sigma, quality, mask, degrade)
    trained_for = restorer.task
    if trained_for is not None and trained_for != task:
        raise ConfigError(f"'{weights or name}' was trained to {trained_for}, not to {task}: pass --task {trained_for}")
    if restorer.needs_sigma and sigma is None:
        raise ConfigError("ffdnet needs the noise level: pass --sigma N")
    if isinstance(inf.tile, int) and not restorer.tileable:
        raise ConfigError(
            f"'{name}' normalises with whole-image statistics (pix2pix train-mode inference), so tiling would "
            "change its output: drop --tile (or pass --tile 0)"
        )
    restorer.configure(inf, progress=tile_progress(plan, inf))

    def untileable(h: int, w: int) -> None:
        click.echo(
            f"invrestore: warning: '{name}' cannot tile (whole-image statistics); running the {w}×{h} image whole "
            "although it may exceed --max-memory",
            err=True,
        )

    restorer.on_untileable = untileable
    out_dir = plan.out_dir.path
    scores: list[float] = []

    def work(job: Job) -> str:
        path = job.src
        torch.manual_seed(seed)  # pix2pix's train-mode inference keeps dropout on: reproducible per image
        x = read_image(path)  # (C, H, W), C = 1 or 3; degraded in its own channels, restored as RGB
        c, h, w = x.shape
        m = _read_mask(mask, h, w) if mask is not None else None
        line = f"{path} ({w}×{h})"
        if degrade:
            g = torch.Generator().manual_seed(seed)
            if task == "denoise":
                assert sigma is not None
                y = GaussianNoise(sigma)(x, g)  # unclipped, as in training; the written file is clipped
            elif task == "dejpeg":
                assert quality is not None
                y = JPEG(quality)(x, g)
            elif task == "derain":
                y = Rain()(x.expand(3, -1, -1), g).clamp(0, 1)[:c] if c == 1 else Rain()(x, g).clamp(0, 1)
            elif task == "dehaze":
                y = Haze()(x.expand(3, -1, -1), g).clamp(0, 1)[:c] if c == 1 else Haze()(x, g).clamp(0, 1)
            else:
                if m is None:
                    m = Inpainting("center").mask(x, g)
                    write_image(out_dir / f"{path.stem}_mask.png", m)
                y = x * (1 - m) + m
            write_image(out_dir / f"{path.stem}_degraded.png", y.clamp(0, 1))
        else:
            y = x
        x_hat = restorer.restore(as_rgb(y), task=task, sigma=sigma)  # grey runs as RGB and comes back grey
        out = to_channels(x_hat, c)
        tile = restorer.last_tile
        if m is not None:  # keep the known pixels
            out = out * m + y.clamp(0, 1) * (1 - m)
        write_image(job.dst, out)
        line += f" -> {job.dst}" + (f" ({tile}px tiles)" if tile else "")
        if degrade:
            p_out = float(psnr(out.unsqueeze(0), x.unsqueeze(0))[0])
            p_in = float(psnr(y.clamp(0, 1).unsqueeze(0), x.unsqueeze(0))[0])
            scores.append(p_out)
            line += f"  PSNR {p_out:.2f} dB (degraded {p_in:.2f} dB)"
        return line

    run_plan(plan, work, inf)
    if degrade and len(scores) > 1:
        click.echo(f"{plan.dist.prefix}mean PSNR over {len(scores)} images: {sum(scores) / len(scores):.2f} dB")
