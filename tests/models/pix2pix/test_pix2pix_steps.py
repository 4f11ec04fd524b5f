"""pix2pix objectives and training step: GAN modes, gradient routing, a few toy steps, the LR schedule."""

from __future__ import annotations

import math

import pytest
import torch

from invrestore.errors import ConfigError
from invrestore.models.pix2pix.config import (
    PAPER_FINAL,
    DiscriminatorConfig,
    GANLossConfig,
    GeneratorConfig,
    Pix2PixConfig,
    Pix2PixOptimConfig,
)
from invrestore.models.pix2pix.losses import gan_loss
from invrestore.models.pix2pix.model import count_parameters
from invrestore.models.pix2pix.steps import (
    build_pix2pix,
    linear_decay_factor,
    make_optimizers,
    make_schedulers,
    train_iteration,
    training_losses,
)

TINY = Pix2PixConfig(model={"name": "pix2pix-unet-3", "ngf": 8}, discriminator=DiscriminatorConfig(ndf=8))


def _toy_batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 32, 32, generator=g)
    x_lq = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return {"x": x, "x_lq": x_lq}


def test_gan_loss_modes_match_their_definitions() -> None:
    zeros = torch.zeros(1, 1, 2, 2)
    assert math.isclose(float(gan_loss(zeros, True, "vanilla")), math.log(2), rel_tol=1e-6)
    assert math.isclose(float(gan_loss(zeros, False, "vanilla")), math.log(2), rel_tol=1e-6)
    assert float(gan_loss(torch.ones(1, 1, 2, 2), True, "lsgan")) == 0.0
    assert float(gan_loss(torch.full((1, 1, 2, 2), 3.0), False, "lsgan")) == 9.0
    with pytest.raises(ConfigError):
        gan_loss(zeros, True, "wgan")


@pytest.mark.parametrize("mode", ["vanilla", "lsgan"])
def test_named_losses_are_finite_and_reach_only_their_own_network(mode: str) -> None:
    torch.manual_seed(0)
    model = build_pix2pix(TINY)
    losses, metrics = training_losses(model, _toy_batch(), GANLossConfig(gan_mode=mode))
    assert set(losses) == {"g", "d"}
    assert all(math.isfinite(v) for v in metrics.values())
    g_params, d_params = model.param_groups()["g"], model.param_groups()["d"]
    grads_g = torch.autograd.grad(losses["g"], g_params + d_params, allow_unused=True, retain_graph=True)
    assert all(gr is not None for gr in grads_g[: len(g_params)])
    assert all(gr is None for gr in grads_g[len(g_params) :])
    grads_d = torch.autograd.grad(losses["d"], g_params + d_params, allow_unused=True)
    assert all(gr is None for gr in grads_d[: len(g_params)])
    assert all(gr is not None for gr in grads_d[len(g_params) :])
    assert math.isclose(metrics["g"], metrics["g_gan"] + 100.0 * metrics["g_l1"], rel_tol=1e-5)


@pytest.mark.parametrize("mode", ["vanilla", "lsgan"])
def test_a_few_pix2pix_iterations_on_a_toy_pair_decrease_both_losses(mode: str) -> None:
    torch.manual_seed(0)
    model = build_pix2pix(TINY)
    opts = make_optimizers(model, Pix2PixOptimConfig(lr=1e-3))
    batch = _toy_batch()
    history = [train_iteration(model, batch, GANLossConfig(gan_mode=mode), opts) for _ in range(8)]
    assert all(math.isfinite(v) for h in history for v in h.values())
    assert history[-1]["g_l1"] < history[0]["g_l1"]
    assert history[-1]["d"] < history[0]["d"]


def test_optimisers_are_adam_2e4_with_beta1_half_and_no_weight_decay() -> None:
    opts = make_optimizers(build_pix2pix(TINY), Pix2PixOptimConfig())
    assert set(opts) == {"g", "d"}
    for opt in opts.values():
        assert isinstance(opt, torch.optim.Adam)
        group = opt.param_groups[0]
        assert group["lr"] == 2e-4 and group["betas"] == (0.5, 0.999) and group["weight_decay"] == 0.0


@pytest.mark.parametrize(
    ("epoch", "factor"), [(0, 1.0), (50, 1.0), (99, 1.0), (100, 100 / 101), (150, 50 / 101), (199, 1 / 101), (200, 0)]
)
def test_linear_policy_is_constant_for_100_epochs_then_decays_linearly(epoch: int, factor: float) -> None:
    assert math.isclose(linear_decay_factor(epoch), factor, abs_tol=1e-12)


def test_schedulers_give_the_pix2pix_learning_rates_per_epoch() -> None:
    cfg = Pix2PixOptimConfig()
    opts = make_optimizers(build_pix2pix(TINY), cfg)
    scheds = make_schedulers(opts, cfg)
    lrs = []
    for _ in range(200):
        lrs.append(opts["g"].param_groups[0]["lr"])
        opts["g"].step()
        opts["d"].step()
        for s in scheds.values():
            s.step()
    assert lrs[0] == lrs[99] == 2e-4
    assert math.isclose(lrs[100], 2e-4 * 100 / 101)
    assert math.isclose(lrs[199], 2e-4 / 101)
    assert opts["d"].param_groups[0]["lr"] == opts["g"].param_groups[0]["lr"]


def test_the_paper_final_configuration_builds_with_the_spec_counts() -> None:
    model = build_pix2pix(PAPER_FINAL)
    assert count_parameters(model.generator) == 17_000_034
    assert count_parameters(model.discriminator) == 2_768_705
    assert PAPER_FINAL.loss.gan_mode == "lsgan"


def test_config_accepts_overrides_and_rejects_unknown_keys() -> None:
    from invrestore.train.config import merge_config

    cfg = merge_config(Pix2PixConfig, overrides=["loss.gan_mode=lsgan", "generator.depth=5"])
    assert cfg.loss.gan_mode == "lsgan" and cfg.model.depth == 5  # the older generator: form folds into model
    with pytest.raises(ConfigError):
        merge_config(Pix2PixConfig, overrides=["generator.nope=1"])
    cfg = merge_config(Pix2PixConfig, overrides=["model.name=pix2pix-unet-5-ia15-subpix", "model.ngf=16"])
    assert cfg.model.info_accum_layers == 15 and cfg.model.depth == 5 and cfg.model.ngf == 16  # the entry's settings
    with pytest.raises(ConfigError, match=r"model\.dropout does not apply to pix2pix-encdec-3"):
        merge_config(Pix2PixConfig, overrides=["model.name=pix2pix-encdec-3", "model.dropout=false"])
    with pytest.raises(ConfigError, match=r"model\.name must be a pix2pix generator"):
        merge_config(Pix2PixConfig, overrides=["model.name=pix2pix-patchgan"])


def test_the_model_configs_are_their_constructors_keyword_arguments() -> None:
    import dataclasses
    import inspect

    from invrestore.models.pix2pix.config import EncDecGeneratorConfig, UNetGeneratorConfig, generator_config
    from invrestore.models.registry import MODELS, build_model

    for cfg in (UNetGeneratorConfig(), EncDecGeneratorConfig(), DiscriminatorConfig()):
        accepted = set(inspect.signature(MODELS[cfg.name].builder).parameters)
        fields = {f.name for f in dataclasses.fields(cfg)} - {"name"}
        assert fields <= accepted and (fields == accepted or cfg.name == "pix2pix-patchgan"), cfg.name
    assert count_parameters(build_model(generator_config("pix2pix-unet-5"))) == 16_659_075
    # the older generator: form (configs saved before model:) builds the same network
    old = Pix2PixConfig(generator=GeneratorConfig(arch="encdec", depth=3, ngf=8, dropout=True))
    assert old.generator is None and old.model == generator_config("pix2pix-encdec-3", ngf=8)
    assert type(build_model(old.model)).__name__ == "EncoderDecoderGenerator"


def test_bad_values_are_refused_when_the_config_is_built() -> None:
    from invrestore.train.config import merge_config

    for override, key in [
        ("generator.arch=resnet", "generator.arch"),
        ("model.norm=group", "model.norm"),
        ("model.depth=0", "model.depth"),
        ("loss.gan_mode=wgan", "loss.gan_mode"),
        ("data.task=deblur", "data.task"),
        ("crop_size=100", "crop_size"),
        ("discriminator.norm=layer", "discriminator.norm"),
    ]:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            merge_config(Pix2PixConfig, overrides=[override])


def test_step_metrics_are_detached_tensors() -> None:
    torch.manual_seed(0)
    _, metrics = training_losses(build_pix2pix(TINY), _toy_batch(), GANLossConfig())
    assert set(metrics) == {"d_real", "d_fake", "d", "g_gan", "g_l1", "g"}
    assert all(isinstance(v, torch.Tensor) and v.ndim == 0 and not v.requires_grad for v in metrics.values())
