"""The tiling layer's memory model predicts the real peak: ``estimate_memory`` is within ±30 % of the measured
peak-RSS growth of one no-grad IRN forward/inverse at two sizes (fresh processes, shipped weights), so the CLI's
one memory guard (``--max-memory``, automatic tiling) decides on numbers that hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from invrestore.tiling import estimate_memory

_CHILD = r"""
import json, resource, sys, torch
torch.set_num_threads(1)
from invrestore.models import create_model
name, direction, side = sys.argv[1], sys.argv[2], int(sys.argv[3])
net = create_model(name, pretrained=True)
s = net.scale
with torch.no_grad():
    if direction == "down":
        x = torch.rand(1, 3, side, side)
        net(torch.rand(1, 3, 2 * s, 2 * s))  # warm-up: one-time allocations are not activations
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        net(x)
        pixels = side * side
    else:
        x = torch.rand(1, net.out_channels, side, side)
        net.inverse(torch.rand(1, net.out_channels, 2, 2))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        net.inverse(x)
        pixels = side * side
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth": (peak - base) * 1024, "pixels": pixels}))
"""


def _measured_growth(name: str, direction: str, side: int) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, name, direction, str(side)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    return int(rec["growth"]), int(rec["pixels"])


@pytest.mark.parametrize(("name", "direction", "sides"), [("irn-x2", "down", (384, 768)), ("irn-x4", "up", (96, 192))])
def test_the_memory_estimate_is_within_30_percent_of_the_measured_peak(
    name: str, direction: str, sides: tuple[int, int]
) -> None:
    for side in sides:
        growth, pixels = _measured_growth(name, direction, side)
        est = estimate_memory(f"{name}-{direction}", pixels)
        assert 0.7 * growth <= est <= 1.3 * growth, (name, direction, side, est / 2**20, growth / 2**20)
