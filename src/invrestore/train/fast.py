"""The fast training path: mixed precision, channels-last, ``torch.compile``, fused optimisers, fewer host syncs.

Every switch lives in :class:`~invrestore.train.config.TrainConfig` and defaults to off, which is the plain float32
eager loop. :func:`fit` asks this module for the pieces:

- :func:`autocast` — ``torch.autocast`` in bfloat16 or float16 around the forward pass and the loss (``precision``);
- :func:`make_scaler` — a dynamic gradient scaler for float16 (bfloat16 has float32's range and needs none);
- :func:`optimizer_options` — ``fused=True`` on CUDA, ``foreach=True`` elsewhere (``fused_optim``);
- :func:`to_channels_last` — the batch's 4-D tensors in channels-last order (``channels_last``);
- :func:`keep_flows_in_float32` — under autocast, invertible networks keep their stream in float32
  (``flow_float32``, on by default);
- :func:`compile_forward` — ``torch.compile`` of the forward-and-loss function (``compile``: the mode; CUDA graphs
  with ``reduce-overhead``, which needs static shapes: fixed crops and batch size, as every preset has).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from invrestore.train.config import TrainConfig

__all__ = [
    "PRECISIONS",
    "autocast",
    "compile_forward",
    "keep_flows_in_float32",
    "make_scaler",
    "optimizer_options",
    "to_channels_last",
]

PRECISIONS = {"float32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


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


def _float32_output(module: nn.Module, args: Any, output: Any) -> Any:
    if torch.is_tensor(output) and output.is_floating_point() and output.dtype != torch.float32:
        return output.float()
    return output


def _low_precision_input(module: nn.Module, args: Any) -> Any:
    """Cast a subnet's float32 inputs to the autocast dtype once, on the way in.

    The result is the same as letting each convolution cast its own input (the first thing autocast does), but a
    dense subnet concatenates its input with its 16-bit feature maps before every convolution, and ``cat`` of a
    float32 and a 16-bit tensor promotes all of it to float32, only to be cast back by the next convolution: IRN ×2
    spent a fifth of a CPU step in those copies. Where a subnet's input meets only convolutions and concatenations
    (IRN's DenseBlock, Glow's and ILC's subnets) the forward is bit for bit the same; selfVAE's DenseNet subnet also
    applies an ELU to it, which then runs in 16 bits like its other feature maps. Outside autocast (validation,
    inference) nothing changes.
    """
    if not args or not torch.is_tensor(args[0]):
        return None
    device = args[0].device.type
    if not torch.is_autocast_enabled(device):
        return None
    dtype = torch.get_autocast_dtype(device)
    weight = next((p for p in module.parameters() if p.dim() == 4), None)
    channels_last = weight is not None and weight.is_contiguous(memory_format=torch.channels_last)
    out = []
    for a in args:
        if torch.is_tensor(a) and a.is_floating_point() and a.dtype == torch.float32:
            # a channel slice of the stream is no longer dense: without a format it would come out NCHW and each
            # concatenation with the channels-last feature maps would be laid out again
            fmt = torch.channels_last if channels_last and a.dim() == 4 else torch.preserve_format
            a = a.to(dtype, memory_format=fmt)
        out.append(a)
    return tuple(out)


def _without_autocast(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        device = next((a.device.type for a in args if torch.is_tensor(a)), "cuda")
        with torch.autocast(device_type=device, enabled=False):
            return fn(*(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args), **kwargs)

    return run


def keep_flows_in_float32(model: nn.Module) -> int:
    """Keep the invertible stream of ``model`` in float32 under autocast; returns how many modules were changed.

    Under bf16/fp16 autocast an invertible network loses its invertibility: the Haar transforms are convolutions,
    so autocast runs them (and then every coupling's ``x·exp(s) + t``) in 16 bits, and the rounding of each block
    accumulates over the chain (IRN ×4: forward-then-inverse reconstructs at ≈ 26 dB PSNR instead of ≈ 119 dB).
    Here the coupling sub-networks (the convolutions, most of the work) still run in 16 bits (their inputs cast
    once on entry, so a dense subnet's concatenations stay 16-bit), but their outputs are cast back to float32, and
    the non-coupling invertible layers (Haar, 1×1 convolutions, ActNorm) run with autocast off, so the stream, the
    exponentials and the log-determinants stay float32.
    """
    from invrestore.nn.base import InvertibleModule, InvertibleSequential
    from invrestore.nn.coupling import InvBlock, _Coupling

    changed = 0
    for m in model.modules():
        if isinstance(m, InvBlock):
            for sub in (m.F, m.G, m.H):
                sub.register_forward_pre_hook(_low_precision_input)
                sub.register_forward_hook(_float32_output)
            changed += 1
        elif isinstance(m, _Coupling):
            for sub in m.children():
                sub.register_forward_pre_hook(_low_precision_input)
                sub.register_forward_hook(_float32_output)
            changed += 1
        elif (
            isinstance(m, InvertibleModule)
            and not isinstance(m, InvertibleSequential)
            and not any(isinstance(c, InvertibleModule) for c in m.modules() if c is not m)
        ):  # a leaf invertible layer (Haar, 1×1 convolution, ActNorm): all of it in float32
            m.forward = _without_autocast(m.forward)  # type: ignore[method-assign]
            m.inverse = _without_autocast(m.inverse)  # type: ignore[method-assign]
            changed += 1
    return changed
