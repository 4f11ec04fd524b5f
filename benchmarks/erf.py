"""Measure each model kind's effective receptive field (ERF) for tiling, and its activation memory per pixel.

ERF ("cut test"): run a model on an image strip, and again on the same strip cut at column ``c`` (everything right
of ``c`` removed, exactly what a tile edge does). Output values left of the cut differ from the whole-strip ones
only within the model's reach; we record the largest change (in 8-bit levels, over all rows, channels, images and
both orientations) as a function of the distance to the cut in *input* pixels, and report the smallest distance
beyond which every change stays below 0.5, 0.1, 0.05 and 0.01 of a level. Kodak24, shipped weights.

Memory (``--memory``): for each kind, the peak RSS of one no-grad forward at two sizes, each in a fresh process,
minus the RSS before it; a line through the two gives bytes per input pixel and a fixed part.

    python benchmarks/erf.py [--data-root DIR] [--images 8] [--kinds irn-x4-down,...] [--memory]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import torch
from torch import Tensor

REPO = Path(__file__).resolve().parents[1]
LEVELS = (0.5, 0.1, 0.05, 0.01)


def data_root(arg: str | None) -> Path:
    root = Path(arg) if arg else Path(os.environ.get("INVRESTORE_DATA", REPO.parent / "shared" / "data"))
    if not (root / "eval" / "Kodak24").is_dir():
        sys.exit(f"Kodak24 not found under {root}: pass --data-root or set INVRESTORE_DATA")
    return root


def kodak(root: Path, n: int) -> list[Tensor]:
    from invrestore.io import read_image

    files = sorted((root / "eval" / "Kodak24").glob("*.png"))[:n]
    return [read_image(f, mode="rgb").unsqueeze(0) for f in files]


# -- the model kinds --------------------------------------------------------------------------------------------
class Kind:
    """``fn`` (1,C,h,w) -> (1,C',h·scale,w·scale); ``prepare`` turns an HR Kodak crop into the kind's input."""

    def __init__(
        self,
        name: str,
        fn: Callable[[Tensor, int], Tensor],
        scale: Fraction,
        align: int,
        prepare: Callable[[Tensor], Tensor],
        strip: tuple[int, int],
        cut: int,
    ) -> None:
        self.name, self.fn, self.scale, self.align, self.prepare = name, fn, scale, align, prepare
        self.strip, self.cut = strip, cut  # strip (h, w) and cut column, in input pixels


def build_kind(name: str) -> Kind:
    from invrestore.models.registry import create_model
    from invrestore.tiling import ZField

    torch.manual_seed(0)
    if name.startswith("irn-x") and name.endswith(("-down", "-up")):
        s = int(name[5])
        net = create_model(f"irn-x{s}", pretrained=True).eval()
        if name.endswith("-down"):
            return Kind(name, lambda x, left: net(x)[0][:, :3], Fraction(1, s), s, lambda x: x, (16 * s, 384), 256)
        zf = ZField(net.out_channels - 3, seed=0)

        def up(y: Tensor, left: int) -> Tensor:
            z = zf.crop(0, left, y.shape[-2], y.shape[-1])
            return net.inverse(torch.cat([y, z], 1))[0]

        def lr(x: Tensor) -> Tensor:
            h, w = x.shape[-2] // s * s, x.shape[-1] // s * s
            out = net(x[..., :h, :w])[0][:, :3]
            return torch.round(out.clamp(0, 1) * 255) / 255

        return Kind(name, up, Fraction(s), 1, lr, (16, 160), 96)
    if name == "irn-color":
        net = create_model("irn-color", pretrained=True).eval()
        return Kind(name, lambda x, left: net(x)[0][:, :1], Fraction(1), 1, lambda x: x, (32, 256), 160)
    if name == "crm":
        net = create_model("crm-q90", pretrained=True).eval()
        return Kind(name, lambda x, left: net(x), Fraction(1), 1, lambda x: x, (32, 256), 160)
    if name.startswith("restore-"):
        from invrestore.api import load_restorer
        from invrestore.degradations.noise import add_gaussian_noise

        model = name.removeprefix("restore-")
        rnet = load_restorer(model).module
        m = int(getattr(rnet, "multiple", 1))
        if "denoise" in model:
            g = torch.Generator().manual_seed(1)

            def prep(x: Tensor) -> Tensor:
                return add_gaussian_noise(x, 25.0, g)
        else:

            def prep(x: Tensor) -> Tensor:
                return x

        return Kind(name, lambda x, left: rnet(x), Fraction(1), m, prep, (32, 256), 160)
    raise SystemExit(f"unknown kind {name}")


def cut_profile(kind: Kind, x: Tensor) -> Tensor:
    """Largest |change| (8-bit levels) per distance to the cut (input px, index 0 = the column next to the cut)."""
    full = kind.fn(x, 0)
    part = kind.fn(x[..., : kind.cut], 0)
    s = kind.scale
    oc = int(kind.cut * s)
    diff = (full[..., :oc] - part).abs().amax(dim=(0, 1, 2)) * 255.0  # per output column
    prof = torch.zeros(kind.cut)
    for j in range(oc):
        i = int(Fraction(j) / s) if s >= 1 else int((j + 1) / s) - 1  # rightmost input column of output column j
        d = kind.cut - 1 - i
        prof[d] = max(prof[d], diff[j])
    return prof


def erf_of(prof: Tensor, level: float) -> int:
    """Smallest distance d such that every change at distance >= d is below ``level``."""
    tail = torch.flip(torch.cummax(torch.flip(prof, [0]), 0).values, [0])
    above = (tail >= level).nonzero()
    return 0 if len(above) == 0 else int(above.max()) + 1


def measure_erf(kind: Kind, images: list[Tensor]) -> Tensor:
    h, w = kind.strip
    prof = torch.zeros(kind.cut)
    with torch.no_grad():
        for img in images:
            for view in (img, img.transpose(-1, -2)):
                f = int(kind.scale) if kind.scale > 1 else 1  # HR px per input px of the kind
                top = max(0, (view.shape[-2] - h * f) // 2) // 4 * 4
                strip = kind.prepare(view[..., top : top + h * f, : w * f].contiguous())
                prof = torch.maximum(prof, cut_profile(kind, strip))
    return prof


# -- memory -----------------------------------------------------------------------------------------------------
MEM_SIZES = {"irn-x2-up": (128, 256), "irn-x4-up": (96, 192)}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _child(kind_name: str, side: int) -> None:
    """Peak RSS growth of one forward: VmHWM (reset through /proc/self/clear_refs) minus VmRSS before it."""
    torch.set_num_threads(int(os.environ.get("ERF_THREADS", "1")))
    kind = build_kind(kind_name)
    with torch.no_grad():
        kind.fn(torch.rand(1, 3, 32, 32), 0)
        x = torch.rand(1, 3, side, side)
        rss0 = _status_kb("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak-RSS counter VmHWM to the current RSS
        kind.fn(x, 0)
        peak = _status_kb("VmHWM")
    print(json.dumps({"delta": (peak - rss0) * 1024, "pixels": side * side}))


def measure_memory(kind_name: str) -> tuple[float, float]:
    sizes = MEM_SIZES.get(kind_name, (256, 512))
    pts = []
    for side in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind_name, str(side)], capture_output=True, text=True, check=True
        ).stdout
        d = json.loads(out.strip().splitlines()[-1])
        pts.append((d["pixels"], d["delta"]))
    (p1, d1), (p2, d2) = pts
    slope = (d2 - d1) / (p2 - p1)
    return slope, d1 - slope * p1


DEFAULT_KINDS = (
    "irn-x2-down,irn-x4-down,irn-x2-up,irn-x4-up,irn-color,crm,restore-irae-denoise25,"
    "restore-dncnn-s-denoise25,restore-pix2pix-derain"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root")
    ap.add_argument("--images", type=int, default=8, help="Kodak images used (each in both orientations)")
    ap.add_argument("--kinds", default=DEFAULT_KINDS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--memory", action="store_true", help="also measure peak activation bytes per pixel")
    ap.add_argument("--no-erf", action="store_true", help="skip the ERF table (with --memory)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    torch.set_num_threads(args.threads)
    imgs = [] if args.no_erf else kodak(data_root(args.data_root), args.images)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.images} Kodak images x 2 views")
    head = "| kind | " + " | ".join(f"ERF @{lv} level" for lv in LEVELS) + " | max change at far end (levels) |"
    print(head)
    print("|" + "---|" * (len(LEVELS) + 2))
    for name in [] if args.no_erf else args.kinds.split(","):
        t0 = time.perf_counter()
        kind = build_kind(name)
        prof = measure_erf(kind, imgs)
        cells = " | ".join(str(erf_of(prof, lv)) for lv in LEVELS)
        far = float(prof[-16:].max())
        print(f"| {name} | {cells} | {far:.3g} |  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.memory:
        os.environ["ERF_THREADS"] = str(args.threads)
        print("\n| kind | bytes / input px | fixed (MB) |\n|---|---|---|")
        for name in args.kinds.split(","):
            slope, fixed = measure_memory(name)
            print(f"| {name} | {slope:.0f} | {fixed / 1e6:.1f} |", flush=True)


if __name__ == "__main__":
    main()
