"""FID over image folders, with the FID Inception-v3 (:mod:`invrestore.metrics.inception_net`, re-exported here).

FID helpers: :func:`folder_feature_stats` (a folder → :class:`~invrestore.metrics.perceptual.FeatureStats`),
:func:`fid_statistics` (a folder or a ``.npz`` of ``mu``/``sigma`` → ``(mu, sigma, count)``),
:func:`fid_from_folders` / :func:`fid_between`, and :func:`save_fid_stats` / :func:`load_fid_stats` (pytorch-fid's
``.npz`` layout). Import this module by its full path (``invrestore.metrics.inception``), like
:mod:`invrestore.metrics.perceptual`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError, DatasetNotFoundError
from invrestore.metrics.inception_net import (
    INPUT_SIZE,
    WEIGHTS_ENV,
    WEIGHTS_FILE,
    WEIGHTS_URL,
    FIDInceptionV3,
    load_fid_inception,
    resolve_device,
)
from invrestore.metrics.perceptual import FeatureStats, frechet_distance

__all__ = [
    "INPUT_SIZE",
    "WEIGHTS_ENV",
    "WEIGHTS_FILE",
    "WEIGHTS_URL",
    "FIDInceptionV3",
    "fid_between",
    "fid_from_folders",
    "fid_statistics",
    "folder_feature_stats",
    "load_fid_inception",
    "load_fid_stats",
    "resolve_device",
    "save_fid_stats",
]


# -- FID over folders -------------------------------------------------------------------------------------------------
def _read_rgb(path: Path) -> Tensor:
    """``(3, H, W)`` float32 in [0, 1] the way pytorch-fid reads (PIL → RGB → ``ToTensor``: uint8 / 255 in
    float32); grayscale is replicated, alpha dropped; 16-bit files are divided by 65535."""
    from invrestore.io import read_image_uint

    arr = read_image_uint(path, mode="rgb", alpha="drop")
    if arr.dtype == np.uint16:
        t = torch.from_numpy(arr.astype(np.float32)).div(65535.0)
    else:
        t = torch.from_numpy(np.array(arr, dtype=np.uint8)).float().div(255.0)
    return t.permute(2, 0, 1).contiguous()


def _batches(files: Sequence[Path], batch_size: int) -> Iterator[Tensor]:
    """Batches of at most ``batch_size`` images; consecutive images of one size are stacked, a size change starts a
    new batch (the network resizes every image to 299² anyway, so mixed sizes give the same features)."""
    pending: list[Tensor] = []
    for f in files:
        img = _read_rgb(f)
        if pending and (len(pending) == batch_size or pending[0].shape != img.shape):
            yield torch.stack(pending)
            pending = []
        pending.append(img)
    if pending:
        yield torch.stack(pending)


def _list_folder(folder: str | Path) -> list[Path]:
    from invrestore.io import list_images

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetNotFoundError(f"image folder '{folder}' not found")
    files = list_images(folder)
    if len(files) < 2:
        raise DatasetNotFoundError(
            f"'{folder}' holds {len(files)} image(s); FID needs at least 2 (a covariance), and thousands for "
            "a meaningful number (pytorch-fid recommends at least 2048)"
        )
    return files


def folder_feature_stats(
    folder: str | Path,
    extractor: nn.Module,
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> FeatureStats:
    """Run ``extractor`` over the images of ``folder`` (non-recursive, sorted) and accumulate their statistics.

    Args:
        extractor: a module with ``num_features`` mapping ``(B, 3, H, W)`` in [0, 1] to ``(B, D)``, e.g. a
            :func:`load_fid_inception` network. It is moved to ``device`` and run in eval mode without gradients.
        batch_size: images per forward pass (pytorch-fid's default is 50).
        device: ``None``: CUDA when available, else CPU.
        progress: show a tqdm bar (on stderr) over the images.

    Raises:
        DatasetNotFoundError: no such folder, or fewer than 2 images.
        ImageReadError: an unreadable image.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    from tqdm import tqdm

    files = _list_folder(folder)
    dev = resolve_device(device)
    extractor.to(dev)
    stats = FeatureStats(extractor)
    with tqdm(total=len(files), desc=desc or Path(folder).name, unit="img", disable=not progress) as bar:
        for batch in _batches(files, batch_size):
            stats.update(batch.to(dev))
            bar.update(len(batch))
    return stats


def _is_stats_file(source: str | Path) -> bool:
    p = Path(source)
    return p.suffix.lower() == ".npz" and not p.is_dir()


def load_fid_stats(path: str | Path) -> tuple[Tensor, Tensor]:
    """``(mu, sigma)`` from an ``.npz`` with those arrays (ours or pytorch-fid's / TTUR's precomputed files)."""
    return FeatureStats.load_npz(path)


def save_fid_stats(
    path: str | Path, mu: Tensor | np.ndarray, sigma: Tensor | np.ndarray, count: int | None = None
) -> Path:
    """Write ``mu``, ``sigma`` (float64) and, if given, ``count`` (the number of images) as an ``.npz`` — the layout
    of :meth:`FeatureStats.save_npz` and pytorch-fid — atomically. ``.npz`` is appended to a path without it (as
    ``numpy.savez`` does). Returns the path written."""
    from invrestore.io import atomic_write

    path = Path(path)
    if path.suffix.lower() != ".npz":
        path = path.with_name(path.name + ".npz")
    m = torch.as_tensor(mu).detach().cpu().double().numpy()
    s = torch.as_tensor(sigma).detach().cpu().double().numpy()
    with atomic_write(path) as fh:
        if count is None:
            np.savez(fh, mu=m, sigma=s)
        else:
            np.savez(fh, mu=m, sigma=s, count=np.asarray(count, dtype=np.int64))
    return path


def fid_statistics(
    source: str | Path,
    extractor: nn.Module | None,
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[Tensor, Tensor, int | None]:
    """``(mu, sigma, count)`` of an image folder (through ``extractor``) or of a ``.npz`` statistics file (``count``
    is ``None`` when the file does not record it; ``extractor`` may then be ``None``).

    Raises:
        ConfigError: a folder but no extractor.
        DatasetNotFoundError, CheckpointError: a missing folder/file, too few images, a ``.npz`` without mu/sigma.
    """
    if _is_stats_file(source):
        mu, sigma = load_fid_stats(source)
        with np.load(Path(source)) as f:
            count = int(f["count"]) if "count" in f else None
        return mu, sigma, count
    if extractor is None:
        raise ConfigError(f"'{source}' is an image folder: a feature extractor is needed")
    stats = folder_feature_stats(source, extractor, batch_size, device, progress)
    mu, sigma = stats.compute()
    return mu, sigma, stats.count


def fid_between(
    real: str | Path,
    fake: str | Path,
    extractor: nn.Module | None,
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> float:
    """FID between two sources, each an image folder or a ``.npz`` of ``mu``/``sigma``."""
    a = fid_statistics(real, extractor, batch_size, device, progress)
    b = fid_statistics(fake, extractor, batch_size, device, progress)
    return frechet_distance(a[0], a[1], b[0], b[1])


def fid_from_folders(
    real_dir: str | Path,
    fake_dir: str | Path,
    extractor: nn.Module,
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> float:
    """FID between the images of two folders: Fréchet distance of the Gaussians fitted to their ``extractor``
    features (the FID when ``extractor`` is :func:`load_fid_inception`'s network).

    Raises:
        DatasetNotFoundError: a missing folder or fewer than 2 images in one.
        ImageReadError: an unreadable image.
    """
    real = folder_feature_stats(real_dir, extractor, batch_size, device, progress)
    fake = folder_feature_stats(fake_dir, extractor, batch_size, device, progress)
    return real.frechet_distance(fake)
