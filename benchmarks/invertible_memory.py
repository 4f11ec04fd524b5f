"""Standard vs memory-efficient backpropagation through an IRN-sized invertible stack.

The stack is ``--blocks`` IRN ``InvBlock``s (``--channels`` channels, split 3, dense subnets with gc 32),
trained on random ``(batch, channels, size, size)`` inputs with ``loss = mean(y²) − 1e-4·mean(logdet)``.

Measurements, each in its own subprocess:

- memory (one process per mode, so peak RSS values do not mix): the bytes autograd saves for backward during
  one training step (``torch.autograd.graph.saved_tensors_hooks`` via ``SavedTensorCounter``, parameters
  excluded), the peak resident set size (``ru_maxrss``) and its growth over the RSS before the first step;
- time (one process, one model): training steps (forward + backward) of the two modes alternate
  (``--repeats`` timed rounds after a warm-up round, order flipped every round), so both modes see the same
  allocator state and the same background load. The best and median step times are reported.

Usage::

    python benchmarks/invertible_memory.py                 # 16 blocks, 48 ch, batch 16, 36x36
    python benchmarks/invertible_memory.py --repeats 2 --json results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

MODES = ("standard", "memory_efficient")


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _setup(args: argparse.Namespace) -> tuple[Any, Any]:
    import torch

    from invrestore.nn import InvBlock, InvertibleSequential

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = InvertibleSequential(*[InvBlock(args.channels, split=3) for _ in range(args.blocks)])
    with torch.no_grad():  # move away from the identity initialisation so every path carries signal
        for p in model.parameters():
            p.add_(1e-3 * torch.randn_like(p))
    x = torch.rand(args.batch, args.channels, args.size, args.size)
    return model, x


def _step(model: Any, x: Any, counter: Any = None) -> float:
    for p in model.parameters():
        p.grad = None
    t0 = time.perf_counter()
    if counter is not None:
        with counter:
            y, logdet = model(x)
    else:
        y, logdet = model(x)
    loss = y.pow(2).mean() - 1e-4 * logdet.mean()
    loss.backward()
    return time.perf_counter() - t0


def memory_worker(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """Saved-activation bytes and peak RSS of one training step in ``mode``."""
    from invrestore.nn import SavedTensorCounter

    model, x = _setup(args)
    model.memory_efficient = mode == "memory_efficient"
    rss_before = _rss_mib()
    counter = SavedTensorCounter(exclude=model.parameters())
    _step(model, x, counter)
    _step(model, x)
    return {
        "mode": mode,
        "saved_bytes": counter.bytes,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_before_steps_mib": rss_before,
        "peak_rss_growth_mib": _peak_rss_mib() - rss_before,
        "params": sum(p.numel() for p in model.parameters()),
    }


def timing_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Alternating training steps of both modes on one model."""
    model, x = _setup(args)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    for round_ in range(args.repeats + 1):
        order = MODES if round_ % 2 == 0 else MODES[::-1]
        for mode in order:
            model.memory_efficient = mode == "memory_efficient"
            t = _step(model, x)
            if round_ > 0:  # round 0 is the warm-up
                times[mode].append(t)
    return {
        m: {"step_s_all": ts, "step_s_best": min(ts), "step_s_median": statistics.median(ts)} for m, ts in times.items()
    }


def _run(args: argparse.Namespace, worker: str) -> dict[str, Any]:
    common = [
        f"--blocks={args.blocks}",
        f"--channels={args.channels}",
        f"--batch={args.batch}",
        f"--size={args.size}",
        f"--repeats={args.repeats}",
        f"--threads={args.threads}",
        f"--worker={worker}",
    ]
    out = subprocess.run([sys.executable, __file__, *common], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--channels", type=int, default=48)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=36)
    parser.add_argument("--repeats", type=int, default=4, help="timed rounds (one step per mode each)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=str, default=None, help="also write the results to this JSON file")
    parser.add_argument("--worker", choices=(*MODES, "timing"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "timing":
        print(json.dumps(timing_worker(args)))
        return 0
    if args.worker is not None:
        print(json.dumps(memory_worker(args, args.worker)))
        return 0

    results = {mode: _run(args, mode) for mode in MODES}
    for mode, timing in _run(args, "timing").items():
        results[mode].update(timing)

    std, eff = results["standard"], results["memory_efficient"]
    mib = 1024 * 1024
    print(
        f"{args.blocks} x InvBlock({args.channels}, split=3, DenseBlock gc=32), batch {args.batch}, "
        f"{args.size}x{args.size}, {args.threads} threads, {std['params']:,} parameters; "
        f"step times over {args.repeats} alternating rounds"
    )
    header = (
        f"{'mode':<18}{'best step [s]':>15}{'median [s]':>12}{'saved act. [MiB]':>18}"
        f"{'peak RSS [MiB]':>16}{'RSS growth [MiB]':>18}"
    )
    print(header)
    print("-" * len(header))
    for r in (std, eff):
        print(
            f"{r['mode']:<18}{r['step_s_best']:>15.2f}{r['step_s_median']:>12.2f}"
            f"{r['saved_bytes'] / mib:>18.1f}{r['peak_rss_mib']:>16.0f}{r['peak_rss_growth_mib']:>18.0f}"
        )
    summary = {
        "saved_memory_ratio": std["saved_bytes"] / max(eff["saved_bytes"], 1),
        "step_time_ratio_best": eff["step_s_best"] / std["step_s_best"],
        "step_time_ratio_median": eff["step_s_median"] / std["step_s_median"],
        "peak_rss_growth_ratio": std["peak_rss_growth_mib"] / max(eff["peak_rss_growth_mib"], 1e-9),
    }
    print(
        f"saved activations: {summary['saved_memory_ratio']:.0f}x less; "
        f"step time: {summary['step_time_ratio_best']:.2f}x (best), {summary['step_time_ratio_median']:.2f}x "
        f"(median); peak RSS growth: {summary['peak_rss_growth_ratio']:.1f}x less"
    )
    if args.json:
        payload = {
            "config": {k: v for k, v in vars(args).items() if k not in ("json", "worker")},
            "platform": {"python": platform.python_version(), "machine": platform.machine()},
            "results": results,
            "summary": summary,
        }
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
