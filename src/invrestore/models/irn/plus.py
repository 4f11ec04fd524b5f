"""IRN+ (the GAN stage of IRN, ``docs/irn.md``–2.3): configs, the pure step and its Task.

IRN+ fine-tunes a trained IRN (``model.init_weights``, e.g. the official ``IRN_x4.pth``) with a VGG-128
discriminator D, a VGG19 conv5_4 perceptual term and **no** latent (CE) term. Per step, with the official order:

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
model (:attr:`IRNPlus.iteration`, saved in checkpoints), so resumed runs keep the warm-up boundary.

The VGG19 weights are the user's local copy of torchvision's ``vgg19-dcbb9e9d.pth`` (``loss.vgg19_weights``); they
are loaded when the task is built and never saved in checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.utils.data import Dataset

from invrestore.errors import CheckpointError, ConfigError
from invrestore.models.irn.config import IRNConfig, IRNDataConfig, IRNModelConfig
from invrestore.models.irn.losses import charbonnier_sum, squared_error_sum
from invrestore.models.irn.model import IRN, quantize_ste
from invrestore.models.irn.vgg import DiscriminatorVGG128, VGG19Features
from invrestore.models.registry import register_model
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = [
    "IRNPlus",
    "IRNPlusConfig",
    "IRNPlusDiscriminatorConfig",
    "IRNPlusLossConfig",
    "IRNPlusTask",
    "export_generator",
    "generator_state_dict",
    "irnplus_losses",
]


# -- configs --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IRNPlusLossConfig:
    """IRN+ loss weights (``docs/irn-extensions.md``; official ``train_IRN+_x4.yml``).

    Attributes:
        lambda_fit: guide loss weight (Σ(y − y_bic)², ``s²``).
        lambda_rec: pixel reconstruction weight (Charbonnier sum).
        lambda_percep: VGG19 conv5_4 feature weight (Charbonnier sum over the feature maps); 0 disables the VGG.
        lambda_gan: generator adversarial weight (BCE with logits against "real").
        gaussian_scale: std of the ẑ drawn for the backward pass.
        d_init_iters: the first this-many steps (1-based) update only D.
        eps: Charbonnier ε.
        vgg19_weights: local path of torchvision's ImageNet VGG19 weights (``vgg19-dcbb9e9d.pth``); required when
            ``lambda_percep > 0``.
    """

    lambda_fit: float = 16.0
    lambda_rec: float = 0.01
    lambda_percep: float = 0.01
    lambda_gan: float = 1.0
    gaussian_scale: float = 1.0
    d_init_iters: int = 5000
    eps: float = 1e-6
    vgg19_weights: str | None = None


@dataclass(frozen=True)
class IRNPlusDiscriminatorConfig:
    """D and its optimiser. D's LR follows the generator's milestones and γ (``train.optim``); no clipping.

    Attributes:
        nf: base width (64).
        lr, betas, weight_decay: Adam settings (1e-4, (0.9, 0.99), 0).
        init_weights: optional starting weights for D (the official ``pretrain_model_D``).
    """

    nf: int = 64
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    init_weights: str | None = None


def _plus_train() -> TrainConfig:
    return TrainConfig(
        steps=400_000,
        optim=OptimConfig(
            lr=1e-4,
            betas=(0.9, 0.999),
            weight_decay=1e-5,
            milestones=(50_000, 100_000, 200_000, 300_000),
            gamma=0.5,
            grad_clip=10.0,
        ),
    )


@dataclass(frozen=True)
class IRNPlusConfig:
    """A whole IRN+ experiment; ``train.optim`` is G's optimiser (official: Adam 1e-4, 400k steps, halving at
    50k/100k/200k/300k; the paper: 200k steps, halving at 50k/100k, ``docs/irn-extensions.md``)."""

    family: str = "irn-plus"
    model: IRNModelConfig = field(default_factory=lambda: IRNModelConfig(name="irn-x4-plus"))
    loss: IRNPlusLossConfig = field(default_factory=IRNPlusLossConfig)
    discriminator: IRNPlusDiscriminatorConfig = field(default_factory=IRNPlusDiscriminatorConfig)
    data: IRNDataConfig = field(default_factory=IRNDataConfig)
    train: TrainConfig = field(default_factory=_plus_train)


# -- model ----------------------------------------------------------------------------------------------------------
@register_model("irn-x4-plus", "irn", "IRN+ ×4: the IRN ×4 architecture after the GAN stage (4,355,376 parameters)")
def irn_x4_plus(**kw: Any) -> IRN:
    return IRN(**{"scale": 4, "blocks": [8, 8], **kw})


class IRNPlus(nn.Module):
    """The generator/discriminator pair trained by IRN+; ``forward``/``inverse`` are the generator's.

    State-dict keys are ``generator.*`` (an IRN, official layout below the prefix), ``discriminator.*`` and
    ``iteration`` (training steps taken; drives the D-only warm-up). :func:`generator_state_dict` strips the rest.
    """

    iteration: Tensor

    def __init__(self, generator: IRN, discriminator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.generator(x)  # type: ignore[no-any-return]

    def inverse(self, out: Tensor) -> tuple[Tensor, Tensor]:
        return self.generator.inverse(out)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """``{"g": G's trainable parameters (not the frozen Haar filters), "d": D's}``."""
        return {
            "g": [p for p in self.generator.parameters() if p.requires_grad],
            "d": [p for p in self.discriminator.parameters() if p.requires_grad],
        }


def generator_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The IRN weights of an :class:`IRNPlus` state dict (``generator.`` prefix removed; D and counter dropped)."""
    p = "generator."
    out = {k[len(p) :]: v for k, v in state.items() if k.startswith(p)}
    if not out:
        raise CheckpointError("the state dict holds no 'generator.*' keys: is it an IRN+ training checkpoint?")
    return out


def export_generator(checkpoint: str | Path, out: str | Path) -> Path:
    """Write the generator of an IRN+ run checkpoint (a ``last/``/``best/`` folder or its ``model.safetensors``)
    as a plain IRN safetensors file that ``load_official_checkpoint(out, "irn-x4-plus")`` and the CLI accept."""
    from invrestore.train.checkpoint import load_weights, save_weights

    src = Path(checkpoint)
    if src.is_dir():
        src = src / "model.safetensors"
    sd = generator_state_dict(load_weights(src))
    out = Path(out)
    save_weights(sd, out, metadata={"source": str(src), "model": "IRN+ generator"})
    return out


def _unwrap(model: nn.Module) -> IRNPlus:
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if not isinstance(inner, IRNPlus):
        raise TypeError(f"expected an IRNPlus model, got {type(inner).__name__}")
    return inner


# -- the step -------------------------------------------------------------------------------------------------------
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
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """One IRN+ step's named losses (module doc). Advances ``model.iteration`` by one.

    Args:
        model: an :class:`IRNPlus`.
        batch: ``"x"`` the HR crops ``(B,3,H,W)``, ``"x_lq"`` the bicubic LR guide ``(B,3,H/s,W/s)``.
        cfg: loss weights and the warm-up length.
        vgg: the frozen perceptual feature extractor (``None`` only when ``cfg.lambda_percep == 0``).
        generator: the step's random generator (for ẑ).

    Returns:
        ``({"d": L_D} or {"g": L_G, "d": L_D}, metrics)``; ``"g"`` reaches only G, ``"d"`` only D.
    """
    plus = _unwrap(model)
    g_net, d_net = plus.generator, plus.discriminator
    with torch.no_grad():
        plus.iteration += 1
    step = int(plus.iteration)
    g_active = step > cfg.d_init_iters
    x, y_bic = batch["x"], batch["x_lq"].detach()
    c = g_net.split
    with torch.set_grad_enabled(g_active and torch.is_grad_enabled()):
        out, _ = g_net(x)
        y, z = out[:, :c], out[:, c:]
        z_hat = cfg.gaussian_scale * torch.randn(z.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_hat, _ = g_net.inverse(torch.cat([quantize_ste(y), z_hat], dim=1))
    losses: dict[str, Tensor] = {}
    metrics: dict[str, float] = {}
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
            metrics["l_fea"] = float(l_fea.detach())
        l_gan = _bce(_frozen_call(d_net, x_hat), True)
        g_loss = g_loss + cfg.lambda_gan * l_gan
        losses["g"] = g_loss
        metrics.update({"l_fit": float(l_fit.detach()), "l_rec": float(l_rec.detach()), "l_gan": float(l_gan.detach())})
        metrics["g"] = float(g_loss.detach())
    pred_real = d_net(x)
    pred_fake = d_net(x_hat.detach())
    l_real, l_fake = _bce(pred_real, True), _bce(pred_fake, False)
    losses["d"] = l_real + l_fake
    metrics.update(
        {
            "d": float(losses["d"].detach()),
            "d_real": float(l_real.detach()),
            "d_fake": float(l_fake.detach()),
            "p_real": float(torch.sigmoid(pred_real.detach()).mean()),
            "p_fake": float(torch.sigmoid(pred_fake.detach()).mean()),
        }
    )
    return losses, metrics


# -- the task -------------------------------------------------------------------------------------------------------
class IRNPlusTask:
    """Trains IRN+ through :func:`invrestore.train.loop.fit` with the optimisers ``"g"`` (IRN) and ``"d"`` (D).

    Data and validation are IRN's (:class:`~invrestore.models.irn.steps.IRNTask`: bicubic guide, Y-PSNR of the
    generator). Single process only: the step calls G and D directly, which DistributedDataParallel would not sync.
    The VGG19 weights are loaded by :meth:`build_model` (:meth:`load_vgg` raises there when they are missing), i.e.
    as soon as :func:`~invrestore.train.loop.fit` starts, so presets with ``vgg19_weights: null`` still parse.
    """

    best_metric = "psnr_y"

    def __init__(self, cfg: IRNPlusConfig) -> None:
        self.cfg = cfg
        self.train = cfg.train
        self.name = cfg.model.name
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

    def config(self) -> Any:
        return self.cfg

    def _irn_task(self) -> Any:
        from invrestore.models.irn.steps import IRNTask

        c = self.cfg
        return IRNTask(IRNConfig(model=replace(c.model, init_weights=None), data=c.data, train=c.train))

    def build_model(self) -> nn.Module:
        from invrestore.models.irn.model import load_into, load_official_checkpoint
        from invrestore.models.registry import create_model

        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError("IRN+ training runs in a single process (no DistributedDataParallel support yet)")
        self.load_vgg()  # fail before any training when the perceptual loss has no weights
        m = self.cfg.model
        g = create_model(m.name, memory_efficient=m.memory_efficient)
        if not isinstance(g, IRN):
            raise ConfigError(f"IRN+ needs an IRN generator, but '{m.name}' is a {type(g).__name__}")
        if m.init_weights:
            g.load_state_dict(load_official_checkpoint(m.init_weights, m.name).state_dict())
        d_cfg = self.cfg.discriminator
        d = DiscriminatorVGG128(in_channels=g.in_channels, nf=d_cfg.nf, input_size=self.cfg.data.crop_size)
        if d_cfg.init_weights:
            from invrestore.models.irn.model import _unwrap_state_dict
            from invrestore.train.checkpoint import load_weights

            load_into(d, _unwrap_state_dict(load_weights(d_cfg.init_weights)), source=d_cfg.init_weights)
        return IRNPlus(g, d)

    def param_groups(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        return _unwrap(model).param_groups()

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
    ) -> tuple[dict[str, Tensor], dict[str, float]]:
        vgg = self.load_vgg()
        if vgg is not None:
            vgg.to(batch["x"].device)
        return irnplus_losses(model, batch, self.cfg.loss, vgg, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        result: dict[str, float] = self._irn_task().validate(_unwrap(model).generator, device)
        return result
