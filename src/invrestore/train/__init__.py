"""Training: frozen configs, atomic checkpoints and one generic loop (single process or DDP), with a fast path
(mixed precision, compile, device-resident data; see docs/training.md) and NaN rollback safeguards."""

from invrestore.train.checkpoint import load_checkpoint, load_weights, save_checkpoint, save_weights
from invrestore.train.config import OptimConfig, TrainConfig, config_to_yaml, load_config, merge_config
from invrestore.train.loop import FitResult, StepBatchSampler, Task, cpu_name, fit, run_wall_time, step_seed
from invrestore.train.safeguards import TrainingDivergedError

__all__ = [
    "FitResult",
    "OptimConfig",
    "StepBatchSampler",
    "Task",
    "TrainConfig",
    "TrainingDivergedError",
    "config_to_yaml",
    "cpu_name",
    "fit",
    "load_checkpoint",
    "load_config",
    "load_weights",
    "merge_config",
    "run_wall_time",
    "save_checkpoint",
    "save_weights",
    "step_seed",
]
