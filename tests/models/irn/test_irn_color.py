"""IRN_color: official size and layout, exact round trip, decolorize/colorize from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from invrestore.cli.main import cli
from invrestore.models import create_model
from invrestore.models.irn import IRNColor
from invrestore.train import save_weights


def _perturbed() -> IRNColor:
    torch.manual_seed(0)
    m = create_model("irn-color")
    assert isinstance(m, IRNColor)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return m.eval()


def test_irn_color_has_the_official_parameter_count_and_keys() -> None:
    m = create_model("irn-color")
    assert sum(p.numel() for p in m.parameters()) == 1_413_601
    keys = list(m.state_dict())
    assert keys[0] == "operations.0.conv_weights" and keys[1] == "operations.1.F.conv1.weight"
    assert keys[-1] == "operations.8.H.conv5.bias"


def test_the_colour_matrix_starts_as_yuv_so_the_gray_image_is_luma() -> None:
    m = create_model("irn-color")
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        gray, _ = m.decolorize(x, quantize=False)
    luma = 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:]
    assert torch.allclose(gray, luma, atol=1e-6)


def test_the_round_trip_is_exact_at_a_random_init() -> None:
    m = _perturbed()
    x = torch.rand(2, 3, 13, 17)
    with torch.no_grad():
        out, ld = m(x)
        x_rec, ld_inv = m.inverse(out)
    assert (x_rec - x).abs().max() <= 1e-4
    assert torch.allclose(ld, -ld_inv, rtol=1e-4, atol=1e-3)


def _weights(tmp_path: Path) -> Path:
    save_weights(_perturbed().state_dict(), tmp_path / "c.safetensors")
    return tmp_path / "c.safetensors"


def test_decolorize_then_colorize_works_on_any_size(tmp_path: Path) -> None:
    from invrestore.io import read_image_uint, write_image

    w = _weights(tmp_path)
    write_image(tmp_path / "a.png", np.random.default_rng(0).integers(0, 256, (11, 7, 3), np.uint8))
    r = CliRunner().invoke(cli, ["decolorize", str(tmp_path / "a.png"), "--weights", str(w), "-o", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    assert read_image_uint(tmp_path / "g" / "a.png").shape == (11, 7)
    r = CliRunner().invoke(
        cli, ["colorize", str(tmp_path / "g" / "a.png"), "--weights", str(w), "-o", str(tmp_path / "c")]
    )
    assert r.exit_code == 0, r.output
    assert read_image_uint(tmp_path / "c" / "a.png").shape == (11, 7, 3)


def test_decolorizing_a_grayscale_image_is_refused(tmp_path: Path) -> None:
    from invrestore.io import write_image

    write_image(tmp_path / "g.png", np.zeros((8, 8), np.uint8))
    r = CliRunner().invoke(cli, ["decolorize", str(tmp_path / "g.png"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 1 and "nothing to decolorize" in r.output.replace(
        "no colour to decolorize", "nothing to decolorize"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_irn_color_trains_with_the_luma_guide_and_z_zero(data_root: Path, tmp_path: Path) -> None:
    from invrestore.models.registry import load_task
    from invrestore.train import fit

    cfg = Path(__file__).resolve().parents[3] / "configs" / "irn" / "color.yaml"
    task = load_task(
        cfg,
        (
            "data.train_sets=[]",
            f"data.train_folders=[{data_root / 'eval' / 'Set5'}]",
            "data.crop_size=16",
            "data.val_set=Set5",
            "data.val_limit=1",
            f"data.root={data_root}",
            "train.steps=2",
            "train.batch_size=2",
            "train.val_every=2",
        ),
    )
    res = fit(task, tmp_path, progress=False)
    assert res.step == 2 and "psnr_rgb" in res.last_metrics
