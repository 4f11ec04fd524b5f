"""Training configurations of ILC and of its bls2017 teacher (frozen dataclasses; presets in ``configs/ilc/``).

Optimiser defaults follow the papers (``docs/compression.md``):

- teacher (TFC ``bls2017``): Adam 1e-4, batch 8, 256² crops, ≥ 1M steps, loss ``λ·255²·MSE + bpp``;
- ILC: Adam β = (0.9, 0.999), 1e-4 for the IEM and 1e-3 for the entropy model, decaying from step 100k by
  ``γ = 0.999995`` per step (Eq. 8 read as ``lr₀·γ^(i − 1e5)``; half-life 138,629 steps). The loop's multi-step
  schedule approximates it by halving at 169,315, 307,944 and 446,573 steps (where the exponential crosses
  ``2^(−1/2)``, ``2^(−3/2)``, ``2^(−5/2)``).

``em_optim`` gives the entropy model its own optimiser (the paper's 1e-3) through the tasks'
``param_groups``/``optim_configs``; with ``None`` everything trains with ``train.optim``.

Every dataclass checks its values when it is built and raises :class:`~invrestore.errors.ConfigError` naming the
key and the allowed values, so a bad preset fails when it is loaded. ``model`` holds the registry name and keyword
arguments of the model's constructor (:func:`invrestore.models.registry.build_model`); the teacher (``teacher:``)
and where to start from (``init_weights``) are settings of the experiment, outside ``model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from invrestore.errors import ConfigError
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
    "ILCTeacherConfig",
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

    def __post_init__(self) -> None:
        _at_least("data.crop_size", self.crop_size, 1)
        _at_least("data.repeat", self.repeat, 1)
        _at_least("data.val_limit", self.val_limit, 0)


def _at_least(key: str, value: float, low: float) -> None:
    if not value >= low:
        raise ConfigError(f"{key}={value!r} is out of range; allowed: >= {low:g}")


def _codecs(kind: str) -> list[str]:
    """The registered models built by :class:`~invrestore.models.ilc.ILC` (``kind="ilc"``) or by
    :class:`~invrestore.models.ilc.BLS2017` (``kind="bls2017"``)."""
    from invrestore.models.ilc.bls2017 import BLS2017
    from invrestore.models.ilc.model import ILC
    from invrestore.models.registry import MODELS

    builder = ILC if kind == "ilc" else BLS2017
    return [n for n, e in MODELS.items() if e.builder is builder]


def _check_codec(key: str, name: str, kind: str) -> None:
    known = _codecs(kind)
    if name not in known:
        what = "an ILC" if kind == "ilc" else "a bls2017 (teacher) codec"
        raise ConfigError(f"{key}={name!r} is not {what}; allowed: {', '.join(known)}")


@dataclass(frozen=True)
class BLS2017ModelConfig:
    """Which teacher to train: a registered bls2017 codec (``bls2017-128``, ``bls2017-256``, ``bls2017-8``,
    ``bmshj2018-factorized-128-192``, …)."""

    name: str = "bls2017-256"

    def __post_init__(self) -> None:
        _check_codec("model.name", self.name, "bls2017")


@dataclass(frozen=True)
class BLS2017LossConfig:
    """``λ·255²·MSE + bpp`` (+ ``aux_weight ·`` the quantile loss, which reaches only the ``quantiles``).

    ``aux_weight`` only keeps the medians (hence the quantizer) close to the density during training; the coding
    tables are fitted by bisection at ``update()`` anyway. Adam normalises each parameter's step, so a small
    weight moves the quantiles as fast as a large one while keeping them out of the global gradient-norm clip.
    """

    lmbda: float = 0.013
    aux_weight: float = 1e-3

    def __post_init__(self) -> None:
        _at_least("loss.lmbda", self.lmbda, 0.0)
        _at_least("loss.aux_weight", self.aux_weight, 0.0)


#: Keys of older presets and where they went (:func:`invrestore.train.config.merge_config` names the new place).
BLS2017_MOVED_KEYS: Mapping[str, str] = {
    "model.init_weights": "it is a top-level key now: init_weights (e.g. --set init_weights=PATH)",
}
ILC_MOVED_KEYS: Mapping[str, str] = {
    **BLS2017_MOVED_KEYS,
    "model.teacher": "the teacher has its own section now: teacher.name",
    "model.teacher_weights": "the teacher has its own section now: teacher.weights (e.g. --set teacher.weights=PATH)",
    "model.init_entropy_from_teacher": "the teacher has its own section now: teacher.init_entropy_model",
}


@dataclass(frozen=True)
class BLS2017Config:
    """A whole teacher experiment.

    Attributes:
        init_weights: start the codec from these weights (safetensors or torch state dict); the optimiser starts
            afresh. ``None``: a random initialisation.
    """

    moved_keys: ClassVar[Mapping[str, str]] = BLS2017_MOVED_KEYS

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
    init_weights: str | None = None


@dataclass(frozen=True)
class ILCModelConfig:
    """The ILC variant: its registry name and the constructor's keyword arguments.

    Attributes:
        name: registered ILC (``ilc-q1`` … ``ilc-q5``, ``ilc-small``, ``ilc-tiny``).
        memory_efficient: recompute IEM activations by inversion in backward instead of storing them.
    """

    name: str = "ilc-q2"
    memory_efficient: bool = False

    def __post_init__(self) -> None:
        _check_codec("model.name", self.name, "ilc")


@dataclass(frozen=True)
class ILCTeacherConfig:
    """The frozen, trained teacher an ILC is distilled from.

    Attributes:
        name: a bls2017 codec whose latent channels equal the ILC's (``bls2017-256`` for ``ilc-q*``,
            ``bls2017-128`` for ``ilc-small``, ``bls2017-8`` for ``ilc-tiny``; any ``bls2017-N``); ignored when
            ``weights`` is a CompressAI ``bmshj2018-factorized`` checkpoint, which names its own size.
        weights: the trained teacher's weights (safetensors/torch state dict, or a CompressAI checkpoint); required
            to train (checked when the model is built, so a preset loads without it).
        init_entropy_model: start the ILC's entropy model from the teacher's (the paper's recipe).
    """

    name: str = "bls2017-256"
    weights: str | None = None
    init_entropy_model: bool = True

    def __post_init__(self) -> None:
        from invrestore.models.ilc.loading import is_codec_name

        if not is_codec_name(self.name, "bls2017"):
            known = ", ".join(_codecs("bls2017"))
            raise ConfigError(f"teacher.name={self.name!r} is not a bls2017 codec; allowed: {known} or bls2017-N")


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

    def __post_init__(self) -> None:
        for key in ("teacher_lmbda", "lambda_distortion", "lambda_rate", "lambda_latent", "lambda_distill"):
            _at_least(f"loss.{key}", getattr(self, key), 0.0)
        _at_least("loss.aux_weight", self.aux_weight, 0.0)


@dataclass(frozen=True)
class ILCConfig:
    """A whole ILC experiment.

    Attributes:
        init_weights: start the whole ILC from these weights (after the teacher initialisation); the optimiser
            starts afresh. ``None``: from the teacher's entropy model and a fresh IEM.
    """

    moved_keys: ClassVar[Mapping[str, str]] = ILC_MOVED_KEYS

    family: str = "ilc"
    model: ILCModelConfig = field(default_factory=ILCModelConfig)
    teacher: ILCTeacherConfig = field(default_factory=ILCTeacherConfig)
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
    init_weights: str | None = None
