"""Datasets and the benchmark-set registry (see :mod:`invrestore.data.registry`)."""

from invrestore.data.datasets import ImageFolder, PairedDataset, augment, modcrop, sample_generator
from invrestore.data.registry import (
    DATASETS,
    DatasetInfo,
    ResolvedDataset,
    default_data_root,
    get_dataset_info,
    resolve_data_root,
    resolve_dataset,
    training_files,
)

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "ImageFolder",
    "PairedDataset",
    "ResolvedDataset",
    "augment",
    "default_data_root",
    "get_dataset_info",
    "modcrop",
    "resolve_data_root",
    "resolve_dataset",
    "sample_generator",
    "training_files",
]
