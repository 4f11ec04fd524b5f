"""Network-size arguments of the selfVAE family and the named presets (paper size and small CPU size).

Paper sizes follow the official srVAE code for CIFAR-10 (``vae``, ``selfvae-downscale``) and the proposals of
``docs/selfvae.md`` for the models without code (``selfvae-downscale-3lvl``, ``selfvae-sketch``,
``vae-64``). Small presets keep the structure with tiny growth rates and ``(4, ·, ·)`` latents for CPU tests.

The second half holds the training configuration (:class:`SelfVAEConfig`, the official Adamax recipe as defaults).
Every config dataclass checks its values when it is built and raises :class:`~invrestore.errors.ConfigError` naming
the key and the allowed values, so a bad preset fails when it is loaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from invrestore.errors import ConfigError
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = [
    "PRESETS",
    "CondDecoderArgs",
    "CondPriorArgs",
    "DenseArgs",
    "ScaleArgs",
    "SelfVAEConfig",
    "SelfVAEDataConfig",
    "SelfVAELossConfig",
    "SelfVAEModelConfig",
    "dataset_image_size",
    "exponential_staircase",
    "official_optim",
    "official_train",
]


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
    # --- proposals for the 64×64 models without code (docs/selfvae.md) ---------------------------------------
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
    "vae-64-small": dict(
        image_size=64, latent_channels=4, encoder=_S(4, 1, 3), decoder=_S(8, 1, 3), prior_growth=8, prior_steps=1
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


# ------------------------------------------------------------------------------------------------------------------
# Training configuration (``invrestore train configs/selfvae/*.yaml``; see :class:`~.steps.SelfVAETask`)
# ------------------------------------------------------------------------------------------------------------------

OFFICIAL_LR = 2e-3
OFFICIAL_LR_GAMMA = 0.999999  # per step (official ``LowerBoundedExponentialLR``)
OFFICIAL_LR_FLOOR = 1e-4
OFFICIAL_BATCH = 32
OFFICIAL_EPOCHS = 2000
CIFAR_TRAIN_SIZE = 42_500  # 50 000 − the 15% validation split
STAIR_EVERY = 10_000  # steps per stair of the exponential-decay approximation


def exponential_staircase(
    lr: float = OFFICIAL_LR,
    gamma: float = OFFICIAL_LR_GAMMA,
    floor: float = OFFICIAL_LR_FLOOR,
    every: int = STAIR_EVERY,
) -> tuple[tuple[int, ...], float]:
    """A ``multistep`` schedule that follows ``lr·gamma^t`` (bounded below by ``floor``) in stairs.

    The loop has no exponential schedule, so the official per-step decay is approximated by ``× gamma^every`` every
    ``every`` steps (1% stairs by default), stopping before the learning rate would fall below ``floor``.

    Returns:
        ``(milestones, stair_gamma)`` for :class:`~invrestore.train.config.OptimConfig`.
    """
    if not (0 < gamma <= 1 and every > 0 and 0 <= floor <= lr):
        raise ValueError(f"invalid schedule lr={lr}, gamma={gamma}, floor={floor}, every={every}")
    stair = gamma**every
    if stair >= 1:
        return (), 1.0
    count = math.floor(math.log(floor / lr) / math.log(stair)) if floor > 0 else 1000
    return tuple(every * k for k in range(1, count + 1)), stair


def official_optim() -> OptimConfig:
    """The official srVAE optimiser: Adamax(lr 2e-3, β (0.9, 0.999)), no weight decay, no clipping, LR ×0.999999
    per step down to 1e-4 (as 1% stairs, :func:`exponential_staircase`). Official ``eps`` is 1e-7; torch's 1e-8 is
    used (the loop does not expose it)."""
    milestones, gamma = exponential_staircase()
    return OptimConfig(
        optimizer="adamax",
        lr=OFFICIAL_LR,
        betas=(0.9, 0.999),
        weight_decay=0.0,
        grad_clip=0.0,
        schedule="multistep",
        milestones=milestones,
        gamma=gamma,
    )


def official_train(epochs: int = OFFICIAL_EPOCHS, train_size: int = CIFAR_TRAIN_SIZE) -> TrainConfig:
    """The official schedule in loop steps: batch 32, ``epochs × ⌊train_size / 32⌋`` steps (2000 epochs of the
    42 500 CIFAR-10 training images = 2 656 000 steps), validation and a checkpoint once per epoch."""
    per_epoch = train_size // OFFICIAL_BATCH
    return TrainConfig(
        steps=epochs * per_epoch,
        batch_size=OFFICIAL_BATCH,
        seed=0,
        log_every=100,
        val_every=per_epoch,
        ckpt_every=per_epoch,
        optim=official_optim(),
    )


#: Datasets of 64×64 images (the others, CIFAR-10 in its forms, are 32×32).
DATASETS_64 = ("celeba", "imagenette64", "imagenette")


def dataset_image_size(dataset: str) -> int:
    """The image side of ``data.dataset``: 64 for CelebA / Imagenette64, 32 for CIFAR-10 (any of its forms)."""
    return 64 if dataset.lower() in DATASETS_64 else 32


@dataclass(frozen=True)
class SelfVAEModelConfig:
    """Which registered model to train and the constructor's keyword arguments that every selfVAE-family model
    takes (:class:`~invrestore.models.selfvae.VAE`, ``SelfVAE``, ``SelfVAE3Level``).

    A field left ``None`` keeps the value of the registered preset (:data:`PRESETS`, else the constructor's
    default); the network sizes (``encoder``, ``q_u``, …) are the preset's — pick another preset for another size.

    Attributes:
        name: ``vae``, ``selfvae-downscale``, ``vae-small``, … (the keys of :data:`PRESETS`).
        latent_channels: channels of the latents ``u``/``z``.
        prior_growth, prior_steps: the RealNVP prior's s/t-net growth rate and dense steps.
        mixtures: logistic mixture components ``M`` of the likelihoods.
    """

    name: str = "selfvae-downscale"
    latent_channels: int | None = None
    prior_growth: int | None = None
    prior_steps: int | None = None
    mixtures: int | None = None

    def __post_init__(self) -> None:
        if self.name not in PRESETS:
            raise ConfigError(f"model.name={self.name!r} is not a selfVAE-family model; allowed: {', '.join(PRESETS)}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "name" and value is not None and value < 1:
                raise ConfigError(f"model.{f.name}={value!r} is out of range; allowed: >= 1 (or null: the preset's)")

    @property
    def image_size(self) -> int:
        """The side of the images the model takes (the preset's ``image_size``)."""
        return int(PRESETS[self.name]["image_size"])


@dataclass(frozen=True)
class SelfVAEDataConfig:
    """CIFAR-10 images for training and validation.

    Attributes:
        root: data root (``None``: ``$INVRESTORE_DATA`` or the default).
        dataset: ``CIFAR-10`` (official pickles) or ``CIFAR-10-partial`` (the shared ``.npz``), or a path to a
            ``cifar-10-batches-py`` folder or an ``.npz`` with the same layout.
        val_fraction: fraction of the training split held out for validation (official: a random 15%).
        split_seed: seed of that random split.
        val_split: ``"val"`` (the held-out fraction) or ``"test"`` (the official test split).
        val_limit: validate on the first N images of the validation set only (0 = all).
        augment: the official augmentation (horizontal flip, edge-padded random translation up to ±2 px).
    """

    root: str | None = None
    dataset: str = "CIFAR-10"
    val_fraction: float = 0.15
    split_seed: int = 0
    val_split: str = "val"
    val_limit: int = 0
    augment: bool = True

    def __post_init__(self) -> None:
        if self.val_split not in ("val", "test"):
            raise ConfigError(f"data.val_split must be 'val' or 'test', not {self.val_split!r}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"data.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.val_limit < 0:
            raise ConfigError(f"data.val_limit={self.val_limit} is out of range; allowed: >= 0 (0 = all)")


@dataclass(frozen=True)
class SelfVAELossConfig:
    """Objective and validation estimator. The training loss is always the single-sample batch-mean NELBO
    (paper eq. 11; no KL warm-up or free bits, as the official code).

    Attributes:
        val_iw_samples: also report the importance-weighted NLL with this many samples at validation (0 = off).
        val_batch_size: images per validation forward pass.
        val_seed: seed of the validation noise (the same samples at every validation).
    """

    val_iw_samples: int = 0
    val_batch_size: int = 100
    val_seed: int = 0

    def __post_init__(self) -> None:
        if self.val_iw_samples < 0:
            raise ConfigError(f"loss.val_iw_samples={self.val_iw_samples} is out of range; allowed: >= 0 (0 = off)")
        if self.val_batch_size < 1:
            raise ConfigError(f"loss.val_batch_size={self.val_batch_size} is out of range; allowed: >= 1")


#: Keys of older presets and where they went (:func:`invrestore.train.config.merge_config` names the new place).
MOVED_KEYS: Mapping[str, str] = {
    "model.overrides": "the model's settings are keys of model now (model.latent_channels, model.prior_growth, "
    "model.prior_steps, model.mixtures; e.g. --set model.mixtures=5)",
}


@dataclass(frozen=True)
class SelfVAEConfig:
    """A whole selfVAE/VAE experiment (the official srVAE CIFAR-10 recipe by default)."""

    moved_keys: ClassVar[Mapping[str, str]] = MOVED_KEYS

    family: str = "selfvae"
    model: SelfVAEModelConfig = field(default_factory=SelfVAEModelConfig)
    data: SelfVAEDataConfig = field(default_factory=SelfVAEDataConfig)
    loss: SelfVAELossConfig = field(default_factory=SelfVAELossConfig)
    train: TrainConfig = field(default_factory=official_train)

    def __post_init__(self) -> None:
        size, want = self.model.image_size, dataset_image_size(self.data.dataset)
        if size != want:
            raise ConfigError(
                f"model.name: '{self.model.name}' models {size}×{size} images; {self.data.dataset} needs a "
                f"{want}×{want} model" + (" (e.g. vae-64)" if want == 64 else "")
            )
