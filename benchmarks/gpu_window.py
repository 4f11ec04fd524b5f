#!/usr/bin/env python3
"""The training fast path's GPU figures, as ONE prepared call: steps/s against today's loop, loss curves, profiles.

Whole ``invrestore train`` runs of the paper recipe (batch 16 × 144² crops of T91 + BSDS200, from scratch,
``configs/irn/campaign_x2.yaml`` / ``campaign_x4.yaml``), one at a time on the same GPU, in priority order, each with
``--time-limit`` so the call never overruns ``--budget``:

======================  ===========================================================================================
``x2-fast``             the fast path as the campaign uses it (bf16 + float32 flows, channels-last, fused Adam,
                        device-resident data, a host sync every 50 steps), ``--curve-steps`` steps
``x2-eager``            today's loop: float32 (TF32 convolutions, cuDNN autotuning: the loop's defaults), the data
                        loader with ``--workers`` workers, a host sync per step; the same seed and steps
``x2-eager-parts``      ``benchmarks/train_step_speed.py`` on today's settings: the data loader's batches/s alone and
                        the step's rate on one fixed batch (is today's loop bound by its loader?)
``x4-eager``, ``x4-fast``  the same two at ×4, ``--rate-steps`` steps; ``x4-fast`` is profiled at its end
``x2-fast-seed11``      the fast path with another seed: the noise floor of a loss curve; profiled at its start
``x2-fast-compile``     + ``train.compile=max-autotune-no-cudagraphs``, ``--rate-steps`` × 2 steps (if time is left)
``x2-fast-graphs``      + ``train.compile=reduce-overhead`` (CUDA graphs), likewise
======================  ===========================================================================================

A step rate is read off ``metrics.jsonl`` from the second log record on (the first interval holds start-up,
compilation and autotuning) up to the last record before a profiled span. The loss curves are compared at equal
logged steps: mean |Δ loss| of ``x2-fast`` against ``x2-eager`` beside that of ``x2-fast-seed11`` against ``x2-fast``
(another seed of the same loop, the noise floor), over the whole run and over its last third.

Outputs in ``--out`` (6 files): ``window.json`` (per arm: steps, rate, peak GPU memory, loss curve; the ratios and
curve gaps), ``x2-profile.json``/``x4-profile.json`` (:mod:`invrestore.train.profiling`: the GPU's busy share, kernels
per step, top kernels), their ``.txt`` tables, and ``runs.tar.gz`` (configs, logs). A failing arm is recorded and
the others still run.

Usage (on the GPU machine; the data as for ``benchmarks/gpu_campaign.py``, see docs/training.md)::

    python benchmarks/gpu_window.py --budget 540 --out "$OUT"
    # a CPU smoke test (tiny crops):
    python benchmarks/gpu_window.py --budget 120 --out /tmp/w --data /tmp/train291.npz --curve-steps 20 \\
        --rate-steps 10 --log-every 5 --set data.crop_size=32 --set train.batch_size=4
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from gpu_campaign import log, prepare_data, records, train  # noqa: E402

X2 = "configs/irn/campaign_x2.yaml"
X4 = "configs/irn/campaign_x4.yaml"
#: Today's loop: every fast switch at its default (the presets turn them on).
EAGER = [
    "train.precision=float32",
    "train.channels_last=false",
    "train.fused_optim=false",
    "train.device_resident=false",
    "train.sync_every=1",
    "train.nan_policy=raise",
]


def arms(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The runs in priority order (name, config, overrides, steps, profile spec)."""
    c, r = args.curve_steps, args.rate_steps
    workers = f"train.num_workers={args.workers}"
    prof_end = f"{max(r - args.profile_steps - args.log_every, 0)}:{args.profile_steps}"
    return [
        {"name": "x2-fast", "config": X2, "sets": [], "steps": c},
        {"name": "x2-eager", "config": X2, "sets": [*EAGER, workers], "steps": c},
        {"name": "x2-eager-parts", "config": X2, "sets": EAGER, "script": "train_step_speed.py"},
        {"name": "x4-eager", "config": X4, "sets": [*EAGER, workers], "steps": r},
        {"name": "x4-fast", "config": X4, "sets": [], "steps": r, "profile": prof_end, "profile_as": "x4"},
        {
            "name": "x2-fast-seed11",
            "config": X2,
            "sets": ["train.seed=11"],
            "steps": c,
            "profile": f"{2 * args.log_every}:{args.profile_steps}",
            "profile_as": "x2",
        },
        {
            "name": "x2-fast-compile",
            "config": X2,
            "sets": ["train.compile=max-autotune-no-cudagraphs"],
            "steps": 2 * r,
            "min_s": args.compile_min,
        },
        {
            "name": "x2-fast-graphs",
            "config": X2,
            "sets": ["train.compile=reduce-overhead"],
            "steps": 2 * r,
            "min_s": args.compile_min,
        },
    ]


def rate_of(run_dir: Path, profile: str | None) -> float | None:
    """Steps/s over the log intervals after the first one (start-up, compilation, autotuning), leaving out those
    that overlap the profiled span ``START:N`` (None: no interval left)."""
    recs = records(run_dir, "train")
    lo, hi = -1, -1
    if profile is not None:
        a, n = (int(x) for x in profile.split(":"))
        lo, hi = a, a + n
    steps = secs = 0.0
    for prev, cur in itertools.pairwise(recs[1:]):
        s0, s1 = int(prev["step"]), int(cur["step"])
        if s1 > lo and s0 < hi:  # this interval ran profiled steps
            continue
        steps += s1 - s0
        secs += float(cur["time"]) - float(prev["time"])
    return steps / secs if secs > 0 else None


def curve_gap(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> dict[str, float] | None:
    """Mean |Δ loss| at the steps both curves logged, over all of them and over the last third."""
    lb = dict(b)
    d = [abs(x - lb[s]) for s, x in a if s in lb]
    if not d:
        return None
    tail = d[2 * len(d) // 3 :] or d
    return {"mean_abs_diff": sum(d) / len(d), "mean_abs_diff_last_third": sum(tail) / len(tail), "points": len(d)}


def parts(arm: dict[str, Any], args: argparse.Namespace, left: float) -> dict[str, Any]:
    """Loader batches/s and fixed-batch steps/s of today's settings (``train_step_speed.py``, TF32 + cuDNN autotune)."""
    import subprocess

    cmd = [sys.executable, str(REPO / "benchmarks" / arm["script"]), str(REPO / arm["config"]), "--steps", "30"]
    cmd += ["--workers", str(args.workers), "--tf32", "--cudnn-benchmark"]
    for s in [*arm["sets"], *args.overrides]:
        cmd += ["--set", s]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=max(left, 1.0))
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    if out.returncode != 0:
        return {"error": " | ".join(out.stderr.strip().splitlines()[-3:])}
    return {"output": out.stdout.strip().splitlines()[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, required=True, help="Seconds for the whole call (from its start).")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "window_out")))
    ap.add_argument("--data", type=Path, default=REPO / ".devdata" / "train291.npz", help="Packed training set.")
    ap.add_argument("--eval-root", type=Path, default=REPO / ".devdata", help="Folder holding eval/Set5.")
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "window")
    ap.add_argument("--curve-steps", type=int, default=2000, help="Steps of the x2 loss-curve runs.")
    ap.add_argument("--rate-steps", type=int, default=300, help="Steps of the rate-only runs.")
    ap.add_argument("--profile-steps", type=int, default=20)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--workers", type=int, default=6, help="Data-loader workers of today's loop.")
    ap.add_argument("--startup", type=float, default=20.0, help="Seconds an arm needs before it can be useful.")
    ap.add_argument("--compile-min", type=float, default=150.0, help="Seconds a compile arm needs to be tried.")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="Override for every arm.")
    args = ap.parse_args()
    t_start = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.runs.exists():
        shutil.rmtree(args.runs)
    args.runs.mkdir(parents=True)
    results: dict[str, dict[str, Any]] = {}
    summary: dict[str, Any] = {"budget_s": args.budget, "arms": results}
    try:
        import torch

        dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        summary.update({"device": dev, "torch": torch.__version__})
        log(f"torch {torch.__version__}, device {dev}")
        prepare_data(args.data, args.eval_root, args.runs / "data")
        for arm in arms(args):
            name = arm["name"]
            left = args.budget - (time.time() - t_start) - 15.0  # the tarball and the summary
            if left < max(args.startup + 10, float(arm.get("min_s", 0))):
                log(f"{name}: skipped, {left:.0f} s left")
                results[name] = {"skipped": f"{left:.0f} s left"}
                continue
            run_dir = args.runs / name
            if "script" in arm:
                results[name] = parts(arm, args, left)
                log(f"{name}: {results[name].get('output', results[name].get('error'))}")
                continue
            steps = int(arm["steps"])
            sets = [*arm["sets"], f"train.steps={steps}", f"train.log_every={args.log_every}"]
            sets += [f"train.ckpt_every={steps}", "train.val_every=0", "train.optim.milestones=[]"]
            sets += list(args.overrides)
            extra = ("--profile", arm["profile"]) if "profile" in arm else ()
            t0 = time.time()
            try:
                train(
                    str(REPO / arm["config"]), run_dir, sets, left, False, args.runs / f"{name}.log", extra, hard=left
                )
            except Exception as e:  # one arm failing must not lose the others
                log(f"{name} FAILED: {type(e).__name__}: {e}")
                results[name] = {"error": f"{type(e).__name__}: {e}"}
                continue
            recs = records(run_dir, "train")
            res: dict[str, Any] = {
                "config": arm["config"],
                "overrides": sets,
                "steps": int(recs[-1]["step"]) if recs else 0,
                "planned_steps": steps,
                "wall_s": time.time() - t0,
                "rate": rate_of(run_dir, arm.get("profile")),
                "gpu_mem_gib": max((float(r.get("gpu_mem_gib", 0.0)) for r in recs), default=None),
                "loss": [(int(r["step"]), float(r["loss"])) for r in recs if "loss" in r],
            }
            if "profile_as" in arm and (run_dir / "profile.json").is_file():
                for suffix in ("json", "txt"):
                    shutil.copy(run_dir / f"profile.{suffix}", args.out / f"{arm['profile_as']}-profile.{suffix}")
                res["profile"] = json.loads((run_dir / "profile.json").read_text())
            results[name] = res
            log(f"{name}: {res['steps']} steps, {res['rate'] or float('nan'):.2f} steps/s, {res['wall_s']:.0f} s")
        ratios: dict[str, float] = {}
        for fast, eager in (("x2-fast", "x2-eager"), ("x4-fast", "x4-eager"), ("x2-fast-compile", "x2-eager"),
                            ("x2-fast-graphs", "x2-eager")):  # fmt: skip
            rf, re_ = results.get(fast, {}).get("rate"), results.get(eager, {}).get("rate")
            if rf and re_:
                ratios[f"{fast} / {eager}"] = rf / re_
        summary["ratios"] = ratios
        loss = {k: v.get("loss", []) for k, v in results.items()}
        summary["curves"] = {
            "x2-fast vs x2-eager": curve_gap(loss.get("x2-fast", []), loss.get("x2-eager", [])),
            "x2-fast-seed11 vs x2-fast (noise floor)": curve_gap(
                loss.get("x2-fast-seed11", []), loss.get("x2-fast", [])
            ),
        }
        log(f"ratios {json.dumps(ratios)}; curves {json.dumps(summary['curves'])}")
    finally:
        with tarfile.open(args.out / "runs.tar.gz", "w:gz") as tar:
            for f in sorted(args.runs.rglob("*")):
                if f.relative_to(args.runs).parts[:1] == ("data",):
                    continue
                if f.is_file() and (f.suffix in (".yaml", ".jsonl", ".log") or f.name.startswith("profile")):
                    tar.add(f, arcname=str(f.relative_to(args.runs)))
        summary["wall_s"] = time.time() - t_start
        (args.out / "window.json").write_text(json.dumps(summary, indent=1))
        log(f"done in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
