"""Synthetic haze (atmospheric scattering) and rain streaks: reproducible, in range, identity at zero strength."""

from __future__ import annotations

import pytest
import torch

from invrestore.degradations.haze import Haze, add_haze, smooth_depth, transmission, vertical_depth
from invrestore.degradations.rain import Rain, add_rain, line_kernel, rain_streaks
from invrestore.errors import ConfigError


def _img(shape: tuple[int, ...] = (3, 24, 32)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(7))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("depth", ["random", "vertical"])
def test_haze_with_unit_transmission_is_the_identity(depth: str) -> None:
    x = _img()
    assert torch.equal(add_haze(x, _gen(), beta=0.0, depth=depth), x)


def test_haze_follows_the_scattering_model_with_an_explicit_depth() -> None:
    x = _img()
    d = torch.linspace(0, 1, 32).expand(24, 32)
    t = torch.exp(-1.2 * d)
    torch.testing.assert_close(add_haze(x, None, beta=1.2, airlight=0.8, depth=d), x * t + 0.8 * (1 - t))


def test_haze_is_reproducible_in_range_and_pulls_towards_the_airlight() -> None:
    x = _img((2, 3, 24, 32))
    a, b = Haze()(x, _gen(3)), Haze()(x, _gen(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, Haze()(x, _gen(4)))
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    dense = add_haze(x, _gen(), beta=50.0, airlight=0.9, depth="vertical")
    torch.testing.assert_close(dense[..., 0, :], torch.full_like(dense[..., 0, :], 0.9))  # far row: pure airlight
    torch.testing.assert_close(dense[..., -1, :], x[..., -1, :])  # depth 0: untouched


def test_depth_proxies_span_0_to_1() -> None:
    d = smooth_depth((20, 30), _gen(), batch=2)
    assert d.shape == (2, 1, 20, 30)
    for i in range(2):
        assert float(d[i].min()) == 0.0 and abs(float(d[i].max()) - 1.0) < 1e-6
    v = vertical_depth((5, 3))
    assert v[0, 0, :, 0].tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert float(transmission(torch.zeros(1, 1, 2, 2), 3.0).min()) == 1.0


def test_haze_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigError):
        add_haze(_img(), _gen(), beta=-1.0)
    with pytest.raises(ConfigError):
        add_haze(_img(), _gen(), depth="spiral")


def test_line_kernel_is_a_line_of_unit_weight() -> None:
    k = line_kernel(9, 0.0)
    c = k.shape[-1] // 2
    assert float(k[c - 3 : c + 4, c].min()) > 0.9  # the interior of the vertical line
    assert float(k[:, c + 2 :].abs().sum()) == 0.0  # nothing off the line
    tilted = line_kernel(9, 45.0)
    assert torch.allclose(tilted, tilted.flip(0, 1))  # symmetric about the centre


def test_rain_is_reproducible_and_in_range() -> None:
    x = _img()
    a, b = add_rain(x, _gen(1)), add_rain(x, _gen(1))
    assert torch.equal(a, b)
    assert not torch.equal(a, add_rain(x, _gen(2)))
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert bool((a >= x).all())  # additive streaks only brighten
    r1, r2 = Rain()(x, _gen(5)), Rain()(x, _gen(5))
    assert torch.equal(r1, r2) and r1.shape == x.shape


def test_rain_with_zero_intensity_or_density_is_the_identity() -> None:
    x = _img((2, 3, 16, 16))
    assert torch.equal(add_rain(x, _gen(), intensity=0.0), x)
    assert torch.equal(add_rain(x, _gen(), density=0.0), x)


def test_streaks_are_elongated_along_their_angle() -> None:
    s = rain_streaks((64, 64), _gen(), density=0.002, length=21, angle=0.0, batch=1)[0, 0]
    assert float(s.min()) >= 0.0 and float(s.max()) <= 1.0
    dy = (s[1:, :] - s[:-1, :]).abs().sum()  # vertical streaks vary little along the vertical
    dx = (s[:, 1:] - s[:, :-1]).abs().sum()
    assert float(dy) < 0.5 * float(dx)
