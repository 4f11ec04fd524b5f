"""selfVAE models: forward/backward, bpd conversion, IW-NLL vs NELBO, modes, registry and parameter counts."""

from __future__ import annotations

import math

import pytest
import torch

from invrestore.metrics.rate import bits_per_dim
from invrestore.models.registry import create_model, list_models
from invrestore.models.selfvae import (
    SelfVAE,
    data_dependent_init,
    importance_weighted_nll,
    legacy_nll,
    training_losses,
)

SMALL = ["vae-small", "selfvae-downscale-small", "selfvae-sketch-small", "selfvae-downscale-3lvl-small"]


def _images(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g).float() / 255


def _ready(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name)
    data_dependent_init(model, _images(4, seed=1))
    return model


def test_all_selfvae_models_are_registered() -> None:
    names = set(list_models("selfvae"))
    assert {"vae", "selfvae-downscale", "selfvae-downscale-3lvl", "selfvae-sketch", *SMALL} <= names


@pytest.mark.parametrize("name", SMALL)
def test_small_model_forward_backward_gives_finite_nelbo_and_gradients(name: str) -> None:
    model = _ready(name)
    x = _images()
    loss, metrics = training_losses(model, x, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # the metrics are detached tensors (the step never syncs the host)
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in metrics.values())
    assert float(metrics["bpd"]) == pytest.approx(float(metrics["nelbo"]) / (3 * 32 * 32 * math.log(2)), rel=1e-5)


def test_elbo_output_bpd_is_nelbo_over_d_ln2_and_terms_add_up() -> None:
    model = _ready("selfvae-downscale-small")
    out = model(_images(), torch.Generator().manual_seed(0))
    assert set(out.log_terms) == {"log_px", "log_py", "log_pz", "log_pu", "log_qz", "log_qu"}
    t = out.log_terms
    manual = -(t["log_px"] + t["log_py"] + t["log_pz"] + t["log_pu"] - t["log_qz"] - t["log_qu"])
    assert torch.allclose(out.nelbo, manual)
    assert torch.allclose(out.bpd, bits_per_dim(out.nelbo, 3 * 32 * 32))
    assert torch.allclose(out.bpd, out.nelbo / (3072 * math.log(2)))


def test_iw_nll_with_one_sample_is_the_single_sample_nelbo() -> None:
    model = _ready("vae-small").eval()
    x = _images()
    iw = importance_weighted_nll(model, x, num_samples=1, generator=torch.Generator().manual_seed(3))
    ref = model(x, torch.Generator().manual_seed(3)).nelbo
    assert torch.allclose(iw, ref, rtol=1e-5)


@pytest.mark.parametrize("name", ["vae-small", "selfvae-downscale-small"])
def test_iw_nll_is_below_the_monte_carlo_nelbo_and_legacy_is_above(name: str) -> None:
    model = _ready(name).eval()
    x = _images(2, seed=5)
    k = 64
    iw = importance_weighted_nll(model, x, num_samples=k, chunk=16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        xs = x.repeat(k, 1, 1, 1)
        nelbo = model(xs, torch.Generator().manual_seed(1)).nelbo.reshape(k, 2).mean(0)
    assert iw.shape == (2,)
    assert (iw < nelbo).all()
    legacy = legacy_nll(model, x, num_samples=8, generator=torch.Generator().manual_seed(2))
    assert legacy.item() > iw.mean().item()
    bpd = importance_weighted_nll(
        model, x, num_samples=k, chunk=16, generator=torch.Generator().manual_seed(0), return_bpd=True
    )
    assert torch.allclose(bpd, iw / (3072 * math.log(2)))


def test_generation_and_reconstruction_modes_report_the_compression_ratio() -> None:
    model = _ready("selfvae-downscale-small").eval()
    assert isinstance(model, SelfVAE)
    x = _images()
    g = torch.Generator().manual_seed(0)
    d = 3 * 32 * 32
    gen = model.generate(2, generator=g)
    assert gen.x_hat.shape == (2, 3, 32, 32) and gen.ratio == 0.0
    cg = model.conditional_generation(model.transform_y(x), generator=g)
    assert cg.values_sent == 3 * 16 * 16 and cg.ratio == pytest.approx(0.25)
    cr = model.conditional_reconstruction(x, generator=g)
    assert cr.values_sent == 3 * 16 * 16 + 4 * 8 * 8
    rs1 = model.reconstruction_1(x, generator=g)
    rs2 = model.reconstruction_2(x, pixel_mode="sample", generator=g)
    assert rs1.values_sent == 4 * 8 * 8 and rs1.ratio == pytest.approx(256 / d)
    assert rs2.values_sent == 2 * 4 * 8 * 8 and rs2.x_hat.shape == (2, 3, 32, 32)
    for out in (gen, cg, cr, rs1, rs2):
        assert out.x_hat.min() >= 0 and out.x_hat.max() <= 1


def test_three_level_model_modes_and_sketch_model_shapes() -> None:
    model = _ready("selfvae-downscale-3lvl-small").eval()
    x = _images()
    g = torch.Generator().manual_seed(0)
    assert model.generate(2, generator=g).x_hat.shape == (2, 3, 32, 32)
    rs2 = model.reconstruction_2(x, generator=g)
    assert rs2.values_sent == 3 * 4 * 4 * 4
    assert len(model(x, g).log_terms) == 9
    sk = _ready("selfvae-sketch-small").eval()
    assert sk.transform_y(x).shape == (2, 1, 32, 32)
    assert sk.reconstruction_2(x, generator=g).ratio == pytest.approx(2 * 4 * 4 * 4 / (3 * 32 * 32))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("vae", 34_276_364),
        ("selfvae-downscale", 39_272_570),
        ("vae-64", 39_269_818),
        ("selfvae-sketch", 38_193_956),
        ("selfvae-downscale-3lvl", 40_519_112),
    ],
)
def test_paper_size_presets_have_32_to_42_million_parameters(name: str, count: int) -> None:
    n = sum(p.numel() for p in create_model(name).parameters())
    assert n == count and 32e6 <= n <= 42e6
