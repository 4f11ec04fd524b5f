"""Devices and multi-process helpers of the generic loop: the device from ``train.device``, the process group
under ``torchrun`` (nccl on GPU, gloo on CPU), and the gradient/buffer averaging that replaces DDP for tasks with
``sync_gradients = "allreduce"`` (see :class:`~invrestore.train.task.BaseTask`)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["allreduce_gradients", "broadcast_buffers", "check_ranks_in_sync", "init_distributed", "select_device"]


def check_ranks_in_sync(model: nn.Module) -> None:
    """Raise if the parameters differ across DDP ranks (compares a float64 checksum of every tensor)."""
    sums = torch.stack([p.detach().double().sum() for p in model.parameters()] + [torch.zeros((), dtype=torch.float64)])
    sums = sums.to(next(model.parameters()).device)
    gathered = [torch.zeros_like(sums) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, sums)
    if not all(torch.equal(gathered[0], g) for g in gathered):
        raise RuntimeError("DistributedDataParallel ranks hold different parameters after training")


def allreduce_gradients(model: nn.Module, world: int) -> None:
    """Average the gradients of ``model`` across ranks (one flat all-reduce). Parameters without a gradient keep
    none: every rank runs the same step, so they agree on which those are, and torch skips them in ``step``."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_buffers(model: nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics), as DDP's ``broadcast_buffers`` does."""
    for b in model.buffers():
        dist.broadcast(b, src=0)


def select_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", 0))
            return torch.device("cuda", local)
        return torch.device("cpu")
    return torch.device(name)


def init_distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()
