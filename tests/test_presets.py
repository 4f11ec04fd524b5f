"""Every YAML preset in configs/ loads into its family's config (unknown keys would be errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from invrestore.cli.train import load_task

PRESETS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*/*.yaml"))


def test_there_are_presets_for_the_trainable_families() -> None:
    assert {p.parent.name for p in PRESETS} >= {"irn", "ilc", "irae"}


@pytest.mark.parametrize("path", PRESETS, ids=[f"{p.parent.name}/{p.stem}" for p in PRESETS])
def test_preset_loads_into_its_config(path: Path) -> None:
    task = load_task(path)
    assert task.train.steps > 0 and task.train.batch_size > 0
