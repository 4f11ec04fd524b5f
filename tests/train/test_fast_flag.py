"""``invrestore train --fast``: each family's recommended fast settings load on every preset, suit its training set,
and yield to the user's own ``--set`` values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from invrestore.cli.main import cli
from invrestore.data.datasets import PairedDataset
from invrestore.errors import DatasetNotFoundError
from invrestore.models.registry import load_task
from invrestore.train.config import FAST_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
PRESETS = sorted((ROOT / "configs").glob("*/*.yaml"))
DATA = ROOT.parent / "shared" / "data"


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fast_settings_load_on_every_preset_and_suit_its_training_set(
    preset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = load_task(preset, fast=True)
    t = task.train
    assert t.precision == "bf16" and t.fused_optim and t.sync_every == 10 and t.flow_float32
    wants_resident = "train.device_resident=true" in task.fast_settings
    assert t.device_resident == wants_resident
    if not wants_resident or not DATA.is_dir():
        return
    monkeypatch.setenv("INVRESTORE_DATA", str(DATA))
    try:
        ds = task.train_dataset()
    except DatasetNotFoundError:
        pytest.skip(f"{preset.name}: its training data is not in ../shared/data")
    assert isinstance(ds, PairedDataset)  # what train.device_resident needs


def test_the_users_overrides_win_over_the_fast_settings() -> None:
    preset = ROOT / "configs" / "irn" / "cpu_x2.yaml"
    assert load_task(preset).train.precision == "float32"  # off by default
    task = load_task(preset, ("train.precision=float32", "train.sync_every=5"), fast=True)
    assert task.train.precision == "float32" and task.train.sync_every == 5 and task.train.channels_last
    assert set(task.fast_settings) == set(FAST_SETTINGS)


def test_the_cli_flag_trains_with_them_and_records_them_in_the_run_config(tmp_path: Path) -> None:
    import torch

    from invrestore.io import write_image

    root = tmp_path / "data"
    g = torch.Generator().manual_seed(0)
    for s in ("T91", "BSDS200"):
        (root / "train" / s).mkdir(parents=True)
        for i in range(2):
            write_image(root / "train" / s / f"{i}.png", torch.rand(3, 40, 44, generator=g))
    preset = ROOT / "configs" / "irn" / "cpu_x2.yaml"
    run = tmp_path / "run"
    args = ["train", str(preset), "--fast", "--run-dir", str(run), "--no-progress", "--set", f"data.root={root}"]
    args += ["--set", "train.steps=2", "--set", "train.log_every=1", "--set", "train.val_every=0"]
    args += ["--set", "data.crop_size=16", "--set", "train.batch_size=2"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    cfg = (run / "config.yaml").read_text()
    assert "precision: bf16" in cfg and "device_resident: true" in cfg and "channels_last: true" in cfg
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r["kind"] == "train"] == [1, 2]
