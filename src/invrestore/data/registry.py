"""Registry of benchmark and training sets, resolved under a user-given data root.

The data root is, in order of precedence: an explicit ``root`` argument (the CLI's ``--data-root``), the environment
variable ``INVRESTORE_DATA``, then the default ``~/.cache/invrestore/data``. The library never assumes where the data
lives beyond that.

Each dataset lists the relative folders where it is commonly found (the first that exists wins), so both this
project's layout (``eval/Set5``) and the usual SR layouts (``Set5``, ``Set5/HR``, ``benchmark/Set5/HR``) work.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from invrestore.errors import DatasetNotFoundError
from invrestore.io import list_images

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "ResolvedDataset",
    "default_data_root",
    "get_dataset_info",
    "resolve_data_root",
    "resolve_dataset",
    "training_files",
]

ENV_VAR = "INVRESTORE_DATA"


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset lives under the data root and what it should contain.

    Attributes:
        name: canonical name (case-insensitive look-up; aliases allowed).
        candidates: relative folders (or files for array datasets) tried in order.
        expected: expected number of images (or of samples for array datasets).
        kind: ``"eval"``, ``"train"`` or ``"misc"``.
        description: one line shown by ``invrestore data list``.
        ids_file: optional relative path of an id list selecting a subset of another set's files (by stem).
        subset_of: the dataset whose folder the ``ids_file`` selects from.
        array: True for datasets stored as arrays (``.npz``/pickles) instead of image files.
        aliases: other accepted names.
    """

    name: str
    candidates: tuple[str, ...]
    expected: int
    kind: str
    description: str
    ids_file: str | None = None
    subset_of: str | None = None
    array: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)


def _sr(name: str, expected: int, desc: str, aliases: Sequence[str] = ()) -> DatasetInfo:
    names = (name, *aliases)
    cands: list[str] = []
    for n in names:
        cands += [f"eval/{n}", n, f"{n}/HR", f"benchmark/{n}/HR", f"{n}/GTmod12", f"eval/{n}/HR"]
    return DatasetInfo(name, tuple(cands), expected, "eval", desc, aliases=tuple(aliases))


DATASETS: dict[str, DatasetInfo] = {
    d.name.lower(): d
    for d in [
        _sr("Set5", 5, "Set5 super-resolution benchmark"),
        _sr("Set14", 14, "Set14 super-resolution benchmark (bridge.png is grayscale)"),
        _sr("BSD100", 100, "BSDS300 test split (B100)", aliases=("B100",)),
        _sr("Urban100", 100, "Urban100 buildings"),
        _sr("Manga109", 109, "Manga109 comics"),
        DatasetInfo(
            "DIV2K-train",
            ("DIV2K/DIV2K_train_HR", "DIV2K_train_HR", "train/DIV2K_train_HR"),
            800,
            "train",
            "DIV2K training HR images 0001-0800 (IRN's training set)",
        ),
        DatasetInfo(
            "DIV2K-valid",
            ("DIV2K/DIV2K_valid_HR", "DIV2K_valid_HR", "eval/DIV2K_valid_HR"),
            100,
            "eval",
            "DIV2K validation HR images 0801-0900",
        ),
        DatasetInfo(
            "Kodak24",
            ("eval/Kodak24", "Kodak24", "kodak", "Kodak"),
            24,
            "eval",
            "Kodak lossless true colour suite (768x512)",
            aliases=("kodak",),
        ),
        DatasetInfo(
            "CBSD68",
            ("eval/CBSD68", "CBSD68"),
            68,
            "eval",
            "colour BSD68 denoising set (the 68 BSD100 images listed in eval/CBSD68_ids.txt)",
            ids_file="eval/CBSD68_ids.txt",
            subset_of="BSD100",
        ),
        DatasetInfo("McMaster", ("eval/McMaster", "McMaster"), 18, "eval", "McMaster colour set (500x500)"),
        DatasetInfo("T91", ("train/T91", "T91", "yang91"), 91, "train", "Yang et al. 91-image SR training set"),
        DatasetInfo("BSDS200", ("train/BSDS200", "BSDS200", "bsd200"), 200, "train", "BSDS300 train split"),
        DatasetInfo(
            "CelebA",
            ("CelebA/img_align_celeba", "img_align_celeba", "celeba/img_align_celeba"),
            202599,
            "train",
            "CelebA aligned faces (178x218)",
        ),
        DatasetInfo(
            "CelebA-sample32",
            ("misc/CelebA_sample32", "CelebA_sample32"),
            32,
            "misc",
            "the first 32 CelebA aligned faces (smoke tests)",
        ),
        DatasetInfo(
            "CIFAR-10",
            ("cifar-10-batches-py", "CIFAR10/cifar-10-batches-py", "misc/cifar-10-batches-py"),
            60000,
            "train",
            "CIFAR-10 official python pickles (50000 train + 10000 test)",
            array=True,
            aliases=("cifar10",),
        ),
        DatasetInfo(
            "CIFAR-10-partial",
            ("misc/CIFAR10_partial/cifar10_partial.npz", "CIFAR10_partial/cifar10_partial.npz"),
            5506,
            "misc",
            "leading rows of CIFAR-10 (4660 train + 846 test) as one .npz",
            array=True,
            aliases=("cifar10-partial",),
        ),
    ]
}

_ALIASES: dict[str, str] = {}
for _key, _info in DATASETS.items():
    for _a in _info.aliases:
        _ALIASES[_a.lower()] = _key


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


def get_dataset_info(name: str) -> DatasetInfo:
    """Look a dataset up by name or alias (case-insensitive).

    Raises:
        DatasetNotFoundError: the name is unknown (the message lists the known names).
    """
    key = name.lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        known = ", ".join(d.name for d in DATASETS.values())
        raise DatasetNotFoundError(f"unknown dataset '{name}'; known datasets: {known}")
    return DATASETS[key]


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
    """Find a dataset under the data root.

    Args:
        name: dataset name or alias (see :data:`DATASETS`).
        root: data root (see :func:`resolve_data_root`).
        strict: raise if the number of images differs from the expected count.

    Raises:
        DatasetNotFoundError: unknown name, missing root, or the dataset is not under the root.
    """
    info = get_dataset_info(name)
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
