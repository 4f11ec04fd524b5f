"""IRAE family: the Invertible Restoring AutoEncoder (see ``README.md`` in this folder and
``docs/restoration.md``)."""

from invrestore.models.irae.config import (
    IRAEConfig,
    IRAEDataConfig,
    IRAELossConfig,
    IRAEModelConfig,
    IRAEScheduleConfig,
    irae_config,
)
from invrestore.models.irae.losses import l1_loss
from invrestore.models.irae.model import IRAE, FlowStep, IRAEGlow, flow_step_parameter_count, pad_to_multiple

__all__ = [
    "IRAE",
    "FlowStep",
    "IRAEConfig",
    "IRAEDataConfig",
    "IRAEGlow",
    "IRAELossConfig",
    "IRAEModelConfig",
    "IRAEScheduleConfig",
    "flow_step_parameter_count",
    "irae_config",
    "l1_loss",
    "pad_to_multiple",
]
