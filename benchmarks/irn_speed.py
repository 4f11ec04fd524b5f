"""IRN inference speed: eager float32 against every fast path, measured side by side in one run.

Usage::

    python benchmarks/irn_speed.py [--sizes 512x512 1920x1080] [--scale 4] [--repeats 3]
                                   [--paths eager channels_last fused,channels_last compile ...] [--json OUT]
                                   [--tiled-24mp] [--threads N] [--psnr N]
                                   [--cache-check compile,fused,channels_last]

For each size and each path (a comma-separated :meth:`invrestore.fast.FastOptions.parse` spec, or ``onnxruntime``
when ``invrestore.export`` and onnxruntime are installed) it reports, for the downscale (``forward``: HR ->
cat(y, z)) and upscale (``inverse``) directions: the first call (compilation included), min/median seconds of
``--repeats`` calls interleaved across paths (A B C A B C ..., so a machine shared with other work loads every arm
alike), the ratio of the median to eager's, GFLOP/s (FLOPs counted once on eager with
``torch.utils.flop_counter``) and its share of the measured 3×3 convolution peak (64→64 channels, 256², best of
NCHW/channels-last, measured in the same run), the peak memory of one call (CPU: the growth of the resident set
sampled every 2 ms; CUDA: ``max_memory_allocated``), and the largest difference from eager's output (the upscale
is fed eager's own ``cat(y, z)``). Shipped ``irn-x{2,4}`` weights are used when available (the values, not the
speed, depend on them); the input is a natural image (a shipped Kodak crop, tiled) so the differences are
representative. ``--tiled-24mp`` adds a 6000×4000 downscale + upscale through ``invrestore.tiling``. ``--psnr N``
measures the half-precision paths' PSNR change against float32 on ``N`` Kodak24 crops (:func:`irn_psnr_change`).
``--cache-check PATH`` times the first call (compilation) of PATH at 128² in two fresh processes sharing one empty
compile cache (cold, then warm).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from invrestore.fast import FastOptions, irn_functions
from invrestore.models import create_model

Fn = Callable[[Tensor], Tensor]


# -- machine, peak, memory ---------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": str(device),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_avg_1min": os.getloadavg()[0],
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def conv_peak_gflops(device: torch.device, repeats: int = 5) -> float:
    """GFLOP/s of one 64→64 3×3 convolution on a 256² map (best of NCHW and channels-last, best of repeats)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(1, 64, 256, 256, device=device)
    w = torch.randn(64, 64, 3, 3, device=device)
    b = torch.randn(64, device=device)
    with FlopCounterMode(display=False) as fc:
        F.conv2d(x, w, b, padding=1)
    flops = fc.get_total_flops()
    best = float("inf")
    with torch.inference_mode():
        for fmt in (torch.contiguous_format, torch.channels_last):
            xf, wf = x.contiguous(memory_format=fmt), w.contiguous(memory_format=fmt)
            F.conv2d(xf, wf, b, padding=1)
            for _ in range(repeats):
                sync(device)
                t0 = time.perf_counter()
                F.conv2d(xf, wf, b, padding=1)
                sync(device)
                best = min(best, time.perf_counter() - t0)
    return flops / best / 1e9


def count_flops(fn: Fn, x: Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    for ctx in (torch.inference_mode, torch.no_grad):
        try:
            with FlopCounterMode(display=False) as fc, ctx():
                fn(x)
            return int(fc.get_total_flops())
        except Exception:  # some custom autograd functions cannot run under the counter in inference mode
            continue
    return 0


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak memory growth of a block: CUDA ``max_memory_allocated`` or the sampled CPU resident-set growth."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def _sample(self, base: int) -> None:
        peak = base
        while not self._stop.is_set():
            peak = max(peak, _rss_bytes())
            time.sleep(0.002)
        self.peak_mb = (max(peak, _rss_bytes()) - base) / 2**20

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            self._thread = threading.Thread(target=self._sample, args=(_rss_bytes(),), daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            sync(self.device)
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self._base) / 2**20
        else:
            self._stop.set()
            self._thread.join()


# -- the interleaved runner --------------------------------------------------------------------------------------
@dataclass
class Case:
    """One (path, direction): a function, its input and eager's output for the same input."""

    path: str
    direction: str
    fn: Fn
    x: Tensor
    ref: Tensor | None = None
    flops: int = 0
    times: list[float] = field(default_factory=list)
    first_s: float = 0.0
    peak_mb: float = 0.0
    max_abs_diff: float | None = None
    error: str | None = None


def run_cases(cases: list[Case], repeats: int, device: torch.device, log: Callable[[str], None] = print) -> None:
    """First call of each case (compiles; memory and difference measured there), then ``repeats`` rounds that
    time every case once per round, in order, so slow drifts of a shared machine hit all cases alike."""
    for c in cases:
        try:
            sync(device)
            t0 = time.perf_counter()
            with PeakMemory(device) as pm:
                out = c.fn(c.x)
                sync(device)
            c.first_s = time.perf_counter() - t0
            c.peak_mb = pm.peak_mb
            if c.ref is not None:
                c.max_abs_diff = (out.float() - c.ref.float()).abs().max().item()
            del out
            log(f"  first call {c.path:>34s} {c.direction:9s} {c.first_s:8.2f} s")
        except Exception as e:  # a path that cannot run here is reported, not fatal
            c.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            log(f"  {c.path} {c.direction}: {c.error}")
    live = [c for c in cases if c.error is None]
    for _ in range(repeats):
        for c in live:
            sync(device)
            t0 = time.perf_counter()
            c.fn(c.x)
            sync(device)
            c.times.append(time.perf_counter() - t0)
    for c in live:  # a second memory reading, after warm-up (compiled code allocates less on later calls)
        with PeakMemory(device) as pm:
            c.fn(c.x)
        c.peak_mb = min(c.peak_mb, pm.peak_mb) if c.peak_mb > 0 else pm.peak_mb


def summarize(cases: list[Case], peak: float, baseline: str = "eager") -> list[dict[str, Any]]:
    base = {c.direction: statistics.median(c.times) for c in cases if c.path == baseline and c.times}
    rows = []
    for c in cases:
        row: dict[str, Any] = {"path": c.path, "direction": c.direction, "shape": list(c.x.shape)}
        if c.error is not None:
            row["error"] = c.error
        else:
            med = statistics.median(c.times)
            row.update(
                first_call_s=round(c.first_s, 3),
                min_s=round(min(c.times), 4),
                median_s=round(med, 4),
                speedup_vs_eager=round(base[c.direction] / med, 3) if c.direction in base else None,
                gflops_per_s=round(c.flops / med / 1e9, 1) if c.flops else None,
                pct_of_conv_peak=round(100 * c.flops / med / 1e9 / peak, 1) if c.flops else None,
                peak_mem_mb=round(c.peak_mb, 1),
                max_abs_diff_vs_eager=c.max_abs_diff,
            )
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'path':>34s} {'dir':9s} {'first s':>8s} {'min s':>8s} {'med s':>8s} {'×eager':>7s} {'GFLOP/s':>8s}"
    print(head + f" {'%peak':>6s} {'mem MB':>8s} {'maxdiff':>9s}")
    for r in rows:
        if "error" in r:
            print(f"{r['path']:>34s} {r['direction']:9s} {r['error']}")
            continue

        def f(v: Any, fmt: str) -> str:
            return format(v, fmt) if v is not None else "-"

        print(
            f"{r['path']:>34s} {r['direction']:9s} {r['first_call_s']:8.2f} {r['min_s']:8.3f} {r['median_s']:8.3f} "
            f"{f(r['speedup_vs_eager'], '7.2f')} {f(r['gflops_per_s'], '8.1f')} {f(r['pct_of_conv_peak'], '6.1f')} "
            f"{r['peak_mem_mb']:8.1f} {f(r['max_abs_diff_vs_eager'], '9.1e')}"
        )


def natural_image(h: int, w: int, device: torch.device) -> Tensor:
    """A ``(1, 3, h, w)`` image tiled from a shipped 256² Kodak crop (mirrored to avoid edges), or noise."""
    try:
        from invrestore.io import read_image

        path = resources.files("invrestore") / "assets" / "samples" / "kodim23_crop256.png"
        with resources.as_file(path) as p:
            tile = read_image(p, mode="rgb")[None]
        tile = torch.cat([tile, tile.flip(-1)], -1)
        tile = torch.cat([tile, tile.flip(-2)], -2)
        reps = (-(-h // tile.shape[-2]), -(-w // tile.shape[-1]))
        img = tile.repeat(1, 1, *reps)[..., :h, :w].contiguous()
    except Exception:
        img = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    return img.to(device)


def data_root() -> Path | None:
    """The benchmark data (``$INVRESTORE_DATA`` or ``../shared/data`` beside the clone), if it has Kodak24."""
    env = os.environ.get("INVRESTORE_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return root if (root / "eval" / "Kodak24").is_dir() else None


def kodak_crops(n: int, size: int = 256) -> list[Tensor]:
    """Centre ``size``² crops of the first ``n`` Kodak24 images (empty without the data)."""
    from invrestore.io import read_image

    root = data_root()
    if root is None:
        return []
    crops = []
    for p in sorted((root / "eval" / "Kodak24").glob("*.png"))[:n]:
        img = read_image(p, mode="rgb")[None]
        top, left = (img.shape[-2] - size) // 2, (img.shape[-1] - size) // 2
        crops.append(img[..., top : top + size, left : left + size].contiguous())
    return crops


def irn_psnr_change(scale: int, paths: list[str], n: int, device: torch.device) -> dict[str, Any]:
    """Half precision vs float32 on ``n`` Kodak24 crops: HR PSNR of downscale (8-bit LR) + upscale with one fixed
    ``z ~ N(0, I)`` per image (the same for every path), and how many 8-bit LR values differ from float32's."""
    from invrestore.metrics.psnr import psnr
    from invrestore.models.irn.model import quantize_ste

    crops = kodak_crops(n)
    if not crops:
        return {"skipped": "Kodak24 not found (set INVRESTORE_DATA)"}
    out: dict[str, Any] = {"images": n, "crop": 256, "z": "N(0, I), seed 0, same for every path"}
    ref: dict[str, Any] = {}
    for path in ["eager", *[p for p in paths if p != "onnxruntime" and FastOptions.parse(p).dtype != "float32"]]:
        fwd, inv = irn_functions(load_irn(scale).to(device), FastOptions.parse(path), device)
        vals, lrs = [], []
        for i, c in enumerate(crops):
            x = c.to(device)
            lr = quantize_ste(fwd(x)[:, :3])
            z = torch.randn((1, 3 * scale**2 - 3, *lr.shape[-2:]), generator=torch.Generator().manual_seed(i))
            hr = inv(torch.cat([lr, z.to(device)], 1)).clamp(0, 1)
            vals.append(psnr(hr.cpu(), c).item())
            lrs.append(torch.round(lr.cpu() * 255))
        if path == "eager":
            ref = {"psnr": vals, "lr": lrs}
            out["float32_psnr"] = round(sum(vals) / n, 4)
            continue
        diff = torch.cat([(a - b).abs().flatten() for a, b in zip(lrs, ref["lr"])])
        out[path] = {
            "psnr": round(sum(vals) / n, 4),
            "delta_db": round(sum(vals) / n - out["float32_psnr"], 4),
            "max_abs_delta_db": round(max(abs(a - b) for a, b in zip(vals, ref["psnr"])), 4),
            "lr_equal_fraction": round((diff == 0).float().mean().item(), 5),
            "lr_max_level_diff": int(diff.max().item()),
        }
    return out


def parse_size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return h, w


# -- IRN ---------------------------------------------------------------------------------------------------------
DEFAULT_PATHS = [
    "eager",
    "channels_last",
    "fused",
    "fused,channels_last",
    "compile",
    "compile,channels_last",
    "compile,fused,channels_last",
    "fused,channels_last,bfloat16",
]


def load_irn(scale: int) -> Any:
    try:
        return create_model(f"irn-x{scale}", pretrained=True).eval()
    except Exception:
        return create_model(f"irn-x{scale}").eval()


def onnx_functions(net: Any, h: int, w: int) -> tuple[Fn, Fn]:
    """The two exported ONNX graphs (fixed size) run by onnxruntime on the CPU, as tensor -> tensor functions."""
    import tempfile

    import onnxruntime as ort

    from invrestore.export import export_irn_onnx

    down_path, up_path = export_irn_onnx(net, tempfile.mkdtemp(prefix="irn-onnx-"), height=h, width=w, dynamic=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads = torch.get_num_threads()
    down_s, up_s = (ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"]) for p in (down_path, up_path))
    split = int(net.in_channels)

    def down(t: Tensor) -> Tensor:
        # the down graph's first output is the raw cat(y, z) (its second, the 8-bit LR image, is not compared)
        outs = down_s.run(None, {down_s.get_inputs()[0].name: t.contiguous().numpy()})
        return torch.from_numpy(outs[0])

    def up(t: Tensor) -> Tensor:
        names = [i.name for i in up_s.get_inputs()]
        arr = t.contiguous().numpy()
        feed = (
            {names[0]: arr} if len(names) == 1 else {names[0]: arr[:, :split].copy(), names[1]: arr[:, split:].copy()}
        )
        return torch.from_numpy(up_s.run(None, feed)[0])

    return down, up


def irn_cases(scale: int, h: int, w: int, paths: list[str], device: torch.device) -> list[Case]:
    x = natural_image(h, w, device)
    ref_net = load_irn(scale).to(device)
    with torch.inference_mode():
        out_ref = ref_net(x)[0]
        x_ref = ref_net.inverse(out_ref)[0]
    down_flops = count_flops(lambda t: ref_net(t)[0], x)
    up_flops = count_flops(lambda t: ref_net.inverse(t)[0], out_ref)
    cases = []
    for path in paths:
        try:
            if path == "onnxruntime":
                fwd, inv = onnx_functions(load_irn(scale), h, w)
            else:
                fwd, inv = irn_functions(load_irn(scale).to(device), FastOptions.parse(path), device)
        except Exception as e:
            err = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            cases += [Case(path, d, lambda t: t, x, error=err) for d in ("downscale", "upscale")]
            continue
        cases.append(Case(path, "downscale", fwd, x, out_ref, down_flops))
        cases.append(Case(path, "upscale", inv, out_ref, x_ref, up_flops))
    return cases


def tiled_24mp(scale: int, paths: list[str], device: torch.device) -> list[dict[str, Any]]:
    """A 6000×4000 downscale + upscale through invrestore.tiling per path (one call each; seconds only)."""
    try:
        from invrestore import tiling
    except ImportError:
        return [{"skipped": "invrestore.tiling is not available"}]
    x = natural_image(4000, 6000, torch.device("cpu"))
    rows = []
    for path in paths:
        net = load_irn(scale).to(device)
        fwd, inv = irn_functions(net, FastOptions.parse(path), device)
        t0 = time.perf_counter()
        y = tiling.irn_downscale(net, x, tile=512, forward=fwd, device=device)
        t1 = time.perf_counter()
        row: dict[str, Any] = {"path": path, "size": "6000x4000", "downscale_s": round(t1 - t0, 2)}
        t1 = time.perf_counter()
        zfield = tiling.ZField(int(net.out_channels - net.in_channels), seed=0)
        tiling.irn_upscale(net, y, zfield, tile=512 // scale, inverse=inv, device=device)
        row["upscale_s"] = round(time.perf_counter() - t1, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


_CHILD = """
import sys, time, torch
from invrestore.fast import FastOptions, irn_functions
from invrestore.models import create_model
scale, size, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
net = create_model(f"irn-x{scale}").eval()
fwd, inv = irn_functions(net, FastOptions.parse(path), torch.device("cpu"))
x = torch.rand(1, 3, size, size)
t0 = time.perf_counter(); out = fwd(x); t1 = time.perf_counter(); inv(out); t2 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f}")
"""


def compile_cache_check(scale: int, size: int, path: str) -> dict[str, Any]:
    """First-call seconds (compile included) of two fresh processes sharing one empty compile cache: the first
    compiles from scratch, the second should reuse the on-disk artefacts."""
    import sys
    import tempfile

    env = dict(os.environ, INVRESTORE_COMPILE_CACHE=tempfile.mkdtemp(prefix="invrestore-cc-"))
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)
    out: dict[str, Any] = {"path": path, "size": f"{size}x{size}", "scale": scale}
    for run in ("cold", "warm"):
        res = subprocess.run(
            [sys.executable, "-c", _CHILD, str(scale), str(size), path], env=env, capture_output=True, text=True
        )
        if res.returncode:
            out[run] = f"failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}"
            continue
        down, up = (float(v) for v in res.stdout.split()[-2:])
        out[f"{run}_downscale_first_call_s"], out[f"{run}_upscale_first_call_s"] = down, up
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["512x512", "1920x1080"], help="WxH sizes of the HR image")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paths", nargs="+", default=[*DEFAULT_PATHS, "onnxruntime"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--tiled-24mp", action="store_true", help="also a 6000×4000 image through invrestore.tiling")
    ap.add_argument("--psnr", type=int, default=0, help="half-precision PSNR change on N Kodak24 crops")
    ap.add_argument("--cache-check", default=None, metavar="PATH", help="compile time of a cold and a warm process")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    paths = list(args.paths)
    if "onnxruntime" in paths:
        try:
            import onnxruntime  # noqa: F401

            import invrestore.export  # noqa: F401
        except ImportError:
            print("onnxruntime path skipped: onnxruntime or invrestore.export is not installed")
            paths.remove("onnxruntime")
    info = machine_info(device)
    peak_before = conv_peak_gflops(device)
    print(json.dumps(info))
    results: dict[str, Any] = {"info": info, "sizes": {}}
    for size in args.sizes:
        h, w = parse_size(size)
        print(f"IRN x{args.scale} {w}x{h}", flush=True)
        cases = irn_cases(args.scale, h, w, paths, device)
        run_cases(cases, args.repeats, device)
        peak = max(peak_before, conv_peak_gflops(device))
        rows = summarize(cases, peak)
        print(f"conv peak (64→64 3×3, 256², same run): {peak:.0f} GFLOP/s")
        print_table(rows)
        results["sizes"][f"{w}x{h}"] = rows
    results["conv_peak_gflops"] = round(max(peak_before, conv_peak_gflops(device)), 1)
    results["info"]["load_avg_1min_end"] = os.getloadavg()[0]
    if args.cache_check:
        results["compile_cache"] = compile_cache_check(args.scale, 128, args.cache_check)
        print(json.dumps({"compile_cache": results["compile_cache"]}), flush=True)
    if args.psnr:
        results["psnr"] = irn_psnr_change(args.scale, paths, args.psnr, device)
        print(json.dumps({"psnr": results["psnr"]}), flush=True)
    if args.tiled_24mp:
        results["tiled_24mp"] = tiled_24mp(args.scale, ["eager", paths[-1]], device)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
