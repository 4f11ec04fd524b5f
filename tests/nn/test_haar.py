"""IRN's Haar downsampling: conventions, the FrEIA oracle and the official parameter layout."""

from __future__ import annotations

import math

import pytest
import torch

from invrestore.errors import ScaleError
from invrestore.nn import HaarDownsampling, haar_filters


def _corners(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]


def test_haar_output_is_grouped_by_band_then_channel_with_irn_band_formulas() -> None:
    x = torch.randn(2, 3, 6, 8, dtype=torch.float64)
    y, _ = HaarDownsampling(3).double()(x)
    a, b, c, d = _corners(x)
    expected = torch.cat([(a + b + c + d) / 4, (a - b + c - d) / 4, (a + b - c - d) / 4, (a - b - c + d) / 4], dim=1)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-15)


def test_haar_low_pass_band_is_the_two_by_two_box_mean() -> None:
    x = torch.rand(1, 3, 8, 8)
    y, _ = HaarDownsampling(3)(x)
    torch.testing.assert_close(y[:, :3], torch.nn.functional.avg_pool2d(x, 2))


def test_haar_log_determinant_is_minus_chw_times_ln_2_per_sample() -> None:
    x = torch.randn(4, 3, 6, 10)
    _, logdet = HaarDownsampling(3)(x)
    expected = (3 * 6 * 10 / 4) * math.log(1 / 16)
    torch.testing.assert_close(logdet, torch.full((4,), expected))


def test_haar_inverse_reconstructs_pixels_without_division() -> None:
    haar = HaarDownsampling(2).double()
    y = torch.randn(1, 8, 3, 3, dtype=torch.float64)
    x, _ = haar.inverse(y)
    ll, f1, f2, f3 = y[:, 0:2], y[:, 2:4], y[:, 4:6], y[:, 6:8]
    a, b, c, d = _corners(x)
    torch.testing.assert_close(a, ll + f1 + f2 + f3)
    torch.testing.assert_close(b, ll - f1 + f2 - f3)
    torch.testing.assert_close(c, ll + f1 - f2 - f3)
    torch.testing.assert_close(d, ll - f1 - f2 + f3)


def test_haar_weights_are_a_frozen_parameter_in_the_official_layout() -> None:
    haar = HaarDownsampling(3)
    params = dict(haar.named_parameters())
    assert list(params) == ["haar_weights"]
    w = params["haar_weights"]
    assert w.shape == (12, 1, 2, 2) and not w.requires_grad
    for c in range(3):
        for k in range(4):
            assert torch.equal(w[4 * c + k], haar_filters()[k])
    assert list(haar.state_dict()) == ["haar_weights"]


@pytest.mark.parametrize(("channels", "count"), [(3, 48), (12, 192), (48, 768)])
def test_haar_weights_count_in_the_parameter_total(channels: int, count: int) -> None:
    assert sum(p.numel() for p in HaarDownsampling(channels).parameters()) == count


def test_haar_rejects_odd_sizes_with_a_scale_error() -> None:
    with pytest.raises(ScaleError, match="even"):
        HaarDownsampling(1)(torch.zeros(1, 1, 5, 4))


@pytest.mark.parametrize("shape", [(3, 4, 6), (12, 2, 2), (1, 8, 4)])
def test_haar_matches_freia_haar_downsampling_ordered_by_wavelet_with_rebalance_one_half(
    shape: tuple[int, int, int],
) -> None:
    freia_modules = pytest.importorskip("FrEIA.modules")
    oracle = freia_modules.HaarDownsampling([shape], order_by_wavelet=True, rebalance=0.5).double()
    ours = HaarDownsampling(shape[0]).double()
    x = torch.randn(2, *shape, dtype=torch.float64)
    (expected,), expected_jac = oracle([x], jac=True)
    y, logdet = ours(x)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-14)
    torch.testing.assert_close(logdet, torch.full((2,), float(expected_jac), dtype=torch.float64))
