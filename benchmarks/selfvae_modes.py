"""Generation / reconstruction modes of a one-level selfVAE (paper §3.3): values sent and reconstruction PSNR.

Usage::

    python benchmarks/selfvae_modes.py --weights runs/selfvae_cpu/svae/best [--model selfvae-downscale-small]
        [--dataset CIFAR-10-partial] [--data-root DIR] [--split test] [--limit 100] [--pixel-mode mean]
        [--seed 0] [--out modes.md]

For each mode (G, CG, CR, RS1, RS2) it reports the values sent per image, ``ratio = values_sent / (3·H·W)``, the
mean PSNR of ``x_hat`` against the input ``x`` and the mean PSNR of ``y_hat`` against ``y = d(x)`` (dB, 8-bit, per
image then averaged; n/a for G, which has no input; exact where y is sent).
Prints a markdown table and writes it to ``--out`` if given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from invrestore.api import load_vae
from invrestore.metrics.psnr import psnr
from invrestore.models.selfvae.data import to_unit
from invrestore.models.selfvae.steps import load_split

MODES = [
    ("G", "generation", "nothing"),
    ("CG", "conditional_generation", "y"),
    ("CR", "conditional_reconstruction", "y, z"),
    ("RS1", "reconstruction_1", "u"),
    ("RS2", "reconstruction_2", "u, z"),
]


def _mean_psnr(a: torch.Tensor, b: torch.Tensor) -> str:
    """Mean PSNR over the images with a finite PSNR; ``exact`` when every image is reproduced exactly."""
    values = psnr(a.clamp(0, 1), b)
    finite = values[torch.isfinite(values)]
    if not finite.numel():
        return "exact"
    return f"{float(finite.mean()):.2f}" + ("" if finite.numel() == values.numel() else f" ({finite.numel()} finite)")


def run(args: argparse.Namespace) -> str:
    dev = torch.device("cpu")
    net = load_vae(args.model, args.weights, device=dev)
    images = load_split(args.dataset, args.split, args.data_root)[: args.limit]
    x = to_unit(images)
    y = net.transform_y(x)
    rows = [
        "| mode | sends | values sent | ratio (/ 3·H·W) | PSNR x̂ vs x (dB) | PSNR ŷ vs y (dB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for short, method, sends in MODES:
        g = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            if short == "G":
                out = net.generate(x.shape[0], pixel_mode=args.pixel_mode, generator=g)
            elif short == "CG":
                out = getattr(net, method)(y, pixel_mode=args.pixel_mode, generator=g)
            else:
                out = getattr(net, method)(x, pixel_mode=args.pixel_mode, generator=g)
        if short == "G":
            px = py = "n/a"
        else:
            px = _mean_psnr(out.x_hat, x)
            py = _mean_psnr(out.y_hat, y)
        rows.append(f"| {short} | {sends} | {out.values_sent} | {100 * out.ratio:.2f}% | {px} | {py} |")
    caption = (
        f"{args.model} ({args.weights}), {x.shape[0]} {args.dataset} [{args.split}] images, "
        f"pixel mode {args.pixel_mode}, seed {args.seed}"
    )
    return caption + "\n\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="selfvae-downscale-small")
    parser.add_argument("--weights", required=True, help="weights file or run checkpoint folder")
    parser.add_argument("--dataset", default="CIFAR-10-partial")
    parser.add_argument("--data-root", default=None, help="data root (else $INVRESTORE_DATA)")
    parser.add_argument("--split", default="test", choices=["test", "val", "train"])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--pixel-mode", default="mean", choices=["mean", "sample"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the markdown table here")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    table = run(args)
    print(table, end="")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)


if __name__ == "__main__":
    main()
