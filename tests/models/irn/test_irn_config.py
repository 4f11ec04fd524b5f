"""IRN and IRN_color presets: bad values and old keys fail when the config is loaded, with the key named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from invrestore.errors import ConfigError
from invrestore.models.irn.color_steps import IRNColorTask
from invrestore.models.irn.steps import IRNTask
from invrestore.models.registry import load_task

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "irn"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loss.guide_loss=l3", "loss.guide_loss='l3' is unknown; allowed: l2, l1"),
        ("loss.y_noise_prob=1.5", "loss.y_noise_prob=1.5 is out of range; allowed: in [0, 1]"),
        ("loss.eps=0", "loss.eps=0.0 is out of range; allowed: > 0"),
        ("loss.lambda_fit=-1", "loss.lambda_fit=-1.0 is out of range"),
        ("data.crop_size=0", "data.crop_size=0 is out of range; allowed: >= 1"),
        ("data.repeat=0", "data.repeat=0"),
        ("model.name=irn-color", "trained by family 'irn-color', not 'irn' (set family: irn-color)"),
        ("model.name=irn-x5", "model.name='irn-x5' is not a registered model"),
        ("model.blocks=3", "blocks"),
    ],
)
def test_bad_irn_settings_fail_at_load_time_naming_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_task(CONFIGS / "x2.yaml", (override,))


def test_the_old_keys_say_where_they_went(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.init_weights.*top-level key now: init_weights"):
        load_task(CONFIGS / "x2.yaml", ("model.init_weights=IRN_x2.pth",))
    old_color = tmp_path / "old_color.yaml"
    old_color.write_text("family: irn\nmodel:\n  name: irn-color\ndata:\n  guide: luma\n")
    with pytest.raises(ConfigError, match=r"data\.guide.*family: irn-color"):
        load_task(old_color)


def test_irn_and_irn_color_presets_build_their_own_tasks() -> None:
    task = load_task(CONFIGS / "cpu_x4.yaml", ("init_weights=null",))
    assert isinstance(task, IRNTask) and task.scale == 4 and task.best_metric == "psnr_y"
    color = load_task(CONFIGS / "cpu_color.yaml")
    assert isinstance(color, IRNColorTask) and color.best_metric == "psnr_rgb"
    assert color.cfg.loss.lambda_fit == 3 and color.cfg.loss.gaussian_scale == 0


def test_init_weights_starts_the_model_from_a_file(tmp_path: Path) -> None:
    import torch

    from invrestore.models.registry import create_model
    from invrestore.train import save_weights

    torch.manual_seed(1)
    src = create_model("irn-x2")
    save_weights(src.state_dict(), tmp_path / "w.safetensors")
    task = load_task(CONFIGS / "tiny.yaml", (f"init_weights={tmp_path / 'w.safetensors'}",))
    got = task.build_model().state_dict()
    assert all(torch.equal(got[k], v) for k, v in src.state_dict().items())
