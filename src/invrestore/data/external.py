"""Loaders for the external datasets that users download themselves (nothing is downloaded here).

Image datasets (IRAE / baselines / selfVAE, ``docs/restoration.md``), items
``{"image": (3, H, W) float in [0, 1], "name": str}``:

- :class:`CelebA`: ``img_align_celeba/`` + ``list_eval_partition.txt`` (official partition 0 train / 1 valid / 2 test).
- :class:`Flowers102`: ``jpg/`` + ``setid.mat`` with IRAE's swapped split (train = ``tstid``, test = ``trnid+valid``).
- :class:`CUB200`: ``images.txt``, ``train_test_split.txt``, ``images/`` (official 5,994 / 5,794 split).
- :class:`Imagenette`: an ``imagenette2-160`` folder (``train/<wnid>/*.JPEG``, ``val/<wnid>/*.JPEG``).

Their preprocessing is a :class:`CropResize` (named ones in :data:`TRANSFORMS`): the crop, then Pillow ``BILINEAR``
resizing of the uint8 image, which is what torchvision's ``CenterCrop``/``crop`` + ``Resize`` do on PIL images (the
official IRAE and srVAE pipelines). Pillow's bilinear filter widens its support by the scale factor when
downscaling (it antialiases), so it differs from ``torch.nn.functional.interpolate(mode="bilinear")`` without
``antialias``.

Real paired restoration datasets (pix2pix / "Rethinking generative restoration", §2.3), items
``{"x": clean (3, h, w), "x_lq": degraded (3, h, w)}`` in [0, 1], with optional seeded random crops and flips applied
identically to both images (samples depend on ``(seed, epoch, index)``, as :class:`~invrestore.data.PairedDataset`):

- :class:`SIDD` (SIDD-Small sRGB scenes for training, the 1,280 SIDD validation blocks for testing),
- :class:`RESIDE` (ITS for training, SOTS-indoor for testing; ``1400_1.png`` pairs with ``1400.png``),
- :class:`Rain800` and :class:`Rain1200` (side-by-side images: which half is degraded is configurable),
- :class:`RainCityscapes`, :class:`OutdoorRain` (seeded 8:2 split of the 9,000 training images),
- :class:`PairedFolders`: any two folders (``match="stem"`` or ``"prefix"``) for other layouts.

Every loader validates its root: a missing folder or file raises :class:`~invrestore.errors.DatasetNotFoundError`
naming what was expected and where; a copy with fewer (or more) items than the official release emits an
:class:`IncompleteDatasetWarning` with the counts (``strict=True`` makes that an error). See ``docs/data.md``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from invrestore.data.datasets import ImageFolder, augment, sample_generator
from invrestore.errors import ConfigError, DatasetNotFoundError, ImageShapeError, InvRestoreError
from invrestore.io import list_images, read_image, read_image_uint

__all__ = [
    "CUB200",
    "IMAGENETTE_64",
    "IMAGE_DATASETS",
    "IRAE_CELEBA_64",
    "IRAE_CELEBA_256",
    "IRAE_CUB_128",
    "IRAE_FLOWERS_128",
    "PAIRED_DATASETS",
    "RESIDE",
    "SELFVAE_CELEBA_64",
    "SIDD",
    "TRANSFORMS",
    "CelebA",
    "CropResize",
    "Flowers102",
    "Imagenette",
    "IncompleteDatasetWarning",
    "OutdoorRain",
    "PairedFiles",
    "PairedFolders",
    "PairedImages",
    "Rain800",
    "Rain1200",
    "RainCityscapes",
    "SideBySideImages",
    "TransformedImages",
    "get_transform",
    "image_dataset",
    "pair_files",
    "paired_dataset",
    "selfvae_celeba_transform",
]

PathLike = str | Path


class IncompleteDatasetWarning(UserWarning):
    """A dataset copy holds a different number of items than the official release (the loader uses what is there)."""


# ---------------------------------------------------------------------------------------------------------------
# root validation


def _base(root: PathLike | None, name: str) -> Path:
    """The folder to search: ``root`` if given, else the data root (``$INVRESTORE_DATA`` or the default)."""
    if root is None:
        from invrestore.data.registry import resolve_data_root

        try:
            return resolve_data_root(None)
        except DatasetNotFoundError as e:
            raise DatasetNotFoundError(f"{name}: {e} (or pass the dataset's root)") from e
    p = Path(root).expanduser()
    if not p.is_dir():
        raise DatasetNotFoundError(f"{name}: the dataset root '{p}' does not exist (pass the folder holding {name})")
    return p


def _exists(folder: Path, rel: str) -> bool:
    p = folder / rel.rstrip("/")
    return p.is_dir() if rel.endswith("/") else p.is_file()


def _locate(
    name: str, base: Path, prefixes: Sequence[str], required: Sequence[Sequence[str]], url: str
) -> tuple[Path, list[Path]]:
    """The first ``base/prefix`` holding every requirement, and the resolved path of each requirement.

    Each requirement is a tuple of alternatives (relative paths; a trailing ``/`` means a folder).

    Raises:
        DatasetNotFoundError: no candidate has them all (the message names what is expected, where, and what the
            closest candidate lacks).
    """
    best: Path | None = None
    best_missing: list[str] = []
    for prefix in prefixes:
        folder = base / prefix if prefix else base
        if not folder.is_dir():
            continue
        found: list[Path] = []
        missing: list[str] = []
        for alternatives in required:
            hit = next((a for a in alternatives if _exists(folder, a)), None)
            if hit is None:
                missing.append(alternatives[0])
            else:
                found.append(folder / hit.rstrip("/"))
        if not missing:
            return folder, found
        if best is None or len(missing) < len(best_missing):
            best, best_missing = folder, missing
    expected = " and ".join(r[0] for r in required)
    subs = [p + "/" for p in prefixes if p]
    where = f"'{base}'" + (f" (or in {', '.join(subs[:4])}{', ...' if len(subs) > 4 else ''} there)" if subs else "")
    detail = ""
    if best is not None and len(best_missing) < len(required):
        detail = f"; '{best}' lacks {', '.join(best_missing)}"
    raise DatasetNotFoundError(
        f"{name}: expected {expected} under {where}{detail}; download it from {url} and pass --data-root DIR "
        f"(or the dataset's root)"
    )


def _check_count(name: str, split: str, found: int, expected: int | None, where: object, strict: bool) -> None:
    """Raise when nothing was found; warn (or raise with ``strict``) when the count differs from a full copy."""
    if found == 0:
        raise DatasetNotFoundError(f"{name} ({split}): no images found in '{where}'")
    if expected is not None and found != expected:
        msg = f"{name} ({split}): found {found} items in '{where}', a full copy has {expected}"
        if strict:
            raise DatasetNotFoundError(msg + " (strict)")
        warnings.warn(msg + "; using the ones present", IncompleteDatasetWarning, stacklevel=3)


def _listdir(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError as e:
        raise DatasetNotFoundError(f"cannot list '{folder}': {e.strerror or e}") from e


# ---------------------------------------------------------------------------------------------------------------
# preprocessing


@dataclass(frozen=True)
class CropResize:
    """Crop, then resize with Pillow ``BILINEAR``: torchvision's ``CenterCrop``/``crop`` + ``Resize`` on PIL images.

    Attributes:
        center: square centre crop side (torchvision ``CenterCrop``: ``top = round((H − c)/2)``, ``left =
            round((W − c)/2)`` with Python rounding; a side smaller than ``c`` is zero-padded by ``(c − W)//2``
            before and ``(c − W + 1)//2`` after, as torchvision does).
        box: fixed crop ``(top, left, height, width)`` (torchvision ``functional.crop``; outside pixels are 0).
        size: ``int`` = the shorter side after resizing (the longer one is ``int(size · long / short)``,
            torchvision's ``Resize(int)``); ``(h, w)`` = exact size (``Resize((h, w))``, aspect not kept);
            ``None`` = no resizing. An image already at the target size is left untouched.
    """

    center: int | None = None
    box: tuple[int, int, int, int] | None = None
    size: int | tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.center is not None and self.box is not None:
            raise ConfigError("CropResize takes a centre crop or a box, not both")
        if self.center is not None and self.center <= 0:
            raise ConfigError(f"CropResize: the centre crop must be positive, got {self.center}")
        if self.box is not None and (len(self.box) != 4 or self.box[2] <= 0 or self.box[3] <= 0):
            raise ConfigError(f"CropResize: box must be (top, left, height, width) with positive sizes, got {self.box}")
        sizes = (self.size,) if isinstance(self.size, int) else (self.size or ())
        if any(s <= 0 for s in sizes):
            raise ConfigError(f"CropResize: sizes must be positive, got {self.size}")

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The crop as Pillow's ``(left, upper, right, lower)`` in source pixels (it may reach outside: zeros)."""
        if self.box is not None:
            top, left, h, w = self.box
            return left, top, left + w, top + h
        if self.center is not None:
            c = self.center
            left = round((width - c) / 2) if width >= c else -((c - width) // 2)
            top = round((height - c) / 2) if height >= c else -((c - height) // 2)
            return left, top, left + c, top + c
        return 0, 0, width, height

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """The ``(width, height)`` that the resize gives an image of ``width × height``."""
        if self.size is None:
            return width, height
        if isinstance(self.size, int):
            s = self.size
            return (s, int(s * height / width)) if width <= height else (int(s * width / height), s)
        return self.size[1], self.size[0]

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The ``(width, height)`` of the transformed image of a ``width × height`` source."""
        left, top, right, bottom = self.crop_box(width, height)
        return self.resized(right - left, bottom - top)

    def __call__(self, img: Image.Image) -> Image.Image:
        if self.center is not None or self.box is not None:
            img = img.crop(self.crop_box(*img.size))
        if self.size is not None:
            w, h = img.size
            target = self.resized(w, h)
            if target != (w, h):
                img = img.resize(target, Image.Resampling.BILINEAR)
        return img


#: IRAE CelebA: ``CenterCrop(148) → Resize(64)`` (Glow/RealNVP preprocessing, §1.3).
IRAE_CELEBA_64 = CropResize(center=148, size=64)
#: IRAE CelebA inpainting: ``CenterCrop(148) → Resize(256)``.
IRAE_CELEBA_256 = CropResize(center=148, size=256)
#: IRAE Flowers-102: ``CenterCrop(400) → Resize(128)``.
IRAE_FLOWERS_128 = CropResize(center=400, size=128)
#: IRAE CUB-200 ("Bird"): ``CenterCrop(300) → Resize(128)``.
IRAE_CUB_128 = CropResize(center=300, size=128)


def selfvae_celeba_transform(size: int = 64) -> CropResize:
    """srVAE's CelebA preprocessing: ``crop(top=40, left=15, 148, 148) → Resize(size)`` (no augmentation)."""
    return CropResize(box=(40, 15, 148, 148), size=size)


#: srVAE CelebA at 64×64.
SELFVAE_CELEBA_64 = selfvae_celeba_transform(64)
#: Imagenette64: ``Resize((64, 64))`` of imagenette2-160 (the aspect ratio is not preserved).
IMAGENETTE_64 = CropResize(size=(64, 64))

#: The named preprocessing pipelines (for configs).
TRANSFORMS: dict[str, CropResize] = {
    "irae-celeba-64": IRAE_CELEBA_64,
    "irae-celeba-256": IRAE_CELEBA_256,
    "irae-flowers-128": IRAE_FLOWERS_128,
    "irae-cub-128": IRAE_CUB_128,
    "selfvae-celeba-64": SELFVAE_CELEBA_64,
    "imagenette-64": IMAGENETTE_64,
}


def get_transform(name: str | CropResize | None) -> CropResize | None:
    """A named transform of :data:`TRANSFORMS` (a :class:`CropResize` or ``None`` passes through).

    Raises:
        ConfigError: unknown name.
    """
    if name is None or isinstance(name, CropResize):
        return name
    key = name.lower()
    if key not in TRANSFORMS:
        raise ConfigError(f"unknown transform {name!r}; known: {', '.join(TRANSFORMS)}")
    return TRANSFORMS[key]


# ---------------------------------------------------------------------------------------------------------------
# image datasets


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)  # 16-bit → 8-bit, round half up


class TransformedImages(ImageFolder):
    """Image files read as RGB (:func:`invrestore.io.read_image_uint`, the reader behind ``read_image``), then a
    :class:`CropResize` on the uint8 image (as torchvision on PIL images), as ``(3, H, W)`` float32 in [0, 1].

    A drop-in for :class:`~invrestore.data.ImageFolder` (``files``, ``load``, items ``{"image", "name"}``), so
    :class:`~invrestore.data.PairedDataset` accepts it. ``cache`` keeps the preprocessed images as uint8 (4× less
    memory than float).
    """

    def __init__(
        self,
        files: Sequence[PathLike],
        transform: CropResize | str | None = None,
        cache: bool = False,
        names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(list(files), mode="rgb", cache=cache)
        self.transform = get_transform(transform)
        self.names = list(names) if names is not None else [f.stem for f in self.files]
        self._u8: dict[int, np.ndarray] = {}

    def load_uint8(self, index: int) -> np.ndarray:
        """The preprocessed image ``index`` as uint8 ``(H, W, 3)``."""
        if index in self._u8:
            return self._u8[index]
        arr = _to_uint8(read_image_uint(self.files[index], mode="rgb"))
        if not arr.flags.writeable:
            arr = arr.copy()
        if self.transform is not None:
            arr = np.array(self.transform(Image.fromarray(arr)), dtype=np.uint8)  # a writable copy
        if self.cache:
            self._u8[index] = arr
        return arr

    def load(self, index: int) -> Tensor:
        arr = self.load_uint8(index)
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float().div_(255.0).contiguous()

    def __getitem__(self, index: int) -> dict[str, object]:
        return {"image": self.load(index), "name": self.names[index]}

    def stack_uint8(self) -> Tensor:
        """All images as one uint8 tensor ``(N, 3, H, W)`` (they must share a size, e.g. after a resize)."""
        n = len(self)
        if n == 0:
            return torch.empty((0, 3, 0, 0), dtype=torch.uint8)
        first = self.load_uint8(0)
        out = torch.empty((n, 3, first.shape[0], first.shape[1]), dtype=torch.uint8)
        for i in range(n):
            arr = first if i == 0 else self.load_uint8(i)
            if arr.shape != first.shape:
                raise ImageShapeError(
                    f"{self.files[i]} gives {arr.shape[1]}×{arr.shape[0]}, not {first.shape[1]}×{first.shape[0]}: "
                    "stacking needs a transform with a fixed output size"
                )
            out[i] = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)
        return out


CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped images + Eval/list_eval_partition.txt)"
#: Images per official partition (``all`` = the whole release).
CELEBA_COUNTS = {"train": 162_770, "valid": 19_867, "test": 19_962, "all": 202_599}
_CELEBA_CODES = {"train": "0", "valid": "1", "test": "2"}


def _read_partition(path: Path) -> list[tuple[str, str]]:
    """``(file name, partition code)`` rows of ``list_eval_partition.txt`` (or Kaggle's ``.csv`` with a header)."""
    rows: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        parts = line.replace(",", " ").split()
        if len(parts) >= 2 and parts[1].isdigit():
            rows.append((parts[0], parts[1]))
    if not rows:
        raise DatasetNotFoundError(f"CelebA: '{path}' has no '<file> <0|1|2>' lines")
    return rows


class CelebA(TransformedImages):
    """CelebA aligned faces (178×218) with the official partition.

    Layout: ``ROOT/img_align_celeba/*.jpg`` and ``ROOT/list_eval_partition.txt`` (also found: ``Img/`` and
    ``Eval/`` of the official Google Drive, Kaggle's nested ``img_align_celeba/img_align_celeba`` and
    ``list_eval_partition.csv``, and ``ROOT/celeba/`` or ``ROOT/CelebA/`` instead of ``ROOT``).

    Args:
        root: the dataset folder (or a folder holding ``celeba/``/``CelebA/``); ``None`` = the data root.
        split: ``"train"`` (162,770), ``"valid"`` (19,867; IRAE's *test* set), ``"test"`` (19,962) or ``"all"``.
        transform: a :class:`CropResize` or a name of :data:`TRANSFORMS` (IRAE: ``irae-celeba-64``, inpainting
            ``irae-celeba-256``; selfVAE: ``selfvae-celeba-64``); ``None`` = the raw 178×218 images.
        strict: raise instead of warning when files of the partition are missing.
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        transform: CropResize | str | None = IRAE_CELEBA_64,
        cache: bool = False,
        strict: bool = False,
    ) -> None:
        if split not in CELEBA_COUNTS:
            raise ConfigError(f"CelebA: unknown split {split!r} (train, valid, test, all)")
        base = _base(root, "CelebA")
        _, (images_dir, partition) = _locate(
            "CelebA",
            base,
            ("", "celeba", "CelebA", "CelebA/celeba"),
            [
                ("img_align_celeba/", "Img/img_align_celeba/"),
                ("list_eval_partition.txt", "Eval/list_eval_partition.txt", "list_eval_partition.csv"),
            ],
            CELEBA_URL,
        )
        if (images_dir / "img_align_celeba").is_dir() and not (images_dir / "000001.jpg").is_file():
            images_dir = images_dir / "img_align_celeba"  # Kaggle's zip nests the folder
        rows = _read_partition(partition)
        listed = [f for f, code in rows if split == "all" or code == _CELEBA_CODES[split]]
        on_disk = _listdir(images_dir)
        present = [f for f in listed if f in on_disk]
        if len(present) < len(listed):
            msg = (
                f"CelebA ({split}): {len(listed) - len(present)} of the {len(listed)} images listed in '{partition}' "
                f"are missing from '{images_dir}' (e.g. {next(f for f in listed if f not in on_disk)})"
            )
            if strict or not present:
                raise DatasetNotFoundError(msg)
            warnings.warn(msg + f"; using the {len(present)} present", IncompleteDatasetWarning, stacklevel=2)
        elif len(listed) != CELEBA_COUNTS[split]:
            _check_count("CelebA", split, len(listed), CELEBA_COUNTS[split], partition, strict)
        self.root = images_dir.parent
        self.split = split
        super().__init__([images_dir / f for f in present], transform, cache)


FLOWERS_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz and setid.mat)"
#: Images per split: IRAE's ``train``/``test`` (swapped on purpose) and the official ``trnid``/``valid``/``tstid``.
FLOWERS_COUNTS = {"train": 6_149, "test": 2_040, "trnid": 1_020, "valid": 1_020, "tstid": 6_149}
_FLOWERS_IDS = {
    "train": ("tstid",),
    "test": ("trnid", "valid"),
    "trnid": ("trnid",),
    "valid": ("valid",),
    "tstid": ("tstid",),
}


def _loadmat(path: Path, what: str) -> dict[str, Any]:
    try:
        import scipy.io
    except ImportError as e:
        raise InvRestoreError(f"{what}: reading '{path.name}' needs scipy (pip install scipy)") from e
    try:
        return dict(scipy.io.loadmat(str(path)))
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files
        raise InvRestoreError(f"{what}: '{path}' is a MATLAB v7.3 file, which scipy cannot read ({e})") from e
    except (OSError, ValueError, TypeError) as e:
        raise DatasetNotFoundError(f"{what}: cannot read '{path}': {e}") from e


class Flowers102(TransformedImages):
    """Oxford Flowers-102 with IRAE's swapped split.

    Layout: ``ROOT/jpg/image_00001.jpg`` … ``image_08189.jpg`` and ``ROOT/setid.mat`` (``trnid``, ``valid``,
    ``tstid``: 1-based image ids; read with ``scipy.io.loadmat``, so scipy is needed). ``ROOT/flowers-102/`` (the
    torchvision layout), ``flowers102/`` or ``102flowers/`` are also searched.

    Args:
        split: ``"train"`` = ``tstid`` (6,149) and ``"test"`` = ``trnid`` + ``valid`` (2,040), IRAE's deliberate
            swap of the official split; ``"trnid"``, ``"valid"``, ``"tstid"`` give the official parts.
        transform: default ``CenterCrop(400) → Resize(128)`` (:data:`IRAE_FLOWERS_128`).
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        transform: CropResize | str | None = IRAE_FLOWERS_128,
        cache: bool = False,
        strict: bool = False,
    ) -> None:
        if split not in FLOWERS_COUNTS:
            raise ConfigError(f"Flowers-102: unknown split {split!r} ({', '.join(FLOWERS_COUNTS)})")
        base = _base(root, "Flowers-102")
        _, (jpg, setid) = _locate(
            "Flowers-102",
            base,
            ("", "flowers-102", "flowers102", "102flowers", "Flowers102", "oxford-102-flowers"),
            [("jpg/",), ("setid.mat",)],
            FLOWERS_URL,
        )
        mat = _loadmat(setid, "Flowers-102")
        ids: list[int] = []
        for key in _FLOWERS_IDS[split]:
            if key not in mat:
                raise DatasetNotFoundError(f"Flowers-102: '{setid}' has no '{key}' array (trnid, valid, tstid)")
            ids += [int(v) for v in np.asarray(mat[key]).reshape(-1)]
        names = [f"image_{i:05d}.jpg" for i in ids]
        on_disk = _listdir(jpg)
        present = [n for n in names if n in on_disk]
        if len(present) < len(names) and (strict or not present):
            raise DatasetNotFoundError(
                f"Flowers-102 ({split}): {len(names) - len(present)} of the {len(names)} images of setid.mat are "
                f"missing from '{jpg}'"
            )
        _check_count("Flowers-102", split, len(present), FLOWERS_COUNTS[split], jpg, strict)
        self.root = jpg.parent
        self.split = split
        super().__init__([jpg / n for n in present], transform, cache)


CUB_URL = "https://www.vision.caltech.edu/datasets/cub_200_2011/ (CUB_200_2011.tgz)"
CUB_COUNTS = {"train": 5_994, "test": 5_794, "all": 11_788}


def _read_id_table(path: Path, what: str) -> dict[int, str]:
    table: dict[int, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise DatasetNotFoundError(f"{what}: line {n} of '{path}' is not '<id> <value>': {line!r}")
        table[int(parts[0])] = parts[1].strip()
    return table


class CUB200(TransformedImages):
    """Caltech-UCSD Birds-200-2011 with the official split.

    Layout: ``ROOT/images.txt`` (``<id> <class folder>/<file>.jpg``), ``ROOT/train_test_split.txt`` (``<id> <1 =
    train | 0 = test>``) and ``ROOT/images/``; ``ROOT/CUB_200_2011/`` is also searched. Images are in id order.

    Args:
        split: ``"train"`` (5,994), ``"test"`` (5,794) or ``"all"``.
        transform: default ``CenterCrop(300) → Resize(128)`` (:data:`IRAE_CUB_128`; smaller sides are zero-padded
            as torchvision's ``CenterCrop`` does).
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        transform: CropResize | str | None = IRAE_CUB_128,
        cache: bool = False,
        strict: bool = False,
    ) -> None:
        if split not in CUB_COUNTS:
            raise ConfigError(f"CUB-200-2011: unknown split {split!r} (train, test, all)")
        base = _base(root, "CUB-200-2011")
        folder, (images_txt, split_txt, images_dir) = _locate(
            "CUB-200-2011",
            base,
            ("", "CUB_200_2011", "CUB_200_2011/CUB_200_2011", "cub"),
            [("images.txt",), ("train_test_split.txt",), ("images/",)],
            CUB_URL,
        )
        images = _read_id_table(images_txt, "CUB-200-2011")
        is_train = _read_id_table(split_txt, "CUB-200-2011")
        ids = sorted(i for i in images if split == "all" or is_train.get(i) == ("1" if split == "train" else "0"))
        files = [images_dir / images[i] for i in ids]
        present = [f for f in files if f.is_file()]
        if len(present) < len(files):
            missing = next(f for f in files if not f.is_file())
            n_missing = len(files) - len(present)
            msg = f"CUB-200-2011 ({split}): {n_missing} of {len(files)} images are missing (e.g. {missing})"
            if strict or not present:
                raise DatasetNotFoundError(msg)
            warnings.warn(msg + f"; using the {len(present)} present", IncompleteDatasetWarning, stacklevel=2)
        elif len(files) != CUB_COUNTS[split]:
            _check_count("CUB-200-2011", split, len(files), CUB_COUNTS[split], split_txt, strict)
        self.root = folder
        self.split = split
        super().__init__(present, transform, cache)


IMAGENETTE_URL = "https://github.com/fastai/imagenette (imagenette2-160.tgz)"
#: imagenette2-160 images per split.
IMAGENETTE_COUNTS = {"train": 9_469, "val": 3_925}


class Imagenette(TransformedImages):
    """Imagenette (``imagenette2-160``): ``ROOT/train/<wnid>/*.JPEG`` and ``ROOT/val/<wnid>/*.JPEG``.

    ``ROOT/imagenette2-160/`` is also searched. Files are ordered by class folder then name; ``labels`` holds the
    class index (sorted wnids, :attr:`classes`).

    Args:
        split: ``"train"`` (9,469), ``"val"`` (3,925) or ``"test"`` (= ``val``, srVAE's test set).
        transform: default ``Resize((64, 64))`` (:data:`IMAGENETTE_64`: Imagenette64, aspect not preserved).
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        transform: CropResize | str | None = IMAGENETTE_64,
        cache: bool = False,
        strict: bool = False,
    ) -> None:
        folder_name = "val" if split in ("val", "test") else split
        if folder_name not in IMAGENETTE_COUNTS:
            raise ConfigError(f"Imagenette: unknown split {split!r} (train, val, test)")
        base = _base(root, "Imagenette")
        _, (split_dir,) = _locate(
            "Imagenette",
            base,
            ("", "imagenette2-160", "imagenette2-160/imagenette2-160", "imagenette"),
            [(f"{folder_name}/",)],
            IMAGENETTE_URL,
        )
        self.classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
        files: list[Path] = []
        labels: list[int] = []
        for k, wnid in enumerate(self.classes):
            found = list_images(split_dir / wnid)
            files += found
            labels += [k] * len(found)
        _check_count("Imagenette", split, len(files), IMAGENETTE_COUNTS[folder_name], split_dir, strict)
        self.root = split_dir.parent
        self.split = folder_name
        self.labels = labels
        super().__init__(files, transform, cache)


#: Image datasets by name (aliases included).
IMAGE_DATASETS: dict[str, Callable[..., TransformedImages]] = {
    "celeba": CelebA,
    "flowers": Flowers102,
    "flowers102": Flowers102,
    "flowers-102": Flowers102,
    "cub": CUB200,
    "cub200": CUB200,
    "cub-200-2011": CUB200,
    "imagenette": Imagenette,
    "imagenette64": Imagenette,
}


def image_dataset(
    name: str,
    root: PathLike | None = None,
    split: str = "train",
    transform: CropResize | str | None = None,
    cache: bool = False,
    strict: bool = False,
) -> TransformedImages:
    """An image dataset of :data:`IMAGE_DATASETS` (``transform=None``: the dataset's default preprocessing).

    Raises:
        ConfigError: unknown name or split. DatasetNotFoundError: missing or empty copy.
    """
    cls = IMAGE_DATASETS.get(name.lower())
    if cls is None:
        raise ConfigError(f"unknown image dataset {name!r}; known: celeba, flowers, cub, imagenette")
    kwargs: dict[str, Any] = {"cache": cache, "strict": strict}
    if transform is not None:
        kwargs["transform"] = transform
    return cls(root, split, **kwargs)


# ---------------------------------------------------------------------------------------------------------------
# paired datasets


class PairedImages(Dataset[dict[str, Tensor]]):
    """Degraded/clean pairs as ``{"x": clean, "x_lq": degraded}`` (``(3, h, w)`` float32 in [0, 1]).

    Subclasses provide :meth:`load_pair` (the full images) and :attr:`names`. Each sample draws from a generator
    seeded by ``(seed, epoch, index)`` (:func:`~invrestore.data.sample_generator`): the crop position first, then
    the flip, then the dihedral augmentation, all applied identically to both images. Indices beyond the number
    of pairs are accepted (the training loop's virtual indices ``epoch·N + i``) and address pair ``index mod N``.

    Args:
        crop_size: random square crop (``None``: whole images; then nothing is random unless flips are on).
        flip: random horizontal flip with probability ½ (pix2pix's default augmentation).
        augment: random horizontal flip, vertical flip and transpose (BasicSR/IRN style).
        seed: base seed of the crops and flips.
        repeat: virtual length multiplier (``len = repeat · number of pairs``).
        size_mismatch: ``"error"`` or ``"center_crop"`` (crop the larger image of a pair to the common size,
            centred; e.g. SOTS ground truths with a border).
    """

    accepts_virtual_index = True

    def __init__(
        self,
        crop_size: int | None = None,
        flip: bool = False,
        augment: bool = False,
        seed: int = 0,
        repeat: int = 1,
        size_mismatch: Literal["error", "center_crop"] = "error",
    ) -> None:
        if crop_size is not None and crop_size <= 0:
            raise ConfigError(f"crop_size must be positive, got {crop_size}")
        if repeat < 1:
            raise ConfigError(f"repeat must be at least 1, got {repeat}")
        if size_mismatch not in ("error", "center_crop"):
            raise ConfigError(f"size_mismatch must be 'error' or 'center_crop', got {size_mismatch!r}")
        self.crop_size = crop_size
        self.flip = flip
        self.augment = augment
        self.seed = seed
        self.repeat = repeat
        self.size_mismatch = size_mismatch
        self.epoch = 0
        self.names: list[str] = []

    def num_pairs(self) -> int:
        return len(self.names)

    def load_pair(self, index: int) -> tuple[Tensor, Tensor]:
        """``(degraded, clean)`` full images of pair ``index`` (``0 ≤ index < num_pairs()``)."""
        raise NotImplementedError  # abstract: defined by each paired dataset

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_pairs() * self.repeat

    def aligned_pair(self, index: int) -> tuple[Tensor, Tensor]:
        """``(degraded, clean)`` of pair ``index`` with equal sizes (see ``size_mismatch``)."""
        lq, x = self.load_pair(index)
        if lq.shape == x.shape:
            return lq, x
        if self.size_mismatch == "center_crop" and lq.shape[0] == x.shape[0]:
            h, w = min(lq.shape[-2], x.shape[-2]), min(lq.shape[-1], x.shape[-1])
            return _center(lq, h, w), _center(x, h, w)
        raise ImageShapeError(
            f"pair {self.names[index]!r}: degraded {tuple(lq.shape)} and clean {tuple(x.shape)} differ in size "
            "(size_mismatch='center_crop' crops the larger one)"
        )

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        n = self.num_pairs()
        i = index % n
        lq, x = self.aligned_pair(i)
        g = sample_generator(self.seed, self.epoch, index)
        if self.crop_size is not None:
            c = self.crop_size
            h, w = x.shape[-2:]
            if h < c or w < c:
                raise ImageShapeError(f"pair {self.names[i]!r} ({w}×{h}) is smaller than the crop {c}")
            top = int(torch.randint(0, h - c + 1, (1,), generator=g))
            left = int(torch.randint(0, w - c + 1, (1,), generator=g))
            x = x[..., top : top + c, left : left + c]
            lq = lq[..., top : top + c, left : left + c]
        if self.flip and bool(torch.rand((), generator=g) < 0.5):
            x, lq = x.flip(-1), lq.flip(-1)
        if self.augment:
            x, lq = augment([x, lq], g)
        return {"x": x.contiguous(), "x_lq": lq.contiguous()}


def _center(t: Tensor, h: int, w: int) -> Tensor:
    top, left = (t.shape[-2] - h) // 2, (t.shape[-1] - w) // 2
    return t[..., top : top + h, left : left + w]


def _memo(
    store: dict[int, tuple[Tensor, Tensor]], index: int, enabled: bool, load: Callable[[], tuple[Tensor, Tensor]]
) -> tuple[Tensor, Tensor]:
    """``store[index]`` if cached, else ``load()`` (kept in ``store`` when ``enabled``)."""
    if index in store:
        return store[index]
    pair = load()
    if enabled:
        store[index] = pair
    return pair


def _paired_options(kw: dict[str, Any]) -> dict[str, Any]:
    allowed = {"crop_size", "flip", "augment", "seed", "repeat", "size_mismatch"}
    bad = sorted(set(kw) - allowed)
    if bad:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(bad)}")
    return kw


class PairedFiles(PairedImages):
    """Pairs of image files ``(degraded, clean)``, read with :func:`invrestore.io.read_image` as RGB.

    Args:
        pairs: ``(degraded_path, clean_path)`` per sample.
        names: one name per pair (default: the degraded file's stem).
        cache: keep decoded images in memory (a clean image shared by many degraded ones is decoded once).
        **options: :class:`PairedImages` options (``crop_size``, ``flip``, ``augment``, ``seed``, ``repeat``,
            ``size_mismatch``).
    """

    def __init__(
        self,
        pairs: Sequence[tuple[PathLike, PathLike]],
        names: Sequence[str] | None = None,
        cache: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(**_paired_options(options))
        self.pairs = [(Path(a), Path(b)) for a, b in pairs]
        self.names = list(names) if names is not None else [a.stem for a, _ in self.pairs]
        self.cache = cache
        self._images: dict[Path, Tensor] = {}

    def _read(self, path: Path) -> Tensor:
        if path in self._images:
            return self._images[path]
        img = read_image(path, mode="rgb")
        if self.cache:
            self._images[path] = img
        return img

    def load_pair(self, index: int) -> tuple[Tensor, Tensor]:
        lq_path, clean_path = self.pairs[index]
        return self._read(lq_path), self._read(clean_path)


Match = Literal["stem", "prefix"] | Callable[[str], str]


def _prefix_candidates(stem: str) -> list[str]:
    """``a_b_c`` → ``[a_b_c, a_b, a]``: the stem, then shorter prefixes cut at ``_``."""
    out = [stem]
    cut = stem.rfind("_")
    while cut > 0:
        out.append(stem[:cut])
        cut = stem.rfind("_", 0, cut)
    return out


def pair_files(
    degraded: Sequence[Path], clean: Sequence[Path], match: Match = "stem"
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Pair degraded files with clean ones by file stem (extensions may differ).

    Args:
        match: ``"stem"``: equal stems; ``"prefix"``: the longest clean stem that equals the degraded stem or is a
            prefix of it ending at an ``_`` (``1400_1`` → ``1400``, ``im_0001_s80_a04`` → ``im_0001``,
            ``aachen_000000_000019_leftImg8bit_rain_alpha_0.01_…`` → ``aachen_000000_000019_leftImg8bit``); or a
            function from the degraded stem to the clean stem.

    Returns:
        ``(pairs, unmatched degraded files)``, pairs in the order of ``degraded``.

    Raises:
        DatasetNotFoundError: two clean files share a stem (the pairing would be ambiguous).
    """
    by_stem: dict[str, Path] = {}
    for c in clean:
        if c.stem in by_stem:
            raise DatasetNotFoundError(f"two clean images share the stem '{c.stem}': {by_stem[c.stem]} and {c}")
        by_stem[c.stem] = c
    if match not in ("stem", "prefix") and not callable(match):
        raise ConfigError(f"match must be 'stem', 'prefix' or a function, got {match!r}")
    pairs: list[tuple[Path, Path]] = []
    unmatched: list[Path] = []
    for d in degraded:
        hit: Path | None
        if match == "stem":
            hit = by_stem.get(d.stem)
        elif match == "prefix":
            hit = next((by_stem[k] for k in _prefix_candidates(d.stem) if k in by_stem), None)
        else:
            hit = by_stem.get(match(d.stem))  # type: ignore[operator]
        if hit is None:
            unmatched.append(d)
        else:
            pairs.append((d, hit))
    return pairs, unmatched


def _report_unmatched(
    name: str, split: str, unmatched: Sequence[Path], total: int, clean_dir: object, strict: bool
) -> None:
    if not unmatched:
        return
    msg = (
        f"{name} ({split}): {len(unmatched)} of {total} degraded images have no clean counterpart in '{clean_dir}' "
        f"(e.g. {unmatched[0].name})"
    )
    if strict:
        raise DatasetNotFoundError(msg)
    warnings.warn(msg + "; they are skipped", IncompleteDatasetWarning, stacklevel=3)


class PairedFolders(PairedFiles):
    """A folder of degraded images paired with a folder of clean ones (see :func:`pair_files`).

    Args:
        degraded_dir, clean_dir: the two folders.
        match: ``"stem"`` (same stem), ``"prefix"`` (``1400_1`` → ``1400``) or a function of the degraded stem.
        recursive: include subfolders (stems must stay unique among the clean images).
        expected: the number of pairs of a full copy (a different count warns, or raises with ``strict``).
        name, split: used in messages.
        strict: raise instead of warning about unmatched images or a different count.
        cache, **options: see :class:`PairedFiles`.
    """

    def __init__(
        self,
        degraded_dir: PathLike,
        clean_dir: PathLike,
        match: Match = "stem",
        recursive: bool = False,
        expected: int | None = None,
        name: str = "PairedFolders",
        split: str = "all",
        strict: bool = False,
        cache: bool = False,
        **options: Any,
    ) -> None:
        dd, cd = Path(degraded_dir).expanduser(), Path(clean_dir).expanduser()
        for what, d in (("degraded", dd), ("clean", cd)):
            if not d.is_dir():
                raise DatasetNotFoundError(f"{name} ({split}): the {what}-image folder '{d}' does not exist")
        degraded = list_images(dd, recursive=recursive)
        clean = list_images(cd, recursive=recursive)
        if not degraded:
            raise DatasetNotFoundError(f"{name} ({split}): no images in the degraded-image folder '{dd}'")
        if not clean:
            raise DatasetNotFoundError(f"{name} ({split}): no images in the clean-image folder '{cd}'")
        pairs, unmatched = pair_files(degraded, clean, match)
        if not pairs:
            raise DatasetNotFoundError(
                f"{name} ({split}): none of the {len(degraded)} images in '{dd}' has a clean counterpart in '{cd}' "
                f"(match={match if isinstance(match, str) else 'function'}; e.g. {degraded[0].name})"
            )
        _report_unmatched(name, split, unmatched, len(degraded), cd, strict)
        _check_count(name, split, len(pairs), expected, dd, strict)
        self.degraded_dir, self.clean_dir = dd, cd
        super().__init__(pairs, cache=cache, **options)


class SideBySideImages(PairedImages):
    """Pairs stored as one image with the two halves side by side (``[left | right]``).

    Args:
        files: the concatenated images.
        degraded_half: ``"left"`` or ``"right"``: which half is the degraded image (the other is the clean one).
            Each half is ``W // 2`` wide (for an odd width the middle column is dropped).
        cache, **options: see :class:`PairedFiles`.
    """

    def __init__(
        self,
        files: Sequence[PathLike],
        degraded_half: Literal["left", "right"],
        names: Sequence[str] | None = None,
        cache: bool = False,
        **options: Any,
    ) -> None:
        if degraded_half not in ("left", "right"):
            raise ConfigError(f"degraded_half must be 'left' or 'right', got {degraded_half!r}")
        super().__init__(**_paired_options(options))
        self.files = [Path(f) for f in files]
        self.degraded_half = degraded_half
        self.names = list(names) if names is not None else [f.stem for f in self.files]
        self.cache = cache
        self._images: dict[int, tuple[Tensor, Tensor]] = {}

    def load_pair(self, index: int) -> tuple[Tensor, Tensor]:
        return _memo(self._images, index, self.cache, lambda: self._split(index))

    def _split(self, index: int) -> tuple[Tensor, Tensor]:
        img = read_image(self.files[index], mode="rgb")
        w = img.shape[-1]
        half = w // 2
        if half == 0:
            raise ImageShapeError(f"{self.files[index]} is too narrow ({w} px) to hold two halves")
        left, right = img[..., :half], img[..., w - half :]
        return (left, right) if self.degraded_half == "left" else (right, left)


# --- named paired datasets ----------------------------------------------------------------------------------------

SIDD_URL = "https://www.eecs.yorku.ca/~kamel/sidd/ (SIDD-Small sRGB; SIDD validation blocks, sRGB .mat)"
SIDD_COUNTS = {"train": 160, "test": 1_280}


class SIDD(PairedImages):
    """SIDD real noise: SIDD-Small-sRGB for training (160 full-resolution scenes), SIDD-Validation for testing
    (1,280 256×256 blocks).

    Layouts:

    - train: ``ROOT/SIDD_Small_sRGB_Only/Data/<scene>/{GT_SRGB_010.PNG, NOISY_SRGB_010.PNG}`` (also ``ROOT/Data``
      or ``ROOT`` itself holding the scene folders); every ``GT_SRGB_<k>`` pairs with ``NOISY_SRGB_<k>`` of the
      same scene.
    - test: ``ValidationNoisyBlocksSrgb.mat`` and ``ValidationGtBlocksSrgb.mat`` (arrays ``(40, 32, 256, 256, 3)``
      uint8 under the keys named like the files) in ``ROOT`` or ``ROOT/SIDD_Validation``; read with scipy.
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        strict: bool = False,
        cache: bool = False,
        **options: Any,
    ) -> None:
        if split not in SIDD_COUNTS:
            raise ConfigError(f"SIDD: unknown split {split!r} (train, test)")
        super().__init__(**_paired_options(options))
        base = _base(root, "SIDD")
        self.split = split
        self.cache = cache
        self._images: dict[int, tuple[Tensor, Tensor]] = {}
        self.pairs: list[tuple[Path, Path]] = []
        self._noisy: np.ndarray | None = None
        self._gt: np.ndarray | None = None
        if split == "train":
            data = self._find_scenes(base)
            unmatched: list[Path] = []
            for scene in sorted(p for p in data.iterdir() if p.is_dir()):
                for gt in sorted(scene.glob("GT_SRGB_*")):
                    noisy = scene / gt.name.replace("GT_SRGB_", "NOISY_SRGB_", 1)
                    if noisy.is_file():
                        self.pairs.append((noisy, gt))
                        self.names.append(f"{scene.name}/{gt.stem[len('GT_SRGB_') :]}")
                    else:
                        unmatched.append(gt)
            if unmatched:
                msg = f"SIDD (train): {len(unmatched)} GT images have no NOISY_SRGB_ partner (e.g. {unmatched[0]})"
                if strict:
                    raise DatasetNotFoundError(msg)
                warnings.warn(msg + "; they are skipped", IncompleteDatasetWarning, stacklevel=2)
            _check_count("SIDD", split, len(self.pairs), SIDD_COUNTS[split], data, strict)
        else:
            _, (noisy_mat, gt_mat) = _locate(
                "SIDD",
                base,
                ("", "SIDD_Validation", "SIDD-Validation", "validation", "val"),
                [("ValidationNoisyBlocksSrgb.mat",), ("ValidationGtBlocksSrgb.mat",)],
                SIDD_URL,
            )
            self._noisy, lead = self._blocks(noisy_mat)
            self._gt, _ = self._blocks(gt_mat)
            if self._noisy.shape != self._gt.shape:
                raise ImageShapeError(
                    f"SIDD (test): noisy blocks {self._noisy.shape} and ground truths {self._gt.shape} differ"
                )
            # names index the leading dimensions of the array: (image, block) = (40, 32) in the release
            self.names = [
                "block_" + "_".join(f"{int(k):02d}" for k in np.unravel_index(i, lead))
                for i in range(self._noisy.shape[0])
            ]
            _check_count("SIDD", split, len(self.names), SIDD_COUNTS[split], noisy_mat.parent, strict)

    @staticmethod
    def _find_scenes(base: Path) -> Path:
        for rel in (
            "SIDD_Small_sRGB_Only/Data",
            "SIDD_Small_sRGB_Only/SIDD_Small_sRGB_Only/Data",
            "SIDD_Small_sRGB_Only",
            "Data",
            "",
        ):
            folder = base / rel if rel else base
            if folder.is_dir() and any(p.is_dir() and any(p.glob("GT_SRGB_*")) for p in folder.iterdir()):
                return folder
        raise DatasetNotFoundError(
            f"SIDD: expected SIDD_Small_sRGB_Only/Data/<scene>/GT_SRGB_*.PNG and NOISY_SRGB_*.PNG under '{base}' "
            f"(or Data/ or the scene folders directly); download it from {SIDD_URL} and pass --data-root DIR "
            "(or the dataset's root)"
        )

    @staticmethod
    def _blocks(path: Path) -> tuple[np.ndarray, tuple[int, ...]]:
        mat = _loadmat(path, "SIDD")
        key = path.stem
        if key not in mat:
            keys = [k for k in mat if not k.startswith("__")]
            if len(keys) != 1:
                raise DatasetNotFoundError(f"SIDD: '{path}' has no '{key}' array (found {', '.join(keys) or 'none'})")
            key = keys[0]
        arr = np.asarray(mat[key])
        if arr.ndim < 4 or arr.shape[-1] != 3:
            raise DatasetNotFoundError(f"SIDD: '{path}' holds an array of shape {arr.shape}, not (..., H, W, 3) blocks")
        return _to_uint8(arr.reshape(-1, *arr.shape[-3:])), tuple(arr.shape[:-3])

    def load_pair(self, index: int) -> tuple[Tensor, Tensor]:
        if self._noisy is not None and self._gt is not None:  # test blocks: already in memory

            def unit(a: np.ndarray) -> Tensor:
                return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float().div_(255.0).contiguous()

            return unit(self._noisy[index]), unit(self._gt[index])
        noisy, gt = self.pairs[index]
        return _memo(
            self._images, index, self.cache, lambda: (read_image(noisy, mode="rgb"), read_image(gt, mode="rgb"))
        )


RESIDE_URL = "https://sites.google.com/view/reside-dehaze-datasets (RESIDE-Standard: ITS and SOTS)"
RESIDE_COUNTS = {"train": 13_990, "test": 500}


class RESIDE(PairedFolders):
    """RESIDE dehazing: ITS (indoor training set, 13,990 hazy images of 1,399 scenes) for training and SOTS-indoor
    (500 hazy images of 50 scenes) for testing. Hazy ``<id>_<k>[_<beta>].png`` pairs with clear ``<id>.png``.

    Layouts: train ``ROOT/ITS/{hazy,clear}`` (or ``ITS_v2/``, ``clear`` may be ``gt``); test
    ``ROOT/SOTS/indoor/{hazy,gt}`` (or ``SOTS/nyuhaze500/``, ``gt`` may be ``clear``). Pass ``ROOT`` = the ITS or
    SOTS-indoor folder itself also works. Ground truths larger than their hazy images (a border) are centre-cropped
    to the hazy size (``size_mismatch="center_crop"``, as FFA-Net does).
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        strict: bool = False,
        cache: bool = False,
        **options: Any,
    ) -> None:
        if split not in RESIDE_COUNTS:
            raise ConfigError(f"RESIDE: unknown split {split!r} (train = ITS, test = SOTS-indoor)")
        base = _base(root, "RESIDE")
        if split == "train":
            prefixes = ("ITS", "ITS_v2", "RESIDE/ITS", "RESIDE-ITS", "reside-indoor/train", "")
            what = "RESIDE ITS"
        else:
            prefixes = ("SOTS/indoor", "SOTS-indoor", "SOTS/nyuhaze500", "RESIDE/SOTS/indoor", "reside-indoor/test", "")
            what = "RESIDE SOTS-indoor"
        clean_names = ("clear/", "gt/", "GT/") if split == "train" else ("gt/", "clear/", "GT/")
        _, (hazy, clear) = _locate(what, base, prefixes, [("hazy/",), clean_names], RESIDE_URL)
        options.setdefault("size_mismatch", "center_crop")
        super().__init__(
            hazy,
            clear,
            match="prefix",
            expected=RESIDE_COUNTS[split],
            name=what,
            split=split,
            strict=strict,
            cache=cache,
            **options,
        )
        self.split = split


RAIN800_URL = "https://github.com/hezhangsprinter/ID-CGAN (Rain800: training/ and test_syn/)"
RAIN800_COUNTS = {"train": 700, "test": 100}


def _side_by_side_files(folders: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """The images of ``folders``, named ``<parent of folder>/<stem>`` when there are several folders."""
    files: list[Path] = []
    names: list[str] = []
    for folder in folders:
        found = list_images(folder)
        files += found
        tag = f"{folder.parent.name}/" if len(folders) > 1 else ""
        names += [tag + f.stem for f in found]
    return files, names


class Rain800(SideBySideImages):
    """Rain800 (ID-CGAN): 700 training and 100 synthetic test images, each ``[clean | rainy]`` side by side.

    Layout: ``ROOT/training/*.jpg`` and ``ROOT/test_syn/*.jpg`` (also ``ROOT/rain800/`` or ``ROOT/Rain800/``; the
    folders may be called ``train``/``test``). ID-CGAN trains pix2pix with ``which_direction=BtoA``: the left half
    (A) is the clean target and the right half (B) the rainy input, so ``degraded_half="right"`` by default.
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        degraded_half: Literal["left", "right"] = "right",
        strict: bool = False,
        cache: bool = False,
        **options: Any,
    ) -> None:
        if split not in RAIN800_COUNTS:
            raise ConfigError(f"Rain800: unknown split {split!r} (train, test)")
        base = _base(root, "Rain800")
        folders = ("training/", "train/") if split == "train" else ("test_syn/", "testing/", "test/")
        _, (folder,) = _locate("Rain800", base, ("", "rain800", "Rain800"), [folders], RAIN800_URL)
        files, names = _side_by_side_files([folder])
        _check_count("Rain800", split, len(files), RAIN800_COUNTS[split], folder, strict)
        super().__init__(files, degraded_half, names=names, cache=cache, **options)
        self.split = split


RAIN1200_URL = "https://github.com/hezhangsprinter/DID-MDN (DID-MDN-training/ and DID-MDN-test/)"
RAIN1200_COUNTS = {"train": 12_000, "test": 1_200}
_RAIN1200_DENSITIES = ("Rain_Heavy", "Rain_Medium", "Rain_Light")


class Rain1200(SideBySideImages):
    """Rain1200 (DID-MDN): 12,000 training images (4,000 each of heavy, medium, light rain) and 1,200 test
    images, each ``[rainy | clean]`` side by side (DID-MDN's loader takes the left half as the input).

    Layout: ``ROOT/DID-MDN-training/Rain_{Heavy,Medium,Light}/train2018new/*.jpg`` and ``ROOT/DID-MDN-test/*.jpg``
    (also under ``ROOT/DID-MDN-datasets/``). ``degraded_half="left"`` by default.
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        degraded_half: Literal["left", "right"] = "left",
        strict: bool = False,
        cache: bool = False,
        **options: Any,
    ) -> None:
        if split not in RAIN1200_COUNTS:
            raise ConfigError(f"Rain1200: unknown split {split!r} (train, test)")
        base = _base(root, "Rain1200")
        prefixes = ("", "DID-MDN-datasets", "DID-MDN", "Rain1200", "rain1200")
        if split == "train":
            top, (training,) = _locate("Rain1200", base, prefixes, [("DID-MDN-training/",)], RAIN1200_URL)
            folders = [training / d / "train2018new" for d in _RAIN1200_DENSITIES]
            present = [f for f in folders if f.is_dir()]
            if not present:
                raise DatasetNotFoundError(
                    f"Rain1200: expected Rain_Heavy/, Rain_Medium/ and Rain_Light/ (each with train2018new/) under "
                    f"'{training}'; download it from {RAIN1200_URL}"
                )
            where: Path = training
        else:
            top, (test_dir,) = _locate("Rain1200", base, prefixes, [("DID-MDN-test/",)], RAIN1200_URL)
            present = [test_dir]
            where = test_dir
        files, names = _side_by_side_files(present)
        _check_count("Rain1200", split, len(files), RAIN1200_COUNTS[split], where, strict)
        super().__init__(files, degraded_half, names=names, cache=cache, **options)
        self.root = top
        self.split = split


RAINCITYSCAPES_URL = (
    "https://www.cityscapes-dataset.com/downloads/ (leftImg8bit_trainval_rain.zip and leftImg8bit_trainvaltest.zip)"
)
RAINCITYSCAPES_COUNTS = {"train": 9_432, "test": 1_188}


class RainCityscapes(PairedFolders):
    """RainCityscapes (Hu et al. 2019): 9,432 training and 1,188 test rainy images rendered on Cityscapes.

    Layout: rainy ``ROOT/leftImg8bit_trainval_rain/leftImg8bit_rain/{train,val}/<city>/<name>_leftImg8bit_rain_
    alpha_…png`` and clean Cityscapes ``ROOT/leftImg8bit_trainvaltest/leftImg8bit/{train,val}/<city>/<name>_
    leftImg8bit.png`` (the outer ``leftImg8bit_*`` folders are optional). The test split is the ``val`` folder.
    Each rainy image pairs with the clean image whose stem is its longest ``_``-prefix.
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        strict: bool = False,
        cache: bool = False,
        **options: Any,
    ) -> None:
        if split not in RAINCITYSCAPES_COUNTS:
            raise ConfigError(f"RainCityscapes: unknown split {split!r} (train, test)")
        base = _base(root, "RainCityscapes")
        s = "train" if split == "train" else "val"
        _, (rain,) = _locate(
            "RainCityscapes",
            base,
            ("leftImg8bit_trainval_rain", "RainCityscapes/leftImg8bit_trainval_rain", "RainCityscapes", ""),
            [(f"leftImg8bit_rain/{s}/",)],
            RAINCITYSCAPES_URL,
        )
        _, (clean,) = _locate(
            "RainCityscapes (clean Cityscapes images)",
            base,
            ("leftImg8bit_trainvaltest", "cityscapes", "RainCityscapes/leftImg8bit_trainvaltest", "RainCityscapes", ""),
            [(f"leftImg8bit/{s}/",)],
            RAINCITYSCAPES_URL,
        )
        super().__init__(
            rain,
            clean,
            match="prefix",
            recursive=True,
            expected=RAINCITYSCAPES_COUNTS[split],
            name="RainCityscapes",
            split=split,
            strict=strict,
            cache=cache,
            **options,
        )
        self.split = split


OUTDOORRAIN_URL = "https://github.com/liruoteng/HeavyRainRemoval (Outdoor-Rain training set: in/ and gt/)"
OUTDOORRAIN_TOTAL = 9_000


class OutdoorRain(PairedFiles):
    """Outdoor-Rain (Li et al. 2019, heavy rain + haze) with the paper's own random 8:2 split of the 9,000
    training images (7,200 train / 1,800 test).

    Layout: ``ROOT/train/in/im_0001_s80_a04.png`` … and ``ROOT/train/gt/im_0001.png`` … (also ``ROOT/in`` +
    ``ROOT/gt``, ``Outdoor-Rain/train/``; the rainy folder may be ``input``, ``data`` or ``rain``). A rainy image
    pairs with the clean image whose stem is its longest ``_``-prefix.

    The split is a seeded permutation of the (sorted) 9,000 rainy images: test = the first ``round(0.2·N)``
    indices of ``torch.randperm(N, generator=manual_seed(split_seed))``, train = the rest, each in file order. The
    paper's exact split is unpublished, so this is a reproducible stand-in; an incomplete copy changes it.
    """

    def __init__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        split_seed: int = 0,
        test_fraction: float = 0.2,
        strict: bool = False,
        cache: bool = False,
        **options: Any,
    ) -> None:
        if split not in ("train", "test", "all"):
            raise ConfigError(f"OutdoorRain: unknown split {split!r} (train, test, all)")
        if not 0 < test_fraction < 1:
            raise ConfigError(f"OutdoorRain: test_fraction must be in (0, 1), got {test_fraction}")
        base = _base(root, "OutdoorRain")
        _, (rain, gt) = _locate(
            "OutdoorRain",
            base,
            ("train", "Outdoor-Rain/train", "OutdoorRain/train", "outdoor-rain/train", ""),
            [("in/", "input/", "data/", "rain/"), ("gt/",)],
            OUTDOORRAIN_URL,
        )
        degraded = list_images(rain)
        if not degraded:
            raise DatasetNotFoundError(f"OutdoorRain: no images in '{rain}'")
        pairs, unmatched = pair_files(degraded, list_images(gt), "prefix")
        _report_unmatched("OutdoorRain", split, unmatched, len(degraded), gt, strict)
        _check_count("OutdoorRain", "all", len(pairs), OUTDOORRAIN_TOTAL, rain, strict)
        n = len(pairs)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed)).tolist()
        n_test = round(test_fraction * n)
        chosen = perm[:n_test] if split == "test" else perm[n_test:] if split == "train" else perm
        super().__init__([pairs[i] for i in sorted(chosen)], cache=cache, **options)
        self.split = split


#: Paired datasets by name.
PAIRED_DATASETS: dict[str, Callable[..., PairedImages]] = {
    "sidd": SIDD,
    "reside": RESIDE,
    "rain800": Rain800,
    "rain1200": Rain1200,
    "did-mdn": Rain1200,
    "raincityscapes": RainCityscapes,
    "outdoorrain": OutdoorRain,
}


def paired_dataset(name: str, root: PathLike | None = None, split: str = "train", **kwargs: Any) -> PairedImages:
    """A paired dataset of :data:`PAIRED_DATASETS` (``kwargs``: the class's options, e.g. ``crop_size``, ``flip``,
    ``seed``, ``strict``, ``degraded_half`` for Rain800/Rain1200, ``split_seed`` for OutdoorRain).

    Raises:
        ConfigError: unknown name or split. DatasetNotFoundError: missing or empty copy.
    """
    cls = PAIRED_DATASETS.get(name.lower())
    if cls is None:
        raise ConfigError(f"unknown paired dataset {name!r}; known: {', '.join(PAIRED_DATASETS)}")
    return cls(root, split, **kwargs)
