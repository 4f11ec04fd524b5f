"""Write the model card of shipped restoration weights (IRAE, the baselines, pix2pix generators) from their
training run and (IRAE, baselines) an ``invrestore eval --json`` report; pix2pix cards use the run's validation.

Usage::

    python benchmarks/restoration_weights_card.py --model irae-denoise25 --run-dir runs/restoration_cpu/irae \
        --eval-json runs/restoration_cpu/irae_eval.json --command "invrestore train ..." \
        --card src/invrestore/weights/irae-denoise25.md [--note "markdown line" ...]

The card gives the exact command, the data, iterations, optimiser, wall time (summed over resumed segments of
``metrics.jsonl``), hardware, the evaluation table (RGB PSNR/SSIM on seeded noisy copies) and free-form notes
(deviations, comparisons).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import yaml

from invrestore.train import cpu_name, run_wall_time


def run_provenance(run: Path) -> tuple[dict, dict, float]:  # type: ignore[type-arg]
    """A training run's ``config.yaml``, its ``last/meta.json`` and its wall time in hours (summed over segments)."""
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    meta = json.loads((run / "last" / "meta.json").read_text())
    return cfg, meta, run_wall_time(run / "metrics.jsonl") / 3600


def training_lines(run: Path, command: str, threads: str) -> list[str]:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    meta = json.loads((run / "last" / "meta.json").read_text())
    tr, data, optim = cfg["train"], cfg["data"], cfg["train"]["optim"]
    hours = run_wall_time(run / "metrics.jsonl") / 3600
    degr = {
        "denoise": f"AWGN σ = {data['sigma']:g} (0–255 scale), a fresh seeded draw per crop, not clipped",
        "jpeg": f"Pillow JPEG at quality {data['quality']} (4:2:0)",
        "inpaint": f"{data['mask_mode']} masks",
    }[data["task"]]
    loss = cfg.get("loss", {}).get("kind", "l1")
    return [
        "## Training",
        "",
        f"- Command: `{command}`",
        f"- Data: {', '.join(data['train_sets'] + data.get('train_folders', []))} ({data['crop_size']}² random "
        f"crops, flips and 90° rotations, 8-bit, no dequantisation); degradation: {degr}",
        f"- Iterations: {meta['step']:,} at batch {tr['batch_size']}; loss {loss.upper()}",
        f"- Optimiser: {optim.get('optimizer', 'adam').capitalize()} lr {optim['lr']:g}, betas "
        f"{tuple(optim['betas'])}, ×{optim['gamma']:g} at {optim['milestones']}, grad-norm clip "
        f"{optim['grad_clip']:g}; seed {tr['seed']}",
        f"- Wall time: {hours:.2f} h on {cpu_name()}, {threads} torch thread(s), torch {torch.__version__}",
        f"- Weights: the run's last checkpoint (step {meta['step']:,}); validation ({data['val_set']}, first "
        f"{data['val_limit']} images) was only logged, not used to pick a checkpoint",
    ]


def pix2pix_lines(run: Path, command: str, threads: str) -> list[str]:
    """Training provenance of a pix2pix-family run."""
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    meta = json.loads((run / "last" / "meta.json").read_text())
    g, data, loss, optim, tr = cfg["generator"], cfg["data"], cfg["loss"], cfg["optim"], cfg["train"]
    hours = run_wall_time(run / "metrics.jsonl") / 3600
    gen = f"UNet-{g['depth']}, ngf {g['ngf']}"
    gen += f", InfoAccum-{g['info_accum_layers']} before it" if g["info_accum_layers"] else ""
    gen += ", SubPixUpsamp top layer" if g["subpix_top"] else ""
    return [
        "## Training",
        "",
        f"- Command: `{command}`",
        f"- Generator: {gen}; discriminator PatchGAN 70×70 (ndf {cfg['discriminator']['ndf']})",
        f"- Data: {', '.join(data['train_sets'] + data.get('train_folders', []))} ({cfg['crop_size']}² random crops, "
        f"flips), degraded on the fly with seeded synthetic {data['task']} (`invrestore.degradations`)",
        f"- Iterations: {meta['step']:,} at batch {tr['batch_size']}; {loss['gan_mode']} GAN + "
        f"{loss['lambda_l1']:g}·L1; D step then G step",
        f"- Optimiser: Adam lr {optim['lr']:g}, betas {tuple(optim['betas'])} for G and D, constant for the first "
        f"half, then linear decay to 0; seed {tr['seed']}",
        f"- Wall time: {hours:.2f} h on {cpu_name()}, {threads} torch thread(s), torch {torch.__version__}",
        f"- Weights: the generator of the run's last checkpoint (step {meta['step']:,}); inference "
        f"{'with running BatchNorm statistics' if cfg['eval_mode'] else 'in pix2pix train mode (batch statistics)'}",
    ]


def pix2pix_eval_lines(run: Path, name: str) -> list[str]:
    """The run's final validation (the task's own seeded degradation of full images)."""
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    vals = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if '"val"' in ln]
    v = vals[-1]
    d = cfg["data"]
    n = f"first {d['val_limit']}" if d["val_limit"] else "all"
    return [
        "",
        "## Evaluation",
        "",
        f"RGB PSNR/SSIM (range 1) of the clamped output on {n} {d['val_set']} images, full size, each degraded with "
        f"the training degradation ({d['task']}) seeded by its index: the run's validation at step {v['step']:,}.",
        "",
        "| dataset | PSNR | SSIM | degraded input PSNR |",
        "|---|---|---|---|",
        f"| {d['val_set']} | {v['psnr']:.2f} | {v['ssim']:.4f} | {v.get('psnr_in', float('nan')):.2f} |",
        "",
        f"Regenerate (CLI; it seeds every image alike, so its rain and numbers differ): `invrestore restore "
        f"IMAGES --task {d['task']} --degrade --model {name} -o OUT` prints the PSNR per image and the mean.",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="registered name of the shipped model")
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--eval-json", default=None, help="invrestore eval --json report (IRAE, baselines)")
    ap.add_argument("--command", required=True, help="the exact training command")
    ap.add_argument("--card", required=True, help="write the markdown model card here")
    ap.add_argument("--note", action="append", default=[], help="extra markdown bullet (repeatable)")
    args = ap.parse_args()
    from invrestore.models.registry import MODELS, create_model

    params = sum(p.numel() for p in create_model(args.model).parameters())
    lines = [f"# Model card: {args.model} (shipped weights)", "", MODELS[args.model].description + ".", ""]
    threads = os.environ.get("TRAIN_THREADS", "1")
    if MODELS[args.model].family == "pix2pix":
        lines += pix2pix_lines(Path(args.run_dir), args.command, threads)
        lines += [f"- {n}" for n in args.note]
        lines += pix2pix_eval_lines(Path(args.run_dir), args.model)
        write_card(args.card, lines)
        return
    if args.eval_json is None:
        raise SystemExit("--eval-json is required for IRAE and the baselines")
    report = json.loads(Path(args.eval_json).read_text())
    lines += training_lines(Path(args.run_dir), args.command, threads)
    lines += [f"- {n}" for n in args.note]
    what = {"denoise": f"σ = {report['sigma']:g} AWGN", "dejpeg": f"JPEG QF {report['quality']}"}.get(
        report["task"], report["task"]
    )
    sets = " ".join(f"--dataset {d}" for d in report["datasets"])
    flag = f"--sigma {report['sigma']:g}" if report["task"] == "denoise" else f"--quality {report['quality']}"
    lines += [
        "",
        "## Evaluation",
        "",
        f"{params:,} parameters. RGB PSNR/SSIM (standard SSIM, range 1) of the clamped output on {what} copies of "
        f"each image (seed {report['seed']}, the same noisy inputs for every model), full images.",
        "",
        f"Regenerate: `invrestore eval --model {args.model} --task {report['task']} {flag} {sets}`",
        "",
        "| dataset | images | PSNR | SSIM | degraded input PSNR |",
        "|---|---|---|---|---|",
    ]
    for name, d in report["datasets"].items():
        lines.append(f"| {name} | {d['num_images']} | {d['psnr']:.2f} | {d['ssim']:.4f} | {d['psnr_in']:.2f} |")
    write_card(args.card, lines)


def write_card(card: str, lines: list[str]) -> None:
    tmp = Path(card).with_suffix(".tmp")
    tmp.write_text("\n".join([*lines, ""]))
    os.replace(tmp, card)
    print("\n".join(lines))


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
