"""EntropyBottleneck: quantization modes, density, quantile bisection, tables in the state dict, real coding."""

from __future__ import annotations

import io
import math

import pytest
import torch

from invrestore.entropy import EntropyBottleneck
from invrestore.errors import CheckpointError, InvalidBitstream


def _latent(channels: int = 4, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(0.5, 6.0, channels).view(1, channels, 1, 1)
    return torch.randn(2, channels, 6, 5, generator=g) * scales + 1.3


def _fitted(channels: int = 4, steps: int = 60) -> EntropyBottleneck:
    """A bottleneck whose density was fitted briefly (Adam on −log₂ p of noisy latents)."""
    torch.manual_seed(0)
    eb = EntropyBottleneck(channels)
    opt = torch.optim.Adam([p for n, p in eb.named_parameters() if n != "quantiles"], lr=0.05)
    y = _latent(channels)
    for _ in range(steps):
        opt.zero_grad()
        _, lik = eb(y, training=True)
        (-torch.log2(lik).sum()).backward()
        opt.step()
    return eb.eval()


def test_train_mode_adds_uniform_noise_and_eval_mode_rounds_around_the_median() -> None:
    eb = EntropyBottleneck(3)
    y = _latent(3)
    y_noisy, _ = eb(y, training=True)
    assert 0 < (y_noisy - y).abs().max() <= 0.5
    eb.update()
    y_hat, _ = eb.eval()(y)
    m = eb.medians.view(1, 3, 1, 1)
    torch.testing.assert_close(y_hat, torch.round(y - m) + m)
    torch.testing.assert_close(eb.quantize(y, "symbols"), torch.round(y - m).to(torch.int32))


def test_straight_through_quantization_has_the_coded_values_and_an_identity_gradient() -> None:
    eb = EntropyBottleneck(3)
    eb.update()
    y = _latent(3).requires_grad_(True)
    y_ste = eb.quantize_ste(y)
    assert torch.equal(y_ste.detach(), eb.dequantize(eb.quantize(y.detach(), "symbols")))
    y_ste.sum().backward()
    assert y.grad is not None and torch.equal(y.grad, torch.ones_like(y))


def test_bin_probabilities_of_every_channel_sum_to_one() -> None:
    eb = _fitted(3)
    grid = torch.arange(-400, 401, dtype=torch.float32).view(1, 1, -1).expand(1, 3, -1)
    mass = eb.likelihood(grid).sum(dim=-1)
    torch.testing.assert_close(mass, torch.ones(1, 3), atol=1e-4, rtol=0)


def test_update_bisects_the_quantiles_to_the_tail_mass_without_aux_training() -> None:
    eb = _fitted(4)
    t = math.log(2 / eb.tail_mass - 1)
    assert eb.update()
    logits = eb._logits_cdf(eb.quantiles.detach().double())
    torch.testing.assert_close(
        logits[:, 0], torch.tensor([-t, 0.0, t], dtype=torch.float64).expand(4, 3), atol=1e-3, rtol=0
    )
    assert eb.aux_loss().item() < 1e-2
    assert not eb.update()  # tables exist: a second call is a no-op unless forced
    assert eb.update(force=True)


def test_aux_loss_trains_only_the_quantiles() -> None:
    eb = EntropyBottleneck(2)
    eb.aux_loss().backward()
    assert eb.quantiles.grad is not None and eb.quantiles.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in eb.named_parameters() if n != "quantiles")


def test_compress_before_update_raises_a_clear_error() -> None:
    eb = EntropyBottleneck(2)
    with pytest.raises(CheckpointError, match=r"update\(\)"):
        eb.compress(_latent(2))
    with pytest.raises(CheckpointError, match=r"update\(\)"):
        eb.decompress([b"\x00\x00\x00\x01"], (6, 5))


def test_decompress_returns_exactly_the_dequantized_latent_of_the_eval_forward_pass() -> None:
    eb = _fitted(4)
    eb.update()
    y = _latent(4)
    strings = eb.compress(y)
    assert len(strings) == 2
    y_hat, _ = eb(y)
    assert torch.equal(eb.decompress(strings, (6, 5)), y_hat)
    assert torch.equal(eb.decompress_symbols(strings, (6, 5)), eb.quantize(y, "symbols"))


@pytest.mark.parametrize("fitted", [False, True])
def test_real_size_is_at_most_one_percent_above_the_estimate_plus_the_coder_flush(fitted: bool) -> None:
    eb = _fitted(4) if fitted else EntropyBottleneck(4).eval()
    eb.update()
    y = _latent(4, seed=1)
    _, lik = eb(y)
    estimate_bits = -torch.log2(lik).sum().item()
    real_bits = 8 * sum(len(s) for s in eb.compress(y))
    assert real_bits <= 1.01 * estimate_bits + 64 * y.shape[0]


def test_values_far_outside_the_tables_are_escape_coded_losslessly() -> None:
    eb = _fitted(2)
    eb.update()
    y = _latent(2)
    y[0, 0, 0, 0] = 1e5
    y[1, 1, 2, 3] = -3e6
    symbols = eb.quantize(y, "symbols")
    assert torch.equal(eb.decompress_symbols(eb.compress(y), (6, 5)), symbols)


def test_non_finite_latents_are_refused() -> None:
    eb = EntropyBottleneck(2)
    eb.update()
    y = _latent(2)
    y[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        eb.compress(y)


def test_tables_travel_in_the_state_dict_and_load_into_a_fresh_model_of_other_table_size() -> None:
    eb = _fitted(3)
    eb.update()
    buf = io.BytesIO()
    torch.save(eb.state_dict(), buf)
    assert {"quantized_cdf", "cdf_length", "offset"} <= set(eb.state_dict())
    fresh = EntropyBottleneck(3)
    fresh.update()  # tables of another width
    assert fresh.quantized_cdf.shape != eb.quantized_cdf.shape
    buf.seek(0)
    fresh.load_state_dict(torch.load(buf))
    y = _latent(3)
    assert torch.equal(fresh.decompress(eb.compress(y), (6, 5)), eb.decompress(eb.compress(y), (6, 5)))
    empty = EntropyBottleneck(3)  # a checkpoint saved before update() loads too, and is not ready to code
    fresh.load_state_dict(empty.state_dict())
    assert not fresh.has_tables


def test_likelihood_gradients_stay_finite_far_in_the_tails() -> None:
    eb = EntropyBottleneck(2)
    y = torch.tensor([[[[1e4]], [[-1e4]]]], requires_grad=True)
    _, lik = eb(y, training=False)
    assert torch.all(lik >= eb.likelihood_bound)
    (-torch.log2(lik).sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in eb.parameters() if p.grad is not None)


def test_payload_from_other_tables_raises_invalid_bitstream() -> None:
    a, b = _fitted(2), EntropyBottleneck(2)
    a.update()
    b.update()
    strings = a.compress(_latent(2))
    try:
        decoded = b.decompress_symbols(strings, (6, 5))
    except InvalidBitstream:
        return
    assert not torch.equal(decoded, a.quantize(_latent(2), "symbols"))  # rarely decodes; then to other symbols
