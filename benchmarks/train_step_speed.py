#!/usr/bin/env python3
"""Time a preset's training step (steps/s), apart from data loading, optionally with the PyTorch profiler.

Builds the task, model, Adam and data loader of ``invrestore train CONFIG`` and measures, after ``--warmup`` steps:

- ``loader``: batches/s of the data loader alone;
- ``step (fixed batch)``: training steps/s on one batch kept on the device (forward, backward, optimiser);
- with ``--profile``: the ops that take the most device (else CPU) time over a few steps.

With ``--compare``, instead: whole ``invrestore train`` runs of the preset, today's loop (``eager``) against the
fast path (``fast``: the ``--fast`` overrides, by default what ``invrestore train --fast`` applies) and against
the loop with another seed (``seed+1``, the noise floor of a loss curve), interleaved ``--repeats`` times (eager,
fast, eager, fast, ... on a shared machine), each for
``--steps`` steps in a subprocess with ``OMP_NUM_THREADS`` threads. It prints each run's steps/s (from its
``metrics.jsonl``, skipping the first log interval), the min/median ratio, and how far the fast loss curve is from
the eager one compared with how far another seed's curve is (mean |Δ| of the logged losses over the run and over
its last third). ``--json`` writes all of it.

Usage::

    python benchmarks/train_step_speed.py configs/irn/gpu_crm_q90.yaml --set source.irn_weights=W [--cudnn-benchmark]
    python benchmarks/train_step_speed.py configs/irn/cpu_x2.yaml --compare --steps 300 --repeats 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader


def _run(config: str, sets: list[str], steps: int, threads: int, run_dir: Path) -> dict[str, object]:
    cmd = [sys.executable, "-m", "invrestore", "train", config, "--run-dir", str(run_dir), "--no-resume"]
    cmd += ["--no-progress", "--set", f"train.steps={steps}", "--set", "train.val_every=0"]
    cmd += ["--set", f"train.ckpt_every={steps}", "--set", "train.log_every=10"]
    for x in sets:
        cmd += ["--set", x]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    recs = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    recs = [r for r in recs if r.get("kind") == "train"]
    a, b = recs[0], recs[-1]
    rate = (b["step"] - a["step"]) / max(b["time"] - a["time"], 1e-9)
    losses = [r["loss"] for r in recs if "loss" in r] or [r.get("g", r.get("nelbo", 0.0)) for r in recs]
    return {"rate": rate, "wall": wall, "losses": losses, "peak_rss_mib": usage.ru_maxrss / 1024}


def _gap(a: list[float], b: list[float]) -> tuple[float, float]:
    n = min(len(a), len(b))
    d = [abs(x - y) for x, y in zip(a[:n], b[:n], strict=True)]
    tail = d[2 * n // 3 :] or d
    return sum(d) / n, sum(tail) / len(tail)


def compare(args: argparse.Namespace) -> None:
    import torch

    from invrestore.train import cpu_name

    if args.fast == "auto":  # what `invrestore train --fast` applies for this family
        from invrestore.models.registry import load_task

        fast = list(load_task(args.config, tuple(args.overrides)).fast_settings)
    else:
        fast = [x for x in args.fast.split(",") if x]
    arms = {"eager": list(args.overrides), "fast": [*args.overrides, *fast]}
    rates: dict[str, list[float]] = {k: [] for k in arms}
    losses: dict[str, list[float]] = {}
    rss: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="speed-") as tmp:
        for r in range(args.repeats):
            for name, sets in arms.items():
                res = _run(args.config, sets, args.steps, args.threads, Path(tmp) / f"{name}{r}")
                rates[name].append(float(res["rate"]))  # type: ignore[arg-type]
                losses.setdefault(name, res["losses"])  # type: ignore[arg-type]
                rss[name] = max(rss.get(name, 0.0), float(res["peak_rss_mib"]))  # type: ignore[arg-type]
                print(
                    f"  {name} #{r}: {res['rate']:.3f} steps/s ({res['wall']:.0f} s wall, "
                    f"peak RSS {res['peak_rss_mib']:.0f} MiB)",
                    flush=True,
                )
        if not args.no_seed_arm:
            seed = _run(args.config, [*args.overrides, "train.seed=11"], args.steps, args.threads, Path(tmp) / "s")
            losses["seed+1"] = seed["losses"]  # type: ignore[assignment]
    ratios = [f / e for e, f in zip(rates["eager"], rates["fast"], strict=True)]
    out: dict[str, object] = {
        "config": args.config,
        "fast": fast,
        "steps": args.steps,
        "threads": args.threads,
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "rates": rates,
        "peak_rss_mib": rss,
        "ratio_min": min(ratios),
        "ratio_median": statistics.median(ratios),
        "fast_vs_eager": _gap(losses["eager"], losses["fast"]),
    }
    if "seed+1" in losses:
        out["seed_vs_eager"] = _gap(losses["eager"], losses["seed+1"])
    print(json.dumps({k: v for k, v in out.items() if k != "rates"}), flush=True)
    print(f"{args.config}: eager {statistics.median(rates['eager']):.3f}, fast {statistics.median(rates['fast']):.3f}"
          f" steps/s; fast/eager min {min(ratios):.3f}, median {statistics.median(ratios):.3f}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({**out, "losses": losses}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config")
    ap.add_argument("--compare", action="store_true", help="Interleaved whole runs: today's loop vs the fast path.")
    ap.add_argument(
        "--fast",
        default="auto",
        help="Comma-separated overrides of the fast arm (--compare); 'auto' (default): the family's --fast settings.",
    )
    ap.add_argument("--repeats", type=int, default=2, help="Eager/fast pairs (--compare).")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each run (--compare).")
    ap.add_argument("--no-seed-arm", action="store_true", help="Skip the other-seed run (--compare).")
    ap.add_argument("--json", default=None, help="Write the comparison (with the loss curves) here.")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--cudnn-benchmark", action="store_true")
    ap.add_argument("--tf32", action="store_true", help="TF32 convolutions and matrix products.")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--workers", type=int, default=None, help="Loader workers (default: the preset's).")
    args = ap.parse_args()
    if args.compare:
        compare(args)
        return

    from invrestore.models.registry import load_task
    from invrestore.train.loop import StepBatchSampler

    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    task = load_task(args.config, tuple(args.overrides))
    cfg = task.train
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = task.build_model().to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    ds = task.train_dataset()
    n_steps = args.warmup + args.steps
    sampler = StepBatchSampler(len(ds), cfg.batch_size, cfg.seed, 0, n_steps, 0, 1)
    workers = cfg.num_workers if args.workers is None else args.workers
    loader = DataLoader(ds, batch_sampler=sampler, num_workers=workers, pin_memory=device.type == "cuda")
    it = iter(loader)
    batches = [next(it) for _ in range(args.warmup)]
    t0 = time.perf_counter()
    for _ in itertools.islice(it, args.steps):
        pass
    load_rate = args.steps / (time.perf_counter() - t0)

    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batches[0].items()}

    def step(i: int) -> None:
        g = torch.Generator(device=device).manual_seed(i)
        out, _metrics = task.training_step(model, batch, g)
        losses = out if isinstance(out, dict) else {"main": out}
        loss = torch.stack([v.reshape(()) for v in losses.values()]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    for i in range(args.warmup):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(i)
    sync()
    step_rate = args.steps / (time.perf_counter() - t0)
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    print(
        f"{args.config}: batch {cfg.batch_size}, loader {load_rate:.2f} batches/s ({workers} workers), "
        f"step (fixed batch) {step_rate:.2f} steps/s, cudnn.benchmark={args.cudnn_benchmark}, tf32={args.tf32}, "
        f"peak memory {mem:.2f} GiB, device {torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}",
        flush=True,
    )
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=acts) as prof:
            for i in range(5):
                step(i)
            sync()
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=12, max_name_column_width=40), flush=True)


if __name__ == "__main__":
    main()
