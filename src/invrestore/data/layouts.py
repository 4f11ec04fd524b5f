"""Paired datasets with official splits: the entry type :class:`PairedSet` and the on-disk layouts it declares.

A :class:`PairedSet` entry names, per split, a *layout*: how the pairs of that split are stored and found.

- :class:`FolderPairs`: a folder of degraded images and a folder of clean ones, paired by name (RESIDE,
  RainCityscapes);
- :class:`SideBySide`: one image per pair, ``[left | right]`` (Rain800, Rain1200);
- :class:`SeededSplit`: folder pairs split at random, with a seed, into train and test (OutdoorRain);
- :class:`ScenePairs`: scene folders, each holding clean files and their degraded partners (SIDD-Small);
- :class:`MatBlocks`: two MATLAB arrays of blocks (SIDD validation).

Every layout locates its files (:func:`~invrestore.data.locate.locate`), checks the count against the entry's
split sizes and returns a :class:`~invrestore.data.paired.PairedImages`. The entries are in
:mod:`invrestore.data.catalog`; see ``docs/data.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from invrestore.data.images import to_uint8
from invrestore.data.locate import (
    PathLike,
    check_count,
    dataset_base,
    incomplete,
    loadmat,
    locate,
    report_unmatched,
)
from invrestore.data.paired import (
    ArrayPairs,
    Match,
    PairedFiles,
    PairedFolders,
    PairedImages,
    SideBySideImages,
    pair_files,
)
from invrestore.data.registry import DatasetInfo, get_dataset_info
from invrestore.errors import ConfigError, DatasetNotFoundError, ImageShapeError
from invrestore.io import list_images

__all__ = [
    "FolderPairs",
    "Layout",
    "MatBlocks",
    "PairedSet",
    "ScenePairs",
    "SeededSplit",
    "SideBySide",
    "paired_dataset",
]


class Layout(Protocol):
    """How one split of a paired dataset is stored."""

    @property
    def search(self) -> tuple[str, ...]:
        """Where a copy may be under the root (``""`` = the root itself), tried in order."""
        ...

    def build(
        self, info: PairedSet, base: Path, split: str, strict: bool, cache: bool, options: dict[str, Any]
    ) -> PairedImages:
        """The pairs of ``split`` under ``base`` (``options``: the loader's keyword arguments)."""
        ...

    def find(self, info: PairedSet, base: Path) -> Path:
        """The folder holding the split under ``base``."""
        ...


def _name(info: PairedSet, label: str) -> str:
    return label or info.name


@dataclass(frozen=True)
class FolderPairs:
    """Degraded images in one folder, clean ones in another, paired by name (:func:`pair_files`).

    Attributes:
        search: where the two folders are (both under the same prefix unless ``clean_search`` is given).
        degraded, clean: alternative names of each folder (relative paths ending in ``/``).
        clean_search: where the clean folder is, when it is elsewhere (``label (clean_what)`` in messages).
        label: the name in messages (default: the dataset's).
        match, recursive: see :class:`~invrestore.data.paired.PairedFolders`.
    """

    search: tuple[str, ...]
    degraded: tuple[str, ...]
    clean: tuple[str, ...]
    clean_search: tuple[str, ...] | None = None
    clean_what: str = "clean images"
    label: str = ""
    match: Match = "prefix"
    recursive: bool = False

    def _dirs(self, info: PairedSet, base: Path) -> tuple[Path, Path, Path]:
        name = _name(info, self.label)
        if self.clean_search is None:
            top, (deg, clean) = locate(name, base, self.search, [self.degraded, self.clean], info.url)
        else:
            top, (deg,) = locate(name, base, self.search, [self.degraded], info.url)
            _, (clean,) = locate(f"{name} ({self.clean_what})", base, self.clean_search, [self.clean], info.url)
        return top, deg, clean

    def find(self, info: PairedSet, base: Path) -> Path:
        return self._dirs(info, base)[0]

    def build(
        self, info: PairedSet, base: Path, split: str, strict: bool, cache: bool, options: dict[str, Any]
    ) -> PairedImages:
        _, deg, clean = self._dirs(info, base)
        expected = info.splits[split]
        return PairedFolders(
            deg,
            clean,
            match=self.match,
            recursive=self.recursive,
            expected=expected,
            name=_name(info, self.label),
            split=split,
            strict=strict,
            cache=cache,
            **options,
        )


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


@dataclass(frozen=True)
class SideBySide:
    """Each pair is one image, ``[left | right]``; which half is degraded is the ``degraded_half`` option.

    Attributes:
        search: where the split's folder is.
        folders: alternative names of the split's folder.
        parts: subfolders of it holding the images (``()``: the folder itself); names get a ``<part>/`` tag.
    """

    search: tuple[str, ...]
    folders: tuple[str, ...]
    parts: tuple[str, ...] = ()

    def find(self, info: PairedSet, base: Path) -> Path:
        return locate(info.name, base, self.search, [self.folders], info.url)[0]

    def build(
        self, info: PairedSet, base: Path, split: str, strict: bool, cache: bool, options: dict[str, Any]
    ) -> PairedImages:
        top, (folder,) = locate(info.name, base, self.search, [self.folders], info.url)
        dirs = [folder / p for p in self.parts if (folder / p).is_dir()] if self.parts else [folder]
        if not dirs:
            raise DatasetNotFoundError(
                f"{info.name}: expected {', '.join(p + '/' for p in self.parts)} under '{folder}'; download it "
                f"from {info.url}"
            )
        files, names = _side_by_side_files(dirs)
        check_count(info.name, split, len(files), info.splits[split], folder, strict)
        half = options.pop("degraded_half", None)
        ds = SideBySideImages(files, half, names=names, cache=cache, **options)
        ds.root = top
        return ds


@dataclass(frozen=True)
class SeededSplit:
    """Folder pairs of one set split at random into train and test (options ``split_seed``, ``test_fraction``).

    Test = the first ``round(test_fraction · N)`` indices of ``torch.randperm(N, generator=manual_seed(
    split_seed))`` over the pairs in file order, train = the rest, each in file order; ``"all"`` = every pair.
    The count of a full copy is the entry's ``"all"`` split.
    """

    search: tuple[str, ...]
    degraded: tuple[str, ...]
    clean: tuple[str, ...]
    match: Match = "prefix"

    def find(self, info: PairedSet, base: Path) -> Path:
        return locate(info.name, base, self.search, [self.degraded, self.clean], info.url)[0]

    def build(
        self, info: PairedSet, base: Path, split: str, strict: bool, cache: bool, options: dict[str, Any]
    ) -> PairedImages:
        split_seed = int(options.pop("split_seed", 0))
        test_fraction = float(options.pop("test_fraction", 0.2))
        if not 0 < test_fraction < 1:
            raise ConfigError(f"{info.name}: test_fraction must be in (0, 1), got {test_fraction}")
        _, (deg, clean) = locate(info.name, base, self.search, [self.degraded, self.clean], info.url)
        degraded = list_images(deg)
        if not degraded:
            raise DatasetNotFoundError(f"{info.name}: no images in '{deg}'")
        pairs, unmatched = pair_files(degraded, list_images(clean), self.match)
        report_unmatched(info.name, split, unmatched, len(degraded), clean, strict)
        check_count(info.name, "all", len(pairs), info.splits.get("all"), deg, strict)
        n = len(pairs)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed)).tolist()
        n_test = round(test_fraction * n)
        chosen = perm[:n_test] if split == "test" else perm[n_test:] if split == "train" else perm
        return PairedFiles([pairs[i] for i in sorted(chosen)], cache=cache, **options)


@dataclass(frozen=True)
class ScenePairs:
    """Scene folders, each holding clean files ``<clean>*`` and degraded partners named ``<degraded>*``.

    Attributes:
        search: where the scene folders are (the first folder holding a scene with a clean file wins).
        clean, degraded: the file-name prefixes (``GT_SRGB_`` ↔ ``NOISY_SRGB_``).

    Names are ``<scene>/<suffix>`` (the clean file's stem after the prefix).
    """

    search: tuple[str, ...]
    clean: str
    degraded: str

    def find(self, info: PairedSet, base: Path) -> Path:
        for rel in self.search:
            folder = base / rel if rel else base
            if folder.is_dir() and any(p.is_dir() and any(p.glob(self.clean + "*")) for p in folder.iterdir()):
                return folder
        others = ", ".join(r + "/" for r in self.search[1:] if r)
        raise DatasetNotFoundError(
            f"{info.name}: expected {self.search[0]}/<scene>/{self.clean}*.PNG and {self.degraded}*.PNG under "
            f"'{base}' (or {others} or the scene folders directly); download it from {info.url} and pass "
            "--data-root DIR (or the dataset's root)"
        )

    def build(
        self, info: PairedSet, base: Path, split: str, strict: bool, cache: bool, options: dict[str, Any]
    ) -> PairedImages:
        data = self.find(info, base)
        pairs: list[tuple[Path, Path]] = []
        names: list[str] = []
        unmatched: list[Path] = []
        for scene in sorted(p for p in data.iterdir() if p.is_dir()):
            for gt in sorted(scene.glob(self.clean + "*")):
                noisy = scene / gt.name.replace(self.clean, self.degraded, 1)
                if noisy.is_file():
                    pairs.append((noisy, gt))
                    names.append(f"{scene.name}/{gt.stem[len(self.clean) :]}")
                else:
                    unmatched.append(gt)
        if unmatched:
            msg = (
                f"{info.name} ({split}): {len(unmatched)} {self.clean.rstrip('_')} images have no "
                f"{self.degraded} partner (e.g. {unmatched[0]})"
            )
            incomplete(msg, strict, "; they are skipped")
        check_count(info.name, split, len(pairs), info.splits[split], data, strict)
        return PairedFiles(pairs, names=names, cache=cache, **options)


@dataclass(frozen=True)
class MatBlocks:
    """Two MATLAB ``.mat`` files (read with scipy) of uint8 blocks ``(..., H, W, 3)``, each under the key named like
    its file; names index the leading dimensions (``block_<i>_<j>``)."""

    search: tuple[str, ...]
    degraded: str
    clean: str

    def find(self, info: PairedSet, base: Path) -> Path:
        return locate(info.name, base, self.search, [(self.degraded,), (self.clean,)], info.url)[0]

    def _blocks(self, info: PairedSet, path: Path) -> tuple[np.ndarray, tuple[int, ...]]:
        mat = loadmat(path, info.name)
        key = path.stem
        if key not in mat:
            keys = [k for k in mat if not k.startswith("__")]
            if len(keys) != 1:
                found = ", ".join(keys) or "none"
                raise DatasetNotFoundError(f"{info.name}: '{path}' has no '{key}' array (found {found})")
            key = keys[0]
        arr = np.asarray(mat[key])
        if arr.ndim < 4 or arr.shape[-1] != 3:
            raise DatasetNotFoundError(
                f"{info.name}: '{path}' holds an array of shape {arr.shape}, not (..., H, W, 3) blocks"
            )
        return to_uint8(arr.reshape(-1, *arr.shape[-3:])), tuple(arr.shape[:-3])

    def build(
        self, info: PairedSet, base: Path, split: str, strict: bool, cache: bool, options: dict[str, Any]
    ) -> PairedImages:
        _, (deg_mat, clean_mat) = locate(info.name, base, self.search, [(self.degraded,), (self.clean,)], info.url)
        deg, lead = self._blocks(info, deg_mat)
        clean, _ = self._blocks(info, clean_mat)
        if deg.shape != clean.shape:
            raise ImageShapeError(
                f"{info.name} ({split}): degraded blocks {deg.shape} and clean ones {clean.shape} differ"
            )
        names = ["block_" + "_".join(f"{int(k):02d}" for k in np.unravel_index(i, lead)) for i in range(deg.shape[0])]
        check_count(info.name, split, len(names), info.splits[split], deg_mat.parent, strict)
        return ArrayPairs(deg, clean, names, **options)


@dataclass(frozen=True, kw_only=True)
class PairedSet(DatasetInfo):
    """A paired dataset with official splits (see the module docstring); calling it loads a split.

    Attributes:
        layouts: the :class:`Layout` of each split.
        defaults: default loader options (e.g. ``degraded_half`` of side-by-side sets, ``size_mismatch``).
    """

    layouts: Mapping[str, Layout]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    category = "paired"

    def find(self, root: PathLike | None = None) -> Path:
        return next(iter(self.layouts.values())).find(self, dataset_base(root, self.name))

    def __call__(
        self,
        root: PathLike | None = None,
        split: str = "train",
        strict: bool = False,
        cache: bool = False,
        **options: Any,
    ) -> PairedImages:
        """The pairs of ``split``.

        Args:
            root: the dataset folder (or a folder holding it under one of its usual names); ``None`` = the data
                root.
            strict: raise instead of warning about unmatched images or a count different from a full copy.
            cache: keep decoded images in memory.
            **options: :class:`~invrestore.data.paired.PairedImages` options (``crop_size``, ``flip``,
                ``augment``, ``seed``, ``repeat``, ``size_mismatch``) and the layout's (``degraded_half``,
                ``split_seed``, ``test_fraction``).

        Raises:
            ConfigError: unknown split or option value. DatasetNotFoundError: missing or empty copy.
        """
        self.check_split(split)
        base = dataset_base(root, self.name)
        ds = self.layouts[split].build(self, base, split, strict, cache, {**self.defaults, **options})
        ds.split = split
        return ds


def paired_dataset(name: str, root: PathLike | None = None, split: str = "train", **kwargs: Any) -> PairedImages:
    """The pairs of ``split`` of the registered paired dataset ``name`` (``kwargs``: see :meth:`PairedSet.__call__`,
    e.g. ``crop_size``, ``flip``, ``seed``, ``strict``, ``degraded_half`` for Rain800/Rain1200, ``split_seed`` for
    OutdoorRain).

    Raises:
        ConfigError: unknown name (:class:`~invrestore.data.registry.UnknownDatasetError`) or split.
        DatasetNotFoundError: missing or empty copy.
    """
    return get_dataset_info(name, PairedSet)(root, split, **kwargs)
