"""Markdown table of restoration runs scored by ``invrestore eval`` (see restoration_cpu_experiment.sh).

Usage: ``python benchmarks/restoration_table.py OUT_DIR RUN [RUN ...]`` where ``OUT_DIR/RUN`` is a training run and
``OUT_DIR/RUN_eval.json`` its ``invrestore eval --json`` report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from invrestore.train import run_wall_time


def main() -> None:
    from invrestore.api import load_restorer

    out, runs = Path(sys.argv[1]), sys.argv[2:]
    reports = {r: json.loads((out / f"{r}_eval.json").read_text()) for r in runs}
    datasets = list(next(iter(reports.values()))["datasets"])
    head = "| model | parameters | steps | train time | " + " | ".join(f"{d} PSNR/SSIM" for d in datasets) + " |"
    print(head)
    print("|---" * (4 + len(datasets)) + "|")
    for r in runs:
        net = load_restorer(None, str(out / r / "last")).model
        params = sum(p.numel() for p in net.parameters())
        steps = json.loads((out / r / "last" / "meta.json").read_text())["step"]
        secs = run_wall_time(out / r / "metrics.jsonl")
        cells = [f"{reports[r]['datasets'][d]['psnr']:.2f}/{reports[r]['datasets'][d]['ssim']:.4f}" for d in datasets]
        print(f"| {reports[r]['model']} | {params:,} | {steps:,} | {secs / 60:.1f} min | " + " | ".join(cells) + " |")
    first = reports[runs[0]]["datasets"]
    inputs = " | ".join(f"{first[d]['psnr_in']:.2f}" for d in datasets)
    print(f"| noisy input (PSNR) | | | | {inputs} |")


if __name__ == "__main__":
    main()
