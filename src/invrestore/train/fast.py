"""The fast training path: mixed precision, channels-last, ``torch.compile``, fused optimisers, fewer host syncs.

Every switch lives in :class:`~invrestore.train.config.TrainConfig` and defaults to off, which is the plain float32
eager loop. :func:`fit` asks this module for the pieces:

- :func:`autocast` — ``torch.autocast`` in bfloat16 or float16 around the forward pass and the loss (``precision``);
- :func:`make_scaler` — a dynamic gradient scaler for float16 (bfloat16 has float32's range and needs none);
- :func:`optimizer_options` — ``fused=True`` on CUDA, ``foreach=True`` elsewhere (``fused_optim``);
- :func:`to_channels_last` — the batch's 4-D tensors in channels-last order (``channels_last``);
- :func:`compile_forward` — ``torch.compile`` of the forward-and-loss function (``compile``: the mode; CUDA graphs
  with ``reduce-overhead``, which needs static shapes: fixed crops and batch size, as every preset has).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch

from invrestore.errors import ConfigError
from invrestore.train.config import TrainConfig

__all__ = [
    "PRECISIONS",
    "autocast",
    "check_fast_config",
    "compile_forward",
    "make_scaler",
    "optimizer_options",
    "to_channels_last",
]

PRECISIONS = {"float32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
NAN_POLICIES = ("raise", "rollback")


def check_fast_config(cfg: TrainConfig) -> None:
    """Raise :class:`ConfigError` on an unknown fast-path or safeguard setting."""
    if cfg.precision not in PRECISIONS:
        raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, not {cfg.precision!r}")
    if cfg.compile not in COMPILE_MODES:
        modes = ", ".join(repr(m) for m in COMPILE_MODES)
        raise ConfigError(f"train.compile must be one of {modes}, not {cfg.compile!r}")
    if cfg.nan_policy not in NAN_POLICIES:
        raise ConfigError(f"train.nan_policy must be 'raise' or 'rollback', not {cfg.nan_policy!r}")
    if cfg.sync_every < 1:
        raise ConfigError(f"train.sync_every must be at least 1, not {cfg.sync_every}")
    if cfg.snapshot_every < 1:
        raise ConfigError(f"train.snapshot_every must be at least 1, not {cfg.snapshot_every}")
    if not 0.0 < cfg.nan_lr_factor <= 1.0:
        raise ConfigError(f"train.nan_lr_factor must be in (0, 1], not {cfg.nan_lr_factor}")


def autocast(cfg: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The autocast context of ``cfg.precision`` (a no-op context for float32)."""
    dtype = PRECISIONS[cfg.precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(cfg: TrainConfig, device: torch.device) -> torch.amp.GradScaler | None:
    """A dynamic loss scaler for float16 training (``None`` otherwise)."""
    if cfg.precision != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


def optimizer_options(cfg: TrainConfig, device: torch.device) -> dict[str, bool]:
    """Keyword arguments for Adam/Adamax: the fused kernel on CUDA, the multi-tensor one elsewhere."""
    if not cfg.fused_optim:
        return {}
    return {"fused": True} if device.type == "cuda" else {"foreach": True}


def to_channels_last(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch with each 4-D tensor in channels-last memory order (values unchanged)."""
    return {
        k: v.contiguous(memory_format=torch.channels_last) if torch.is_tensor(v) and v.dim() == 4 else v
        for k, v in batch.items()
    }


def compile_forward(fn: Callable[..., Any], mode: str) -> Callable[..., Any]:
    """``torch.compile(fn)`` in ``mode`` (``"default"`` = torch's default mode); ``fn`` unchanged when ``mode`` is
    empty. Host syncs inside ``fn`` (``float(loss)`` for logging) become graph breaks, not errors."""
    if not mode:
        return fn
    return torch.compile(fn, mode=None if mode == "default" else mode, dynamic=False)
