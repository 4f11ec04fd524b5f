"""Training safeguards: NaN/Inf rollback with a lower lr, and resumption after a SIGKILL mid-checkpoint."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from invrestore.train import fit, load_checkpoint
from invrestore.train.safeguards import TrainingDivergedError

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import ToyTask


class NaNTask(ToyTask):
    """The toy task whose loss (or only its gradient) turns NaN on the given calls of the training step."""

    def __init__(self, bad_calls: set[int] | range, grad_only: bool = False, **train: Any) -> None:
        super().__init__()
        self.bad_calls, self.grad_only, self.calls = bad_calls, grad_only, 0
        self.train = dataclasses.replace(self.train, steps=12, val_every=0, ckpt_every=100, **train)

    def training_step(
        self, model: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        loss, metrics = super().training_step(model, batch, generator)
        if self.calls in self.bad_calls:
            w = next(model.parameters())
            if self.grad_only:  # finite loss, NaN gradient: d/dw sqrt(0·Σw) = 0·∞
                loss = loss + (w.sum() * 0).sqrt()
            else:
                loss = loss * float("nan")
        self.calls += 1
        return loss, metrics


def _records(run: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("grad_only", "sync_every"), [(False, 1), (True, 1), (False, 4)])
def test_a_nan_rolls_back_to_the_last_snapshot_and_halves_the_lr(
    tmp_path: Path, grad_only: bool, sync_every: int
) -> None:
    # one sync per step, or (log_every=sync_every=4) a sync at steps 4, 8, 12 only: the NaN of step 9 is seen at 12
    bad, snap = (7, 5) if sync_every == 1 else (9, 8)
    task = NaNTask(
        {bad}, grad_only, nan_policy="rollback", snapshot_every=snap, sync_every=sync_every, log_every=sync_every
    )
    res = fit(task, tmp_path, progress=False)
    assert res.step == 12
    recs = _records(tmp_path)
    rb = [r for r in recs if r["kind"] == "rollback"]
    assert len(rb) == 1 and rb[0]["step"] == snap  # the last snapshot
    assert rb[0]["from_step"] == (7 if sync_every == 1 else 8)
    where = "step 7" if sync_every == 1 else "steps 8..11"
    assert f"at {where}: rolled back to step {snap}" in rb[0]["reason"] and "0.5" in rb[0]["reason"]
    train = [r for r in recs if r["kind"] == "train"]
    assert [r["step"] for r in train] == list(range(sync_every, 13, sync_every))  # later steps logged once, anew
    lr = {r["step"]: r["lr"] for r in train}
    assert lr[4] == pytest.approx(5e-3) and lr[12] == pytest.approx(2.5e-3)  # milestone 4: ×0.5, rollback: ×0.5
    assert all(torch.isfinite(v).all() for v in load_checkpoint(tmp_path / "last")[0].values())
    assert load_checkpoint(tmp_path / "last")[1]["rollbacks"] == 1


def test_a_second_nan_after_the_rollback_stops_with_a_clear_error(tmp_path: Path) -> None:
    task = NaNTask(range(7, 100), nan_policy="rollback", snapshot_every=5)
    with pytest.raises(TrainingDivergedError, match="again after 1 rollback"):
        fit(task, tmp_path, progress=False)
    assert sum(r["kind"] == "rollback" for r in _records(tmp_path)) == 1


def test_the_default_policy_stops_at_the_first_nan(tmp_path: Path) -> None:
    with pytest.raises(FloatingPointError, match=r"non-finite loss at step 3.*nan_policy=rollback"):
        fit(NaNTask({3}), tmp_path, progress=False)


_WORKER = """
import os, sys, time
sys.path.insert(0, {tests!r})
import torch
import invrestore.train.checkpoint as ck
from toy_task import ToyTask
from invrestore.train import fit

KILL_AT, WHERE = {kill_at}, {where!r}
real_save, real_replace = torch.save, os.replace

def stall():
    open({marker!r}, "w").close()
    time.sleep(120)  # the parent kills us here

def save(obj, f, *a, **k):
    if isinstance(obj, dict) and obj.get("step") == KILL_AT and WHERE == "write":
        with open(f, "wb") as fh:
            fh.write(b"PK half a checkpoint")
        stall()
    return real_save(obj, f, *a, **k)

def replace(src, dst):
    real_replace(src, dst)
    if WHERE == "swap" and str(dst).endswith("last.old") and ck.torch.load(
            os.path.join(dst, "state.pt"), weights_only=False)["step"] == KILL_AT - 2:
        stall()  # the old checkpoint moved aside, the new one not yet in place

ck.torch.save = save
ck.os.replace = replace
fit(ToyTask(), {run!r}, progress=False)
"""


@pytest.mark.parametrize("where", ["write", "swap"])
def test_a_run_killed_during_a_checkpoint_write_resumes_bit_exactly(tmp_path: Path, where: str) -> None:
    fit(ToyTask(), tmp_path / "ref", progress=False)
    marker = tmp_path / "stalled"
    script = tmp_path / "worker.py"
    script.write_text(
        _WORKER.format(
            tests=str(Path(__file__).parent), kill_at=6, where=where, marker=str(marker), run=str(tmp_path / "run")
        )
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert proc.poll() is None, "the worker ended before reaching the checkpoint write"
            assert time.time() < deadline, "the worker never reached the checkpoint write"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert load_checkpoint(tmp_path / "run" / "last")[1]["step"] == 4  # the last complete checkpoint
    fit(ToyTask(), tmp_path / "run", progress=False)
    ref, got = _records(tmp_path / "ref"), _records(tmp_path / "run")
    assert [r.get("loss") for r in got] == [r.get("loss") for r in ref]
    wa, wb = load_checkpoint(tmp_path / "ref" / "last")[0], load_checkpoint(tmp_path / "run" / "last")[0]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not (tmp_path / "run" / "last.old").exists()
