"""IRN losses (official reductions: sum over C, H, W, mean over the batch)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["charbonnier_sum", "latent_loss", "squared_error_sum"]


def squared_error_sum(a: Tensor, b: Tensor) -> Tensor:
    """``mean_B Σ_CHW (a − b)²`` (the official "l2")."""
    return (a - b).pow(2).sum(dim=(1, 2, 3)).mean()


def charbonnier_sum(a: Tensor, b: Tensor, eps: float = 1e-6) -> Tensor:
    """``mean_B Σ_CHW √((a − b)² + ε)`` (the official "l1")."""
    return torch.sqrt((a - b).pow(2) + eps).sum(dim=(1, 2, 3)).mean()


def latent_loss(z: Tensor) -> Tensor:
    """``Σ z² / B`` — the cross-entropy to N(0, I) without its ½ and constant (official ``l_forw_ce``)."""
    return z.pow(2).sum() / z.shape[0]
