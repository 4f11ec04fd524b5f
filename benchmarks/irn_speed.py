"""IRN inference speed and peak memory: downscale and upscale of a 512×512 and a 1920×1080 image at ×2 and ×4.

Usage::

    python benchmarks/irn_speed.py [--sizes 512x512 1920x1080] [--scales 2 4] [--repeats 2] [--json OUT]

Reports the device, the CPU thread count, seconds per call (best of ``--repeats`` after one warm-up) and peak memory
(CUDA: ``torch.cuda.max_memory_allocated``; CPU: the growth of the process's peak RSS during the call, from
``resource.getrusage``). Weights are random (speed does not depend on them).
Reference (issue #4): the official code on this machine type (2 threads) takes 20.4 s / 20.8 s to downscale /
upscale 512×512 at ×4 and 11.6 s / 12.6 s at ×2.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

import torch

from invrestore.models import create_model


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench(scale: int, h: int, w: int, device: torch.device, repeats: int) -> dict[str, Any]:
    model = create_model(f"irn-x{scale}").to(device).eval()
    x = torch.rand(1, 3, h, w, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    out: dict[str, Any] = {"scale": scale, "size": f"{w}x{h}"}
    with torch.inference_mode():
        y, _ = model.downscale(x)  # warm-up (oneDNN primitive creation)
        model.upscale(y, generator=g)
        for name, fn in (("downscale", lambda: model.downscale(x)), ("upscale", lambda: model.upscale(y, generator=g))):
            times = []
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            rss0 = _peak_rss_mb()
            for _ in range(repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            out[f"{name}_s"] = min(times)
            if device.type == "cuda":
                out[f"{name}_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
            else:
                out[f"{name}_peak_rss_mb"] = _peak_rss_mb()
                out[f"{name}_rss_growth_mb"] = _peak_rss_mb() - rss0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["512x512", "1920x1080"])
    ap.add_argument("--scales", nargs="+", type=int, default=[2, 4])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    device = torch.device(args.device)
    info = {"device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    print(json.dumps(info))
    rows = []
    for size in args.sizes:
        w, h = (int(v) for v in size.split("x"))
        for s in args.scales:
            r = bench(s, h, w, device, args.repeats)
            rows.append(r)
            print(json.dumps(r), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"info": info, "results": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
