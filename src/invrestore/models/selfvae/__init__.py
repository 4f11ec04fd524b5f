"""selfVAE family: self-supervised VAEs with deterministic transformations (see ``README.md`` and
``docs/selfvae.md``)."""

from invrestore.models.selfvae import presets as _presets  # noqa: F401  (registers the models)
from invrestore.models.selfvae.config import (
    PRESETS,
    CondDecoderArgs,
    CondPriorArgs,
    DenseArgs,
    ScaleArgs,
    SelfVAEConfig,
    SelfVAEDataConfig,
    SelfVAELossConfig,
    SelfVAEModelConfig,
    exponential_staircase,
    official_optim,
    official_train,
)
from invrestore.models.selfvae.data import load_cifar10, to_unit, train_val_split
from invrestore.models.selfvae.distributions import (
    DiagonalGaussian,
    dmol_channels,
    dmol_log_prob,
    dmol_log_prob_pixels,
    dmol_sample,
    gaussian_log_prob,
)
from invrestore.models.selfvae.layers import data_dependent_init
from invrestore.models.selfvae.losses import (
    importance_log_weights,
    importance_weighted_nll,
    iw_nll_from_log_weights,
    legacy_nll,
    legacy_nll_from_log_weights,
    training_losses,
)
from invrestore.models.selfvae.model import VAE, ELBOOutput, ModeOutput, SelfVAE, SelfVAE3Level
from invrestore.models.selfvae.prior import RealNVPPrior
from invrestore.models.selfvae.steps import BpdResult, CifarImages, SelfVAETask, evaluate_bpd, load_split
from invrestore.models.selfvae.transforms import (
    downscale,
    downscale_bicubic,
    downscale_pil_bilinear,
    resize_pil_bilinear,
    sketch,
)

__all__ = [
    "PRESETS",
    "VAE",
    "BpdResult",
    "CifarImages",
    "CondDecoderArgs",
    "CondPriorArgs",
    "DenseArgs",
    "DiagonalGaussian",
    "ELBOOutput",
    "ModeOutput",
    "RealNVPPrior",
    "ScaleArgs",
    "SelfVAE",
    "SelfVAE3Level",
    "SelfVAEConfig",
    "SelfVAEDataConfig",
    "SelfVAELossConfig",
    "SelfVAEModelConfig",
    "SelfVAETask",
    "data_dependent_init",
    "dmol_channels",
    "dmol_log_prob",
    "dmol_log_prob_pixels",
    "dmol_sample",
    "downscale",
    "downscale_bicubic",
    "downscale_pil_bilinear",
    "evaluate_bpd",
    "exponential_staircase",
    "gaussian_log_prob",
    "importance_log_weights",
    "importance_weighted_nll",
    "iw_nll_from_log_weights",
    "legacy_nll",
    "legacy_nll_from_log_weights",
    "load_cifar10",
    "load_split",
    "official_optim",
    "official_train",
    "resize_pil_bilinear",
    "sketch",
    "to_unit",
    "train_val_split",
    "training_losses",
]
