"""The restoration data pipeline shared by the IRAE and baseline families (``docs/restoration.md``).

.. code-block:: none

    image ─► CenterCrop/Resize (dataset, :class:`CenterCropResize`) ─► [random crop] ─► x (B,C,H,W)
    x ─► [5-bit quantise + U(0, 1/32) dequantisation noise (:func:`dequantize`; also the target)] ─► x
    x ─► degradation (:func:`degrade_batch`, seeded by the loop's per-step generator): AWGN / JPEG / mask ─► y

Families describe their degradation with any object that has the attributes of :class:`DegradationSpec` (their
frozen data configs do), so that no family imports another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from invrestore.data.datasets import ImageFolder
from invrestore.degradations import JPEG, GaussianNoise, Inpainting
from invrestore.errors import ConfigError
from invrestore.io import read_image_uint

__all__ = [
    "JPEG_TASKS",
    "RESTORATION_DATASETS",
    "CenterCropResize",
    "DegradationSpec",
    "Degraded",
    "RestorationDataConfig",
    "degrade_batch",
    "degrade_batch_with_sigma",
    "dequantize",
    "make_degradation",
    "restoration_images",
    "restoration_train_set",
    "score_restoration",
    "validate_restoration",
]


@dataclass(frozen=True)
class RestorationDataConfig:
    """Training/validation images, their preprocessing and the degradation.

    Attributes:
        root: data root (``None``: ``$INVRESTORE_DATA`` or the default).
        train_sets: registered dataset names used for training (CelebA's official train partition in the paper).
        train_folders: extra image folders.
        center_crop: square centre crop before resizing (CelebA 148, Flowers 400, CUB 300; ``None`` = none).
        resize: resize the (cropped) image so its shorter side is this (Pillow bilinear, as torchvision's
            ``Resize`` on PIL images; CelebA 64, Flowers/CUB 128, inpainting 256; ``None`` = none).
        crop_size: random crop after preprocessing (the JPEG code: 64; ``None`` = the whole preprocessed image).
        augment: random flips/rotations (the official code uses none).
        repeat: crops per image per epoch.
        dequantize_bits: ``b`` > 0 applies the Glow/RealNVP pipeline ``⌊255x / 2^(8−b)⌋ / 2^b + U(0, 2^−b)`` to the
            clean image (and so to the target); 5 in the official code; 0 = plain 8-bit images.
        task: ``"denoise"``, ``"jpeg"`` or ``"inpaint"``.
        sigma: AWGN level (0–255 scale) for denoising.
        sigma_range: blind denoising range ``(lo, hi)`` (one σ per image); ``None`` = fixed ``sigma``.
        integer_sigma: draw integer σ in ``lo..hi−1`` (the official ``randint(1, 55)`` with ``(1, 55)``).
        clip_noise: clamp noisy images to [0, 1] (the official code does not).
        quality: JPEG quality factor.
        mask_mode: inpainting mask mode, ``"center"`` or ``"irregular"``.
        val_set: registered dataset for validation (``None``: use ``val_folders``; both empty: no validation).
        val_folders: validation image folders.
        val_limit: validate on the first N images only (0 = all).
        dataset: a named external dataset used *instead of* ``train_sets``/``train_folders`` (training: its train
            split) and ``val_set``/``val_folders`` (validation: its test split): ``"celeba"`` (train partition /
            the *valid* partition, IRAE's test set), ``"flowers"`` (``tstid`` / ``trnid+valid``, IRAE's swap) or
            ``"cub"`` (official train / test). See :mod:`invrestore.data.catalog` and ``docs/data.md``.
        dataset_root: the folder holding that dataset (``None``: the data root, see ``root``).
        dataset_transform: its preprocessing, a name of :data:`invrestore.data.transforms.TRANSFORMS` (``None``: the
            paper's, CelebA ``irae-celeba-64``, Flowers ``irae-flowers-128``, CUB ``irae-cub-128``; CelebA
            inpainting: ``irae-celeba-256``). ``center_crop``/``resize`` must stay at their defaults with a dataset.
        dataset_val_split: ``"test"`` (validate on the test split) or ``None`` (no validation).
    """

    root: str | None = None
    train_sets: tuple[str, ...] = ("CelebA",)
    train_folders: tuple[str, ...] = ()
    center_crop: int | None = 148
    resize: int | None = 64
    crop_size: int | None = None
    augment: bool = False
    repeat: int = 1
    dequantize_bits: int = 5
    task: str = "denoise"
    sigma: float = 25.0
    sigma_range: tuple[float, float] | None = None
    integer_sigma: bool = False
    clip_noise: bool = False
    quality: int = 20
    mask_mode: str = "center"
    val_set: str | None = None
    val_folders: tuple[str, ...] = ()
    val_limit: int = 0
    dataset: str | None = None
    dataset_root: str | None = None
    dataset_transform: str | None = None
    dataset_val_split: str | None = "test"

    #: the tasks a family accepts (subclasses narrow it)
    tasks: ClassVar[tuple[str, ...]] = ("denoise", "jpeg", "dejpeg", "inpaint")

    def __post_init__(self) -> None:
        if self.task not in self.tasks:
            raise ConfigError(f"data.task must be one of {self.tasks}, got {self.task!r}")
        if not 0 <= self.dequantize_bits <= 8:
            raise ConfigError(f"data.dequantize_bits must be in 0..8, got {self.dequantize_bits}")
        if self.dataset is not None:
            self._check_dataset()

    def _check_dataset(self) -> None:
        from invrestore.data.transforms import TRANSFORMS

        if self.dataset not in RESTORATION_DATASETS:
            raise ConfigError(f"data.dataset must be one of {tuple(RESTORATION_DATASETS)}, got {self.dataset!r}")
        if self.dataset_transform is not None and self.dataset_transform not in TRANSFORMS:
            known = tuple(TRANSFORMS)
            raise ConfigError(f"data.dataset_transform must be one of {known}, got {self.dataset_transform!r}")
        if self.dataset_val_split not in (None, "test"):
            raise ConfigError(f"data.dataset_val_split must be 'test' or null, got {self.dataset_val_split!r}")
        clashes = [
            name
            for name, value, default in (
                ("train_folders", self.train_folders, ()),
                ("val_set", self.val_set, None),
                ("val_folders", self.val_folders, ()),
                ("center_crop", self.center_crop, 148),
                ("resize", self.resize, 64),
            )
            if value != default
        ]
        if clashes:
            raise ConfigError(
                f"data.{', data.'.join(clashes)} do(es) not apply with data.dataset={self.dataset!r} (it sets the "
                "images, their split and preprocessing; choose the preprocessing with data.dataset_transform)"
            )


#: IRAE's named datasets: ``name -> (loader split for training, loader split for testing, default transform)``.
RESTORATION_DATASETS: dict[str, tuple[str, str, str]] = {
    "celeba": ("train", "valid", "irae-celeba-64"),
    "flowers": ("train", "test", "irae-flowers-128"),
    "cub": ("train", "test", "irae-cub-128"),
}

#: Task names that mean JPEG artefact removal (IRAE's configs say ``"jpeg"``, the baselines' ``"dejpeg"``).
JPEG_TASKS = ("jpeg", "dejpeg")


class DegradationSpec(Protocol):
    """The degradation fields of a family's data config (read-only)."""

    @property
    def task(self) -> str: ...  # "denoise", "jpeg"/"dejpeg" or "inpaint"

    @property
    def sigma(self) -> float: ...  # AWGN σ on the 0–255 scale

    @property
    def sigma_range(self) -> tuple[float, float] | None: ...  # blind range, one σ per image

    @property
    def integer_sigma(self) -> bool: ...

    @property
    def clip_noise(self) -> bool: ...

    @property
    def quality(self) -> int: ...  # JPEG quality factor

    @property
    def mask_mode(self) -> str: ...  # "center" or "irregular"


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


def make_degradation(spec: DegradationSpec) -> GaussianNoise | JPEG | Inpainting:
    """The degradation of ``spec.task`` with its parameters."""
    if spec.task == "denoise":
        rng = spec.sigma_range
        sigma: float | tuple[float, float] = spec.sigma if rng is None else (float(rng[0]), float(rng[1]))
        return GaussianNoise(sigma, clip=spec.clip_noise, integer_sigma=spec.integer_sigma)
    if spec.task in JPEG_TASKS:
        return JPEG(spec.quality)
    return Inpainting(spec.mask_mode)  # type: ignore[arg-type]


class Degraded(NamedTuple):
    """A degraded batch: ``y``; ``mask`` ``(B, 1, H, W)`` (1 = hole) for inpainting; ``sigma`` ``(B,)`` on the
    0–255 scale for denoising (FFDNet's noise-level input); the others ``None``."""

    y: Tensor
    mask: Tensor | None
    sigma: Tensor | None


def degrade_batch_with_sigma(x: Tensor, spec: DegradationSpec, generator: torch.Generator | None) -> Degraded:
    """Degrade a batch ``(B, C, H, W)``, also returning the mask or the per-image σ.

    Consumes ``generator`` exactly as :func:`degrade_batch`. JPEG runs on the CPU (Pillow): a host round trip.
    """
    deg = make_degradation(spec)
    if isinstance(deg, Inpainting):
        y, m = deg.apply(x, generator)
        return Degraded(y, m, None)
    if isinstance(deg, JPEG):
        return Degraded(deg(x.detach().cpu(), generator).to(x.device), None, None)
    y, sigma = deg.with_sigma(x, generator)
    return Degraded(y, None, sigma.to(x.device))


def degrade_batch(x: Tensor, spec: DegradationSpec, generator: torch.Generator | None) -> tuple[Tensor, Tensor | None]:
    """Degrade a batch ``(B, C, H, W)``: ``(y, mask)`` with ``mask`` ``(B, 1, H, W)`` for inpainting, else None."""
    d = degrade_batch_with_sigma(x, spec, generator)
    return d.y, d.mask


def restoration_images(d: Any, split: str, cache: bool = False) -> Any:
    """The images of ``d.dataset`` (a :data:`RESTORATION_DATASETS` name) for ``split`` ``"train"`` or ``"test"``,
    preprocessed with ``d.dataset_transform`` (default: the paper's), as a
    :class:`~invrestore.data.images.TransformedImages`.

    Raises:
        DatasetNotFoundError: the dataset is missing under ``d.dataset_root`` (or the data root).
    """
    from invrestore.data.images import image_dataset
    from invrestore.data.registry import resolve_data_root

    train_split, test_split, default_transform = RESTORATION_DATASETS[d.dataset]
    root = d.dataset_root if d.dataset_root is not None else resolve_data_root(d.root)
    transform = d.dataset_transform or default_transform
    return image_dataset(d.dataset, root, train_split if split == "train" else test_split, transform, cache=cache)


def restoration_train_set(d: Any, seed: int) -> Any:
    """The training set of a restoration family: clean crops (the degradation is applied in the step).

    ``d`` is the family's data config (fields ``train_sets, train_folders, root, center_crop, resize, crop_size,
    augment, repeat``, and ``dataset`` etc. for a named external dataset, :func:`restoration_images`).

    Raises:
        DatasetNotFoundError: no training images.
    """
    from invrestore.data.datasets import PairedDataset
    from invrestore.data.registry import training_files

    images: ImageFolder
    if getattr(d, "dataset", None):
        images = restoration_images(d, "train", cache=True)
    else:
        files = training_files(d.train_sets, d.train_folders, d.root)
        images = CenterCropResize(files, d.center_crop, d.resize, cache=True)
    return PairedDataset(
        images, d.crop_size, _identity_degradation, where="crop", augment=d.augment, seed=seed, repeat=d.repeat
    )


def _identity_degradation(x: Tensor, g: torch.Generator) -> Tensor:
    return x


def validate_restoration(restore: Callable[[Degraded], Tensor], d: Any, seed: int) -> dict[str, float]:
    """Mean PSNR/SSIM (RGB, data range 1, output clamped, no 8-bit rounding) of ``restore`` on the validation set.

    Each image's dequantisation and degradation are seeded by its index, so the set is fixed across validations
    (the official IRAE code redraws the test noise every epoch). Inpainting scores the composite
    ``x̂·m + y·(1 − m)``. ``restore(degraded) -> x̂`` gets the whole degraded image (any size) and its σ.
    """
    rows = score_restoration(restore, d, seed)
    if not rows:
        return {}
    return {k: sum(float(r[k]) for r in rows) / len(rows) for k in ("psnr", "ssim")}


def score_restoration(
    restore: Callable[[Degraded], Tensor], d: Any, seed: int, legacy_ssim: bool = False
) -> list[dict[str, Any]]:
    """Per-image scores of ``restore`` on the validation/test images of data config ``d`` (see
    :func:`validate_restoration`): ``name``, ``psnr``, ``ssim`` (standard: Gaussian 11×11, σ 1.5, range 1, RGB
    mean), the degraded input's ``psnr_in``, and with ``legacy_ssim`` the official IRAE code's
    :func:`~invrestore.metrics.irae_legacy_ssim`. Image ``i`` is degraded with the generator seeded by
    ``(seed, 0, i)``, so every model is scored on the same degraded images."""
    from invrestore.data.datasets import sample_generator
    from invrestore.data.registry import training_files
    from invrestore.metrics import irae_legacy_ssim, psnr, ssim

    images: ImageFolder
    if getattr(d, "dataset", None):
        if d.dataset_val_split is None:
            return []
        images = restoration_images(d, "test")
    else:
        if not d.val_set and not d.val_folders:
            return []
        files = training_files((d.val_set,) if d.val_set else (), d.val_folders, d.root)
        if d.val_limit:
            files = files[: d.val_limit]
        images = CenterCropResize(files, d.center_crop, d.resize)
    n = min(len(images), d.val_limit) if d.val_limit else len(images)
    names = [Path(str(f)).stem for f in getattr(images, "files", [])] or [str(i) for i in range(n)]
    rows: list[dict[str, Any]] = []
    for i in range(n):
        g = sample_generator(seed, 0, i)
        x = images.load(i).unsqueeze(0)
        if d.dequantize_bits:
            x = dequantize(x, d.dequantize_bits, g)
        deg = degrade_batch_with_sigma(x, d, g)
        x_hat = restore(deg).clamp(0, 1).cpu()
        if deg.mask is not None:
            x_hat = x_hat * deg.mask + deg.y * (1 - deg.mask)
        row: dict[str, Any] = {
            "name": names[i] if i < len(names) else str(i),
            "psnr": float(psnr(x_hat, x, quantize=False)[0]),
            "ssim": float(ssim(x_hat, x, quantize=False)[0]),
            "psnr_in": float(psnr(deg.y.clamp(0, 1), x, quantize=False)[0]),
        }
        if legacy_ssim:
            row["legacy_ssim"] = float(irae_legacy_ssim(x_hat, x)[0])
        rows.append(row)
    return rows
