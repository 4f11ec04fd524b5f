"""selfVAE models: the VAE baseline, selfVAE-downscale / -sketch (one level) and the 3-level selfVAE-downscale.

Paper: Gatopoulos & Tomczak, "Self-Supervised Variational Auto-Encoders", Entropy 2021 (eq. 11, eq. 21–23);
official code of the single-level CIFAR-10 model: srVAE (``docs/selfvae.md``).

Every model returns, per example, the single-sample log importance weight ``log w = log p(x, y, z, u) −
log Q(z, u | x)`` split into its terms; ``NELBO = −log w`` (in nats; the loss is its batch mean) and
``bpd = NELBO / (3·H·W·ln 2)``. Because ``y = d(x)`` is a deterministic function of ``x``, ``p(x) = p(x, y)``.

One level (``transform = d``: downscale or sketch)::

    x ──d──► y ──q(u|y)──► u ~ p_λ(u) (RealNVP)
    x ──q(z|x)──► z
    log w = ln p(x|y,z) + ln p(y|u) + ln p(z|y,u) + ln p_λ(u) − ln q(z|x) − ln q(u|y)           (eq. 11)

Three levels (eq. 21–23 with K = 2; ``y1 = d(x)``, ``y2 = d(y1)``)::

    p = p(x|y1,z1) p(z1|y1,z2) p(y1|y2,z2) p(z2|u,y2) p(y2|u) p_λ(u),   Q = q(u|y2) q(z1|x) q(z2|y1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.metrics.rate import bits_per_dim
from invrestore.models.selfvae.config import CondDecoderArgs, CondPriorArgs, DenseArgs, ScaleArgs
from invrestore.models.selfvae.distributions import DiagonalGaussian, dmol_channels, dmol_log_prob, dmol_sample
from invrestore.models.selfvae.layers import DenselyDecoder, DenselyEncoder, DenselyNetwork
from invrestore.models.selfvae.prior import RealNVPPrior
from invrestore.models.selfvae.transforms import downscale, sketch

__all__ = [
    "VAE",
    "ConditionalDecoder",
    "ConditionalPrior",
    "ELBOOutput",
    "GaussianEncoder",
    "ModeOutput",
    "SelfVAE",
    "SelfVAE3Level",
]

PixelMode = Literal["mean", "sample"]

# official srVAE CIFAR-10 sizes (module-level so that the defaults are shared immutable values)
_VAE_ENC = ScaleArgs(16, 8, 2)
_VAE_DEC = ScaleArgs(128, 6, 2)
_SV_QU = ScaleArgs(64, 3, 1)
_SV_PY = ScaleArgs(128, 4, 1)
_SV_QZ = ScaleArgs(16, 4, 2)
_SV_PZ = CondPriorArgs(ScaleArgs(32, 5, 1), DenseArgs(64, 3, 3), DenseArgs(64, 3, 3))
_SV_PX = CondDecoderArgs(ScaleArgs(64, 8, 2), DenseArgs(64, 5, 3))


@dataclass
class ELBOOutput:
    """Per-example result of one forward pass.

    Attributes:
        log_terms: the signed log-density terms of ``log w``, each ``(B,)`` (``log_q*`` enter with a minus sign).
        num_dims: ``D = C·H·W`` of ``x``.
    """

    log_terms: dict[str, Tensor]
    num_dims: int
    latents: dict[str, Tensor] = field(default_factory=dict)

    @property
    def log_weight(self) -> Tensor:
        """``log w = Σ log p − Σ log q``, ``(B,)``."""
        total = torch.zeros_like(next(iter(self.log_terms.values())))
        for name, value in self.log_terms.items():
            total = total - value if name.startswith("log_q") else total + value
        return total

    @property
    def nelbo(self) -> Tensor:
        """Negative ELBO per example in nats, ``(B,)``."""
        return -self.log_weight

    @property
    def bpd(self) -> Tensor:
        """Negative ELBO in bits per dimension, ``(B,)``."""
        return bits_per_dim(self.nelbo, self.num_dims)


@dataclass
class ModeOutput:
    """Result of a generation/reconstruction mode (paper §3.3).

    Attributes:
        x_hat: the produced image ``(B, 3, H, W)``.
        y_hat: the produced (or given) ``y``.
        values_sent: number of scalar values transmitted per image.
        ratio: ``values_sent / (3·H·W)``.
    """

    x_hat: Tensor
    y_hat: Tensor
    values_sent: int
    ratio: float


class GaussianEncoder(nn.Module):
    """``q(z|x) = N(μ, e^logvar)`` from a :class:`DenselyEncoder`: ``(B,C,H,W) -> (B,Cz,H/2^sf,W/2^sf)``.

    Args:
        in_channels: channels of the input.
        latent_channels: ``Cz``.
        args: encoder size.
    """

    def __init__(self, in_channels: int, latent_channels: int, args: ScaleArgs) -> None:
        super().__init__()
        self.net = DenselyEncoder(in_channels, 2 * latent_channels, args.growth_rate, args.steps, args.scale_factor)

    def forward(self, x: Tensor) -> DiagonalGaussian:
        return DiagonalGaussian.from_params(self.net(x))


class ConditionalPrior(nn.Module):
    """``p(z | y, c)``: ``cat[ELU(Enc(y)), DNet(c)] → DNet → (μ, logvar)`` (official ``p_z``).

    Shapes: ``y (B,Cy,Hy,Wy)`` and ``c (B,Cc,h,w)`` with ``Hy/2^sf = h`` → ``N`` over ``(B,Cz,h,w)``.

    Args:
        y_channels: ``Cy``.
        cond_channels: ``Cc``.
        latent_channels: ``Cz``.
        args: network sizes.
    """

    def __init__(self, y_channels: int, cond_channels: int, latent_channels: int, args: CondPriorArgs) -> None:
        super().__init__()
        ye, cn, co = args.y_encoder, args.cond_net, args.core
        self.y_net = DenselyEncoder(y_channels, latent_channels, ye.growth_rate, ye.steps, ye.scale_factor)
        self.cond_net = DenselyNetwork(cond_channels, latent_channels, cn.growth_rate, cn.steps, cn.blocks)
        self.core = DenselyNetwork(2 * latent_channels, 2 * latent_channels, co.growth_rate, co.steps, co.blocks)

    def forward(self, y: Tensor, c: Tensor) -> DiagonalGaussian:
        joint = torch.cat([F.elu(self.y_net(y)), self.cond_net(c)], dim=1)
        return DiagonalGaussian.from_params(self.core(joint))


class ConditionalDecoder(nn.Module):
    """``p(x | y, z)`` mixture parameters: ``DNet(cat[bilinear_up(y), Dec(z)])`` (official ``p_x``).

    Shapes: ``y (B,Cy,Hy,Wy)``, ``z (B,Cz,h,w)`` → ``(B, out, h·2^sf, w·2^sf)``.

    Args:
        y_channels: ``Cy``.
        latent_channels: ``Cz``.
        out_channels: mixture parameter channels (100 for RGB, M = 10).
        args: network sizes.
    """

    def __init__(self, y_channels: int, latent_channels: int, out_channels: int, args: CondDecoderArgs) -> None:
        super().__init__()
        zd, co = args.z_decoder, args.core
        self.z_net = DenselyDecoder(latent_channels, out_channels, zd.growth_rate, zd.steps, zd.scale_factor)
        self.core = DenselyNetwork(out_channels + y_channels, out_channels, co.growth_rate, co.steps, co.blocks)

    def forward(self, y: Tensor, z: Tensor) -> Tensor:
        z_out = self.z_net(z)
        if y.shape[-2:] != z_out.shape[-2:]:
            y = F.interpolate(y, size=z_out.shape[-2:], mode="bilinear", align_corners=False)
        return self.core(torch.cat([y, z_out], dim=1))  # type: ignore[no-any-return]


def _latent_size(size: int, scale_factor: int) -> int:
    if size % (2**scale_factor):
        raise ValueError(f"size {size} is not divisible by 2^{scale_factor}")
    return size // 2**scale_factor


class _LatentModel(nn.Module):
    """Shared helpers: dimensions and single-sample ``log w`` (used by the IW estimator)."""

    image_size: int

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> ELBOOutput:
        raise NotImplementedError

    def log_weight(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Single-sample ``log w = log p(x, ·) − log Q(· | x)``, ``(B,3,H,W) -> (B,)``."""
        return self.forward(x, generator).log_weight

    def _check(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-2:] != (self.image_size, self.image_size):
            s = self.image_size
            raise ValueError(f"{type(self).__name__} expects (B, 3, {s}, {s}) in [0, 1], got {tuple(x.shape)}")


class VAE(_LatentModel):
    """VAE baseline with a RealNVP prior (official srVAE ``VAE``)::

        x ─q(z|x): Enc─► z ─p(x|z): Dec─► dmol(x);   p(z) = RealNVP

    ``x (B,3,S,S)`` in ``{0,…,255}/255``; ``z (B,Cz,S/2^sf,S/2^sf)``.

    Args:
        image_size: ``S``.
        latent_channels: ``Cz`` (16 → 1024-d latents at 32²).
        encoder: ``q(z|x)`` size.
        decoder: ``p(x|z)`` size (its ``scale_factor`` must equal the encoder's).
        prior_growth: RealNVP s/t-net growth rate.
        prior_steps: RealNVP s/t-net dense steps.
        mixtures: logistic mixture components ``M``.
    """

    def __init__(
        self,
        image_size: int = 32,
        latent_channels: int = 16,
        encoder: ScaleArgs = _VAE_ENC,
        decoder: ScaleArgs = _VAE_DEC,
        prior_growth: int = 64,
        prior_steps: int = 5,
        mixtures: int = 10,
    ) -> None:
        super().__init__()
        self.image_size = image_size
        self.latent_shape = (latent_channels, *(2 * [_latent_size(image_size, encoder.scale_factor)]))
        self.q_z = GaussianEncoder(3, latent_channels, encoder)
        d = decoder
        self.p_x = DenselyDecoder(latent_channels, dmol_channels(3, mixtures), d.growth_rate, d.steps, d.scale_factor)
        self.prior = RealNVPPrior(self.latent_shape, prior_growth, prior_steps)  # type: ignore[arg-type]

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> ELBOOutput:
        """``(B,3,S,S) -> ELBOOutput`` with terms ``log_px, log_pz, log_qz``."""
        self._check(x)
        qz = self.q_z(x)
        z = qz.rsample(generator)
        terms = {
            "log_px": dmol_log_prob(self.p_x(z), x),
            "log_pz": self.prior.log_prob(z),
            "log_qz": qz.log_prob(z),
        }
        return ELBOOutput(terms, x[0].numel(), {"z": z})

    @torch.no_grad()
    def generate(self, n: int, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None) -> Tensor:
        """``z ~ p(z)``, ``x ~ p(x|z)``: ``(n, 3, S, S)``."""
        z = self.prior.sample(n, generator)
        return dmol_sample(self.p_x(z), 3, pixel_mode, generator)

    @torch.no_grad()
    def reconstruct(
        self, x: Tensor, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None
    ) -> Tensor:
        """``z ~ q(z|x)``, ``x̂ ~ p(x|z)``."""
        z = self.q_z(x).rsample(generator)
        return dmol_sample(self.p_x(z), 3, pixel_mode, generator)


class SelfVAE(_LatentModel):
    """One-level selfVAE (paper eq. 11) with ``y = d(x)``: ``"downscale"`` (2×, official PIL bilinear or bicubic)
    or ``"sketch"`` (1-channel, same size)::

        y = d(x) ─q(u|y)─► u          u ~ p_λ(u) ─p(y|u)─► y
        x ─q(z|x)─► z                 (y, u) ─p(z|y,u)─► z;   (y, z) ─p(x|y,z)─► x

    Shapes (downscale, CIFAR): ``x (B,3,32,32)``, ``y (B,3,16,16)``, ``u, z (B,16,8,8)``.

    Args:
        transform: ``"downscale"`` or ``"sketch"``.
        image_size: ``S``.
        latent_channels: channels of ``u`` and ``z``.
        q_u, p_y, q_z: encoder/decoder sizes (``p_y.scale_factor`` must equal ``q_u``'s).
        p_z: conditional prior size.
        p_x: conditional likelihood size.
        prior_growth: RealNVP s/t-net growth rate.
        prior_steps: RealNVP s/t-net dense steps.
        mixtures: logistic mixture components ``M``.
        downscale_method: ``"pil_bilinear"`` (official code) or ``"bicubic"`` (paper Fig. 1).
        sketch_sigma: blur σ of the sketch transform.
    """

    def __init__(
        self,
        transform: Literal["downscale", "sketch"] = "downscale",
        image_size: int = 32,
        latent_channels: int = 16,
        q_u: ScaleArgs = _SV_QU,
        p_y: ScaleArgs = _SV_PY,
        q_z: ScaleArgs = _SV_QZ,
        p_z: CondPriorArgs = _SV_PZ,
        p_x: CondDecoderArgs = _SV_PX,
        prior_growth: int = 64,
        prior_steps: int = 5,
        mixtures: int = 10,
        downscale_method: Literal["pil_bilinear", "bicubic"] = "pil_bilinear",
        sketch_sigma: float = 2.0,
    ) -> None:
        super().__init__()
        if transform not in ("downscale", "sketch"):
            raise ValueError(f"unknown transform {transform!r}")
        self.transform = transform
        self.downscale_method = downscale_method
        self.sketch_sigma = sketch_sigma
        self.image_size = image_size
        self.y_channels = 3 if transform == "downscale" else 1
        self.y_size = image_size // 2 if transform == "downscale" else image_size
        u_size = _latent_size(self.y_size, q_u.scale_factor)
        z_size = _latent_size(image_size, q_z.scale_factor)
        self.u_shape = (latent_channels, u_size, u_size)
        self.z_shape = (latent_channels, z_size, z_size)
        yc, lc = self.y_channels, latent_channels
        self.q_u = GaussianEncoder(yc, lc, q_u)
        self.p_y = DenselyDecoder(lc, dmol_channels(yc, mixtures), p_y.growth_rate, p_y.steps, p_y.scale_factor)
        self.q_z = GaussianEncoder(3, lc, q_z)
        self.p_z = ConditionalPrior(yc, lc, lc, p_z)
        self.p_x = ConditionalDecoder(yc, lc, dmol_channels(3, mixtures), p_x)
        self.prior = RealNVPPrior(self.u_shape, prior_growth, prior_steps)  # type: ignore[arg-type]

    def transform_y(self, x: Tensor) -> Tensor:
        """``y = d(x)``: ``(B,3,S,S) -> (B,3,S/2,S/2)`` (downscale) or ``(B,1,S,S)`` (sketch)."""
        if self.transform == "downscale":
            return downscale(x, 2, self.downscale_method)
        return sketch(x, self.sketch_sigma)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> ELBOOutput:
        """``(B,3,S,S) -> ELBOOutput`` with terms ``log_px, log_py, log_pz, log_pu, log_qz, log_qu``."""
        self._check(x)
        y = self.transform_y(x)
        qu, qz = self.q_u(y), self.q_z(x)
        u, z = qu.rsample(generator), qz.rsample(generator)
        terms = {
            "log_px": dmol_log_prob(self.p_x(y, z), x),
            "log_py": dmol_log_prob(self.p_y(u), y),
            "log_pz": self.p_z(y, u).log_prob(z),
            "log_pu": self.prior.log_prob(u),
            "log_qz": qz.log_prob(z),
            "log_qu": qu.log_prob(u),
        }
        return ELBOOutput(terms, x[0].numel(), {"u": u, "z": z, "y": y})

    # -- paper §3.3: generation and reconstruction modes ------------------------------------------------------
    def _out(self, y: Tensor, z: Tensor, sent: int, pixel_mode: PixelMode, gen: torch.Generator | None) -> ModeOutput:
        x_hat = dmol_sample(self.p_x(y, z), 3, pixel_mode, gen)
        return ModeOutput(x_hat, y, sent, sent / (3 * self.image_size**2))

    def _y_from_u(self, u: Tensor, pixel_mode: PixelMode, gen: torch.Generator | None) -> Tensor:
        return dmol_sample(self.p_y(u), self.y_channels, pixel_mode, gen)

    @torch.no_grad()
    def generate(self, n: int, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None) -> ModeOutput:
        """G: ``u ~ p(u) → y ~ p(y|u) → z ~ p(z|u,y) → x ~ p(x|y,z)``; sends nothing."""
        u = self.prior.sample(n, generator)
        y = self._y_from_u(u, pixel_mode, generator)
        z = self.p_z(y, u).rsample(generator)
        return self._out(y, z, 0, pixel_mode, generator)

    @torch.no_grad()
    def conditional_generation(
        self, y: Tensor, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None
    ) -> ModeOutput:
        """CG: ``u ~ q(u|y*) → z ~ p(z|u,y*) → x ~ p(x|y*,z)``; sends ``y*``."""
        u = self.q_u(y).rsample(generator)
        z = self.p_z(y, u).rsample(generator)
        return self._out(y, z, y[0].numel(), pixel_mode, generator)

    @torch.no_grad()
    def conditional_reconstruction(
        self, x: Tensor, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None
    ) -> ModeOutput:
        """CR: ``y* = d(x*)``, ``z ~ q(z|x*) → x ~ p(x|y*,z)``; sends ``y*`` and ``z``."""
        y = self.transform_y(x)
        z = self.q_z(x).rsample(generator)
        return self._out(y, z, y[0].numel() + z[0].numel(), pixel_mode, generator)

    @torch.no_grad()
    def reconstruction_1(
        self, x: Tensor, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None
    ) -> ModeOutput:
        """RS1: ``u ~ q(u|y*) → y ~ p(y|u) → z ~ p(z|u,y) → x``; sends ``u``."""
        u = self.q_u(self.transform_y(x)).rsample(generator)
        y = self._y_from_u(u, pixel_mode, generator)
        z = self.p_z(y, u).rsample(generator)
        return self._out(y, z, u[0].numel(), pixel_mode, generator)

    @torch.no_grad()
    def reconstruction_2(
        self, x: Tensor, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None
    ) -> ModeOutput:
        """RS2: ``u ~ q(u|y*) → y ~ p(y|u)``, ``z ~ q(z|x*) → x``; sends ``u`` and ``z``."""
        u = self.q_u(self.transform_y(x)).rsample(generator)
        y = self._y_from_u(u, pixel_mode, generator)
        z = self.q_z(x).rsample(generator)
        return self._out(y, z, u[0].numel() + z[0].numel(), pixel_mode, generator)


class SelfVAE3Level(_LatentModel):
    """Hierarchical selfVAE-downscale with K = 2 (paper eq. 21–23)::

        y1 = d(x), y2 = d(y1)
        Q = q(u|y2) q(z2|y1) q(z1|x)
        p = p(x|y1,z1) p(z1|y1,z2) p(y1|y2,z2) p(z2|u,y2) p(y2|u) p_λ(u)

    Shapes (64²): ``x (B,3,64,64)``, ``y1 (B,3,32,32)``, ``y2 (B,3,16,16)``, ``u, z1, z2 (B,16,8,8)``.

    Args:
        image_size: ``S``.
        latent_channels: channels of ``u, z1, z2``.
        q_u, p_y2, q_z2, q_z1: encoder/decoder sizes.
        p_z2, p_z1: conditional prior sizes.
        p_y1, p_x: conditional likelihood sizes.
        prior_growth: RealNVP s/t-net growth rate.
        prior_steps: RealNVP s/t-net dense steps.
        mixtures: logistic mixture components ``M``.
        downscale_method: ``"pil_bilinear"`` (official) or ``"bicubic"``.
    """

    def __init__(
        self,
        image_size: int,
        latent_channels: int,
        q_u: ScaleArgs,
        p_y2: ScaleArgs,
        p_z2: CondPriorArgs,
        q_z2: ScaleArgs,
        p_y1: CondDecoderArgs,
        p_z1: CondPriorArgs,
        q_z1: ScaleArgs,
        p_x: CondDecoderArgs,
        prior_growth: int = 64,
        prior_steps: int = 5,
        mixtures: int = 10,
        downscale_method: Literal["pil_bilinear", "bicubic"] = "pil_bilinear",
    ) -> None:
        super().__init__()
        self.image_size = image_size
        self.downscale_method = downscale_method
        lc, out = latent_channels, dmol_channels(3, mixtures)
        u_size = _latent_size(image_size // 4, q_u.scale_factor)
        self.u_shape = (lc, u_size, u_size)
        self.q_u = GaussianEncoder(3, lc, q_u)
        self.p_y2 = DenselyDecoder(lc, out, p_y2.growth_rate, p_y2.steps, p_y2.scale_factor)
        self.p_z2 = ConditionalPrior(3, lc, lc, p_z2)
        self.q_z2 = GaussianEncoder(3, lc, q_z2)
        self.p_y1 = ConditionalDecoder(3, lc, out, p_y1)
        self.p_z1 = ConditionalPrior(3, lc, lc, p_z1)
        self.q_z1 = GaussianEncoder(3, lc, q_z1)
        self.p_x = ConditionalDecoder(3, lc, out, p_x)
        self.prior = RealNVPPrior(self.u_shape, prior_growth, prior_steps)  # type: ignore[arg-type]

    def transform_y(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(y1, y2) = (d(x), d(d(x)))``."""
        y1 = downscale(x, 2, self.downscale_method)
        return y1, downscale(y1, 2, self.downscale_method)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> ELBOOutput:
        """``(B,3,S,S) -> ELBOOutput`` with the 9 terms of eq. 21–23."""
        self._check(x)
        y1, y2 = self.transform_y(x)
        qu, qz2, qz1 = self.q_u(y2), self.q_z2(y1), self.q_z1(x)
        u, z2, z1 = qu.rsample(generator), qz2.rsample(generator), qz1.rsample(generator)
        terms = {
            "log_px": dmol_log_prob(self.p_x(y1, z1), x),
            "log_pz1": self.p_z1(y1, z2).log_prob(z1),
            "log_py1": dmol_log_prob(self.p_y1(y2, z2), y1),
            "log_pz2": self.p_z2(y2, u).log_prob(z2),
            "log_py2": dmol_log_prob(self.p_y2(u), y2),
            "log_pu": self.prior.log_prob(u),
            "log_qu": qu.log_prob(u),
            "log_qz2": qz2.log_prob(z2),
            "log_qz1": qz1.log_prob(z1),
        }
        return ELBOOutput(terms, x[0].numel(), {"u": u, "z1": z1, "z2": z2, "y1": y1, "y2": y2})

    @torch.no_grad()
    def generate(self, n: int, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None) -> ModeOutput:
        """G: ``u → y2 → z2 → y1 → z1 → x``, all from the generative model; sends nothing."""
        u = self.prior.sample(n, generator)
        y2 = dmol_sample(self.p_y2(u), 3, pixel_mode, generator)
        z2 = self.p_z2(y2, u).rsample(generator)
        y1 = dmol_sample(self.p_y1(y2, z2), 3, pixel_mode, generator)
        z1 = self.p_z1(y1, z2).rsample(generator)
        x_hat = dmol_sample(self.p_x(y1, z1), 3, pixel_mode, generator)
        return ModeOutput(x_hat, y1, 0, 0.0)

    @torch.no_grad()
    def reconstruction_1(
        self, x: Tensor, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None
    ) -> ModeOutput:
        """RS1 applied level by level: ``u ~ q(u|y2*)``, then the generative chain; sends ``u``."""
        _, y2_true = self.transform_y(x)
        u = self.q_u(y2_true).rsample(generator)
        y2 = dmol_sample(self.p_y2(u), 3, pixel_mode, generator)
        z2 = self.p_z2(y2, u).rsample(generator)
        y1 = dmol_sample(self.p_y1(y2, z2), 3, pixel_mode, generator)
        z1 = self.p_z1(y1, z2).rsample(generator)
        x_hat = dmol_sample(self.p_x(y1, z1), 3, pixel_mode, generator)
        sent = u[0].numel()
        return ModeOutput(x_hat, y1, sent, sent / (3 * self.image_size**2))

    @torch.no_grad()
    def reconstruction_2(
        self, x: Tensor, pixel_mode: PixelMode = "mean", generator: torch.Generator | None = None
    ) -> ModeOutput:
        """RS2 level by level: ``u ~ q(u|y2*)``, ``z2 ~ q(z2|y1*)``, ``z1 ~ q(z1|x*)``; sends ``u, z2, z1``."""
        y1_true, y2_true = self.transform_y(x)
        u = self.q_u(y2_true).rsample(generator)
        z2 = self.q_z2(y1_true).rsample(generator)
        z1 = self.q_z1(x).rsample(generator)
        y2 = dmol_sample(self.p_y2(u), 3, pixel_mode, generator)
        y1 = dmol_sample(self.p_y1(y2, z2), 3, pixel_mode, generator)
        x_hat = dmol_sample(self.p_x(y1, z1), 3, pixel_mode, generator)
        sent = u[0].numel() + z2[0].numel() + z1[0].numel()
        return ModeOutput(x_hat, y1, sent, sent / (3 * self.image_size**2))
