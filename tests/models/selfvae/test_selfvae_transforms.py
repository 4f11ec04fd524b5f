"""selfVAE deterministic transformations: Pillow-exact bilinear downscale, bicubic, sketch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from invrestore.models.selfvae.transforms import (
    downscale,
    downscale_bicubic,
    downscale_pil_bilinear,
    resize_pil_bilinear,
    sketch,
    to_gray_pil,
)

Image = pytest.importorskip("PIL.Image")


@pytest.mark.parametrize("hw", [(32, 32), (64, 64), (17, 23), (33, 31), (5, 9)])
def test_downscale_is_bit_exact_against_pillow_bilinear(hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(hw[0] * 100 + hw[1])
    a = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    x = torch.from_numpy(a).permute(2, 0, 1)[None]
    for factor in (2, 3):
        size = (hw[0] // factor, hw[1] // factor)
        if min(size) == 0:
            continue
        ref = np.asarray(Image.fromarray(a).resize((size[1], size[0]), Image.BILINEAR))
        out = downscale_pil_bilinear(x, factor)[0].permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(out, ref)
    up = (hw[0] * 2, hw[1] + 3)  # the general resize also matches when enlarging
    ref = np.asarray(Image.fromarray(a).resize((up[1], up[0]), Image.BILINEAR))
    np.testing.assert_array_equal(resize_pil_bilinear(x, up)[0].permute(1, 2, 0).numpy(), ref)


def test_downscale_on_float_images_returns_the_same_values_on_the_8bit_grid() -> None:
    x8 = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    xf = x8.float() / 255
    yf = downscale_pil_bilinear(xf)
    assert yf.dtype == torch.float32 and yf.shape == (2, 3, 8, 8)
    assert torch.equal(torch.round(yf * 255).to(torch.uint8), downscale_pil_bilinear(x8))


def test_bicubic_downscale_is_matlab_imresize_with_8bit_rounding() -> None:
    x = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8).float() / 255
    y = downscale(x, 2, "bicubic")
    assert y.shape == (1, 3, 8, 8)
    assert torch.allclose(y * 255, torch.round(y * 255), atol=1e-4)
    assert torch.equal(downscale_bicubic(x), y)


def test_gray_conversion_matches_pillow_convert_L() -> None:
    a = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(a).convert("L"))
    out = to_gray_pil(torch.from_numpy(a).permute(2, 0, 1)[None])[0, 0].numpy()
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("mode", ["dodge", "burn"])
def test_sketch_is_deterministic_single_channel_and_in_range(mode: str) -> None:
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8).float() / 255
    s1, s2 = sketch(x, mode=mode), sketch(x.clone(), mode=mode)  # type: ignore[arg-type]
    assert s1.shape == (2, 1, 32, 32) and torch.equal(s1, s2)
    assert s1.min() >= 0 and s1.max() <= 1
    assert torch.allclose(s1 * 255, torch.round(s1 * 255), atol=1e-4)


def test_sketch_of_a_flat_image_is_white_under_dodge() -> None:
    x = torch.full((1, 3, 32, 32), 100 / 255)
    # g = 100, blur(inv) = 155, 256·100/100 = 256 -> saturates at 255
    assert torch.equal(sketch(x), torch.ones(1, 1, 32, 32))
