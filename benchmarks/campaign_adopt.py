#!/usr/bin/env python3
"""Adopt a GPU campaign's weights into the package only if they beat the shipped ones on held-out sets.

``python benchmarks/campaign_adopt.py RESULT_DIR`` reads ``RESULT_DIR/campaign.json`` (written by
``benchmarks/gpu_campaign.py``) and, for each target that trained:

1. joins its weight files (``.partN`` pieces into one state dict);
2. scores the new and the shipped weights with the target's own validation (the paper protocol of its family, via
   ``invrestore.evaluation``: IRN Y-PSNR of the rescaled image; IRN_color RGB PSNR; the CRM's HR PSNR after
   IRN ↓, JPEG, CRM, IRN ↑) on the **held-out** sets ``--datasets`` (default Set14, BSD100, Kodak24). Set5 picked
   the checkpoint on the GPU, so it is not used here;
3. adopts the new weights only if their mean over the held-out sets is higher by at least ``--min-gain`` dB, no
   set loses more than ``--max-loss`` dB and, for the IRN rescalers (scored image by image), no single image loses
   more than ``--max-image-loss`` dB (a model that improves most images but breaks a few, e.g. a latent that
   blows up on one kind of sky, is refused); else it refuses and says why. The codecs (the ILC teachers) are
   scored by their training objective at their own λ, the rate–distortion score −(λ·255²·MSE + bpp) of the task's
   validation (estimated bpp), and must gain at least ``CODEC_MIN_GAIN`` with no set losing over
   ``CODEC_MAX_LOSS`` (a better PSNR bought with more bits does not pass);
4. on adoption: writes ``<name>.safetensors`` into ``--weights-dir``, appends the run to ``<name>.campaign.json``
   (the cumulative history: steps, GPU-minutes, recipe, scores), regenerates the "Campaign" section of the model
   card ``<name>.md``, updates the weights manifest through ``invrestore.models.catalog.adopt_weights`` when that
   module exists, and prints the README row. A codec is measured again on real files first (Kodak24: each image
   compressed to a container and decoded from it): the manifest's claims and the card's evaluation row are those
   numbers.

``--dry-run`` decides and prints without writing. ``--limit N`` scores only the first N images of each set (a
quick look; the adoption decision should use whole sets).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from gpu_campaign import TARGETS  # noqa: E402

HELD_OUT = ("Set14", "BSD100", "Kodak24")
PACKAGE_WEIGHTS = REPO / "src" / "invrestore" / "weights"
CARD_HEAD = "## Campaign"  # its windows run on a lent GPU or, when none is lent, on the CPU
LEGACY_HEADS = ("## GPU campaign",)  # what earlier cards called the section (replaced in place)
# the validation metric of each target's task, as the manifest names claims (IRN scores the Y channel)
CLAIM_KEYS = {"irn-x4": "Y_PSNR", "irn-x2": "Y_PSNR", "irn-color": "RGB_PSNR", "crm-q90": "RGB_PSNR_irn-x2_q90"}

#: the codecs' adoption thresholds, in units of the rate–distortion score (λ·255²·MSE + bpp; ≈ 1.5 for the q1 teacher)
CODEC_MIN_GAIN = 0.005
CODEC_MAX_LOSS = 0.005

#: targets whose validation is scored image by image here (the IRN rescalers); the others give one mean per set
PER_IMAGE = ("irn-x4", "irn-x2")

Scorer = Callable[[str, Path, str, int], "float | list[float]"]


def validation_score(name: str, weights: Path, dataset: str, limit: int) -> float | list[float]:
    """The target's validation metric (its task's ``best_metric``) of ``weights`` on ``dataset``, on the CPU: one
    score per image for :data:`PER_IMAGE` targets (their mean is the task's validation, the same z draws), else the
    set's mean."""
    import torch

    from invrestore.models.registry import load_task

    config = str(REPO / str(TARGETS[name]["config"]))
    sets = [f"init_weights={weights}", f"data.val_set={dataset}", f"data.val_limit={limit}"]
    sets += [str(x).format(weights=REPO / "src" / "invrestore" / "weights") for x in TARGETS[name].get("extra", [])]
    task = load_task(config, tuple(sets))
    model = task.build_model().eval()
    if name in PER_IMAGE:  # an IRNTask: the same z draws as its validate
        rows = task.validate_per_image(model, torch.device("cpu"))  # type: ignore[attr-defined]
        return [r[task.best_metric] for r in rows]
    with torch.no_grad():
        res = task.validate(model, torch.device("cpu"))
    return float(res[task.best_metric])


def _per_image(v: float | list[float]) -> list[float]:
    return [float(x) for x in v] if isinstance(v, (list, tuple)) else [float(v)]


def worst_image(new: list[float], old: list[float]) -> tuple[int, float]:
    """``(index, change in dB)`` of the image that changes most for the worse (sets scored by mean: one entry)."""
    if len(new) != len(old):
        raise ValueError(f"{len(new)} new scores against {len(old)} old ones")
    i = min(range(len(new)), key=lambda k: new[k] - old[k])
    return i, new[i] - old[i]


def join_weights(result_dir: Path, files: list[str], dst: Path) -> None:
    from invrestore.train import load_weights, save_weights

    sd: dict[str, Any] = {}
    for f in files:
        sd.update(load_weights(result_dir / f))
    save_weights(sd, dst)


def decide(
    new: dict[str, float], old: dict[str, float], min_gain: float, max_loss: float, unit: str = "dB"
) -> tuple[bool, str]:
    """Adopt iff the mean gain over the held-out sets is at least ``min_gain`` and no set loses over ``max_loss``
    (scores and thresholds in ``unit``; higher scores are better)."""
    gains = {k: new[k] - old[k] for k in new}
    mean = sum(gains.values()) / len(gains)
    worst = min(gains, key=lambda k: gains[k])
    nd = 2 if unit == "dB" else 4
    text = ", ".join(f"{k} {old[k]:.{nd}f} → {new[k]:.{nd}f} ({gains[k]:+.{nd}f})" for k in new)
    if mean < min_gain:
        return False, f"mean gain {mean:+.{nd + 1}f} {unit} < {min_gain:g} {unit} ({text})"
    if gains[worst] < -max_loss:
        return False, f"{worst} loses {-gains[worst]:.{nd + 1}f} {unit} > {max_loss:g} {unit} ({text})"
    return True, f"mean gain {mean:+.{nd + 1}f} {unit} ({text})"


def is_codec(name: str) -> bool:
    """The target is a learned codec (scored by its rate–distortion score, measured on real files)."""
    return bool(TARGETS[name].get("codec"))


def real_file_scores(name: str, weights: Path, dataset: str = "Kodak24", limit: int = 0) -> dict[str, float]:
    """``bpp`` (real container bytes), ``psnr_rgb``, ``ms_ssim``, ``bpp_est`` and ``psnr_nq`` of the codec
    ``name`` with ``weights`` on ``dataset``: each image compressed to a container and decoded from it (the card's
    protocol)."""
    from invrestore.data import resolve_dataset
    from invrestore.evaluation.rd import rd_points_learned
    from invrestore.models.ilc.loading import load_codec

    files = list(resolve_dataset(dataset, None).files)
    files = files[:limit] if limit else files
    point = rd_points_learned(load_codec(name, str(weights)), files)[0]
    return {
        "bpp": point.bpp_real,
        "bpp_est": float(point.bpp_estimated or 0.0),
        "psnr_rgb": point.psnr_rgb,
        "ms_ssim": float(point.ms_ssim or 0.0),
        "psnr_nq": float(point.psnr_no_quant or 0.0),
    }


def write_codec_evaluation(card: Path, dataset: str, r: dict[str, float]) -> None:
    """Replace the ``| dataset | …`` row of the card's evaluation table (codec_weights_card.py's columns) with the
    real-file numbers ``r``."""
    text = card.read_text() if card.is_file() else ""
    cells = f"{r['bpp']:.4f} | {r['bpp_est']:.4f} | {r['psnr_rgb']:.2f} | {r['ms_ssim']:.4f} | {r['psnr_nq']:.2f}"
    row = f"| {dataset} | {cells} |"
    lines = text.splitlines()
    hits = [i for i, ln in enumerate(lines) if ln.startswith(f"| {dataset} |")]
    if hits:
        lines[hits[0]] = row
        card.write_text("\n".join(lines) + "\n")


def _device_name(window: dict[str, Any]) -> str:
    """The device a window ran on, as the card names it ("cpu" runs are not GPU minutes)."""
    return str(window.get("device") or "unknown device")


def card_section(name: str, history: list[dict[str, Any]]) -> str:
    steps = sum(int(h["steps"]) for h in history)
    minutes = sum(float(h["gpu_seconds"]) for h in history) / 60
    last = history[-1]
    sets = list(last["held_out_new"])
    codec = is_codec(name)
    metric = "RD loss" if codec else "Y-PSNR" if name in PER_IMAGE else "PSNR"
    lines = [
        CARD_HEAD,
        "",
        f"Continued by `benchmarks/gpu_campaign.py` ({len(history)} adopted window(s), on "
        f"{', '.join(sorted({_device_name(h) for h in history}))}; written by `benchmarks/campaign_adopt.py`).",
        "",
        f"- Cumulative campaign steps: {steps:,} ({minutes:.1f} device-minutes) on top of the training above.",
        f"- Data: T91 + BSDS200, recipe `{last['config']}` (the shipped run's loss, batch and crop; constant lr then "
        "a final decay stage per window; bf16 autocast). Checkpoints picked on Set5; adopted on held-out "
        f"{', '.join(sets)} only"
        + (
            ", by the training objective at the codec's λ: RD loss = λ·255²·MSE + bpp (estimated), lower is better; "
            "the evaluation table above is measured again on real files at each adoption."
            if codec
            else "."
        ),
        f"- Last window: {last['date']}, {last['device']}, torch {last['torch']}, {last['steps']:,} steps, "
        f"picked the `{last['picked']}` checkpoint (step {last['picked_step']}).",
        "",
        "| window | device | steps | minutes | " + " | ".join(f"{s} {metric} before → after" for s in sets) + " |",
        "|---|---|---|---|" + "---|" * len(sets),
    ]
    for i, h in enumerate(history, 1):
        if codec:  # stored as the task's score −(RD loss)
            cells = " | ".join(f"{-h['held_out_old'][s]:.4f} → {-h['held_out_new'][s]:.4f}" for s in sets)
        else:
            cells = " | ".join(f"{h['held_out_old'][s]:.2f} → {h['held_out_new'][s]:.2f}" for s in sets)
        minutes_i = float(h["gpu_seconds"]) / 60
        lines.append(f"| {i} ({h['date']}) | {_device_name(h)} | {int(h['steps']):,} | {minutes_i:.1f} | {cells} |")
    return "\n".join(lines) + "\n"


def write_card(card: Path, section: str) -> None:
    text = card.read_text() if card.is_file() else ""
    for old in LEGACY_HEADS:
        text = text.replace(f"{old}\n", f"{CARD_HEAD}\n")
    if f"{CARD_HEAD}\n" in text:
        head, _, rest = text.partition(f"{CARD_HEAD}\n")
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    card.write_text(text)


def adopt(
    result_dir: Path,
    weights_dir: Path,
    datasets: tuple[str, ...] = HELD_OUT,
    limit: int = 0,
    min_gain: float = 0.02,
    max_loss: float = 0.05,
    dry_run: bool = False,
    score: Scorer = validation_score,
    max_image_loss: float = 1.0,
) -> dict[str, bool]:
    """Decide and (unless ``dry_run``) adopt each target of ``result_dir``; returns ``{target: adopted}``."""
    summary = json.loads((result_dir / "campaign.json").read_text())
    decisions: dict[str, bool] = {}
    for rec in summary["results"]:
        name = rec["target"]
        if "error" in rec:
            print(f"{name}: skipped (the campaign failed: {rec['error']})")
            continue
        shipped = weights_dir / f"{name}.safetensors"
        with tempfile.TemporaryDirectory() as tmp:
            cand = Path(tmp) / f"{name}.safetensors"
            join_weights(result_dir, list(rec["files"]), cand)
            new_i = {d: _per_image(score(name, cand, d, limit)) for d in datasets}
            old_i = (
                {d: _per_image(score(name, shipped, d, limit)) for d in datasets}
                if shipped.is_file()
                else {d: [float("-inf")] * len(v) for d, v in new_i.items()}
            )
            new = {d: math.fsum(v) / len(v) for d, v in new_i.items()}
            old = {d: math.fsum(v) / len(v) for d, v in old_i.items()}
            if is_codec(name):
                ok, why = decide(new, old, CODEC_MIN_GAIN, CODEC_MAX_LOSS, unit="(RD score)")
            else:
                ok, why = decide(new, old, min_gain, max_loss)
            if ok and shipped.is_file():
                for d in datasets:
                    i, change = worst_image(new_i[d], old_i[d])
                    if len(new_i[d]) > 1 and change < -max_image_loss:
                        ok = False
                        why = (
                            f"image {i + 1} of {d} loses {-change:.2f} dB ({old_i[d][i]:.2f} → {new_i[d][i]:.2f}) "
                            f"> --max-image-loss {max_image_loss:g} dB, though {why}"
                        )
                        break
            decisions[name] = ok
            print(f"{name}: {'ADOPT' if ok else 'REFUSE'}: {why}")
            if not ok or dry_run:
                continue
            cand.replace(shipped)
        hist_path = weights_dir / f"{name}.campaign.json"
        history = json.loads(hist_path.read_text()) if hist_path.is_file() else []
        history.append(
            {
                "date": datetime.date.today().isoformat(),
                "device": summary.get("device", "?"),
                "torch": summary.get("torch", "?"),
                **{k: rec[k] for k in ("config", "steps", "gpu_seconds", "picked", "picked_step", "schedule")},
                "held_out_old": old,
                "held_out_new": new,
                "limit": limit,
            }
        )
        hist_path.write_text(json.dumps(history, indent=1) + "\n")
        section = card_section(name, history)
        write_card(weights_dir / f"{name}.md", section)
        if is_codec(name):  # the claims are real-file numbers, as codec_weights_card.py writes them
            real = real_file_scores(name, shipped, "Kodak24", limit)
            write_codec_evaluation(weights_dir / f"{name}.md", "Kodak24", real)
            claims: dict[str, float | str] = {
                "Kodak24_bpp": round(real["bpp"], 4),
                "Kodak24_RGB_PSNR": round(real["psnr_rgb"], 2),
                "Kodak24_MS-SSIM": round(real["ms_ssim"], 4),
            }
            print(
                f"{name}: Kodak24, real files: {real['bpp']:.4f} bpp, {real['psnr_rgb']:.2f} dB, MS-SSIM "
                f"{real['ms_ssim']:.4f}"
            )
        else:
            key = CLAIM_KEYS.get(name, "PSNR")  # the manifest's claim names, as irn_weights_report.py writes them
            claims = {f"{d}_{key}": round(v, 2) for d, v in new.items()}
        if weights_dir.resolve() != PACKAGE_WEIGHTS.resolve():
            print(f"{name}: {weights_dir} is not the package's weights folder: the manifest is left alone")
        else:
            from invrestore.models.catalog import adopt_weights

            adopt_weights(name, shipped, tag=f"campaign-{len(history)}", claims=claims, card=f"{name}.md")
        steps = sum(int(h["steps"]) for h in history)
        row = " | ".join(f"{-new[d]:.4f}" if is_codec(name) else f"{new[d]:.2f}" for d in datasets)
        print(f"README row: | {name} | {row} | +{steps:,} campaign steps ({', '.join(datasets)}) |")
    return decisions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result_dir", type=Path)
    ap.add_argument("--weights-dir", type=Path, default=PACKAGE_WEIGHTS)
    ap.add_argument("--datasets", default=",".join(HELD_OUT), help="Held-out sets (never the picking set Set5).")
    ap.add_argument("--limit", type=int, default=0, help="Only the first N images of each set (0 = all).")
    ap.add_argument("--min-gain", type=float, default=0.02, help="dB the held-out mean must gain.")
    ap.add_argument("--max-loss", type=float, default=0.05, help="dB any one held-out set may lose.")
    ap.add_argument(
        "--max-image-loss", type=float, default=1.0, help="dB any one image may lose (IRN rescalers, scored per image)."
    )
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    sets = tuple(s for s in args.datasets.split(",") if s)
    if "Set5" in sets:
        raise SystemExit("Set5 picked the checkpoints: it cannot also decide the adoption (use held-out sets)")
    adopt(
        args.result_dir,
        args.weights_dir,
        sets,
        args.limit,
        args.min_gain,
        args.max_loss,
        args.dry_run,
        max_image_loss=args.max_image_loss,
    )


if __name__ == "__main__":
    main()
