"""Every YAML preset in configs/ loads into its family's config (unknown keys would be errors) and builds its model.

``load_task`` is the registry's (what ``invrestore train`` runs): it validates the whole config at load time. The
model is built on the CPU; no dataset is touched. Files a preset names but the repository does not ship (a trained
ILC teacher, ImageNet VGG19 weights for IRN+'s perceptual loss) are replaced by :func:`_local_files`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from invrestore.models import create_model
from invrestore.models.registry import load_task
from invrestore.train.checkpoint import save_weights

PRESETS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("**/*.yaml"))
IDS = [str(p.relative_to(p.parents[1]).with_suffix("")) for p in PRESETS]


def _raw(path: Path) -> dict[str, Any]:
    data = OmegaConf.to_container(OmegaConf.load(path))
    assert isinstance(data, dict)
    return {str(k): v for k, v in data.items()}


def _local_files(path: Path, tmp_path: Path) -> list[str]:
    """``--set`` overrides standing in for the external files a preset needs to build its model.

    - ILC presets distil from a trained teacher (``teacher.weights``): a randomly initialised teacher of the named
      architecture, saved as safetensors, takes its place.
    - IRN+ presets load torchvision's ImageNet VGG19 for the perceptual loss when the model is built: the loss is
      switched off (``loss.lambda_percep=0``), which does not change the model.
    """
    raw = _raw(path)
    overrides: list[str] = []
    teacher = raw.get("teacher")
    if raw.get("family") == "ilc" and isinstance(teacher, dict) and teacher.get("name"):
        file = tmp_path / f"{teacher['name']}.safetensors"
        torch.manual_seed(0)
        save_weights(create_model(teacher["name"]).state_dict(), file)
        overrides.append(f"teacher.weights={file}")
    if raw.get("family") == "irn-plus":
        overrides.append("loss.lambda_percep=0")
    return overrides


def test_there_are_presets_for_the_trainable_families() -> None:
    assert {p.parent.name for p in PRESETS} >= {"irn", "ilc", "irae"}


@pytest.mark.parametrize("path", PRESETS, ids=IDS)
def test_preset_loads_into_its_config(path: Path) -> None:
    task = load_task(path)
    assert task.train.steps > 0 and task.train.batch_size > 0


@pytest.mark.parametrize("path", PRESETS, ids=IDS)
def test_preset_builds_its_model(path: Path, tmp_path: Path) -> None:
    task = load_task(path, _local_files(path, tmp_path))
    torch.manual_seed(0)
    model = task.build_model()
    assert isinstance(model, nn.Module)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert task.family == _raw(path)["family"]
