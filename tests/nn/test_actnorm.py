"""ActNorm: data-dependent initialisation, the persisted ``initialized`` flag and the pre-init policy."""

from __future__ import annotations

import copy

import torch

from invrestore.nn import ActNorm, InvertibleSequential, data_initialize, subnet_factory
from invrestore.nn.coupling import AffineCoupling


def _batch(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 3.0 + 2.0 * torch.randn(8, 4, 5, 5, generator=g)


def test_first_training_forward_makes_each_channel_zero_mean_unit_variance() -> None:
    norm = ActNorm(4).train()
    y, _ = norm(_batch())
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=(0, 2, 3), unbiased=False), torch.ones(4), atol=1e-5, rtol=0)
    assert bool(norm.initialized)


def test_initialisation_happens_only_once() -> None:
    norm = ActNorm(4).train()
    norm(_batch(0))
    loc, scale = norm.loc.detach().clone(), norm.scale.detach().clone()
    norm(_batch(1) * 5)
    assert torch.equal(norm.loc, loc) and torch.equal(norm.scale, scale)


def test_initialized_flag_is_saved_so_a_loaded_module_is_not_reinitialised() -> None:
    trained = ActNorm(4).train()
    trained(_batch(0))
    state = trained.state_dict()
    assert set(state) == {"loc", "scale", "initialized"}
    fresh = ActNorm(4).train()
    fresh.load_state_dict(state)
    fresh(_batch(1) * 5)
    assert torch.equal(fresh.loc, trained.loc) and torch.equal(fresh.scale, trained.scale)


def test_eval_mode_forward_and_inverse_before_initialisation_are_the_identity() -> None:
    norm = ActNorm(4).eval()
    x = _batch()
    y, logdet = norm(x)
    assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(8))
    norm.train()
    x_inv, _ = norm.inverse(x)
    assert torch.equal(x_inv, x)
    assert not bool(norm.initialized)


def test_log_determinant_is_minus_pixels_times_sum_of_log_scales() -> None:
    norm = ActNorm(4).train()
    x = _batch()
    _, logdet = norm(x)
    expected = -25 * torch.log(norm.scale.abs()).sum()
    torch.testing.assert_close(logdet, expected.expand(8))


def test_data_initialize_initialises_nested_actnorms_and_restores_eval_mode() -> None:
    model = InvertibleSequential(
        ActNorm(4), AffineCoupling(4, subnet_factory("glow", hidden=8), scale_fn="glow")
    ).eval()
    data_initialize(model, _batch())
    norms = [m for m in model.modules() if isinstance(m, ActNorm)]
    assert len(norms) == 3 and all(bool(n.initialized) for n in norms)
    assert not model.training


def test_data_dependent_init_inside_memory_efficient_mode_matches_plain_autograd() -> None:
    torch.manual_seed(0)
    plain = InvertibleSequential(
        ActNorm(4), AffineCoupling(4, subnet_factory("glow", hidden=8), scale_fn="glow"), ActNorm(4)
    ).double()
    efficient = copy.deepcopy(plain)
    efficient.memory_efficient = True
    x = _batch().double().requires_grad_(True)
    results = []
    for model in (plain, efficient):
        y, logdet = model.train()(x)
        loss = y.pow(3).mean() - logdet.mean()
        results.append((y.detach(), torch.autograd.grad(loss, [x, *model.parameters()])))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-12, atol=1e-12)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
