"""Finding a downloaded dataset on disk and checking it against the official release (shared by every entry).

- :func:`dataset_base`: the folder to search (the given root, else the data root).
- :func:`locate`: the first of a dataset's usual folders that holds every file or folder it needs; otherwise a
  :class:`~invrestore.errors.DatasetNotFoundError` naming what is expected, where, what the closest candidate
  lacks and where to download it.
- :func:`check_count`, :func:`check_listed`, :func:`report_unmatched`: a copy with fewer (or more) items than the
  official release warns with an :class:`IncompleteDatasetWarning` (``strict``: raises) and uses what is there.

See ``docs/data.md``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from invrestore.errors import DatasetNotFoundError, InvRestoreError

__all__ = [
    "IncompleteDatasetWarning",
    "PathLike",
    "check_count",
    "check_listed",
    "dataset_base",
    "incomplete",
    "listdir",
    "loadmat",
    "locate",
    "report_unmatched",
]

PathLike = str | Path


class IncompleteDatasetWarning(UserWarning):
    """A dataset copy holds a different number of items than the official release (the loader uses what is there)."""


def dataset_base(root: PathLike | None, name: str) -> Path:
    """The folder to search: ``root`` if given, else the data root (``$INVRESTORE_DATA`` or the default).

    Raises:
        DatasetNotFoundError: the folder does not exist.
    """
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


def locate(
    name: str, base: Path, prefixes: Sequence[str], required: Sequence[Sequence[str]], url: str
) -> tuple[Path, list[Path]]:
    """The first ``base/prefix`` holding every requirement, and the resolved path of each requirement.

    Each requirement is a tuple of alternatives (relative paths; a trailing ``/`` means a folder); ``""`` as a
    prefix is ``base`` itself.

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


def incomplete(msg: str, strict: bool, consequence: str, strict_note: str = "") -> None:
    """Raise ``msg`` (``strict``) or warn with what the loader does about it."""
    if strict:
        raise DatasetNotFoundError(msg + strict_note)
    warnings.warn(msg + consequence, IncompleteDatasetWarning, stacklevel=4)


def check_count(name: str, split: str, found: int, expected: int | None, where: object, strict: bool) -> None:
    """Raise when nothing was found; warn (or raise with ``strict``) when the count differs from a full copy."""
    if found == 0:
        raise DatasetNotFoundError(f"{name} ({split}): no images found in '{where}'")
    if expected is not None and found != expected:
        msg = f"{name} ({split}): found {found} items in '{where}', a full copy has {expected}"
        incomplete(msg, strict, "; using the ones present", " (strict)")


def listdir(folder: Path) -> set[str]:
    """The names in ``folder``.

    Raises:
        DatasetNotFoundError: it cannot be listed.
    """
    try:
        return set(os.listdir(folder))
    except OSError as e:
        raise DatasetNotFoundError(f"cannot list '{folder}': {e.strerror or e}") from e


def check_listed(
    name: str,
    split: str,
    files: Sequence[Path],
    expected: int | None,
    where: object,
    strict: bool,
    listed_in: Path | None = None,
) -> list[Path]:
    """The files of a split listed by the release's own index (a partition file, ids) that are on disk.

    Missing files warn with their count (``strict``, or none at all present: raise); when none is missing, the
    number listed is checked against a full copy (:func:`check_count`, reported at ``where``).

    Args:
        where: named in the count message.
        listed_in: the index file, named in the message (``None``: the message names the count only).
    """
    on_disk: dict[Path, set[str]] = {}
    present: list[Path] = []
    for f in files:
        if f.parent not in on_disk:
            on_disk[f.parent] = listdir(f.parent) if f.parent.is_dir() else set()
        if f.name in on_disk[f.parent]:
            present.append(f)
    if len(present) < len(files):
        first = next(f for f in files if f.name not in on_disk[f.parent])
        n_missing, n = len(files) - len(present), len(files)
        if listed_in is not None:
            msg = (
                f"{name} ({split}): {n_missing} of the {n} images listed in '{listed_in}' are missing from "
                f"'{first.parent}' (e.g. {first.name})"
            )
        else:
            msg = f"{name} ({split}): {n_missing} of {n} images are missing (e.g. {first})"
        incomplete(msg, strict or not present, f"; using the {len(present)} present")
    else:
        check_count(name, split, len(files), expected, where, strict)
    return present


def report_unmatched(
    name: str, split: str, unmatched: Sequence[Path], total: int, clean_dir: object, strict: bool
) -> None:
    """Warn (``strict``: raise) about degraded images without a clean counterpart."""
    if not unmatched:
        return
    msg = (
        f"{name} ({split}): {len(unmatched)} of {total} degraded images have no clean counterpart in '{clean_dir}' "
        f"(e.g. {unmatched[0].name})"
    )
    incomplete(msg, strict, "; they are skipped")


def loadmat(path: Path, what: str) -> dict[str, Any]:
    """A MATLAB ``.mat`` file (v5, read with scipy) as a dict.

    Raises:
        InvRestoreError: scipy is missing, or the file is MATLAB v7.3 (HDF5). DatasetNotFoundError: unreadable.
    """
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
