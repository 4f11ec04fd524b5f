"""MS-SSIM against pytorch_msssim, and the rate helpers."""

from __future__ import annotations

import math

import pytest
import torch
from pytorch_msssim import ms_ssim as oracle_ms_ssim
from skimage import data

from invrestore.color import ImageShapeError
from invrestore.errors import ConfigError
from invrestore.metrics import bits_per_dim, bpp, ms_ssim, quantize_8bit


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    clean = torch.from_numpy(data.astronaut()[:, :, :].copy()).permute(2, 0, 1).double() / 255.0
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    blurred = torch.nn.functional.avg_pool2d(clean[None], 3, 1, 1, count_include_pad=False)[0]
    return (blurred + noise * 6.0 / 255.0).clamp(0, 1), clean


@pytest.mark.parametrize("hw", [(256, 320), (193, 257), (170, 171)])
def test_ms_ssim_matches_pytorch_msssim(pair: tuple[torch.Tensor, torch.Tensor], hw: tuple[int, int]) -> None:
    a, b = (t[:, : hw[0], : hw[1]] for t in pair)
    ref = oracle_ms_ssim(quantize_8bit(a)[None], quantize_8bit(b)[None], data_range=255).item()
    assert ms_ssim(a, b).item() == pytest.approx(ref, abs=1e-5)


def test_ms_ssim_is_per_image_for_batches_and_one_for_identical_images(
    pair: tuple[torch.Tensor, torch.Tensor],
) -> None:
    a, b = (t[:, :200, :200] for t in pair)
    out = ms_ssim(torch.stack([a, b]), torch.stack([b, b]))
    assert out.shape == (2,)
    assert out[0].item() == pytest.approx(ms_ssim(a, b).item(), abs=1e-12)
    assert out[1].item() == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_rejects_images_too_small_for_five_scales(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = (t[:, :160, :200] for t in pair)
    with pytest.raises(ImageShapeError):
        ms_ssim(a, b)
    # Fewer scales need less.
    assert 0 < ms_ssim(a, b, weights=(0.5, 0.5)).item() < 1


def test_bpp_counts_bits_per_pixel() -> None:
    assert bpp(1000, 100, 80) == pytest.approx(1.0)
    assert bpp(0, 4, 4) == 0.0
    with pytest.raises(ConfigError):
        bpp(10, 0, 4)


def test_bits_per_dim_converts_nats_to_bits_per_dimension() -> None:
    assert bits_per_dim(math.log(2.0) * 3072, 3072) == pytest.approx(1.0)
    out = bits_per_dim(torch.tensor([math.log(2.0) * 10, 0.0]), 10)
    assert isinstance(out, torch.Tensor) and torch.allclose(out, torch.tensor([1.0, 0.0]))
    with pytest.raises(ConfigError):
        bits_per_dim(1.0, 0)
