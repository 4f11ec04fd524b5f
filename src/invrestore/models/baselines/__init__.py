"""Non-invertible restoration baselines of the IRAE paper: DnCNN, FFDNet, U-Net, AR-CNN, and KAIR's published
DnCNN/FFDNet layouts (see ``README.md``). Importing it registers the models and the ``baselines`` training task."""

from invrestore.models.baselines.config import (
    MODEL_CONFIGS,
    ARCNNConfig,
    BaselineConfig,
    BaselineDataConfig,
    BaselineLossConfig,
    BaselineModelConfig,
    DnCNNConfig,
    FFDNetConfig,
    UNetConfig,
    baseline_model_config,
    trainable_models,
)
from invrestore.models.baselines.kair import KAIRDnCNN, KAIRFFDNet, detect_kair, load_kair
from invrestore.models.baselines.model import ARCNN, DnCNN, FFDNet, UNet, pad_to_multiple, parameter_count
from invrestore.models.baselines.steps import BaselineTask

__all__ = [
    "ARCNN",
    "MODEL_CONFIGS",
    "ARCNNConfig",
    "BaselineConfig",
    "BaselineDataConfig",
    "BaselineLossConfig",
    "BaselineModelConfig",
    "BaselineTask",
    "DnCNN",
    "DnCNNConfig",
    "FFDNet",
    "FFDNetConfig",
    "KAIRDnCNN",
    "KAIRFFDNet",
    "UNet",
    "UNetConfig",
    "baseline_model_config",
    "detect_kair",
    "load_kair",
    "pad_to_multiple",
    "parameter_count",
    "trainable_models",
]
