"""The IRN+ step (pure) and its task (family ``irn-plus``), ``docs/irn-extensions.md``.

Per step, with the official order:

1. ``out = G(x)``, ``y, z = out[:, :3], out[:, 3:]``; ``x̂ = G⁻¹(cat(Quant(y), ẑ))``, ``ẑ ~ N(0, I)`` (scale 1).
2. For steps ``> d_init_iters`` (1-based; the first ``d_init_iters`` steps only train D)::

       L_G = 16·Σ(y − y_bic)² + 0.01·Σ√((x − x̂)² + ε) + 0.01·Σ√((φ(x) − φ(x̂))² + ε) + 1·BCE(D(x̂), 1)

   (sums over C,H,W, means over the batch; ``φ`` = VGG19 conv5_4 before ReLU; D frozen for this loss; G's
   gradient clipped to norm 10).
3. Every step: ``L_D = BCE(D(x), 1) + BCE(D(x̂.detach()), 0)`` (D with Adam(1e-4, β = (0.9, 0.99), wd 0)).

The generic loop back-propagates ``L_G + L_D`` once and steps both optimisers (``"g"``, ``"d"``). Because ``L_G``
sees D only through detached parameters and ``L_D`` sees G only through ``x̂.detach()``, this equals the official
sequence (G step with the old D, then D step on the old ``x̂``). During the warm-up G has no loss at all, so its
optimiser is not stepped (its LR schedule still advances, as in the official code). The step counter lives in the
model (:attr:`~invrestore.models.irn.plus.model.IRNPlus.iteration`, saved in checkpoints), so resumed runs keep the
warm-up boundary.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.utils.data import Dataset

from invrestore.errors import ConfigError
from invrestore.metrics.backbones import VGG19Features
from invrestore.models.irn.config import IRNConfig
from invrestore.models.irn.losses import charbonnier_sum, squared_error_sum
from invrestore.models.irn.model import IRN, quantize_ste
from invrestore.models.irn.plus.config import IRNPlusConfig, IRNPlusLossConfig
from invrestore.models.irn.plus.discriminator import DiscriminatorVGG128
from invrestore.models.irn.plus.model import IRNPlus
from invrestore.models.registry import build_model, register_task
from invrestore.train.config import OptimConfig
from invrestore.train.task import BaseTask, unwrap

__all__ = ["IRNPlusTask", "irnplus_losses"]


def _plus(model: nn.Module) -> IRNPlus:
    inner = unwrap(model)
    if not isinstance(inner, IRNPlus):
        raise TypeError(f"expected an IRNPlus model, got {type(inner).__name__}")
    return inner


def _bce(logits: Tensor, real: bool) -> Tensor:
    target = torch.full_like(logits, 1.0 if real else 0.0)
    return F.binary_cross_entropy_with_logits(logits, target)


def _frozen_call(module: nn.Module, x: Tensor) -> Tensor:
    """``module(x)`` with detached parameters: gradients reach ``x`` only; buffers (BN statistics) update."""
    params: dict[str, Tensor] = {n: p.detach() for n, p in module.named_parameters()}
    params.update(dict(module.named_buffers()))
    out: Tensor = functional_call(module, params, (x,))
    return out


def irnplus_losses(
    model: nn.Module,
    batch: dict[str, Tensor],
    cfg: IRNPlusLossConfig,
    vgg: nn.Module | None,
    generator: torch.Generator,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """One IRN+ step's named losses (module doc). Advances the model's step counter by one.

    Args:
        model: an :class:`~invrestore.models.irn.plus.model.IRNPlus`.
        batch: ``"x"`` the HR crops ``(B,3,H,W)``, ``"x_lq"`` the bicubic LR guide ``(B,3,H/s,W/s)``.
        cfg: loss weights and the warm-up length.
        vgg: the frozen perceptual feature extractor (``None`` only when ``cfg.lambda_percep == 0``).
        generator: the step's random generator (for ẑ).

    Returns:
        ``({"d": L_D} or {"g": L_G, "d": L_D}, metrics)``; ``"g"`` reaches only G, ``"d"`` only D. The metrics
        are detached 0-d tensors (no host sync).
    """
    plus = _plus(model)
    g_net, d_net = plus.generator, plus.discriminator
    step = plus.advance()
    g_active = step > cfg.d_init_iters
    x, y_bic = batch["x"], batch["x_lq"].detach()
    c = g_net.split
    with torch.set_grad_enabled(g_active and torch.is_grad_enabled()):
        out, _ = g_net(x)
        y, z = out[:, :c], out[:, c:]
        z_hat = cfg.gaussian_scale * torch.randn(z.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_hat, _ = g_net.inverse(torch.cat([quantize_ste(y), z_hat], dim=1))
    losses: dict[str, Tensor] = {}
    metrics: dict[str, Tensor] = {}
    if g_active:
        l_fit = squared_error_sum(y, y_bic)
        l_rec = charbonnier_sum(x, x_hat, cfg.eps)
        g_loss = cfg.lambda_fit * l_fit + cfg.lambda_rec * l_rec
        if cfg.lambda_percep > 0:
            if vgg is None:
                raise ConfigError("loss.lambda_percep > 0 needs the VGG19 feature extractor")
            with torch.no_grad():
                f_real = vgg(x)
            l_fea = charbonnier_sum(f_real, vgg(x_hat), cfg.eps)
            g_loss = g_loss + cfg.lambda_percep * l_fea
            metrics["l_fea"] = l_fea.detach()
        l_gan = _bce(_frozen_call(d_net, x_hat), True)
        g_loss = g_loss + cfg.lambda_gan * l_gan
        losses["g"] = g_loss
        metrics.update({"l_fit": l_fit.detach(), "l_rec": l_rec.detach(), "l_gan": l_gan.detach()})
        metrics["g"] = g_loss.detach()
    pred_real = d_net(x)
    pred_fake = d_net(x_hat.detach())
    l_real, l_fake = _bce(pred_real, True), _bce(pred_fake, False)
    losses["d"] = l_real + l_fake
    metrics.update(
        {
            "d": losses["d"].detach(),
            "d_real": l_real.detach(),
            "d_fake": l_fake.detach(),
            "p_real": torch.sigmoid(pred_real.detach()).mean(),
            "p_fake": torch.sigmoid(pred_fake.detach()).mean(),
        }
    )
    return losses, metrics


@register_task("irn-plus", IRNPlusConfig)
class IRNPlusTask(BaseTask[IRNPlusConfig]):
    """Trains IRN+ through :func:`invrestore.train.loop.fit` with the optimisers ``"g"`` (IRN) and ``"d"`` (D).

    Data and validation are IRN's (:class:`~invrestore.models.irn.steps.IRNTask`: bicubic guide, Y-PSNR of the
    generator). Single process only: the step calls G and D directly, which DistributedDataParallel would not sync.
    The VGG19 weights are loaded by :meth:`build_model` (:meth:`load_vgg` raises there when they are missing), i.e.
    as soon as :func:`~invrestore.train.loop.fit` starts, so presets with ``vgg19_weights: null`` still load.
    """

    best_metric = "psnr_y"

    def __init__(self, cfg: IRNPlusConfig) -> None:
        super().__init__(cfg)
        self.vgg: VGG19Features | None = None

    def load_vgg(self) -> VGG19Features | None:
        """Load the frozen VGG19 of the perceptual loss (``None`` when ``loss.lambda_percep == 0``).

        Raises:
            ConfigError: ``loss.lambda_percep > 0`` without ``loss.vgg19_weights``.
            CheckpointError: the file is missing or is not a torchvision-layout VGG19.
        """
        if self.cfg.loss.lambda_percep > 0 and self.vgg is None:
            if not self.cfg.loss.vgg19_weights:
                raise ConfigError(
                    "IRN+ needs VGG19 ImageNet weights for its perceptual loss: set loss.vgg19_weights to a local "
                    f"copy of torchvision's {VGG19Features.expected_file} (or loss.lambda_percep=0 to train without it)"
                )
            self.vgg = VGG19Features.from_file(self.cfg.loss.vgg19_weights)
        return self.vgg

    def _irn_task(self) -> Any:
        from invrestore.models.irn.steps import IRNTask

        c = self.cfg
        return IRNTask(IRNConfig(model=c.model, data=c.data, train=c.train))

    def build_model(self) -> nn.Module:
        from invrestore.models.irn.model import _unwrap_state_dict, load_into, load_official_checkpoint
        from invrestore.train.checkpoint import load_weights

        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError("IRN+ training runs in a single process (no DistributedDataParallel support yet)")
        self.load_vgg()  # fail before any training when the perceptual loss has no weights
        m = self.cfg.model
        g = build_model(m)
        if not isinstance(g, IRN):
            raise ConfigError(f"IRN+ needs an IRN generator, but '{m.name}' is a {type(g).__name__}")
        if self.cfg.init_weights:
            g.load_state_dict(load_official_checkpoint(self.cfg.init_weights, m.name).state_dict())
        d_cfg = self.cfg.discriminator
        d = DiscriminatorVGG128(in_channels=g.in_channels, nf=d_cfg.nf, input_size=self.cfg.data.crop_size)
        if d_cfg.init_weights:
            load_into(d, _unwrap_state_dict(load_weights(d_cfg.init_weights)), source=d_cfg.init_weights)
        return IRNPlus(g, d)

    def param_groups(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        return _plus(model).param_groups()

    def optim_configs(self) -> dict[str, OptimConfig]:
        g = self.cfg.train.optim
        d = self.cfg.discriminator
        d_opt = replace(g, lr=d.lr, betas=d.betas, weight_decay=d.weight_decay, grad_clip=0.0)
        return {"g": g, "d": d_opt}

    def train_dataset(self) -> Dataset[Any]:
        ds: Dataset[Any] = self._irn_task().train_dataset()
        return ds

    def training_step(  # the loop accepts a dict of named losses
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        vgg = self.load_vgg()
        if vgg is not None:
            vgg.to(batch["x"].device)
        return irnplus_losses(model, batch, self.cfg.loss, vgg, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        result: dict[str, float] = self._irn_task().validate(_plus(model).generator, device)
        return result
