"""CIFAR-10 loading for the selfVAE family (official python pickles or an ``.npz``), as ``(N, 3, 32, 32)`` uint8.

Sources:

- the official ``cifar-10-batches-py`` folder (``data_batch_1`` … ``data_batch_5``, ``test_batch``; each a pickle
  with ``b"data"`` ``(N, 3072)`` uint8 in CHW order and ``b"labels"``);
- an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8 NHWC images, integer labels).

Images stay uint8 here (the I/O edge); :func:`to_unit` gives the model input ``x ∈ {0, 1/255, …, 1}`` with no
dequantisation. The official split uses a random 15% of the train split for validation (:func:`train_val_split`).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

__all__ = ["load_cifar10", "to_unit", "train_val_split"]

Split = Literal["train", "test"]


def _from_pickles(folder: Path, split: Split) -> tuple[np.ndarray, np.ndarray]:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    for name in names:
        with open(folder / name, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _from_npz(path: Path, split: Split) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        x = np.asarray(data[f"x_{split}"], dtype=np.uint8)
        y = np.asarray(data[f"y_{split}"]).astype(np.int64).reshape(-1)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected NHWC RGB images in {path}, got shape {x.shape}")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y


def load_cifar10(path: str | Path, split: Split = "train") -> tuple[Tensor, Tensor]:
    """Load CIFAR-10 images and labels.

    Args:
        path: the ``cifar-10-batches-py`` folder (or its parent), or an ``.npz`` file.
        split: ``"train"`` or ``"test"``.

    Returns:
        ``(images (N, 3, 32, 32) uint8, labels (N,) int64)``.
    """
    p = Path(path)
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}")
    if p.is_file() and p.suffix == ".npz":
        x, y = _from_npz(p, split)
    else:
        folder = p / "cifar-10-batches-py" if (p / "cifar-10-batches-py").is_dir() else p
        if not (folder / "test_batch").is_file():
            raise FileNotFoundError(f"no CIFAR-10 python batches or .npz at {p}")
        x, y = _from_pickles(folder, split)
    return torch.from_numpy(x), torch.from_numpy(y)


def to_unit(x: Tensor) -> Tensor:
    """uint8 ``(…, 3, H, W)`` → float32 on ``{0, 1/255, …, 1}`` (``ToTensor`` semantics, no dequantisation)."""
    return x.to(torch.float32) / 255.0


def train_val_split(n: int, fraction: float = 0.15, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random ``(train_idx, val_idx)`` with ``round(fraction·n)`` validation indices (official: 15% of train)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = round(fraction * n)
    return perm[k:], perm[:k]
