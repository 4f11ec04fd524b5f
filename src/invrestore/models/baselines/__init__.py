"""Non-invertible restoration baselines of the IRAE paper: DnCNN, FFDNet, U-Net, AR-CNN (see ``README.md``)."""

from invrestore.models.baselines.config import (
    BaselineConfig,
    BaselineDataConfig,
    BaselineLossConfig,
    BaselineModelConfig,
)
from invrestore.models.baselines.kair import KAIRDnCNN, KAIRFFDNet, detect_kair, load_kair
from invrestore.models.baselines.model import ARCNN, DnCNN, FFDNet, UNet, pad_to_multiple, parameter_count

__all__ = [
    "ARCNN",
    "BaselineConfig",
    "BaselineDataConfig",
    "BaselineLossConfig",
    "BaselineModelConfig",
    "DnCNN",
    "FFDNet",
    "KAIRDnCNN",
    "KAIRFFDNet",
    "UNet",
    "detect_kair",
    "load_kair",
    "pad_to_multiple",
    "parameter_count",
]
