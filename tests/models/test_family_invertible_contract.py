"""The invertible-module contract for every :class:`~invrestore.nn.InvertibleModule` defined inside a model family.

The blocks of :mod:`invrestore.nn` are covered by ``tests/nn/test_invertible_contract.py``; this file finds the
subclasses that live under ``invrestore.models`` (by importing every family and walking
``InvertibleModule.__subclasses__()``) and checks each on a tiny example from :data:`EXAMPLES`:

- ``forward`` returns ``(y, logdet)`` with ``logdet`` of shape ``(B,)``;
- ``inverse(y)`` returns ``(x, -logdet)`` and recovers ``x``;
- ``logdet`` is ``log|det J|`` of the autograd Jacobian (float64, one sample).

A new family block without an entry in :data:`EXAMPLES` fails :func:`test_every_family_block_has_an_example`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor

from invrestore.models.registry import FAMILIES
from invrestore.nn import BlockExample, InvertibleModule

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nn"))
from invertible_helpers import assert_logdet_is_jacobian_logdet, build_example, example_inputs, max_relative_error


def _family_blocks() -> dict[str, type[InvertibleModule]]:
    """``{qualified class name: class}`` of the InvertibleModule subclasses defined in ``invrestore.models``."""
    for family in FAMILIES:
        importlib.import_module(f"invrestore.models.{family}")
    found: dict[str, type[InvertibleModule]] = {}
    todo = list(InvertibleModule.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("invrestore.models"):
            if found.get(cls.__qualname__, cls) is not cls:
                _CLASHES.append(f"{found[cls.__qualname__].__module__} and {cls.__module__}: {cls.__qualname__}")
            found[cls.__qualname__] = cls
    return found


_CLASHES: list[str] = []


def _irae_flow_step() -> InvertibleModule:
    from invrestore.models.irae.model import FlowStep

    return FlowStep(4, width=8)


def _irae_glow() -> InvertibleModule:
    from invrestore.models.irae.model import IRAEGlow

    return IRAEGlow(in_channels=3, width=8, depth=2, levels=2)


def _irn_color_matrix() -> InvertibleModule:
    from invrestore.models.irn.color import ColorMatrix

    return ColorMatrix()


def _selfvae_alt_squeeze() -> InvertibleModule:
    from invrestore.models.selfvae.prior import AltSqueeze

    return AltSqueeze()


#: A tiny example per family block, by class name (keep C·H·W below ~150: the float64 Jacobian stays cheap).
EXAMPLES: dict[str, BlockExample] = {
    "FlowStep": BlockExample("FlowStep", _irae_flow_step, (4, 4, 4)),
    "IRAEGlow": BlockExample("IRAEGlow", _irae_glow, (3, 4, 4)),
    "ColorMatrix": BlockExample("ColorMatrix", _irn_color_matrix, (3, 3, 3)),
    "AltSqueeze": BlockExample("AltSqueeze", _selfvae_alt_squeeze, (2, 4, 4)),
}

BLOCKS = _family_blocks()
NAMES = sorted(BLOCKS)
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def test_every_family_block_has_an_example() -> None:
    missing = [f"{BLOCKS[n].__module__}.{n}" for n in NAMES if n not in EXAMPLES]
    assert not missing, (
        f"InvertibleModule subclasses without a contract example: {', '.join(missing)}; add a tiny constructor "
        f"to EXAMPLES in {Path(__file__).relative_to(Path(__file__).resolve().parents[2])}"
    )
    assert NAMES, "no InvertibleModule is defined inside invrestore.models (the discovery is broken)"


def test_family_block_names_are_unique() -> None:
    assert not _CLASHES, f"two families define an InvertibleModule of the same name (EXAMPLES is by name): {_CLASHES}"


def test_every_example_builds_the_class_it_is_listed_under() -> None:
    stale = [n for n in EXAMPLES if n not in BLOCKS]
    assert not stale, f"EXAMPLES lists classes no family defines any more: {', '.join(stale)}"
    for name, example in EXAMPLES.items():
        assert type(example.build()) is BLOCKS[name]


def _example(name: str) -> BlockExample:
    if name not in EXAMPLES:
        pytest.fail(f"{name} has no entry in EXAMPLES (see test_every_family_block_has_an_example)")
    return EXAMPLES[name]


@pytest.mark.parametrize("name", NAMES)
def test_forward_returns_output_and_per_sample_logdet(name: str) -> None:
    example = _example(name)
    block = build_example(example, torch.float32)
    x, cond = example_inputs(example, batch=3, dtype=torch.float32)
    with torch.no_grad():
        out = block(x, cond)
    assert isinstance(out, tuple) and len(out) == 2, f"{name}.forward must return (y, logdet)"
    y, logdet = out
    assert isinstance(y, Tensor) and isinstance(logdet, Tensor)
    assert logdet.shape == (3,), f"{name}: logdet has shape {tuple(logdet.shape)}, expected (B,) = (3,)"
    assert y.numel() == x.numel(), "a bijection keeps the number of elements"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_inverse_recovers_input_and_negates_logdet(name: str, dtype: torch.dtype) -> None:
    example = _example(name)
    block = build_example(example, dtype)
    x, cond = example_inputs(example, dtype=dtype)
    with torch.no_grad():
        y, logdet = block(x, cond)
        out = block.inverse(y, cond)
    assert isinstance(out, tuple) and len(out) == 2, f"{name}.inverse must return (x, logdet)"
    x_rec, logdet_inv = out
    assert x_rec.shape == x.shape
    assert max_relative_error(x_rec, x) <= TOLERANCE[dtype]
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(logdet_inv, -logdet, rtol=tol, atol=tol)


@pytest.mark.parametrize("direction", ["forward", "inverse"])
@pytest.mark.parametrize("name", NAMES)
def test_logdet_is_log_abs_det_of_the_autograd_jacobian(name: str, direction: str) -> None:
    example = _example(name)
    block = build_example(example)
    assert_logdet_is_jacobian_logdet(block, example, direction)
