"""A batch killed with SIGKILL mid-run leaves only complete outputs, and ``--resume`` finishes the rest: the result
equals an uninterrupted run byte for byte, and no temporary file is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _inputs(folder: Path, n: int = 8, side: int = 192) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        base = rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((side, side), Image.BICUBIC)
        img.save(folder / f"im{i}.png")


def _downscale(src: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "invrestore", "downscale", str(src), "--model", "irn-x2", "-o", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*cmd, "--no-progress", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _visible(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if not p.name.startswith("."))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_batch_leaves_complete_outputs_and_resume_finishes_it(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _inputs(src)
    ref = tmp_path / "ref"
    assert _downscale(src, ref).wait(timeout=600) == 0
    out = tmp_path / "out"
    proc = _downscale(src, out)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and (not out.is_dir() or len(_visible(out)) < 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    done = _visible(out)
    assert 2 <= len(done) < 8, "the kill should land mid-batch"
    for p in done:  # every visible output is a complete, decodable PNG
        with Image.open(p) as im:
            im.load()
    resumed = _downscale(src, out, "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err.decode()
    assert [p.name for p in _visible(out)] == [p.name for p in _visible(ref)]
    for a, b in zip(_visible(out), _visible(ref)):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"
