"""ILC family (Wang et al. 2020, invertible lossy compression): the codec ``ilc-q{n}`` / ``ilc-small`` /
``ilc-tiny`` and its teacher ``bls2017-N`` (or a CompressAI ``bmshj2018-factorized`` checkpoint), with losses
and training tasks (see ``README.md`` and ``docs/compression.md`` §9)."""

from invrestore.models.ilc.bls2017 import BLS2017
from invrestore.models.ilc.compressai import detect_compressai, load_compressai_teacher
from invrestore.models.ilc.model import (
    ILC,
    PAPER_RESULTS,
    PAPER_STAGES,
    QUALITY_LAMBDAS,
    SMALL_STAGES,
    TINY_STAGES,
    IEMStage,
    ILCOutput,
    ScaleShiftSubnet,
    init_from_teacher,
)
from invrestore.models.ilc.steps import BLS2017Task, ILCTask  # registers the training tasks

__all__ = [
    "BLS2017",
    "ILC",
    "PAPER_RESULTS",
    "PAPER_STAGES",
    "QUALITY_LAMBDAS",
    "SMALL_STAGES",
    "TINY_STAGES",
    "BLS2017Task",
    "IEMStage",
    "ILCOutput",
    "ILCTask",
    "ScaleShiftSubnet",
    "detect_compressai",
    "init_from_teacher",
    "load_compressai_teacher",
]
