"""Learned-codec transform speed: eager float32 against the fast paths of ``invrestore.fast``, one run.

Usage::

    python benchmarks/codec_speed.py [--models ilc-small-q4 bls2017-128-q4] [--sizes 512x512] [--repeats 3]
                                     [--paths eager channels_last compile compile,channels_last] [--json OUT]

Times the two transforms that dominate coding: ``analysis`` (image -> latent ``y``; ILC: the invertible IEM's
forward, whose ``y`` part is coded) and ``synthesis`` (``ŷ`` -> image; ILC: the IEM's inverse with ``z = 0``).
The entropy coding itself (range coder, table look-ups) is not a tensor function and is not changed by these
paths. The same table as ``benchmarks/irn_speed.py``: first call, min/median of interleaved repeats, ratio vs
eager, GFLOP/s and share of the measured conv peak, peak memory, max difference from eager (synthesis is fed
eager's own ``y``, rounded as the coder would). The fused DenseBlock does not apply (no DenseBlocks in these
codecs); half precision is not offered by default because rounding ``y`` to integers amplifies small errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from irn_speed import (
    Case,
    conv_peak_gflops,
    count_flops,
    machine_info,
    natural_image,
    parse_size,
    print_table,
    run_cases,
    summarize,
)

from invrestore.fast import FastOptions, optimize
from invrestore.models import create_model

DEFAULT_PATHS = ["eager", "channels_last", "compile", "compile,channels_last"]


def load(name: str, opts: FastOptions, device: torch.device) -> Any:
    try:
        model = create_model(name, pretrained=True)
    except Exception:
        model = create_model(name)
    model = model.to(device).eval()
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def transforms(model: Any) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """``(analysis: x -> y, synthesis: ŷ -> x̂)`` of a codec (ILC or BLS2017)."""
    if hasattr(model, "analysis"):  # ILC: the invertible transform; only y is coded, z = 0 at decoding
        return (lambda t: model.analysis(t)[0]), (lambda t: model.synthesis(t))
    return (lambda t: model.encode_latent(t)), (lambda t: model.decode_latent(t))


def codec_cases(name: str, h: int, w: int, paths: list[str], device: torch.device) -> list[Case]:
    x = natural_image(h, w, device)
    ana_ref, syn_ref = transforms(load(name, FastOptions(), device))
    with torch.inference_mode():
        y = ana_ref(x)
        y_hat = torch.round(y)
        x_hat = syn_ref(y_hat)
    ana_flops, syn_flops = count_flops(ana_ref, x), count_flops(syn_ref, y_hat)
    cases = []
    for path in paths:
        opts = FastOptions.parse(path)
        ana, syn = transforms(load(name, opts, device))
        cases.append(Case(path, "analysis", optimize(ana, opts, device=device), x, y, ana_flops))
        cases.append(Case(path, "synthesis", optimize(syn, opts, device=device), y_hat, x_hat, syn_flops))
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["ilc-small-q4", "bls2017-128-q4"])
    ap.add_argument("--sizes", nargs="+", default=["512x512"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paths", nargs="+", default=DEFAULT_PATHS)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None)
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
            cases = codec_cases(name, h, w, args.paths, device)
            run_cases(cases, args.repeats, device)
            rows = summarize(cases, max(peak, conv_peak_gflops(device)))
            print_table(rows)
            results["models"][name][f"{w}x{h}"] = rows
    results["info"]["load_avg_1min_end"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
