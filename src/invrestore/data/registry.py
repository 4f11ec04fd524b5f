"""The one dataset registry: every dataset the library knows, as one declarative entry each, in :data:`DATASETS`.

An entry (:class:`DatasetInfo`) gives a dataset's name, aliases, download address and what a full copy holds; how
its files and splits are found on disk is part of the entry too:

- **folder sets** (benchmarks and training folders: Set5, DIV2K, T91, ...): ``candidates`` (relative folders tried
  under the data root, the first that exists wins) and ``expected`` images; :func:`resolve_dataset` lists them;
- **split datasets** downloaded by the user: :class:`~invrestore.data.images.ImageSet` (CelebA, Flowers-102, ...;
  :func:`~invrestore.data.images.image_dataset`) and :class:`~invrestore.data.layouts.PairedSet` (SIDD, RESIDE,
  rain sets; :func:`~invrestore.data.layouts.paired_dataset`), with the expected count of each split.

The entries themselves are in :mod:`invrestore.data.catalog`; :func:`get_dataset_info` is the one look-up (by
name or alias, case-insensitive), and an unknown name raises :class:`UnknownDatasetError` listing the known ones.

The data root is, in order of precedence: an explicit ``root`` argument (the CLI's ``--data-root``), the environment
variable ``INVRESTORE_DATA``, then the default ``~/.cache/invrestore/data``. The library never assumes where the data
lives beyond that. See ``docs/data.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar, overload

from invrestore.errors import ConfigError, DatasetNotFoundError
from invrestore.io import list_images

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "ResolvedDataset",
    "UnknownDatasetError",
    "default_data_root",
    "get_dataset_info",
    "locate_dataset",
    "register_dataset",
    "resolve_data_root",
    "resolve_dataset",
    "training_files",
]

ENV_VAR = "INVRESTORE_DATA"


class UnknownDatasetError(DatasetNotFoundError, ConfigError):
    """A dataset name that no registry entry has (the message lists the known names).

    Both a :class:`~invrestore.errors.DatasetNotFoundError` (what a look-up under the data root raises) and a
    :class:`~invrestore.errors.ConfigError` (what a bad dataset name in a config is).
    """


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset: where it is found and what a full copy holds (see the module docstring).

    Attributes:
        name: canonical name (case-insensitive look-up).
        description: one line shown by ``invrestore data list``.
        kind: ``"eval"``, ``"train"`` or ``"misc"``.
        aliases: other accepted names.
        url: where to download it (named in the errors of a missing copy).
        candidates: folder sets: relative folders (or files for array datasets) tried in order under the data root.
        expected: folder sets: expected number of images (or of samples for array datasets).
        ids_file: optional relative path of an id list selecting a subset of another set's files (by stem).
        subset_of: the dataset whose folder the ``ids_file`` selects from.
        array: True for datasets stored as arrays (``.npz``/pickles) instead of image files.
        splits: split datasets: the number of items of each split in a full copy.
    """

    name: str
    _: KW_ONLY
    description: str
    kind: str = "train"
    aliases: tuple[str, ...] = ()
    url: str = ""
    candidates: tuple[str, ...] = ()
    expected: int = 0
    ids_file: str | None = None
    subset_of: str | None = None
    array: bool = False
    splits: Mapping[str, int] = field(default_factory=dict)

    #: what this kind of entry is called in messages (``"image"``, ``"paired"``; ``""`` for any dataset)
    category: ClassVar[str] = ""

    def check_split(self, split: str) -> None:
        """Raises ConfigError: ``split`` is not one of :attr:`splits`."""
        if split not in self.splits:
            raise ConfigError(f"{self.name}: unknown split {split!r} ({', '.join(self.splits)})")

    def find(self, root: str | Path | None = None) -> Path:
        """The folder holding this dataset under ``root`` (default: the data root).

        Raises:
            DatasetNotFoundError: it is not there.
        """
        return resolve_dataset(self.name, root).path


_ALIASES: dict[str, str] = {}
DATASETS: dict[str, DatasetInfo] = {}
"""Every registered dataset by lower-case name (:mod:`invrestore.data.catalog` fills it)."""

Info = TypeVar("Info", bound=DatasetInfo)


def register_dataset(info: Info) -> Info:
    """Add ``info`` to :data:`DATASETS` and return it.

    Raises:
        ConfigError: its name or an alias is taken by another entry.
    """
    keys = [info.name.lower(), *(a.lower() for a in info.aliases)]
    taken = [k for k in keys if (k in DATASETS or k in _ALIASES) and DATASETS.get(_ALIASES.get(k, k)) is not info]
    if taken:
        raise ConfigError(f"dataset name(s) {', '.join(taken)} of {info.name!r} are already registered")
    DATASETS[keys[0]] = info
    for a in keys[1:]:
        _ALIASES[a] = keys[0]
    return info


@overload
def get_dataset_info(name: str) -> DatasetInfo: ...


@overload
def get_dataset_info(name: str, category: type[Info]) -> Info: ...


def get_dataset_info(name: str, category: type[DatasetInfo] = DatasetInfo) -> DatasetInfo:
    """Look a dataset up by name or alias (case-insensitive), optionally of one kind of entry.

    Args:
        category: the entry class wanted (e.g. :class:`~invrestore.data.images.ImageSet`); other entries count
            as unknown.

    Raises:
        UnknownDatasetError: the name is unknown (the message lists the known names of that kind).
    """
    key = name.lower()
    info: DatasetInfo | None = DATASETS.get(_ALIASES.get(key, key))
    if not isinstance(info, category):
        label = f"{category.category} " if category.category else ""
        known = ", ".join(d.name for d in DATASETS.values() if isinstance(d, category))
        raise UnknownDatasetError(f"unknown {label}dataset {name!r}; known {label}datasets: {known}")
    return info


def default_data_root() -> Path:
    """The data root used when neither an argument nor ``INVRESTORE_DATA`` is given."""
    return Path.home() / ".cache" / "invrestore" / "data"


def resolve_data_root(root: str | Path | None = None, must_exist: bool = True) -> Path:
    """The data root: ``root`` if given, else ``$INVRESTORE_DATA``, else :func:`default_data_root`.

    Raises:
        DatasetNotFoundError: ``must_exist`` and the folder does not exist.
    """
    if root is not None:
        source = "--data-root"
        path = Path(root).expanduser()
    elif os.environ.get(ENV_VAR):
        source = f"${ENV_VAR}"
        path = Path(os.environ[ENV_VAR]).expanduser()
    else:
        source = "the default data root"
        path = default_data_root()
    if must_exist and not path.is_dir():
        raise DatasetNotFoundError(
            f"data root '{path}' ({source}) does not exist; pass --data-root DIR or set {ENV_VAR}=DIR"
        )
    return path


@dataclass(frozen=True)
class ResolvedDataset:
    """A dataset found on disk: its location and files (empty ``files`` for array datasets)."""

    info: DatasetInfo
    path: Path
    files: tuple[Path, ...]

    @property
    def complete(self) -> bool:
        return self.info.array or len(self.files) == self.info.expected


def _find(info: DatasetInfo, root: Path) -> Path | None:
    for rel in info.candidates:
        p = root / rel
        if (info.array and p.exists()) or p.is_dir():
            return p
    return None


def resolve_dataset(name: str, root: str | Path | None = None, strict: bool = False) -> ResolvedDataset:
    """Find a folder set under the data root and list its images.

    Args:
        name: dataset name or alias (see :data:`DATASETS`).
        root: data root (see :func:`resolve_data_root`).
        strict: raise if the number of images differs from the expected count.

    Raises:
        DatasetNotFoundError: unknown name (:class:`UnknownDatasetError`), missing root, the dataset is not under
            the root, or it is a split dataset (those load by split: ``image_dataset``/``paired_dataset``).
    """
    info = get_dataset_info(name)
    if not info.candidates and info.ids_file is None:
        key = {"image": "data.dataset", "paired": "data.paired"}.get(info.category, "the dataset key")
        raise DatasetNotFoundError(
            f"{info.name} comes in splits ({', '.join(info.splits)}): load it by split "
            f"({info.category}_dataset({info.name!r}, root, split)), or name it in {key} of a config"
        )
    base = resolve_data_root(root)
    path = _find(info, base)
    files: list[Path] = []
    if path is None and info.subset_of is not None and info.ids_file is not None:
        parent = resolve_dataset(info.subset_of, base)
        ids_path = base / info.ids_file
        if ids_path.is_file():
            ids = [ln.strip() for ln in ids_path.read_text().splitlines() if ln.strip()]
            by_stem = {p.stem: p for p in parent.files}
            missing = [i for i in ids if i not in by_stem]
            if missing:
                raise DatasetNotFoundError(
                    f"{info.name}: {len(missing)} ids of {ids_path} are not in {parent.path} (e.g. {missing[0]})"
                )
            return ResolvedDataset(info, parent.path, tuple(by_stem[i] for i in ids))
    if path is None:
        tried = ", ".join(info.candidates[:4])
        raise DatasetNotFoundError(
            f"dataset {info.name} not found under '{base}' (looked for {tried}, ...); "
            f"download it and place it there, or pass --data-root"
        )
    if not info.array:
        files = list_images(path)
        if not files:
            raise DatasetNotFoundError(f"dataset {info.name}: no images in '{path}'")
        if strict and len(files) != info.expected:
            raise DatasetNotFoundError(
                f"dataset {info.name} at '{path}' has {len(files)} images, expected {info.expected}"
            )
    return ResolvedDataset(info, path, tuple(files))


def locate_dataset(name: str, root: str | Path | None = None) -> Path:
    """The folder holding dataset ``name`` under ``root`` (default: the data root), for any kind of entry.

    Raises:
        DatasetNotFoundError: unknown name, or the dataset is not there.
    """
    return get_dataset_info(name).find(root)


def training_files(
    datasets: Sequence[str],
    folders: Sequence[str | Path] = (),
    root: str | Path | None = None,
    min_size: int | None = None,
) -> list[Path]:
    """The image files of registered ``datasets`` (under the data root) and of extra ``folders``, for training.

    Args:
        min_size: drop images whose shorter side is below this (e.g. the training crop).

    Raises:
        DatasetNotFoundError: a dataset or folder is missing, or no image is left.
    """
    from invrestore.io import image_size

    files = [f for name in datasets for f in resolve_dataset(name, root).files]
    for folder in folders:
        found = list_images(folder)
        if not found:
            raise DatasetNotFoundError(f"no images found in '{folder}'")
        files += found
    if not files:
        raise DatasetNotFoundError("no training images: set data.train_sets or data.train_folders")
    if min_size is not None:
        files = [f for f in files if min(image_size(f)) >= min_size]
        if not files:
            raise DatasetNotFoundError(f"no training image is at least {min_size}×{min_size}")
    return files
