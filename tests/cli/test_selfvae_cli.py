"""`invrestore eval-bpd` and `invrestore sample` with a tiny random selfVAE-family model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from invrestore.cli.main import cli
from invrestore.io import read_image
from invrestore.models import create_model
from invrestore.models.selfvae import data_dependent_init
from invrestore.train import save_weights


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return res.exit_code, res.output


def _one_error_line(code: int, out: str) -> None:
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("invrestore: error:"), out


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A data root with a tiny ``CIFAR-10-partial`` and the weights of a data-initialised ``vae-small``."""
    rng = np.random.default_rng(0)
    npz = tmp_path / "data" / "misc" / "CIFAR10_partial" / "cifar10_partial.npz"
    npz.parent.mkdir(parents=True)
    imgs = np.kron(rng.integers(0, 256, size=(10, 4, 4, 3)), np.ones((1, 8, 8, 1))).astype(np.uint8)
    labels = np.zeros(5, dtype=np.uint8)
    np.savez(npz, x_train=imgs[:5], y_train=labels, x_test=imgs[5:], y_test=labels)
    torch.manual_seed(0)
    model = create_model("vae-small")
    data_dependent_init(model, torch.from_numpy(imgs[:5]).permute(0, 3, 1, 2).float() / 255)
    weights = tmp_path / "vae.safetensors"
    save_weights(model.state_dict(), weights)
    return tmp_path / "data", weights


def test_eval_bpd_reports_elbo_and_iw_and_writes_json(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, weights = setup
    common = ["eval-bpd", "--model", "vae-small", "--weights", str(weights), "--dataset", "CIFAR-10-partial"]
    common += ["--data-root", str(root), "--limit", "4", "--iw-samples", "16", "--batch-size", "2", "--chunk", "8"]
    code, out = run(*common, "--seed", "1", "--legacy", "--json", str(tmp_path / "r.json"))
    assert code == 0, out
    assert "ELBO bpd" in out and "IW-NLL bpd" in out and "legacy" in out
    rec = json.loads((tmp_path / "r.json").read_text())
    keys = {"model", "weights", "dataset", "split", "num_images", "iw_samples", "seed", "elbo_bpd", "iw_bpd"}
    assert keys <= set(rec) and rec["num_images"] == 4 and rec["iw_samples"] == 16 and rec["split"] == "test"
    assert 0 < rec["iw_bpd"] <= rec["elbo_bpd"] <= rec["legacy_bpd"]
    # seeded: the same numbers again; the legacy estimator is only reported on request
    code, _ = run(*common, "--seed", "1", "--json", str(tmp_path / "r2.json"))
    again = json.loads((tmp_path / "r2.json").read_text())
    assert code == 0 and again["iw_bpd"] == rec["iw_bpd"] and again["elbo_bpd"] == rec["elbo_bpd"]
    assert again["legacy_bpd"] is None


def test_sample_writes_a_seeded_grid(setup: tuple[Path, Path], tmp_path: Path) -> None:
    _, weights = setup
    args = ["sample", "--model", "vae-small", "--weights", str(weights), "-n", "5", "--seed", "3"]
    code, out = run(*args, "-o", str(tmp_path / "a.png"))
    assert code == 0, out
    grid = read_image(tmp_path / "a.png")
    assert grid.shape == (3, 2 + 2 * 34, 2 + 3 * 34)  # ⌈√5⌉ = 3 per row, 2 rows of 32² with 2-px borders
    run(*args, "-o", str(tmp_path / "b.png"))
    assert torch.equal(read_image(tmp_path / "b.png"), grid)
    code, _ = run(*args, "--pixel-mode", "sample", "--nrow", "5", "-o", str(tmp_path / "c.png"))
    assert code == 0 and read_image(tmp_path / "c.png").shape == (3, 36, 2 + 5 * 34)


def test_sample_with_a_selfvae_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("selfvae-downscale-small")
    data_dependent_init(model, torch.rand(2, 3, 32, 32))
    save_weights(model.state_dict(), tmp_path / "w.safetensors")
    code, out = run(
        "sample", "--model", "selfvae-downscale-small", "--weights", str(tmp_path / "w.safetensors"), "-n", "2", "-o",
        str(tmp_path / "g.png"),
    )  # fmt: skip
    assert code == 0 and (tmp_path / "g.png").is_file(), out


def test_one_line_errors(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, weights = setup
    missing = str(tmp_path / "nope.safetensors")
    _one_error_line(*run("sample", "--model", "vae-small", "--weights", missing, "-o", str(tmp_path / "x.png")))
    _one_error_line(*run("eval-bpd", "--model", "vae-small", "--weights", missing, "--data-root", str(root)))
    _one_error_line(*run("sample", "--model", "vae-small", "-o", str(tmp_path / "x.png")))  # no shipped weights
    _one_error_line(*run("sample", "--model", "irn-x4", "--weights", str(weights), "-o", str(tmp_path / "x.png")))
    wrong = ["--weights", str(weights), "-o", str(tmp_path / "x.png")]
    _one_error_line(*run("sample", "--model", "selfvae-downscale-small", *wrong))  # weights of another model
    _one_error_line(
        *run("eval-bpd", "--model", "vae-small", "--weights", str(weights), "--dataset", "CIFAR-10", "--data-root",
             str(root))
    )  # fmt: skip
    assert not (tmp_path / "x.png").exists()


def test_eval_with_a_selfvae_model_reports_the_same_bpd_as_eval_bpd(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, weights = setup
    common = ["--model", "vae-small", "--weights", str(weights), "--dataset", "CIFAR-10-partial"]
    common += ["--data-root", str(root), "--iw-samples", "8", "--seed", "3"]
    code, out = run("eval", *common, "--json", str(tmp_path / "a.json"))
    assert code == 0, out
    assert "ELBO bpd" in out and "IW-NLL bpd" in out
    code, out = run("eval-bpd", *common, "--json", str(tmp_path / "b.json"))
    assert code == 0, out
    a, b = (json.loads((tmp_path / f"{k}.json").read_text()) for k in "ab")
    assert a["iw_bpd"] == b["iw_bpd"] and a["elbo_bpd"] == b["elbo_bpd"] and a["num_images"] == 5
    _one_error_line(*run("eval", *common, "--scale", "2"))  # bpd, not rescaling
    _one_error_line(*run("eval", "--method", "bicubic", "--dataset", "Set5"))  # rescaling needs --scale


def test_sample_writes_each_sample_to_a_folder_for_fid(setup: tuple[Path, Path], tmp_path: Path) -> None:
    _, weights = setup
    args = ["sample", "--model", "vae-small", "--weights", str(weights), "-n", "5", "--seed", "3", "--batch-size", "2"]
    code, out = run(*args, "-o", str(tmp_path / "grid.png"), "--images", str(tmp_path / "s"))
    assert code == 0, out
    files = sorted((tmp_path / "s").glob("*.png"))
    assert [f.name for f in files] == [f"sample_{i:05d}.png" for i in range(5)]
    grid = read_image(tmp_path / "grid.png")
    for i, f in enumerate(files):  # the grid tiles are the written samples
        r, k = divmod(i, 3)
        assert torch.equal(read_image(f), grid[:, 2 + r * 34 : 2 + r * 34 + 32, 2 + k * 34 : 2 + k * 34 + 32])
