"""IRAE family: the Invertible Restoring AutoEncoder (see ``README.md`` in this folder and
``docs/restoration.md``). Importing it registers the models (``irae``, ``irae-denoise25``) and the ``irae``
training task."""

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
from invrestore.models.irae.steps import IRAETask

__all__ = [
    "IRAE",
    "FlowStep",
    "IRAEConfig",
    "IRAEDataConfig",
    "IRAEGlow",
    "IRAELossConfig",
    "IRAEModelConfig",
    "IRAEScheduleConfig",
    "IRAETask",
    "flow_step_parameter_count",
    "irae_config",
    "l1_loss",
    "pad_to_multiple",
]
