"""Fast inference paths: channels-last, ``torch.compile`` (inductor), a fused DenseBlock and mixed precision.

Every path computes the same function as the eager float32 forward; the float32 paths agree with it within
1e-4 (summation order and fused kernels differ only). See ``docs/speed.md`` for the measured speed-ups and what
each switch does. Typical use::

    from invrestore.fast import FastOptions, irn_functions

    opts = FastOptions.preset("fast", torch.device("cpu"))
    forward, inverse = irn_functions(net, opts, torch.device("cpu"))
    out = forward(x)            # cat(y, z), shape (B, 3·s², H/s, W/s)
    x_rec = inverse(out)        # (B, 3, H, W)

:func:`optimize` wraps any pure ``tensor -> tensor`` inference function (e.g. ``lambda t: model(t)``).

Compilation: a compiled function specialises on the input shape (``dynamic=False``). The first call with a new
shape compiles (tens of seconds on a CPU), later calls with that shape reuse it; tiled inference feeds fixed tile
shapes, so recompilation is rare. Compiled artefacts are cached on disk (:func:`compile_cache_dir`), so a second
process with the same model and shapes skips most of the work.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError
from invrestore.nn.coupling import InvBlock
from invrestore.nn.haar import HaarDownsampling, haar_filters
from invrestore.nn.subnets import DenseBlock

if TYPE_CHECKING:
    from invrestore.models.irn.model import IRN

__all__ = ["DType", "FastOptions", "compile_cache_dir", "irn_functions", "optimize"]

DType = Literal["float32", "bfloat16", "float16"]
_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_PRESETS = ("exact", "fast")


@dataclass(frozen=True)
class FastOptions:
    """Switches of the fast inference path; the defaults are the exact eager float32 path.

    Attributes:
        compile: ``torch.compile`` with the inductor backend (on CPU with weight freezing, which folds the weights
            into the compiled graph, so the compiled function snapshots them). Artefacts are cached on disk.
        channels_last: feed NHWC (channels-last) tensors, the layout oneDNN's and cuDNN's convolutions prefer.
        dtype: ``"float32"`` (exact) or the autocast dtype ``"bfloat16"`` / ``"float16"`` for convolutions. For
            IRN (:func:`irn_functions`) only the subnets run in low precision; the Haar transform and the coupling
            arithmetic (``exp``, the sums that make the block invertible) stay float32.
        cuda_graphs: on CUDA, compile with ``mode="reduce-overhead"`` (CUDA graphs replay a fixed-shape call
            without launch overhead). Needs ``compile=True``; ignored on CPU.
        fused: IRN's DenseBlocks run :meth:`DenseBlock.forward_fused` (no concatenations, stacked convolutions).
        block_tile: with ``fused`` in eager mode, run each DenseBlock on spatial tiles of about this many pixels a
            side (each side is cut into ``round(side / block_tile)`` equal parts, plus a halo of the block's
            receptive radius that is cropped again), so that the block's working set stays in the CPU cache; every
            output pixel is computed from the same inputs, so the values are those of the untiled block. 0: off.
    """

    compile: bool = False
    channels_last: bool = False
    dtype: DType = "float32"
    cuda_graphs: bool = False
    fused: bool = False
    block_tile: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "dtype":
                if value not in _DTYPES:
                    raise ConfigError(f"FastOptions.dtype must be one of {sorted(_DTYPES)}, got {value!r}")
            elif f.name == "block_tile":
                if isinstance(value, bool) or not isinstance(value, int) or not (value == 0 or value >= 16):
                    raise ConfigError(f"FastOptions.block_tile must be 0 (off) or an integer >= 16, got {value!r}")
            elif not isinstance(value, bool):
                raise ConfigError(f"FastOptions.{f.name} must be True or False, got {value!r}")
        if self.cuda_graphs and not self.compile:
            raise ConfigError("FastOptions.cuda_graphs needs compile=True (CUDA graphs come from torch.compile)")

    @property
    def torch_dtype(self) -> torch.dtype:
        """The autocast dtype as a ``torch.dtype``."""
        return _DTYPES[self.dtype]

    @property
    def exact(self) -> bool:
        """True for the eager float32 path (every switch off)."""
        return self == FastOptions()

    def describe(self) -> str:
        """A short human-readable summary, e.g. ``"compile+channels_last"`` or ``"eager"``."""
        parts = [name for name in ("compile", "channels_last", "fused", "cuda_graphs") if getattr(self, name)]
        if self.block_tile:
            parts.append(f"block_tile={self.block_tile}")
        if self.dtype != "float32":
            parts.append(self.dtype)
        return "+".join(parts) or "eager"

    @classmethod
    def preset(cls, name: Literal["exact", "fast"], device: torch.device | str) -> FastOptions:
        """``"exact"``: eager float32. ``"fast"``: the fastest measured path that stays within 1e-4 of eager.

        On CPU ``"fast"`` is ``fused + channels_last + block_tile=128`` in float32: in one run on a 2-core EPYC it
        ran IRN ×4 2.0–2.1× (512²) and 2.2× (1080p) faster than eager, ahead of the compiled paths and without their
        compilation time (see ``docs/speed.md``). On CUDA it is ``compile + channels_last + cuda_graphs``
        in float32 (not measured here: no GPU). Half precision is left to an explicit ``dtype`` because its PSNR
        change must be checked per model.
        """
        if name not in _PRESETS:
            raise ConfigError(f"unknown speed preset {name!r}; expected one of {list(_PRESETS)}")
        if name == "exact":
            return cls()
        if torch.device(device).type == "cuda":
            return cls(compile=True, channels_last=True, cuda_graphs=True)
        return cls(fused=True, channels_last=True, block_tile=128)

    @classmethod
    def parse(cls, spec: str) -> FastOptions:
        """Options from a comma-separated list, e.g. ``"compile,channels_last,bfloat16"`` (or a preset name
        ``"exact"``; ``"fast"`` needs a device, use :meth:`preset`). Accepted words: ``compile``,
        ``channels_last``, ``fused``, ``cuda_graphs``, ``float32``, ``bfloat16`` / ``bf16``, ``float16`` /
        ``fp16``."""
        aliases = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
        kwargs: dict[str, object] = {}
        for raw in spec.split(","):
            word = aliases.get(raw.strip(), raw.strip())
            if not word or word == "exact" or word == "eager":
                continue
            if word in _DTYPES:
                kwargs["dtype"] = word
            elif word in ("compile", "channels_last", "fused", "cuda_graphs"):
                kwargs[word] = True
            elif word.startswith("block_tile="):
                try:
                    kwargs["block_tile"] = int(word.split("=", 1)[1])
                except ValueError:
                    raise ConfigError(f"block_tile needs an integer, got {raw.strip()!r}") from None
            else:
                raise ConfigError(
                    f"unknown speed option {raw.strip()!r} in {spec!r}; use compile, channels_last, fused, "
                    "block_tile=N, cuda_graphs, float32, bfloat16 or float16"
                )
        return cls(**kwargs)  # type: ignore[arg-type]


def compile_cache_dir() -> Path:
    """Where inductor keeps compiled artefacts across runs: ``$INVRESTORE_COMPILE_CACHE`` or
    ``~/.cache/invrestore/inductor``."""
    env = os.environ.get("INVRESTORE_COMPILE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "invrestore" / "inductor"


def _configure_compile_cache() -> None:
    # An explicit TORCHINDUCTOR_CACHE_DIR set by the user wins; otherwise point inductor's on-disk caches (FX graph
    # cache, compiled C++/Triton kernels) at our directory so a second process reuses the first one's work.
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        path = compile_cache_dir()
        path.mkdir(parents=True, exist_ok=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True


def _check_device(opts: FastOptions, device: torch.device) -> None:
    if device.type not in ("cpu", "cuda") and (opts.compile or opts.dtype != "float32"):
        raise ConfigError(f"compile and half precision run on cpu and cuda, not on {device.type}; use the exact path")


def _compile(fn: Callable[[Tensor], Tensor], opts: FastOptions, device: torch.device) -> Callable[[Tensor], Tensor]:
    _configure_compile_cache()
    options: dict[str, str | int | bool | Callable[..., object]] = {}
    mode: str | None = None
    if device.type == "cpu":
        options["freezing"] = True
    elif device.type == "cuda" and opts.cuda_graphs:
        mode = "reduce-overhead"
    if mode is not None:  # torch.compile accepts either a mode or options, not both
        compiled = torch.compile(fn, backend="inductor", mode=mode, dynamic=False, fullgraph=False)
    else:
        compiled = torch.compile(fn, backend="inductor", options=options, dynamic=False, fullgraph=False)
    return compiled  # type: ignore[return-value]


def _autocast(opts: FastOptions, device: torch.device) -> contextlib.AbstractContextManager[object]:
    if opts.dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=opts.torch_dtype)


def _wrap(
    fn: Callable[[Tensor], Tensor], opts: FastOptions, device: torch.device, *, autocast: bool
) -> Callable[[Tensor], Tensor]:
    _check_device(opts, device)
    inner = _compile(fn, opts, device) if opts.compile else fn
    # no_grad rather than inference_mode: freezing needs a graph-free call, and the outputs stay ordinary tensors
    # that callers may modify in place (inference-mode tensors refuse that outside inference mode).
    grad_ctx = torch.no_grad

    def run(x: Tensor) -> Tensor:
        in_dtype = x.dtype
        if opts.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with grad_ctx(), _autocast(opts, device) if autocast else contextlib.nullcontext():
            y = inner(x)
            if opts.compile and opts.cuda_graphs and device.type == "cuda":
                y = y.clone()  # CUDA-graph outputs are overwritten by the next replay
        if y.is_floating_point() and y.dtype != in_dtype and in_dtype.is_floating_point:
            y = y.to(in_dtype)
        return y.contiguous()

    run.__name__ = f"optimized_{getattr(fn, '__name__', 'fn')}"
    return run


def optimize(fn: Callable[[Tensor], Tensor], opts: FastOptions, *, device: torch.device) -> Callable[[Tensor], Tensor]:
    """Wrap a pure ``tensor -> tensor`` inference function with the fast paths of ``opts``.

    The wrapper runs ``fn`` under ``torch.no_grad``, converts a 4-D
    input to channels-last if asked (the output is returned contiguous, in the input's dtype), autocasts to
    ``opts.dtype`` and compiles ``fn`` if asked. Weights are not converted: convert the model with
    ``model.to(memory_format=torch.channels_last)`` for the full channels-last benefit, or use
    :func:`irn_functions`. A compiled ``fn`` recompiles for each new input shape (fixed tile shapes avoid that).

    Args:
        fn: e.g. ``lambda t: model(t)`` or ``lambda t: net.inverse(t)[0]``.
        opts: the switches.
        device: the device the tensors live on (decides the compile mode and the autocast device).

    Raises:
        ConfigError: for an option the device cannot run.
    """
    return _wrap(fn, opts, torch.device(device), autocast=True)


# -- IRN ---------------------------------------------------------------------------------------------------------
def _subnet_runner(opts: FastOptions, device: torch.device) -> Callable[[nn.Module, Tensor], Tensor]:
    low = opts.dtype != "float32"

    def run(subnet: nn.Module, h: Tensor) -> Tensor:
        with _autocast(opts, device) if low else contextlib.nullcontext():
            if opts.fused and isinstance(subnet, DenseBlock):
                tile = opts.block_tile if not opts.compile else 0
                out: Tensor = blocked(subnet.forward_fused, h, tile, receptive_radius(subnet))
            else:
                out = subnet(h)
        return out.float() if low else out

    return run


def receptive_radius(block: nn.Module) -> int:
    """How many pixels beyond a pixel a stack of convolutions looks (sum of ``dilation·(k-1)/2`` over its
    convolutions, for the chained convolutions of a DenseBlock)."""
    r = 0
    for m in block.modules():
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            dh, dw = m.dilation
            r += max(dh * (kh - 1) // 2, dw * (kw - 1) // 2)
    return r


def blocked(fn: Callable[[Tensor], Tensor], x: Tensor, tile: int, halo: int) -> Tensor:
    """``fn(x)`` for a size-preserving local ``fn`` (zero padding at the image border), computed on equal tiles of
    about ``tile`` pixels a side (``round(side / tile)`` per side), each read with ``halo`` extra pixels that are
    cropped from its result.

    Every output pixel is computed from the same input pixels as in ``fn(x)`` (the halo covers ``fn``'s receptive
    field), so the result equals the untiled one up to the order of float additions inside a convolution. Used so
    that the working set of a block stays in the CPU cache (``FastOptions.block_tile``). ``tile=0`` or an image
    smaller than 1.5 ``tile`` a side calls ``fn(x)`` directly.
    """
    h, w = x.shape[-2:]
    ny, nx = (max(1, round(h / tile)), max(1, round(w / tile))) if tile > 0 else (1, 1)
    if ny == 1 and nx == 1:
        return fn(x)
    ty, tx = -(-h // ny), -(-w // nx)  # equal tiles of about `tile` pixels
    out: Tensor | None = None
    fmt = torch.channels_last if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) else None
    for a in range(0, h, ty):
        b = min(a + ty, h)
        a0, b0 = max(0, a - halo), min(h, b + halo)
        for c in range(0, w, tx):
            d = min(c + tx, w)
            c0, d0 = max(0, c - halo), min(w, d + halo)
            y = fn(x[:, :, a0:b0, c0:d0])
            if out is None:
                out = y.new_empty((*y.shape[:2], h, w))
                if fmt is not None:
                    out = out.contiguous(memory_format=fmt)
            out[:, :, a:b, c:d] = y[:, :, a - a0 : a - a0 + (b - a), c - c0 : c - c0 + (d - c)]
    assert out is not None
    return out


@contextlib.contextmanager
def _full_precision(device: torch.device, active: bool) -> Iterator[None]:
    if active:
        with torch.autocast(device_type=device.type, enabled=False):
            yield
    else:
        yield


def _haar_forward(x: Tensor) -> Tensor:
    # HaarDownsampling.forward without the grouped stride-2 convolution (slow in oneDNN: ~0.1 s per level at 512²
    # on 2 cores, against ~1 ms for these additions); same values, band-major channel order [LL | F1 | F2 | F3].
    b, c, h, w = x.shape
    a, bb, cc, d = torch.nn.functional.pixel_unshuffle(x, 2).view(b, c, 4, h // 2, w // 2).unbind(2)
    return torch.cat(((a + bb + cc + d) / 4, (a - bb + cc - d) / 4, (a + bb - cc - d) / 4, (a - bb - cc + d) / 4), 1)


def _haar_inverse(y: Tensor) -> Tensor:
    # HaarDownsampling.inverse without conv_transpose2d: rebuild the 2×2 blocks and interleave them.
    b, c4, h, w = y.shape
    ll, f1, f2, f3 = y.chunk(4, 1)
    blocks = torch.stack((ll + f1 + f2 + f3, ll - f1 + f2 - f3, ll + f1 - f2 - f3, ll - f1 - f2 + f3), 2)
    return torch.nn.functional.pixel_shuffle(blocks.reshape(b, c4, h, w), 2)


def _standard_haar(net: IRN) -> set[int]:
    """ids of the Haar modules whose (frozen) filters are the standard ones, which the addition form reproduces."""
    out = set()
    for op in net.operations:
        if type(op) is HaarDownsampling:
            w = op.haar_weights
            ref = torch.cat([haar_filters()] * op.channels, 0).to(device=w.device, dtype=w.dtype)
            if torch.equal(w.detach(), ref):
                out.add(id(op))
    return out


def _irn_forward(net: IRN, x: Tensor, sub: Callable[[nn.Module, Tensor], Tensor], low: bool, haar: set[int]) -> Tensor:
    # InvBlock.forward operation for operation, with the subnets run through ``sub`` (fused and/or autocast, then
    # back to float32); every other operation (Haar, learnable downsampling) runs as is, in float32.
    for op in net.operations:
        if isinstance(op, InvBlock) and op.cond_channels == 0:
            x1, x2 = x[:, : op.split_len1], x[:, op.split_len1 :]
            y1 = x1 + sub(op.F, x2)
            s = op.scale_fn(sub(op.H, y1), op.clamp)
            y2 = x2 * torch.exp(s) + sub(op.G, y1)
            x = torch.cat((y1, y2), 1)
        elif id(op) in haar and x.shape[-2] % 2 == 0 and x.shape[-1] % 2 == 0:
            with _full_precision(x.device, low):
                x = _haar_forward(x)
        else:
            with _full_precision(x.device, low):
                x = op(x)[0]
    return x


def _irn_inverse(net: IRN, y: Tensor, sub: Callable[[nn.Module, Tensor], Tensor], low: bool, haar: set[int]) -> Tensor:
    for op in reversed(list(net.operations)):
        if isinstance(op, InvBlock) and op.cond_channels == 0:
            y1, y2 = y[:, : op.split_len1], y[:, op.split_len1 :]
            s = op.scale_fn(sub(op.H, y1), op.clamp)
            x2 = (y2 - sub(op.G, y1)) / torch.exp(s)
            x1 = y1 - sub(op.F, x2)
            y = torch.cat((x1, x2), 1)
        elif id(op) in haar:
            with _full_precision(y.device, low):
                y = _haar_inverse(y)
        else:
            with _full_precision(y.device, low):
                y = op.inverse(y)[0]
    return y


def irn_functions(
    net: IRN, opts: FastOptions, device: torch.device | str
) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """``(forward, inverse)`` of an IRN with the fast paths of ``opts``.

    ``forward``: ``x (B, C, H, W) -> cat(y, z) (B, C·s², H/s, W/s)`` (unquantised, as ``net(x)[0]``);
    ``inverse``: ``cat(y, z) -> x`` (as ``net.inverse(out)[0]``). Inputs are float32. Every path other than the
    exact one runs the network operation by operation here, with the Haar transform as additions of the 2×2 block
    pixels instead of a grouped strided convolution (the same values; used when the frozen Haar filters are the
    standard ones, checked here). In half precision only the
    InvBlocks' subnets run in ``opts.dtype``; the Haar transform and the coupling arithmetic stay float32 so the
    block stays invertible. The net is put in eval mode; with ``channels_last`` its parameters are converted to
    channels-last in place (same values and state dict). With ``compile`` the weights are frozen into the compiled
    graph: call again after changing them.

    Raises:
        ConfigError: for an option the device cannot run.
    """
    device = torch.device(device)
    net.eval()
    if opts.channels_last:
        net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    low = opts.dtype != "float32"
    if opts.exact:
        fwd: Callable[[Tensor], Tensor] = lambda t: net(t)[0]  # noqa: E731
        inv: Callable[[Tensor], Tensor] = lambda t: net.inverse(t)[0]  # noqa: E731
    else:
        sub = _subnet_runner(opts, device)
        haar = _standard_haar(net)
        fwd = lambda t: _irn_forward(net, t, sub, low, haar)  # noqa: E731
        inv = lambda t: _irn_inverse(net, t, sub, low, haar)  # noqa: E731
    return _wrap(fwd, opts, device, autocast=False), _wrap(inv, opts, device, autocast=False)
