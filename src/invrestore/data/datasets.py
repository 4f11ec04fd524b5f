"""Datasets: a generic image folder and paired on-the-fly degradation with seeded crops and augmentation.

Randomness is explicit and reproducible: every sample draws from a ``torch.Generator`` seeded from
``(seed, epoch, index)``, so a sample is the same whatever the number of workers or the order of access, and
:meth:`PairedDataset.set_epoch` moves to fresh crops for the next epoch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset

from invrestore.io import AlphaArg, ModeArg, list_images, read_image

__all__ = [
    "ImageFolder",
    "PairedDataset",
    "augment",
    "modcrop",
    "sample_generator",
]


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator seeded from ``(seed, epoch, index)`` (stable across processes and Python versions)."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{index}".encode(), digest_size=8).digest()
    g = torch.Generator()
    g.manual_seed(int.from_bytes(digest, "little") & ((1 << 63) - 1))
    return g


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right of ``(..., H, W)`` so that H and W are multiples of ``scale``."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def augment(tensors: Sequence[torch.Tensor], g: torch.Generator) -> list[torch.Tensor]:
    """Apply the same random horizontal flip, vertical flip and transpose (90° rotation) to each tensor.

    Each of the three happens with probability 1/2, as in IRN/BasicSR's ``augment(hflip, rot)``.
    """
    hflip, vflip, rot = (torch.rand(3, generator=g) < 0.5).tolist()
    out = []
    for t in tensors:
        if hflip:
            t = t.flip(-1)
        if vflip:
            t = t.flip(-2)
        if rot:
            t = t.transpose(-2, -1)
        out.append(t.contiguous())
    return out


class ImageFolder(Dataset[dict[str, object]]):
    """All images of a folder (or an explicit list of files), as ``{"image": (C,H,W) float, "name": str}``.

    Args:
        source: a folder or a sequence of image paths.
        mode, alpha: passed to :func:`invrestore.io.read_image`.
        cache: keep decoded images in memory (useful for small training sets read many times).
    """

    def __init__(
        self,
        source: str | Path | Sequence[str | Path],
        mode: ModeArg = "keep",
        alpha: AlphaArg = "drop",
        cache: bool = False,
        recursive: bool = False,
    ) -> None:
        if isinstance(source, (str, Path)):
            self.files = list_images(source, recursive=recursive)
            if not self.files:
                from invrestore.errors import DatasetNotFoundError

                raise DatasetNotFoundError(f"no images found in '{source}'")
        else:
            self.files = [Path(p) for p in source]
        self.mode: ModeArg = mode
        self.alpha: AlphaArg = alpha
        self.cache = cache
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> torch.Tensor:
        if self.cache and index in self._cache:
            return self._cache[index]
        img = read_image(self.files[index], mode=self.mode, alpha=self.alpha)
        if self.cache:
            self._cache[index] = img
        return img

    def __getitem__(self, index: int) -> dict[str, object]:
        return {"image": self.load(index), "name": self.files[index].stem}


Degrade = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class PairedDataset(Dataset[dict[str, torch.Tensor]]):
    """Pairs ``(x, x_lq)`` made on the fly from clean images, with seeded random crops and augmentation.

    Two kinds of degradation:

    - ``where="whole"``: a deterministic degradation of the whole image (e.g. MATLAB-bicubic downscaling for IRN,
      which computes the LR guide from the whole image), computed once per image and cached; the LR crop is taken
      at a random position and the HR crop aligned with it (``scale`` times larger).
    - ``where="crop"``: a random degradation (noise, JPEG, masks) applied to each crop with the sample's generator.

    Args:
        images: the clean images.
        crop_size: HR crop size (``None`` keeps the whole image; then no augmentation is random-cropped).
        scale: the size ratio HR/LR of the degradation (1 for restoration tasks).
        degrade: ``degrade(x, generator) -> x_lq``; ``x`` is ``(C,H,W)``.
        where: ``"whole"`` or ``"crop"`` (see above).
        augment: random flips and 90° rotations.
        seed: base seed; samples depend on ``(seed, epoch, index)``.
        repeat: virtual length multiplier (many crops per image per epoch).

    Items are ``{"x": (C,h,w), "x_lq": (C,h/s,w/s)}``. Indices beyond ``len(self)`` are accepted ("virtual
    indices" ``epoch·len + i`` from the training loop): they address image ``index mod len(images)`` with fresh
    random crops.
    """

    accepts_virtual_index = True

    def __init__(
        self,
        images: ImageFolder,
        crop_size: int | None,
        degrade: Degrade,
        scale: int = 1,
        where: Literal["whole", "crop"] = "crop",
        augment: bool = True,
        seed: int = 0,
        repeat: int = 1,
    ) -> None:
        if crop_size is not None and crop_size % scale:
            raise ValueError(f"crop_size {crop_size} must be a multiple of the scale {scale}")
        self.images = images
        self.crop_size = crop_size
        self.degrade = degrade
        self.scale = scale
        self.where = where
        self.augment = augment
        self.seed = seed
        self.repeat = repeat
        self.epoch = 0
        self._lq_cache: dict[int, torch.Tensor] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.images) * self.repeat

    def _whole_lq(self, i: int, x: torch.Tensor) -> torch.Tensor:
        if i not in self._lq_cache:
            self._lq_cache[i] = self.degrade(x, torch.Generator().manual_seed(self.seed))
        return self._lq_cache[i]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i = index % len(self.images)
        g = sample_generator(self.seed, self.epoch, index)
        x = modcrop(self.images.load(i), self.scale)
        s = self.scale
        if self.where == "whole":
            lq = self._whole_lq(i, x)
            if self.crop_size is not None:
                lc = self.crop_size // s
                lh, lw = lq.shape[-2:]
                if lh < lc or lw < lc:
                    raise ValueError(f"image {self.images.files[i]} is smaller than the crop {self.crop_size}")
                top = int(torch.randint(0, lh - lc + 1, (1,), generator=g))
                left = int(torch.randint(0, lw - lc + 1, (1,), generator=g))
                lq = lq[..., top : top + lc, left : left + lc]
                x = x[..., top * s : (top + lc) * s, left * s : (left + lc) * s]
            if self.augment:
                x, lq = augment([x, lq], g)
        else:
            if self.crop_size is not None:
                c = self.crop_size
                h, w = x.shape[-2:]
                if h < c or w < c:
                    raise ValueError(f"image {self.images.files[i]} is smaller than the crop {c}")
                top = int(torch.randint(0, (h - c) // s + 1, (1,), generator=g)) * s
                left = int(torch.randint(0, (w - c) // s + 1, (1,), generator=g)) * s
                x = x[..., top : top + c, left : left + c]
            if self.augment:
                (x,) = augment([x], g)
            lq = self.degrade(x, g)
        return {"x": x.contiguous(), "x_lq": lq.contiguous()}
