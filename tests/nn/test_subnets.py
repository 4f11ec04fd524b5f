"""Subnets: IRN's DenseBlock layout/initialisation and the subnet factory."""

from __future__ import annotations

import pytest
import torch

from invrestore.nn import SUBNETS, DenseBlock, GlowSubnet, subnet_factory


def _dense_block_formula(cin: int, cout: int, gc: int = 32) -> int:
    return sum(9 * gc * (cin + gc * k) + gc for k in range(4)) + 9 * (cin + 4 * gc) * cout + cout


@pytest.mark.parametrize(("cin", "cout"), [(9, 3), (3, 9), (45, 3), (2, 1), (1, 2)])
def test_dense_block_parameter_count_follows_the_irn_formula(cin: int, cout: int) -> None:
    assert sum(p.numel() for p in DenseBlock(cin, cout).parameters()) == _dense_block_formula(cin, cout)


def test_dense_block_has_five_named_3x3_convs_with_growing_inputs() -> None:
    block = DenseBlock(9, 3)
    convs = [block.conv1, block.conv2, block.conv3, block.conv4, block.conv5]
    assert [c.in_channels for c in convs] == [9, 41, 73, 105, 137]
    assert [c.out_channels for c in convs] == [32, 32, 32, 32, 3]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)


def test_dense_block_initialisation_is_scaled_xavier_with_a_zero_last_conv() -> None:
    torch.manual_seed(0)
    block = DenseBlock(45, 3)
    for conv in (block.conv1, block.conv2, block.conv3, block.conv4):
        fan_in, fan_out = conv.in_channels * 9, conv.out_channels * 9
        xavier_std = (2.0 / (fan_in + fan_out)) ** 0.5
        assert conv.weight.std().item() == pytest.approx(0.1 * xavier_std, rel=0.1)
        assert conv.bias is not None and torch.equal(conv.bias, torch.zeros_like(conv.bias))
    assert torch.equal(block.conv5.weight, torch.zeros_like(block.conv5.weight))
    assert block.conv5.bias is not None and torch.equal(block.conv5.bias, torch.zeros(3))


@pytest.mark.parametrize("name", sorted(SUBNETS))
def test_every_registered_subnet_keeps_the_spatial_size_and_starts_at_zero(name: str) -> None:
    kwargs = {"dense": {"gc": 8}, "glow": {"hidden": 8}, "densenet": {"growth": 4, "steps": 2}}.get(name, {"hidden": 8})
    net = subnet_factory(name, **kwargs)(3, 5)
    out = net(torch.randn(2, 3, 5, 6))
    assert out.shape == (2, 5, 5, 6)
    assert torch.equal(out, torch.zeros_like(out))


def test_irae_variant_of_the_glow_subnet_pads_the_1x1_conv_and_not_the_last_conv() -> None:
    net = GlowSubnet(2, 4, hidden=8, variant="irae")
    assert net.conv2.padding == (1, 1) and net.conv3.conv.padding == (0, 0)
    assert net(torch.randn(1, 2, 5, 5)).shape == (1, 4, 5, 5)


def test_unknown_subnet_names_are_rejected_with_the_known_names() -> None:
    with pytest.raises(KeyError, match="dense"):
        subnet_factory("transformer")
