"""Paired restoration data: degraded/clean pairs with seeded crops and flips applied identically to both images.

Items are ``{"x": clean (3, h, w), "x_lq": degraded (3, h, w)}`` in [0, 1]; samples depend on
``(seed, epoch, index)``, as :class:`~invrestore.data.PairedDataset`. The storage forms:

- :class:`PairedFiles`: a list of ``(degraded, clean)`` image files;
- :class:`PairedFolders`: two folders paired by file stem (:func:`pair_files`, ``match="stem"`` or ``"prefix"``);
- :class:`SideBySideImages`: one image per pair, the two halves side by side;
- :class:`ArrayPairs`: uint8 arrays already in memory (e.g. SIDD's validation blocks).

The named paired datasets (SIDD, RESIDE, the rain sets) are entries of the registry built on these
(:mod:`invrestore.data.layouts`, :mod:`invrestore.data.catalog`); see ``docs/data.md``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from invrestore.data.datasets import augment, sample_generator
from invrestore.data.locate import PathLike, check_count, report_unmatched
from invrestore.errors import ConfigError, DatasetNotFoundError, ImageShapeError
from invrestore.io import list_images, read_image

__all__ = [
    "ArrayPairs",
    "Match",
    "PairedFiles",
    "PairedFolders",
    "PairedImages",
    "SideBySideImages",
    "pair_files",
]


class PairedImages(Dataset[dict[str, Tensor]], ABC):
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
        self.root: Path | None = None  # the dataset folder, for registered datasets
        self.split = ""

    def num_pairs(self) -> int:
        return len(self.names)

    @abstractmethod
    def load_pair(self, index: int) -> tuple[Tensor, Tensor]:
        """``(degraded, clean)`` full images of pair ``index`` (``0 ≤ index < num_pairs()``); each layout defines it."""

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


def paired_options(kw: dict[str, Any]) -> dict[str, Any]:
    """``kw`` if it holds only :class:`PairedImages` options (else ``TypeError``, as for a wrong keyword)."""
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
        super().__init__(**paired_options(options))
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
        report_unmatched(name, split, unmatched, len(degraded), cd, strict)
        check_count(name, split, len(pairs), expected, dd, strict)
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
        super().__init__(**paired_options(options))
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


def _unit(a: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float().div_(255.0).contiguous()


class ArrayPairs(PairedImages):
    """Pairs held as two uint8 arrays ``(N, H, W, 3)`` (degraded, clean), e.g. SIDD's validation blocks.

    Args:
        degraded, clean: the arrays (same shape).
        names: one name per pair.
        **options: :class:`PairedImages` options.
    """

    def __init__(self, degraded: np.ndarray, clean: np.ndarray, names: Sequence[str], **options: Any) -> None:
        super().__init__(**paired_options(options))
        if degraded.shape != clean.shape:
            raise ImageShapeError(f"degraded images {degraded.shape} and clean ones {clean.shape} differ")
        self.degraded, self.clean = degraded, clean
        self.names = list(names)

    def load_pair(self, index: int) -> tuple[Tensor, Tensor]:
        return _unit(self.degraded[index]), _unit(self.clean[index])
