"""``invrestore eval --z-draws N``: mean ± std over N z draws with the seeds stated, beside the single draw; and
``eval --model selfvae-*`` from a fresh process (the registry filled before dispatching)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from invrestore.cli.main import cli


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return res.exit_code, res.output


@pytest.fixture()
def tiny_set5(tmp_path: Path) -> Path:
    """A data root whose Set5 holds two 24×24 images."""
    folder = tmp_path / "data" / "eval" / "Set5"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        base = rng.integers(0, 256, size=(6, 6, 3)).astype(np.uint8)
        Image.fromarray(np.kron(base, np.ones((4, 4, 1), dtype=np.uint8))).save(folder / f"img{i}.png")
    return tmp_path / "data"


def test_z_draws_reports_mean_and_std_with_seeds_beside_the_single_draw(tiny_set5: Path, tmp_path: Path) -> None:
    common = ["eval", "--model", "irn-x2", "--scale", "2", "--dataset", "Set5", "--data-root", str(tiny_set5)]
    code, out = run(*common, "--z-draws", "3", "--seed", "4", "--json", str(tmp_path / "d.json"))
    assert code == 0, out
    assert "seeds 4, 5, 6" in out and "PSNR-Y mean ± std" in out
    report = json.loads((tmp_path / "d.json").read_text())
    stats = report["z_draws"]
    assert stats["seeds"] == [4, 5, 6]
    per = stats["psnr_y"]["per_draw"]
    assert len(per) == 3 and len(set(per)) == 3  # the draws differ
    assert stats["psnr_y"]["mean"] == pytest.approx(statistics.mean(per))
    assert stats["psnr_y"]["std"] == pytest.approx(statistics.stdev(per))
    row = next(ln for ln in out.splitlines() if ln.startswith("Set5"))
    assert f"{stats['psnr_y']['mean']:.2f} ± {stats['psnr_y']['std']:.2f}" in row
    # the table's first number is the single draw of --seed, the same as a plain run with that seed
    code, out = run(*common, "--seed", "4", "--json", str(tmp_path / "s.json"))
    single = json.loads((tmp_path / "s.json").read_text())
    assert code == 0 and report["psnr_y"] == single["psnr_y"] == per[0], out
    code, out = run(*common, "--z-draws", "3", "--z", "zero")
    assert code == 1 and "--z-draws applies to IRN models with a random z" in out
    code, out = run(*common, "--z-draws", "3", "--z-samples", "2")
    assert code == 1 and "not both" in out


def test_eval_serves_a_selfvae_from_a_fresh_process(tmp_path: Path) -> None:
    from invrestore.models import create_model
    from invrestore.models.selfvae import data_dependent_init
    from invrestore.train import save_weights

    rng = np.random.default_rng(0)
    npz = tmp_path / "data" / "misc" / "CIFAR10_partial" / "cifar10_partial.npz"
    npz.parent.mkdir(parents=True)
    imgs = np.kron(rng.integers(0, 256, size=(6, 4, 4, 3)), np.ones((1, 8, 8, 1))).astype(np.uint8)
    labels = np.zeros(3, dtype=np.uint8)
    np.savez(npz, x_train=imgs[:3], y_train=labels, x_test=imgs[3:], y_test=labels)
    torch.manual_seed(0)
    model = create_model("selfvae-downscale-small")
    data_dependent_init(model, torch.from_numpy(imgs[:3]).permute(0, 3, 1, 2).float() / 255)
    save_weights(model.state_dict(), tmp_path / "svae.safetensors")
    res = subprocess.run(
        [sys.executable, "-m", "invrestore", "eval", "--model", "selfvae-downscale-small", "--weights",
         str(tmp_path / "svae.safetensors"), "--dataset", "CIFAR-10-partial", "--data-root", str(tmp_path / "data"),
         "--iw-samples", "2"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "--scale is required" not in res.stderr and "ELBO bpd" in res.stdout
