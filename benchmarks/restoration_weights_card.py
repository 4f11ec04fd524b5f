"""Write the model card of shipped restoration weights (IRAE, the baselines) from their training run and an
``invrestore eval --json`` report.

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="registered name of the shipped model")
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--eval-json", required=True, help="invrestore eval --json report of these weights")
    ap.add_argument("--command", required=True, help="the exact training command")
    ap.add_argument("--card", required=True, help="write the markdown model card here")
    ap.add_argument("--note", action="append", default=[], help="extra markdown bullet (repeatable)")
    args = ap.parse_args()
    from invrestore.models.registry import MODELS, create_model

    report = json.loads(Path(args.eval_json).read_text())
    params = sum(p.numel() for p in create_model(args.model).parameters())
    lines = [f"# Model card: {args.model} (shipped weights)", "", MODELS[args.model].description + ".", ""]
    lines += training_lines(Path(args.run_dir), args.command, os.environ.get("TRAIN_THREADS", "1"))
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
    lines.append("")
    tmp = Path(args.card).with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, args.card)
    print("\n".join(lines))


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
