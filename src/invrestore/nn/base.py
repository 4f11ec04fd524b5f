"""The invertible-module contract, composition and inversion.

Every block in :mod:`invrestore.nn` is an :class:`InvertibleModule`:

- ``y, logdet = m(x, cond)`` runs the forward direction,
- ``x, logdet_inv = m.inverse(y, cond)`` runs the inverse direction,

where ``logdet`` has shape ``(B,)`` and holds ``log|det ∂out/∂in|`` of the direction that was run, so that
``logdet_inv == -logdet`` for matching inputs. ``logdet`` is created from the input (``x.new_zeros(B)``) and
therefore follows its device and dtype. Modules keep no state between calls, apart from explicit buffers
(ActNorm's ``initialized``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, overload

import torch
from torch import Tensor, nn

__all__ = [
    "FactorOut",
    "Inverse",
    "InvertibleModule",
    "InvertibleSequential",
    "ReconstructedGrad",
    "standard_normal_log_prob",
]


class ReconstructedGrad(NamedTuple):
    """Result of :meth:`InvertibleModule.backward_from_output`.

    Attributes:
        x: the reconstructed input of the block (detached).
        grad_x: ``∂L/∂x``.
        grad_wrt: ``∂L/∂t`` for each tensor ``t`` in the ``wrt`` argument (``None`` where ``t`` is unused).
    """

    x: Tensor
    grad_x: Tensor
    grad_wrt: tuple[Tensor | None, ...]


def vjp(
    outputs: Sequence[Tensor], inputs: Sequence[Tensor], grad_outputs: Sequence[Tensor]
) -> tuple[Tensor | None, ...]:
    """``torch.autograd.grad`` that tolerates outputs without a graph and inputs that are unused.

    Args:
        outputs: tensors to differentiate (those that do not require grad are skipped).
        inputs: tensors to differentiate with respect to.
        grad_outputs: upstream gradients, one per output.

    Returns:
        One gradient per input, ``None`` where the input does not influence any output.
    """
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs or not inputs:
        return tuple(None for _ in inputs)
    grads = torch.autograd.grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs], allow_unused=True)
    return tuple(grads)


def add_grads(a: tuple[Tensor | None, ...], b: tuple[Tensor | None, ...]) -> tuple[Tensor | None, ...]:
    """Element-wise sum of two gradient tuples where ``None`` means zero."""
    out: list[Tensor | None] = []
    for ga, gb in zip(a, b):
        if ga is None:
            out.append(gb)
        elif gb is None:
            out.append(ga)
        else:
            out.append(ga + gb)
    return tuple(out)


class InvertibleModule(nn.Module):
    """A bijection with a tractable log-Jacobian determinant.

    ``y, logdet = f(x, cond)``; ``x, -logdet = f.inverse(y, cond)``. ``logdet`` has shape ``(B,)`` and equals
    ``log|det ∂y/∂x|`` per sample. ``cond`` is an optional conditioning tensor; blocks that do not use it
    ignore it.

    Subclasses implement :meth:`forward` and :meth:`inverse`. They may override :meth:`backward_from_output`
    to make memory-efficient backpropagation (:class:`InvertibleSequential` with ``memory_efficient=True``)
    cheaper.
    """

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run the forward direction.

        Args:
            x: input tensor ``(B, ...)``.
            cond: optional conditioning tensor ``(B, ...)``.

        Returns:
            ``(y, logdet)`` with ``logdet`` of shape ``(B,)``.
        """
        raise NotImplementedError

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run the inverse direction.

        Args:
            y: output-space tensor ``(B, ...)``.
            cond: the conditioning tensor used in the forward direction.

        Returns:
            ``(x, logdet)`` where ``logdet = log|det ∂x/∂y|`` (the negative of the forward log-det).
        """
        raise NotImplementedError

    def __call__(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        # Typed wrapper around nn.Module.__call__ (hooks still run).
        return super().__call__(x, cond)  # type: ignore[no-any-return]

    def backward_from_output(
        self,
        y: Tensor,
        grad_y: Tensor,
        grad_logdet: Tensor,
        cond: Tensor | None,
        wrt: Sequence[Tensor],
    ) -> ReconstructedGrad:
        """Reconstruct the input from the output and back-propagate through this block.

        Used by the memory-efficient mode of :class:`InvertibleSequential`. The default implementation inverts
        the block without a graph, then re-runs the forward direction with a graph on a detached copy of the
        input and calls :func:`torch.autograd.grad`. Couplings override it to evaluate their subnets only
        once.

        Args:
            y: the block's output (detached).
            grad_y: ``∂L/∂y``.
            grad_logdet: ``∂L/∂logdet``, shape ``(B,)``.
            cond: conditioning tensor (a leaf requiring grad if its gradient is wanted).
            wrt: parameters (and possibly ``cond``) whose gradients are wanted.

        Returns:
            The reconstructed input, its gradient and the gradients of ``wrt``.
        """
        with torch.no_grad():
            x, _ = self.inverse(y, cond)
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            y_re, logdet = self.forward(x, cond)
        grads = vjp([y_re, logdet], [x, *wrt], [grad_y, grad_logdet])
        grad_x = grads[0] if grads[0] is not None else torch.zeros_like(x)
        return ReconstructedGrad(x.detach(), grad_x, grads[1:])


class Inverse(InvertibleModule):
    """Swaps the directions of an invertible module: ``Inverse(m)(y) == m.inverse(y)``.

    The wrapped module is stored as ``module`` (state_dict keys ``module.<...>``).

    Args:
        module: the module to invert.
    """

    def __init__(self, module: InvertibleModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.module.inverse(x, cond)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.module(y, cond)


class _ChainRun:
    """What the memory-efficient autograd function needs to know about a chain (not a tensor)."""

    def __init__(self, blocks: Sequence[InvertibleModule], params: Sequence[Tensor]) -> None:
        self.blocks = list(blocks)
        self.params = list(params)
        self.param_versions: list[int] = []
        index = {id(p): i for i, p in enumerate(params)}
        self.block_params: list[list[int]] = [
            [index[id(p)] for p in b.parameters() if id(p) in index] for b in self.blocks
        ]


class _MemoryEfficientChain(torch.autograd.Function):
    """Runs a chain of invertible blocks without keeping intermediate activations.

    Forward: runs the blocks under ``no_grad`` and saves only the final output (and ``cond``).
    Backward: walks the blocks from last to first; each block reconstructs its input from its output and
    computes its local vector-Jacobian product (:meth:`InvertibleModule.backward_from_output`).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        run: _ChainRun,
        x: Tensor,
        cond: Tensor | None,
        *params: Tensor,
    ) -> tuple[Tensor, Tensor]:
        y = x
        logdet = x.new_zeros(x.shape[0])
        for block in run.blocks:
            y, ld = block(y, cond)
            logdet = logdet + ld
        if y is x:  # only possible for an empty chain; never return an input as an output
            y = x.clone()
        # Recorded after the blocks ran (ActNorm may initialise its parameters in place during this pass).
        run.param_versions = [p._version for p in params]
        ctx.run = run  # type: ignore[attr-defined]
        # Only the final output (and cond) is saved; parameters are reached through ``run``.
        ctx.save_for_backward(y, cond)  # type: ignore[arg-type]  # None is allowed
        return y, logdet

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_y: Tensor, grad_logdet: Tensor
    ) -> tuple[Tensor | None, ...]:
        run: _ChainRun = ctx.run  # type: ignore[attr-defined]
        y, cond = ctx.saved_tensors  # type: ignore[attr-defined]
        params = run.params
        if [p._version for p in params] != run.param_versions:
            raise RuntimeError(
                "a parameter of a memory-efficient InvertibleSequential was modified in place between the "
                "forward and the backward pass (e.g. an optimizer step); the activations cannot be recomputed"
            )
        need_cond = cond is not None and ctx.needs_input_grad[2]  # type: ignore[attr-defined]
        cond_in: Tensor | None = cond
        if cond is not None:
            cond_in = cond.detach().requires_grad_(True) if need_cond else cond.detach()
        param_grads: list[Tensor | None] = [None] * len(params)
        grad_cond: Tensor | None = None
        current = y.detach()
        grad = grad_y
        for block, idx in zip(reversed(run.blocks), reversed(run.block_params)):
            wrt: list[Tensor] = [params[i] for i in idx]
            if need_cond:
                assert cond_in is not None
                wrt.append(cond_in)
            res = block.backward_from_output(current, grad, grad_logdet, cond_in, wrt)
            grads = list(res.grad_wrt)
            if need_cond:
                gc = grads.pop()
                if gc is not None:
                    grad_cond = gc if grad_cond is None else grad_cond + gc
            for i, g in zip(idx, grads):
                if g is not None:
                    prev = param_grads[i]
                    param_grads[i] = g if prev is None else prev + g
            current, grad = res.x, res.grad_x
        return (None, grad, grad_cond, *param_grads)


class InvertibleSequential(InvertibleModule):
    """A chain of invertible modules, stored like an ``nn.ModuleList``.

    Children are registered under their index, so a model holding
    ``self.operations = InvertibleSequential(...)`` has state_dict keys ``operations.0.<...>``,
    ``operations.1.<...>`` (the layout of IRN's official checkpoints). The forward direction runs the children
    in order and sums their log-dets; the inverse runs them reversed.

    Memory-efficient mode (``memory_efficient=True``): when gradients are needed, the chain runs inside a
    custom ``torch.autograd.Function`` that keeps only the final output. During backward every block rebuilds
    its input by inversion and recomputes its local gradients, so activation memory no longer grows with
    depth. Requirements: blocks must be deterministic (no dropout, no batch statistics); data-dependent
    initialisations (ActNorm) happen in the first forward call as usual, so they are consistent with the
    recomputation. Double backward is not supported.

    Args:
        *modules: the blocks, in forward order (a single iterable is also accepted).
        memory_efficient: recompute activations by inversion during backward instead of storing them.
    """

    def __init__(self, *modules: InvertibleModule | Iterable[InvertibleModule], memory_efficient: bool = False):
        super().__init__()
        self.memory_efficient = memory_efficient
        items: list[InvertibleModule] = []
        for m in modules:
            if isinstance(m, nn.Module):
                items.append(m)  # type: ignore[arg-type]
            else:
                items.extend(m)
        for m in items:
            self.append(m)

    def append(self, module: InvertibleModule) -> InvertibleSequential:
        """Append a block (registered under the next index)."""
        if not isinstance(module, InvertibleModule):
            raise TypeError(f"InvertibleSequential holds InvertibleModules, got {type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[InvertibleModule]) -> InvertibleSequential:
        """Append several blocks."""
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[InvertibleModule]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    @overload
    def __getitem__(self, index: int) -> InvertibleModule: ...

    @overload
    def __getitem__(self, index: slice) -> InvertibleSequential: ...

    def __getitem__(self, index: int | slice) -> InvertibleModule | InvertibleSequential:
        blocks = list(self)
        if isinstance(index, slice):
            return InvertibleSequential(*blocks[index], memory_efficient=self.memory_efficient)
        return blocks[index]

    def extra_repr(self) -> str:
        return "memory_efficient=True" if self.memory_efficient else ""

    def _use_memory_efficient(self, x: Tensor, cond: Tensor | None) -> bool:
        if not (self.memory_efficient and torch.is_grad_enabled() and len(self) > 0):
            return False
        if x.requires_grad or (cond is not None and cond.requires_grad):
            return True
        return any(p.requires_grad for p in self.parameters())

    @staticmethod
    def _run_memory_efficient(
        blocks: Sequence[InvertibleModule], x: Tensor, cond: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        params: list[Tensor] = []
        seen: set[int] = set()
        for b in blocks:
            for p in b.parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        run = _ChainRun(blocks, params)
        y, logdet = _MemoryEfficientChain.apply(run, x, cond, *params)
        return y, logdet

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self._use_memory_efficient(x, cond):
            return self._run_memory_efficient(list(self), x, cond)
        logdet = x.new_zeros(x.shape[0])
        for m in self:
            x, ld = m(x, cond)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self._use_memory_efficient(y, cond):
            return self._run_memory_efficient([Inverse(m) for m in reversed(list(self))], y, cond)
        logdet = y.new_zeros(y.shape[0])
        for m in reversed(list(self)):
            y, ld = m.inverse(y, cond)
            logdet = logdet + ld
        return y, logdet


class FactorOut(InvertibleModule):
    """Multi-scale factor-out (RealNVP/Glow ``split``), kept shape-preserving so it fits the contract.

    The first ``keep_channels`` channels continue through ``inner``; the remaining channels are *factored
    out*: they are passed through unchanged and stay in place in the output::

        x = [x_keep | z]  ->  y = [inner(x_keep) | z],   logdet = logdet_inner

    ``inner`` must preserve the shape of ``x_keep`` (wrap a squeezing sub-flow as
    ``Squeeze -> steps -> Unsqueeze``). Nested ``FactorOut`` modules give the usual multi-scale architecture;
    the factored-out ``z`` of a level is ``y[:, keep_channels:]``. A model that wants a likelihood adds a
    prior on the whole output, e.g. ``standard_normal_log_prob(y) + logdet`` (all factored-out parts under
    ``N(0, I)``); the inverse consumes the same packed tensor, so sampling draws the packed tensor from the
    prior.

    Args:
        keep_channels: number of leading channels that go through ``inner``.
        inner: the sub-flow applied to the kept channels (must be shape-preserving).
    """

    def __init__(self, keep_channels: int, inner: InvertibleModule) -> None:
        super().__init__()
        if keep_channels < 1:
            raise ValueError(f"keep_channels must be >= 1, got {keep_channels}")
        self.keep_channels = keep_channels
        self.inner = inner

    def extra_repr(self) -> str:
        return f"keep_channels={self.keep_channels}"

    def _run(self, x: Tensor, cond: Tensor | None, inverse: bool) -> tuple[Tensor, Tensor]:
        if x.shape[1] <= self.keep_channels:
            raise ValueError(f"FactorOut needs more than {self.keep_channels} channels, got {x.shape[1]}")
        keep, z = x[:, : self.keep_channels], x[:, self.keep_channels :]
        out, logdet = self.inner.inverse(keep, cond) if inverse else self.inner(keep, cond)
        if out.shape != keep.shape:
            raise ValueError(
                f"FactorOut's inner flow must preserve shape, got {tuple(keep.shape)} -> {tuple(out.shape)}"
            )
        return torch.cat([out, z], dim=1), logdet

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._run(x, cond, inverse=False)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._run(y, cond, inverse=True)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """Log-density of ``z`` under ``N(0, I)``, summed per sample.

    Args:
        z: tensor ``(B, ...)``.

    Returns:
        ``(B,)``: ``-½ Σ (z² + ln 2π)``.
    """
    flat = z.reshape(z.shape[0], -1)
    return -0.5 * (flat.pow(2) + torch.log(flat.new_tensor(2 * torch.pi))).sum(dim=1)
