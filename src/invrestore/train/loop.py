"""The generic training loop shared by every model family.

A family provides a task, a subclass of :class:`~invrestore.train.task.BaseTask`: it builds the model and the training
set, and defines a *pure* training step ``training_step(model, batch, generator) -> (loss, metrics)`` (no optimiser,
no device moves, no logging); the base supplies the optional hooks (validation, named optimisers, finalize). The
loop owns everything else: devices, DistributedDataParallel, the optimiser and schedule, gradient clipping, seeded data
order, logging (JSONL, optional TensorBoard, tqdm), validation, best-checkpoint tracking and resumption.

**Reproducibility.** The data order is a function of ``(seed, step)`` only; the dataset receives *virtual indices*
``epoch * N + i`` (datasets with ``accepts_virtual_index = True`` seed their random crops from them, others see
``i``), and the step's generator is seeded from ``(seed, step, rank)``. Together with the model, optimiser, scheduler
and RNG states saved in each checkpoint, a resumed run repeats the uninterrupted run's losses exactly.

**Distributed.** Under ``torchrun --nproc_per_node=N -m invrestore train ...`` the loop initialises the process group
(nccl on GPU, gloo on CPU), splits each global batch across ranks, wraps the model in DDP and logs on rank 0 only.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from invrestore.errors import ConfigError
from invrestore.train import fast
from invrestore.train.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from invrestore.train.config import OptimConfig, config_to_yaml
from invrestore.train.distributed import (
    allreduce_gradients,
    broadcast_buffers,
    check_ranks_in_sync,
    init_distributed,
    select_device,
)
from invrestore.train.profiling import StepProfiler
from invrestore.train.safeguards import Snapshot, TrainingDivergedError, scale_learning_rates
from invrestore.train.schedules import apply_schedule_config, make_optimizer, make_scheduler
from invrestore.train.task import BaseTask

__all__ = ["FitResult", "StepBatchSampler", "Task", "fit", "step_seed"]


#: The task type the loop trains (kept under its old name): a family's task subclasses it.
Task = BaseTask


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """A 63-bit seed derived from ``(seed, step, rank)``."""
    digest = hashlib.blake2b(f"{seed}/{step}/{rank}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class StepBatchSampler:
    """Yields each rank's share of the global batch for steps ``start_step, start_step+1, ...``.

    Epoch ``e`` is a permutation of ``range(n)`` seeded by ``(seed, e)``; the last incomplete batch is dropped.
    """

    def __init__(
        self,
        n: int,
        global_batch: int,
        seed: int,
        start_step: int = 0,
        steps: int | None = None,
        rank: int = 0,
        world: int = 1,
        virtual: bool = False,
    ) -> None:
        if global_batch % world:
            raise ConfigError(
                f"train.batch_size={global_batch} is not divisible by the {world} processes; use a multiple of {world}"
            )
        if n < global_batch:
            raise ConfigError(
                f"the training set has {n} samples, fewer than one batch of {global_batch}: lower train.batch_size "
                "or add training images"
            )
        self.n, self.global_batch, self.seed = n, global_batch, seed
        self.start_step, self.steps, self.rank, self.world, self.virtual = (
            start_step,
            steps,
            rank,
            world,
            virtual,
        )
        self.per_epoch = n // global_batch
        self._perm_epoch = -1
        self._perm = torch.empty(0, dtype=torch.long)

    def batch_indices(self, step: int) -> list[int]:
        epoch, j = divmod(step, self.per_epoch)
        if epoch != self._perm_epoch:
            g = torch.Generator().manual_seed(step_seed(self.seed, epoch, -1))
            self._perm = torch.randperm(self.n, generator=g)
            self._perm_epoch = epoch
        b = self.global_batch // self.world
        start = j * self.global_batch + self.rank * b
        idx = self._perm[start : start + b]
        if self.virtual:
            idx = idx + epoch * self.n
        return idx.tolist()

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while self.steps is None or step < self.steps:
            yield self.batch_indices(step)
            step += 1

    def __len__(self) -> int:
        return (self.steps - self.start_step) if self.steps is not None else 2**62


@dataclass
class FitResult:
    step: int
    best: float | None
    last_metrics: dict[str, float]
    run_dir: Path
    world_size: int = 1


class _JsonlLogger:
    def __init__(self, path: Path, enabled: bool, tensorboard: bool) -> None:
        self.path, self.enabled = path, enabled
        self.tb: Any = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(path.parent / "tb"))
            except ImportError as e:  # pragma: no cover - optional extra
                raise RuntimeError("TensorBoard logging needs `pip install invrestore[tb]`") from e

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.tb is not None:
            step = int(record["step"])
            for k, v in record.items():
                if k not in ("step", "kind") and isinstance(v, (int, float)):
                    self.tb.add_scalar(f"{record.get('kind', 'train')}/{k}", v, step)
            self.tb.flush()


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def run_wall_time(metrics: str | Path) -> float:
    """Seconds a run has trained, from its ``metrics.jsonl``: the sum over the process segments (each resume
    restarts the ``time`` clock) of each segment's last ``time``."""
    total, last = 0.0, 0.0
    for line in Path(metrics).read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") != "train":
            continue
        t = float(rec["time"])
        if t < last:  # a resumed process restarted the clock
            total += last
        last = t
    return total + last


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else :mod:`platform`), for model cards and benchmark reports."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _truncate_log(path: Path, step: int) -> None:
    """Drop log records newer than the checkpoint we resume from (they will be written again)."""
    if not path.is_file():
        return
    keep = []
    for ln in path.read_text().splitlines():
        try:
            rec = json.loads(ln)
        except json.JSONDecodeError:  # a line cut short by a killed process
            continue
        if rec.get("step", 0) <= step:
            keep.append(ln)
    path.write_text("".join(ln + "\n" for ln in keep))


def fit(
    task: BaseTask[Any],
    run_dir: str | Path,
    resume: bool = True,
    progress: bool = True,
    max_steps: int | None = None,
    time_limit: float | None = None,
    profile: tuple[int | None, int] | None = None,
) -> FitResult:
    """Train ``task`` into ``run_dir`` (resuming from ``run_dir/last`` when present and ``resume``).

    Args:
        task: the model family's task (a :class:`~invrestore.train.task.BaseTask`).
        run_dir: output folder (config.yaml, metrics.jsonl, last/, best/).
        resume: continue from the last checkpoint if there is one.
        progress: show a tqdm bar on rank 0.
        max_steps: stop after this global step even if ``task.train.steps`` is larger (checkpoint written), so a
            long run can be done in pieces.
        time_limit: stop (with a checkpoint, resumable) once this many seconds of wall time have passed in this
            call, for a fixed time budget (a shared GPU lease, a job-queue slot). Every rank stops at the same step.
        profile: ``(start, count)``: profile ``count`` steps from global step ``start`` (``None``: after 20 warm-up
            steps of this call) with :class:`~invrestore.train.profiling.StepProfiler`, which writes
            ``profile.json`` and ``profile.txt`` into ``run_dir`` (rank 0).
    """
    cfg = task.train
    run_dir = Path(run_dir)
    device = select_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
        torch.backends.cudnn.allow_tf32 = cfg.tf32
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
    rank, world = init_distributed(device)
    is_main = rank == 0
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(config_to_yaml(task.config()))

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    random.seed(cfg.seed)
    model = task.build_model().to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if cfg.precision != "float32" and cfg.flow_float32:
        fast.keep_flows_in_float32(model)
    groups = task.param_groups(model)
    ocfgs: dict[str, OptimConfig] = task.optim_configs()
    if set(groups) != set(ocfgs):
        raise ConfigError(f"parameter groups {sorted(groups)} do not match optimiser configs {sorted(ocfgs)}")
    opt_options = fast.optimizer_options(cfg, device)
    optimizers = {name: make_optimizer(groups[name], ocfgs[name], opt_options) for name in groups}
    schedulers = {name: make_scheduler(optimizers[name], ocfgs[name], cfg.steps) for name in groups}
    scaler = fast.make_scaler(cfg, device)

    step = 0
    best: float | None = None
    rollbacks = 0
    log_path = run_dir / "metrics.jsonl"
    if resume and find_checkpoint(run_dir / "last") is not None:
        model_state, train_state, _meta = load_checkpoint(run_dir / "last")
        model.load_state_dict(model_state)
        if "optimizer" in train_state:  # checkpoints written before named optimisers
            train_state["optimizers"] = {"main": train_state["optimizer"]}
            train_state["schedulers"] = {"main": train_state["scheduler"]}
        for name in optimizers:
            optimizers[name].load_state_dict(train_state["optimizers"][name])
            schedulers[name].load_state_dict(train_state["schedulers"][name])
            apply_schedule_config(schedulers[name], ocfgs[name], cfg.steps)
        if scaler is not None and train_state.get("scaler") is not None:
            scaler.load_state_dict(train_state["scaler"])
        step = int(train_state["step"])
        best = train_state.get("best")
        rollbacks = int(train_state.get("rollbacks", 0))
        _set_rng_state(train_state["rng"])
        if is_main:
            _truncate_log(log_path, step)

    net: nn.Module = model
    allreduce = world > 1 and task.sync_gradients == "allreduce"
    if world > 1 and not allreduce:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    elif allreduce:
        broadcast_buffers(model)  # same start everywhere (the parameters are equal by the seeded init)

    dataset = task.train_dataset()
    n = len(dataset)  # type: ignore[arg-type]
    end = cfg.steps if max_steps is None else min(cfg.steps, max_steps)
    virtual = getattr(dataset, "accepts_virtual_index", False)
    on_device: Any = None
    if cfg.device_resident:
        from invrestore.data.device import DeviceResidentData

        on_device = DeviceResidentData.from_dataset(dataset, device)

    def batches_from(start: int) -> Iterator[dict[str, Any]]:
        """The batches of steps ``start, start+1, ..., end-1`` on the device."""
        sampler = StepBatchSampler(n, cfg.batch_size, cfg.seed, start, end, rank, world, virtual=virtual)
        if on_device is not None:
            for indices in sampler:
                yield on_device.batch(indices)
            return
        loader = DataLoader(
            dataset,
            batch_sampler=sampler,
            num_workers=cfg.num_workers,
            pin_memory=device.type == "cuda",
            persistent_workers=cfg.num_workers > 0,
        )
        for b in loader:
            yield {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in b.items()}

    logger = _JsonlLogger(log_path, is_main, cfg.tensorboard)
    bar = None
    if progress and is_main:
        from tqdm import tqdm

        bar = tqdm(total=end, initial=step, desc=task.name, unit="step", dynamic_ncols=True)

    def checkpoint(folder: str) -> None:
        if not is_main:
            return
        train_state = {
            "optimizers": {k: v.state_dict() for k, v in optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in schedulers.items()},
            "step": step,
            "best": best,
            "rng": _rng_state(),
            "rollbacks": rollbacks,
        }
        if scaler is not None:
            train_state["scaler"] = scaler.state_dict()
        meta = {"step": step, "task": task.name, "best": best, "best_metric": task.best_metric}
        save_checkpoint(run_dir / folder, model.state_dict(), train_state, meta)

    amp = fast.autocast(cfg, device)

    def forward_loss(batch: dict[str, Any], g: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        with amp:
            out, metrics = task.training_step(net, batch, g)
            losses = out if isinstance(out, dict) else {"main": out}
            loss = torch.stack([v.reshape(()).float() for v in losses.values()]).sum()
        return loss, metrics

    step_forward = fast.compile_forward(forward_loss, cfg.compile)
    rollback = cfg.nan_policy == "rollback"
    eager_sync = cfg.sync_every == 1  # today's loop: a host sync per step (finiteness, metrics)
    running: dict[str, Any] = {}
    count = 0
    t0 = time.time()
    last_val: dict[str, float] = {}
    snapshot = Snapshot.take(step, model, optimizers, schedulers, _rng_state(), scaler) if rollback else None
    bad = torch.zeros((), dtype=torch.bool, device=device)  # a non-finite loss/gradient since the last sync
    checked = step  # the last step whose finiteness was checked on the host
    batches: Iterator[dict[str, Any]] = iter(())
    net.train()

    def diverged(first_step: int, what: str) -> None:
        """Handle a non-finite loss or gradient seen in steps ``first_step .. step``: roll back or raise."""
        nonlocal step, rollbacks, running, count, batches, bad, checked
        where = f"step {first_step}" if first_step >= step else f"steps {first_step}..{step - 1}"
        if not rollback or snapshot is None:
            raise TrainingDivergedError(
                f"non-finite {what} at {where}; set train.nan_policy=rollback to recover automatically, "
                "or lower train.optim.lr / raise train.optim.grad_clip"
            )
        if rollbacks >= cfg.max_rollbacks:
            raise TrainingDivergedError(
                f"non-finite {what} at {where} again after {rollbacks} rollback(s) with the lr lowered; "
                "the run diverges: lower train.optim.lr or check the data"
            )
        snapshot.restore(model, optimizers, schedulers, scaler)
        scale_learning_rates(optimizers, schedulers, cfg.nan_lr_factor)
        _set_rng_state(snapshot.rng)
        rollbacks += 1
        lrs = {k: o.param_groups[0]["lr"] for k, o in optimizers.items()}
        msg = (
            f"non-finite {what} at {where}: rolled back to step {snapshot.step} and multiplied the "
            f"learning rate by {cfg.nan_lr_factor:g} (now {', '.join(f'{k} {v:.3g}' for k, v in lrs.items())})"
        )
        if is_main:
            _truncate_log(log_path, snapshot.step)
            logger.log({"kind": "rollback", "step": snapshot.step, "from_step": first_step, "reason": msg})
            print(f"invrestore train: {msg}", flush=True)
        step = checked = snapshot.step
        running, count = {}, 0
        bad = torch.zeros((), dtype=torch.bool, device=device)
        batches = batches_from(step)

    profiler = None
    if profile is not None:
        profiler = StepProfiler(run_dir, profile[0], profile[1], device, first_step=step, enabled=is_main)
    batches = batches_from(step)
    while step < end:
        batch = next(batches, None)
        if batch is None:
            break
        if cfg.channels_last:
            batch = fast.to_channels_last(batch)
        if profiler is not None:
            profiler.before_step(step)
        g = torch.Generator(device=device).manual_seed(step_seed(cfg.seed, step, rank))
        loss, metrics = step_forward(batch, g)
        loss_bad = ~torch.isfinite(loss.detach())
        if eager_sync and bool(loss_bad):
            diverged(step, "loss")
            continue
        for opt in optimizers.values():
            opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
        else:
            loss.backward()
        if allreduce:
            allreduce_gradients(model, world)
        step_bad = loss_bad
        norms: dict[str, torch.Tensor] = {}
        for name, opt in optimizers.items():
            if scaler is not None:
                scaler.unscale_(opt)
            clip = ocfgs[name].grad_clip
            if clip > 0:
                norms[name] = torch.nn.utils.clip_grad_norm_(groups[name], clip)
            elif rollback and scaler is None:
                grads = [p.grad for p in groups[name] if p.grad is not None]
                if grads:
                    norms[name] = torch.nn.utils.get_total_norm(grads)
            if clip > 0:
                key = "grad_norm" if len(optimizers) == 1 else f"grad_norm_{name}"
                metrics[key] = float(norms[name]) if eager_sync else norms[name].detach()
        if rollback and scaler is None and norms:  # with a scaler, inf gradients only skip the step
            step_bad = step_bad | ~torch.isfinite(torch.stack([v.detach().float() for v in norms.values()])).any()
            if eager_sync and bool(step_bad):
                diverged(step, "gradient")
                continue
        for name, opt in optimizers.items():
            if scaler is not None:
                scaler.step(opt)
            else:
                opt.step()
            if ocfgs[name].schedule != "plateau":
                schedulers[name].step()
        if scaler is not None:
            scaler.update()
        if allreduce:
            broadcast_buffers(model)
        step += 1
        if profiler is not None:
            profiler.after_step(step)
        for k, v in metrics.items():
            if torch.is_tensor(v):
                v = v.detach().float()
                running[k] = running[k] + v if k in running else v
            else:
                running[k] = running.get(k, 0.0) + float(v)
        count += 1
        if eager_sync:
            checked = step  # checked before the optimiser step
        else:
            bad = bad | step_bad
        if bar is not None:
            bar.update(1)
            if eager_sync or step % cfg.log_every == 0:
                bar.set_postfix(loss=f"{float(loss):.4g}")
        log_now = step % cfg.log_every == 0 or step == cfg.steps
        val_now = cfg.val_every > 0 and (step % cfg.val_every == 0 or step == cfg.steps)
        soon_out = time_limit is not None and time.time() - t0 >= time_limit
        ckpt_due = step % cfg.ckpt_every == 0 or step >= end or soon_out
        if not eager_sync and (step % cfg.sync_every == 0 or log_now or val_now or ckpt_due):
            if world > 1:
                flag = bad.to(torch.int32)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                bad = flag.bool()
            if bool(bad):  # the one host sync of the interval
                diverged(checked, "loss or gradient")
                continue
            checked = step
        if rollback and snapshot is not None and checked == step and step - snapshot.step >= cfg.snapshot_every:
            snapshot = Snapshot.take(step, model, optimizers, schedulers, _rng_state(), scaler)
        # log and validate on the schedule of the whole run (not at a --max-steps stop), so that a run done in
        # pieces logs, validates and steps its plateau schedulers exactly like an uninterrupted one
        if log_now:
            rec: dict[str, Any] = {"kind": "train", "step": step, "time": time.time() - t0}
            for name, opt in optimizers.items():
                rec["lr" if len(optimizers) == 1 else f"lr_{name}"] = opt.param_groups[0]["lr"]
            rec.update({k: float(v) / count for k, v in running.items()})
            if device.type == "cuda":  # the allocator's peak so far (a host-side counter: no sync)
                rec["gpu_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
            logger.log(rec)
            running, count = {}, 0
        if val_now:
            if is_main:
                model.eval()
                with torch.no_grad():
                    last_val = task.validate(model, device)
                model.train()
                logger.log({"kind": "val", "step": step, **last_val})
                value = last_val.get(task.best_metric)
                if value is not None and not math.isnan(value) and (best is None or value > best):
                    best = value
                    checkpoint("best")
            shared = [last_val.get(task.best_metric)] if is_main else [None]
            if world > 1:
                dist.broadcast_object_list(shared, src=0)  # every rank steps its plateau schedulers alike
            for name, sched in schedulers.items():
                if shared[0] is None:
                    continue
                if ocfgs[name].schedule == "plateau":
                    sched.step(shared[0])
                elif ocfgs[name].schedule == "multistep-plateau":
                    sched.step_metric(shared[0])
            if world > 1:
                dist.barrier()
        stop = [n for n, o in ocfgs.items() if o.stop_lr > 0 and optimizers[n].param_groups[0]["lr"] < o.stop_lr]
        if stop:
            logger.log({"kind": "stop", "step": step, "reason": f"learning rate of {stop[0]} below its stop_lr"})
        out_of_time = [time_limit is not None and time.time() - t0 >= time_limit]
        if world > 1 and time_limit is not None:
            dist.broadcast_object_list(out_of_time, src=0)  # rank 0's clock decides, so all ranks stop together
        if out_of_time[0] and is_main:
            logger.log({"kind": "stop", "step": step, "reason": f"time limit of {time_limit:g} s reached"})
        if step % cfg.ckpt_every == 0 or step == end or stop or out_of_time[0]:
            if not eager_sync and checked != step:  # never write a checkpoint of unchecked (maybe NaN) weights
                if world > 1:
                    flag = bad.to(torch.int32)
                    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                    bad = flag.bool()
                if bool(bad):
                    diverged(checked, "loss or gradient")
                    continue
            checkpoint("last")
        if step >= end or stop or out_of_time[0]:
            break
    if profiler is not None:
        profiler.finish(step)
    if bar is not None:
        bar.close()
    if world > 1:
        check_ranks_in_sync(model)
        dist.barrier()
    return FitResult(step=step, best=best, last_metrics=last_val, run_dir=run_dir, world_size=world)
