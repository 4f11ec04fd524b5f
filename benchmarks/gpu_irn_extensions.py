#!/usr/bin/env python3
"""Train the IRN-extension models on one GPU within a fixed wall-clock budget (the shipped irn-color and CRM weights).

Four jobs share the GPU:

- ``color``: IRN_color, ``configs/irn/gpu_color.yaml`` (the official recipe, T91 + BSDS200);
- ``x2noise``: the IRN ×2 noise fine-tune, ``configs/irn/gpu_x2_finetune_noise.yaml``, then
- ``crm``: the CRM for JPEG q90 of that fine-tuned IRN's LR, ``configs/irn/gpu_crm_q90.yaml``;
- ``crm_bicubic``: the CRM for JPEG q90 of the bicubic LR, ``configs/irn/gpu_crm_bicubic_q90.yaml``.

Phase 1 runs all four together for ``--calib`` seconds in throw-away run folders and reads each one's step rate off
its ``metrics.jsonl``. Phase 2 gives each job ``train.steps = rate × its time`` (the learning-rate halvings scaled to
the same fractions of the run as in its preset), with ``--time-limit`` as a guard; ``crm`` starts when ``x2noise``
is done and trains on its weights. Outputs in ``--out``: ``irn-color.safetensors``, ``irn-x2-noise.safetensors``,
``crm-q90.safetensors``, ``crm-bicubic-q90.safetensors`` (CRM kernels stored as fp16), ``irn-color-state.pt`` (to
resume the colour run), ``runs.tar.gz`` (each run's config.yaml and metrics.jsonl) and ``driver.log``.

A second stage (``--init DIR``, DIR holding a first stage's outputs) skips the fine-tune and trains ``color``, ``crm``
and ``crm_bicubic`` on for the budget, each starting from its weights in DIR with a fresh optimiser and the preset's
schedule (``crm`` keeps DIR's ``irn-x2-noise.safetensors`` as its G).

Usage (from the repository root, data under ``$INVRESTORE_DATA``)::

    python benchmarks/gpu_irn_extensions.py --budget 540 --out gpu_out
    # a CPU smoke test of the orchestration:
    python benchmarks/gpu_irn_extensions.py --budget 60 --calib 15 --out /tmp/o --set data.crop_size=32
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

JOBS = {
    "color": ("configs/irn/gpu_color.yaml", [0.4, 0.6, 0.8]),
    "x2noise": ("configs/irn/gpu_x2_finetune_noise.yaml", [0.5, 0.75]),
    "crm": ("configs/irn/gpu_crm_q90.yaml", [0.2, 0.4, 0.6, 0.8]),
    "crm_bicubic": ("configs/irn/gpu_crm_bicubic_q90.yaml", [0.2, 0.4, 0.6, 0.8]),
}
SHIPPED_IRN_X2 = "src/invrestore/weights/irn-x2.safetensors"
OUT_NAMES = {
    "color": "irn-color.safetensors",
    "x2noise": "irn-x2-noise.safetensors",
    "crm": "crm-q90.safetensors",
    "crm_bicubic": "crm-bicubic-q90.safetensors",
}
T_START = time.time()
LOG: list[str] = []


def log(msg: str) -> None:
    line = f"[{time.time() - T_START:6.1f}s] {msg}"
    print(line, flush=True)
    LOG.append(line)


def launch(name: str, run_dir: Path, sets: list[str], time_limit: float, logfile: Path) -> subprocess.Popen[bytes]:
    config = JOBS[name][0]
    cmd = [sys.executable, "-m", "invrestore", "train", config, "--run-dir", str(run_dir), "--no-resume"]
    cmd += ["--no-progress", "--time-limit", f"{max(time_limit, 1.0):.0f}"]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("JOB_THREADS", "2"))
    log(f"start {name}: {' '.join(cmd[2:])}")
    logfile.parent.mkdir(parents=True, exist_ok=True)
    fh = logfile.open("wb")
    return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)


def wait(name: str, proc: subprocess.Popen[bytes], logfile: Path) -> None:
    code = proc.wait()
    tail = logfile.read_text(errors="replace").strip().splitlines()[-3:]
    log(f"{name} exited {code}: {' | '.join(tail)}")
    if code != 0:
        raise SystemExit(f"{name} failed (exit {code}); see {logfile}")


def rate(run_dir: Path) -> float:
    recs = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    recs = [r for r in recs if r.get("kind") == "train"]
    if len(recs) < 3:
        raise SystemExit(f"{run_dir}: too few log records to measure a step rate ({len(recs)})")
    a, b = recs[1], recs[-1]  # skip the first interval (cuDNN autotuning, worker start-up)
    return (b["step"] - a["step"]) / max(b["time"] - a["time"], 1e-6)


def schedule(name: str, steps: int) -> list[str]:
    fracs = JOBS[name][1]
    milestones = ",".join(str(max(1, round(f * steps))) for f in fracs)
    return [f"train.steps={steps}", f"train.optim.milestones=[{milestones}]", "train.ckpt_every=500"]


def export(run_dir: Path, dst: Path, half: bool) -> None:
    import torch
    from codec_weights_card import compact  # benchmarks/ is on sys.path when run as a script

    from invrestore.train import load_weights, save_weights

    sd = load_weights(run_dir / "last" / "model.safetensors")
    save_weights(compact(sd) if half else sd, dst)
    step = json.loads((run_dir / "last" / "meta.json").read_text())["step"]
    log(f"exported {dst.name} (step {step}, {dst.stat().st_size / 1e6:.1f} MB, torch {torch.__version__})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, required=True, help="Seconds for the whole script (from its start).")
    ap.add_argument("--calib", type=float, default=50.0, help="Seconds of the rate-measuring phase.")
    ap.add_argument("--x2noise-share", type=float, default=0.3, help="Share of phase 2 for the IRN fine-tune.")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--runs", type=Path, default=Path("runs/gpu_irn_ext"))
    ap.add_argument("--jobs", default="color,crm,crm_bicubic", help="With --init: the jobs to train on.")
    ap.add_argument("--init", type=Path, default=None, help="A first stage's output folder to continue from.")
    ap.add_argument("--set", dest="extra", action="append", default=[], help="Override for every job.")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.runs.exists():
        shutil.rmtree(args.runs)
    args.runs.mkdir(parents=True)
    margin = 25.0  # exports and the tarball
    try:
        import torch

        dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        log(f"torch {torch.__version__}, device {dev}")
        # phase 1: step rates with all four jobs on the device
        jobs = list(JOBS) if args.init is None else [j for j in args.jobs.split(",") if j]
        if args.init is not None and (not jobs or any(j not in JOBS or j == "x2noise" for j in jobs)):
            raise SystemExit(f"--jobs: choose among color, crm, crm_bicubic (got {args.jobs!r})")
        own: dict[str, list[str]] = {name: list(args.extra) for name in jobs}
        g_weights = SHIPPED_IRN_X2
        if args.init is not None:
            g_weights = str(args.init / "irn-x2-noise.safetensors")
            for name in jobs:  # a job whose weights DIR lacks starts from scratch
                if (args.init / OUT_NAMES[name]).is_file():
                    own[name].append(f"init_weights={args.init / OUT_NAMES[name]}")
        calib = args.runs / "calib"
        procs = {}
        for name in jobs:
            sets = [*own[name], "train.log_every=5", "train.steps=1000000", "train.ckpt_every=1000000"]
            if name == "crm":
                sets.append(f"source.irn_weights={g_weights}")
            procs[name] = launch(name, calib / name, sets, args.calib, calib / f"{name}.log")
        for name, p in procs.items():
            wait(name, p, calib / f"{name}.log")
        rates = {name: rate(calib / name) for name in jobs}
        log(f"rates (steps/s with {len(jobs)} jobs): " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))
        shutil.rmtree(calib)

        # phase 2
        startup = 15.0
        left = args.budget - (time.time() - T_START) - margin
        t_ft = args.x2noise_share * left
        runs = {name: args.runs / name for name in JOBS}
        main_procs = {}
        for name in ("color", "crm_bicubic") if args.init is None else jobs:
            steps = max(10, int(rates[name] * (left - startup)))
            sets = [*own[name], *schedule(name, steps)]
            if name == "crm":
                sets.append(f"source.irn_weights={g_weights}")
            main_procs[name] = launch(name, runs[name], sets, left - startup, args.runs / f"{name}.log")
        if args.init is None:
            steps = max(10, int(rates["x2noise"] * (t_ft - startup)))
            ft = launch(
                "x2noise",
                runs["x2noise"],
                [*own["x2noise"], *schedule("x2noise", steps)],
                t_ft - startup,
                args.runs / "x2noise.log",
            )
            wait("x2noise", ft, args.runs / "x2noise.log")
            export(runs["x2noise"], args.out / "irn-x2-noise.safetensors", half=False)
            left_crm = args.budget - (time.time() - T_START) - margin
            steps = max(10, int(rates["crm"] * (left_crm - startup)))
            g_weights = str(args.out / "irn-x2-noise.safetensors")
            sets = [*own["crm"], *schedule("crm", steps), f"source.irn_weights={g_weights}"]
            main_procs["crm"] = launch("crm", runs["crm"], sets, left_crm - startup, args.runs / "crm.log")
        for name, p in main_procs.items():
            wait(name, p, args.runs / f"{name}.log")
        if "color" in main_procs:
            export(runs["color"], args.out / "irn-color.safetensors", half=False)
            shutil.copy(runs["color"] / "last" / "state.pt", args.out / "irn-color-state.pt")
        for name in ("crm", "crm_bicubic"):
            if name in main_procs:
                export(runs[name], args.out / OUT_NAMES[name], half=True)
    finally:
        with tarfile.open(args.out / "runs.tar.gz", "w:gz") as tar:
            for f in sorted(args.runs.rglob("*")):
                if f.is_file() and (f.suffix in (".yaml", ".jsonl", ".log") or f.name == "meta.json"):
                    tar.add(f, arcname=str(f.relative_to(args.runs)))
        log(f"done in {time.time() - T_START:.0f} s")
        (args.out / "driver.log").write_text("\n".join(LOG) + "\n")


if __name__ == "__main__":
    main()
