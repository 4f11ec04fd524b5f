"""Couplings: IRN's InvBlock equations and parameter counts, scale functions, masks and conditioning."""

from __future__ import annotations

import math

import pytest
import torch
from invertible_helpers import perturb_parameters

from invrestore.nn import (
    SCALE_FUNCTIONS,
    AdditiveCoupling,
    AffineCoupling,
    DenseBlock,
    HaarDownsampling,
    InvBlock,
    checkerboard_mask,
    subnet_factory,
)

TINY_DENSE = subnet_factory("dense", gc=8)
TINY_GLOW = subnet_factory("glow", hidden=8)


def _count(*modules: torch.nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


@pytest.mark.parametrize(
    ("channels", "split", "expected"),
    [(12, 3, 208_494), (48, 3, 335_898), (192, 3, 845_514), (27, 3, 261_579), (3, 1, 176_699)],
)
def test_inv_block_parameter_count_matches_the_official_code(channels: int, split: int, expected: int) -> None:
    assert _count(InvBlock(channels, split=split)) == expected


def test_irn_x2_and_x4_totals_match_the_official_counts_including_frozen_haar_weights() -> None:
    x2 = [HaarDownsampling(3)] + [InvBlock(12) for _ in range(8)]
    assert _count(*x2) == 1_668_000
    x4 = x2 + [HaarDownsampling(12)] + [InvBlock(48) for _ in range(8)]
    assert _count(*x4) == 4_355_376


def test_inv_block_subnets_are_named_f_g_h_with_irn_channel_counts() -> None:
    block = InvBlock(12, split=3)
    assert [n for n, _ in block.named_children()] == ["F", "G", "H"]
    assert isinstance(block.F, DenseBlock)
    assert block.F.conv1.in_channels == 9 and block.F.conv5.out_channels == 3
    assert block.G.conv1.in_channels == 3 and block.G.conv5.out_channels == 9
    assert "F.conv1.weight" in block.state_dict()


def test_inv_block_follows_the_irn_equations() -> None:
    torch.manual_seed(0)
    block = InvBlock(6, split=2, subnet=TINY_DENSE, clamp=0.8).double()
    perturb_parameters(block)
    x = torch.randn(2, 6, 4, 4, dtype=torch.float64)
    y, logdet = block(x)
    x1, x2 = x[:, :2], x[:, 2:]
    y1 = x1 + block.F(x2)
    s = 0.8 * (2 * torch.sigmoid(block.H(y1)) - 1)
    y2 = x2 * torch.exp(s) + block.G(y1)
    torch.testing.assert_close(y, torch.cat([y1, y2], 1), rtol=0, atol=0)
    torch.testing.assert_close(logdet, s.sum(dim=(1, 2, 3)), rtol=0, atol=0)
    x_rec, _ = block.inverse(y)
    x2_rec = (y2 - block.G(y1)) / torch.exp(s)
    torch.testing.assert_close(x_rec, torch.cat([y1 - block.F(x2_rec), x2_rec], 1), rtol=0, atol=0)


def test_inv_block_is_the_identity_at_initialisation() -> None:
    x = torch.randn(2, 12, 4, 4)
    y, logdet = InvBlock(12)(x)
    assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(2))


@pytest.mark.parametrize("name", sorted(SCALE_FUNCTIONS))
def test_scale_functions_match_their_formulas(name: str) -> None:
    h = torch.linspace(-6, 6, 25, dtype=torch.float64)
    clamp = 1.7
    expected = {
        "irn": clamp * (2 * torch.sigmoid(h) - 1),
        "glow": torch.log(torch.sigmoid(h + 2)),
        "atan": clamp * 2 / math.pi * torch.atan(h / clamp),
        "tanh": clamp * torch.tanh(h / clamp),
        "exp": h,
    }[name]
    torch.testing.assert_close(SCALE_FUNCTIONS[name](h, clamp), expected)


@pytest.mark.parametrize("name", ["irn", "atan", "tanh"])
def test_clamped_scale_functions_stay_within_the_clamp(name: str) -> None:
    h = torch.tensor([-1e6, -10.0, 10.0, 1e6])
    assert SCALE_FUNCTIONS[name](h, 0.5).abs().max() <= 0.5


def test_glow_scale_makes_a_fresh_affine_coupling_scale_by_sigmoid_two() -> None:
    coupling = AffineCoupling(4, TINY_GLOW, scale_fn="glow")
    x = torch.randn(1, 4, 3, 3)
    y, logdet = coupling(x)
    torch.testing.assert_close(y[:, :2], x[:, :2])
    torch.testing.assert_close(y[:, 2:], x[:, 2:] * torch.sigmoid(torch.tensor(2.0)))
    torch.testing.assert_close(logdet, torch.full((1,), 18 * math.log(torch.sigmoid(torch.tensor(2.0)).item())))


def test_affine_coupling_accepts_a_custom_scale_callable() -> None:
    coupling = AffineCoupling(2, TINY_GLOW, scale_fn=lambda h, clamp: 0.1 * h)
    perturb_parameters(coupling)
    x = torch.randn(2, 2, 3, 3)
    y, _ = coupling(x)
    torch.testing.assert_close(coupling.inverse(y)[0], x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
def test_channel_coupling_leaves_the_conditioning_channels_unchanged(reverse: bool) -> None:
    coupling = AffineCoupling(5, TINY_GLOW, split=2, reverse=reverse)
    perturb_parameters(coupling)
    x = torch.randn(2, 5, 3, 3)
    y, _ = coupling(x)
    kept = slice(2, 5) if reverse else slice(0, 2)
    changed = slice(0, 2) if reverse else slice(2, 5)
    assert torch.equal(y[:, kept], x[:, kept])
    assert not torch.allclose(y[:, changed], x[:, changed])


def test_checkerboard_mask_starts_with_zero_in_the_top_left_and_alternates() -> None:
    mask = checkerboard_mask(3, 4)
    assert mask.shape == (1, 1, 3, 4)
    assert mask[0, 0].tolist() == [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]]
    assert torch.equal(checkerboard_mask(3, 4, reverse=True), 1 - mask)


@pytest.mark.parametrize("coupling_cls", [AdditiveCoupling, AffineCoupling])
@pytest.mark.parametrize("reverse", [False, True])
def test_checkerboard_coupling_changes_only_the_unmasked_positions(coupling_cls: type, reverse: bool) -> None:
    coupling = coupling_cls(2, subnet_factory("resnet", hidden=8), mask="checkerboard", reverse=reverse)
    perturb_parameters(coupling)
    x = torch.randn(2, 2, 4, 4)
    y, _ = coupling(x)
    mask = checkerboard_mask(4, 4, reverse).bool().expand_as(x)
    assert torch.equal(y[mask], x[mask])
    assert not torch.allclose(y[~mask], x[~mask])


def test_additive_coupling_has_zero_log_determinant() -> None:
    coupling = AdditiveCoupling(4, TINY_GLOW)
    perturb_parameters(coupling)
    _, logdet = coupling(torch.randn(3, 4, 2, 2))
    assert torch.equal(logdet, torch.zeros(3))


def test_conditioning_channels_are_concatenated_to_the_subnet_input() -> None:
    block = InvBlock(5, split=2, subnet=TINY_DENSE, cond_channels=3)
    assert block.F.conv1.in_channels == 3 + 3 and block.G.conv1.in_channels == 2 + 3
    coupling = AffineCoupling(4, TINY_GLOW, cond_channels=3)
    assert coupling.subnet.conv1.in_channels == 2 + 3


def test_conditional_blocks_reject_a_missing_or_misshaped_cond_and_unconditional_ones_ignore_it() -> None:
    x = torch.randn(1, 4, 2, 2)
    with pytest.raises(ValueError, match="needs cond"):
        AffineCoupling(4, TINY_GLOW, cond_channels=1)(x)
    unconditional = InvBlock(4, split=2, subnet=TINY_DENSE)
    perturb_parameters(unconditional)
    assert torch.equal(unconditional(x, torch.randn(1, 1, 2, 2))[0], unconditional(x)[0])
    with pytest.raises(ValueError, match="2 channels"):
        InvBlock(4, split=2, subnet=TINY_DENSE, cond_channels=2)(x, torch.randn(1, 1, 2, 2))


def test_invalid_coupling_configurations_are_rejected() -> None:
    with pytest.raises(ValueError, match="split"):
        InvBlock(3, split=3)
    with pytest.raises(ValueError, match="mask"):
        AffineCoupling(4, TINY_GLOW, mask="stripes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale function"):
        AffineCoupling(4, TINY_GLOW, scale_fn="softplus")
