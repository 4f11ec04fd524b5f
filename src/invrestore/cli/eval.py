"""``invrestore eval``: score a rescaling method on a benchmark set under a named protocol."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click
import torch

from invrestore.errors import ConfigError

_KEYS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")
_LR_KEYS = ("lr_psnr_y", "lr_ssim_y", "lr_psnr_rgb", "lr_ssim_rgb")


def _fmt(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _avg(values: list[Any]) -> float | None:
    """Mean of the values, or None if any is None (a metric the protocol does not have)."""
    if not values or any(v is None for v in values):
        return None
    return sum(float(v) for v in values) / len(values)


def _write_text_atomic(path: Path, text: str) -> None:
    from invrestore.io import atomic_write

    with atomic_write(path) as fh:
        fh.write(text.encode())


def _write_csv(path: Path, rows: list[dict[str, Any]], fields: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k) for k in fields})
    _write_text_atomic(path, buf.getvalue())


def _seeds(seed: int, n: int) -> str:
    return ", ".join(str(seed + k) for k in range(n))


def _draw_stats(runs: list[Any], keys: tuple[str, ...], seed: int) -> dict[str, Any]:
    """Mean, sample standard deviation and per-draw values of each metric's dataset mean over the z draws."""
    out: dict[str, Any] = {"seeds": [seed + k for k in range(len(runs))]}
    for key in keys:
        vals = [run.means.get(key) for run in runs]
        if any(v is None for v in vals):
            out[key] = None
            continue
        xs = [float(v) for v in vals]
        mean = sum(xs) / len(xs)
        std = (sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.0
        out[key] = {"mean": mean, "std": std, "per_draw": xs}
    return out


def _pm(stat: dict[str, Any] | None) -> str:
    return "-" if stat is None else f"{stat['mean']:.2f} ± {stat['std']:.2f}"


def _rescaling_method(
    method: str | None, model: str | None, weights: str | None, z: str, seed: int, scale: int, temperature: float = 1.0
) -> tuple[Any, str]:
    """The rescaling method named on the command line (bicubic, or a model loaded by
    :func:`invrestore.api.load_rescaler`, with a seeded z) and its display name."""
    if (method is None) == (model is None):
        raise ConfigError("give exactly one of --method bicubic or --model NAME")
    if method is not None:
        if method != "bicubic":
            raise ConfigError(f"unknown method '{method}' (available: bicubic; learned models use --model)")
        from invrestore.evaluation import BicubicMethod

        return BicubicMethod(), "bicubic"
    assert model is not None
    from invrestore.api import load_rescaler
    from invrestore.models.irn.rescaler import IRNRescaler

    net = load_rescaler(model, weights).model
    if net.scale != scale:
        raise ConfigError(f"{model} rescales by {net.scale}; pass --scale {net.scale}")
    return IRNRescaler(net, z_mode="zero" if z == "zero" else "random", temperature=temperature, seed=seed), model


@click.command("eval")
@click.option("--method", type=str, default=None, help="Classical method: bicubic.")
@click.option("--model", type=str, default=None, help="Registered model name, e.g. irn-x4.")
@click.option(
    "--weights", type=click.Path(), default=None, help="Weights file or run/checkpoint folder (else shipped)."
)
@click.option("--scale", type=int, default=None, help="Integer scale factor (rescaling models and methods).")
@click.option("--dataset", "datasets", type=str, multiple=True, required=True, help="Registered dataset (repeatable).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Data root (else $INVRESTORE_DATA).")
@click.option(
    "--protocol",
    type=click.Choice(["irn", "vdsr", "lapsrn"]),
    default=None,
    help="Evaluation protocol (default: vdsr for bicubic ×2–×4, lapsrn for ×8, irn for models).",
)
@click.option("--gray-as-rgb", is_flag=True, help="Load single-channel images as RGB (IRN's loader).")
@click.option("--z", "z_mode", type=click.Choice(["random", "zero"]), default="random", help="IRN latent at test.")
@click.option("--z-samples", type=int, default=1, help="Average metrics over this many z draws.")
@click.option(
    "--z-draws",
    type=click.IntRange(min=2),
    default=None,
    help="Also report mean ± std over N z draws (seeds SEED … SEED+N−1) beside the single draw of --seed.",
)
@click.option("--temperature", type=float, default=1.0, help="Scale α of the random z.")
@click.option("--seed", type=int, default=0, help="Seed of the z draws.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write results as JSON.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None, help="Write per-image rows as CSV.")
@click.option("--iw-samples", type=click.IntRange(min=1), default=512, show_default=True, help="selfVAE: samples K.")
@click.option("--task", type=click.Choice(["denoise", "dejpeg", "inpaint"]), default=None, help="Restoration task.")
@click.option("--sigma", type=float, default=None, help="Restoration: AWGN σ (0–255) of the test inputs.")
@click.option("--quality", type=int, default=None, help="Restoration: JPEG quality of the test inputs.")
@click.option("--limit", type=int, default=0, help="Restoration: the first N images of each dataset (0 = all).")
@click.option("--legacy-ssim", is_flag=True, help="Restoration: also the official IRAE code's (inflated) SSIM.")
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    method: str | None,
    model: str | None,
    weights: str | None,
    scale: int | None,
    datasets: tuple[str, ...],
    data_root: str | None,
    protocol: str | None,
    gray_as_rgb: bool,
    z_mode: str,
    z_samples: int,
    z_draws: int | None,
    temperature: float,
    seed: int,
    json_out: str | None,
    csv_out: str | None,
    iw_samples: int,
    task: str | None,
    sigma: float | None,
    quality: int | None,
    limit: int,
    legacy_ssim: bool,
) -> None:
    """Evaluate a rescaling method (downscale, then upscale) with PSNR/SSIM on Y and RGB; a restoration model
    (IRAE, DnCNN, FFDNet, U-Net, AR-CNN) on seeded degraded copies of benchmark images with RGB PSNR/SSIM; or a
    VAE/selfVAE with bits per dimension (ELBO and importance-weighted NLL; the same as `invrestore eval-bpd`).

    Examples: invrestore eval --method bicubic --scale 4 --dataset Set5 --protocol vdsr;
    invrestore eval --model dncnn --weights runs/dncnn --task denoise --sigma 25 --dataset CBSD68 --dataset Kodak24;
    invrestore eval --model selfvae-downscale-small --weights runs/svae/best --dataset CIFAR-10-partial
    """
    from invrestore.data import ImageFolder, resolve_dataset
    from invrestore.evaluation import evaluate_dataset, get_protocol
    from invrestore.evaluation.paper import paper_result
    from invrestore.models.registry import MODELS, list_models

    list_models()  # every family registered, so that a name's family is known before dispatching
    if model is not None and model in MODELS and MODELS[model].family == "selfvae":
        from invrestore.cli.vae import eval_bpd

        if len(datasets) != 1:
            raise ConfigError("selfVAE evaluation takes one --dataset (e.g. CIFAR-10, CIFAR-10-partial, CelebA)")
        if scale is not None or csv_out is not None:
            raise ConfigError("--scale and --csv apply to rescaling models; a selfVAE is scored in bits per dimension")
        ctx.invoke(
            eval_bpd, model=model, weights=weights, dataset=datasets[0], data_root=data_root, seed=seed,
            json_out=json_out, iw_samples=iw_samples,
        )  # fmt: skip
        return
    from invrestore.models.catalog import restoration_models

    if model is not None and model in restoration_models():
        if scale is not None:
            raise ConfigError("--scale applies to rescaling; restoration models take --task (and --sigma/--quality)")
        _eval_restoration(model, weights, task, sigma, quality, datasets, data_root, seed, limit, legacy_ssim,
                          json_out, csv_out)  # fmt: skip
        return
    if task is not None or sigma is not None or quality is not None or legacy_ssim or limit:
        raise ConfigError("--task, --sigma, --quality, --limit and --legacy-ssim apply to restoration models")
    if scale is None:
        raise ConfigError("--scale is required for rescaling (e.g. --scale 4)")
    if scale < 1:
        raise ConfigError(f"--scale must be a positive integer, got {scale}")
    if z_samples < 1:
        raise ConfigError("--z-samples must be at least 1")
    if z_draws is not None:
        if z_samples != 1:
            raise ConfigError("give --z-draws N or --z-samples N, not both")
        if model is None or z_mode == "zero":
            raise ConfigError("--z-draws applies to IRN models with a random z (not --z zero or --method)")
    resolved = [resolve_dataset(d, data_root) for d in datasets]  # fail early on missing data
    rescaler, label = _rescaling_method(method, model, weights, z_mode, seed, scale, temperature)
    if protocol is None:
        protocol = ("lapsrn" if scale == 8 else "vdsr") if method else "irn"
    proto = get_protocol(protocol)
    if gray_as_rgb:
        proto = proto.with_options(grayscale_as_rgb=True)
    device = None
    keys: tuple[str, ...] = _KEYS
    if model is not None:
        device = next(rescaler.model.parameters()).device
        proto = proto.with_options(score_lr=True)  # LR similarity to bicubic (paper Table 7)
        keys = _KEYS + _LR_KEYS

    report: dict[str, Any] = {"method": label, "scale": scale, "protocol": protocol, "datasets": {}}
    csv_rows: list[dict[str, Any]] = []
    click.echo(f"{label} ×{scale}, protocol {protocol}")
    lr_head = f" {'LR PSNR-Y':>10} {'LR SSIM-Y':>10}" if keys != _KEYS else ""
    draws = z_draws or z_samples
    if z_draws:
        click.echo(
            f"single draw: seed {seed}; mean ± std (sample std) over {z_draws} draws: seeds {_seeds(seed, z_draws)}"
        )
    draw_head = f" {'PSNR-Y mean ± std':>18} {'PSNR-RGB mean ± std':>20}" if z_draws else ""
    click.echo(
        f"{'dataset':<10} {'PSNR-Y':>8} {'SSIM-Y':>8} {'PSNR-RGB':>9} {'SSIM-RGB':>9}{lr_head}{draw_head}   paper (Y)"
    )
    for r in resolved:
        images = ImageFolder(list(r.files))
        runs = []
        for k in range(draws):
            if hasattr(rescaler, "seed"):
                rescaler.seed = seed + k
                rescaler.reset()
            runs.append(
                evaluate_dataset(
                    ((images.files[i].stem, images.load(i)) for i in range(len(images))),
                    rescaler,
                    scale,
                    proto,
                    device=device,
                )
            )
        averaged = runs if not z_draws else runs[:1]  # --z-draws: the table's numbers are the single draw's
        per_image = []
        for i, row in enumerate(runs[0].rows()):
            merged = dict(row)
            for key in keys:
                vals = [run.rows()[i].get(key) for run in averaged]
                merged[key] = _avg(vals)
            per_image.append(merged)
        means: dict[str, float | None] = {}
        for key in keys:
            means[key] = _avg([run.means.get(key) for run in averaged])
        paper = paper_result(label, scale, r.info.name)
        draw_stats = _draw_stats(runs, keys, seed) if z_draws else None
        report["datasets"][r.info.name] = {
            **means,
            **({"z_draws": draw_stats} if draw_stats is not None else {}),
            "num_images": len(per_image),
            "paper_psnr_y": paper[0] if paper else None,
            "paper_ssim_y": paper[1] if paper else None,
            "per_image": per_image,
        }
        csv_rows += [{"dataset": r.info.name, **row} for row in per_image]
        ptxt = f"{paper[0]:.2f}/{paper[1]:.4f}" if paper else "-"
        lr_txt = ""
        if keys != _KEYS:
            lr_txt = f" {_fmt(means['lr_psnr_y'], 2):>10} {_fmt(means['lr_ssim_y'], 4):>10}"
        draw_txt = ""
        if draw_stats is not None:
            draw_txt = f" {_pm(draw_stats['psnr_y']):>18} {_pm(draw_stats['psnr_rgb']):>20}"
        click.echo(
            f"{r.info.name:<10} {_fmt(means['psnr_y'], 2):>8} {_fmt(means['ssim_y'], 4):>8} "
            f"{_fmt(means['psnr_rgb'], 2):>9} {_fmt(means['ssim_rgb'], 4):>9}{lr_txt}{draw_txt}   {ptxt}"
        )
    if len(resolved) == 1:
        # the flat keys of the single dataset, as documented: psnr_y, ssim_y, psnr_rgb, ssim_rgb, per_image
        report.update(next(iter(report["datasets"].values())))
    if json_out:
        _write_text_atomic(Path(json_out), json.dumps(report, indent=2))
    if csv_out:
        _write_csv(Path(csv_out), csv_rows, ["dataset", "name", *keys])


def _eval_restoration(
    model: str,
    weights: str | None,
    task: str | None,
    sigma: float | None,
    quality: int | None,
    datasets: tuple[str, ...],
    data_root: str | None,
    seed: int,
    limit: int,
    legacy_ssim: bool,
    json_out: str | None,
    csv_out: str | None,
) -> None:
    """Score a restoration model on seeded degraded copies of each dataset (``score_restoration``): RGB PSNR/SSIM
    of the output (clamped, range 1), of the degraded input, and optionally the official IRAE SSIM."""
    from invrestore.api import load_restorer
    from invrestore.data import resolve_dataset
    from invrestore.data.restoration import Degraded, RestorationDataConfig, score_restoration

    if task is None:
        raise ConfigError("pass --task denoise|dejpeg|inpaint (with --sigma N or --quality Q)")
    if task == "denoise" and sigma is None:
        raise ConfigError("--task denoise needs --sigma N (0–255 scale)")
    if task == "dejpeg" and quality is None:
        raise ConfigError("--task dejpeg needs --quality Q")
    if limit < 0:
        raise ConfigError("--limit must be >= 0")
    resolved = [resolve_dataset(d, data_root) for d in datasets]  # fail early on missing data
    restorer = load_restorer(model, weights, device="auto")
    restorer.tile = None  # scored whole, as the papers do
    name = restorer.name
    if name.startswith("pix2pix"):
        raise ConfigError("pix2pix models are scored by their training task's validation, not by --task here")
    trained_for = restorer.task
    if trained_for is not None and trained_for != task:
        raise ConfigError(f"'{name}' was trained to {trained_for}, not to {task}: pass --task {trained_for}")
    if restorer.needs_sigma and sigma is None:
        raise ConfigError("ffdnet needs the noise level: pass --sigma N")

    def run(deg: Degraded) -> torch.Tensor:
        s = float(deg.sigma[0]) if deg.sigma is not None else sigma
        return restorer.restore(deg.y[:1], sigma=s).cpu()

    degr = f"σ = {sigma:g}" if task == "denoise" else (f"JPEG QF {quality}" if task == "dejpeg" else "centre box")
    click.echo(f"{name} {task} ({degr}), RGB, seed {seed}")
    extra = f" {'legacy SSIM':>12}" if legacy_ssim else ""
    click.echo(f"{'dataset':<10} {'images':>6} {'PSNR':>8} {'SSIM':>8} {'input PSNR':>11}{extra}")
    report: dict[str, Any] = {"model": name, "weights": weights, "task": task, "sigma": sigma, "quality": quality,
                              "seed": seed, "datasets": {}}  # fmt: skip
    csv_rows: list[dict[str, Any]] = []
    keys = ["psnr", "ssim", "psnr_in"] + (["legacy_ssim"] if legacy_ssim else [])
    for r in resolved:
        d = RestorationDataConfig(
            root=data_root, val_set=r.info.name, val_limit=limit, center_crop=None, resize=None, dequantize_bits=0,
            task={"dejpeg": "jpeg"}.get(task, task), sigma=sigma or 0.0, quality=quality or 20,
        )  # fmt: skip
        with torch.no_grad():
            rows = score_restoration(run, d, seed, legacy_ssim=legacy_ssim)
        means = {k: sum(row[k] for row in rows) / len(rows) for k in keys}
        report["datasets"][r.info.name] = {**means, "num_images": len(rows), "per_image": rows}
        csv_rows += [{"dataset": r.info.name, **row} for row in rows]
        extra = f" {means['legacy_ssim']:>12.4f}" if legacy_ssim else ""
        click.echo(
            f"{r.info.name:<10} {len(rows):>6} {means['psnr']:>8.2f} {means['ssim']:>8.4f} {means['psnr_in']:>11.2f}"
            f"{extra}"
        )
    if json_out:
        _write_text_atomic(Path(json_out), json.dumps(report, indent=2))
    if csv_out:
        _write_csv(Path(csv_out), csv_rows, ["dataset", "name", *keys])
