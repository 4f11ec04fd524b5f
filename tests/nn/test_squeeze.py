"""Squeeze/Unsqueeze: shapes and channel orders for any factor (property-based)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invrestore.errors import ScaleError
from invrestore.nn import Squeeze, Unsqueeze, squeeze2d, unsqueeze2d

ORDERS = st.sampled_from(["band", "glow"])
SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(
    batch=st.integers(1, 2),
    channels=st.integers(1, 4),
    factor=st.integers(1, 4),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    order=ORDERS,
)
def test_squeeze_trades_resolution_for_channels_and_unsqueeze_undoes_it(
    batch: int, channels: int, factor: int, h: int, w: int, order: str
) -> None:
    x = torch.randn(batch, channels, h * factor, w * factor)
    y, logdet = Squeeze(factor, order)(x)  # type: ignore[arg-type]
    assert y.shape == (batch, channels * factor * factor, h, w)
    assert torch.equal(logdet, torch.zeros(batch))
    x_rec, _ = Unsqueeze(factor, order)(y)  # type: ignore[arg-type]
    assert torch.equal(x_rec, x)
    assert torch.equal(Squeeze(factor, order).inverse(y)[0], x)  # type: ignore[arg-type]


@SETTINGS
@given(channels=st.integers(1, 3), factor=st.integers(1, 4), h=st.integers(1, 3), w=st.integers(1, 3))
def test_band_order_puts_sub_pixel_k_of_channel_c_at_k_times_c_plus_c(
    channels: int, factor: int, h: int, w: int
) -> None:
    x = torch.randn(1, channels, h * factor, w * factor)
    y = squeeze2d(x, factor, "band")
    for i in range(factor):
        for j in range(factor):
            k = i * factor + j
            for c in range(channels):
                assert torch.equal(y[:, k * channels + c], x[:, c, i::factor, j::factor])


@SETTINGS
@given(channels=st.integers(1, 3), factor=st.integers(1, 4), h=st.integers(1, 3), w=st.integers(1, 3))
def test_glow_order_puts_sub_pixel_k_of_channel_c_at_c_times_s_squared_plus_k(
    channels: int, factor: int, h: int, w: int
) -> None:
    x = torch.randn(1, channels, h * factor, w * factor)
    y = squeeze2d(x, factor, "glow")
    s2 = factor * factor
    for i in range(factor):
        for j in range(factor):
            for c in range(channels):
                assert torch.equal(y[:, c * s2 + i * factor + j], x[:, c, i::factor, j::factor])


@SETTINGS
@given(factor=st.integers(2, 4), h=st.integers(1, 9), w=st.integers(1, 9), order=ORDERS)
def test_squeeze_rejects_sizes_not_divisible_by_the_factor(factor: int, h: int, w: int, order: str) -> None:
    x = torch.zeros(1, 1, h, w)
    if h % factor == 0 and w % factor == 0:
        assert squeeze2d(x, factor, order).shape[1] == factor * factor  # type: ignore[arg-type]
    else:
        with pytest.raises(ScaleError):
            squeeze2d(x, factor, order)  # type: ignore[arg-type]


def test_unsqueeze_rejects_channel_counts_not_divisible_by_the_factor_squared() -> None:
    with pytest.raises(ScaleError):
        unsqueeze2d(torch.zeros(1, 6, 2, 2), 2)


def test_unknown_order_is_rejected() -> None:
    with pytest.raises(ValueError, match="order"):
        Squeeze(2, "zigzag")  # type: ignore[arg-type]
