"""Shared fixtures. The benchmark data comes from ``$INVRESTORE_DATA`` or ``../shared/data`` beside the clone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

_REPO = Path(__file__).resolve().parents[1]
_DEFAULT = _REPO.parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    # Tests run under pytest-xdist with one worker per core: more intra-op threads than cores makes the many small
    # tensor ops of resizing/filtering/training steps several times slower through contention.
    torch.set_num_threads(1)


def shared_data_root() -> Path | None:
    env = os.environ.get("INVRESTORE_DATA")
    root = Path(env) if env else _DEFAULT
    return root if root.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The benchmark data root; tests that need it are skipped when it is absent."""
    root = shared_data_root()
    if root is None:
        pytest.skip("benchmark data not found: set INVRESTORE_DATA or put shared/data beside the clone")
    return root


@pytest.fixture()
def data_env(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``$INVRESTORE_DATA`` at the benchmark data for the duration of a test."""
    monkeypatch.setenv("INVRESTORE_DATA", str(data_root))
    return data_root
