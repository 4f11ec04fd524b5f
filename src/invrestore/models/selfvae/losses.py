"""Objectives of selfVAE: the negative ELBO and the importance-weighted NLL (correct and official legacy).

Paper: Gatopoulos & Tomczak, Entropy 2021 (eq. 11, the IW bound with K = 512 in §4); ``docs/selfvae.md``.

- ``NELBO(x) = −log w``, ``log w = log p(x, y, z, u) − log Q(z, u | x)`` (single sample; ``log`` in nats).
  The training loss is the batch mean; ``bpd = NELBO / (D ln 2)`` with ``D = 3·H·W`` (``x`` only).
- Importance-weighted NLL (Burda et al., 2016), per example with ``K`` samples::

      NLL_K(x) = −( logsumexp_k log w_k − log K ),     E[NLL_K] ≤ E[NELBO],   NLL_K → −log p(x) as K → ∞

- Legacy (official srVAE ``calculate_nll``, kept only for comparison): ``logsumexp_k(mean_batch NELBO_k) − log K``,
  a log-mean-exp of batch-mean *negative* ELBOs — it is **not** an importance-weighted bound and lies above the
  ELBO estimate (close to the worst of the K passes).

Data are not dequantised: the likelihoods are probability mass functions on ``{0, 1/255, …, 1}``, so these are
discrete NLLs and need no ``log 256`` correction.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from invrestore.metrics.rate import bits_per_dim

__all__ = [
    "importance_log_weights",
    "importance_weighted_nll",
    "iw_nll_from_log_weights",
    "legacy_nll",
    "legacy_nll_from_log_weights",
    "training_losses",
]

IW_SAMPLES = 512  # paper preset K


def _log_weight(model: nn.Module, x: Tensor, generator: torch.Generator | None) -> Tensor:
    return model(x, generator).log_weight  # type: ignore[no-any-return]


def training_losses(
    model: nn.Module, x: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """Pure training step objective: batch-mean NELBO (nats) and logged metrics (detached tensors, so the step
    never waits for the device).

    Args:
        model: a selfVAE-family model (``VAE``, ``SelfVAE``, ``SelfVAE3Level``).
        x: ``(B, 3, H, W)`` on the 8-bit grid.
        generator: optional generator for the reparameterisation noise.

    Returns:
        ``(loss, metrics)`` with ``metrics = {"nelbo", "bpd", <each log term (batch mean)>}``.
    """
    out = model(x, generator)
    nelbo = out.nelbo
    loss = nelbo.mean()
    metrics = {"nelbo": loss.detach(), "bpd": out.bpd.mean().detach()}
    metrics.update({k: v.detach().mean() for k, v in out.log_terms.items()})
    return loss, metrics


@torch.no_grad()
def importance_log_weights(
    model: nn.Module,
    x: Tensor,
    num_samples: int,
    chunk: int = 64,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``K`` single-sample log-weights per example: ``(B,3,H,W) -> (K, B)`` nats.

    The samples are drawn ``chunk`` at a time by tiling the batch (``chunk·B`` images per pass). Every estimator of
    this module is a function of this matrix (:func:`importance_weighted_nll`, the ``K``-sample ELBO
    ``mean_k(−log w)``, the legacy estimator).
    """
    if num_samples < 1 or chunk < 1:
        raise ValueError(f"num_samples and chunk must be >= 1, got {num_samples}, {chunk}")
    b = x.shape[0]
    log_w: list[Tensor] = []
    done = 0
    while done < num_samples:
        k = min(chunk, num_samples - done)
        xs = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
        log_w.append(_log_weight(model, xs, generator).reshape(k, b))
        done += k
    return torch.cat(log_w, dim=0)


def iw_nll_from_log_weights(log_w: Tensor) -> Tensor:
    """``(K, B)`` log-weights → per-example IW-NLL ``−(logsumexp_k log w_k − log K)``, ``(B,)`` nats."""
    return -(torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0]))


def legacy_nll_from_log_weights(log_w: Tensor) -> Tensor:
    """``(K, B)`` log-weights → the official (legacy) ``logsumexp_k(mean_b NELBO_k) − log K``, a scalar (nats)."""
    return torch.logsumexp((-log_w).mean(dim=1), dim=0) - math.log(log_w.shape[0])


@torch.no_grad()
def importance_weighted_nll(
    model: nn.Module,
    x: Tensor,
    num_samples: int = IW_SAMPLES,
    chunk: int = 64,
    generator: torch.Generator | None = None,
    return_bpd: bool = False,
) -> Tensor:
    """Importance-weighted NLL per example, ``−(logsumexp_k log w_k − log K)``: ``(B,3,H,W) -> (B,)`` nats.

    The ``K`` samples are drawn ``chunk`` at a time by tiling the batch (``chunk·B`` images per pass).

    Args:
        model: a selfVAE-family model (put it in eval mode first).
        x: ``(B, 3, H, W)`` on the 8-bit grid.
        num_samples: ``K`` (paper 512).
        chunk: samples per forward pass.
        generator: optional generator for the proposal samples.
        return_bpd: return bits per dim (``NLL / (3·H·W·ln 2)``) instead of nats.
    """
    nll = iw_nll_from_log_weights(importance_log_weights(model, x, num_samples, chunk, generator))
    return bits_per_dim(nll, x[0].numel()) if return_bpd else nll


@torch.no_grad()
def legacy_nll(
    model: nn.Module, x: Tensor, num_samples: int = IW_SAMPLES, generator: torch.Generator | None = None
) -> Tensor:
    """**Legacy** estimator of the official srVAE code (``calculate_nll``), for comparison only.

    ``logsumexp_k(mean_batch NELBO_k) − log K`` over ``K`` forward passes of the whole batch: a log-mean-exp of
    negative ELBOs (wrong sign, batch-averaged before the logsumexp). It is ≥ the ELBO estimate, not an IW bound.

    Returns:
        A scalar tensor (nats per example).
    """
    nelbos = torch.stack([(-_log_weight(model, x, generator)).mean() for _ in range(num_samples)])
    return torch.logsumexp(nelbos, dim=0) - math.log(num_samples)
