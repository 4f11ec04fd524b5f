"""The CRM training configuration (family ``irn-crm``; presets ``configs/irn/crm_*.yaml``).

Each dataclass checks its values when it is built and raises :class:`~invrestore.errors.ConfigError` naming the key
and the allowed values. ``model`` holds the CRM's registry name (its fields are the constructor's keyword
arguments, :func:`invrestore.models.registry.build_model`); where the LR comes from (the frozen IRN or bicubic) is
the ``source`` section, and the weights to start from are the top-level ``init_weights``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from invrestore.degradations.jpeg import SUBSAMPLING
from invrestore.errors import ConfigError
from invrestore.models.irn.config import IRNDataConfig
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = ["LR_SOURCES", "MOVED_KEYS", "CRMConfig", "CRMJPEGConfig", "CRMModelConfig", "CRMSourceConfig"]

#: Where the LR image that the CRM restores comes from: IRN's forward pass or MATLAB bicubic.
LR_SOURCES: tuple[str, ...] = ("irn", "bicubic")


@dataclass(frozen=True)
class CRMModelConfig:
    """The CRM to train: a registered CRM (``crm-rrdb8``; ``crm-q90`` is the same architecture)."""

    name: str = "crm-rrdb8"


@dataclass(frozen=True)
class CRMSourceConfig:
    """Where the LR image that the CRM restores comes from.

    Attributes:
        lr_source: ``"irn"`` (the 8-bit LR of the frozen IRN below, the paper's CRM) or ``"bicubic"`` (the 8-bit
            MATLAB-bicubic LR of the crop, for the bicubic + JPEG + CRM baseline; the IRN is not run).
        irn: registered IRN the CRM serves (the official one: the noise-fine-tuned IRN ×2).
        irn_weights: weights of that IRN (``None``: its shipped weights).
        scale: the bicubic scale (``lr_source: bicubic`` only; ``None``: the scale of the registered ``irn``).
    """

    lr_source: str = "irn"
    irn: str = "irn-x2"
    irn_weights: str | None = None
    scale: int | None = None

    def __post_init__(self) -> None:
        if self.lr_source not in LR_SOURCES:
            raise ConfigError(f"source.lr_source must be one of {', '.join(LR_SOURCES)}, got {self.lr_source!r}")
        if self.scale is not None and self.lr_source != "bicubic":
            raise ConfigError("source.scale is only for lr_source: bicubic (the IRN sets its own scale); leave it null")
        if self.scale is not None and (isinstance(self.scale, bool) or self.scale < 1):
            raise ConfigError(f"source.scale must be a positive integer, got {self.scale}")


@dataclass(frozen=True)
class CRMJPEGConfig:
    """The JPEG that the CRM undoes (Pillow, IJG quality scale).

    Attributes:
        quality: JPEG quality in 1..100 (one CRM per quality).
        subsampling: chroma subsampling, ``4:2:0`` (the official cv2 default), ``4:2:2`` or ``4:4:4``.
    """

    quality: int = 90
    subsampling: str = "4:2:0"

    def __post_init__(self) -> None:
        if isinstance(self.quality, bool) or not 1 <= self.quality <= 100:
            raise ConfigError(f"jpeg.quality must be in 1..100, got {self.quality}")
        if self.subsampling not in SUBSAMPLING:
            raise ConfigError(
                f"jpeg.subsampling={self.subsampling!r} is unknown; allowed: {', '.join(sorted(SUBSAMPLING))}"
            )


#: Keys of older presets and where they went (:func:`invrestore.train.config.merge_config` names the new place).
MOVED_KEYS: Mapping[str, str] = {
    "model.irn": "it moved to source.irn",
    "model.irn_weights": "it moved to source.irn_weights",
    "model.lr_source": "it moved to source.lr_source",
    "model.scale": "it moved to source.scale",
    "model.init_weights": "it is a top-level key now: init_weights (e.g. --set init_weights=PATH)",
}


@dataclass(frozen=True)
class CRMConfig:
    """A whole CRM experiment (family ``irn-crm``).

    Attributes:
        init_weights: start the CRM from these weights (e.g. the q90 CRM for another quality); ``None``: the
            official random initialisation.
    """

    moved_keys: ClassVar[Mapping[str, str]] = MOVED_KEYS

    family: str = "irn-crm"
    model: CRMModelConfig = field(default_factory=CRMModelConfig)
    source: CRMSourceConfig = field(default_factory=CRMSourceConfig)
    jpeg: CRMJPEGConfig = field(default_factory=CRMJPEGConfig)
    data: IRNDataConfig = field(default_factory=IRNDataConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=50_000,
            optim=OptimConfig(weight_decay=0.0, milestones=(10_000, 20_000, 30_000, 40_000)),
        )
    )
    init_weights: str | None = None
