"""Markdown tables of benchmarks/pix2pix_cpu_experiments.sh: the probe, the depth sweep and the ablation.

Usage: ``python benchmarks/pix2pix_table.py OUT_DIR [PLOT_DIR]``; with ``PLOT_DIR`` (and matplotlib) it also writes
``pix2pix_probe.png``, ``pix2pix_depth.png``, ``pix2pix_ablation.png`` (PSNR bars) and ``pix2pix_gan_losses.png``
(D and G losses of the ablation arms over training) there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from invrestore.train import run_wall_time

PROBES = ["pix2pix-encdec-8", "pix2pix-unet-8", "pix2pix-unet-5", "pix2pix-unet-5-ia15", "pix2pix-unet-5-ia15-subpix"]
PAPER_PROBE = {  # Table III (PSNR/SSIM), full width on Rain800 ground truths
    "pix2pix-encdec-8": ("En/Dec", "24.06/.7194"),
    "pix2pix-unet-8": ("UNet-8", "34.20/.9802"),
    "pix2pix-unet-5": ("UNet-5", "34.28/.9811"),
    "pix2pix-unet-5-ia15": ("+InfoAccum", "42.58/.9967"),
    "pix2pix-unet-5-ia15-subpix": ("+SubPix", "49.41/.9987"),
}
DEPTHS = ["depth4", "depth5", "depth6", "depth7"]
ABLATION = ["unet5", "unet5_ia", "unet5_ia_subpix", "unet5_ia_subpix_lsgan"]


def last_val(run: Path) -> dict[str, float]:
    vals = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if '"val"' in ln]
    return vals[-1] if vals else {}


def generator_parameters(run: Path) -> int:
    from invrestore.api import load_restorer

    net = load_restorer(None, str(run / "last")).model
    return sum(p.numel() for p in net.parameters())


def run_rows(out: Path, names: list[str]) -> list[str]:
    rows = []
    for n in names:
        run = out / n
        if not (run / "metrics.jsonl").is_file():
            continue
        v = last_val(run)
        steps = json.loads((run / "last" / "meta.json").read_text())["step"]
        secs = run_wall_time(run / "metrics.jsonl")
        bad = sum(1 for ln in (run / "metrics.jsonl").read_text().splitlines() if "NaN" in ln or "Infinity" in ln)
        rows.append(f"| {n} | {generator_parameters(run):,} | {steps:,} | {secs / 60:.1f} min "
                    f"| {v.get('psnr', float('nan')):.2f} | {v.get('ssim', float('nan')):.4f} "
                    f"| {v.get('psnr_in', float('nan')):.2f} | {bad} |")  # fmt: skip
    return rows


def ordering(scores: dict[str, float]) -> str:
    """Names from worst to best PSNR."""
    return " < ".join(n for n, _ in sorted(scores.items(), key=lambda kv: kv[1]))


def _bars(ax: object, labels: list[str], values: list[float], title: str, ref: float | None = None) -> None:
    ax.bar(range(len(values)), values, color="tab:blue")  # type: ignore[attr-defined]
    for i, v in enumerate(values):
        ax.text(i, v + 0.1, f"{v:.2f}", ha="center", va="bottom", fontsize=8)  # type: ignore[attr-defined]
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)  # type: ignore[attr-defined]
    ax.set_ylabel("PSNR (dB), Set14")  # type: ignore[attr-defined]
    ax.set_title(title, fontsize=10)  # type: ignore[attr-defined]
    low = min(values + ([ref] if ref is not None else []))
    ax.set_ylim(max(0.0, low - 3), max(values) + 1.5)  # type: ignore[attr-defined]
    if ref is not None:
        ax.axhline(ref, color="gray", linestyle="--", linewidth=1, label=f"rainy input {ref:.2f} dB")  # type: ignore[attr-defined]
        ax.legend(fontsize=8, loc="lower right")  # type: ignore[attr-defined]


def plots(out: Path, dest: Path) -> list[Path]:
    """The PSNR bar charts and the GAN loss curves; returns the files written (none without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed; no plots written", file=sys.stderr)
        return []
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    probe = {PAPER_PROBE[m][0]: json.loads((out / f"probe_{m}.json").read_text())["psnr"]
             for m in PROBES if (out / f"probe_{m}.json").is_file()}  # fmt: skip
    groups = [("pix2pix_probe.png", "Information-loss probe: autoencoder PSNR", probe, None)]
    for fname, title, names in (("pix2pix_depth.png", "UNet depth sweep, synthetic rain", DEPTHS),
                                ("pix2pix_ablation.png", "Ablation, synthetic rain", ABLATION)):  # fmt: skip
        done = [n for n in names if (out / n / "metrics.jsonl").is_file()]
        vals = {n: last_val(out / n).get("psnr", float("nan")) for n in done}
        ref = last_val(out / done[0]).get("psnr_in") if done else None
        groups.append((fname, title, vals, ref))
    for fname, title, vals, ref in groups:
        if not vals:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        _bars(ax, list(vals), list(vals.values()), title, ref)
        fig.tight_layout()
        fig.savefig(dest / fname, dpi=110)
        plt.close(fig)
        written.append(dest / fname)
    arms = [n for n in ABLATION if (out / n / "metrics.jsonl").is_file()]
    if arms:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
        for n in arms:
            logs = [json.loads(ln) for ln in (out / n / "metrics.jsonl").read_text().splitlines() if '"train"' in ln]
            axes[0].plot([r["step"] for r in logs], [r["d"] for r in logs], label=n)
            axes[1].plot([r["step"] for r in logs], [r["g_gan"] for r in logs], label=n)
        axes[0].set_title("discriminator loss", fontsize=10)
        axes[1].set_title("generator adversarial loss", fontsize=10)
        for ax in axes:
            ax.set_xlabel("step")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(dest / "pix2pix_gan_losses.png", dpi=110)
        plt.close(fig)
        written.append(dest / "pix2pix_gan_losses.png")
    return written


def main() -> None:
    out = Path(sys.argv[1])
    print("### Information-loss probe (autoencoder reconstruction, Set14)\n")
    print("| generator | paper row | paper PSNR/SSIM | parameters | steps | PSNR | SSIM |")
    print("|---|---|---|---|---|---|---|")
    scores = {}
    for m in PROBES:
        f = out / f"probe_{m}.json"
        if f.is_file():
            r = json.loads(f.read_text())
            row, paper = PAPER_PROBE[m]
            scores[row] = r["psnr"]
            print(f"| {m} | {row} | {paper} | {r['parameters']:,} | {int(r['steps'])} | {r['psnr']:.2f} "
                  f"| {r['ssim']:.4f} |")  # fmt: skip
    print(f"\nOrdering by PSNR, ours: {ordering(scores)}")
    print("Paper: En/Dec < UNet-8 < UNet-5 < +InfoAccum < +SubPix")
    for title, names in (("UNet depth sweep (synthetic rain, Set14)", DEPTHS), ("Ablation (synthetic rain)", ABLATION)):
        print(f"\n### {title}\n")
        print("| run | G parameters | steps | train time | PSNR | SSIM | rainy input PSNR | NaN/inf log lines |")
        print("|---|---|---|---|---|---|---|---|")
        rows = run_rows(out, names)
        print("\n".join(rows))
        vals = {n: last_val(out / n).get("psnr", float("nan")) for n in names if (out / n / "metrics.jsonl").is_file()}
        print(f"\nOrdering by PSNR, ours: {ordering(vals)}")
    if len(sys.argv) > 2:
        for f in plots(out, Path(sys.argv[2])):
            print(f"wrote {f}", file=sys.stderr)


if __name__ == "__main__":
    main()
