"""pix2pix / LSGAN objectives (``docs/generative.md``–2.2; paper eq. 16–18).

All images here are in the generator's range [−1, 1]; ``cond`` is the degraded input ``x_lq``, ``x`` the target,
``x_hat = G(cond)``. Reductions are means, as in pix2pix:

.. math::

    \\mathcal{L}_D = \\tfrac12\\big[\\ell(D(c, x), 1) + \\ell(D(c, \\hat x), 0)\\big],\\qquad
    \\mathcal{L}_G = \\ell(D(c, \\hat x), 1) + \\lambda\\,\\lVert x - \\hat x\\rVert_1

with ``ℓ`` = BCE-with-logits (``vanilla``) or squared error (``lsgan``) against a target map of ones/zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from invrestore.errors import ConfigError

__all__ = ["GAN_MODES", "discriminator_loss", "gan_loss", "generator_loss"]

GAN_MODES = ("vanilla", "lsgan")


def gan_loss(logits: Tensor, target_is_real: bool, mode: str = "vanilla") -> Tensor:
    """Mean GAN loss of a patch logit map ``(B,1,h,w)`` against the all-ones (real) or all-zeros (fake) target.

    Args:
        logits: discriminator output (no sigmoid).
        target_is_real: target 1 (real) or 0 (fake).
        mode: ``"vanilla"`` (BCE with logits) or ``"lsgan"`` (MSE, Mao et al. 2017).
    """
    target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ConfigError(f"gan_mode must be one of {GAN_MODES}, not {mode!r}")


def discriminator_loss(
    discriminator: nn.Module, cond: Tensor, x: Tensor, x_hat: Tensor, mode: str = "vanilla"
) -> tuple[Tensor, dict[str, Tensor]]:
    """``L_D = ½[ℓ(D(c,x),1) + ℓ(D(c,x̂),0)]``; ``x_hat`` is detached here (no gradient reaches G).

    Returns:
        ``(loss, {"d_real", "d_fake", "d"})``, the metrics as detached tensors (no host sync).
    """
    real = gan_loss(discriminator(cond, x), True, mode)
    fake = gan_loss(discriminator(cond, x_hat.detach()), False, mode)
    loss = 0.5 * (real + fake)
    return loss, {"d_real": real.detach(), "d_fake": fake.detach(), "d": loss.detach()}


def generator_loss(
    discriminator: nn.Module,
    cond: Tensor,
    x: Tensor,
    x_hat: Tensor,
    mode: str = "vanilla",
    lambda_l1: float = 100.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """``L_G = ℓ(D(c,x̂),1) + λ·mean|x − x̂|``, evaluated with D's parameters *frozen*.

    D runs through :func:`torch.func.functional_call` with detached parameters, so the loss sends gradients only
    to ``x_hat`` (and on to G) and never into D — what pix2pix gets with ``set_requires_grad(D, False)``, without
    touching D. D's BatchNorm running statistics are still updated (D is in train mode in pix2pix's G step too).

    Returns:
        ``(loss, {"g_gan", "g_l1", "g"})``, the metrics as detached tensors.
    """
    frozen = {name: p.detach() for name, p in discriminator.named_parameters()}
    frozen.update(dict(discriminator.named_buffers()))
    logits = functional_call(discriminator, frozen, (cond, x_hat))
    adv = gan_loss(logits, True, mode)
    l1 = F.l1_loss(x_hat, x)
    loss = adv + lambda_l1 * l1
    return loss, {"g_gan": adv.detach(), "g_l1": l1.detach(), "g": loss.detach()}
