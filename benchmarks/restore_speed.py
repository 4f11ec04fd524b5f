"""Restoration-model inference speed: eager float32 against the fast paths of ``invrestore.fast``, one run.

Usage::

    python benchmarks/restore_speed.py [--models dncnn-s-denoise25 irae-denoise25] [--sizes 512x512 1920x1080]
                                       [--repeats 3] [--paths eager channels_last compile ...] [--psnr 4]
                                       [--json OUT]

The same table as ``benchmarks/irn_speed.py`` (first call, min/median seconds of interleaved repeats, ratio vs
eager, GFLOP/s and share of the measured 3×3 conv peak, peak memory, max difference from eager) for the model's
``forward`` (the whole restoration, unclamped), with the shipped weights. ``--psnr N`` also measures, on the first
``N`` Kodak24 images (centre 256² crops, σ = 25 Gaussian noise with a fixed seed), the PSNR of every
half-precision path against the float32 result's PSNR (needs the benchmark data: ``$INVRESTORE_DATA`` or
``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from irn_speed import (
    Case,
    conv_peak_gflops,
    count_flops,
    kodak_crops,
    machine_info,
    natural_image,
    parse_size,
    print_table,
    run_cases,
    summarize,
)

from invrestore.fast import FastOptions, optimize
from invrestore.models import create_model

DEFAULT_PATHS = ["eager", "channels_last", "compile", "compile,channels_last", "channels_last,bfloat16"]


def load(name: str, opts: FastOptions, device: torch.device) -> torch.nn.Module:
    try:
        model = create_model(name, pretrained=True)
    except Exception:
        model = create_model(name)
    model = model.to(device).eval()
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def restore_cases(name: str, h: int, w: int, paths: list[str], device: torch.device) -> list[Case]:
    x = natural_image(h, w, device)
    ref_model = load(name, FastOptions(), device)
    with torch.inference_mode():
        ref = ref_model(x)
    flops = count_flops(ref_model, x)
    cases = []
    for path in paths:
        opts = FastOptions.parse(path)
        cases.append(Case(path, "restore", optimize(load(name, opts, device), opts, device=device), x, ref, flops))
    return cases


def psnr_change(name: str, paths: list[str], n: int, device: torch.device) -> dict[str, Any]:
    """Mean PSNR of float32 and of each half-precision path on ``n`` noisy Kodak24 crops (σ = 25)."""
    from invrestore.metrics.psnr import psnr

    crops = kodak_crops(n)
    if not crops:
        return {"skipped": "Kodak24 not found (set INVRESTORE_DATA)"}
    gen = torch.Generator().manual_seed(0)
    noisy = [(c + torch.randn(c.shape, generator=gen) * 25 / 255).to(device) for c in crops]
    out: dict[str, Any] = {"images": n, "crop": 256, "sigma": 25}
    ref_fn = optimize(load(name, FastOptions(), device), FastOptions(), device=device)
    ref_psnr = [psnr(ref_fn(y).clamp(0, 1).cpu(), c).item() for y, c in zip(noisy, crops)]
    out["float32_psnr"] = round(sum(ref_psnr) / n, 4)
    for path in paths:
        opts = FastOptions.parse(path)
        if opts.dtype == "float32":
            continue
        fn = optimize(load(name, opts, device), opts, device=device)
        vals = [psnr(fn(y).clamp(0, 1).cpu(), c).item() for y, c in zip(noisy, crops)]
        out[f"{path}_psnr"] = round(sum(vals) / n, 4)
        out[f"{path}_delta_db"] = round(sum(vals) / n - out["float32_psnr"], 4)
        out[f"{path}_max_abs_delta_db"] = round(max(abs(a - b) for a, b in zip(vals, ref_psnr)), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["dncnn-s-denoise25", "irae-denoise25"])
    ap.add_argument("--sizes", nargs="+", default=["512x512"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paths", nargs="+", default=DEFAULT_PATHS)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--psnr", type=int, default=0, help="measure the half-precision PSNR change on N Kodak24 crops")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    info = machine_info(device)
    peak = conv_peak_gflops(device)
    print(json.dumps(info))
    results: dict[str, Any] = {"info": info, "models": {}}
    for name in args.models:
        results["models"][name] = {}
        for size in args.sizes:
            h, w = parse_size(size)
            print(f"{name} {w}x{h}", flush=True)
            cases = restore_cases(name, h, w, args.paths, device)
            run_cases(cases, args.repeats, device)
            rows = summarize(cases, max(peak, conv_peak_gflops(device)))
            print_table(rows)
            results["models"][name][f"{w}x{h}"] = rows
        if args.psnr:
            results["models"][name]["psnr"] = change = psnr_change(name, args.paths, args.psnr, device)
            print(json.dumps({name: change}), flush=True)
    results["info"]["load_avg_1min_end"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
