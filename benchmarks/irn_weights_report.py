"""Evaluate IRN weights against bicubic under the ``irn`` protocol and print model-card rows (markdown).

Usage::

    python benchmarks/irn_weights_report.py --model irn-x4 --weights W.safetensors \
        [--datasets Set5 Set14 BSD100 Kodak24] [--data-root DIR] [--json OUT]

For each dataset: our Y-PSNR/SSIM (z ~ N(0, I) from seed 0), bicubic & bicubic under the same protocol, the gap,
the paper's IRN row and the paper's gap over its Bicubic row where the paper has one.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from invrestore.data import ImageFolder, resolve_dataset
from invrestore.evaluation import BicubicMethod, evaluate_dataset, get_protocol
from invrestore.evaluation.paper import paper_result
from invrestore.models.irn import load_official_checkpoint
from invrestore.models.irn.rescaler import IRNRescaler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--datasets", nargs="+", default=["Set5", "Set14", "BSD100", "Kodak24"])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    net = load_official_checkpoint(args.weights, args.model).eval()
    s = net.scale
    proto = get_protocol("irn").with_options(score_lr=True)
    rows = []
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
        print(
            f"| {r.info.name} | {om['psnr_y']:.2f}/{om['ssim_y']:.4f} | {bm['psnr_y']:.2f}/{bm['ssim_y']:.4f} "
            f"| {gap:+.2f} dB | {om['lr_psnr_y']:.2f}/{om['lr_ssim_y']:.4f} | {ptxt} | {pgap} |",
            flush=True,
        )
        rows.append({"dataset": r.info.name, "ours": om, "bicubic": bm, "seconds": time.time() - t0})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "weights": args.weights, "results": rows}, fh, indent=2)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
