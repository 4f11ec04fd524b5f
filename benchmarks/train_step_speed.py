#!/usr/bin/env python3
"""Time a preset's training step (steps/s), apart from data loading, optionally with the PyTorch profiler.

Builds the task, model, Adam and data loader of ``invrestore train CONFIG`` and measures, after ``--warmup`` steps:

- ``loader``: batches/s of the data loader alone;
- ``step (fixed batch)``: training steps/s on one batch kept on the device (forward, backward, optimiser);
- with ``--profile``: the ops that take the most device (else CPU) time over a few steps.

Usage::

    python benchmarks/train_step_speed.py configs/irn/gpu_crm_q90.yaml --set model.irn_weights=W [--cudnn-benchmark]
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from torch.utils.data import DataLoader


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--cudnn-benchmark", action="store_true")
    ap.add_argument("--tf32", action="store_true", help="TF32 convolutions and matrix products.")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--workers", type=int, default=None, help="Loader workers (default: the preset's).")
    args = ap.parse_args()

    from invrestore.cli.train import load_task
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
