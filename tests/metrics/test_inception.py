"""The FID Inception-v3 (random weights here): the checkpoint's key layout, pytorch-fid's preprocessing and pool
branches, loading a local file with clear errors, and FID over folders through the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image
from torch import Tensor, nn

from invrestore.cli.main import cli
from invrestore.errors import CheckpointError, DatasetNotFoundError, ImageShapeError
from invrestore.metrics.inception import (
    WEIGHTS_ENV,
    WEIGHTS_FILE,
    FIDInceptionV3,
    fid_between,
    fid_from_folders,
    folder_feature_stats,
    load_fid_inception,
    load_fid_stats,
    save_fid_stats,
)
from invrestore.metrics.perceptual import FeatureStats, frechet_distance

# Written from the reference architecture (torchvision's Inception3 with pytorch-fid's FID blocks, 1008 classes, no
# AuxLogits): representative keys of pt_inception-2015-12-05-6726825d.pth and their shapes.
REFERENCE_SHAPES: dict[str, tuple[int, ...]] = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.weight": (32,),
    "Conv2d_1a_3x3.bn.bias": (32,),
    "Conv2d_1a_3x3.bn.running_mean": (32,),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_2a_3x3.conv.weight": (32, 32, 3, 3),
    "Conv2d_2b_3x3.conv.weight": (64, 32, 3, 3),
    "Conv2d_3b_1x1.conv.weight": (80, 64, 1, 1),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Conv2d_4a_3x3.bn.running_var": (192,),
    "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
    "Mixed_5b.branch5x5_1.conv.weight": (48, 192, 1, 1),
    "Mixed_5b.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_5b.branch3x3dbl_1.conv.weight": (64, 192, 1, 1),
    "Mixed_5b.branch3x3dbl_2.conv.weight": (96, 64, 3, 3),
    "Mixed_5b.branch3x3dbl_3.conv.weight": (96, 96, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5c.branch1x1.conv.weight": (64, 256, 1, 1),
    "Mixed_5c.branch_pool.conv.weight": (64, 256, 1, 1),
    "Mixed_5d.branch_pool.conv.weight": (64, 288, 1, 1),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6a.branch3x3dbl_1.conv.weight": (64, 288, 1, 1),
    "Mixed_6a.branch3x3dbl_3.conv.weight": (96, 96, 3, 3),
    "Mixed_6b.branch1x1.conv.weight": (192, 768, 1, 1),
    "Mixed_6b.branch7x7_1.conv.weight": (128, 768, 1, 1),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6b.branch7x7_3.conv.weight": (192, 128, 7, 1),
    "Mixed_6b.branch7x7dbl_2.conv.weight": (128, 128, 7, 1),
    "Mixed_6b.branch7x7dbl_3.conv.weight": (128, 128, 1, 7),
    "Mixed_6b.branch7x7dbl_5.conv.weight": (192, 128, 1, 7),
    "Mixed_6c.branch7x7_1.conv.weight": (160, 768, 1, 1),
    "Mixed_6d.branch7x7dbl_4.conv.weight": (160, 160, 7, 1),
    "Mixed_6e.branch7x7_2.conv.weight": (192, 192, 1, 7),
    "Mixed_6e.branch_pool.conv.weight": (192, 768, 1, 1),
    "Mixed_7a.branch3x3_1.conv.weight": (192, 768, 1, 1),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7a.branch7x7x3_2.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_3.conv.weight": (192, 192, 7, 1),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch1x1.conv.weight": (320, 1280, 1, 1),
    "Mixed_7b.branch3x3_1.conv.weight": (384, 1280, 1, 1),
    "Mixed_7b.branch3x3_2a.conv.weight": (384, 384, 1, 3),
    "Mixed_7b.branch3x3_2b.conv.weight": (384, 384, 3, 1),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7b.branch3x3dbl_2.conv.weight": (384, 448, 3, 3),
    "Mixed_7b.branch3x3dbl_3a.conv.weight": (384, 384, 1, 3),
    "Mixed_7b.branch_pool.conv.weight": (192, 1280, 1, 1),
    "Mixed_7c.branch1x1.conv.weight": (320, 2048, 1, 1),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "Mixed_7c.branch_pool.bn.running_mean": (192,),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
# conv+BN units per block type in torchvision's naming
_UNITS = {
    "A": ["branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
    "B": ["branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
    "C": ["branch1x1", *(f"branch7x7_{i}" for i in (1, 2, 3)), *(f"branch7x7dbl_{i}" for i in range(1, 6))],
    "D": ["branch3x3_1", "branch3x3_2", *(f"branch7x7x3_{i}" for i in range(1, 5))],
    "E": [
        *("branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b"),
        *("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b"),
    ],
}
_BLOCKS = {"5b": "A", "5c": "A", "5d": "A", "6a": "B", "6b": "C", "6c": "C", "6d": "C", "6e": "C", "7a": "D"}
_BLOCKS |= {"7b": "E", "7c": "E"}
REFERENCE_UNITS = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"] + [
    f"Mixed_{b}.{u}" for b, kind in _BLOCKS.items() for u in _UNITS[kind] + ([] if kind in "BD" else ["branch_pool"])
]
REFERENCE_KEY_COUNT = 472  # 94 units × (conv.weight + 4 bn tensors) + fc.weight + fc.bias
REFERENCE_PARAMETERS = 23_850_960  # torchvision inception_v3 without AuxLogits (23,834,568) + 8 classes × 2049
REFERENCE_EXTRACTOR_PARAMETERS = 21_785_568  # everything but fc


@pytest.fixture(scope="module")
def net() -> FIDInceptionV3:
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


@pytest.fixture(scope="module")
def weights_file(net: FIDInceptionV3, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inception") / WEIGHTS_FILE
    torch.save(dict(net.state_dict()), path)
    return path


@pytest.fixture()
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)


def _identity_bn(unit: nn.Module) -> None:
    unit.bn.weight.data.fill_(1.0)
    unit.bn.bias.data.zero_()
    unit.bn.running_mean.zero_()
    unit.bn.running_var.fill_(1.0 - unit.bn.eps)


def _write_images(folder: Path, seed: int, n: int, size: tuple[int, int] = (24, 32), bright: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        arr = np.clip(rng.uniform(0, 255 - bright * 255, (*size, 3)) + bright * 255, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"{i:02d}.png")
    return folder


# -- architecture ---------------------------------------------------------------------------------------------------
def test_state_dict_keys_and_shapes_follow_the_fid_inception_checkpoint(net: FIDInceptionV3) -> None:
    sd = net.state_dict()
    assert len(sd) == REFERENCE_KEY_COUNT
    for key, shape in REFERENCE_SHAPES.items():
        assert tuple(sd[key].shape) == shape, key
    units = [k[: -len(".conv.weight")] for k in sd if k.endswith(".conv.weight")]
    assert units == REFERENCE_UNITS
    bn = ("weight", "bias", "running_mean", "running_var")
    expected = [k for u in REFERENCE_UNITS for k in (f"{u}.conv.weight", *(f"{u}.bn.{p}" for p in bn))]
    assert list(sd) == [*expected, "fc.weight", "fc.bias"]
    assert not any("AuxLogits" in k or "num_batches_tracked" in k for k in sd)


def test_parameter_count_is_torchvisions_inception_without_aux_head_with_1008_classes(net: FIDInceptionV3) -> None:
    total = sum(p.numel() for p in net.parameters())
    assert total == REFERENCE_PARAMETERS
    assert total - sum(p.numel() for p in net.fc.parameters()) == REFERENCE_EXTRACTOR_PARAMETERS
    assert net.num_features == 2048 and FeatureStats(net).num_features == 2048
    for m in net.modules():  # TF's batch-norm epsilon, bias-free convolutions
        if isinstance(m, nn.Conv2d):
            assert m.bias is None
        if hasattr(m, "eps"):
            assert m.eps == pytest.approx(1e-3)


def _pool_branch_selects_input(block: nn.Module, n: int) -> None:
    """Make ``block.branch_pool`` copy its first ``n`` input channels (1×1 identity, identity BN)."""
    w = block.branch_pool.conv.weight
    w.data.zero_()
    w.data[:, :n, 0, 0] = torch.eye(w.shape[0], n)
    _identity_bn(block.branch_pool)


@pytest.mark.parametrize(
    ("name", "cin", "pool"),
    [("Mixed_5b", 192, "avg"), ("Mixed_6b", 768, "avg"), ("Mixed_7b", 1280, "avg"), ("Mixed_7c", 2048, "max")],
)
def test_pool_branches_average_without_padding_and_the_last_block_max_pools(name: str, cin: int, pool: str) -> None:
    torch.manual_seed(1)
    block = getattr(FIDInceptionV3(), name)
    out_ch = block.branch_pool.conv.weight.shape[0]
    _pool_branch_selects_input(block, out_ch)
    x = torch.rand(1, cin, 6, 7) + 0.5  # positive, so the ReLU is an identity
    with torch.no_grad():
        got = block(x)[:, -out_ch:]
    if pool == "max":
        want = F.max_pool2d(x, 3, stride=1, padding=1)[:, :out_ch]
    else:
        want = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)[:, :out_ch]
        padded = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True)[:, :out_ch]
        assert not torch.allclose(got, padded, atol=1e-3)  # torchvision's default would differ at the border
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_features_are_2048_per_image_for_299_inputs_and_logits_are_the_fc_of_them(net: FIDInceptionV3) -> None:
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        f = net(x)
        f2, logits = net.forward_with_logits(x)
    assert f.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(f).all() and f.std() > 1e-2  # random weights still give non-degenerate features
    torch.testing.assert_close(f2, f)
    torch.testing.assert_close(logits, net.fc(f))


def test_other_sizes_are_resized_bilinearly_to_299_and_scaled_to_minus_one_one_like_pytorch_fid(
    net: FIDInceptionV3,
) -> None:
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        f = net(x)
        reference = net.pool3(2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1)
        from_uint8 = net((x * 255).round().to(torch.uint8))
    assert f.shape == (1, 2048)
    torch.testing.assert_close(f, reference)
    assert from_uint8.shape == (1, 2048)


def test_non_rgb_input_is_a_shape_error(net: FIDInceptionV3) -> None:
    with pytest.raises(ImageShapeError, match="RGB"):
        net(torch.rand(1, 1, 32, 32))


# -- loading --------------------------------------------------------------------------------------------------------
def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("layout", ["plain", "wrapped", "module-prefixed", "with-bn-counters"])
def test_load_fid_inception_round_trips_a_saved_state_dict(
    layout: str, net: FIDInceptionV3, tmp_path: Path, no_env: None
) -> None:
    sd: dict[str, Tensor] = dict(net.state_dict())
    obj: object = sd
    if layout == "wrapped":
        obj = {"state_dict": sd, "epoch": 3}
    elif layout == "module-prefixed":
        obj = {f"module.{k}": v for k, v in sd.items()}
    elif layout == "with-bn-counters":  # what a torchvision-built model's state_dict() holds
        obj = {**sd, **{k.replace("running_var", "num_batches_tracked"): torch.tensor(0) for k in sd if "var" in k}}
    path = tmp_path / "w.pth"
    torch.save(obj, path)
    rng_before = torch.random.get_rng_state()
    loaded = load_fid_inception(path)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # loading leaves the global RNG alone
    assert _same_weights(loaded, net)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_load_fid_inception_reads_the_path_from_the_environment(
    weights_file: Path, net: FIDInceptionV3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(weights_file))
    assert _same_weights(load_fid_inception(), net)


def test_without_weights_the_error_says_they_cannot_be_downloaded_and_how_to_pass_them(no_env: None) -> None:
    with pytest.raises(CheckpointError) as info:
        load_fid_inception(None)
    msg = str(info.value)
    for part in (WEIGHTS_FILE, "cannot be downloaded", "--inception-weights PATH", WEIGHTS_ENV):
        assert part in msg
    with pytest.raises(CheckpointError, match=re.escape("not found at '/nonexistent/pt.pth'")):
        load_fid_inception("/nonexistent/pt.pth")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda sd: sd.pop("Mixed_6c.branch7x7_2.conv.weight"), "missing keys: Mixed_6c.branch7x7_2.conv.weight"),
        (lambda sd: sd.update({"AuxLogits.fc.weight": torch.zeros(1008, 768)}), "unexpected keys: AuxLogits"),
        (lambda sd: sd.update({"fc.weight": torch.zeros(1000, 2048)}), "torchvision's ImageNet Inception"),
        (lambda sd: sd.update({"Mixed_5b.branch1x1.conv.weight": torch.zeros(64, 192, 3, 3)}), "shape mismatch"),
    ],
)
def test_a_file_with_the_wrong_layout_is_rejected_naming_the_keys(
    edit: object, message: str, net: FIDInceptionV3, tmp_path: Path
) -> None:
    sd = dict(net.state_dict())
    assert callable(edit)
    edit(sd)
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_fid_inception(path)


def test_a_file_that_is_not_a_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_fid_inception(path)


# -- FID helpers, with a cheap extractor ----------------------------------------------------------------------------
class _MeanColour(nn.Module):
    """A tiny extractor: per-channel means and mean squares (6 features); records the batch shapes it saw."""

    num_features = 6

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.shapes.append(tuple(x.shape))
        return torch.cat([x.mean(dim=(2, 3)), x.pow(2).mean(dim=(2, 3))], dim=1)


def test_folder_statistics_batch_same_size_images_and_match_a_direct_computation(tmp_path: Path) -> None:
    folder = _write_images(tmp_path / "a", seed=0, n=5)
    Image.fromarray(np.full((10, 12), 77, np.uint8), mode="L").save(folder / "09-gray.png")  # other size, grayscale
    ext = _MeanColour()
    stats = folder_feature_stats(folder, ext, batch_size=2, device="cpu", progress=False)
    assert ext.shapes == [(2, 3, 24, 32), (2, 3, 24, 32), (1, 3, 24, 32), (1, 3, 10, 12)]
    files = sorted(folder.glob("*.png"))
    imgs = [torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1).float() / 255 for f in files]
    feats = torch.cat([_MeanColour()(im[None]) for im in imgs]).double().numpy()
    mu, sigma = stats.compute()
    np.testing.assert_allclose(mu.numpy(), feats.mean(0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sigma.numpy(), np.cov(feats, rowvar=False), rtol=1e-5, atol=1e-9)


def test_fid_from_folders_is_zero_for_a_folder_against_itself_and_positive_otherwise(tmp_path: Path) -> None:
    a = _write_images(tmp_path / "a", seed=0, n=4)
    b = _write_images(tmp_path / "b", seed=1, n=4, bright=0.3)
    assert fid_from_folders(a, a, _MeanColour(), batch_size=3, device="cpu", progress=False) == pytest.approx(
        0, abs=1e-9
    )
    d = fid_from_folders(a, b, _MeanColour(), batch_size=3, device="cpu", progress=False)
    assert d > 0.01


def test_statistics_saved_to_npz_give_the_same_fid_as_the_folder(tmp_path: Path) -> None:
    a = _write_images(tmp_path / "a", seed=0, n=4)
    b = _write_images(tmp_path / "b", seed=1, n=3, bright=0.3)
    stats = folder_feature_stats(a, _MeanColour(), device="cpu", progress=False)
    written = save_fid_stats(tmp_path / "a_stats", *stats.compute(), count=stats.count)
    assert written.name == "a_stats.npz"
    with np.load(written) as f:
        assert sorted(f.files) == ["count", "mu", "sigma"] and int(f["count"]) == 4
    mu, sigma = load_fid_stats(written)
    torch.testing.assert_close((mu, sigma), stats.compute())
    direct = fid_between(a, b, _MeanColour(), device="cpu", progress=False)
    assert fid_between(written, b, _MeanColour(), device="cpu", progress=False) == pytest.approx(direct, rel=1e-12)
    assert abs(fid_between(written, written, None)) < 1e-6 * direct  # 0 up to eigenvalue round-off


def test_a_folder_with_fewer_than_two_images_is_a_dataset_error(tmp_path: Path) -> None:
    a = _write_images(tmp_path / "a", seed=0, n=1)
    with pytest.raises(DatasetNotFoundError, match="at least 2"):
        folder_feature_stats(a, _MeanColour(), device="cpu", progress=False)
    with pytest.raises(DatasetNotFoundError, match="not found"):
        folder_feature_stats(tmp_path / "missing", _MeanColour(), device="cpu", progress=False)


# -- CLI ------------------------------------------------------------------------------------------------------------
def _invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def _fid_value(stdout: str) -> float:
    m = re.search(r"FID: ([-0-9.e]+)", stdout)
    assert m, stdout
    return float(m.group(1))


def test_the_fid_command_without_weights_fails_with_one_line_naming_the_option(tmp_path: Path, no_env: None) -> None:
    a = _write_images(tmp_path / "a", seed=0, n=2)
    code, out, err = _invoke("fid", str(a), str(a))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "--inception-weights PATH" in err and WEIGHTS_FILE in err


@pytest.mark.slow
def test_the_fid_command_gives_zero_for_a_folder_against_itself_and_positive_for_another(
    weights_file: Path, tmp_path: Path, no_env: None
) -> None:
    a = _write_images(tmp_path / "a", seed=0, n=2, size=(16, 16))
    b = _write_images(tmp_path / "b", seed=1, n=2, size=(16, 16), bright=0.4)
    w = ["--inception-weights", str(weights_file), "--batch-size", "2", "--device", "cpu", "--no-progress"]
    code, out, err = _invoke("fid", str(a), str(a), *w)
    assert code == 0, err
    same = _fid_value(out)
    stats = tmp_path / "a.npz"
    code, out, err = _invoke("fid", str(a), str(b), *w, "--save-stats", str(stats))
    assert code == 0, err
    other = _fid_value(out)
    assert abs(same) < 1e-4 * other and other > 0
    assert "rank-deficient" in err and stats.is_file()
    # saved statistics stand in for a folder (see the .npz test above); two .npz files need no weights at all
    code, out, err = _invoke("fid", str(stats), str(stats), "--no-progress")
    assert code == 0, err
    assert abs(_fid_value(out)) < 1e-4 * other


def test_the_fid_command_needs_fake_or_save_stats(tmp_path: Path) -> None:
    a = _write_images(tmp_path / "a", seed=0, n=2)
    code, _, err = _invoke("fid", str(a))
    assert code == 1 and "--save-stats" in err


def test_frechet_distance_of_saved_statistics_matches_feature_stats(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(4)
    s1, s2 = FeatureStats(num_features=5), FeatureStats(num_features=5)
    s1.update_features(torch.randn(20, 5, generator=g))
    s2.update_features(torch.randn(20, 5, generator=g) + 1)
    p1 = save_fid_stats(tmp_path / "one.npz", *s1.compute())
    p2 = save_fid_stats(tmp_path / "two.npz", *s2.compute())
    assert frechet_distance(*load_fid_stats(p1), *load_fid_stats(p2)) == pytest.approx(s1.frechet_distance(s2))
