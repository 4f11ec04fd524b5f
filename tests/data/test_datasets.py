"""Paired on-the-fly datasets: seeded, aligned crops and joint augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from invrestore.data import ImageFolder, PairedDataset
from invrestore.io import write_image


def _folder(tmp_path: Path, n: int = 3, size: tuple[int, int] = (40, 52)) -> ImageFolder:
    rng = np.random.default_rng(1)
    for i in range(n):
        write_image(tmp_path / f"{i}.png", rng.integers(0, 256, size=(*size, 3), dtype=np.uint8))
    return ImageFolder(tmp_path, cache=True)


def _box_down(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.nn.functional.avg_pool2d(x[None], 2)[0]


def test_samples_are_reproducible_for_a_seed_and_change_with_the_epoch(tmp_path: Path) -> None:
    ds = PairedDataset(_folder(tmp_path), 16, _box_down, scale=2, where="whole", seed=3)
    a, b = ds[1], ds[1]
    assert torch.equal(a["x"], b["x"]) and torch.equal(a["x_lq"], b["x_lq"])
    ds.set_epoch(1)
    assert not torch.equal(ds[1]["x"], a["x"])


def test_whole_image_degradation_gives_crops_aligned_with_the_hr_crop(tmp_path: Path) -> None:
    ds = PairedDataset(_folder(tmp_path), 16, _box_down, scale=2, where="whole", seed=0)
    for i in range(len(ds)):
        item = ds[i]
        assert item["x"].shape == (3, 16, 16) and item["x_lq"].shape == (3, 8, 8)
        # box-mean commutes with flips/transposes, so alignment means the LR equals the pooled HR crop
        assert torch.allclose(_box_down(item["x"], torch.Generator()), item["x_lq"], atol=1e-6)


def test_random_degradations_use_the_sample_generator(tmp_path: Path) -> None:
    def noise(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return x + torch.randn(x.shape, generator=g, dtype=x.dtype)

    ds = PairedDataset(_folder(tmp_path), 12, noise, where="crop", seed=5, repeat=2)
    assert len(ds) == 6
    assert torch.equal(ds[4]["x_lq"], ds[4]["x_lq"])
    assert not torch.equal(ds[4]["x_lq"] - ds[4]["x"], ds[1]["x_lq"] - ds[1]["x"])
