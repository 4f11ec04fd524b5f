"""Training configurations of ILC and of its bls2017 teacher (frozen dataclasses; presets in ``configs/ilc/``).

Optimiser defaults follow the papers (``docs/compression.md``):

- teacher (TFC ``bls2017``): Adam 1e-4, batch 8, 256² crops, ≥ 1M steps, loss ``λ·255²·MSE + bpp``;
- ILC: Adam β = (0.9, 0.999), 1e-4 for the IEM and 1e-3 for the entropy model, decaying from step 100k by
  ``γ = 0.999995`` per step (Eq. 8 read as ``lr₀·γ^(i − 1e5)``; half-life 138,629 steps). The loop's multi-step
  schedule approximates it by halving at 169,315, 307,944 and 446,573 steps (where the exponential crosses
  ``2^(−1/2)``, ``2^(−3/2)``, ``2^(−5/2)``).

``em_optim`` gives the entropy model its own optimiser (the paper's 1e-3) on loops that support
``Task.param_groups``/``optim_configs``; with ``None`` (or a loop with one optimiser) everything trains with
``train.optim``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from invrestore.train.config import OptimConfig, TrainConfig

__all__ = [
    "ILC_MILESTONES",
    "BLS2017Config",
    "BLS2017LossConfig",
    "BLS2017ModelConfig",
    "CodecDataConfig",
    "ILCConfig",
    "ILCLossConfig",
    "ILCModelConfig",
]

ILC_MILESTONES: tuple[int, ...] = (169_315, 307_944, 446_573)
"""Halvings approximating ILC's exponential decay (see the module docstring)."""


@dataclass(frozen=True)
class CodecDataConfig:
    """Training and validation images of a codec.

    Attributes:
        root: data root (``None``: ``$INVRESTORE_DATA`` or the default).
        train_sets: registered dataset names used for training.
        train_folders: extra image folders.
        crop_size: random square crops (256 in both papers); images smaller than this are skipped.
        repeat: crops per image per epoch.
        val_set: registered dataset for periodic validation (e.g. ``"Kodak"``), ``None`` to skip.
        val_folders: extra validation folders.
        val_limit: validate on the first N images only (0 = all).
    """

    root: str | None = None
    train_sets: tuple[str, ...] = ()
    train_folders: tuple[str, ...] = ()
    crop_size: int = 256
    repeat: int = 1
    val_set: str | None = None
    val_folders: tuple[str, ...] = ()
    val_limit: int = 0


@dataclass(frozen=True)
class BLS2017ModelConfig:
    """Which teacher to train: ``bls2017-N`` (any ``N``; ``bls2017-128``/``-256`` are registered)."""

    name: str = "bls2017-256"
    init_weights: str | None = None


@dataclass(frozen=True)
class BLS2017LossConfig:
    """``λ·255²·MSE + bpp`` (+ ``aux_weight ·`` the quantile loss, which reaches only the ``quantiles``).

    ``aux_weight`` only keeps the medians (hence the quantizer) close to the density during training; the coding
    tables are fitted by bisection at ``update()`` anyway. Adam normalises each parameter's step, so a small
    weight moves the quantiles as fast as a large one while keeping them out of the global gradient-norm clip.
    """

    lmbda: float = 0.013
    aux_weight: float = 1e-3


@dataclass(frozen=True)
class BLS2017Config:
    """A whole teacher experiment."""

    family: str = "bls2017"
    model: BLS2017ModelConfig = field(default_factory=BLS2017ModelConfig)
    loss: BLS2017LossConfig = field(default_factory=BLS2017LossConfig)
    data: CodecDataConfig = field(default_factory=CodecDataConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=1_000_000,
            batch_size=8,
            optim=OptimConfig(lr=1e-4, weight_decay=0.0, milestones=(), gamma=0.5, grad_clip=1.0),
        )
    )
    em_optim: OptimConfig | None = None


@dataclass(frozen=True)
class ILCModelConfig:
    """The ILC variant and its teacher.

    Attributes:
        name: registered ILC (``ilc-q1`` … ``ilc-q5``, ``ilc-small``, ``ilc-tiny``).
        teacher: ``bls2017-N`` with ``N`` = the ILC's latent channels.
        teacher_weights: trained teacher weights (safetensors/torch state dict); required.
        init_entropy_from_teacher: start the entropy model from the teacher's (the paper's recipe).
        init_weights: start the whole ILC from these weights instead.
        memory_efficient: recompute IEM activations in backward.
    """

    name: str = "ilc-q2"
    teacher: str = "bls2017-256"
    teacher_weights: str | None = None
    init_entropy_from_teacher: bool = True
    init_weights: str | None = None
    memory_efficient: bool = False


@dataclass(frozen=True)
class ILCLossConfig:
    """Eq. 7: ``λ₁·D + λ₂·R + λ₃·L_latent + λ₄·L_distill`` (+ ``aux_weight ·`` quantile loss).

    Attributes:
        teacher_lmbda: ``λ_T`` of the teacher; ``D = λ_T·255²·MSE(x, f⁻¹(ŷ_STE, 0))``.
        lambda_distortion: ``λ₁`` (grid 0.1–10 in the paper).
        lambda_rate: ``λ₂`` (1 in the paper).
        lambda_latent: ``λ₃`` (grid 0.1–10 in the paper).
        lambda_distill: ``λ₄`` (1e-2 in the paper).
        aux_weight: weight of the entropy model's quantile loss (see :class:`BLS2017LossConfig`).
    """

    teacher_lmbda: float = 0.013
    lambda_distortion: float = 1.0
    lambda_rate: float = 1.0
    lambda_latent: float = 1.0
    lambda_distill: float = 0.01
    aux_weight: float = 1e-3


@dataclass(frozen=True)
class ILCConfig:
    """A whole ILC experiment."""

    family: str = "ilc"
    model: ILCModelConfig = field(default_factory=ILCModelConfig)
    loss: ILCLossConfig = field(default_factory=ILCLossConfig)
    data: CodecDataConfig = field(default_factory=CodecDataConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=500_000,
            batch_size=8,
            optim=OptimConfig(lr=1e-4, weight_decay=0.0, milestones=ILC_MILESTONES, gamma=0.5, grad_clip=1.0),
        )
    )
    em_optim: OptimConfig | None = None
