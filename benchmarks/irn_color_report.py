"""Evaluate IRN_color weights with the paper's Table 12 protocol and write the model card.

Usage::

    python benchmarks/irn_color_report.py --weights W.safetensors [--datasets Set5 Set14 BSD100] [--limit N] \
        [--run-dir RUN --command "invrestore train ..." --card CARD.md]

Protocol (``invrestore.models.irn.color.color_metrics``): decolorize, round the gray image to 8 bits, colorize with
z = 0, RGB PSNR/SSIM with a 2-pixel border cropped (the official yml's ``scale: 2``). Beside our weights, the
untrained model is scored too: its YUV matrix makes the gray image the luma, so with z = 0 it returns a gray image —
the number training has to beat. Grayscale images (R = G = B, e.g. two of Set14's) are skipped: there is nothing to
decolorize, and the untrained model would score an infinite PSNR on them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from invrestore.data import ImageFolder, resolve_dataset
from invrestore.models.irn.color import color_metrics
from invrestore.models.registry import create_model
from invrestore.train import cpu_name, load_weights

PAPER = {"Set5": 40.86, "Set14": 36.78, "BSD100": 42.43}  # Table 12, RGB PSNR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--datasets", nargs="+", default=["Set5", "Set14", "BSD100"])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--limit", type=int, default=0, help="Only the first N images of each dataset (0 = all).")
    ap.add_argument("--run-dir", default=None)
    ap.add_argument("--command", default=None)
    ap.add_argument("--card", default=None)
    args = ap.parse_args()
    model = create_model("irn-color").eval()
    model.load_state_dict(load_weights(args.weights))
    untrained = create_model("irn-color").eval()
    table = []
    for name in args.datasets:
        r = resolve_dataset(name, args.data_root)
        files = list(r.files)[: args.limit] if args.limit else list(r.files)
        imgs = ImageFolder(files, mode="rgb")
        ours, init = [], []
        for i in range(len(imgs)):
            x = imgs.load(i).unsqueeze(0)
            if torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2]):
                continue  # a grayscale image has nothing to decolorize (the CLI refuses it too)
            ours.append(color_metrics(model, x))
            init.append(color_metrics(untrained, x))

        def mean(rows: list[dict[str, float]], k: str) -> float:
            return sum(row[k] for row in rows) / len(rows)

        paper = PAPER.get(r.info.name)
        line = (
            f"| {r.info.name} | {len(ours)} of {len(r.files)} | "
            f"{mean(ours, 'psnr_rgb'):.2f}/{mean(ours, 'ssim_rgb'):.4f} | "
            f"{mean(init, 'psnr_rgb'):.2f}/{mean(init, 'ssim_rgb'):.4f} | {paper if paper else '-'} |"
        )
        print(line, flush=True)
        table.append(line)
    if args.card:
        write_card(args, table)


def write_card(args: argparse.Namespace, table: list[str]) -> None:

    lines = ["# Model card: irn-color (shipped weights)", ""]
    if args.run_dir:
        from restoration_weights_card import run_provenance

        run = Path(args.run_dir)
        cfg, meta, hours = run_provenance(run)
        tr, data, optim, loss = cfg["train"], cfg["data"], cfg["train"]["optim"], cfg["loss"]
        lines += [
            "## Training",
            "",
            f"- Command: `{args.command or 'invrestore train ' + str(run / 'config.yaml')}`",
            f"- Data: {', '.join(data['train_sets'] + data.get('train_folders', []))} ({data['crop_size']}² random "
            "crops, flips and 90° rotations); guide = full-range luma (BT.601, as cv2 BGR2GRAY)",
            f"- Loss: λ_fit {loss['lambda_fit']:g} (guide), reconstruction with z = {loss['gaussian_scale']:g}·N(0, I) "
            "(z = 0, as the official recipe), latent term",
            f"- Iterations: {meta['step']:,} at batch {tr['batch_size']} (the official yml: 500,000 at batch 8, 144² "
            "crops of DIV2K)",
            f"- Optimiser: Adam lr {optim['lr']:g}, betas {tuple(optim['betas'])}, weight decay "
            f"{optim['weight_decay']:g}, ×{optim['gamma']:g} at {optim['milestones']}, grad-norm clip "
            f"{optim['grad_clip']:g}; seed {tr['seed']}",
            f"- Wall time: {hours:.2f} h on {cpu_name()}, 1 torch thread, torch {torch.__version__}",
            "- Weights: the run's last checkpoint",
            "",
        ]
    lines += [
        "## Evaluation",
        "",
        "Table 12 protocol: decolorize → 8-bit gray → colorize with z = 0; RGB PSNR/SSIM, 2-pixel border cropped.",
        '"untrained" is the YUV-initialised model (gray = luma, so it returns a gray image): the floor.',
        "",
        f"Regenerate: `python benchmarks/irn_color_report.py --weights {args.weights}`",
        "",
        "| dataset | images | ours RGB PSNR/SSIM | untrained | paper IRN_color PSNR |",
        "|---|---|---|---|---|",
        *table,
        "",
        "Use: `invrestore decolorize photo.png -o gray/` and `invrestore colorize gray/photo.png -o colour/` "
        "(shipped weights; no --weights needed).",
    ]
    from restoration_weights_card import write_card as write_lines  # benchmarks/ is on sys.path when run as a script

    write_lines(args.card, lines)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
