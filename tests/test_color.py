"""MATLAB rgb2ycbcr / ycbcr2rgb and BT.601 luma."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2ycbcr, ycbcr2rgb

from invrestore.color import (
    ImageShapeError,
    rgb_to_luma_bt601,
    rgb_to_y_matlab,
    rgb_to_ycbcr_matlab,
    ycbcr_matlab_to_rgb,
)


def _rand(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0), dtype=dtype)


def test_ycbcr_matches_skimage_rgb2ycbcr() -> None:
    rgb = _rand(3, 17, 23)
    ours = rgb_to_ycbcr_matlab(rgb).permute(1, 2, 0).numpy() * 255.0
    ref = rgb2ycbcr(rgb.permute(1, 2, 0).numpy())
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_ycbcr_to_rgb_matches_skimage_ycbcr2rgb() -> None:
    ycbcr = rgb_to_ycbcr_matlab(_rand(3, 9, 11))
    ours = ycbcr_matlab_to_rgb(ycbcr).permute(1, 2, 0).numpy()
    ref = ycbcr2rgb(ycbcr.permute(1, 2, 0).numpy() * 255.0)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_ycbcr_round_trip_is_identity(dtype: torch.dtype, tol: float) -> None:
    rgb = _rand(2, 3, 8, 8, dtype=dtype)
    back = ycbcr_matlab_to_rgb(rgb_to_ycbcr_matlab(rgb))
    assert back.dtype == dtype
    assert torch.allclose(back, rgb, atol=tol, rtol=0)


def test_y_spans_the_studio_range_16_to_235() -> None:
    corners = torch.tensor([[r, g, b] for r in (0.0, 1.0) for g in (0.0, 1.0) for b in (0.0, 1.0)], dtype=torch.float64)
    y = rgb_to_y_matlab(corners.T.reshape(3, 8, 1)) * 255.0
    assert y.min().item() == pytest.approx(16.0, abs=1e-12)  # black
    assert y.max().item() == pytest.approx(235.0, abs=1e-12)  # white
    y_rand = rgb_to_y_matlab(_rand(3, 32, 32)) * 255.0
    assert y_rand.min().item() >= 16.0 and y_rand.max().item() <= 235.0


def test_y_is_the_first_channel_of_ycbcr_with_a_kept_channel_axis() -> None:
    rgb = _rand(4, 3, 5, 6, dtype=torch.float32)
    y = rgb_to_y_matlab(rgb)
    assert y.shape == (4, 1, 5, 6) and y.dtype == torch.float32
    assert torch.allclose(y, rgb_to_ycbcr_matlab(rgb)[:, :1], atol=1e-7)
    expected = (16.0 + 65.481 * rgb[:, 0] + 128.553 * rgb[:, 1] + 24.966 * rgb[:, 2]) / 255.0
    assert torch.allclose(y[:, 0], expected, atol=1e-6)


def test_bt601_luma_is_full_range_and_matches_kornia_grayscale() -> None:
    import kornia

    rgb = _rand(2, 3, 7, 7)
    luma = rgb_to_luma_bt601(rgb)
    assert luma.shape == (2, 1, 7, 7) and luma.dtype == torch.float64
    assert torch.allclose(luma, kornia.color.rgb_to_grayscale(rgb), atol=1e-12)
    white = rgb_to_luma_bt601(torch.ones(3, 1, 1, dtype=torch.float64))
    assert white.item() == pytest.approx(1.0, abs=1e-12)


def test_colour_functions_are_differentiable() -> None:
    rgb = _rand(3, 4, 4).requires_grad_()
    rgb_to_y_matlab(rgb).sum().backward()
    assert rgb.grad is not None
    assert torch.allclose(rgb.grad[0], torch.full((4, 4), 65.481 / 255.0, dtype=torch.float64))


@pytest.mark.parametrize("fn", [rgb_to_ycbcr_matlab, ycbcr_matlab_to_rgb, rgb_to_y_matlab, rgb_to_luma_bt601])
def test_colour_functions_reject_non_rgb_shapes(fn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageShapeError):
        fn(torch.rand(4, 8, 8))
    with pytest.raises(ImageShapeError):
        fn(torch.zeros(3, 8, 8, dtype=torch.uint8))
