"""Training and evaluation glue of the selfVAE family: the CIFAR-10 dataset, bpd evaluation and the training task
(``family: selfvae``) that plugs VAE/selfVAE into the generic loop (``invrestore train``).

Validation reports the negative ELBO in bits per dimension (``bpd``, lower is better); the loop keeps the checkpoint
with the *highest* ``best_metric``, so the task's ``best_metric`` is ``neg_bpd = −bpd`` (the best checkpoint is the
one with the lowest validation NELBO, as the official code).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.errors import ConfigError, DatasetNotFoundError
from invrestore.metrics.rate import bits_per_dim
from invrestore.models.registry import MODELS, build_model, register_task
from invrestore.models.selfvae.config import DATASETS_64, SelfVAEConfig, SelfVAEModelConfig
from invrestore.models.selfvae.data import load_cifar10, to_unit, train_val_split
from invrestore.models.selfvae.losses import (
    importance_log_weights,
    iw_nll_from_log_weights,
    legacy_nll_from_log_weights,
    training_losses,
)
from invrestore.train.task import BaseTask

__all__ = [
    "BpdResult",
    "CifarImages",
    "SelfVAETask",
    "evaluate_bpd",
    "load_split",
    "preset_values",
    "resolve_cifar_path",
    "shift_flip",
]


def resolve_cifar_path(dataset: str, root: str | Path | None = None) -> Path:
    """A registered dataset name (``CIFAR-10``, ``CIFAR-10-partial``) or an existing path → the data location.

    Raises:
        DatasetNotFoundError: unknown name, or not found under the data root.
    """
    p = Path(dataset).expanduser()
    if p.exists():
        return p
    from invrestore.data import resolve_dataset

    return resolve_dataset(dataset, root).path


def load_split(
    dataset: str,
    split: str,
    root: str | Path | None = None,
    val_fraction: float = 0.15,
    split_seed: int = 0,
) -> Tensor:
    """uint8 images ``(N, 3, S, S)`` of ``split`` (S = 32 for CIFAR-10, 64 for ``CelebA`` / ``Imagenette64``):
    ``"train"`` (minus the held-out fraction), ``"val"`` (the
    held-out random ``val_fraction`` of the training split, official 15%), ``"test"`` (official test split) or
    ``"train-full"`` (the whole training split).

    Raises:
        DatasetNotFoundError: missing data. ConfigError: unknown split.
    """
    if split not in ("train", "val", "test", "train-full"):
        raise ConfigError(f"unknown split {split!r} (train, val, test, train-full)")
    if dataset.lower() in DATASETS_64:
        from invrestore.models.selfvae.data import load_external

        images = load_external(dataset, "test" if split == "test" else "train", root)
    else:
        path = resolve_cifar_path(dataset, root)
        try:
            images = load_cifar10(path, "test" if split == "test" else "train")[0]
        except (FileNotFoundError, KeyError, ValueError) as e:
            raise DatasetNotFoundError(f"cannot read CIFAR-10 images from '{path}': {e}") from e
    if split in ("test", "train-full"):
        return images
    train_idx, val_idx = train_val_split(images.shape[0], val_fraction, split_seed)
    return images[train_idx if split == "train" else val_idx]


def shift_flip(x: Tensor, flip: bool, dy: int, dx: int) -> Tensor:
    """Flip ``(C,H,W)`` horizontally (optional), then translate it by ``(dy, dx)`` pixels with edge replication."""
    if flip:
        x = x.flip(-1)
    h, w = x.shape[-2:]
    rows = (torch.arange(h) - dy).clamp(0, h - 1)
    cols = (torch.arange(w) - dx).clamp(0, w - 1)
    return x[..., rows[:, None], cols[None, :]]


class CifarImages(Dataset[dict[str, Tensor]]):
    """uint8 images as model inputs ``{"x": (3, S, S) float32 on {0, 1/255, …, 1}}``.

    With ``augment`` the official CIFAR augmentation (``HFlip → Pad(⌈0.05·S⌉, edge) → RandomAffine(translate 0.05)
    → CenterCrop(S)``) is applied as: flip with probability ½, then an integer shift ``round(U(−m, m))`` per axis with
    ``m = 0.05·(S + 2·pad)`` and edge replication. The randomness is a function of ``(seed, virtual index)``, so a
    resumed run sees the same images.
    """

    accepts_virtual_index = True

    def __init__(self, images: Tensor, augment: bool = False, seed: int = 0) -> None:
        if images.ndim != 4 or images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 (N, C, H, W) images, got {images.dtype} {tuple(images.shape)}")
        self.images, self.augment, self.seed = images, augment, seed
        size = images.shape[-1]
        self.max_shift = 0.05 * (size + 2 * math.ceil(0.05 * size))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        x = self.images[index % len(self)]
        if self.augment:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
            flip = bool(torch.rand((), generator=g) < 0.5)
            m = self.max_shift
            dy, dx = (round(float(v)) for v in (torch.rand(2, generator=g) * 2 * m - m))
            x = shift_flip(x, flip, dy, dx)
        return {"x": to_unit(x)}


@dataclass
class BpdResult:
    """Dataset means of the bpd estimators (bits per dimension of ``x``).

    Attributes:
        elbo_bpd: negative ELBO, averaged over the ``K`` samples of each image (an unbiased ELBO estimate).
        iw_bpd: importance-weighted NLL, per image ``−(logsumexp_k log w_k − log K)`` (≤ ``elbo_bpd`` per image).
        legacy_bpd: the official srVAE estimator (per batch ``logsumexp_k(mean_b NELBO_k) − log K``, averaged over
            batches weighted by their size), when requested; it depends on the batch size and lies above the ELBO.
    """

    elbo_bpd: float
    iw_bpd: float
    num_images: int
    iw_samples: int
    legacy_bpd: float | None = None


def _batches(images: Tensor, batch_size: int) -> Iterator[Tensor]:
    for i in range(0, images.shape[0], batch_size):
        yield images[i : i + batch_size]


@torch.no_grad()
def evaluate_bpd(
    model: nn.Module,
    images: Tensor,
    iw_samples: int = 1,
    batch_size: int = 16,
    chunk: int = 32,
    seed: int = 0,
    device: torch.device | str = "cpu",
    legacy: bool = False,
) -> BpdResult:
    """ELBO and importance-weighted bpd of uint8 ``images (N, 3, S, S)``, seeded (model put in eval mode).

    Both estimators use the same ``K = iw_samples`` log-weights per image, so ``iw_bpd ≤ elbo_bpd`` holds exactly
    (Jensen); ``K = 1`` gives the single-sample ELBO for both.
    """
    if images.shape[0] == 0:
        raise DatasetNotFoundError("no images to evaluate")
    device = torch.device(device)
    model.eval()
    g = torch.Generator(device=device).manual_seed(seed)
    dims = images[0].numel()
    elbo = iw = legacy_sum = 0.0
    for xb in _batches(images, batch_size):
        x = to_unit(xb).to(device)
        log_w = importance_log_weights(model, x, iw_samples, chunk, g).double()
        elbo += float(bits_per_dim(-log_w.mean(dim=0), dims).sum())
        iw += float(bits_per_dim(iw_nll_from_log_weights(log_w), dims).sum())
        if legacy:
            legacy_sum += float(bits_per_dim(legacy_nll_from_log_weights(log_w), dims)) * x.shape[0]
    n = images.shape[0]
    return BpdResult(elbo / n, iw / n, n, iw_samples, legacy_sum / n if legacy else None)


def preset_values(model_cfg: SelfVAEModelConfig) -> dict[str, Any]:
    """The registered values of the model config's fields left ``None`` (the preset's, else the constructor's
    default), so that ``build_model(model_cfg, **preset_values(model_cfg))`` builds the preset with the set
    fields changed."""
    entry = MODELS[model_cfg.name]
    params = inspect.signature(entry.builder).parameters
    out: dict[str, Any] = {}
    for f in fields(model_cfg):
        if f.name != "name" and getattr(model_cfg, f.name) is None:
            out[f.name] = entry.kwargs[f.name] if f.name in entry.kwargs else params[f.name].default
    return out


@register_task("selfvae", SelfVAEConfig)
class SelfVAETask(BaseTask[SelfVAEConfig]):
    """Trains a VAE/selfVAE with the official srVAE recipe (see :class:`~.config.SelfVAEConfig`).

    Validation returns ``bpd`` (negative ELBO, bits/dim), ``nelbo`` (nats) and ``neg_bpd = −bpd`` (the
    ``best_metric``: higher is better), plus ``iw_bpd`` when ``loss.val_iw_samples > 0``.
    """

    best_metric = "neg_bpd"
    # --fast: no device-resident data (CIFAR is not a PairedDataset) and no channels-last (its small convolutions and
    # dense layers ran 12 % slower in it on the CPU, docs/training.md)
    fast_settings = ("train.precision=bf16", "train.fused_optim=true", "train.sync_every=10")

    def __init__(self, cfg: SelfVAEConfig) -> None:
        super().__init__(cfg)
        self._val: Tensor | None = None

    def build_model(self) -> nn.Module:
        """The registered model with the settings of ``cfg.model`` (the config checked the name and that its image
        size fits ``data.dataset``)."""
        m = self.cfg.model
        return build_model(m, **preset_values(m))

    def _split(self, split: str) -> Tensor:
        d = self.cfg.data
        return load_split(d.dataset, split, d.root, d.val_fraction, d.split_seed)

    def train_dataset(self) -> Dataset[Any]:
        d = self.cfg.data
        return CifarImages(self._split("train"), augment=d.augment, seed=self.train.seed)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return training_losses(model, batch["x"], generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        d, lc = self.cfg.data, self.cfg.loss
        if self._val is None:
            images = self._split(d.val_split)
            self._val = images[: d.val_limit] if d.val_limit else images
        if self._val.shape[0] == 0:
            return {}
        res = evaluate_bpd(model, self._val, 1, lc.val_batch_size, 1, lc.val_seed, device)
        dims = self._val[0].numel()
        out = {"bpd": res.elbo_bpd, "neg_bpd": -res.elbo_bpd, "nelbo": res.elbo_bpd * dims * math.log(2)}
        if lc.val_iw_samples > 0:
            iw = evaluate_bpd(
                model, self._val, lc.val_iw_samples, max(1, lc.val_batch_size // 8), 32, lc.val_seed, device
            )
            out["iw_bpd"] = iw.iw_bpd
        return out
