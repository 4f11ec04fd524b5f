"""Information-loss probe (Table III protocol): exact for invertible models, lossy for a trained En/Decoder."""

from __future__ import annotations

import math

import pytest
import torch

from invrestore.errors import ConfigError
from invrestore.models import create_model
from invrestore.models.pix2pix import EncoderDecoderGenerator, probe


def _images() -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_invertible_irn_reconstructs_exactly_without_training() -> None:
    res = probe(create_model("irn-x2"), _images(), steps=100)
    assert res["psnr"] >= 60.0
    assert res["ssim"] > 0.9999
    assert res["steps"] == 0


def test_invertible_probe_pads_odd_sizes() -> None:
    res = probe(create_model("irn-x2"), [torch.rand(3, 23, 17)])
    assert res["psnr"] >= 60.0


def test_a_tiny_encoder_decoder_loses_information() -> None:
    def factory() -> EncoderDecoderGenerator:
        return EncoderDecoderGenerator(depth=2, ngf=4)

    res = probe(factory, _images(), steps=3, crop_size=16, lr=1e-3)
    assert math.isfinite(res["psnr"]) and math.isfinite(res["ssim"]) and math.isfinite(res["train_mse"])
    assert res["psnr"] < 60.0
    again = probe(factory, _images(), steps=3, crop_size=16, lr=1e-3)
    assert again == res  # seeded: init, crops and dropout


def test_probe_rejects_crops_that_are_not_multiples_of_the_model() -> None:
    with pytest.raises(ConfigError):
        probe(EncoderDecoderGenerator(depth=3, ngf=4), _images(), steps=1, crop_size=12)
