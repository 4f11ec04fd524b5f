"""Ship learned-codec weights (bls2017 teachers, ILC) and write their model cards.

Usage::

    # 1. store finalized weights (from the training run, with coding tables) in the package, conv kernels in fp16
    python benchmarks/codec_weights_card.py ship --model ilc-small-q1 \
        --weights runs/compression_cpu/ilc_q1/ilc-small-q1.safetensors
    # 2. measure the shipped files: invrestore bench rd --models ilc-small-q1,... --references none --csv rd_shipped.csv
    # 3. the card
    python benchmarks/codec_weights_card.py card --model ilc-small-q1 --run-dir runs/compression_cpu/ilc_q1 \
        --rd-csv rd_shipped.csv --command "bash benchmarks/compression_cpu_experiment.sh" [--note "..."]

Shipping halves the files: 4-D convolution kernels are stored in float16 (they are cast back to float32 on load).
Everything the entropy coder depends on (the density, its quantiles, the integer tables) and every GDN parameter and
bias stays as trained, so the coding tables and the config hash do not change. All numbers on the card are measured on
the shipped file itself.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import torch
import yaml

from invrestore.train import cpu_name, run_wall_time

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "invrestore" / "weights"


def compact(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convolution kernels (4-D float tensors outside the entropy model) in float16; the rest unchanged."""
    out = {}
    for k, v in state.items():
        kernel = v.is_floating_point() and v.dim() == 4 and "entropy_bottleneck" not in k
        out[k] = v.half() if kernel else v
    return out


def ship(model: str, weights: str) -> None:
    from invrestore.models.ilc.loading import load_codec
    from invrestore.train import load_weights, save_weights

    codec = load_codec(model, weights)  # the file fits the registered model
    if not all(eb.has_tables for eb in codec.entropy_bottlenecks()):
        raise SystemExit(f"{weights} has no coding tables: finalize it first")
    dest = WEIGHTS / f"{model}.safetensors"
    save_weights(compact(load_weights(weights)), dest)
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB)")


def card(args: argparse.Namespace) -> None:
    from invrestore.models.registry import MODELS, create_model

    run = Path(args.run_dir)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    meta = json.loads((run / "last" / "meta.json").read_text())
    tr, data, optim = cfg["train"], cfg["data"], cfg["train"]["optim"]
    hours = run_wall_time(run / "metrics.jsonl") / 3600
    params = sum(p.numel() for p in create_model(args.model).parameters() if p.requires_grad)
    entry = MODELS[args.model]
    is_ilc = cfg["family"] == "ilc"
    lmbda = cfg["loss"]["teacher_lmbda"] if is_ilc else cfg["loss"]["lmbda"]
    loss = (
        f"ILC Eq. 7: {cfg['loss']['lambda_distortion']:g}·λ_T·255²·MSE(x, f⁻¹(ŷ, 0)) + "
        f"{cfg['loss']['lambda_rate']:g}·bpp + {cfg['loss']['lambda_latent']:g}·E[½z²] + "
        f"{cfg['loss']['lambda_distill']:g}·MSE(y, teacher g_a(x)), λ_T = {lmbda:g}"
        if is_ilc
        else f"λ·255²·MSE + bpp, λ = {lmbda:g}"
    )
    lines = [
        f"# Model card: {args.model} (shipped weights)",
        "",
        entry.description + ".",
        "",
        "## Training",
        "",
        f"- Command: `{args.command}`",
        f"- Architecture: `{cfg['model']['name']}`, {params:,} trainable parameters"
        + (f"; distilled from the frozen teacher `{cfg['model']['teacher']}` of the same rate point" if is_ilc else ""),
        f"- Data: {', '.join(data['train_sets'] + data.get('train_folders', []))} ({data['crop_size']}² random RGB "
        "crops, flips and transposes; images smaller than the crop skipped)",
        f"- Loss: {loss}; quantile (aux) loss weight {cfg['loss']['aux_weight']:g}",
        f"- Iterations: {meta['step']:,} at batch {tr['batch_size']}",
        f"- Optimiser: Adam lr {optim['lr']:g}, betas {tuple(optim['betas'])}, ×{optim['gamma']:g} at "
        f"{optim['milestones']}, grad-norm clip {optim['grad_clip']:g}; seed {tr['seed']}",
        f"- Wall time: {hours:.2f} h on {cpu_name()}, 1 torch thread, torch {torch.__version__}",
        "- Weights: the run's last checkpoint, finalized (quantiles fitted by bisection, 16-bit integer CDF tables "
        "built: `finalize_codec_weights`), convolution kernels stored in float16",
        *[f"- {n}" for n in args.note],
        "",
        "## Evaluation",
        "",
    ]
    rows = [r for r in csv.DictReader(Path(args.rd_csv).read_text().splitlines()) if r["method"] and r["bpp_est"]]
    from invrestore.evaluation.rd import method_and_quality

    method, quality = method_and_quality(args.model)
    mine = [r for r in rows if r["method"] == method and r["quality"] == str(quality)]
    if len(mine) != 1:
        raise SystemExit(f"{args.rd_csv} has no row for {args.model} ({method}, quality {quality})")
    r = mine[0]
    lines += [
        "Kodak24 (24 images), each compressed to a real `.irc` file and decoded from it: bpp = 8·file bytes/pixels "
        "(container header and CRC included), 8-bit RGB PSNR and MS-SSIM of the decoded image; NQ = PSNR of the "
        "reconstruction from the unrounded latent (the ILC paper's diagnostic).",
        "",
        f"Regenerate: `invrestore bench rd --models {args.model} --references none --dataset Kodak24 --csv rd.csv`",
        "",
        "| dataset | bpp (real file) | bpp (estimated) | PSNR-RGB | MS-SSIM | PSNR NQ |",
        "|---|---|---|---|---|---|",
        f"| Kodak24 | {float(r['bpp_real']):.4f} | {float(r['bpp_est']):.4f} | {float(r['psnr_rgb']):.2f} | "
        f"{float(r['ms_ssim']):.4f} | {float(r['psnr_no_quant']):.2f} |",
        "",
        "Use: `invrestore compress IMAGE -o FILE.irc --model " + args.model + "` and `invrestore decompress FILE.irc "
        "-o OUT.png` (no --weights needed).",
    ]
    dest = WEIGHTS / f"{args.model}.md"
    tmp = dest.with_suffix(".tmp")
    tmp.write_text("\n".join([*lines, ""]))
    os.replace(tmp, dest)
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("ship", help="store finalized weights in src/invrestore/weights")
    s.add_argument("--model", required=True, help="registered name of the shipped codec")
    s.add_argument("--weights", required=True, help="finalized weights (with coding tables)")
    c = sub.add_parser("card", help="write the model card")
    c.add_argument("--model", required=True)
    c.add_argument("--run-dir", required=True)
    c.add_argument("--rd-csv", required=True, help="invrestore bench rd CSV measured on the shipped weights")
    c.add_argument("--command", required=True, help="the exact training command")
    c.add_argument("--note", action="append", default=[], help="extra markdown bullet (repeatable)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    if args.cmd == "ship":
        ship(args.model, args.weights)
    else:
        card(args)


if __name__ == "__main__":
    main()
