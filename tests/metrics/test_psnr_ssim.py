"""PSNR / SSIM against independent references (skimage, kornia, scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from invrestore.color import ImageShapeError, rgb_to_y_matlab
from invrestore.errors import ConfigError
from invrestore.metrics import gaussian_window_1d, psnr, quantize_8bit, ssim


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Astronaut crop (clean, 8-bit) and a noisy float version (not on the 8-bit grid)."""
    clean = torch.from_numpy(data.astronaut()[100:260, 150:330].copy()).permute(2, 0, 1).double() / 255.0
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (clean + noise * 8.0 / 255.0).clamp(0, 1), clean


def _u8(x: torch.Tensor) -> np.ndarray:
    """(C,H,W) float in [0,1] -> HWC float64 array of 8-bit codes."""
    return quantize_8bit(x).permute(1, 2, 0).numpy()


def _y255(x: torch.Tensor) -> np.ndarray:
    return (rgb_to_y_matlab(quantize_8bit(x) / 255.0)[0] * 255.0).numpy()


def test_quantize_rounds_half_up_and_clips() -> None:
    x = torch.tensor([-0.1, 0.0, 0.5 / 255, 1.5 / 255, 254.49 / 255, 1.2], dtype=torch.float64)
    assert quantize_8bit(x).tolist() == [0.0, 0.0, 1.0, 2.0, 254.0, 255.0]


def test_psnr_matches_skimage_on_rgb_and_y(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = pair
    ref_rgb = peak_signal_noise_ratio(_u8(b), _u8(a), data_range=255)
    assert psnr(a, b).item() == pytest.approx(ref_rgb, abs=1e-10)
    ref_y = peak_signal_noise_ratio(_y255(b)[4:-4, 4:-4], _y255(a)[4:-4, 4:-4], data_range=255)
    assert psnr(a, b, crop_border=4, channel="y").item() == pytest.approx(ref_y, abs=1e-10)


def test_psnr_without_quantisation_scores_the_float_values(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = pair
    mse = ((a - b) ** 2).mean().item()
    assert psnr(a, b, quantize=False).item() == pytest.approx(10 * math.log10(1.0 / mse), abs=1e-10)
    assert psnr(a, b, quantize=False).item() != pytest.approx(psnr(a, b).item(), abs=1e-4)


def test_psnr_is_batched_per_image_and_infinite_for_identical_images(
    pair: tuple[torch.Tensor, torch.Tensor],
) -> None:
    a, b = pair
    batch = psnr(torch.stack([a, b]), torch.stack([b, b]))
    assert batch.shape == (2,) and batch.dtype == torch.float64
    assert batch[0].item() == pytest.approx(psnr(a, b).item(), abs=1e-12)
    assert math.isinf(batch[1].item())
    assert psnr(a, b).ndim == 0


def test_single_channel_images_are_scored_directly_as_y(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = pair
    ga, gb = a[:1], b[:1]
    assert psnr(ga, gb, channel="y").item() == psnr(ga, gb, channel="rgb").item()
    assert ssim(ga, gb, channel="y").item() == ssim(ga, gb, channel="rgb").item()


def test_wang_ssim_on_y_matches_skimage_and_kornia_valid(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    import kornia

    a, b = pair
    ours = ssim(a, b, crop_border=3, channel="y").item()
    ya, yb = _y255(a)[3:-3, 3:-3], _y255(b)[3:-3, 3:-3]
    # skimage averages the map after cropping (win_size - 1) // 2 = 5 pixels: the 'valid' region.
    ref = structural_similarity(ya, yb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert ours == pytest.approx(ref, abs=1e-10)
    k = kornia.metrics.ssim(
        torch.from_numpy(ya)[None, None], torch.from_numpy(yb)[None, None], 11, max_val=255.0, padding="valid"
    )
    assert ours == pytest.approx(k.mean().item(), abs=1e-10)


def test_wang_ssim_on_rgb_is_the_mean_of_channel_ssims(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = pair
    ref = structural_similarity(
        _u8(a),
        _u8(b),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=2,
    )
    assert ssim(a, b).item() == pytest.approx(ref, abs=1e-10)
    per_channel = [ssim(a[c : c + 1], b[c : c + 1]).item() for c in range(3)]
    assert ssim(a, b).item() == pytest.approx(sum(per_channel) / 3, abs=1e-12)


def _matlab_ssim_reference(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB ssim(): imgaussfilt(σ=1.5, 11×11, 'replicate') = scipy gaussian_filter(mode='nearest', radius
    5)."""

    def filt(v: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(v, sigma=1.5, mode="nearest", truncate=3.5)  # radius int(3.5*1.5+0.5) = 5

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
    smap = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return float(smap.mean())


def test_matlab_ssim_variant_matches_replicate_padded_reference(
    pair: tuple[torch.Tensor, torch.Tensor],
) -> None:
    a, b = pair
    ours = ssim(a, b, crop_border=2, channel="y", variant="matlab").item()
    ref = _matlab_ssim_reference(_y255(a)[2:-2, 2:-2], _y255(b)[2:-2, 2:-2])
    assert ours == pytest.approx(ref, abs=1e-10)
    assert ours != pytest.approx(ssim(a, b, crop_border=2, channel="y").item(), abs=1e-4)


def test_ssim_of_identical_images_is_one_and_batched_shape(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = pair
    for variant in ("wang", "matlab"):
        out = ssim(torch.stack([b, a]), torch.stack([b, b]), variant=variant)  # type: ignore[arg-type]
        assert out.shape == (2,)
        assert out[0].item() == pytest.approx(1.0, abs=1e-12)
        assert out[1].item() < 1.0


def test_gaussian_window_is_normalised_and_symmetric() -> None:
    g = gaussian_window_1d()
    assert g.shape == (11,) and g.sum().item() == pytest.approx(1.0, abs=1e-15)
    assert torch.equal(g, g.flip(0))


def test_ssim_is_differentiable_without_quantisation(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = pair
    x = a[:, :20, :20].clone().requires_grad_()
    ssim(x, b[:, :20, :20], quantize=False).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_metrics_reject_bad_inputs(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = pair
    with pytest.raises(ImageShapeError):
        psnr(a, b[:, :-1])
    with pytest.raises(ImageShapeError):
        psnr(a[0], b[0])
    with pytest.raises(ImageShapeError):
        psnr(a[:2], b[:2], channel="y")
    with pytest.raises(ImageShapeError):
        psnr(a, b, crop_border=200)
    with pytest.raises(ImageShapeError):
        ssim(a[:, :10, :10], b[:, :10, :10])
    with pytest.raises(ConfigError):
        psnr(a, b, channel="ycbcr")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        ssim(a, b, variant="gaussian")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        psnr(a, b, crop_border=-1)


def test_the_irae_legacy_ssim_equals_skimage_on_chw_arrays_with_the_float_data_range() -> None:
    from skimage.metrics import structural_similarity

    from invrestore.metrics import irae_legacy_ssim

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 17, 23, generator=g, dtype=torch.float64)
    y = (x + 0.1 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    ours = irae_legacy_ssim(x, y)
    for i in range(2):  # what compare_ssim(X, Y, win_size=3, multichannel=True) did on CHW float arrays
        ref = structural_similarity(x[i].numpy(), y[i].numpy(), win_size=3, channel_axis=-1, data_range=2)
        assert abs(float(ours[i]) - ref) < 1e-12
        # the float default range 2 (instead of 1) inflates the score
        assert ref > structural_similarity(x[i].numpy(), y[i].numpy(), win_size=3, channel_axis=-1, data_range=1)
