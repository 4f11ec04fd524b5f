"""Markdown tables of benchmarks/pix2pix_cpu_experiments.sh: the probe, the depth sweep and the ablation.

Usage: ``python benchmarks/pix2pix_table.py OUT_DIR``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from invrestore.train import run_wall_time

PROBES = ["pix2pix-encdec-8", "pix2pix-unet-8", "pix2pix-unet-5", "pix2pix-unet-5-ia15", "pix2pix-unet-5-ia15-subpix"]
PAPER_PROBE = {  # Table III (PSNR/SSIM), full width on Rain800 ground truths
    "pix2pix-encdec-8": ("En/Dec", "24.06/.7194"),
    "pix2pix-unet-8": ("UNet-8", "34.20/.9802"),
    "pix2pix-unet-5": ("UNet-5", "34.28/.9811"),
    "pix2pix-unet-5-ia15": ("+InfoAccum", "42.58/.9967"),
    "pix2pix-unet-5-ia15-subpix": ("+SubPix", "49.41/.9987"),
}
DEPTHS = ["depth4", "depth5", "depth6", "depth7"]
ABLATION = ["unet5", "unet5_ia", "unet5_ia_subpix", "unet5_ia_subpix_lsgan"]


def last_val(run: Path) -> dict[str, float]:
    vals = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if '"val"' in ln]
    return vals[-1] if vals else {}


def generator_parameters(run: Path) -> int:
    import torch

    from invrestore.cli.restore import load_restoration_model

    _, net = load_restoration_model(None, str(run / "last"), torch.device("cpu"))
    return sum(p.numel() for p in net.parameters())


def run_rows(out: Path, names: list[str]) -> list[str]:
    rows = []
    for n in names:
        run = out / n
        if not (run / "metrics.jsonl").is_file():
            continue
        v = last_val(run)
        steps = json.loads((run / "last" / "meta.json").read_text())["step"]
        secs = run_wall_time(run / "metrics.jsonl")
        bad = sum(1 for ln in (run / "metrics.jsonl").read_text().splitlines() if "NaN" in ln or "Infinity" in ln)
        rows.append(f"| {n} | {generator_parameters(run):,} | {steps:,} | {secs / 60:.1f} min "
                    f"| {v.get('psnr', float('nan')):.2f} | {v.get('ssim', float('nan')):.4f} "
                    f"| {v.get('psnr_in', float('nan')):.2f} | {bad} |")  # fmt: skip
    return rows


def ordering(scores: dict[str, float]) -> str:
    """Names from worst to best PSNR."""
    return " < ".join(n for n, _ in sorted(scores.items(), key=lambda kv: kv[1]))


def main() -> None:
    out = Path(sys.argv[1])
    print("### Information-loss probe (autoencoder reconstruction, Set14)\n")
    print("| generator | paper row | paper PSNR/SSIM | parameters | steps | PSNR | SSIM |")
    print("|---|---|---|---|---|---|---|")
    scores = {}
    for m in PROBES:
        f = out / f"probe_{m}.json"
        if f.is_file():
            r = json.loads(f.read_text())
            row, paper = PAPER_PROBE[m]
            scores[row] = r["psnr"]
            print(f"| {m} | {row} | {paper} | {r['parameters']:,} | {int(r['steps'])} | {r['psnr']:.2f} "
                  f"| {r['ssim']:.4f} |")  # fmt: skip
    print(f"\nOrdering by PSNR, ours: {ordering(scores)}")
    print("Paper: En/Dec < UNet-8 < UNet-5 < +InfoAccum < +SubPix")
    for title, names in (("UNet depth sweep (synthetic rain, Set14)", DEPTHS), ("Ablation (synthetic rain)", ABLATION)):
        print(f"\n### {title}\n")
        print("| run | G parameters | steps | train time | PSNR | SSIM | rainy input PSNR | NaN/inf log lines |")
        print("|---|---|---|---|---|---|---|---|")
        rows = run_rows(out, names)
        print("\n".join(rows))
        vals = {n: last_val(out / n).get("psnr", float("nan")) for n in names if (out / n / "metrics.jsonl").is_file()}
        print(f"\nOrdering by PSNR, ours: {ordering(vals)}")


if __name__ == "__main__":
    main()
