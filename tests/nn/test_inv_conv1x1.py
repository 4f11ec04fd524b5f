"""Invertible 1x1 convolution: plain and LU parameterisations."""

from __future__ import annotations

import torch

from invrestore.nn import InvConv1x1


def test_identity_initialisation_leaves_the_input_unchanged() -> None:
    for lu in (False, True):
        x = torch.randn(2, 5, 3, 3)
        y, logdet = InvConv1x1(5, lu=lu)(x)
        torch.testing.assert_close(y, x)
        torch.testing.assert_close(logdet, torch.zeros(2))


def test_orthogonal_initialisation_gives_an_orthogonal_matrix_with_zero_log_determinant() -> None:
    torch.manual_seed(0)
    for lu in (False, True):
        conv = InvConv1x1(6, lu=lu, init="orthogonal").double()
        w = conv.matrix().detach()
        torch.testing.assert_close(w @ w.T, torch.eye(6, dtype=torch.float64), atol=1e-6, rtol=0)
        _, logdet = conv(torch.randn(1, 6, 2, 2, dtype=torch.float64))
        assert abs(logdet.item()) < 1e-5


def test_lu_and_plain_parameterisations_agree_for_the_same_matrix() -> None:
    torch.manual_seed(1)
    lu = InvConv1x1(4, lu=True, init="orthogonal").double()
    with torch.no_grad():
        lu.log_scale.add_(0.3)
        lu.upper.add_(0.2)
    plain = InvConv1x1(4).double()
    with torch.no_grad():
        plain.weight.copy_(lu.matrix())
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    for a, b in zip(lu(x), plain(x)):
        torch.testing.assert_close(a, b)


def test_lu_uses_only_the_strict_triangles_and_keeps_permutation_and_sign_fixed() -> None:
    torch.manual_seed(2)
    conv = InvConv1x1(4, lu=True, init="orthogonal")
    assert {n for n, _ in conv.named_parameters()} == {"lower", "upper", "log_scale"}
    assert {n for n, _ in conv.named_buffers()} == {"perm", "sign"}
    before = conv.matrix().detach().clone()
    with torch.no_grad():
        conv.lower.add_(torch.triu(torch.ones(4, 4)))  # diagonal and upper part of `lower` are ignored
        conv.upper.add_(torch.tril(torch.ones(4, 4)))  # diagonal and lower part of `upper` are ignored
    torch.testing.assert_close(conv.matrix(), before)


def test_plain_inverse_is_recomputed_after_a_weight_update() -> None:
    conv = InvConv1x1(3).double()
    x = torch.randn(1, 3, 2, 2, dtype=torch.float64)
    conv.inverse(conv(x)[0])
    with torch.no_grad():
        conv.weight.add_(torch.tensor([[0.0, 0.5, 0.0], [0.0, 0.0, 0.2], [0.3, 0.0, 0.0]], dtype=torch.float64))
    y, logdet = conv(x)
    x_rec, logdet_inv = conv.inverse(y)
    torch.testing.assert_close(x_rec, x)
    torch.testing.assert_close(logdet_inv, -logdet)
