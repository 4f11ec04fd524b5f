"""The model zoo: one manifest of the shipped weights, one resolver, checksums verified on load.

``invrestore/weights/manifest.json`` lists every shipped weights file with its version tag, sha256, size, family,
task, model card and the numbers its card claims. :func:`resolve_weights` finds the file a model should load:

1. an explicit path (``weights=``; a user's own file: not checked against the manifest);
2. ``$INVRESTORE_WEIGHTS/<file>`` (a folder of replacement or updated files);
3. the user cache, ``$XDG_CACHE_HOME/invrestore/weights/<file>`` (default ``~/.cache/invrestore/weights``);
4. the copy inside the installed package.

A file found in 2–4 must have the manifest's sha256, else :class:`~invrestore.errors.CheckpointError` names the
file, both hashes and ``invrestore weights verify``. This module imports no torch and no model
(``import invrestore`` stays light, and the model registry can read the manifest from below); what needs the
registry (which names restore, pack names, adopting new weights) is in :mod:`invrestore.models.catalog`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from invrestore.errors import CheckpointError, ConfigError

__all__ = [
    "ENV_WEIGHTS",
    "FAMILY_TASKS",
    "WeightsEntry",
    "cache_dir",
    "card_commands",
    "card_path",
    "card_text",
    "file_sha256",
    "load_manifest",
    "locate_weights",
    "manifest_path",
    "package_weights_dir",
    "resolve_weights",
    "run_config",
    "search_path",
    "update_manifest_entry",
    "verify_file",
    "weights_entry",
    "weights_file",
]

#: Environment variable naming a folder whose files override the shipped ones (same file names).
ENV_WEIGHTS = "INVRESTORE_WEIGHTS"
_MANIFEST = "manifest.json"
_FIELDS = ("name", "tag", "file", "sha256", "size", "family", "task", "card", "claims")


@dataclass(frozen=True)
class WeightsEntry:
    """One shipped weights file.

    Attributes:
        name: the registered model the file loads into (``create_model(name, pretrained=True)``).
        tag: version tag of the weights (where/when they were trained, e.g. ``cpu-2026-11``, ``h100-s5``).
        file: file name inside the weights folders.
        sha256: hex digest of the file.
        size: size in bytes.
        family: model family (``irn``, ``ilc``, ``irae``, ``baselines``, ``pix2pix``, ...).
        task: what the weights do (``rescale x4``, ``denoise``, ``compress``, ...).
        card: file name of the model card (markdown) beside the weights.
        claims: the headline numbers the card reports (metric name -> value).
    """

    name: str
    tag: str
    file: str
    sha256: str
    size: int
    family: str
    task: str
    card: str | None
    claims: dict[str, float | str] = field(default_factory=dict)

    @property
    def versioned_name(self) -> str:
        """``name.tag``, e.g. ``irn-x4.cpu-2026-11``."""
        return f"{self.name}.{self.tag}"


def package_weights_dir() -> Path:
    """The ``weights`` folder inside the installed package (holds the manifest, the files and their cards)."""
    return Path(__file__).resolve().parent / "weights"


def manifest_path() -> Path:
    return package_weights_dir() / _MANIFEST


def cache_dir() -> Path:
    """The user cache of weights: ``$XDG_CACHE_HOME/invrestore/weights``, default ``~/.cache/invrestore/weights``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "invrestore" / "weights"


_cache: dict[str, Any] = {}


def _read_manifest() -> dict[str, WeightsEntry]:
    path = manifest_path()
    try:
        st = path.stat()
        stamp = (str(path), st.st_mtime_ns, st.st_size)
    except OSError as e:
        raise CheckpointError(f"the weights manifest '{path}' is missing: reinstall invrestore") from e
    if _cache.get("stamp") == stamp:
        entries: dict[str, WeightsEntry] = _cache["entries"]
        return entries
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        items = raw["weights"]
        entries = {}
        for item in items:
            entry = WeightsEntry(**{k: item.get(k) for k in _FIELDS if k != "claims"}, claims=dict(item["claims"]))
            entries[entry.name] = entry
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"the weights manifest '{path}' is unreadable ({e}): reinstall invrestore") from e
    _cache.update(stamp=stamp, entries=entries)
    return entries


def load_manifest() -> dict[str, WeightsEntry]:
    """Every shipped weights entry, by model name (a copy: editing it changes nothing)."""
    return dict(_read_manifest())


def weights_entry(name: str) -> WeightsEntry:
    """The manifest entry of model ``name``.

    Raises:
        CheckpointError: no weights ship with ``name`` (the message lists those that do).
    """
    entries = _read_manifest()
    if name not in entries:
        raise CheckpointError(
            f"no pretrained weights ship with '{name}' in this version of invrestore (shipped: "
            f"{', '.join(sorted(entries))}); pass --weights PATH (a checkpoint of ours, or an official release file)"
        )
    return entries[name]


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}


def _cached_sha256(path: Path) -> str:
    """sha256 of ``path``, remembered per (path, size, mtime) so repeated loads in one process hash once."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        _verified[key] = file_sha256(path)
    return _verified[key]


def verify_file(name: str, path: str | Path) -> Path:
    """Check that ``path`` is the manifest's file for ``name`` (size and sha256); returns the path.

    Raises:
        CheckpointError: unreadable file or another sha256 (names the file, the expected and the actual hash).
    """
    entry = weights_entry(name)
    p = Path(path)
    try:
        actual = _cached_sha256(p)
    except OSError as e:
        raise CheckpointError(f"cannot read the weights of '{name}' at '{p}': {e.strerror or e}") from e
    if actual != entry.sha256:
        raise CheckpointError(
            f"'{p}' is not the shipped {entry.versioned_name} weights: sha256 {actual} ≠ the manifest's "
            f"{entry.sha256}; the file is corrupt or was replaced (check all with `invrestore weights verify`)"
        )
    return p


def search_path() -> list[tuple[str, Path]]:
    """The folders searched for shipped files, in order: ``$INVRESTORE_WEIGHTS``, the user cache, the package."""
    out: list[tuple[str, Path]] = []
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        out.append((f"${ENV_WEIGHTS}", Path(env)))
    out.append(("cache", cache_dir()))
    out.append(("package", package_weights_dir()))
    return out


def locate_weights(name: str) -> tuple[str, Path]:
    """Where the shipped file of ``name`` is found first (``(origin, path)``), without verifying it.

    Raises:
        CheckpointError: no weights ship with ``name``, or the file is in none of the folders.
    """
    entry = weights_entry(name)
    for origin, folder in search_path():
        cand = folder / entry.file
        if cand.is_file():
            return origin, cand
    where = ", ".join(str(folder) for _, folder in search_path())
    raise CheckpointError(
        f"the weights file '{entry.file}' of '{name}' is in none of {where}: reinstall invrestore or put it in "
        f"${ENV_WEIGHTS}"
    )


def resolve_weights(name: str, weights: str | Path | None = None) -> Path:
    """The weights file model ``name`` should load: ``weights`` if given (not checked against the manifest),
    else the manifest's file from ``$INVRESTORE_WEIGHTS``, the user cache or the package, sha256-verified.

    Raises:
        CheckpointError: ``weights`` does not exist; no weights ship with ``name``; the file found has another
            sha256 than the manifest's.
    """
    if weights is not None:
        p = Path(weights)
        if not p.exists():
            raise CheckpointError(f"weights '{p}' not found")
        return p
    _, path = locate_weights(name)
    return verify_file(name, path)


# -- training run folders ----------------------------------------------------------------------------------------
def run_config(weights: str | Path) -> Path | None:
    """The ``config.yaml`` of the training run ``weights`` comes from (a run folder, a checkpoint folder such as
    ``run/best``, or a file inside one), if any."""
    p = Path(weights)
    folder = p if p.is_dir() else p.parent
    for cand in (folder / "config.yaml", folder.parent / "config.yaml"):
        if cand.is_file():
            return cand
    return None


def weights_file(weights: str | Path) -> Path:
    """The weights file of ``weights``: the file itself, or in a folder its ``model.safetensors``, else
    ``best/model.safetensors``, else ``last/model.safetensors``.

    Raises:
        CheckpointError: nothing there.
    """
    p = Path(weights)
    if p.is_file():
        return p
    if p.is_dir():
        for cand in (p / "model.safetensors", p / "best" / "model.safetensors", p / "last" / "model.safetensors"):
            if cand.is_file():
                return cand
        raise CheckpointError(f"'{p}' holds no model.safetensors (nor best/ or last/ checkpoints)")
    raise CheckpointError(f"weights '{p}' not found")


# -- model cards ---------------------------------------------------------------------------------------------------
def card_path(name: str) -> Path | None:
    """The model card of ``name`` (a shipped model), or None."""
    entry = weights_entry(name)
    if entry.card is None:
        return None
    p = package_weights_dir() / entry.card
    return p if p.is_file() else None


def card_text(name: str) -> str:
    """The markdown text of the model card of ``name`` ("" when it has none)."""
    p = card_path(name)
    return p.read_text(encoding="utf-8") if p is not None else ""


def card_commands(text: str) -> list[str]:
    """The command lines a card gives to reproduce its numbers: every inline code span that runs ``invrestore``,
    ``python`` or ``make`` (in order, without repeats)."""
    import re

    out: list[str] = []
    fenceless = re.sub(r"```.*?```", "", text, flags=re.S)  # fenced blocks are not command spans here
    for span in re.findall(r"`([^`]{1,600})`", fenceless):  # a span may wrap over lines of the card
        if "\n\n" in span:
            continue
        s = " ".join(span.split())
        words = s.split()
        while words and "=" in words[0] and not words[0].startswith("-"):  # leading VAR=value
            words = words[1:]
        runs = len(words) > 1 and words[0] in ("invrestore", "python", "make", "torchrun", "bash")
        if runs and s not in out:
            out.append(s)
    return out


#: What weights of a family do when neither the caller nor the registry says.
FAMILY_TASKS = {
    "irn": "rescale",
    "ilc": "compress",
    "irae": "restore",
    "baselines": "restore",
    "pix2pix": "restore",
    "selfvae": "generate",
}


# -- adopting new weights ----------------------------------------------------------------------------------------
def _write_manifest(entries: Mapping[str, WeightsEntry]) -> None:
    path = manifest_path()
    doc = {
        "about": "Shipped weights of invrestore: one entry per file (see docs/zoo.md). Update with "
        "invrestore.models.catalog.adopt_weights(), never by hand: the sha256 and size must match the file.",
        "weights": [asdict(entries[n]) for n in sorted(entries)],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _cache.clear()


def update_manifest_entry(
    name: str,
    file: Path,
    *,
    tag: str,
    claims: dict[str, float | str],
    card: str | None = None,
    task: str | None = None,
    family: str,
) -> None:
    """Adopt ``file`` as the shipped weights of model ``name``: copy it into the package's weights folder (unless
    it is already there), recompute its sha256 and size, and write the manifest entry (created or replaced).
    This module knows no models: :func:`invrestore.models.catalog.adopt_weights` checks the name against the
    registry and passes its family and task.

    Args:
        name: the model's registry name.
        family: its family (``irn``).
        file: the safetensors file to ship.
        tag: version tag, e.g. ``cpu-2026-11`` or ``h100-s5``.
        claims: the numbers its card reports, e.g. ``{"Set5_Y_PSNR": 39.89}``.
        card: the card's file name in the weights folder (default: the existing entry's, else ``<name>.md`` when
            that file exists).
        task: what the weights do (default: the existing entry's, else a family default such as ``compress`` or
            ``rescale``).

    Raises:
        ConfigError: empty tag, or a card file that does not exist.
        CheckpointError: ``file`` is missing.
    """
    if not tag or any(c.isspace() for c in tag):
        raise ConfigError(f"the tag must be a non-empty word, got {tag!r}")
    src = Path(file)
    if not src.is_file():
        raise CheckpointError(f"weights file '{src}' not found")
    folder = package_weights_dir()
    dst = folder / src.name
    if src.resolve() != dst.resolve():
        fd, tmp = tempfile.mkstemp(prefix=f".{src.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    entries = dict(_read_manifest()) if manifest_path().is_file() else {}
    old = entries.get(name)
    if card is None:
        card = old.card if old is not None else (f"{name}.md" if (folder / f"{name}.md").is_file() else None)
    if card is not None and not (folder / card).is_file():
        raise ConfigError(f"model card '{card}' is not in {folder}")
    if task is None:
        task = old.task if old is not None else FAMILY_TASKS.get(family, family)
    entries[name] = WeightsEntry(
        name=name,
        tag=tag,
        file=dst.name,
        sha256=file_sha256(dst),
        size=dst.stat().st_size,
        family=family,
        task=task,
        card=card,
        claims=dict(claims),
    )
    _write_manifest(entries)
