"""Whole-image vs tiled inference with the shipped weights: does tiling change any result?

On Kodak24 (``--data-root`` or ``$INVRESTORE_DATA``), for IRN ×2/×4: the fraction of 8-bit LR values that are
equal and the largest level difference (tiled vs whole downscale), and the PSNR (RGB, 8-bit) of the upscale against
the HR image, whole vs tiled (with the same z field): with the same LR (upscale alone) and end to end (tiled LR,
tiled upscale). For the shipped restoration models: the PSNR of the restored image against the clean one, whole vs
tiled. Tiles are deliberately small (many cuts); overlaps are the library defaults.

24 MP (a 6000×4000 mosaic of Kodak images, ×4): ``--pipeline-24mp DIR`` runs only the tiled downscale + upscale with
automatic tiles and saves the results (run it under ``/usr/bin/time -v`` for the peak RSS); ``--reference-24mp DIR``
then computes the whole-image references (≈ 18 GB of RAM, several minutes) and compares.

    python benchmarks/tiling_accuracy.py --limit 2 --sizes 256            # quick (< 3 min)
    python benchmarks/tiling_accuracy.py                                  # Kodak24, all models
    /usr/bin/time -v python benchmarks/tiling_accuracy.py --pipeline-24mp /tmp/t24
    python benchmarks/tiling_accuracy.py --reference-24mp /tmp/t24
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from invrestore.metrics.psnr import psnr
from invrestore.tiling import (
    ZField,
    auto_tile,
    irn_downscale,
    irn_kind,
    irn_upscale,
    tileable,
    tiled_map,
    tiled_restore,
)

REPO = Path(__file__).resolve().parents[1]
IRN_MODELS = ("irn-x2", "irn-x4")
RESTORE_MODELS = ("irae-denoise25", "dncnn-s-denoise25", "pix2pix-derain")


def data_root(arg: str | None) -> Path:
    root = Path(arg) if arg else Path(os.environ.get("INVRESTORE_DATA", REPO.parent / "shared" / "data"))
    if not (root / "eval" / "Kodak24").is_dir():
        sys.exit(f"Kodak24 not found under {root}: pass --data-root or set INVRESTORE_DATA")
    return root


def kodak(root: Path, limit: int | None = None) -> list[Tensor]:
    from invrestore.io import read_image

    files = sorted((root / "eval" / "Kodak24").glob("*.png"))[:limit]
    return [read_image(f, mode="rgb").unsqueeze(0) for f in files]


def center_crop(x: Tensor, size: str) -> Tensor:
    if size == "full":
        return x
    n = int(size)
    h, w = x.shape[-2:]
    t, l = max(0, (h - n) // 2), max(0, (w - n) // 2)
    return x[..., t : t + n, l : l + n]


def q8(x: Tensor) -> Tensor:
    return torch.round(x.clamp(0, 1) * 255.0)


def p(a: Tensor, b: Tensor) -> float:
    return float(psnr(a.clamp(0, 1), b.clamp(0, 1)))


def irn_rows(name: str, images: list[Tensor], tile_hr: int, tile_lr: int) -> str:
    from invrestore.models.registry import create_model

    net = create_model(name, pretrained=True).eval()
    s = net.scale
    eq = tot = 0
    max_lv = 0.0
    d_up: list[float] = []
    d_pipe: list[float] = []
    base: list[float] = []
    for i, img in enumerate(images):
        h, w = img.shape[-2] // s * s, img.shape[-1] // s * s
        x = img[..., :h, :w].contiguous()
        y_w = irn_downscale(net, x)
        y_t = irn_downscale(net, x, tile=tile_hr)
        lv = (q8(y_w) - q8(y_t)).abs()
        eq += int((lv == 0).sum())
        tot += lv.numel()
        max_lv = max(max_lv, float(lv.max()))
        zf = ZField(net.out_channels - 3, seed=i)
        u_w = irn_upscale(net, y_w, zf)
        u_t = irn_upscale(net, y_w, zf, tile=tile_lr)
        u_tt = u_t if torch.equal(y_t, y_w) else irn_upscale(net, y_t, zf, tile=tile_lr)
        pw = p(u_w, x)
        base.append(pw)
        d_up.append(p(u_t, x) - pw)
        d_pipe.append(p(u_tt, x) - pw)
    return (
        f"| {name} | {len(images)} | {tile_hr} / {tile_lr} | {100 * eq / tot:.4f} % | {max_lv:.0f} | "
        f"{np.mean(base):.3f} | {max(map(abs, d_up)):.5f} | {max(map(abs, d_pipe)):.5f} |"
    )


def degrade(name: str, x: Tensor, seed: int) -> Tensor:
    from invrestore.degradations.noise import add_gaussian_noise
    from invrestore.degradations.rain import add_rain

    g = torch.Generator().manual_seed(seed)
    y = add_rain(x, g) if "derain" in name else add_gaussian_noise(x, 25.0, g)
    return q8(y) / 255.0  # the degraded image as an 8-bit file


def restore_rows(name: str, images: list[Tensor], tile: int) -> str:
    from invrestore.api import load_restorer
    from invrestore.tiling import default_overlap, restore_kind

    net = load_restorer(name).module
    m = int(getattr(net, "multiple", 1))
    ok = tileable(net)
    kind = restore_kind(name)
    d: list[float] = []
    base: list[float] = []
    rerun: list[float] = []
    for i, x in enumerate(images):
        y = degrade(name, x, i)
        torch.manual_seed(i)
        whole = tiled_restore(net, y, multiple=m)
        pw = p(whole, x)
        base.append(pw)
        torch.manual_seed(i)
        if ok:
            tiled = tiled_restore(net, y, multiple=m, tile=tile, kind=kind)
        else:  # what tiling would do (the library refuses it): per-window statistics
            ov = default_overlap(kind)
            with torch.no_grad():
                tiled = tiled_map(lambda t, b: net(t), y, tile=tile, overlap=ov)
            torch.manual_seed(10_000 + i)
            rerun.append(p(tiled_restore(net, y, multiple=m), x) - pw)
        d.append(p(tiled, x) - pw)
    note = "tiled" if ok else f"refused (forced: shown; whole re-run Δ {max(map(abs, rerun)):.3f} dB)"
    return f"| {name} | {len(images)} | {tile} | {np.mean(base):.3f} | {max(map(abs, d)):.5f} | {note} |"


# -- 24 MP --------------------------------------------------------------------------------------------------------
def mosaic(root: Path, h: int = 4000, w: int = 6000) -> Tensor:
    """A 6000×4000 image of Kodak tiles (portraits turned), left to right, top to bottom, cycling."""
    imgs = [im if im.shape[-1] >= im.shape[-2] else im.transpose(-1, -2).flip(-1) for im in kodak(root)]
    th, tw = imgs[0].shape[-2:]
    out = torch.empty(1, 3, h, w)
    k = 0
    for top in range(0, h, th):
        for left in range(0, w, tw):
            im = imgs[k % len(imgs)]
            k += 1
            hh, ww = min(th, h - top), min(tw, w - left)
            out[..., top : top + hh, left : left + ww] = im[..., :hh, :ww]
    return out


def pipeline_24mp(root: Path, out: Path, model: str, size: tuple[int, int] = (4000, 6000)) -> None:
    from invrestore.models.registry import create_model

    out.mkdir(parents=True, exist_ok=True)
    net = create_model(model, pretrained=True).eval()
    x = mosaic(root, *size)
    h, w = x.shape[-2:]
    t0 = time.perf_counter()
    tile_d = auto_tile(irn_kind(net, "down"), h, w, max_memory=None, align=net.scale)
    y = irn_downscale(net, x, tile=tile_d, progress=True)
    t1 = time.perf_counter()
    del x
    lr = q8(y).to(torch.uint8)
    np.save(out / "lr_tiled.npy", lr.numpy())
    tile_u = auto_tile(irn_kind(net, "up"), y.shape[-2], y.shape[-1], max_memory=None, align=1)
    u = irn_upscale(net, y, ZField(net.out_channels - 3, seed=0), tile=tile_u, progress=True)
    t2 = time.perf_counter()
    np.save(out / "hr_tiled.npy", q8(u).to(torch.uint8).numpy())
    print(
        f"{model} {h}x{w}: downscale tile {tile_d} HR px {t1 - t0:.0f} s, upscale tile {tile_u} LR px "
        f"{t2 - t1:.0f} s ({torch.get_num_threads()} threads)"
    )


def reference_24mp(root: Path, out: Path, model: str, size: tuple[int, int] = (4000, 6000)) -> None:
    from invrestore.models.registry import create_model

    net = create_model(model, pretrained=True).eval()
    x = mosaic(root, *size)
    lr_t = torch.from_numpy(np.load(out / "lr_tiled.npy")).float()
    t0 = time.perf_counter()
    y_w = irn_downscale(net, x)
    t1 = time.perf_counter()
    lv = (q8(y_w) - lr_t).abs()
    print(
        f"{model} {size[0]}x{size[1]} LR: {100 * float((lv == 0).float().mean()):.4f} % equal, "
        f"max {float(lv.max()):.0f} "
        f"level(s) (whole downscale {t1 - t0:.0f} s)",
        flush=True,
    )
    hr_t = torch.from_numpy(np.load(out / "hr_tiled.npy")).float() / 255.0
    p_t = p(hr_t, x)
    del hr_t
    u_w = irn_upscale(net, y_w, ZField(net.out_channels - 3, seed=0))
    t2 = time.perf_counter()
    p_w = p(u_w, x)
    print(
        f"{model} {size[0]}x{size[1]} upscale PSNR: whole {p_w:.4f} dB, tiled {p_t:.4f} dB, Δ {p_t - p_w:+.5f} dB "
        f"(whole upscale {t2 - t1:.0f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root")
    ap.add_argument("--limit", type=int, default=None, help="first N Kodak images")
    ap.add_argument("--sizes", default="full", help="comma list of centre-crop sides, or 'full'")
    ap.add_argument("--models", default=",".join(IRN_MODELS + RESTORE_MODELS))
    ap.add_argument("--tile-hr", type=int, default=128, help="tile of downscale and restore (input px)")
    ap.add_argument("--tile-lr", type=int, default=32, help="tile of upscale (LR px)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-24mp", default="irn-x4")
    ap.add_argument("--mosaic-size", default="4000x6000", help="HxW of the mosaic (default 24 MP)")
    ap.add_argument("--pipeline-24mp", type=Path, help="run the tiled 24 MP pipeline, save results here")
    ap.add_argument("--reference-24mp", type=Path, help="whole-image 24 MP references vs --pipeline-24mp results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = data_root(args.data_root)
    mh, mw = (int(v) for v in args.mosaic_size.lower().split("x"))
    size = (mh, mw)
    if args.pipeline_24mp:
        pipeline_24mp(root, args.pipeline_24mp, args.model_24mp, size)
        return
    if args.reference_24mp:
        reference_24mp(root, args.reference_24mp, args.model_24mp, size)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    images = kodak(root, args.limit)
    models = args.models.split(",")
    for size in args.sizes.split(","):
        crops = [center_crop(x, size).contiguous() for x in images]
        print(f"\nKodak24 ({size})\n")
        print(
            "| IRN | images | tile HR / LR px | LR values equal | max level diff | PSNR whole (dB) | "
            "max |ΔPSNR| upscale | max |ΔPSNR| end to end |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name in models:
            if name in IRN_MODELS or name.startswith("irn-x"):
                print(irn_rows(name, crops, args.tile_hr, args.tile_lr), flush=True)
        print("\n| restore | images | tile px | PSNR whole (dB) | max |ΔPSNR| | tiling |\n|---|---|---|---|---|---|")
        for name in models:
            if not name.startswith("irn-x"):
                print(restore_rows(name, crops, args.tile_hr), flush=True)


if __name__ == "__main__":
    main()
