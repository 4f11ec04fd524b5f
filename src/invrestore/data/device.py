"""A device-resident training set: decode once into uint8 on the device, cut every batch there.

:class:`DeviceResidentData` takes a :class:`~invrestore.data.datasets.PairedDataset` (what the IRN, CRM, ILC and
pix2pix tasks train on), decodes its images once as uint8 and keeps them packed end to end in one flat tensor on
the training device (T91 + BSDS200: about 100 MB). For ``where="whole"`` degradations (IRN's MATLAB-bicubic LR
guide of the whole image) the degraded images are computed once too, on the device, and kept beside them in float32.
A batch is then one gather of index arithmetic on the device (the random crop), three ``torch.where`` (the flips and
the transpose) and a 256-entry lookup from uint8 to float, so a training step never waits for a data loader.

The random crop positions and flips are drawn exactly as :class:`PairedDataset` draws them, from the same
per-sample generators seeded by ``(seed, epoch, index)``, so on the same device the batches are *identical* to the
data loader's (the tests check this bit for bit) and a run with ``train.device_resident: true`` repeats the losses
of one without. Drawing them costs a few microseconds of host time per sample and one small host-to-device copy
per batch.

``where="crop"`` degradations (random noise, JPEG, identity) run per sample on the device crop with the sample's
generator, as the dataset would run them; one that cannot run on the device raises :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from invrestore.data.datasets import PairedDataset, modcrop, sample_generator
from invrestore.errors import ConfigError
from invrestore.io import read_image_uint

__all__ = ["DeviceResidentData"]

# uint8 -> float32 exactly as invrestore.io.read_image computes it (in float64, then rounded to float32)
_LUT = (torch.arange(256, dtype=torch.float64) / 255.0).to(torch.float32)


class _Packed:
    """Images of one channel count and dtype, packed end to end in one flat tensor, with their shapes."""

    def __init__(self, images: Sequence[torch.Tensor], device: torch.device) -> None:
        self.channels = images[0].shape[0]
        if any(im.shape[0] != self.channels for im in images):
            raise ConfigError("data.device_resident needs all training images with the same number of channels")
        sizes = [im.numel() for im in images]
        self.offsets = torch.tensor([0, *np.cumsum(sizes)[:-1].tolist()], dtype=torch.long, device=device)
        self.heights = torch.tensor([im.shape[1] for im in images], dtype=torch.long, device=device)
        self.widths = torch.tensor([im.shape[2] for im in images], dtype=torch.long, device=device)
        self.shapes = [(int(im.shape[1]), int(im.shape[2])) for im in images]
        self.flat = torch.cat([im.reshape(-1) for im in images]).to(device)

    def crops(self, image: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
        """``(B, C, size, size)`` crops of images ``image[b]`` at ``(top[b], left[b])`` (one gather)."""
        dev = self.flat.device
        c = torch.arange(self.channels, device=dev).view(1, -1, 1, 1)
        r = torch.arange(size, device=dev)
        h, w = self.heights[image].view(-1, 1, 1, 1), self.widths[image].view(-1, 1, 1, 1)
        rows = (top.view(-1, 1, 1, 1) + r.view(1, 1, -1, 1)) * w
        cols = left.view(-1, 1, 1, 1) + r.view(1, 1, 1, -1)
        idx = self.offsets[image].view(-1, 1, 1, 1) + c * (h * w) + rows + cols
        return self.flat[idx]


def _augment(x: torch.Tensor, flags: torch.Tensor) -> torch.Tensor:
    """Per-sample horizontal flip, vertical flip and transpose (``flags`` ``(B, 3)`` bool), in that order, as
    :func:`invrestore.data.datasets.augment` does."""
    hflip, vflip, rot = (flags[:, i].view(-1, 1, 1, 1) for i in range(3))
    x = torch.where(hflip, x.flip(-1), x)
    x = torch.where(vflip, x.flip(-2), x)
    return torch.where(rot, x.transpose(-2, -1), x)


class DeviceResidentData:
    """The training set of a :class:`PairedDataset`, resident on ``device``; :meth:`batch` builds a batch.

    Build it with :meth:`from_dataset`. ``batch(indices)`` takes the (virtual) sample indices of one step and returns
    ``{"x": (B,C,c,c), "x_lq": (B,C,c/s,c/s)}`` float32 on the device, equal to the data loader's collated batch.
    """

    def __init__(self, dataset: PairedDataset, device: torch.device) -> None:
        if dataset.crop_size is None:
            raise ConfigError("data.device_resident needs a fixed crop size (data.crop_size), not whole images")
        self.ds = dataset
        self.device = device
        self.scale = dataset.scale
        self.crop = dataset.crop_size
        self.lut = _LUT.to(device)
        hr: list[torch.Tensor] = []
        images = dataset.images
        for f in images.files:
            arr = read_image_uint(f, mode=images.mode, alpha=images.alpha)
            if arr.dtype != np.uint8:
                raise ConfigError(f"data.device_resident reads 8-bit images only; '{f}' is {arr.dtype}")
            t = torch.from_numpy(np.array(arr, copy=True))
            t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
            hr.append(modcrop(t, self.scale).contiguous())
        for f, t in zip(images.files, hr, strict=True):
            if min(t.shape[1:]) < self.crop:
                raise ConfigError(f"training image '{f}' is smaller than the crop {self.crop}")
        self.hr = _Packed(hr, device)
        self.lq: _Packed | None = None
        if dataset.where == "whole":
            lq = [self._whole_degrade(t) for t in hr]
            self.lq = _Packed(lq, device)

    @classmethod
    def from_dataset(cls, dataset: Any, device: torch.device) -> DeviceResidentData:
        """Raise :class:`ConfigError` unless ``dataset`` is a :class:`PairedDataset` (the only kind supported)."""
        if not isinstance(dataset, PairedDataset):
            raise ConfigError(
                f"train.device_resident supports PairedDataset training sets, not {type(dataset).__name__}; "
                "set train.device_resident=false for this family"
            )
        return cls(dataset, device)

    def _whole_degrade(self, u8: torch.Tensor) -> torch.Tensor:
        x = self.lut.to(u8.device)[u8.long()]
        g = torch.Generator().manual_seed(self.ds.seed)  # what PairedDataset gives a whole-image degradation
        try:
            return self.ds.degrade(x.to(self.device), g).float().contiguous()
        except RuntimeError:  # a degradation that cannot run on this device: compute it on the CPU, then move it
            return self.ds.degrade(x, torch.Generator().manual_seed(self.ds.seed)).float().contiguous()

    def __len__(self) -> int:
        return len(self.ds)

    def _draws(self, indices: Sequence[int]) -> tuple[list[int], list[int], list[int], list[list[bool]], list[Any]]:
        """Image, top, left and flips of each sample, drawn as PairedDataset.__getitem__ draws them."""
        n = len(self.ds.images)
        s, c = self.scale, self.crop
        image, tops, lefts, flags, gens = [], [], [], [], []
        for index in indices:
            i = index % n
            g = sample_generator(self.ds.seed, self.ds.epoch, index)
            h, w = self.hr.shapes[i]
            if self.lq is not None:
                lh, lw = self.lq.shapes[i]
                lc = c // s
                top = int(torch.randint(0, lh - lc + 1, (1,), generator=g))
                left = int(torch.randint(0, lw - lc + 1, (1,), generator=g))
            else:
                top = int(torch.randint(0, (h - c) // s + 1, (1,), generator=g)) * s
                left = int(torch.randint(0, (w - c) // s + 1, (1,), generator=g)) * s
            flip = (torch.rand(3, generator=g) < 0.5).tolist() if self.ds.augment else [False, False, False]
            image.append(i)
            tops.append(top)
            lefts.append(left)
            flags.append(flip)
            gens.append(g)
        return image, tops, lefts, flags, gens

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        image_l, tops_l, lefts_l, flags_l, gens = self._draws(indices)
        params = torch.tensor([image_l, tops_l, lefts_l], dtype=torch.long).to(self.device, non_blocking=True)
        image, top, left = params[0], params[1], params[2]
        flags = torch.tensor(flags_l, dtype=torch.bool).to(self.device, non_blocking=True)
        s = self.scale
        if self.lq is not None:
            lc = self.crop // s
            x = self.lut[self.hr.crops(image, top * s, left * s, self.crop).long()]
            lq = self.lq.crops(image, top, left, lc)
            return {"x": _augment(x, flags), "x_lq": _augment(lq, flags)}
        x = _augment(self.lut[self.hr.crops(image, top, left, self.crop).long()], flags)
        try:
            lq = torch.stack([self.ds.degrade(x[b], gens[b]) for b in range(x.shape[0])])
        except RuntimeError as e:
            raise ConfigError(
                f"this task's degradation cannot run on {self.device} with train.device_resident "
                f"({str(e).splitlines()[0]}); set train.device_resident=false"
            ) from e
        return {"x": x, "x_lq": lq}
