"""Image datasets with official splits (IRAE / baselines / selfVAE): the entry type :class:`ImageSet` and its images.

Items are ``{"image": (3, H, W) float in [0, 1], "name": str}``, preprocessed by a
:class:`~invrestore.data.transforms.CropResize` (the dataset's default or one given). An :class:`ImageSet` entry
declares where a copy is found (``search`` prefixes and the files it ``needs``) and a small ``listing`` function
that reads the release's own index (a partition file, ``setid.mat``, id tables, class folders) into the files of
a split; locating, the missing-file and count checks and the preprocessing are shared. The entries are in
:mod:`invrestore.data.catalog`; see ``docs/data.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from invrestore.data.datasets import ImageFolder
from invrestore.data.locate import PathLike, check_count, check_listed, dataset_base, locate
from invrestore.data.registry import DatasetInfo, get_dataset_info
from invrestore.data.transforms import CropResize, get_transform
from invrestore.errors import ImageShapeError
from invrestore.io import read_image_uint

__all__ = ["ImageListing", "ImageSet", "TransformedImages", "image_dataset"]


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """8-bit as is; 16-bit to 8-bit with round half up."""
    if arr.dtype == np.uint8:
        return arr
    return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)


class TransformedImages(ImageFolder):
    """Image files read as RGB (:func:`invrestore.io.read_image_uint`, the reader behind ``read_image``), then a
    :class:`CropResize` on the uint8 image (as torchvision on PIL images), as ``(3, H, W)`` float32 in [0, 1].

    A drop-in for :class:`~invrestore.data.ImageFolder` (``files``, ``load``, items ``{"image", "name"}``), so
    :class:`~invrestore.data.PairedDataset` accepts it. ``cache`` keeps the preprocessed images as uint8 (4× less
    memory than float).

    Attributes set by an :class:`ImageSet`: ``root`` (the dataset folder), ``split``, and for class-labelled sets
    ``labels`` (one class index per image) and ``classes`` (the class names).
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
        self.root: Path | None = None
        self.split = ""
        self.labels: list[int] = []
        self.classes: list[str] = []
        self._u8: dict[int, np.ndarray] = {}

    def load_uint8(self, index: int) -> np.ndarray:
        """The preprocessed image ``index`` as uint8 ``(H, W, 3)``."""
        if index in self._u8:
            return self._u8[index]
        arr = to_uint8(read_image_uint(self.files[index], mode="rgb"))
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


@dataclass
class ImageListing:
    """What a dataset's ``listing`` function reads from the release for one split.

    Attributes:
        files: the split's images, in the dataset's order.
        where: the file or folder named in the count warning.
        listed_in: the index file that lists them (their presence is checked, and it is named when some are
            missing); ``None`` with ``check=True``: checked, the message names the count only.
        check: check that the files exist (``False`` when they come from listing folders).
        root: the dataset folder (``None``: the folder where the requirements were found).
        split: the split's canonical name (e.g. ``"val"`` for Imagenette's ``"test"``; ``""``: as asked).
        labels, classes: class index per image and class names, for labelled sets.
    """

    files: list[Path]
    where: object
    listed_in: Path | None = None
    check: bool = True
    root: Path | None = None
    split: str = ""
    labels: list[int] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)


#: requirements: per file or folder a copy must hold, its alternative relative paths (``/`` = a folder)
Needs = tuple[tuple[str, ...], ...]

#: ``listing(found, split)``: ``found`` = the resolved paths of the entry's ``needs``, in order.
Listing = Callable[[list[Path], str], ImageListing]


@dataclass(frozen=True, kw_only=True)
class ImageSet(DatasetInfo):
    """An image dataset with official splits (see the module docstring); calling it loads a split.

    Attributes:
        search: folders under the root where a copy may be (``""`` = the root itself), tried in order.
        needs: what a copy must hold there: per requirement, alternative relative paths (``/`` = folder); or
            those of each split (a mapping), when a split needs other files than the others.
        listing: reads the split's files from the found requirements (:class:`ImageListing`).
        transform: the default preprocessing, a name of :data:`~invrestore.data.transforms.TRANSFORMS`.
    """

    listing: Listing
    needs: Needs | Mapping[str, Needs]
    search: tuple[str, ...] = ("",)
    transform: str | None = None

    category = "image"

    def needs_of(self, split: str) -> Needs:
        """The requirements of ``split``."""
        return self.needs[split] if isinstance(self.needs, Mapping) else self.needs

    def find(self, root: PathLike | None = None) -> Path:
        needs = self.needs_of(next(iter(self.splits)))
        return locate(self.name, dataset_base(root, self.name), self.search, needs, self.url)[0]

    def __call__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        transform: CropResize | str | None = "default",
        cache: bool = False,
        strict: bool = False,
    ) -> TransformedImages:
        """The images of ``split``.

        Args:
            root: the dataset folder (or a folder holding it under one of its usual names); ``None`` = the data
                root.
            transform: a :class:`CropResize`, a name of ``TRANSFORMS``, ``"default"`` (the dataset's, see
                :attr:`transform`) or ``None`` (the raw images).
            strict: raise instead of warning when files are missing or the count differs from a full copy.

        Raises:
            ConfigError: unknown split or transform. DatasetNotFoundError: missing or empty copy.
        """
        self.check_split(split)
        base = dataset_base(root, self.name)
        folder, found = locate(self.name, base, self.search, self.needs_of(split), self.url)
        lst = self.listing(found, split)
        expected = self.splits[split]
        if lst.check:
            files = check_listed(self.name, split, lst.files, expected, lst.where, strict, lst.listed_in)
        else:
            check_count(self.name, split, len(lst.files), expected, lst.where, strict)
            files = lst.files
        ds = TransformedImages(files, self.transform if transform == "default" else transform, cache)
        ds.root = lst.root or folder
        ds.split = lst.split or split
        ds.labels, ds.classes = lst.labels, lst.classes
        return ds


def image_dataset(
    name: str,
    root: PathLike | None = None,
    split: str = "train",
    transform: CropResize | str | None = None,
    cache: bool = False,
    strict: bool = False,
) -> TransformedImages:
    """The images of ``split`` of the registered image dataset ``name`` (``transform=None``: its default).

    Raises:
        ConfigError: unknown name (:class:`~invrestore.data.registry.UnknownDatasetError`) or split.
        DatasetNotFoundError: missing or empty copy.
    """
    info = get_dataset_info(name, ImageSet)
    return info(root, split, "default" if transform is None else transform, cache=cache, strict=strict)
