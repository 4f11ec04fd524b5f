"""CIFAR-10 loading for selfVAE: official pickles and .npz give the same NCHW uint8 layout."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from invrestore.models.selfvae.data import load_cifar10, to_unit, train_val_split


def test_pickles_and_npz_give_the_same_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    nhwc = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 12)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    chw = nhwc.transpose(0, 3, 1, 2).reshape(12, -1)
    for i in range(5):
        part = slice(2 * i, 2 * i + 2)
        with open(folder / f"data_batch_{i + 1}", "wb") as fh:
            pickle.dump({b"data": chw[part], b"labels": labels[part].tolist()}, fh)
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": chw[10:], b"labels": labels[10:].tolist()}, fh)
    npz = tmp_path / "c.npz"
    np.savez(npz, x_train=nhwc[:10], y_train=labels[:10], x_test=nhwc[10:], y_test=labels[10:])
    for split in ("train", "test"):
        xp, yp = load_cifar10(tmp_path, split)
        xn, yn = load_cifar10(npz, split)
        assert xp.dtype == torch.uint8 and xp.shape[1:] == (3, 32, 32)
        assert torch.equal(xp, xn) and torch.equal(yp, yn)
    x = to_unit(load_cifar10(npz, "test")[0])
    assert x.dtype == torch.float32 and x.max() <= 1


def test_shared_partial_cifar10_npz_loads(data_root: Path) -> None:
    path = data_root / "misc" / "CIFAR10_partial" / "cifar10_partial.npz"
    if not path.is_file():
        pytest.skip("shared CIFAR-10 sample not present")
    x, y = load_cifar10(path, "test")
    assert x.shape == (846, 3, 32, 32) and y.shape == (846,)


def test_validation_split_is_15_percent_and_disjoint() -> None:
    tr, va = train_val_split(100)
    assert len(va) == 15 and len(tr) == 85 and not set(tr.tolist()) & set(va.tolist())
