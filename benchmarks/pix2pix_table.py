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
    "pix2pix-encdec-8": "En/Dec",
    "pix2pix-unet-8": "UNet-8",
    "pix2pix-unet-5": "UNet-5",
    "pix2pix-unet-5-ia15": "+InfoAccum",
    "pix2pix-unet-5-ia15-subpix": "+SubPix",
}
DEPTHS = ["depth4", "depth5", "depth6", "depth7"]
ABLATION = ["unet5", "unet5_ia", "unet5_ia_subpix", "unet5_ia_subpix_lsgan"]


def last_val(run: Path) -> dict[str, float]:
    vals = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if '"val"' in ln]
    return vals[-1] if vals else {}


def run_rows(out: Path, names: list[str]) -> list[str]:
    rows = []
    for n in names:
        run = out / n
        if not (run / "metrics.jsonl").is_file():
            continue
        v = last_val(run)
        steps = json.loads((run / "last" / "meta.json").read_text())["step"]
        secs = run_wall_time(run / "metrics.jsonl")
        rows.append(f"| {n} | {steps:,} | {secs / 60:.1f} min | {v.get('psnr', float('nan')):.2f} "
                    f"| {v.get('ssim', float('nan')):.4f} |")  # fmt: skip
    return rows


def main() -> None:
    out = Path(sys.argv[1])
    print("### Information-loss probe (autoencoder reconstruction, Set14)\n")
    print("| generator | paper row | parameters | steps | PSNR | SSIM |")
    print("|---|---|---|---|---|---|")
    for m in PROBES:
        f = out / f"probe_{m}.json"
        if f.is_file():
            r = json.loads(f.read_text())
            print(f"| {m} | {PAPER_PROBE[m]} | {r['parameters']:,} | {int(r['steps'])} | {r['psnr']:.2f} "
                  f"| {r['ssim']:.4f} |")  # fmt: skip
    for title, names in (("UNet depth sweep (synthetic rain, Set14)", DEPTHS), ("Ablation (synthetic rain)", ABLATION)):
        print(f"\n### {title}\n")
        print("| run | steps | train time | PSNR | SSIM |")
        print("|---|---|---|---|---|")
        print("\n".join(run_rows(out, names)))


if __name__ == "__main__":
    main()
