"""Evaluate IRN weights against bicubic under the ``irn`` protocol and print model-card rows (markdown).

Usage::

    python benchmarks/irn_weights_report.py --model irn-x4 --weights W.safetensors \
        [--datasets Set5 Set14 BSD100 Kodak24] [--data-root DIR] [--json OUT] \
        [--run-dir RUN --command "invrestore train ..." --card CARD.md]

With ``--card`` it writes the whole model card: the training provenance read from ``RUN`` (its ``config.yaml``, the
step of ``last/`` and the wall time summed over the resumed segments of ``metrics.jsonl``), the hardware, and the
table.

For each dataset: our Y-PSNR/SSIM (z ~ N(0, I) from seed 0), bicubic & bicubic under the same protocol, the gap,
the paper's IRN row and the paper's gap over its Bicubic row where the paper has one.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from invrestore.data import ImageFolder, resolve_dataset
from invrestore.evaluation import BicubicMethod, evaluate_dataset, get_protocol
from invrestore.evaluation.paper import paper_result
from invrestore.models.irn import load_official_checkpoint
from invrestore.models.irn.rescaler import IRNRescaler
from invrestore.train import cpu_name, run_wall_time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--datasets", nargs="+", default=["Set5", "Set14", "BSD100", "Kodak24"])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--run-dir", default=None, help="training run the weights come from (for --card)")
    ap.add_argument("--command", default=None, help="the exact training command (for --card)")
    ap.add_argument("--card", default=None, help="write the markdown model card here")
    args = ap.parse_args()
    net = load_official_checkpoint(args.weights, args.model).eval()
    s = net.scale
    proto = get_protocol("irn").with_options(score_lr=True)
    rows = []
    table = []
    print(
        f"| dataset | {args.model} Y-PSNR/SSIM | bicubic (irn protocol) | gap | LR vs bicubic PSNR/SSIM (Y) "
        "| paper IRN | paper gap |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        r = resolve_dataset(name, args.data_root)
        imgs = ImageFolder(list(r.files), mode="keep")
        t0 = time.time()
        ours = evaluate_dataset(((p.stem, imgs.load(i)) for i, p in enumerate(imgs.files)), IRNRescaler(net), s, proto)
        bic = evaluate_dataset(((p.stem, imgs.load(i)) for i, p in enumerate(imgs.files)), BicubicMethod(), s, proto)
        om, bm = ours.means, bic.means
        paper = paper_result("irn", s, r.info.name)
        paper_bic = paper_result("bicubic", s, r.info.name)
        gap = om["psnr_y"] - bm["psnr_y"]  # type: ignore[operator]
        pgap = f"{paper[0] - paper_bic[0]:+.2f}" if paper and paper_bic else "-"
        ptxt = f"{paper[0]:.2f}/{paper[1]:.4f}" if paper else "-"
        line = (
            f"| {r.info.name} | {om['psnr_y']:.2f}/{om['ssim_y']:.4f} | {bm['psnr_y']:.2f}/{bm['ssim_y']:.4f} "
            f"| {gap:+.2f} dB | {om['lr_psnr_y']:.2f}/{om['lr_ssim_y']:.4f} | {ptxt} | {pgap} |"
        )
        print(line, flush=True)
        table.append(line)
        rows.append({"dataset": r.info.name, "ours": om, "bicubic": bm, "seconds": time.time() - t0})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "weights": args.weights, "results": rows}, fh, indent=2)
    if args.card:
        write_card(args, table)


def write_card(args: argparse.Namespace, table: list[str]) -> None:
    import yaml

    run = Path(args.run_dir) if args.run_dir else None
    lines = [f"# Model card: {args.model} (shipped weights)", ""]
    if run is not None:
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        meta = json.loads((run / "last" / "meta.json").read_text())
        tr, data, optim = cfg["train"], cfg["data"], cfg["train"]["optim"]
        hours = run_wall_time(run / "metrics.jsonl") / 3600
        lines += [
            "## Training",
            "",
            f"- Command: `{args.command or 'invrestore train ' + str(run / 'config.yaml')}`",
            f"- Data: {', '.join(data['train_sets'] + data.get('train_folders', []))} ({data['crop_size']}² random "
            "HR crops, flips and 90° rotations; LR guide = MATLAB bicubic of the crop's source image)",
            f"- Iterations: {meta['step']:,} at batch {tr['batch_size']} (the paper: 500,000 at batch 16, 144² crops)",
            f"- Optimiser: Adam lr {optim['lr']:g}, betas {tuple(optim['betas'])}, weight decay "
            f"{optim['weight_decay']:g}, halved at {optim['milestones']}, grad-norm clip {optim['grad_clip']:g}; "
            f"seed {tr['seed']}",
            f"- Wall time: {hours:.2f} h on {cpu_name()}, {os.environ.get('TRAIN_THREADS', '1')} torch thread(s), "
            f"torch {torch.__version__}",
            "- Weights: the run's last checkpoint (not a best-on-validation pick: validation was on Set5, a test set)",
            "",
        ]
    lines += [
        "## Evaluation",
        "",
        "`irn` protocol: HR modcrop, y quantised to 8 bits, z ~ N(0, I) from seed 0, Y channel, shave = scale.",
        "",
        f"Regenerate: `python benchmarks/irn_weights_report.py --model {args.model} --weights {args.weights}`",
        "",
        "| dataset | ours Y-PSNR/SSIM | bicubic & bicubic | gap | LR vs bicubic PSNR/SSIM (Y) | paper IRN "
        "| paper gap |",
        "|---|---|---|---|---|---|---|",
        *table,
        "",
    ]
    tmp = Path(args.card).with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, args.card)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
