"""AWGN, JPEG and inpainting-mask degradations: seeded reproducibility and agreement with their definitions."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from invrestore.data import ImageFolder, PairedDataset
from invrestore.degradations import (
    IRAE_BLIND_SIGMA,
    JPEG,
    GaussianNoise,
    Inpainting,
    box_mask,
    irregular_mask,
    jpeg_compress,
    jpeg_decode,
    jpeg_encode,
)
from invrestore.errors import ConfigError


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- AWGN ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [15.0, 25.0, 50.0])
def test_awgn_on_a_flat_image_has_zero_mean_and_std_sigma_over_255(sigma: float) -> None:
    x = torch.full((3, 256, 256), 0.5)
    n = GaussianNoise(sigma)(x, gen(0)) - x  # unclipped by default, so this is the raw noise
    assert abs(float(n.mean())) < 4 * (sigma / 255) / math.sqrt(n.numel())
    assert float(n.std()) == pytest.approx(sigma / 255, rel=0.01)


def test_awgn_is_reproducible_given_a_seed_and_differs_across_seeds() -> None:
    x = torch.rand(3, 16, 16, generator=gen(1))
    a, b, c = (GaussianNoise(25)(x, gen(s)) for s in (7, 7, 8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_awgn_is_not_clipped_by_default_and_clipped_on_request() -> None:
    x = torch.zeros(3, 32, 32)
    assert float(GaussianNoise(50)(x, gen(0)).min()) < 0
    y = GaussianNoise(50, clip=True)(x, gen(0))
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_blind_awgn_draws_one_sigma_per_image_in_the_range() -> None:
    x = torch.full((64, 1, 64, 64), 0.5)
    y, sigma = GaussianNoise((0, 55)).with_sigma(x, gen(3))
    assert sigma.shape == (64,) and float(sigma.min()) >= 0 and float(sigma.max()) < 55
    measured = ((y - x).flatten(1).std(dim=1) * 255).double()
    assert torch.allclose(measured, sigma, rtol=0.05, atol=0.5)


def test_irae_blind_sigma_is_an_integer_in_1_to_54() -> None:
    noise = GaussianNoise(IRAE_BLIND_SIGMA, integer_sigma=True)
    s = noise.sample_sigma(gen(0), 5000)
    assert torch.equal(s, s.round())
    assert int(s.min()) == 1 and int(s.max()) == 54


def test_fixed_sigma_noise_draws_nothing_but_the_noise() -> None:
    x = torch.zeros(2, 3, 8, 8)
    y = GaussianNoise(10)(x, gen(0))
    expected = torch.randn(x.shape, generator=gen(0)) * (10 / 255)
    assert torch.allclose(y, expected)


def test_noise_rejects_bad_ranges() -> None:
    with pytest.raises(ConfigError):
        GaussianNoise((30, 10))
    with pytest.raises(ConfigError):
        GaussianNoise(-1)


# -- JPEG ----------------------------------------------------------------------------------------------------------


def _pillow_bytes(arr: np.ndarray, quality: int, subsampling: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality, subsampling=subsampling)
    return buf.getvalue()


@pytest.mark.parametrize("quality", [10, 20, 30, 40, 90])
def test_jpeg_bytes_equal_pillows_encoder_at_the_same_settings(quality: int) -> None:
    arr = np.random.default_rng(quality).integers(0, 256, (37, 45, 3), dtype=np.uint8)
    x = torch.from_numpy(arr).permute(2, 0, 1).float() / 255
    data = jpeg_encode(x, quality)
    assert data == _pillow_bytes(arr, quality, subsampling=2)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        assert img.layer == [(1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)]  # 4:2:0: Y sampled 2×2, Cb/Cr 1×1
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert torch.equal(jpeg_compress(x, quality), torch.from_numpy(decoded.copy()).permute(2, 0, 1).float() / 255)


def test_jpeg_rounds_half_up_to_uint8_before_encoding() -> None:
    arr = np.full((8, 8, 3), 100, dtype=np.uint8)
    x = torch.full((3, 8, 8), 99.5 / 255)  # rounds half up to 100
    assert jpeg_encode(x, 30) == _pillow_bytes(arr, 30, 2)


def test_jpeg_greyscale_and_444() -> None:
    arr = np.random.default_rng(0).integers(0, 256, (16, 24), dtype=np.uint8)
    x = torch.from_numpy(arr).float().unsqueeze(0) / 255
    assert jpeg_encode(x, 20) == _pillow_bytes(arr, 20, 2)
    assert jpeg_decode(jpeg_encode(x, 20), channels=1).shape == (1, 16, 24)
    rgb = np.random.default_rng(1).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    xr = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    assert jpeg_encode(xr, 20, "4:4:4") == _pillow_bytes(rgb, 20, 0)


def test_jpeg_degradation_keeps_shape_dtype_and_is_lossy() -> None:
    x = torch.rand(2, 3, 24, 20, generator=gen(0), dtype=torch.float64)
    y = JPEG(10)(x, gen(0))
    assert y.shape == x.shape and y.dtype == torch.float64
    assert 0 < float((y - x).abs().mean()) < 0.5
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_jpeg_quality_range_is_drawn_from_the_generator() -> None:
    jpeg = JPEG((10, 40))
    qs = [jpeg.sample_quality(gen(s)) for s in range(200)]
    assert min(qs) == 10 and max(qs) == 40
    assert jpeg.sample_quality(gen(5)) == jpeg.sample_quality(gen(5))
    with pytest.raises(ConfigError):
        JPEG(0)


# -- Inpainting masks ----------------------------------------------------------------------------------------------


def test_center_box_mask_matches_the_official_ranges_at_256() -> None:
    for s in range(200):
        m = box_mask(256, 256, gen(s))[0]
        rows, cols = torch.nonzero(m.sum(1)).flatten(), torch.nonzero(m.sum(0)).flatten()
        h, w = len(rows), len(cols)
        assert 96 <= h <= 128 and 96 <= w <= 128 and h % 2 == 0 and w % 2 == 0
        assert float(m.sum()) == h * w  # one solid rectangle
        assert int(rows[0]) >= 0 and int(rows[-1]) < 256 and int(cols[-1]) < 256
        assert 96 * 96 <= float(m.sum()) <= 128 * 128


def test_center_box_mask_centered_position_is_centred() -> None:
    m = box_mask(64, 64, gen(0), box_size=32, max_delta=0, position="center")[0]
    assert torch.equal(torch.nonzero(m.sum(1)).flatten(), torch.arange(16, 48))
    assert torch.equal(torch.nonzero(m.sum(0)).flatten(), torch.arange(16, 48))


@pytest.mark.parametrize("ratio", [(0.1, 0.5), (0.3, 0.31), (0.0, 0.05)])
def test_irregular_mask_area_lies_in_the_configured_range(ratio: tuple[float, float]) -> None:
    for s in range(12):
        m = irregular_mask(64, 48, gen(s), hole_ratio=ratio)
        frac = float(m.mean())
        assert ratio[0] - 1 / (64 * 48) <= frac <= ratio[1]
        assert set(torch.unique(m).tolist()) <= {0.0, 1.0}


def test_masks_are_reproducible_and_mask_matches_call() -> None:
    x = torch.rand(3, 64, 64, generator=gen(0))
    for mode in ("center", "irregular"):
        deg = Inpainting(mode)  # type: ignore[arg-type]
        m1, m2 = deg.mask(x, gen(4)), deg.mask(x, gen(4))
        assert torch.equal(m1, m2) and m1.shape == (1, 64, 64)
        y, m = deg.apply(x, gen(4))
        assert torch.equal(m, m1)
        assert torch.equal(deg(x, gen(4)), y)
        assert torch.equal(y, x * (1 - m) + m)  # white fill
        assert not torch.equal(deg.mask(x, gen(5)), m1)


def test_batched_masks_are_per_image() -> None:
    x = torch.rand(4, 3, 32, 32, generator=gen(0))
    y, m = Inpainting("irregular", fill=0.0).apply(x, gen(1))
    assert m.shape == (4, 1, 32, 32) and y.shape == x.shape
    assert not torch.equal(m[0], m[1])
    assert torch.equal(y[m.expand_as(y) > 0], torch.zeros_like(y[m.expand_as(y) > 0]))


# -- use in a paired dataset ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("degrade", [GaussianNoise((0, 55)), JPEG(20), Inpainting("irregular")])
def test_degradations_plug_into_paired_dataset_reproducibly(tmp_path, degrade) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    ds = PairedDataset(ImageFolder(tmp_path, mode="rgb"), 32, degrade, where="crop", seed=3)
    a, b = ds[1], ds[1]
    assert a["x_lq"].shape == a["x"].shape == (3, 32, 32)
    assert torch.equal(a["x_lq"], b["x_lq"]) and not torch.equal(a["x_lq"], a["x"])
