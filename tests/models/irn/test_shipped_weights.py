"""The IRN weights shipped inside the package: offline loading, size, model cards, and better than bicubic."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import torch

from invrestore.cli.demo import sample_images
from invrestore.evaluation import BicubicMethod, evaluate_dataset, get_protocol
from invrestore.io import read_image
from invrestore.models import create_model
from invrestore.models.irn.rescaler import IRNRescaler
from invrestore.zoo import load_manifest

#: The shipped IRN rescalers (not IRN_color, not the CRM), from the weights manifest.
SHIPPED = sorted(n for n, e in load_manifest().items() if e.family == "irn" and e.task.startswith("rescale"))


def _weights_dir() -> Path:
    return Path(str(resources.files("invrestore") / "weights"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_load_offline_are_small_and_have_a_model_card(name: str) -> None:
    f = _weights_dir() / f"{name}.safetensors"
    assert f.is_file() and f.stat().st_size <= 20 * 2**20
    net = create_model(name, pretrained=True)
    assert any(float(p.abs().sum()) > 0 for p in net.parameters())
    card = (_weights_dir() / f"{name}.md").read_text()
    for needed in ("Command", "Iterations", "Wall time", "Set5", "BSD100", "Kodak24", "bicubic"):
        assert needed in card


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_beat_bicubic_on_the_bundled_samples_under_the_irn_protocol(name: str) -> None:
    net = create_model(name, pretrained=True).eval()
    imgs = [(p.stem, read_image(p, mode="rgb")) for p in sample_images()]
    proto = get_protocol("irn")
    with torch.no_grad():
        ours = evaluate_dataset(iter(imgs), IRNRescaler(net, seed=0), net.scale, proto)
    bic = evaluate_dataset(iter(imgs), BicubicMethod(), net.scale, proto)
    assert ours.means["psnr_y"] > bic.means["psnr_y"]  # type: ignore[operator]


def test_the_shipped_crm_loads_offline_by_name_and_has_a_model_card() -> None:
    from invrestore.models.irn.crm import CRM, load_crm

    f = _weights_dir() / "crm-q90.safetensors"
    assert f.is_file() and f.stat().st_size <= 16 * 2**20
    crm = load_crm("crm-q90")
    assert isinstance(crm, CRM) and sum(p.numel() for p in crm.parameters()) == 5_795_843
    card = (_weights_dir() / "crm-q90.md").read_text()
    for needed in ("Command", "Iterations", "Wall time", "Kodak24", "bpp", "without CRM"):
        assert needed in card


@pytest.mark.parametrize("irn_name", [n for n in SHIPPED if n.startswith("irn-x2")])
def test_the_shipped_crm_improves_irn_plus_jpeg_q90_on_the_bundled_samples(irn_name: str) -> None:
    from invrestore.metrics import psnr
    from invrestore.models.irn.crm import irn_jpeg_crm, load_crm

    irn = create_model(irn_name, pretrained=True).eval()
    crm = load_crm("crm-q90")
    gains = []
    for p in sample_images()[:2]:
        x = read_image(p, mode="rgb").unsqueeze(0)
        with_crm, plain = (
            irn_jpeg_crm(irn, c, x, 90, generator=torch.Generator().manual_seed(0))[0] for c in (crm, None)
        )
        gains.append(float(psnr(with_crm.clamp(0, 1), x) - psnr(plain.clamp(0, 1), x)))
    assert all(g > 0.2 for g in gains), gains  # measured +0.9 to +1.0 dB


def test_shipped_irn_color_beats_the_untrained_gray_floor_on_every_bundled_sample() -> None:
    from invrestore.models.irn.color import color_metrics

    card = (_weights_dir() / "irn-color.md").read_text()
    for needed in ("Command", "Iterations", "Wall time", "Set5", "untrained"):
        assert needed in card
    trained = create_model("irn-color", pretrained=True).eval()
    untrained = create_model("irn-color").eval()  # YUV init: gray = luma, so colorize returns a gray image
    for p in sample_images():
        x = read_image(p, mode="rgb").unsqueeze(0)
        gain = color_metrics(trained, x)["psnr_rgb"] - color_metrics(untrained, x)["psnr_rgb"]
        assert gain > 0.3, (p.stem, gain)  # measured +0.49 to +1.58 dB
