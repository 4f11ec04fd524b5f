"""Network-size arguments of the selfVAE family and the named presets (paper size and small CPU size).

Paper sizes follow the official srVAE code for CIFAR-10 (``vae``, ``selfvae-downscale``) and the proposals of
``specs/restoration_vae.md`` §3.5 for the models without code (``selfvae-downscale-3lvl``, ``selfvae-sketch``,
``vae-64``). Small presets keep the structure with tiny growth rates and ``(4, ·, ·)`` latents for CPU tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PRESETS", "CondDecoderArgs", "CondPriorArgs", "DenseArgs", "ScaleArgs"]


@dataclass(frozen=True)
class ScaleArgs:
    """A densely connected encoder or decoder: growth rate ``g``, dense ``steps``, ``scale_factor`` (×2 steps)."""

    growth_rate: int
    steps: int
    scale_factor: int


@dataclass(frozen=True)
class DenseArgs:
    """A :class:`~invrestore.models.selfvae.layers.DenselyNetwork`: growth rate, steps, number of dense layers."""

    growth_rate: int
    steps: int
    blocks: int


@dataclass(frozen=True)
class CondPriorArgs:
    """Conditional prior ``p(z | y, c)``: ``y``-encoder, conditioning-latent network and core network."""

    y_encoder: ScaleArgs
    cond_net: DenseArgs
    core: DenseArgs


@dataclass(frozen=True)
class CondDecoderArgs:
    """Conditional likelihood ``p(x | y, z)``: ``z``-decoder and the core network on ``cat[up(y), ·]``."""

    z_decoder: ScaleArgs
    core: DenseArgs


_S = ScaleArgs
_D = DenseArgs

PRESETS: dict[str, dict[str, Any]] = {
    # --- official srVAE CIFAR-10 networks -------------------------------------------------------------------
    "vae": dict(image_size=32, latent_channels=16, encoder=_S(16, 8, 2), decoder=_S(128, 6, 2)),
    "selfvae-downscale": dict(
        transform="downscale",
        image_size=32,
        latent_channels=16,
        q_u=_S(64, 3, 1),
        p_y=_S(128, 4, 1),
        q_z=_S(16, 4, 2),
        p_z=CondPriorArgs(_S(32, 5, 1), _D(64, 3, 3), _D(64, 3, 3)),
        p_x=CondDecoderArgs(_S(64, 8, 2), _D(64, 5, 3)),
    ),
    # --- proposals for the 64×64 models without code (spec §3.5) -------------------------------------------
    "vae-64": dict(image_size=64, latent_channels=16, encoder=_S(8, 8, 3), decoder=_S(96, 6, 3)),
    "selfvae-sketch": dict(
        transform="sketch",
        image_size=64,
        latent_channels=16,
        q_u=_S(8, 4, 3),
        p_y=_S(64, 4, 3),
        q_z=_S(8, 4, 3),
        p_z=CondPriorArgs(_S(8, 4, 3), _D(64, 3, 2), _D(64, 3, 2)),
        p_x=CondDecoderArgs(_S(64, 6, 3), _D(64, 5, 2)),
    ),
    "selfvae-downscale-3lvl": dict(
        image_size=64,
        latent_channels=16,
        q_u=_S(48, 3, 1),
        p_y2=_S(96, 4, 1),
        p_z2=CondPriorArgs(_S(32, 4, 1), _D(64, 3, 2), _D(64, 3, 2)),
        q_z2=_S(16, 4, 2),
        p_y1=CondDecoderArgs(_S(48, 6, 2), _D(64, 5, 2)),
        p_z1=CondPriorArgs(_S(16, 4, 2), _D(64, 3, 2), _D(64, 3, 2)),
        q_z1=_S(8, 4, 3),
        p_x=CondDecoderArgs(_S(32, 6, 3), _D(32, 5, 2)),
    ),
    # --- small CPU presets (32×32 inputs, 4-channel latents) -----------------------------------------------
    "vae-small": dict(
        image_size=32, latent_channels=4, encoder=_S(4, 1, 2), decoder=_S(8, 1, 2), prior_growth=8, prior_steps=1
    ),
    "selfvae-downscale-small": dict(
        transform="downscale",
        image_size=32,
        latent_channels=4,
        q_u=_S(4, 1, 1),
        p_y=_S(8, 1, 1),
        q_z=_S(4, 1, 2),
        p_z=CondPriorArgs(_S(4, 1, 1), _D(4, 1, 1), _D(4, 1, 1)),
        p_x=CondDecoderArgs(_S(8, 1, 2), _D(4, 1, 1)),
        prior_growth=8,
        prior_steps=1,
    ),
    "selfvae-sketch-small": dict(
        transform="sketch",
        image_size=32,
        latent_channels=4,
        sketch_sigma=1.0,
        q_u=_S(4, 1, 3),
        p_y=_S(8, 1, 3),
        q_z=_S(4, 1, 3),
        p_z=CondPriorArgs(_S(4, 1, 3), _D(4, 1, 1), _D(4, 1, 1)),
        p_x=CondDecoderArgs(_S(8, 1, 3), _D(4, 1, 1)),
        prior_growth=8,
        prior_steps=1,
    ),
    "selfvae-downscale-3lvl-small": dict(
        image_size=32,
        latent_channels=4,
        q_u=_S(4, 1, 1),
        p_y2=_S(8, 1, 1),
        p_z2=CondPriorArgs(_S(4, 1, 1), _D(4, 1, 1), _D(4, 1, 1)),
        q_z2=_S(4, 1, 2),
        p_y1=CondDecoderArgs(_S(8, 1, 2), _D(4, 1, 1)),
        p_z1=CondPriorArgs(_S(4, 1, 2), _D(4, 1, 1), _D(4, 1, 1)),
        q_z1=_S(4, 1, 3),
        p_x=CondDecoderArgs(_S(8, 1, 3), _D(4, 1, 1)),
        prior_growth=8,
        prior_steps=1,
    ),
}
