"""Perceptual metrics with local weight files: LPIPS and the Fréchet (FID) arithmetic.

No ImageNet or Inception weights ship with invrestore and none are downloaded: every network here loads a file the
user gives by path (torchvision's ``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth`` for the LPIPS backbones,
the LPIPS v0.1 linear heads ``alex.pth`` / ``vgg.pth`` from the ``lpips`` or ``torchmetrics`` package). See
``docs/irn-extensions.md``.

- :class:`LPIPS` — Zhang et al. 2018, v0.1: ImageNet-normalised backbone taps, unit-normalised along channels,
  squared difference, non-negative 1×1 linear heads, spatial mean, sum over the taps. Images in [0, 1].
- :func:`frechet_distance` — ``‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^{½}`` in float64.
- :class:`FeatureStats` — running mean/covariance of any feature extractor's outputs (a module with
  ``.num_features``, e.g. an FID-Inception port loaded from a local file); two of them give an FID.

Import this module by its full path (``invrestore.metrics.perceptual``); it is not re-exported by
:mod:`invrestore.metrics`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from invrestore.errors import CheckpointError, ConfigError, ImageShapeError
from invrestore.metrics.backbones import AlexNetFeatures, TorchvisionFeatures, VGG16Features

__all__ = ["LPIPS", "FeatureStats", "frechet_distance", "load_lpips_heads"]

_BACKBONES: dict[str, type[AlexNetFeatures] | type[VGG16Features]] = {"alex": AlexNetFeatures, "vgg": VGG16Features}
_HEAD_KEY = re.compile(r"(?:^|\.)lins?\.?(\d+)\.(?:model\.1\.)?weight$")


def load_lpips_heads(path: str | Path | None, channels: tuple[int, ...], backbone: str) -> list[Tensor]:
    """Read LPIPS linear-head weights: one ``(1, C, 1, 1)`` tensor per backbone tap.

    Accepts the v0.1 files of the ``lpips`` / ``torchmetrics`` packages (keys ``lin0.model.1.weight`` …), a whole
    ``lpips.LPIPS`` state dict (``lins.0.model.1.weight`` …; other keys ignored) or :class:`LPIPS`'s own
    (``heads.0.weight`` …).

    Raises:
        CheckpointError: no path, a missing/unreadable file, or a wrong number/shape of heads.
    """
    what = f"LPIPS v0.1 linear heads for '{backbone}' ({backbone}.pth of the lpips/torchmetrics packages)"
    if path is None or str(path) == "":
        raise CheckpointError(f"no path given for the {what}: they are not shipped; pass head_weights=PATH")
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found at '{path}'")
    try:
        sd: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"cannot read '{path}': {type(e).__name__}: {e}") from e
    if not isinstance(sd, dict):
        raise CheckpointError(f"'{path}' does not hold a state dict")
    heads: dict[int, Tensor] = {}
    for k, v in sd.items():
        m = _HEAD_KEY.search(k) or re.search(r"(?:^|\.)heads\.(\d+)\.weight$", k)
        if m and isinstance(v, Tensor):
            heads[int(m.group(1))] = v
    if sorted(heads) != list(range(len(channels))):
        raise CheckpointError(f"'{path}' holds heads {sorted(heads)}, expected {len(channels)} for {what}")
    out = [heads[i].reshape(1, -1, 1, 1).float() for i in range(len(channels))]
    bad = [i for i, (w, c) in enumerate(zip(out, channels, strict=True)) if w.shape[1] != c]
    if bad:
        raise CheckpointError(f"'{path}': head {bad[0]} has {out[bad[0]].shape[1]} channels, not {channels[bad[0]]}")
    return out


def _unit_normalize(f: Tensor, eps: float = 1e-10) -> Tensor:
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPS(nn.Module):
    """Learned Perceptual Image Patch Similarity (v0.1), loaded from local files.

    Args:
        backbone: ``"alex"`` (AlexNet relu1–relu5) or ``"vgg"`` (VGG16 relu1_2 … relu5_3).
        backbone_weights: torchvision's ImageNet file (``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth``).
        head_weights: the LPIPS v0.1 heads (``alex.pth`` / ``vgg.pth``).

    The LPIPS input scaling of a [−1, 1] image (shift ``2m − 1``, scale ``2s``) equals ImageNet normalisation of
    the [0, 1] image, which is what the backbone applies. The heads' dropout is omitted (LPIPS is evaluated in eval
    mode). Call ``lpips(x, y)`` with ``(B,3,H,W)`` or ``(3,H,W)`` images in [0, 1]: returns ``(B,)`` or a 0-d
    tensor; no gradients reach the weights (they are frozen), but they do reach the images.

    Raises:
        ConfigError: an unknown backbone.
        CheckpointError: a missing weight file (the message names the expected file).
    """

    def __init__(
        self, backbone: str = "alex", backbone_weights: str | Path | None = None, head_weights: str | Path | None = None
    ) -> None:
        super().__init__()
        if backbone not in _BACKBONES:
            raise ConfigError(f"LPIPS backbone must be one of {sorted(_BACKBONES)}, not {backbone!r}")
        cls = _BACKBONES[backbone]
        self.backbone_name = backbone
        self.taps = cls.lpips_taps
        self.backbone: TorchvisionFeatures = cls.from_file(backbone_weights)
        heads = load_lpips_heads(head_weights, cls.lpips_channels, backbone)
        self.heads = nn.ModuleList()
        for w in heads:
            conv = nn.Conv2d(w.shape[1], 1, kernel_size=1, bias=False)
            conv.weight.data.copy_(w)
            conv.weight.requires_grad_(False)
            self.heads.append(conv)
        self.eval()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """LPIPS distance between ``x`` and ``y`` (same shape, RGB in [0, 1])."""
        if x.shape != y.shape:
            raise ImageShapeError(f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
        single = x.ndim == 3
        if single:
            x, y = x.unsqueeze(0), y.unsqueeze(0)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ImageShapeError(f"LPIPS expects RGB images (B, 3, H, W) or (3, H, W), got {tuple(x.shape)}")
        fx = self.backbone.taps(x, self.taps)
        fy = self.backbone.taps(y, self.taps)
        total = x.new_zeros(x.shape[0])
        for a, b, head in zip(fx, fy, self.heads, strict=True):
            d = (_unit_normalize(a) - _unit_normalize(b)).pow(2)
            total = total + head(d).mean(dim=(1, 2, 3))
        return total[0] if single else total


# -- FID arithmetic -------------------------------------------------------------------------------------------------
def _as_f64(a: Tensor | np.ndarray) -> Tensor:
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, Tensor) else a.detach().cpu())
    return t.to(torch.float64)


def _psd_sqrt(s: Tensor) -> Tensor:
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(
    mu1: Tensor | np.ndarray, sigma1: Tensor | np.ndarray, mu2: Tensor | np.ndarray, sigma2: Tensor | np.ndarray
) -> float:
    """Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂): ``‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^{½}``.

    ``tr (Σ₁Σ₂)^{½}`` is computed as the sum of the square roots of the eigenvalues of the symmetric PSD matrix
    ``Σ₁^{½} Σ₂ Σ₁^{½}`` (same spectrum as Σ₁Σ₂), in float64; negative round-off eigenvalues are clamped to 0, so
    singular covariances (fewer samples than features) need no ε offset.

    Raises:
        ImageShapeError: inconsistent shapes (a ``ValueError`` too), e.g. statistics of two different networks.
    """
    m1, m2, s1, s2 = _as_f64(mu1).flatten(), _as_f64(mu2).flatten(), _as_f64(sigma1), _as_f64(sigma2)
    d = m1.numel()
    if d == 1:  # np.cov of one feature is 0-d
        s1, s2 = s1.reshape(-1, 1), s2.reshape(-1, 1)
    if m2.numel() != d or s1.shape != (d, d) or s2.shape != (d, d):
        raise ImageShapeError(
            f"shapes do not match: mu {tuple(m1.shape)}/{tuple(m2.shape)}, sigma {tuple(s1.shape)}/{tuple(s2.shape)}"
        )
    r1 = _psd_sqrt(s1)
    m = r1 @ ((s2 + s2.T) / 2) @ r1
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    diff = m1 - m2
    return float(diff @ diff + torch.trace(s1) + torch.trace(s2) - 2 * tr_covmean)


class FeatureStats:
    """Running mean and (unbiased, N − 1) covariance of feature vectors, accumulated in float64.

    Args:
        extractor: a module mapping images ``(B, C, H, W)`` to features ``(B, D)`` (or ``(B, D, 1, 1)``) with a
            ``num_features`` attribute = D; run under ``no_grad`` in eval mode by :meth:`update`. ``None``: feed
            features directly with :meth:`update_features` and give ``num_features``.
        num_features: D, when there is no extractor.

    Example: ``real, fake = FeatureStats(net), FeatureStats(net)``; ``update`` each with batches;
    ``real.frechet_distance(fake)`` is the FID when ``net`` is the FID-Inception pool3 network.
    """

    def __init__(self, extractor: nn.Module | None = None, num_features: int | None = None) -> None:
        if extractor is not None:
            nf = getattr(extractor, "num_features", None)
            if not isinstance(nf, int):
                raise ConfigError("the feature extractor must have an integer attribute 'num_features'")
            num_features = nf
        if num_features is None or num_features < 1:
            raise ConfigError("give a feature extractor or num_features")
        self.extractor = extractor
        self.num_features = num_features
        self.count = 0
        self._shift: Tensor | None = None  # the first batch's mean: accumulating f − shift avoids cancellation
        self._sum = torch.zeros(num_features, dtype=torch.float64)
        self._outer = torch.zeros(num_features, num_features, dtype=torch.float64)

    @torch.no_grad()
    def update(self, images: Tensor) -> None:
        """Run the extractor on a batch of images and accumulate its features."""
        if self.extractor is None:
            raise ConfigError("this FeatureStats has no extractor; use update_features()")
        was_training = self.extractor.training
        self.extractor.eval()
        try:
            feats = self.extractor(images)
        finally:
            self.extractor.train(was_training)
        self.update_features(feats)

    def update_features(self, features: Tensor | np.ndarray) -> None:
        """Accumulate feature vectors ``(N, D)`` (trailing singleton dimensions are dropped)."""
        f = _as_f64(features).reshape(len(features), -1)
        if f.shape[1] != self.num_features:
            raise ImageShapeError(f"expected {self.num_features} features per sample, got {f.shape[1]}")
        if f.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = f.mean(dim=0)
        f = f - self._shift
        self.count += f.shape[0]
        self._sum += f.sum(dim=0)
        self._outer += f.T @ f

    def compute(self) -> tuple[Tensor, Tensor]:
        """``(μ (D,), Σ (D, D))`` in float64.

        Raises:
            ValueError: fewer than two samples.
        """
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 samples, got {self.count}")
        n = self.count
        mu = self._sum / n
        sigma = (self._outer - n * torch.outer(mu, mu)) / (n - 1)
        assert self._shift is not None
        return mu + self._shift, (sigma + sigma.T) / 2

    def frechet_distance(self, other: FeatureStats) -> float:
        """The Fréchet distance between the two feature distributions (FID with Inception pool3 features)."""
        return frechet_distance(*self.compute(), *other.compute())

    def save_npz(self, path: str | Path) -> None:
        """Write ``mu`` and ``sigma`` as an ``.npz`` (the layout of pytorch-fid's precomputed statistics)."""
        mu, sigma = self.compute()
        np.savez(Path(path), mu=mu.numpy(), sigma=sigma.numpy())

    @staticmethod
    def load_npz(path: str | Path) -> tuple[Tensor, Tensor]:
        """Read ``(mu, sigma)`` from an ``.npz`` with those keys (for :func:`frechet_distance`)."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"statistics file '{path}' not found")
        with np.load(path) as f:
            if "mu" not in f or "sigma" not in f:
                raise CheckpointError(f"'{path}' has no 'mu'/'sigma' arrays")
            return _as_f64(f["mu"]), _as_f64(f["sigma"])
