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
from pathlib import Path
from typing import Any

import click
import torch
from torch import Tensor, nn

from invrestore.batch import Inference, Job
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
from invrestore.errors import CheckpointError, ConfigError

__all__ = [
    "load_restoration_model",
    "restore",
    "restore_image",
    "restore_tensor",
    "shipped_restoration_models",
    "trained_task",
]

#: Models ``restore`` accepts (plus every registered pix2pix generator, see :func:`restoration_models`).
MODELS = ("irae", "dncnn", "ffdnet", "unet", "arcnn")
TASKS = ("denoise", "dejpeg", "inpaint", "derain", "dehaze")


def restoration_models() -> tuple[str, ...]:
    """Names ``restore`` accepts: IRAE, the baselines (also their shipped-weights variants) and the pix2pix
    generators (not the discriminator)."""
    from invrestore.models.registry import MODELS as REGISTRY
    from invrestore.models.registry import list_models

    list_models()  # import every family
    extra = tuple(n for n, e in REGISTRY.items() if e.family in ("irae", "baselines") and n not in MODELS)
    gens = tuple(n for n, e in REGISTRY.items() if e.family == "pix2pix" and n != "pix2pix-patchgan")
    return MODELS + extra + gens


def shipped_restoration_models() -> tuple[str, ...]:
    """Restoration models whose weights ship with invrestore (usable without ``--weights``)."""
    from invrestore.models.registry import MODELS as REGISTRY

    return tuple(n for n in restoration_models() if REGISTRY[n].pretrained is not None)


def trained_task(name: str, net: nn.Module) -> str | None:
    """The task ``net`` was trained for, when known (a pix2pix run's task, a shipped model's task)."""
    from invrestore.models.registry import MODELS as REGISTRY

    task = getattr(net, "task", None)
    if task is None and name in REGISTRY:
        task = REGISTRY[name].task
    return str(task) if task is not None else None


class Pix2PixRestorer(nn.Module):
    """A pix2pix generator used for restoration: [0, 1] in and out, padded to ``2^N`` and cropped back, with
    pix2pix's train-mode inference unless ``eval_mode`` (see :func:`invrestore.models.pix2pix.model.restore`)."""

    def __init__(self, generator: nn.Module, eval_mode: bool, task: str | None = None) -> None:
        super().__init__()
        self.generator, self.eval_mode, self.task = generator, eval_mode, task

    def forward(self, x: Tensor) -> Tensor:
        from invrestore.models.pix2pix.model import restore

        out: Tensor = restore(self.generator, x, eval_mode=self.eval_mode)
        return out


def _generator_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A pix2pix training checkpoint holds ``generator.*`` and ``discriminator.*``: keep the generator's."""
    if any(k.startswith("generator.") for k in state):
        return {k.removeprefix("generator."): v for k, v in state.items() if k.startswith("generator.")}
    return state


def _run_config(weights: Path) -> Path | None:
    """The ``config.yaml`` of the training run ``weights`` comes from (a run dir, a checkpoint folder or a file
    inside one), if any."""
    folder = weights if weights.is_dir() else weights.parent
    for cand in (folder / "config.yaml", folder.parent / "config.yaml"):
        if cand.is_file():
            return cand
    return None


def _weights_file(weights: Path) -> Path:
    if weights.is_file():
        return weights
    if weights.is_dir():
        for cand in (weights / "model.safetensors", weights / "best" / "model.safetensors"):
            if cand.is_file():
                return cand
        last = weights / "last" / "model.safetensors"
        if last.is_file():
            return last
        raise CheckpointError(f"'{weights}' holds no model.safetensors (nor best/ or last/ checkpoints)")
    raise CheckpointError(f"weights '{weights}' not found")


def load_restoration_model(model: str | None, weights: str | None, device: torch.device) -> tuple[str, nn.Module]:
    """Build ``model`` and load ``weights``; returns ``(name, model)`` in eval mode.

    ``weights`` is a weights file (safetensors or a torch state dict), a checkpoint folder (``run/best``) or a
    run folder (its ``best/``, else ``last/``). When the run's ``config.yaml`` is found next to it, the model is
    built with that config (so reduced training architectures load) and ``model`` may be omitted.

    Raises:
        ConfigError: unknown or mismatching model name, or none given.
        CheckpointError: no ``weights`` and none ship with ``model``; unreadable or mismatching weights.
    """
    from invrestore.models.registry import create_model
    from invrestore.train.checkpoint import load_weights

    if weights is None:
        if model is None:
            shipped = ", ".join(shipped_restoration_models())
            raise ConfigError(f"pass --model NAME (with shipped weights: {shipped}) or --weights PATH")
        from invrestore.models.registry import MODELS as REGISTRY

        shipped_net = create_model(model, pretrained=True)  # none shipped: a CheckpointError that names --weights
        entry = REGISTRY[model]
        if entry.family == "pix2pix":
            shipped_net = Pix2PixRestorer(shipped_net, eval_mode=False, task=entry.task)
        return model, shipped_net.to(device).eval()
    path = Path(weights)
    file = _weights_file(path)
    cfg_path = _run_config(path)
    net: nn.Module | None = None
    pix2pix_task: str | None = None
    eval_mode = False
    if cfg_path is not None:
        from invrestore.cli.train import load_task

        task = load_task(cfg_path)
        cfg = task.config()
        if getattr(cfg, "family", None) == "pix2pix":
            name = model or "pix2pix"
            if model is not None and not model.startswith("pix2pix-"):
                raise ConfigError(f"'{weights}' is a pix2pix run ({cfg_path}), not '{model}'")
            net = task.build_model().generator
            pix2pix_task, eval_mode = cfg.data.task, bool(cfg.eval_mode)
        else:
            name = str(getattr(getattr(cfg, "model", None), "name", ""))
            if model is not None and model != name:
                raise ConfigError(f"'{weights}' was trained as '{name}' ({cfg_path}), not '{model}'")
            net = task.build_model()
    else:
        if model is None:
            raise ConfigError(f"'{weights}' has no run config.yaml beside it: pass --model NAME")
        name = model
    allowed = restoration_models()
    if name not in allowed and name != "pix2pix":
        raise ConfigError(f"'{name}' is not a restoration model; choose from {', '.join(allowed)}")
    if net is None:
        net = create_model(name)
    state = load_weights(file)
    if name.startswith("pix2pix"):
        state = _generator_state(state)
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(f"'{file}' does not hold weights of this '{name}' model: {first}") from e
    if name.startswith("pix2pix"):
        net = Pix2PixRestorer(net, eval_mode, pix2pix_task)
    return name, net.to(device).eval()


def restore_image(net: nn.Module, y: Tensor, sigma: float | None = None) -> Tensor:
    """Restore one ``(3, H, W)`` image of any size: pad (reflect) to the model's multiple, run, crop, clamp.

    FFDNet needs ``sigma`` (0–255 scale).
    """
    from invrestore.imageops import pad_to_multiple
    from invrestore.models.baselines.model import FFDNet

    h, w = y.shape[-2:]
    yp = pad_to_multiple(y.unsqueeze(0), int(getattr(net, "multiple", 1)))
    with torch.no_grad():
        if isinstance(net, FFDNet):
            if sigma is None:
                raise ConfigError("ffdnet needs the noise level: pass --sigma N")
            out = net(yp, sigma / 255.0)
        else:
            out = net(yp)
    result: Tensor = out[0, :, :h, :w].clamp(0, 1)
    return result


def restore_tensor(
    net: nn.Module,
    name: str,
    y: Tensor,
    sigma: float | None,
    inf: Inference,
    *,
    progress: bool = False,
) -> tuple[Tensor, int | None]:
    """:func:`restore_image` with the CLI's device, fast path and tiling: ``(restored (3, H, W), tile or None)``.

    Tiling follows ``inf`` (``--tile``); a model whose output depends on whole-image statistics (pix2pix's default
    train-mode inference, see :func:`invrestore.tiling.tileable`) is never tiled: with ``--tile auto`` it runs
    whole (a warning is printed when the estimate exceeds the budget), an explicit ``--tile N`` is refused.
    """
    from invrestore.fast import optimize
    from invrestore.models.baselines.model import FFDNet
    from invrestore.tiling import restore_kind, tileable, tiled_restore

    if isinstance(net, FFDNet):
        if sigma is None:
            raise ConfigError("ffdnet needs the noise level: pass --sigma N")
        level = sigma / 255.0
        fn = optimize(lambda t: net(t, level), inf.fast, device=inf.device)
    else:
        fn = optimize(lambda t: net(t), inf.fast, device=inf.device)
    multiple = int(getattr(net, "multiple", 1))
    kind = restore_kind(name)
    h, w = y.shape[-2:]
    hp, wp = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    tile = inf.tile_for(kind, hp, wp, multiple)
    if tile is not None and not tileable(net):
        if inf.tile != "auto":
            raise ConfigError(
                f"'{name}' normalises with whole-image statistics (pix2pix train-mode inference), so tiling would "
                "change its output: drop --tile (or pass --tile 0)"
            )
        click.echo(
            f"invrestore: warning: '{name}' cannot tile (whole-image statistics); running the {w}×{h} image whole "
            "although it may exceed --max-memory",
            err=True,
        )
        tile = None
    out = tiled_restore(
        fn, y.unsqueeze(0), multiple=multiple, tile=tile, overlap=inf.overlap, device=inf.device,
        progress=progress, kind=kind,
    )  # fmt: skip
    return out[0].clamp(0, 1), tile


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
    from invrestore.degradations import JPEG, GaussianNoise, Inpainting
    from invrestore.degradations.haze import Haze
    from invrestore.degradations.rain import Rain
    from invrestore.io import read_image, write_image
    from invrestore.metrics import psnr

    _check_options(task, model, sigma, quality, mask, degrade)
    inf = make_inference(kw)
    plan = make_plan(images, output, kw, "restore")
    if mask is not None:  # check every input against the mask before loading the model or writing anything
        for job in plan.all_jobs:
            _read_mask(mask, job.size[1], job.size[0])
    if model is not None and model not in restoration_models():
        raise ConfigError(f"'{model}' is not a restoration model; choose from {', '.join(restoration_models())}")
    name, net = load_restoration_model(model, weights, inf.device)
    _check_options(task, name, sigma, quality, mask, degrade)
    trained_for = trained_task(name, net)
    if trained_for is not None and trained_for != task:
        raise ConfigError(f"'{weights or name}' was trained to {trained_for}, not to {task}: pass --task {trained_for}")
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
        x_hat, tile = restore_tensor(
            net, name, y.expand(3, -1, -1) if c == 1 else y, sigma, inf, progress=tile_progress(plan, inf)
        )
        out = x_hat if c == 3 else x_hat.mean(0, keepdim=True)
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
