"""Helpers shared by the invertible-block tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from invrestore.nn import BlockExample, InvertibleModule


def perturb_parameters(module: nn.Module, scale: float = 0.1, seed: int = 1) -> None:
    """Add Gaussian noise to every trainable parameter (zero-init subnets would make tests trivial)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.requires_grad:
                p.add_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype))


def build_example(example: BlockExample, dtype: torch.dtype = torch.float64, seed: int = 0) -> InvertibleModule:
    """Build a registered example with a fixed seed, cast it, perturb it and put it in eval mode."""
    torch.manual_seed(seed)
    block = example.build().to(dtype)
    perturb_parameters(block, seed=seed + 1)
    return block.eval()


def example_inputs(
    example: BlockExample, batch: int = 3, dtype: torch.dtype = torch.float64, seed: int = 2
) -> tuple[Tensor, Tensor | None]:
    """Random ``(x, cond)`` for a registered example (``cond`` is None if the example takes none)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *example.input_shape, generator=g, dtype=torch.float64).to(dtype)
    cond = None
    if example.cond_shape is not None:
        cond = torch.randn(batch, *example.cond_shape, generator=g, dtype=torch.float64).to(dtype)
    return x, cond


def max_relative_error(actual: Tensor, expected: Tensor) -> float:
    """``max|actual − expected| / max(max|expected|, 1)``."""
    scale = max(expected.abs().max().item(), 1.0)
    return (actual - expected).abs().max().item() / scale


def assert_logdet_is_jacobian_logdet(block: InvertibleModule, example: BlockExample, direction: str) -> None:
    """The block's log-determinant (``direction``: ``"forward"`` or ``"inverse"``) equals log|det J| of the
    autograd Jacobian, on one example input (float64)."""
    x, cond = example_inputs(example, batch=1)
    if direction == "inverse":
        with torch.no_grad():
            x, _ = block(x, cond)
    fn = block if direction == "forward" else block.inverse
    shape = x.shape

    def flat(v: Tensor) -> Tensor:
        return fn(v.reshape(shape), cond)[0].reshape(-1)

    jac = torch.autograd.functional.jacobian(flat, x.reshape(-1))
    assert jac.shape[0] == jac.shape[1], "a bijection keeps the number of elements"
    expected = torch.linalg.slogdet(jac).logabsdet
    _, logdet = fn(x, cond)
    torch.testing.assert_close(logdet[0], expected, rtol=1e-9, atol=1e-9)
