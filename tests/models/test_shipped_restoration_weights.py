"""The restoration weights shipped inside the package (IRAE and DnCNN for σ = 25 denoising, a pix2pix deraining
generator): offline loading, size, model cards, they restore the bundled samples, and the CLI uses them without
``--weights``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from invrestore.api import load_restorer
from invrestore.cli.demo import sample_images
from invrestore.cli.main import cli
from invrestore.degradations import GaussianNoise
from invrestore.degradations.rain import Rain
from invrestore.inference.restorer import restore_image
from invrestore.io import read_image
from invrestore.metrics import psnr
from invrestore.models.catalog import shipped_restoration_models
from invrestore.zoo import load_manifest

#: The shipped restoration weights and their tasks, from the weights manifest.
SHIPPED = {n: e.task for n, e in load_manifest().items() if e.family in ("irae", "baselines", "pix2pix")}


def _weights_dir() -> Path:
    return Path(str(resources.files("invrestore") / "weights"))


def test_every_shipped_restoration_model_is_listed() -> None:
    assert set(shipped_restoration_models()) == set(SHIPPED) and SHIPPED


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_restoration_weights_load_offline_are_small_and_have_a_model_card(name: str) -> None:
    f = _weights_dir() / f"{name}.safetensors"
    assert f.is_file() and f.stat().st_size <= 10 * 2**20
    net = load_restorer(name).module
    assert any(float(p.detach().abs().sum()) > 0 for p in net.parameters())
    card = (_weights_dir() / f"{name}.md").read_text()
    for needed in ("Command", "Iterations", "Wall time", "PSNR", "Regenerate"):
        assert needed in card


def _crops(side: int = 256) -> list[torch.Tensor]:
    return [read_image(p, mode="rgb")[:, :side, :side] for p in sample_images()]


@pytest.mark.parametrize("name", sorted(n for n, t in SHIPPED.items() if t == "denoise"))
def test_shipped_denoisers_remove_most_of_sigma_25_noise_on_the_bundled_samples(name: str) -> None:
    net = load_restorer(name).module
    gain = []
    for i, x in enumerate(_crops()):
        y = GaussianNoise(25)(x, torch.Generator().manual_seed(i))
        out = restore_image(net, y)
        gain.append(float(psnr(out[None], x[None])[0] - psnr(y.clamp(0, 1)[None], x[None])[0]))
    assert sum(gain) / len(gain) > 5.0  # dB over the noisy input (measured: IRAE 8.9, DnCNN-S 6.3)


def test_shipped_deraining_generator_improves_synthetic_rain_on_the_bundled_samples() -> None:
    net = load_restorer("pix2pix-derain").module
    gain = []
    for i, x in enumerate(_crops(128)):
        torch.manual_seed(i)  # pix2pix's train-mode inference keeps dropout/BN batch statistics
        y = Rain()(x, torch.Generator().manual_seed(i)).clamp(0, 1)
        out = restore_image(net, y)
        gain.append(float(psnr(out[None], x[None])[0] - psnr(y[None], x[None])[0]))
    assert sum(gain) / len(gain) > 0.5


def test_restore_cli_uses_the_shipped_denoiser_without_weights(tmp_path: Path) -> None:
    src = sample_images()[0]
    res = CliRunner().invoke(
        cli, ["restore", str(src), "--task", "denoise", "--sigma", "25", "--degrade", "--model", "irae-denoise25",
              "-o", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / f"{src.stem}.png").is_file() and "PSNR" in res.output


def test_a_shipped_model_refuses_a_task_it_was_not_trained_for(tmp_path: Path) -> None:
    src = sample_images()[0]
    res = CliRunner().invoke(
        cli, ["restore", str(src), "--task", "dejpeg", "--quality", "20", "--degrade", "--model", "dncnn-s-denoise25",
              "-o", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code != 0
    assert "trained to denoise" in res.output and "--task denoise" in res.output
    assert not any(tmp_path.iterdir())


def test_restore_without_model_or_weights_names_the_shipped_models(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["restore", str(sample_images()[0]), "--task", "denoise", "-o", str(tmp_path)])
    assert res.exit_code != 0
    assert "irae-denoise25" in res.output and "--weights" in res.output
