"""Profile a few training steps of a real run: where the step time goes (``invrestore train --profile``).

:class:`StepProfiler` wraps steps ``start .. start + count - 1`` of :func:`invrestore.train.loop.fit` in
:mod:`torch.profiler` (with the fast path, the loop's own step: autocast, compile, fused optimisers, device-resident
batches, no host sync). The span is synchronised at both ends, so its wall time is the steps' real time. It writes
into the run folder:

- ``profile.json``: the profiled steps, their wall time (ms per step), and on a GPU the device's busy time (the union
  of the kernel, copy and memset intervals), its share of the wall time, the summed kernel time, the number of
  kernels per step, and the top kernels by time; on the CPU the top operators by self CPU time;
- ``profile.txt``: the profiler's own table (top 25 rows).

A busy share well below 1 means the GPU waits for the host (launch overhead, syncs, data): CUDA graphs
(``train.compile=reduce-overhead``) and ``train.sync_every`` are the cures. The profiler's own overhead makes the
profiled steps somewhat slower than unprofiled ones; read step rates from ``metrics.jsonl`` of an unprofiled run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

__all__ = ["StepProfiler", "busy_time_us", "parse_profile_spec", "summarize_events"]


def parse_profile_spec(spec: str) -> tuple[int | None, int]:
    """``"N"`` → (None, N): N steps after a warm-up; ``"START:N"`` → (START, N): from global step START."""
    try:
        if ":" in spec:
            a, b = spec.split(":", 1)
            start: int | None = int(a)
            count = int(b)
        else:
            start, count = None, int(spec)
    except ValueError:
        raise ValueError(f"--profile takes N or START:N (step numbers), not {spec!r}") from None
    if count < 1 or (start is not None and start < 0):
        raise ValueError(f"--profile takes N >= 1 steps and START >= 0, not {spec!r}")
    return start, count


def busy_time_us(intervals: Iterable[tuple[float, float]]) -> float:
    """The length of the union of ``(start, end)`` intervals (overlapping streams are counted once)."""
    total = 0.0
    cur_start = cur_end = None
    for s, e in sorted(intervals):
        if cur_end is None or s > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def summarize_events(
    device_events: list[tuple[str, float, float]], wall_us: float, steps: int, top: int = 12
) -> dict[str, Any]:
    """Busy share and top kernels from ``(name, start_us, end_us)`` device events over ``wall_us`` of ``steps``."""
    busy = busy_time_us((s, e) for _, s, e in device_events)
    per_name: dict[str, list[float]] = {}
    for name, s, e in device_events:
        acc = per_name.setdefault(name, [0.0, 0.0])
        acc[0] += e - s
        acc[1] += 1
    kernel_sum = sum(v[0] for v in per_name.values())
    ranked = sorted(per_name.items(), key=lambda kv: -kv[1][0])[:top]
    return {
        "device_busy_ms_per_step": busy / 1e3 / steps,
        "device_busy_share": busy / wall_us if wall_us > 0 else float("nan"),
        "kernel_time_ms_per_step": kernel_sum / 1e3 / steps,
        "kernels_per_step": len(device_events) / steps,
        "top_kernels": [
            {
                "name": n[:160],
                "ms_per_step": v[0] / 1e3 / steps,
                "share_of_kernel_time": v[0] / kernel_sum,
                "calls_per_step": v[1] / steps,
            }
            for n, v in ranked
        ],
    }


class StepProfiler:
    """Profile global steps ``[start, start + count)`` of a run; see the module docstring.

    ``start=None`` profiles ``count`` steps after a warm-up of ``warmup`` steps from where this call of the loop
    began (compilation, autotuning and the first batches fall outside the profile).
    """

    def __init__(
        self,
        run_dir: Path,
        start: int | None,
        count: int,
        device: torch.device,
        first_step: int,
        warmup: int = 20,
        enabled: bool = True,
    ) -> None:
        self.run_dir = run_dir
        self.start = first_step + warmup if start is None else start
        self.count = count
        self.device = device
        self.enabled = enabled
        self._prof: Any = None
        self._t0 = 0.0
        self._first = 0
        self.written: Path | None = None

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def before_step(self, step: int) -> None:
        """Call before running step ``step`` (0-based: the number of steps done so far)."""
        if not self.enabled or self._prof is not None or self.written is not None or step != self.start:
            return
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.device.type == "cuda" else [])
        self._sync()
        self._prof = profile(activities=acts)
        self._prof.__enter__()
        import time

        self._t0 = time.perf_counter()
        self._first = step

    def after_step(self, step: int) -> None:
        """Call after a step, with ``step`` the number of steps done; stops and writes after the last one."""
        if self._prof is not None and step >= self._first + self.count:
            self.finish(step)

    def finish(self, step: int) -> None:
        """Stop and write the profile now (also at the end of a run cut short inside the profiled span)."""
        if self._prof is None:
            return
        import time

        self._sync()
        wall_us = (time.perf_counter() - self._t0) * 1e6
        prof, self._prof = self._prof, None
        prof.__exit__(None, None, None)
        steps = max(step - self._first, 1)
        on_gpu = self.device.type == "cuda"
        summary: dict[str, Any] = {
            "first_step": self._first,
            "steps": steps,
            "device": torch.cuda.get_device_name(self.device) if on_gpu else "cpu",
            "torch": torch.__version__,
            "wall_ms_per_step": wall_us / 1e3 / steps,
        }
        averages = prof.key_averages()
        if on_gpu:
            from torch.autograd import DeviceType

            events = [
                (e.name, float(e.time_range.start), float(e.time_range.end))
                for e in prof.events()
                if e.device_type == DeviceType.CUDA
            ]
            summary.update(summarize_events(events, wall_us, steps))
            sort_key = "self_device_time_total"
        else:
            sort_key = "self_cpu_time_total"
            ranked = sorted(averages, key=lambda a: -a.self_cpu_time_total)[:12]
            total = sum(a.self_cpu_time_total for a in averages) or 1.0
            summary["top_ops"] = [
                {
                    "name": a.key[:160],
                    "ms_per_step": a.self_cpu_time_total / 1e3 / steps,
                    "share_of_self_cpu_time": a.self_cpu_time_total / total,
                    "calls_per_step": a.count / steps,
                }
                for a in ranked
            ]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "profile.txt").write_text(
            averages.table(sort_by=sort_key, row_limit=25, max_name_column_width=60) + "\n"
        )
        path = self.run_dir / "profile.json"
        path.write_text(json.dumps(summary, indent=1) + "\n")
        self.written = path
