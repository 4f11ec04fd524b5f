"""Differentiable bounds used by the entropy models and GDN.

``lower_bound(x, b)`` is ``max(x, b)`` with a gradient that still flows where it would push ``x`` back above the
bound (Ballé et al., "Efficient nonlinear transforms for lossy image compression", PCS 2018, §3): a plain
``clamp`` would freeze any parameter that once fell below its bound.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["lower_bound"]


class _LowerBound(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, bound: Tensor) -> Tensor:
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        x, bound = ctx.saved_tensors
        # pass the gradient where x is above the bound, or where descending along it would raise x
        passes = (x >= bound) | (grad < 0)
        return grad * passes.to(grad.dtype), None


def lower_bound(x: Tensor, bound: float | Tensor) -> Tensor:
    """``max(x, bound)`` elementwise, with the pass-through gradient described in the module docstring.

    Args:
        x: Any tensor.
        bound: Scalar or tensor broadcastable to ``x``.

    Returns:
        Tensor of ``x``'s shape, dtype and device.
    """
    b = torch.as_tensor(bound, dtype=x.dtype, device=x.device)
    out: Tensor = _LowerBound.apply(x, b)
    return out
