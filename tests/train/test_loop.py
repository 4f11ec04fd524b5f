"""The generic loop: exact resumption, atomic checkpoints, seeded data order, DDP parameter sync."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from invrestore.train import StepBatchSampler, fit, load_checkpoint
from invrestore.train.config import OptimConfig

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import ToyTask, TwoNetTask


def _losses(run: Path) -> list[tuple[int, float]]:
    recs = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in recs if r["kind"] == "train"]


def test_a_resumed_run_repeats_the_uninterrupted_losses_exactly(tmp_path: Path) -> None:
    fit(ToyTask(), tmp_path / "a", progress=False)
    fit(ToyTask(), tmp_path / "b", progress=False, max_steps=3)
    assert load_checkpoint(tmp_path / "b" / "last")[1]["step"] == 3
    fit(ToyTask(), tmp_path / "b", progress=False)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert len(_losses(tmp_path / "a")) == 8
    wa = load_checkpoint(tmp_path / "a" / "last")[0]
    wb = load_checkpoint(tmp_path / "b" / "last")[0]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_best_checkpoint_and_resolved_config_are_saved(tmp_path: Path) -> None:
    res = fit(ToyTask(), tmp_path, progress=False)
    assert (tmp_path / "best" / "model.safetensors").is_file()
    assert "batch_size: 4" in (tmp_path / "config.yaml").read_text()
    assert res.best is not None and res.step == 8


def test_batch_sampler_covers_each_epoch_without_repeats_and_splits_ranks() -> None:
    s = StepBatchSampler(10, 4, seed=1)
    first = s.batch_indices(0) + s.batch_indices(1)
    assert len(set(first)) == 8
    r0 = StepBatchSampler(10, 4, seed=1, rank=0, world=2).batch_indices(1)
    r1 = StepBatchSampler(10, 4, seed=1, rank=1, world=2).batch_indices(1)
    assert r0 + r1 == s.batch_indices(1)


@pytest.mark.slow
def test_two_process_ddp_keeps_parameters_identical_across_ranks(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(
        "import sys, torch, torch.distributed as dist\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from toy_task import ToyTask, TwoNetTask\n"
        "from invrestore.train import fit\n"
        "task = ToyTask()\n"
        "build = task.build_model\n"
        "models = []\n"
        "def keep():\n"
        "    m = build(); models.append(m); return m\n"
        "task.build_model = keep\n"
        f"fit(task, {str(tmp_path / 'run')!r}, progress=False)\n"
        "flat = torch.cat([p.detach().flatten() for p in models[0].parameters()])\n"
        "gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]\n"
        "dist.all_gather(gathered, flat)\n"
        "assert all(torch.equal(gathered[0], g) for g in gathered), 'parameters differ across ranks'\n"
        "init = torch.cat([p.detach().flatten() for p in build().parameters()])\n"
        "assert not torch.equal(init, flat), 'parameters did not change'\n"
        f"open({str(tmp_path)!r} + f'/rank{{dist.get_rank()}}.ok', 'w').write(repr(float(flat.sum())))\n"
        "dist.barrier()\n"
        # leave without the interpreter's C++ teardown: gloo's background threads can abort a process at exit
        # ("terminate called without an active exception") after all the work above has succeeded
        "import os; sys.stdout.flush(); os._exit(0)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sums = [(tmp_path / f"rank{r}.ok").read_text() for r in (0, 1)]
    assert sums[0] == sums[1]
    assert (tmp_path / "run" / "last" / "model.safetensors").is_file()


def _lrs(run: Path, name: str) -> list[float]:
    recs = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    return [r[f"lr_{name}"] for r in recs if r["kind"] == "train"]


def test_named_losses_train_their_own_networks_with_their_own_optimisers(tmp_path: Path) -> None:
    task = TwoNetTask(schedule="linear")
    init = task.build_model().state_dict()
    fit(task, tmp_path, progress=False)
    w = load_checkpoint(tmp_path / "last")[0]
    assert not torch.equal(w["a.weight"], init["a.weight"]) and not torch.equal(w["b.weight"], init["b.weight"])
    # linear decay from step 4 to 0 at step 8 for "a"; ×0.5 at step 2 for "b"
    assert _lrs(tmp_path, "a") == pytest.approx([1e-2] * 4 + [7.5e-3, 5e-3, 2.5e-3, 0.0])
    assert _lrs(tmp_path, "b") == pytest.approx([1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 5e-4, 5e-4, 5e-4])


def test_plateau_schedule_reduces_the_lr_when_validation_stalls(tmp_path: Path) -> None:
    fit(TwoNetTask(schedule="plateau"), tmp_path, progress=False)
    assert _lrs(tmp_path, "a") == pytest.approx([1e-2] * 8)  # the first validation (step 4) sets the best
    state = load_checkpoint(tmp_path / "last")[1]
    assert state["optimizers"]["a"]["param_groups"][0]["lr"] == pytest.approx(1e-3)  # step 8 did not improve


def test_named_optimisers_resume_exactly(tmp_path: Path) -> None:
    fit(TwoNetTask(schedule="linear"), tmp_path / "a", progress=False)
    fit(TwoNetTask(schedule="linear"), tmp_path / "b", progress=False, max_steps=3)
    fit(TwoNetTask(schedule="linear"), tmp_path / "b", progress=False)
    la = [json.loads(ln).get("la") for ln in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(ln).get("la") for ln in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert la == lb


def test_checkpoints_from_before_named_optimisers_still_resume(tmp_path: Path) -> None:
    fit(ToyTask(), tmp_path, progress=False, max_steps=2)
    state_path = tmp_path / "last" / "state.pt"
    state = torch.load(state_path, weights_only=False)
    state["optimizer"] = state.pop("optimizers")["main"]
    state["scheduler"] = state.pop("schedulers")["main"]
    torch.save(state, state_path)
    assert fit(ToyTask(), tmp_path, progress=False).step == 8


def test_a_resumed_run_follows_a_changed_schedule(tmp_path: Path) -> None:
    from dataclasses import replace

    from toy_task import ToyConfig

    fit(ToyTask(), tmp_path, progress=False, max_steps=2)
    cfg = ToyConfig()
    new = replace(cfg, train=replace(cfg.train, optim=replace(cfg.train.optim, milestones=(3,), gamma=0.1)))
    fit(ToyTask(new), tmp_path, progress=False)
    lrs = [json.loads(ln)["lr"] for ln in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"train"' in ln]
    assert lrs == pytest.approx([1e-2, 1e-2, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3])


def test_multistep_then_plateau_decays_at_the_milestone_then_on_plateaus_and_stops_below_stop_lr(
    tmp_path: Path,
) -> None:
    import dataclasses

    from invrestore.train.schedules import MultiStepThenPlateau

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    o = OptimConfig(lr=1.0, milestones=(3,), gamma=0.2, schedule="multistep-plateau", plateau_patience=1)
    s = MultiStepThenPlateau(opt, o)
    for _ in range(2):
        opt.step()
        s.step()
        s.step_metric(1.0)  # before the milestone plateaus do not count
    assert opt.param_groups[0]["lr"] == 1.0
    opt.step()
    s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)
    for v in (2.0, 2.0, 2.0):  # a gain, then two validations without one: patience 1 → one decay
        s.step_metric(v)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.04)
    again = MultiStepThenPlateau(opt, dataclasses.replace(o, plateau_patience=5))
    again.load_state_dict(s.state_dict())
    assert again.plateau.num_bad_epochs == s.plateau.num_bad_epochs and again.start == 3

    class Flat(ToyTask):  # validation never improves: every validation after the milestone is a plateau
        def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
            return {"score": 0.0}

    task = Flat()
    optim = dataclasses.replace(
        task.train.optim, lr=1e-2, milestones=(2,), gamma=0.1, schedule="multistep-plateau", plateau_patience=0,
        stop_lr=5e-5,
    )  # fmt: skip
    task.train = dataclasses.replace(task.train, steps=50, val_every=1, optim=optim)
    res = fit(task, tmp_path, progress=False)
    recs = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    stops = [r for r in recs if r["kind"] == "stop"]
    assert res.step == 4 and len(stops) == 1 and stops[0]["step"] == 4  # 1e-2 → 1e-3 (step 2) → 1e-4 → 1e-5
    assert load_checkpoint(tmp_path / "last")[2]["step"] == res.step


def test_run_wall_time_sums_the_segments_of_a_resumed_run(tmp_path: Path) -> None:
    from invrestore.train import run_wall_time

    recs = [("train", 10.0), ("train", 20.0), ("val", 99.0), ("train", 5.0), ("train", 7.5)]  # resumed after 20 s
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"kind": k, "step": i, "time": t}) + "\n"
                                              for i, (k, t) in enumerate(recs)))  # fmt: skip
    assert run_wall_time(tmp_path / "m.jsonl") == 27.5
