"""`torchrun --nproc_per_node=2 -m invrestore downscale DIR -o OUT`: each rank writes a disjoint shard and the union
of the outputs equals the single-process run byte for byte."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def _invrestore(*args: str, torchrun: bool = False) -> subprocess.CompletedProcess[str]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"] if torchrun else []
    cmd = [*launcher, "-m", "invrestore", *args] if torchrun else [sys.executable, "-m", "invrestore", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(k, None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)


def test_two_process_torchrun_shards_the_folder_and_matches_one_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = [f"im{i}.png" for i in range(5)]
    (tmp_path / "in").mkdir()
    for i, name in enumerate(names):
        Image.fromarray(rng.integers(0, 256, (10 + 2 * i, 12, 3), dtype=np.uint8)).save(tmp_path / "in" / name)
    args = ("downscale", str(tmp_path / "in"), "--model", "irn-x2", "--no-progress")
    single = _invrestore(*args, "-o", str(tmp_path / "one"))
    assert single.returncode == 0, single.stderr[-2000:]
    multi = _invrestore(*args, "-o", str(tmp_path / "two"), torchrun=True)
    assert multi.returncode == 0, multi.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == names
    for name in names:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    written: dict[int, set[str]] = {0: set(), 1: set()}
    for m in re.finditer(r"\[rank (\d)/2\] \S+ \(\d+×\d+\) -> \S+/(im\d\.png)", multi.stdout):
        written[int(m.group(1))].add(m.group(2))
    assert written[0] and written[1] and not written[0] & written[1], multi.stdout
    assert written[0] | written[1] == set(names)
    assert written[0] == {"im0.png", "im2.png", "im4.png"}  # the strided shard of the sorted list
