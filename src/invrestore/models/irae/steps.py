"""The IRAE training step (pure), its data pipeline, and the :class:`~invrestore.train.loop.Task` for the loop.

Data flow of one step (``specs/restoration_vae.md`` §1.2–1.3):

.. code-block:: none

    image ─► CenterCrop/Resize (dataset, :class:`CenterCropResize`) ─► [random crop] ─► x (B,C,H,W)
    x ─► 5-bit quantise + U(0, 1/32) dequantisation noise (step; also the target) ─► x
    x ─► degradation (step, seeded by the loop's per-step generator): AWGN / JPEG / mask ─► y
    loss = L1(IRAE(y), x)

The degradation runs in the training step rather than in the dataset so that the dequantised clean image (the
official target) is what gets degraded, with the loop's reproducible per-step generator. JPEG is encoded on the
CPU (Pillow); on a GPU this is a host round trip per batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.data import ImageFolder
from invrestore.degradations import JPEG, GaussianNoise, Inpainting
from invrestore.io import read_image_uint
from invrestore.models.irae.config import IRAEConfig, IRAEDataConfig
from invrestore.models.irae.losses import l1_loss
from invrestore.models.irae.model import IRAE, pad_to_multiple

__all__ = [
    "CenterCropResize",
    "IRAETask",
    "degrade_batch",
    "dequantize",
    "make_degradation",
    "training_losses",
]


class CenterCropResize(ImageFolder):
    """Images with torchvision-style ``CenterCrop(crop)`` then ``Resize(size)`` (shorter side, Pillow bilinear).

    The Glow/RealNVP preprocessing of IRAE's datasets (CelebA 148 → 64, Flowers 400 → 128, CUB 300 → 128). The
    crop is centred with ``top = round((H − crop)/2)``; images smaller than ``crop`` are not padded (error).
    Items are ``(C, h, w)`` float32 in [0, 1] (RGB).

    Args:
        source: a folder or a list of image paths.
        crop: square centre-crop size (``None``: no crop).
        size: target shorter side (``None``: no resize).
        cache: keep the preprocessed images in memory.
    """

    def __init__(self, source: Any, crop: int | None, size: int | None, cache: bool = False) -> None:
        super().__init__(source, mode="rgb", cache=cache)
        self.crop = crop
        self.size = size

    def load(self, index: int) -> Tensor:
        if self.cache and index in self._cache:
            return self._cache[index]
        img = Image.fromarray(read_image_uint(self.files[index], mode="rgb").astype(np.uint8))
        if self.crop is not None:
            w, h = img.size
            if h < self.crop or w < self.crop:
                raise ValueError(f"image {self.files[index]} ({w}×{h}) is smaller than the crop {self.crop}")
            top, left = round((h - self.crop) / 2), round((w - self.crop) / 2)
            img = img.crop((left, top, left + self.crop, top + self.crop))
        if self.size is not None:
            w, h = img.size
            nh, nw = (self.size, int(self.size * w / h)) if h <= w else (int(self.size * h / w), self.size)
            img = img.resize((nw, nh), Image.Resampling.BILINEAR)
        t = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0
        if self.cache:
            self._cache[index] = t
        return t


def dequantize(x: Tensor, bits: int, generator: torch.Generator | None) -> Tensor:
    """Glow's ``n_bits`` pipeline: ``⌊255x / 2^(8−b)⌋ / 2^b + U(0, 2^−b)`` (``b = 8``: 8-bit plus ``U(0, 1/256)``).

    Args:
        x: images in [0, 1] from 8-bit data, any shape.
        bits: ``b`` in 1..8 (5 in IRAE's code).
        generator: source of the dequantisation noise.
    """
    bins = 2**bits
    q = torch.floor(torch.round(x * 255.0) / 2 ** (8 - bits)) / bins
    dev = generator.device if generator is not None else x.device
    u = torch.rand(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)
    return q + u / bins


def make_degradation(cfg: IRAEDataConfig) -> GaussianNoise | JPEG | Inpainting:
    """The degradation of ``cfg.task`` with its parameters."""
    if cfg.task == "denoise":
        sigma: float | tuple[float, float] = cfg.sigma if cfg.sigma_range is None else tuple(cfg.sigma_range)  # type: ignore[assignment]
        return GaussianNoise(sigma, clip=cfg.clip_noise, integer_sigma=cfg.integer_sigma)
    if cfg.task == "jpeg":
        return JPEG(cfg.quality)
    return Inpainting(cfg.mask_mode)  # type: ignore[arg-type]


def degrade_batch(x: Tensor, cfg: IRAEDataConfig, generator: torch.Generator | None) -> tuple[Tensor, Tensor | None]:
    """Degrade a batch ``(B, C, H, W)``: ``(y, mask)`` with ``mask`` ``(B, 1, H, W)`` for inpainting, else None."""
    deg = make_degradation(cfg)
    if isinstance(deg, Inpainting):
        return deg.apply(x, generator)
    if isinstance(deg, JPEG):
        return deg(x.detach().cpu(), generator).to(x.device), None
    return deg(x, generator), None


def training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: IRAEConfig, generator: torch.Generator
) -> tuple[Tensor, dict[str, float]]:
    """One IRAE step's loss: dequantise the clean crops, degrade them, ``L1(IRAE(y), x)``. Pure (no optimiser).

    ``batch["x"]`` is the clean crop ``(B, C, H, W)`` (``batch["x_lq"]`` is ignored: the degradation is applied
    here, see the module docstring). ``model`` may be DDP-wrapped.
    """
    x = batch["x"]
    if cfg.data.dequantize_bits:
        x = dequantize(x, cfg.data.dequantize_bits, generator)
    y, _ = degrade_batch(x, cfg.data, generator)
    x_hat = model(y)
    loss = l1_loss(x_hat, x, cfg.loss.reduction)
    with torch.no_grad():
        mse = (x_hat.detach().clamp(0, 1) - x).pow(2).flatten(1).mean(dim=1).clamp_min(1e-8)
        psnr = float((10 * torch.log10(1.0 / mse)).mean())
    return loss, {"loss": float(loss.detach()), "psnr": psnr}


def _identity(x: Tensor, generator: torch.Generator) -> Tensor:
    return x


class IRAETask:
    """Trains IRAE with the paper's recipe through :func:`invrestore.train.loop.fit`."""

    best_metric = "psnr"

    def __init__(self, cfg: IRAEConfig) -> None:
        self.cfg = cfg
        self.train = cfg.train
        self.name = cfg.model.name

    def config(self) -> Any:
        return self.cfg

    def build_model(self) -> nn.Module:
        from invrestore.models.registry import create_model

        m = self.cfg.model
        return create_model(
            m.name,
            width=m.width,
            depth=m.depth,
            levels=m.levels,
            lu=m.lu,
            unused_gaussianize=m.unused_gaussianize,
            memory_efficient=m.memory_efficient,
        )

    def _files(self, sets: tuple[str, ...], folders: tuple[str, ...]) -> list[Any]:
        from invrestore.data import training_files

        if not sets and not folders:
            return []
        return list(training_files(sets, folders, self.cfg.data.root))

    def train_dataset(self) -> Dataset[Any]:
        from invrestore.data import PairedDataset
        from invrestore.errors import DatasetNotFoundError

        d = self.cfg.data
        files = self._files(d.train_sets, d.train_folders)
        if not files:
            raise DatasetNotFoundError("no training images: set data.train_sets or data.train_folders")
        images = CenterCropResize(files, d.center_crop, d.resize, cache=True)
        return PairedDataset(
            images, d.crop_size, _identity, where="crop", augment=d.augment, seed=self.cfg.train.seed, repeat=d.repeat
        )

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float]]:
        return training_losses(model, batch, self.cfg, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Mean PSNR/SSIM (RGB, data range 1, restored output clamped, no 8-bit rounding) on the validation set.

        Each image's dequantisation and degradation are seeded by its index, so the set is fixed across
        validations (the official code redraws the test noise every epoch). Inpainting scores the composite
        ``x̂·m + y·(1 − m)``.
        """
        from invrestore.data import sample_generator
        from invrestore.metrics import psnr, ssim

        d = self.cfg.data
        files = self._files((d.val_set,) if d.val_set else (), d.val_folders)
        if not files:
            return {}
        if d.val_limit:
            files = files[: d.val_limit]
        images = CenterCropResize(files, d.center_crop, d.resize)
        inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        multiple = inner.multiple if isinstance(inner, IRAE) else 1
        scores: dict[str, list[float]] = {"psnr": [], "ssim": []}
        for i in range(len(images)):
            g = sample_generator(self.cfg.train.seed, 0, i)
            x = images.load(i).unsqueeze(0)
            if d.dequantize_bits:
                x = dequantize(x, d.dequantize_bits, g)
            y, mask = degrade_batch(x, d, g)
            h, w = x.shape[-2:]
            x_hat = inner(pad_to_multiple(y.to(device), multiple))[..., :h, :w].clamp(0, 1).cpu()
            if mask is not None:
                x_hat = x_hat * mask + y * (1 - mask)
            scores["psnr"].append(float(psnr(x_hat, x, quantize=False)[0]))
            scores["ssim"].append(float(ssim(x_hat, x, quantize=False)[0]))
        return {k: float(np.mean(v)) for k, v in scores.items()}
