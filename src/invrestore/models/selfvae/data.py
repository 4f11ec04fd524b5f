"""Image loading for the selfVAE family as uint8 ``(N, 3, S, S)``: CIFAR-10 (official python pickles or an
``.npz``, 32×32), CelebA and Imagenette64 (image folders the user downloads, 64×64 by default).

Sources:

- the official ``cifar-10-batches-py`` folder (``data_batch_1`` … ``data_batch_5``, ``test_batch``; each a pickle
  with ``b"data"`` ``(N, 3072)`` uint8 in CHW order and ``b"labels"``);
- an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8 NHWC images, integer labels).

CelebA and Imagenette64 (``docs/selfvae.md``, loaders of :mod:`invrestore.data.catalog`):

- :func:`load_celeba`: srVAE's ``crop(top 40, left 15, 148×148) → Resize(S)`` (Pillow bilinear, as torchvision
  on PIL images), no augmentation; ``train`` = the official train partition, ``test`` = the official test partition.
- :func:`load_imagenette64`: ``imagenette2-160`` resized to ``S×S`` (aspect not preserved); ``test`` = its ``val``.

Decoding the 162,770 CelebA training images takes minutes, so both accept a ``cache_dir`` where the stacked uint8
array is kept as ``.npy`` (written atomically; delete it after changing the data).

Images stay uint8 here (the I/O edge); :func:`to_unit` gives the model input ``x ∈ {0, 1/255, …, 1}`` with no
dequantisation. The official split uses a random 15% of the train split for validation (:func:`train_val_split`,
which applies to every dataset here).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch import Tensor

from invrestore.io import atomic_write

if TYPE_CHECKING:
    from invrestore.data import TransformedImages

__all__ = [
    "EXTERNAL_DATASETS",
    "load_celeba",
    "load_cifar10",
    "load_external",
    "load_imagenette64",
    "to_unit",
    "train_val_split",
]

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


def _stacked(ds: TransformedImages, cache_dir: str | Path | None, key: str) -> Tensor:
    """``ds`` as uint8 ``(N, 3, S, S)``, through ``cache_dir/key.npy`` when given."""
    if cache_dir is None:
        return ds.stack_uint8()
    path = Path(cache_dir).expanduser() / f"{key}.npy"
    if path.is_file():
        arr = np.load(path)
        if arr.dtype == np.uint8 and arr.ndim == 4 and arr.shape[0] == len(ds):
            return torch.from_numpy(arr)
    x = ds.stack_uint8()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        np.save(fh, x.numpy())
    return x


def load_celeba(
    root: str | Path | None = None,
    split: Split = "train",
    size: int = 64,
    cache_dir: str | Path | None = None,
) -> Tensor:
    """CelebA for selfVAE: uint8 ``(N, 3, size, size)`` with srVAE's crop (top 40, left 15, 148×148) → Resize.

    Args:
        root: the CelebA folder (``img_align_celeba/`` + ``list_eval_partition.txt``); ``None`` = the data root.
        split: ``"train"`` (official partition 0, 162,770) or ``"test"`` (partition 2, 19,962).

    Raises:
        DatasetNotFoundError: missing or empty copy.
    """
    from invrestore.data import CelebA
    from invrestore.models.selfvae.datasets import selfvae_celeba_transform

    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}")
    ds = CelebA(root, split, transform=selfvae_celeba_transform(size))
    return _stacked(ds, cache_dir, f"celeba_selfvae_{split}_{size}_{len(ds)}")


def load_imagenette64(
    root: str | Path | None = None,
    split: Split = "train",
    size: int = 64,
    cache_dir: str | Path | None = None,
) -> tuple[Tensor, Tensor]:
    """Imagenette64: ``imagenette2-160`` resized to ``size×size`` (aspect not preserved).

    Args:
        root: the ``imagenette2-160`` folder (``train/<wnid>/``, ``val/<wnid>/``); ``None`` = the data root.
        split: ``"train"`` (9,469) or ``"test"`` (the ``val`` folder, 3,925).

    Returns:
        ``(images (N, 3, size, size) uint8, labels (N,) int64)`` (labels index the sorted wnids).
    """
    from invrestore.data import CropResize, Imagenette

    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}")
    ds = Imagenette(root, split, transform=CropResize(size=(size, size)))
    x = _stacked(ds, cache_dir, f"imagenette_{ds.split}_{size}_{len(ds)}")
    return x, torch.tensor(ds.labels, dtype=torch.int64)


#: Dataset names :func:`load_external` knows (case-insensitive), beside CIFAR-10.
EXTERNAL_DATASETS = ("CelebA", "Imagenette64")


def load_external(
    dataset: str,
    split: Split,
    root: str | Path | None = None,
    size: int = 64,
    cache_dir: str | Path | None = None,
) -> Tensor:
    """uint8 images ``(N, 3, size, size)`` of ``"CelebA"`` or ``"Imagenette64"`` (see :data:`EXTERNAL_DATASETS`).

    The counterpart of :func:`load_cifar10` for the 64×64 datasets; the random 15% validation subset is taken from
    the ``"train"`` images with :func:`train_val_split`, as for CIFAR-10.

    Raises:
        ValueError: unknown dataset. DatasetNotFoundError: missing copy.
    """
    key = dataset.lower()
    if key == "celeba":
        return load_celeba(root, split, size, cache_dir)
    if key in ("imagenette64", "imagenette"):
        return load_imagenette64(root, split, size, cache_dir)[0]
    raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(EXTERNAL_DATASETS)}")
