"""IRN_LD learnable downsampling: official layout, initialisation and the padding policy."""

from __future__ import annotations

import pytest
import torch

from invrestore.errors import ScaleError
from invrestore.nn import HaarDownsampling, InvBlock, LearnableDownsampling


def test_learnable_downsampling_has_81_parameters_for_three_channels_at_scale_3() -> None:
    ld = LearnableDownsampling(3, 3)
    assert [(n, tuple(p.shape)) for n, p in ld.named_parameters()] == [("conv_weights", (9, 9))]
    assert sum(p.numel() for p in ld.parameters()) == 81


def test_irn_ld_x3_totals_3139029_parameters() -> None:
    blocks = [LearnableDownsampling(3, 3)] + [InvBlock(27, split=3) for _ in range(12)]
    assert sum(p.numel() for b in blocks for p in b.parameters()) == 3_139_029


def test_initial_matrix_is_the_identity_with_a_mean_first_row() -> None:
    m = LearnableDownsampling(3, 3).conv_weights.detach()
    expected = torch.eye(9)
    expected[0] = 1 / 9
    assert torch.equal(m, expected)


def test_first_channels_start_as_the_box_downscaled_image() -> None:
    x = torch.rand(2, 3, 9, 6)
    y, _ = LearnableDownsampling(3, 3)(x)
    assert y.shape == (2, 27, 3, 2)
    torch.testing.assert_close(y[:, :3], torch.nn.functional.avg_pool2d(x, 3))


def test_scale_2_initialisation_equals_haar_downsampling() -> None:
    x = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    y_ld, logdet_ld = LearnableDownsampling(3, 2).double()(x)
    y_haar, logdet_haar = HaarDownsampling(3).double()(x)
    torch.testing.assert_close(y_ld, y_haar)
    torch.testing.assert_close(logdet_ld, logdet_haar)


def test_log_determinant_is_pixels_times_log_abs_det_of_the_matrix() -> None:
    ld = LearnableDownsampling(2, 3).double()
    with torch.no_grad():
        ld.conv_weights.add_(0.1 * torch.randn(9, 9, dtype=torch.float64))
    _, logdet = ld(torch.randn(1, 2, 6, 3, dtype=torch.float64))
    expected = 2 * 2 * 1 * torch.linalg.slogdet(ld.conv_weights).logabsdet
    torch.testing.assert_close(logdet[0], expected)


def test_sizes_not_divisible_by_the_scale_raise_a_scale_error_by_default() -> None:
    with pytest.raises(ScaleError, match="divisible by 3"):
        LearnableDownsampling(3, 3)(torch.zeros(1, 3, 10, 9))


@pytest.mark.parametrize("padding", ["replicate", "reflect", "zeros"])
def test_padding_policies_pad_bottom_right_and_the_caller_crops_after_the_inverse(padding: str) -> None:
    ld = LearnableDownsampling(3, 3, padding=padding)  # type: ignore[arg-type]
    x = torch.rand(1, 3, 10, 8)
    y, _ = ld(x)
    assert y.shape == (1, 27, 4, 3)
    x_padded, _ = ld.inverse(y)
    assert x_padded.shape == (1, 3, 12, 9)
    torch.testing.assert_close(x_padded[..., :10, :8], x)


def test_inverse_follows_parameter_updates() -> None:
    ld = LearnableDownsampling(1, 2).double()
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    ld(x)
    with torch.no_grad():
        ld.conv_weights.mul_(1.5)
    y, _ = ld(x)
    torch.testing.assert_close(ld.inverse(y)[0], x)
