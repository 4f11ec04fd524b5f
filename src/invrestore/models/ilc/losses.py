"""Losses of ILC and of its bls2017 teacher (per-pixel / per-element means, ``docs/irn-extensions.md``).

- rate: ``bpp = −Σ log₂ p(ỹ) / (B·H·W)`` with ``ỹ = y + U(−½, ½)`` (the unpadded ``H×W``);
- distortion: ``λ_T·255²·MSE(x, x̂)`` with the teacher's ``λ_T``, so a distortion weight of 1 means the teacher's
  trade-off; for ILC ``x̂ = f⁻¹(ŷ_STE, 0)``;
- latent (distribution matching, Eq. 5 without its constant): ``mean(½ z²)``;
- distillation (Eq. 6): ``MSE(y, T_enc(x))`` with the teacher frozen.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from invrestore.entropy.codec import estimated_bits

__all__ = ["distillation_loss", "distortion_loss", "latent_loss", "rate_bpp"]


def rate_bpp(likelihoods: Mapping[str, Tensor], height: int, width: int) -> Tensor:
    """Mean bits per pixel of the batch: ``−Σ log₂ p / (B·H·W)`` (scalar)."""
    return estimated_bits(likelihoods).mean() / (height * width)


def distortion_loss(x: Tensor, x_hat: Tensor, lmbda: float) -> Tensor:
    """``λ·255²·MSE(x, x̂)`` for images in [0, 1] (the TFC/CompressAI rate–distortion weighting)."""
    return lmbda * 255.0**2 * torch.mean((x_hat - x) ** 2)


def latent_loss(z: Tensor) -> Tensor:
    """``mean(½ z²)``: the cross-entropy of ``z`` to N(0, I) per element, without its constant."""
    return 0.5 * torch.mean(z**2)


def distillation_loss(y: Tensor, y_teacher: Tensor) -> Tensor:
    """``MSE(y, T_enc(x))`` (the teacher's latent is detached)."""
    return torch.mean((y - y_teacher.detach()) ** 2)
