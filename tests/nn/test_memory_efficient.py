"""Memory-efficient backpropagation: same gradients as plain autograd, far fewer saved activations."""

from __future__ import annotations

import copy

import pytest
import torch
from invertible_helpers import max_relative_error, perturb_parameters

from invrestore.nn import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    FactorOut,
    HaarDownsampling,
    InvBlock,
    InvConv1x1,
    Inverse,
    InvertibleSequential,
    LearnableDownsampling,
    SavedTensorCounter,
    Squeeze,
    Unsqueeze,
    data_initialize,
    subnet_factory,
)

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
DENSE = subnet_factory("dense", gc=8)


def _mixed_stack(memory_efficient: bool) -> InvertibleSequential:
    """Every block type, with conditioning on the couplings that support it: (B, 2, 8, 8) -> (B, 32, 2, 2)."""
    torch.manual_seed(0)
    inner = InvertibleSequential(Squeeze(2), AdditiveCoupling(16, subnet_factory("bottleneck", hidden=8)), Unsqueeze(2))
    return InvertibleSequential(
        HaarDownsampling(2),
        ActNorm(8),
        InvConv1x1(8, lu=True, init="orthogonal"),
        InvBlock(8, split=3, subnet=DENSE, cond_channels=1),
        AffineCoupling(8, subnet_factory("glow", hidden=8), scale_fn="glow", cond_channels=1),
        AffineCoupling(8, subnet_factory("resnet", hidden=8), mask="checkerboard"),
        FactorOut(4, inner),
        InvConv1x1(8),
        LearnableDownsampling(8, 2),
        Inverse(InvBlock(32, split=8, subnet=DENSE)),
        memory_efficient=memory_efficient,
    )


def _prepared_pair(dtype: torch.dtype) -> tuple[InvertibleSequential, InvertibleSequential]:
    plain = _mixed_stack(memory_efficient=False).to(dtype)
    perturb_parameters(plain)
    data_initialize(plain, *_inputs(dtype))  # ActNorm's data-dependent init, before copying
    efficient = copy.deepcopy(plain)
    efficient.memory_efficient = True
    return plain, efficient


def _inputs(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 2, 8, 8, generator=g, dtype=torch.float64).to(dtype).requires_grad_(True)
    cond = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64).to(dtype).requires_grad_(True)
    return x, cond


def _loss(y: torch.Tensor, logdet: torch.Tensor) -> torch.Tensor:
    weights = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
    return 0.5 * y.pow(2).sum() + (weights * y).sum() - logdet.sum()


def _trainable(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_memory_efficient_gradients_equal_plain_autograd(dtype: torch.dtype, direction: str) -> None:
    plain, efficient = _prepared_pair(dtype)
    x, cond = _inputs(dtype)
    if direction == "inverse":
        with torch.no_grad():
            x = plain(x, cond)[0].requires_grad_(True)
    results = []
    for model in (plain, efficient):
        fn = model if direction == "forward" else model.inverse
        y, logdet = fn(x, cond)
        grads = torch.autograd.grad(_loss(y, logdet), [x, cond, *_trainable(model)])
        results.append((y.detach(), logdet.detach(), grads))
    (y_p, ld_p, g_p), (y_e, ld_e, g_e) = results
    # equal up to float rounding (bit-equal on some CPUs; oneDNN/MKL may order sums differently under no_grad)
    assert max_relative_error(y_e, y_p) <= TOLERANCE[dtype] and max_relative_error(ld_e, ld_p) <= TOLERANCE[dtype]
    for a, b in zip(g_p, g_e):
        assert max_relative_error(b, a) <= TOLERANCE[dtype]


def test_log_determinant_alone_is_differentiable_in_memory_efficient_mode() -> None:
    plain, efficient = _prepared_pair(torch.float64)
    x, cond = _inputs(torch.float64)
    grads = []
    for model in (plain, efficient):
        inputs = [x, *_trainable(model)]
        grad = torch.autograd.grad(model(x, cond)[1].sum(), inputs, allow_unused=True)
        grads.append([torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grad)])
    for a, b in zip(*grads):
        assert max_relative_error(b, a) <= 1e-10


def test_loss_backward_accumulates_parameter_gradients_like_plain_autograd() -> None:
    plain, efficient = _prepared_pair(torch.float64)
    x, cond = _inputs(torch.float64)
    for model in (plain, efficient):
        _loss(*model(x, cond)).backward()
    for (name, p), q in zip(plain.named_parameters(), efficient.parameters()):
        if p.requires_grad:
            assert p.grad is not None and q.grad is not None, name
            assert max_relative_error(q.grad, p.grad) <= 1e-10, name


def test_memory_efficient_mode_saves_only_the_final_output() -> None:
    _, efficient = _prepared_pair(torch.float32)
    x = torch.randn(2, 2, 8, 8, requires_grad=True)
    cond = torch.randn(2, 1, 4, 4)
    with SavedTensorCounter(exclude=efficient.parameters()) as counter:
        y, _ = efficient(x, cond)
    assert counter.bytes == y.numel() * y.element_size() + cond.numel() * cond.element_size()


def test_memory_efficient_mode_saves_far_fewer_activation_bytes_in_an_irn_stack() -> None:
    torch.manual_seed(0)
    blocks = [HaarDownsampling(3)] + [InvBlock(12, subnet=DENSE) for _ in range(6)]
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    saved = {}
    for memory_efficient in (False, True):
        model = InvertibleSequential(*blocks, memory_efficient=memory_efficient)
        with SavedTensorCounter(exclude=model.parameters()) as counter:
            model(x)
        saved[memory_efficient] = counter.bytes
    assert saved[True] * 20 < saved[False]


def test_memory_efficient_flag_is_ignored_without_gradients() -> None:
    plain, efficient = _prepared_pair(torch.float32)
    x, cond = _inputs(torch.float32)
    with torch.no_grad():
        y, _ = efficient(x, cond)
    assert y.grad_fn is None and torch.equal(y, plain(x, cond)[0].detach())


def test_nested_memory_efficient_chains_give_plain_gradients() -> None:
    torch.manual_seed(0)
    inner = InvertibleSequential(*[InvBlock(4, split=1, subnet=DENSE) for _ in range(2)], memory_efficient=True)
    outer = InvertibleSequential(HaarDownsampling(1), inner, InvConv1x1(4), memory_efficient=True).double()
    perturb_parameters(outer)
    reference = copy.deepcopy(outer)
    for m in reference.modules():
        if isinstance(m, InvertibleSequential):
            m.memory_efficient = False
    x = torch.randn(2, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    grads = [torch.autograd.grad(_loss(*m(x)), [x, *_trainable(m)]) for m in (reference, outer)]
    for a, b in zip(*grads):
        assert max_relative_error(b, a) <= 1e-10


def test_modifying_parameters_between_forward_and_backward_raises_a_clear_error() -> None:
    _, efficient = _prepared_pair(torch.float32)
    x, cond = _inputs(torch.float32)
    y, logdet = efficient(x, cond)
    with torch.no_grad():
        next(p for p in efficient.parameters() if p.requires_grad).add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        _loss(y, logdet).backward()
