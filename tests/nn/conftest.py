"""Fixtures for the invertible-block tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def single_torch_thread() -> Iterator[None]:
    """Run each test on one intra-op thread.

    The tensors here are tiny; with ``pytest -n 2`` on two cores, extra threads only spin and oversubscribe
    the CPU (one thread makes this suite about 4x faster).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
