"""IRN_color training configuration (``family: irn-color``; presets ``configs/irn/*color*.yaml``).

The official recipe (``docs/irn-extensions.md``): the LR guide is the full-range BT.601 luma of the crop
(0.299R + 0.587G + 0.114B, the official cv2 BGR2GRAY), λ_fit = 3, z = 0 in training (``loss.gaussian_scale = 0``)
and at test, batch 8 of 144² crops. The loss and data sections are IRN's (:mod:`invrestore.models.irn.config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from invrestore.models.irn.config import IRNDataConfig, IRNLossConfig
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = ["IRNColorConfig", "IRNColorModelConfig"]


@dataclass(frozen=True)
class IRNColorModelConfig:
    """The registered IRN_color model (``irn-color``) and its constructor's keyword arguments.

    Attributes:
        name: the registry name.
        memory_efficient: recompute activations by inversion in the backward pass instead of storing them.
    """

    name: str = "irn-color"
    memory_efficient: bool = False


#: Keys of older presets (``family: irn`` with ``data.guide: luma``) and where they went.
MOVED_KEYS: Mapping[str, str] = {
    "model.init_weights": "it is a top-level key now: init_weights (e.g. --set init_weights=PATH)",
    "data.guide": "IRN_color always uses the luma guide; drop the key",
}


@dataclass(frozen=True)
class IRNColorConfig:
    """A whole IRN_color experiment.

    Attributes:
        init_weights: start the model from these weights (ours or the official release file); the optimiser
            starts afresh. ``None``: the YUV-initialised matrix and random blocks.
    """

    moved_keys: ClassVar[Mapping[str, str]] = MOVED_KEYS

    family: str = "irn-color"
    model: IRNColorModelConfig = field(default_factory=IRNColorModelConfig)
    loss: IRNLossConfig = field(default_factory=lambda: IRNLossConfig(lambda_fit=3.0, gaussian_scale=0.0))
    data: IRNDataConfig = field(default_factory=lambda: IRNDataConfig(val_set="Kodak24", val_limit=4))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(batch_size=8, optim=OptimConfig()))
    init_weights: str | None = None
