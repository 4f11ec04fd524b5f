#!/usr/bin/env python3
"""The GPU campaign: continue training the shipped models within a fixed wall-clock budget, as ONE prepared call.

For each target in ``--targets`` (in that order; the default is the issue's priority: irn-x4, irn-x2, crm-q90,
irn-color; the ILC teachers ``bls2017-128-q1``/``-q4`` and then ``ilc-small-q1``/``-q4`` come after them and are
chosen by name) the driver

1. starts from the committed weights in ``src/invrestore/weights/`` (weights only: Adam re-warms) with its preset
   ``configs/irn/campaign_*.yaml`` or ``configs/ilc/campaign_{teacher,ilc}_*.yaml`` (the fast path: bf16, channels-last,
   fused Adam, data resident on the GPU);
2. stage A: trains at the constant learning rate with ``--time-limit`` = 70 % of the target's share of the budget,
   and reads the step rate off ``metrics.jsonl`` (compilation and autotuning fall into the first log interval, which
   is skipped);
3. stage B: resumes the same run (exactly: same checkpoint, data order by step) with ``train.steps`` set from that
   rate to fill the rest of the share, a final decay stage (lr ×0.5 at half of it, ×0.5 again at three quarters)
   and a validation on Set5 at each third of it (``best/`` keeps the best; Set5 picks, nothing else is looked at);
4. exports the picked checkpoint's weights to ``--out`` (files over 15.5 MiB split into ``.partN`` pieces of one
   state dict, the CRM stored as fp16 as the shipped one is; a codec finalized first: quantiles fitted and coding
   tables built from the picked checkpoint, convolution kernels in fp16, as the shipped codecs are).

Outputs (at most 8 files): the weights, ``campaign.json`` (per target: steps, step rates, GPU seconds, schedule,
Set5 validations, picked checkpoint, rollbacks, device, torch) and ``runs.tar.gz`` (each run's config.yaml and
metrics.jsonl). Back on the CPU machine ``benchmarks/campaign_adopt.py OUT`` decides on held-out sets.

Data: ``--data`` is the packed training set (``benchmarks/pack_training_data.py``, default
``.devdata/train291.npz``), unpacked under the run folder; ``--eval-root`` holds ``eval/Set5`` (default ``.devdata``).

Usage (see docs/training.md for the exact ``run`` command line)::

    python benchmarks/gpu_campaign.py --budget 540 --targets irn-x4 --out "$OUT"
    # a CPU smoke test:
    python benchmarks/gpu_campaign.py --budget 40 --targets irn-x2 --out /tmp/c --set data.crop_size=32 \\
        --set train.batch_size=4 --set data.val_limit=1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "src" / "invrestore" / "weights"
TARGETS: dict[str, dict[str, Any]] = {
    "irn-x4": {"config": "configs/irn/campaign_x4.yaml", "share": 0.4, "half": False},
    "irn-x2": {"config": "configs/irn/campaign_x2.yaml", "share": 0.25, "half": False},
    "crm-q90": {
        "config": "configs/irn/campaign_crm_q90.yaml",
        "share": 0.2,
        "half": True,
        "extra": ["source.irn_weights={weights}/irn-x2.safetensors"],
    },
    "irn-color": {"config": "configs/irn/campaign_color.yaml", "share": 0.15, "half": False},
    # the ILC teachers (not in the default list): "codec" names the registered model whose coding tables the export
    # builds; campaign_adopt.py decides on their rate–distortion score and measures real files before adopting
    "bls2017-128-q1": {
        "config": "configs/ilc/campaign_teacher_q1.yaml",
        "share": 0.5,
        "half": True,
        "codec": "bls2017-128",
    },
    "bls2017-128-q4": {
        "config": "configs/ilc/campaign_teacher_q4.yaml",
        "share": 0.5,
        "half": True,
        "codec": "bls2017-128",
    },
    # ILC continues distilling from the teacher of its rate point in the weights folder (a teacher adopted first
    # is the one it learns from)
    "ilc-small-q1": {
        "config": "configs/ilc/campaign_ilc_q1.yaml",
        "share": 0.5,
        "half": True,
        "codec": "ilc-small",
        "extra": ["teacher.weights={weights}/bls2017-128-q1.safetensors"],
    },
    "ilc-small-q4": {
        "config": "configs/ilc/campaign_ilc_q4.yaml",
        "share": 0.5,
        "half": True,
        "codec": "ilc-small",
        "extra": ["teacher.weights={weights}/bls2017-128-q4.safetensors"],
    },
}
DEFAULT_TARGETS = "irn-x4,irn-x2,crm-q90,irn-color"
SPLIT_BYTES = int(15.5 * 2**20)  # the device tool returns files of at most 16 MiB
T_START = time.time()
LOG: list[str] = []


def log(msg: str) -> None:
    line = f"[{time.time() - T_START:7.1f}s] {msg}"
    print(line, flush=True)
    LOG.append(line)


def train(
    config: str,
    run_dir: Path,
    sets: list[str],
    time_limit: float,
    resume: bool,
    logfile: Path,
    extra: tuple[str, ...] = (),
    hard: float | None = None,
) -> None:
    """One ``invrestore train`` run (``--time-limit time_limit``); ``hard``: kill it after that many seconds even
    before its first step (a compilation or an autotuning that outlasts the budget), with the checkpoint it has."""
    cmd = [sys.executable, "-m", "invrestore", "train", config, "--run-dir", str(run_dir), "--no-progress", *extra]
    cmd += ["--time-limit", f"{max(time_limit, 1.0):.0f}"] + ([] if resume else ["--no-resume"])
    for s in sets:
        cmd += ["--set", s]
    log(f"train {' '.join(cmd[4:])}")
    with logfile.open("ab") as fh:
        try:
            code = subprocess.run(
                cmd, stdout=fh, stderr=subprocess.STDOUT, env=os.environ.copy(), timeout=hard
            ).returncode
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"training killed after {hard:.0f} s (the budget), before it stopped itself") from None
    if code != 0:
        tail = " | ".join(logfile.read_text(errors="replace").strip().splitlines()[-3:])
        raise RuntimeError(f"training exited {code}: {tail}")


def records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    recs = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    return [r for r in recs if r.get("kind") == kind]


def step_rate(run_dir: Path, after_step: int = 0) -> float:
    """Steps/s of the run's segment that logged after ``after_step`` (0: the first one; a resumed segment's clock
    starts again, so segments are measured apart), skipping its first log interval."""
    recs = [r for r in records(run_dir, "train") if int(r["step"]) > after_step]
    if len(recs) < 3:
        raise RuntimeError(f"{run_dir}: too few log records to measure a step rate ({len(recs)})")
    a, b = recs[1], recs[-1]  # the first interval holds compilation, autotuning and the data upload
    return (float(b["step"]) - float(a["step"])) / max(float(b["time"]) - float(a["time"]), 1e-6)


def export(run_dir: Path, out: Path, name: str, half: bool, codec: str | None = None) -> tuple[list[str], str, int]:
    """Write the picked checkpoint's weights; returns (file names, picked folder, its step). ``codec``: the
    registered codec model whose quantiles and coding tables are built from the checkpoint first."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from invrestore.train import load_weights, save_weights

    picked = "best" if (run_dir / "best" / "model.safetensors").is_file() else "last"
    if codec is not None:
        from invrestore.models.ilc.loading import finalize_codec_weights

        final = run_dir / f"{name}.final.safetensors"
        sd = finalize_codec_weights(codec, run_dir / picked / "model.safetensors", final).state_dict()
    else:
        sd = load_weights(run_dir / picked / "model.safetensors")
    if half:
        from codec_weights_card import compact

        sd = compact(sd)
    step = int(json.loads((run_dir / picked / "meta.json").read_text())["step"])
    meta = {"target": name, "step": str(step), "picked": picked}
    whole = out / f"{name}.safetensors"
    save_weights(sd, whole, metadata=meta)
    if whole.stat().st_size <= SPLIT_BYTES:
        return [whole.name], picked, step
    whole.unlink()
    parts: list[dict[str, Any]] = [{}]
    size = 0
    for k, v in sd.items():
        n = v.numel() * v.element_size()
        if size + n > SPLIT_BYTES - 2**20 and parts[-1]:
            parts.append({})
            size = 0
        parts[-1][k] = v
        size += n
    names = []
    for i, part in enumerate(parts):
        p = out / f"{name}.part{i}.safetensors"
        save_weights(part, p, metadata={**meta, "part": f"{i}/{len(parts)}"})
        names.append(p.name)
    return names, picked, step


def prepare_data(pack: Path, eval_root: Path, data_root: Path) -> None:
    """Unpack the packed training set (and copy ``eval/Set5``) under ``data_root``; point $INVRESTORE_DATA there."""
    if pack.is_file():
        sys.path.insert(0, str(REPO / "benchmarks"))
        from pack_training_data import unpack

        n = len(unpack(pack, data_root))
        for sub in ("Set5",):
            src = eval_root / "eval" / sub
            if src.is_dir():
                shutil.copytree(src, data_root / "eval" / sub)
        os.environ["INVRESTORE_DATA"] = str(data_root)
        log(f"unpacked {n} training images from {pack}")
    elif "INVRESTORE_DATA" not in os.environ:
        raise SystemExit(f"no packed training set at {pack} and no $INVRESTORE_DATA")


def run_target(name: str, args: argparse.Namespace, share_s: float, runs: Path) -> dict[str, Any]:
    spec = TARGETS[name]
    config = str(REPO / str(spec["config"]))
    init = args.weights / f"{name}.safetensors"
    if not init.is_file():
        raise RuntimeError(f"{init} not found: the campaign resumes from the committed weights (keep them in the tree)")
    run_dir = runs / name
    logfile = runs / f"{name}.log"
    own = [f"init_weights={init}", *[str(x).format(weights=args.weights) for x in spec.get("extra", [])]]
    own += list(args.overrides)
    t0 = time.time()
    margin = args.margin
    # stage A: constant lr, measures the rate
    a_time = 0.7 * (share_s - margin)
    train(config, run_dir, [*own, "train.optim.milestones=[]", "train.val_every=0"], a_time, False, logfile)
    rate = step_rate(run_dir)
    last = records(run_dir, "train")[-1]
    step_a = int(last["step"])
    # stage B: fill the rest of the share, with the final decay stage
    left = share_s - (time.time() - t0) - margin
    rest = max(3, int(rate * max(left - args.startup, 1.0)))
    total = step_a + rest
    milestones = [step_a + rest // 2, step_a + (3 * rest) // 4]
    sched = [f"train.steps={total}", f"train.optim.milestones=[{milestones[0]},{milestones[1]}]"]
    sched += [f"train.val_every={max(1, rest // 3)}"]
    log(f"{name}: stage A {step_a} steps at {rate:.2f} steps/s; stage B {rest} more steps, decay at {milestones}")
    train(config, run_dir, [*own, *sched], max(left, 1.0), True, logfile)
    files, picked, step = export(run_dir, args.out, name, bool(spec["half"]), spec.get("codec"))
    train_recs = records(run_dir, "train")
    done = int(train_recs[-1]["step"]) if train_recs else 0
    rec = {
        "target": name,
        "config": spec["config"],
        "overrides": own[1:],
        "init": f"src/invrestore/weights/{init.name}",
        "files": files,
        "picked": picked,
        "picked_step": step,
        "steps": done,
        "planned_steps": total,
        "rate_stage_a": rate,
        "rate_stage_b": step_rate(run_dir, step_a) if sum(int(r["step"]) > step_a for r in train_recs) >= 3 else None,
        "gpu_seconds": time.time() - t0,
        "schedule": {"constant_until": milestones[0], "milestones": milestones, "gamma": 0.5},
        "set5": records(run_dir, "val"),
        "rollbacks": records(run_dir, "rollback"),
        "final_lr": train_recs[-1].get("lr") if train_recs else None,
    }
    log(f"{name}: {done} steps in {rec['gpu_seconds']:.0f} s, exported {picked} (step {step}) as {files}")
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, required=True, help="Seconds for the whole call (from its start).")
    ap.add_argument("--targets", default=DEFAULT_TARGETS, help=f"Comma-separated, among {', '.join(TARGETS)}.")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "campaign_out")))
    ap.add_argument("--data", type=Path, default=REPO / ".devdata" / "train291.npz", help="Packed training set.")
    ap.add_argument("--eval-root", type=Path, default=REPO / ".devdata", help="Folder holding eval/Set5.")
    ap.add_argument("--weights", type=Path, default=WEIGHTS, help="Where the committed weights are.")
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "campaign")
    ap.add_argument("--margin", type=float, default=20.0, help="Seconds kept per target for export and start-up.")
    ap.add_argument("--startup", type=float, default=15.0, help="Seconds a resumed run needs before its first step.")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="Override for every target.")
    args = ap.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise SystemExit(f"--targets: choose among {', '.join(TARGETS)} (got {args.targets!r})")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.runs.exists():
        shutil.rmtree(args.runs)
    args.runs.mkdir(parents=True)
    results: list[dict[str, Any]] = []
    summary: dict[str, object] = {"budget_s": args.budget, "targets": targets, "results": results}
    try:
        import torch

        dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        summary.update({"device": dev, "torch": torch.__version__})
        log(f"torch {torch.__version__}, device {dev}")
        prepare_data(args.data, args.eval_root, args.runs / "data")
        shares = {t: float(TARGETS[t]["share"]) for t in targets}
        for i, name in enumerate(targets):
            left = args.budget - (time.time() - T_START) - 10.0  # 10 s for the tarball and the summary
            share = left * shares[name] / sum(shares[t] for t in targets[i:])
            try:
                results.append(run_target(name, args, share, args.runs))
            except Exception as e:  # one target failing must not lose the others' results
                log(f"{name} FAILED: {type(e).__name__}: {e}")
                results.append({"target": name, "error": f"{type(e).__name__}: {e}"})
    finally:
        with tarfile.open(args.out / "runs.tar.gz", "w:gz") as tar:
            for f in sorted(args.runs.rglob("*")):
                if "data" in f.relative_to(args.runs).parts[:1]:
                    continue
                if f.is_file() and (f.suffix in (".yaml", ".jsonl", ".log") or f.name == "meta.json"):
                    tar.add(f, arcname=str(f.relative_to(args.runs)))
        summary["wall_s"] = time.time() - T_START
        summary["log"] = LOG
        (args.out / "campaign.json").write_text(json.dumps(summary, indent=1))
        log(f"done in {time.time() - T_START:.0f} s")


if __name__ == "__main__":
    main()
