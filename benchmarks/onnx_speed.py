"""IRN through onnxruntime (CPU) against torch eager float32, timed side by side in one run.

Usage::

    python benchmarks/onnx_speed.py [--model irn-x4] [--size 512x512] [--repeats 3] [--threads 2]
                                    [--onnx-dir DIR] [--static] [--json OUT]

Exports the model with :func:`invrestore.export.export_irn_onnx` (dynamic axes, as ``invrestore export`` writes
them; ``--static`` adds a second onnxruntime arm exported at exactly ``--size``), or reuses ``DIR/<model>.*.onnx``
when ``--onnx-dir`` holds them. Then, for the downscale (HR -> cat(y, z)) and upscale (cat(Quant(y), z) -> HR)
directions, it runs one untimed warm-up call per arm and ``--repeats`` rounds in which every arm runs once, in turn
(A B C A B C ...: a machine shared with other work loads every arm alike). Reported: min/median seconds, the ratio
of torch's median to each arm's (> 1: faster than torch), and the largest difference from torch's output. Torch
and onnxruntime both get ``--threads`` intra-op threads. Shipped weights are used (random ones if absent); the
input is uniform noise in [0, 1) (speed does not depend on the values).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from invrestore.export import export_irn_onnx, onnx_paths
from invrestore.models.registry import create_model

Fn = Callable[[], np.ndarray]


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="irn-x4")
    ap.add_argument("--size", default="512x512", help="HR size HxW")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--onnx-dir", type=Path, default=None, help="reuse (or write) the dynamic export here")
    ap.add_argument("--static", action="store_true", help="also time a graph exported at exactly --size")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.lower().split("x"))
    torch.set_num_threads(args.threads)

    try:
        net = create_model(args.model, pretrained=True).eval()
        weights = "shipped"
    except Exception:
        net = create_model(args.model).eval()
        weights = "random"
    s, c = net.scale, net.in_channels

    folder = args.onnx_dir or Path(tempfile.mkdtemp(prefix="onnx-speed-"))
    graphs: dict[str, tuple[Path, Path]] = {}
    export_s: dict[str, float] = {}
    dyn = onnx_paths(folder, args.model)
    if not all(p.is_file() for p in dyn):
        t = time.perf_counter()
        dyn = export_irn_onnx(net, folder, name=args.model)
        export_s["onnxruntime"] = time.perf_counter() - t
    graphs["onnxruntime"] = dyn
    if args.static:
        t = time.perf_counter()
        graphs["onnxruntime-static"] = export_irn_onnx(
            net, folder, height=h, width=w, dynamic=False, name=f"{args.model}-{h}x{w}"
        )
        export_s["onnxruntime-static"] = time.perf_counter() - t

    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, c, h, w, generator=g)
    with torch.no_grad():
        out_ref = net(x)[0]
        lr = torch.round(out_ref[:, :c].clamp(0, 1) * 255) / 255
        z = torch.randn(1, out_ref.shape[1] - c, h // s, w // s, generator=g)
        hr_ref = net.inverse(torch.cat([lr, z], 1))[0]
    x_np, lr_np, z_np = x.numpy(), lr.numpy(), z.numpy()

    def torch_down() -> np.ndarray:
        with torch.no_grad():
            return net(x)[0].numpy()

    def torch_up() -> np.ndarray:
        with torch.no_grad():
            return net.inverse(torch.cat([lr, z], 1))[0].numpy()

    arms: dict[str, dict[str, Fn]] = {"down": {"torch eager": torch_down}, "up": {"torch eager": torch_up}}
    for arm, (dp, up) in graphs.items():
        ds, us = session(dp, args.threads), session(up, args.threads)
        arms["down"][arm] = lambda ds=ds: ds.run(["out"], {"x": x_np})[0]
        arms["up"][arm] = lambda us=us: us.run(["hr"], {"lr": lr_np, "z": z_np})[0]
    refs = {"down": out_ref.numpy(), "up": hr_ref.numpy()}

    times: dict[str, dict[str, list[float]]] = {d: {a: [] for a in fns} for d, fns in arms.items()}
    diffs: dict[str, dict[str, float]] = {d: {} for d in arms}
    for d, fns in arms.items():  # warm-up (first-call allocation, onnxruntime's first-run planning)
        for a, fn in fns.items():
            diffs[d][a] = float(np.abs(fn() - refs[d]).max())
    for r in range(args.repeats):
        for d, fns in arms.items():
            for a, fn in fns.items():
                t = time.perf_counter()
                fn()
                times[d][a].append(time.perf_counter() - t)
        done = ", ".join(f"{d} {a} {ts[-1]:.2f}s" for d in times for a, ts in times[d].items())
        print(f"round {r + 1}/{args.repeats}: {done}", file=sys.stderr, flush=True)

    info = {
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "threads": args.threads,
        "model": args.model,
        "weights": weights,
        "size": f"{h}x{w}",
        "repeats": args.repeats,
        "export_seconds": {k: round(v, 1) for k, v in export_s.items()},
    }
    print(" | ".join(f"{k} {v}" for k, v in info.items()))
    print(f"{'direction':<9} {'arm':<20} {'min s':>8} {'median s':>9} {'torch/arm':>10} {'max |diff|':>11}")
    rows = []
    for d in arms:
        base = statistics.median(times[d]["torch eager"])
        for a, ts in times[d].items():
            med = statistics.median(ts)
            row = {"direction": d, "arm": a, "min_s": min(ts), "median_s": med, "ratio": base / med}
            row["max_abs_diff"] = diffs[d][a]
            rows.append(row)
            print(f"{d:<9} {a:<20} {min(ts):8.3f} {med:9.3f} {base / med:10.2f} {diffs[d][a]:11.2e}")
    if args.json:
        args.json.write_text(json.dumps({"info": info, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
