"""GDN / IGDN: formulas, non-negative reparametrisation and the pass-through lower bound."""

from __future__ import annotations

import torch

from invrestore.entropy import GDN, IGDN, NonNegativeParametrizer, lower_bound


def test_gdn_divides_each_channel_by_the_norm_of_beta_plus_gamma_weighted_squares() -> None:
    torch.manual_seed(0)
    gdn = GDN(3).double()
    with torch.no_grad():
        gdn.gamma.copy_(gdn.gamma_reparam.init(torch.rand(3, 3, dtype=torch.float64)))
        gdn.beta.copy_(gdn.beta_reparam.init(1 + torch.rand(3, dtype=torch.float64)))
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    beta, gamma = gdn.effective_beta, gdn.effective_gamma
    norm = beta.view(1, 3, 1, 1) + torch.einsum("ij,bjhw->bihw", gamma, x**2)
    torch.testing.assert_close(gdn(x), x / torch.sqrt(norm))
    igdn = IGDN(3).double()
    igdn.load_state_dict(gdn.state_dict())
    torch.testing.assert_close(igdn(x), x * torch.sqrt(norm))


def test_gdn_starts_with_beta_one_and_gamma_a_tenth_of_the_identity() -> None:
    gdn = GDN(4)
    torch.testing.assert_close(gdn.effective_beta, torch.ones(4))
    torch.testing.assert_close(gdn.effective_gamma, 0.1 * torch.eye(4))


def test_gdn_parameters_stay_in_range_when_gradient_steps_push_them_below_zero() -> None:
    gdn = GDN(2)
    opt = torch.optim.SGD(gdn.parameters(), lr=1.0)
    for _ in range(20):  # minimizing β and γ drives the raw parameters far below their bounds
        opt.zero_grad()
        (gdn.effective_beta.sum() + gdn.effective_gamma.sum()).backward()
        opt.step()
    assert bool((gdn.effective_beta >= 1e-6 - 1e-12).all())
    assert bool((gdn.effective_gamma >= 0).all())
    assert torch.isfinite(gdn(torch.randn(1, 2, 3, 3))).all()


def test_reparametrizer_init_is_the_inverse_of_forward_above_the_minimum() -> None:
    p = NonNegativeParametrizer(minimum=0.5)
    v = torch.tensor([0.5, 1.0, 7.0])
    torch.testing.assert_close(p(p.init(v)), v)


def test_lower_bound_passes_the_gradient_only_where_descent_would_raise_the_value() -> None:
    x = torch.tensor([-1.0, -1.0, 2.0], requires_grad=True)
    y = lower_bound(x, 0.0)
    assert y.tolist() == [0.0, 0.0, 2.0]
    y.backward(torch.tensor([1.0, -1.0, 1.0]))
    # below the bound: a positive gradient (descent lowers x further) is blocked, a negative one passes
    assert x.grad is not None and x.grad.tolist() == [0.0, -1.0, 1.0]
