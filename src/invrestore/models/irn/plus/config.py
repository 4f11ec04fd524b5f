"""The IRN+ training configuration (family ``irn-plus``; presets ``configs/irn/x4_plus*.yaml``).

Each dataclass checks its values when it is built and raises :class:`~invrestore.errors.ConfigError` naming the key
and the allowed values. ``model`` is IRN's model config (the generator's registry name and constructor arguments);
the stage-1 weights that IRN+ starts from are the top-level ``init_weights``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from invrestore.errors import ConfigError
from invrestore.models.irn.config import IRNDataConfig, IRNModelConfig
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = ["MOVED_KEYS", "IRNPlusConfig", "IRNPlusDiscriminatorConfig", "IRNPlusLossConfig"]


def _at_least(key: str, value: float, low: float, open_: bool = False) -> None:
    if isinstance(value, bool) or (value <= low if open_ else value < low):
        raise ConfigError(f"{key}={value!r} is out of range; allowed: {'>' if open_ else '>='} {low:g}")


@dataclass(frozen=True)
class IRNPlusLossConfig:
    """IRN+ loss weights (``docs/irn-extensions.md``; official ``train_IRN+_x4.yml``).

    Attributes:
        lambda_fit: guide loss weight (Σ(y − y_bic)², ``s²``).
        lambda_rec: pixel reconstruction weight (Charbonnier sum).
        lambda_percep: VGG19 conv5_4 feature weight (Charbonnier sum over the feature maps); 0 disables the VGG.
        lambda_gan: generator adversarial weight (BCE with logits against "real").
        gaussian_scale: std of the ẑ drawn for the backward pass.
        d_init_iters: the first this-many steps (1-based) update only D.
        eps: Charbonnier ε.
        vgg19_weights: local path of torchvision's ImageNet VGG19 weights (``vgg19-dcbb9e9d.pth``); required when
            ``lambda_percep > 0`` (checked when the task builds its model, so presets with ``null`` still load).
    """

    lambda_fit: float = 16.0
    lambda_rec: float = 0.01
    lambda_percep: float = 0.01
    lambda_gan: float = 1.0
    gaussian_scale: float = 1.0
    d_init_iters: int = 5000
    eps: float = 1e-6
    vgg19_weights: str | None = None

    def __post_init__(self) -> None:
        for key in ("lambda_fit", "lambda_rec", "lambda_percep", "lambda_gan", "gaussian_scale", "d_init_iters"):
            _at_least(f"loss.{key}", getattr(self, key), 0.0)
        _at_least("loss.eps", self.eps, 0.0, open_=True)


@dataclass(frozen=True)
class IRNPlusDiscriminatorConfig:
    """D and its optimiser. D's LR follows the generator's milestones and γ (``train.optim``); no clipping.

    Attributes:
        nf: base width (64).
        lr, betas, weight_decay: Adam settings (1e-4, (0.9, 0.99), 0).
        init_weights: optional starting weights for D (the official ``pretrain_model_D``).
    """

    nf: int = 64
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    init_weights: str | None = None

    def __post_init__(self) -> None:
        _at_least("discriminator.nf", self.nf, 1)
        _at_least("discriminator.lr", self.lr, 0.0, open_=True)
        _at_least("discriminator.weight_decay", self.weight_decay, 0.0)
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"discriminator.betas={list(self.betas)} is invalid; allowed: two numbers in [0, 1)")


def _plus_train() -> TrainConfig:
    return TrainConfig(
        steps=400_000,
        optim=OptimConfig(
            lr=1e-4,
            betas=(0.9, 0.999),
            weight_decay=1e-5,
            milestones=(50_000, 100_000, 200_000, 300_000),
            gamma=0.5,
            grad_clip=10.0,
        ),
    )


#: Keys of older presets and where they went (:func:`invrestore.train.config.merge_config` names the new place).
MOVED_KEYS: Mapping[str, str] = {
    "model.init_weights": "it is a top-level key now: init_weights (e.g. --set init_weights=IRN_x4.pth)",
}


@dataclass(frozen=True)
class IRNPlusConfig:
    """A whole IRN+ experiment; ``train.optim`` is G's optimiser (official: Adam 1e-4, 400k steps, halving at
    50k/100k/200k/300k; the paper: 200k steps, halving at 50k/100k, ``docs/irn-extensions.md``).

    Attributes:
        init_weights: the stage-1 IRN weights G starts from (official ``IRN_x4.pth`` or our safetensors);
            ``None``: a random G.
    """

    moved_keys: ClassVar[Mapping[str, str]] = MOVED_KEYS

    family: str = "irn-plus"
    model: IRNModelConfig = field(default_factory=lambda: IRNModelConfig(name="irn-x4-plus"))
    loss: IRNPlusLossConfig = field(default_factory=IRNPlusLossConfig)
    discriminator: IRNPlusDiscriminatorConfig = field(default_factory=IRNPlusDiscriminatorConfig)
    data: IRNDataConfig = field(default_factory=IRNDataConfig)
    train: TrainConfig = field(default_factory=_plus_train)
    init_weights: str | None = None

    def __post_init__(self) -> None:
        if self.data.crop_size < 32:
            raise ConfigError(
                f"data.crop_size={self.data.crop_size} is too small for the IRN+ discriminator; allowed: >= 32"
            )
