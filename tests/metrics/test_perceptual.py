"""LPIPS with local (here: random) weight files, and the Fréchet arithmetic of FID checked against scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from invrestore.errors import CheckpointError, ConfigError, ImageShapeError
from invrestore.metrics.backbones import AlexNetFeatures, VGG16Features
from invrestore.metrics.perceptual import LPIPS, FeatureStats, frechet_distance, load_lpips_heads

# torchvision's conv indices in alexnet().features and vgg16().features
ALEX_CONVS = [0, 3, 6, 8, 10]
VGG16_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
BACKBONES = {"alex": AlexNetFeatures, "vgg": VGG16Features}


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Random backbones (torchvision layout) and random non-negative heads (lpips layout), per backbone."""
    root = tmp_path_factory.mktemp("lpips")
    out = {}
    torch.manual_seed(0)
    for name, cls in BACKBONES.items():
        bb = root / f"{name}-backbone.pth"
        torch.save(dict(cls(normalize_input=False).state_dict()), bb)
        heads = root / f"{name}.pth"
        torch.save({f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(cls.lpips_channels)}, heads)
        out[name] = (bb, heads)
    return out


def test_backbone_keys_follow_torchvision() -> None:
    for cls, convs in ((AlexNetFeatures, ALEX_CONVS), (VGG16Features, VGG16_CONVS)):
        assert list(cls().state_dict()) == [f"features.{i}.{p}" for i in convs for p in ("weight", "bias")]
    assert sum(p.numel() for p in AlexNetFeatures().parameters()) == 2_469_696
    assert sum(p.numel() for p in VGG16Features().parameters()) == 14_714_688


@pytest.mark.parametrize("backbone", ["alex", "vgg"])
def test_lpips_is_zero_for_identical_images_symmetric_and_positive_otherwise(
    backbone: str, weights: dict[str, tuple[Path, Path]]
) -> None:
    bb, heads = weights[backbone]
    metric = LPIPS(backbone, backbone_weights=bb, head_weights=heads)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 64, generator=g)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    with torch.no_grad():
        same = metric(x, x)
        d_xy, d_yx = metric(x, y), metric(y, x)
        far = metric(x, torch.rand(2, 3, 64, 64, generator=g))
    assert same.shape == (2,) and torch.equal(same, torch.zeros(2))
    torch.testing.assert_close(d_xy, d_yx)
    assert (d_xy > 0).all() and (far > d_xy).all()
    single = metric(x[0], y[0])
    assert single.ndim == 0 and torch.isclose(single, d_xy[0], rtol=1e-5)


def test_lpips_matches_the_reference_formula_with_lpips_input_scaling(weights: dict[str, tuple[Path, Path]]) -> None:
    """LPIPS's own scaling of a [−1, 1] image (shift −.030/−.088/−.188, scale .458/.448/.450) on an unnormalised
    backbone gives the same distance as ours on the [0, 1] image."""
    bb, heads = weights["alex"]
    metric = LPIPS("alex", bb, heads)
    raw = AlexNetFeatures(normalize_input=False)
    raw.load_state_dict(torch.load(bb, weights_only=True))
    w = load_lpips_heads(heads, AlexNetFeatures.lpips_channels, "alex")
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    g = torch.Generator().manual_seed(2)
    x, y = torch.rand(1, 3, 64, 64, generator=g), torch.rand(1, 3, 64, 64, generator=g)
    with torch.no_grad():
        fx = raw.taps(((2 * x - 1) - shift) / scale, AlexNetFeatures.lpips_taps)
        fy = raw.taps(((2 * y - 1) - shift) / scale, AlexNetFeatures.lpips_taps)
        ref = torch.zeros(())
        for a, b, wk in zip(fx, fy, w, strict=True):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            ref = ref + ((a - b).pow(2) * wk).sum(1).mean()
        torch.testing.assert_close(metric(x, y)[0], ref, rtol=1e-5, atol=1e-7)


def test_lpips_gradients_reach_the_images_not_the_weights(weights: dict[str, tuple[Path, Path]]) -> None:
    metric = LPIPS("alex", *weights["alex"])
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    metric(x, torch.rand(1, 3, 64, 64)).sum().backward()
    assert x.grad is not None and all(p.grad is None for p in metric.parameters())


def test_lpips_without_weight_files_names_what_is_missing(
    tmp_path: Path, weights: dict[str, tuple[Path, Path]]
) -> None:
    bb, heads = weights["alex"]
    with pytest.raises(CheckpointError, match=r"alexnet-owt-7be5be79\.pth"):
        LPIPS("alex", head_weights=heads)
    with pytest.raises(CheckpointError, match=r"vgg16-397923af\.pth.*not found"):
        LPIPS("vgg", tmp_path / "missing.pth", heads)
    with pytest.raises(CheckpointError, match=r"alex\.pth"):
        LPIPS("alex", bb)
    with pytest.raises(CheckpointError, match="expected 5"):
        LPIPS("alex", bb, weights["alex"][0])  # a backbone file is not a heads file
    with pytest.raises(ConfigError, match="backbone"):
        LPIPS("squeeze", bb, heads)
    metric = LPIPS("alex", bb, heads)
    with pytest.raises(ImageShapeError):
        metric(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 65))


def test_lpips_heads_load_from_a_whole_lpips_state_dict(tmp_path: Path) -> None:
    chans = AlexNetFeatures.lpips_channels
    sd = {f"lins.{i}.model.1.weight": torch.full((1, c, 1, 1), float(i)) for i, c in enumerate(chans)}
    sd["net.slice1.0.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "full.pth")
    heads = load_lpips_heads(tmp_path / "full.pth", chans, "alex")
    assert [float(h.mean()) for h in heads] == [0.0, 1.0, 2.0, 3.0, 4.0]


# -- FID arithmetic -------------------------------------------------------------------------------------------------
def _scipy_fid(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _random_gaussian(rng: np.random.Generator, d: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    return a.mean(0), np.atleast_2d(np.cov(a, rowvar=False))


@pytest.mark.parametrize("d", [1, 4, 16, 64])
def test_frechet_distance_matches_scipy_sqrtm(d: int) -> None:
    rng = np.random.default_rng(d)
    mu1, s1 = _random_gaussian(rng, d, 4 * d + 10)
    mu2, s2 = _random_gaussian(rng, d, 4 * d + 10)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(_scipy_fid(mu1, s1, mu2, s2), rel=1e-7, abs=1e-9)
    assert frechet_distance(torch.from_numpy(mu1), torch.from_numpy(s1), mu2, s2) == pytest.approx(ours, rel=1e-12)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8 * np.trace(s1))


def test_frechet_distance_of_diagonal_gaussians_has_the_closed_form() -> None:
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    expected = 5.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(mu1, np.eye(2), mu2, np.eye(3))


class _PoolFeatures(nn.Module):
    """A tiny stand-in for an FID network: conv + global average pool, ``num_features`` outputs."""

    num_features = 6

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, self.num_features, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def test_feature_stats_accumulate_the_sample_mean_and_covariance(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    feats = 100.0 + rng.normal(size=(50, 5)) @ rng.normal(size=(5, 5))  # a large mean: no cancellation
    stats = FeatureStats(num_features=5)
    for chunk in np.array_split(feats, [7, 30]):
        stats.update_features(torch.from_numpy(chunk))
    mu, sigma = stats.compute()
    np.testing.assert_allclose(mu.numpy(), feats.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(feats, rowvar=False), rtol=1e-9, atol=1e-12)
    stats.save_npz(tmp_path / "stats.npz")
    mu2, sigma2 = FeatureStats.load_npz(tmp_path / "stats.npz")
    assert torch.equal(mu2, mu) and torch.equal(sigma2, sigma)
    with pytest.raises(ValueError, match="5 features"):
        stats.update_features(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        FeatureStats(num_features=5).compute()


def test_feature_stats_with_an_extractor_give_an_fid() -> None:
    torch.manual_seed(0)
    net = _PoolFeatures().train()
    real, same, other = FeatureStats(net), FeatureStats(net), FeatureStats(net)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(40, 3, 16, 16, generator=g)
    for batch in images.split(16):
        real.update(batch)
        same.update(batch)
    other.update(0.5 * torch.rand(40, 3, 16, 16, generator=g))
    assert net.training  # the mode is restored
    assert real.count == 40 and real.frechet_distance(same) == pytest.approx(0.0, abs=1e-9)
    mu1, s1 = (t.numpy() for t in real.compute())
    mu2, s2 = (t.numpy() for t in other.compute())
    assert real.frechet_distance(other) == pytest.approx(_scipy_fid(mu1, s1, mu2, s2), rel=1e-6)
    assert real.frechet_distance(other) > 0
    with pytest.raises(ConfigError, match="num_features"):
        FeatureStats(nn.Identity())
