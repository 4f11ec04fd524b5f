"""IRAE's pixel loss (paper eq. 4; the official code's ``nn.L1Loss()``)."""

from __future__ import annotations

from torch import Tensor

__all__ = ["l1_loss"]


def l1_loss(x_hat: Tensor, x: Tensor, reduction: str = "mean") -> Tensor:
    """L1 distance between the restored and the clean images ``(B, C, H, W)``.

    ``reduction="mean"``: ``mean_{B,C,H,W} |x̂ − x|`` (the official code). ``"sum"``: the paper's eq. 4,
    ``L_p = (1/N) Σ_i ‖IRAE(y_i) − x_i‖₁`` (per-image sum, averaged over the batch); the two differ by the constant
    ``C·H·W``.
    """
    d = (x_hat - x).abs()
    if reduction == "mean":
        return d.mean()
    if reduction == "sum":
        return d.flatten(1).sum(dim=1).mean()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
