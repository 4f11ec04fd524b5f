"""selfVAE building blocks: weight-normalised layers, mixture likelihood, Gaussians, RealNVP prior."""

from __future__ import annotations

import math

import pytest
import torch

from invrestore.models.selfvae.distributions import (
    DiagonalGaussian,
    dmol_channels,
    dmol_log_prob,
    dmol_log_prob_pixels,
    dmol_sample,
)
from invrestore.models.selfvae.layers import (
    DenselyDecoder,
    DenselyEncoder,
    DenselyNetwork,
    WNConv2d,
    WNConvTranspose2d,
)
from invrestore.models.selfvae.prior import AltSqueeze, RealNVPPrior


def _random_params(channels: int, mixtures: int, h: int = 1, w: int = 1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(1, dmol_channels(channels, mixtures), h, w, generator=g, dtype=torch.float64)
    m = mixtures
    p[:, m : m + m * channels] = torch.rand(1, m * channels, h, w, generator=g, dtype=torch.float64)  # means
    p[:, m + m * channels : m + 2 * m * channels] = -3.0 + torch.rand(1, m * channels, h, w, generator=g)  # log s
    return p


def test_weight_normalised_conv_data_init_gives_std_001_per_channel() -> None:
    torch.manual_seed(0)
    conv = WNConv2d(3, 5, kernel_size=3, padding=1)
    x = torch.randn(4, 3, 8, 8)
    y = conv(x)  # training mode: the first call initialises
    assert bool(conv.initialized)
    flat = y.transpose(0, 1).reshape(5, -1)
    assert torch.allclose(flat.std(dim=1), torch.full((5,), 0.01), rtol=1e-3)
    assert torch.allclose(flat.mean(dim=1), torch.zeros(5), atol=1e-6)
    assert "initialized" in conv.state_dict()


def test_weight_normalised_transposed_conv_upsamples_by_two() -> None:
    conv = WNConvTranspose2d(4, 2, kernel_size=3, stride=2, padding=1, output_padding=1)
    assert conv(torch.randn(2, 4, 5, 5)).shape == (2, 2, 10, 10)


def test_dense_encoder_decoder_network_shapes() -> None:
    x = torch.randn(2, 3, 16, 16)
    assert DenselyEncoder(3, 8, 4, 2, 2)(x).shape == (2, 8, 4, 4)
    assert DenselyDecoder(8, 6, 8, 1, 2)(torch.randn(2, 8, 4, 4)).shape == (2, 6, 16, 16)
    assert DenselyNetwork(3, 7, 4, 1, 2)(x).shape == (2, 7, 16, 16)


def test_grayscale_discretised_logistic_sums_to_one_over_256_levels() -> None:
    params = _random_params(1, 10).expand(1, 30, 1, 256)
    x = (torch.arange(256, dtype=torch.float64) / 255).view(1, 1, 1, 256)
    total = dmol_log_prob_pixels(params, x).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_colour_discretised_logistic_sums_to_one_over_all_256_cubed_values() -> None:
    # every (R, G, B) value of one pixel, 32 red levels (2M values) per call; float32, summed in float64
    params = _random_params(3, 2, seed=1).float()
    levels = torch.arange(256, dtype=torch.float32) / 255
    gg, bb = torch.meshgrid(levels, levels, indexing="ij")
    rows = 32
    p = params.expand(1, params.shape[1], rows * 256, 256)
    total = 0.0
    for r0 in range(0, 256, rows):
        r = levels[r0 : r0 + rows].view(rows, 1, 1).expand(rows, 256, 256)
        x = torch.stack([r, gg.expand(rows, 256, 256), bb.expand(rows, 256, 256)]).reshape(1, 3, rows * 256, 256)
        total += dmol_log_prob_pixels(p, x).double().exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-5)


def test_dmol_log_prob_sums_pixels_and_sampling_stays_on_the_grid() -> None:
    params = _random_params(3, 10, 4, 4).float()
    x = torch.randint(0, 256, (1, 3, 4, 4)).float() / 255
    assert dmol_log_prob(params, x).shape == (1,)
    assert torch.allclose(dmol_log_prob(params, x), dmol_log_prob_pixels(params, x).sum())
    g = torch.Generator().manual_seed(0)
    s = dmol_sample(params, 3, "sample", g)
    assert s.shape == (1, 3, 4, 4) and s.min() >= 0 and s.max() <= 1
    assert torch.allclose(s * 255, torch.round(s * 255))
    m = dmol_sample(params, 3, "mean")
    assert m.shape == (1, 3, 4, 4) and m.min() >= 0 and m.max() <= 1
    assert dmol_sample(_random_params(1, 10, 4, 4), 1, "sample", g).shape == (1, 1, 4, 4)


def test_diagonal_gaussian_matches_torch_distributions_and_clamps_logvar() -> None:
    out = torch.randn(3, 8, 4, 4) * 5
    q = DiagonalGaussian.from_params(out)
    assert q.logvar.abs().max() <= 7
    z = q.rsample(torch.Generator().manual_seed(0))
    assert z.shape == (3, 4, 4, 4)
    ref = torch.distributions.Normal(q.mu, torch.exp(0.5 * q.logvar)).log_prob(z).sum(dim=(1, 2, 3))
    assert torch.allclose(q.log_prob(z), ref, rtol=1e-5, atol=1e-3)


def test_alt_squeeze_keeps_the_diagonal_subpixels_first_and_inverts() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y, ld = AltSqueeze()(x)
    assert y[0, :, 0, 0].tolist() == [0.0, 5.0, 1.0, 4.0]  # TL, BR, TR, BL of the first 2×2 patch
    assert torch.equal(AltSqueeze().inverse(y)[0], x) and ld.shape == (1,)


def test_realnvp_prior_logdet_equals_autograd_jacobian_in_float64() -> None:
    torch.manual_seed(0)
    prior = RealNVPPrior((2, 4, 4), growth_rate=4, steps=1).double()
    u = torch.randn(4, 2, 4, 4, dtype=torch.float64)
    prior.train()
    prior.log_prob(u)  # data-dependent init
    prior.eval()
    with torch.no_grad():
        for p in prior.parameters():  # move away from the near-identity init
            p.add_(0.1 * torch.randn_like(p))
    x = u[:1]
    v, logdet = prior(x)
    jac = torch.autograd.functional.jacobian(lambda t: prior(t.view(1, 2, 4, 4))[0].reshape(-1), x.reshape(-1))
    assert logdet.item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-8)
    back, _ = prior.flow.inverse(v)
    assert torch.allclose(back, x, atol=1e-10)
    expected = -0.5 * (v.pow(2) + math.log(2 * math.pi)).sum() + logdet
    assert prior.log_prob(x).item() == pytest.approx(expected.item(), abs=1e-8)


def test_realnvp_prior_samples_have_the_latent_shape() -> None:
    prior = RealNVPPrior((4, 4, 4), growth_rate=4, steps=1)
    s = prior.sample(3, torch.Generator().manual_seed(0))
    assert s.shape == (3, 4, 4, 4) and torch.isfinite(s).all()


def test_realnvp_prior_has_the_official_parameter_count() -> None:
    assert sum(p.numel() for p in RealNVPPrior((16, 8, 8)).parameters()) == 11_411_876
