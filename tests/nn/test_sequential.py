"""InvertibleSequential, Inverse and FactorOut: composition, state_dict layout and multi-scale factor-out."""

from __future__ import annotations

import pytest
import torch
from invertible_helpers import perturb_parameters
from torch import nn

from invrestore.nn import (
    AffineCoupling,
    FactorOut,
    HaarDownsampling,
    InvBlock,
    Inverse,
    InvertibleSequential,
    Squeeze,
    Unsqueeze,
    standard_normal_log_prob,
    subnet_factory,
)


class _IRNLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.operations = InvertibleSequential(HaarDownsampling(3), InvBlock(12), InvBlock(12))


def test_a_model_holding_operations_gets_the_official_irn_state_dict_keys() -> None:
    keys = list(_IRNLike().state_dict())
    assert keys[0] == "operations.0.haar_weights"
    assert "operations.1.F.conv1.weight" in keys
    assert "operations.2.H.conv5.bias" in keys
    assert all(k.startswith(("operations.0.", "operations.1.", "operations.2.")) for k in keys)


def test_sequential_behaves_like_a_module_list() -> None:
    blocks = [Squeeze(2), Unsqueeze(2)]
    seq = InvertibleSequential(blocks)
    assert len(seq) == 2 and seq[0] is blocks[0] and list(seq) == blocks
    seq.append(Squeeze(2))
    assert len(seq) == 3 and isinstance(seq[1:], InvertibleSequential) and len(seq[1:]) == 2


def test_sequential_rejects_modules_that_are_not_invertible() -> None:
    with pytest.raises(TypeError, match="InvertibleModule"):
        InvertibleSequential(nn.Conv2d(1, 1, 1))  # type: ignore[arg-type]


def test_sequential_sums_log_determinants_and_inverts_in_reverse_order() -> None:
    torch.manual_seed(0)
    a, b = HaarDownsampling(1).double(), InvBlock(4, split=1, subnet=subnet_factory("dense", gc=8)).double()
    perturb_parameters(b)
    x = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    y, logdet = InvertibleSequential(a, b)(x)
    ya, la = a(x)
    yb, lb = b(ya)
    torch.testing.assert_close(y, yb)
    torch.testing.assert_close(logdet, la + lb)
    x_rec, logdet_inv = InvertibleSequential(a, b).inverse(y)
    torch.testing.assert_close(x_rec, x)
    torch.testing.assert_close(logdet_inv, -logdet)


def test_empty_sequential_is_the_identity() -> None:
    x = torch.randn(2, 3, 2, 2)
    y, logdet = InvertibleSequential()(x)
    assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(2))


def test_inverse_swaps_the_directions_and_keeps_parameters_under_module() -> None:
    block = InvBlock(4, split=1, subnet=subnet_factory("dense", gc=8))
    perturb_parameters(block)
    inv = Inverse(block)
    y = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(inv(y)[0], block.inverse(y)[0])
    torch.testing.assert_close(inv.inverse(y)[0], block(y)[0])
    assert all(k.startswith("module.") for k in inv.state_dict())


def test_factor_out_passes_the_factored_channels_through_unchanged() -> None:
    inner = InvertibleSequential(
        Squeeze(2), AffineCoupling(8, subnet_factory("glow", hidden=8), scale_fn="tanh"), Unsqueeze(2)
    )
    perturb_parameters(inner)
    x = torch.randn(2, 6, 4, 4)
    y, logdet = FactorOut(2, inner)(x)
    assert torch.equal(y[:, 2:], x[:, 2:])
    y_inner, logdet_inner = inner(x[:, :2])
    torch.testing.assert_close(y[:, :2], y_inner)
    torch.testing.assert_close(logdet, logdet_inner)


def test_factor_out_requires_a_shape_preserving_inner_flow() -> None:
    with pytest.raises(ValueError, match="preserve shape"):
        FactorOut(2, Squeeze(2))(torch.randn(1, 4, 2, 2))


def test_standard_normal_log_prob_matches_torch_distributions() -> None:
    z = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(dim=(1, 2, 3))
    torch.testing.assert_close(standard_normal_log_prob(z), expected)
