"""pix2pix training step (pure), its optimisers and LR schedule, and a reference two-optimiser iteration.

What the generic loop (``train/loop.py``, single optimiser today) needs for this family:

1. Two optimisers named ``"g"`` and ``"d"`` over :meth:`Pix2Pix.param_groups` (:func:`make_optimizers`), each
   with its own scheduler (:func:`make_schedulers`; the policy is per *epoch*: call ``step()`` once per epoch,
   or use ``linear_decay_factor(step // steps_per_epoch, ...)`` with a step-based loop).
2. pix2pix's update order within one iteration: one G forward ``x̂ = G(x_lq)``; D step on
   ``discriminator_loss(D, x_lq, x, x̂.detach())``; then G step on ``generator_loss(D, x_lq, x, x̂)`` with the
   *updated* D. :func:`train_iteration` is the reference of exactly that.
3. Alternatively :func:`training_losses` returns ``{"g": …, "d": …}`` from one forward with *disjoint* gradients
   (``"d"`` reaches only D, ``"g"`` only G), so ``(g + d).backward()`` followed by stepping both optimisers is a
   valid *simultaneous* update (it differs from pix2pix only in that G's adversarial term sees D before D's step).
4. No gradient clipping, no weight decay, no EMA (pix2pix has none); batch 1 by default.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from invrestore.errors import ConfigError
from invrestore.models.pix2pix.config import GANLossConfig, GeneratorConfig, Pix2PixConfig, Pix2PixOptimConfig
from invrestore.models.pix2pix.losses import discriminator_loss, generator_loss
from invrestore.models.pix2pix.model import EncoderDecoderGenerator, PatchDiscriminator, Pix2Pix, UNetGenerator

__all__ = [
    "build_generator",
    "build_pix2pix",
    "linear_decay_factor",
    "make_optimizers",
    "make_schedulers",
    "to_model_range",
    "train_iteration",
    "training_losses",
]


def to_model_range(x: Tensor) -> Tensor:
    """[0, 1] -> [−1, 1] (pix2pix's ``Normalize(0.5, 0.5)``)."""
    return x * 2.0 - 1.0


def build_generator(cfg: GeneratorConfig) -> nn.Module:
    """The generator a :class:`GeneratorConfig` describes."""
    common: dict[str, Any] = {
        "depth": cfg.depth,
        "in_channels": cfg.in_channels,
        "out_channels": cfg.out_channels,
        "ngf": cfg.ngf,
        "max_channels": cfg.max_channels,
        "norm": cfg.norm,
        "subpix_top": cfg.subpix_top,
        "info_accum_layers": cfg.info_accum_layers,
        "info_accum_growth": cfg.info_accum_growth,
    }
    if cfg.arch == "unet":
        return UNetGenerator(
            **common, dropout=cfg.dropout, icnr=cfg.icnr, info_accum_positions=cfg.info_accum_positions
        )
    if cfg.arch == "encdec":
        return EncoderDecoderGenerator(**common)
    raise ConfigError(f"generator.arch must be 'unet' or 'encdec', not {cfg.arch!r}")


def build_pix2pix(cfg: Pix2PixConfig) -> Pix2Pix:
    """Generator + PatchGAN discriminator, both with pix2pix initialisation."""
    d = cfg.discriminator
    return Pix2Pix(
        build_generator(cfg.generator),
        PatchDiscriminator(in_channels=d.in_channels, ndf=d.ndf, n_layers=d.n_layers, norm=d.norm),
    )


def _unwrap(model: nn.Module) -> Pix2Pix:
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if not isinstance(inner, Pix2Pix):
        raise TypeError(f"expected a Pix2Pix model, got {type(inner).__name__}")
    return inner


def training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: GANLossConfig
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """One pix2pix step's named losses from a single G forward. Pure: no optimiser, no device moves, no logging.

    ``batch["x_lq"]`` (condition) and ``batch["x"]`` (target) are ``(B,C,H,W)`` in [0, 1] with sides multiples of
    ``2^N``; both are mapped to [−1, 1] here.

    Returns:
        ``({"g": L_G, "d": L_D}, metrics)``; ``"d"`` has gradients only in D, ``"g"`` only in G (see module doc).
    """
    p2p = _unwrap(model)
    cond, x = to_model_range(batch["x_lq"]), to_model_range(batch["x"])
    x_hat = p2p.generator(cond)
    d_loss, d_metrics = discriminator_loss(p2p.discriminator, cond, x, x_hat, cfg.gan_mode)
    g_loss, g_metrics = generator_loss(p2p.discriminator, cond, x, x_hat, cfg.gan_mode, cfg.lambda_l1)
    return {"g": g_loss, "d": d_loss}, {**d_metrics, **g_metrics}


def make_optimizers(model: nn.Module, cfg: Pix2PixOptimConfig) -> dict[str, torch.optim.Optimizer]:
    """``{"g": Adam(G), "d": Adam(D)}`` with pix2pix's lr 2e-4, β = (0.5, 0.999), no weight decay."""
    groups = _unwrap(model).param_groups()
    return {
        name: torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        for name, params in groups.items()
    }


def linear_decay_factor(epoch: int, n_epochs: int = 100, n_epochs_decay: int = 100, epoch_count: int = 1) -> float:
    """pix2pix's ``linear`` LR policy as a multiplier of the base LR.

    ``factor(e) = 1 − max(0, e + epoch_count − n_epochs) / (n_epochs_decay + 1)`` where ``e`` is the number of
    scheduler steps taken (``LambdaLR``'s 0-based epoch). With the defaults: epochs ``e = 0..99`` train at the
    full LR, then ``e = 100`` at 100/101, …, ``e = 199`` at 1/101 (the last of the 200 epochs; it reaches 0 only at
    ``e = 200``, after training). ``epoch_count`` is pix2pix's starting epoch (for resumed runs).
    """
    return 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1)


def make_schedulers(optimizers: dict[str, torch.optim.Optimizer], cfg: Pix2PixOptimConfig) -> dict[str, LambdaLR]:
    """One :class:`LambdaLR` per optimiser with :func:`linear_decay_factor`; ``step()`` once per epoch."""

    def factor(e: int) -> float:
        return linear_decay_factor(e, cfg.n_epochs, cfg.n_epochs_decay, cfg.epoch_count)

    return {name: LambdaLR(opt, factor) for name, opt in optimizers.items()}


def train_iteration(
    model: nn.Module,
    batch: dict[str, Tensor],
    cfg: GANLossConfig,
    optimizers: dict[str, torch.optim.Optimizer],
) -> dict[str, float]:
    """Reference of one pix2pix iteration (``optimize_parameters``): G forward, D step, then G step with the
    updated D. Not pure (it steps the optimisers); it documents what a two-optimiser loop must do.

    Returns:
        the metrics of both losses (``d_real``, ``d_fake``, ``d``, ``g_gan``, ``g_l1``, ``g``).
    """
    p2p = _unwrap(model)
    cond, x = to_model_range(batch["x_lq"]), to_model_range(batch["x"])
    x_hat = p2p.generator(cond)
    optimizers["d"].zero_grad(set_to_none=True)
    d_loss, d_metrics = discriminator_loss(p2p.discriminator, cond, x, x_hat, cfg.gan_mode)
    d_loss.backward()
    optimizers["d"].step()
    optimizers["g"].zero_grad(set_to_none=True)
    g_loss, g_metrics = generator_loss(p2p.discriminator, cond, x, x_hat, cfg.gan_mode, cfg.lambda_l1)
    g_loss.backward()
    optimizers["g"].step()
    return {**d_metrics, **g_metrics}
