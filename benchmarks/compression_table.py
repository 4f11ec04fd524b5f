"""Markdown tables of the ILC-vs-teacher CPU experiment (see compression_cpu_experiment.sh).

Usage: ``python benchmarks/compression_table.py OUT_DIR`` with ``OUT_DIR/rd.csv`` from ``invrestore bench rd`` and the
training runs ``OUT_DIR/teacher_<q>``, ``OUT_DIR/ilc_<q>``. Prints the R–D points of the learned codecs (with their
training budgets), then ILC − teacher at equal real bpp: the teacher's PSNR at the ILC's bpp, linear in log(bpp)
between the teacher's two nearest points (marked "extrapolated" outside their range), then the same from each teacher
point against the ILC curve, with JPEG and WebP at each point's bpp.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

from invrestore.train import run_wall_time


def psnr_at(curve: list[tuple[float, float]], bpp: float) -> tuple[float, bool]:
    """PSNR of the R–D ``curve`` ((bpp, psnr) points) at ``bpp``, linear in log(bpp); True when extrapolated."""
    pts = sorted(curve)
    if len(pts) < 2:
        raise ValueError("need two points to interpolate")
    inside = pts[0][0] <= bpp <= pts[-1][0]
    i = 1
    while i < len(pts) - 1 and pts[i][0] < bpp:
        i += 1
    (b0, p0), (b1, p1) = pts[i - 1], pts[i]
    t = (math.log(bpp) - math.log(b0)) / (math.log(b1) - math.log(b0))
    return p0 + t * (p1 - p0), not inside


def main() -> None:
    out = Path(sys.argv[1])
    rows = list(csv.DictReader((out / "rd.csv").open()))
    curves: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        curves.setdefault(r["method"], []).append((float(r["bpp_real"]), float(r["psnr_rgb"])))

    cols = ["codec", "weights", "train steps", "train time", "bpp (real file)", "bpp (estimated)", "PSNR-RGB"]
    print("| " + " | ".join([*cols, "MS-SSIM", "PSNR NQ"]) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    learned = [r for r in rows if r["bpp_est"]]
    for r in sorted(learned, key=lambda r: (r["method"], float(r["bpp_real"]))):
        q = str(r["quality"]).rsplit("-", 1)[-1]
        run = out / (("teacher_" if r["method"].startswith("bls2017") else "ilc_") + q)
        steps, time = "", ""
        if (run / "last" / "meta.json").is_file():
            steps = f"{json.loads((run / 'last' / 'meta.json').read_text())['step']:,}"
            time = f"{run_wall_time(run / 'metrics.jsonl') / 60:.0f} min"
        ms = f"{float(r['ms_ssim']):.4f}" if r["ms_ssim"] else ""
        nq = f"{float(r['psnr_no_quant']):.2f}" if r["psnr_no_quant"] else ""
        print(
            f"| {r['method']} | {r['quality']} | {steps} | {time} | {float(r['bpp_real']):.4f} | "
            f"{float(r['bpp_est']):.4f} | {float(r['psnr_rgb']):.2f} | {ms} | {nq} |"
        )

    teacher = next((m for m in curves if m.startswith("bls2017")), None)
    ilc = next((m for m in curves if m.startswith("ilc")), None)
    if teacher is None or ilc is None or len(curves[teacher]) < 2:
        return
    print()
    refs = [m for m in ("jpeg", "webp") if m in curves and len(curves[m]) >= 2]
    print("| point | bpp (real) | its PSNR | the other curve at this bpp | ILC − teacher | " + " | ".join(refs) + " |")
    print("|---" * (5 + len(refs)) + "|")

    def at(curve: list[tuple[float, float]], bpp: float) -> str:
        v, extrapolated = psnr_at(curve, bpp)
        return f"{v:.2f}{' (extrapolated)' if extrapolated else ''}"

    for mine, other, sign in ((ilc, teacher, 1), (teacher, ilc, -1)):
        if len(curves[other]) < 2:
            continue
        for bpp, p in sorted(curves[mine]):
            v, extrapolated = psnr_at(curves[other], bpp)
            delta = sign * (p - v)
            print(
                f"| {mine} | {bpp:.4f} | {p:.2f} | {other}: {at(curves[other], bpp)} | {delta:+.2f} dB"
                f"{' (extrapolated)' if extrapolated else ''} | " + " | ".join(at(curves[m], bpp) for m in refs) + " |"
            )


if __name__ == "__main__":
    main()
