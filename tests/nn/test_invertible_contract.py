"""The invertible-module contract, checked for every block in ``invrestore.nn.BLOCK_REGISTRY``.

A new block is covered as soon as it registers an example (see ``invrestore/nn/registry.py``).
"""

from __future__ import annotations

import copy

import pytest
import torch
from invertible_helpers import assert_logdet_is_jacobian_logdet, build_example, example_inputs, max_relative_error

from invrestore.nn import BLOCK_REGISTRY, InvertibleSequential

NAMES = sorted(BLOCK_REGISTRY)
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def test_registry_covers_every_public_block_class() -> None:
    import invrestore.nn as inn

    covered: set[type] = set()
    for example in BLOCK_REGISTRY.values():
        for module in example.build().modules():
            covered.add(type(module))
    public_blocks = {
        obj
        for obj in vars(inn).values()
        if isinstance(obj, type) and issubclass(obj, inn.InvertibleModule) and obj is not inn.InvertibleModule
    }
    assert public_blocks - covered == set()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_inverse_recovers_input(name: str, dtype: torch.dtype) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example, dtype)
    x, cond = example_inputs(example, dtype=dtype)
    with torch.no_grad():
        y, _ = block(x, cond)
        x_rec, _ = block.inverse(y, cond)
    assert x_rec.shape == x.shape
    assert max_relative_error(x_rec, x) <= TOLERANCE[dtype]


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_inverse_log_determinants_cancel(name: str) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example)
    x, cond = example_inputs(example)
    with torch.no_grad():
        y, logdet = block(x, cond)
        _, logdet_inv = block.inverse(y, cond)
    torch.testing.assert_close(logdet_inv, -logdet, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("direction", ["forward", "inverse"])
@pytest.mark.parametrize("name", NAMES)
def test_log_determinant_equals_log_abs_det_of_autograd_jacobian(name: str, direction: str) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example)
    assert_logdet_is_jacobian_logdet(block, example, direction)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_outputs_and_log_determinants_follow_the_input_dtype_and_device(name: str, dtype: torch.dtype) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example, dtype)
    x, cond = example_inputs(example, batch=2, dtype=dtype)
    for fn in (block, block.inverse):
        out, logdet = fn(x if fn is block else block(x, cond)[0], cond)
        assert out.dtype == dtype and logdet.dtype == dtype
        assert out.device == x.device and logdet.device == x.device
        assert logdet.shape == (2,)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_outputs_stay_on_the_cuda_device_of_the_input(name: str) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example, torch.float32).cuda()
    x, cond = example_inputs(example, dtype=torch.float32)
    x = x.cuda()
    cond = cond.cuda() if cond is not None else None
    y, logdet = block(x, cond)
    x_rec, logdet_inv = block.inverse(y, cond)
    assert y.is_cuda and logdet.is_cuda and x_rec.is_cuda and logdet_inv.is_cuda
    assert max_relative_error(x_rec, x) <= 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_samples_in_a_batch_are_transformed_independently(name: str) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example)
    x, cond = example_inputs(example, batch=3)
    with torch.no_grad():
        y, logdet = block(x, cond)
        for i in range(3):
            yi, ldi = block(x[i : i + 1], None if cond is None else cond[i : i + 1])
            torch.testing.assert_close(yi[0], y[i], rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(ldi[0], logdet[i], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_repeated_calls_give_identical_results_and_keep_no_state(name: str) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example)
    x, cond = example_inputs(example)
    state = copy.deepcopy(block.state_dict())
    with torch.no_grad():
        first = block(x, cond)
        block.inverse(first[0], cond)
        second = block(x, cond)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    for key, value in block.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("name", [n for n in NAMES if BLOCK_REGISTRY[n].cond_shape is not None])
def test_conditioning_input_changes_the_output(name: str) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example)
    x, cond = example_inputs(example)
    assert cond is not None
    with torch.no_grad():
        y1, _ = block(x, cond)
        y2, _ = block(x, cond + 1.0)
    assert not torch.allclose(y1, y2)


@pytest.mark.parametrize("name", NAMES)
def test_every_trainable_parameter_receives_a_finite_gradient(name: str) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example).train()
    x, cond = example_inputs(example)
    x.requires_grad_(True)
    y, logdet = block(x, cond)
    weights = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
    ((y * weights).sum() + logdet.sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for pname, p in block.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, pname
            assert torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", NAMES)
def test_memory_efficient_backward_matches_plain_autograd(name: str) -> None:
    example = BLOCK_REGISTRY[name]
    block = build_example(example)
    x, cond = example_inputs(example)
    x.requires_grad_(True)
    if cond is not None:
        cond.requires_grad_(True)
    inputs = [x] + ([cond] if cond is not None else [])
    params = [p for p in block.parameters() if p.requires_grad]

    def grads(memory_efficient: bool) -> list[torch.Tensor]:
        chain = InvertibleSequential(block, memory_efficient=memory_efficient)
        y, logdet = chain(x, cond)
        weights = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
        loss = (y * weights).sum() + 0.5 * y.pow(2).sum() + logdet.sum()
        return list(torch.autograd.grad(loss, inputs + params))

    for plain, efficient in zip(grads(False), grads(True)):
        assert max_relative_error(efficient, plain) <= 1e-10
