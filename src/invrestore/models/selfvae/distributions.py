"""Distributions of selfVAE: the discretised logistic mixture likelihood and diagonal Gaussians.

Paper: Gatopoulos & Tomczak, "Self-Supervised Variational Auto-Encoders", Entropy 2021; the likelihood is the
discretised mixture of logistics of PixelCNN++ (Salimans et al., ICLR 2017) as in the official srVAE code
(``src/modules/distributions.py``), ``docs/selfvae.md``.

Data convention: ``x ∈ {0, 1/255, …, 1}`` (no dequantisation), bin width ``b = 1/255``. The likelihood is a
*probability mass function* over the 256 levels of every sub-pixel, so ``−log p(x)`` is a discrete NLL in nats and
bits per dim are ``−log p(x) / (D ln 2)`` with no ``log 256`` correction.

Parameter layout (``M`` mixture components, channel index ``m·C + c`` inside each group)::

    RGB  (C = 3): [ π logits (M) | μ (3M) | log s (3M) | coeffs (3M) ]   -> 10·M channels (100 for M = 10)
    gray (C = 1): [ π logits (M) | μ (M)  | log s (M) ]                  ->  3·M channels (30 for M = 10)

For RGB the means are channel-autoregressive (PixelCNN++), with the *given* (ground-truth) values::

    μ_G ← μ_G + c₀·x_R,      μ_B ← μ_B + c₁·x_R + c₂·x_G,      c = tanh(coeffs),   log s ≥ −7

Per sub-pixel with ``x± = (x − μ ± b/2)/s``: ``log σ(x⁺)`` at ``x = 0``, ``log(1 − σ(x⁻))`` at ``x = 1``,
otherwise ``log(σ(x⁺) − σ(x⁻))``, or the density approximation ``log pdf(x) + log b`` when the difference is
below ``1e-5``. ``log p(x) = Σ_pixels logsumexp_m(log π_m + Σ_c log p_m(x_c))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "DiagonalGaussian",
    "dmol_channels",
    "dmol_log_prob",
    "dmol_log_prob_pixels",
    "dmol_sample",
    "gaussian_log_prob",
]

BIN = 1.0 / 255.0
_LOG_SCALE_MIN = -7.0
_LOG_2PI = math.log(2 * math.pi)


def dmol_channels(image_channels: int, mixtures: int = 10) -> int:
    """Number of parameter channels of the mixture for ``image_channels`` ∈ {1, 3} (30 / 100 for M = 10)."""
    if image_channels == 3:
        return 10 * mixtures
    if image_channels == 1:
        return 3 * mixtures
    raise ValueError(f"the discretised logistic mixture supports 1 or 3 channels, got {image_channels}")


def _split_params(params: Tensor, image_channels: int) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    b, ch, h, w = params.shape
    per = 10 if image_channels == 3 else 3
    if ch % per:
        raise ValueError(f"{ch} parameter channels do not fit a {image_channels}-channel mixture")
    m, c = ch // per, image_channels
    logits = params[:, :m]
    means = params[:, m : m + m * c].reshape(b, m, c, h, w)
    log_scales = params[:, m + m * c : m + 2 * m * c].reshape(b, m, c, h, w).clamp(min=_LOG_SCALE_MIN)
    coeffs = None
    if c == 3:
        coeffs = torch.tanh(params[:, m + 2 * m * c : m + 2 * m * c + 3 * m].reshape(b, m, 3, h, w))
    return logits, means, log_scales, coeffs


def _ar_means(means: Tensor, coeffs: Tensor | None, x: Tensor) -> Tensor:
    """Channel-autoregressive means; ``means (B,M,C,H,W)``, ``x (B,1,C,H,W)``."""
    if coeffs is None:
        return means
    m0 = means[:, :, 0]
    m1 = means[:, :, 1] + coeffs[:, :, 0] * x[:, :, 0]
    m2 = means[:, :, 2] + coeffs[:, :, 1] * x[:, :, 0] + coeffs[:, :, 2] * x[:, :, 1]
    return torch.stack([m0, m1, m2], dim=2)


def dmol_log_prob_pixels(params: Tensor, x: Tensor) -> Tensor:
    """Log-probability of every pixel (all channels jointly) under the discretised logistic mixture.

    Args:
        params: mixture parameters ``(B, 10M, H, W)`` (RGB) or ``(B, 3M, H, W)`` (grayscale).
        x: image ``(B, C, H, W)`` with values on the grid ``{0, 1/255, …, 1}``.

    Returns:
        ``(B, H, W)``: ``log p(x_{ij})`` in nats.
    """
    c = x.shape[1]
    logits, means, log_scales, coeffs = _split_params(params, c)
    xe = x.unsqueeze(1)  # (B,1,C,H,W)
    mu = _ar_means(means, coeffs, xe)
    centered = xe - mu
    inv_s = torch.exp(-log_scales)
    plus_in = inv_s * (centered + BIN / 2)
    min_in = inv_s * (centered - BIN / 2)
    log_cdf_plus = plus_in - F.softplus(plus_in)  # log σ(x⁺), used at x = 0
    log_one_minus_cdf_min = -F.softplus(min_in)  # log(1 − σ(x⁻)), used at x = 1
    cdf_delta = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
    mid_in = inv_s * centered
    log_pdf_mid = mid_in - log_scales - 2.0 * F.softplus(mid_in) + math.log(BIN)
    inner = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)), log_pdf_mid)
    lp = torch.where(xe < 0.5 * BIN, log_cdf_plus, torch.where(xe > 1 - 0.5 * BIN, log_one_minus_cdf_min, inner))
    joint = lp.sum(dim=2) + F.log_softmax(logits, dim=1)  # (B,M,H,W)
    return torch.logsumexp(joint, dim=1)


def dmol_log_prob(params: Tensor, x: Tensor) -> Tensor:
    """Per-example log-probability ``log p(x) = Σ_pixels log p(x_ij)``: ``(B, ·, H, W) -> (B,)`` (nats)."""
    return dmol_log_prob_pixels(params, x).sum(dim=(1, 2))


def dmol_sample(
    params: Tensor,
    image_channels: int = 3,
    mode: Literal["mean", "sample"] = "mean",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw an image from the mixture.

    ``mode="mean"`` (the official default, ``random_sample=False``): take the component with the largest logit
    and return its mean, with the channel recursion applied to the previously produced channels, clamped to
    ``[0, 1]`` (not quantised). ``mode="sample"``: an exact sample of the discretised distribution — the component
    is drawn from ``softmax(π)``, each channel gets logistic noise ``μ + s·(log u − log(1 − u))``, is rounded to
    the nearest level and clamped (the edge bins absorb the tails), and conditions the next channel's mean.

    Args:
        params: ``(B, 10M, H, W)`` or ``(B, 3M, H, W)``.
        image_channels: ``C`` (3 or 1).
        mode: ``"mean"`` or ``"sample"``.
        generator: random generator for ``"sample"``.

    Returns:
        ``(B, C, H, W)`` in ``[0, 1]``.
    """
    logits, means, log_scales, coeffs = _split_params(params, image_channels)
    b, m, c, h, w = means.shape
    if mode == "mean":
        comp = logits.argmax(dim=1)
    elif mode == "sample":
        probs = torch.softmax(logits, dim=1).permute(0, 2, 3, 1).reshape(-1, m)
        comp = torch.multinomial(probs, 1, generator=generator).reshape(b, h, w)
    else:
        raise ValueError(f"unknown sampling mode {mode!r}")
    onehot = F.one_hot(comp, m).permute(0, 3, 1, 2).unsqueeze(2).to(means.dtype)  # (B,M,1,H,W)
    mu = (means * onehot).sum(1)  # (B,C,H,W)
    ls = (log_scales * onehot).sum(1)
    cf = (coeffs * onehot).sum(1) if coeffs is not None else None
    out: list[Tensor] = []
    for ch in range(c):
        mean = mu[:, ch]
        if cf is not None and ch == 1:
            mean = mean + cf[:, 0] * out[0]
        elif cf is not None and ch == 2:
            mean = mean + cf[:, 1] * out[0] + cf[:, 2] * out[1]
        if mode == "sample":
            u = torch.rand(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
            u = u.clamp(1e-5, 1 - 1e-5)
            val = mean + torch.exp(ls[:, ch]) * (torch.log(u) - torch.log1p(-u))
            val = torch.round(val.clamp(0, 1) * 255) / 255
        else:
            val = mean.clamp(0, 1)
        out.append(val)
    return torch.stack(out, dim=1)


def gaussian_log_prob(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Diagonal Gaussian log-density summed per example (official formula with its ``1e-12``):
    ``−½ Σ [logvar + (z − μ)²/(e^logvar + 1e-12) + ln 2π]``. ``(B, ...) -> (B,)``."""
    lp = -0.5 * (logvar + (z - mu).pow(2) / (torch.exp(logvar) + 1e-12) + _LOG_2PI)
    return lp.reshape(lp.shape[0], -1).sum(dim=1)


@dataclass(frozen=True)
class DiagonalGaussian:
    """``N(μ, diag(e^logvar))`` over latents ``(B, C, h, w)``; ``logvar`` is already hard-tanh'ed to ``[−7, 7]``.

    Attributes:
        mu: mean ``(B, C, h, w)``.
        logvar: log-variance ``(B, C, h, w)``.
    """

    mu: Tensor
    logvar: Tensor

    @classmethod
    def from_params(cls, out: Tensor) -> DiagonalGaussian:
        """Split a network output ``(B, 2C, h, w)`` into ``μ, logvar = out.chunk(2)``;
        ``logvar = hardtanh(logvar, −7, 7)``."""
        mu, logvar = out.chunk(2, dim=1)
        return cls(mu, F.hardtanh(logvar, -7.0, 7.0))

    def rsample(self, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised sample ``μ + e^{logvar/2}·ε``, ``ε ~ N(0, I)``."""
        eps = torch.randn(self.mu.shape, generator=generator, dtype=self.mu.dtype, device=self.mu.device)
        return self.mu + torch.exp(0.5 * self.logvar) * eps

    def log_prob(self, z: Tensor) -> Tensor:
        """``log N(z; μ, e^logvar)`` summed per example, ``(B,)``."""
        return gaussian_log_prob(z, self.mu, self.logvar)
