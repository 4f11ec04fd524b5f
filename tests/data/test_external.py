"""Loaders of the external datasets users bring themselves: layouts, splits, crops, pairing, seeds and errors.

Every test builds a tiny fake copy of the dataset's public layout in ``tmp_path``; the last ones read the real
CelebA sample of the shared data when it is there.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invrestore.data import (
    CUB200,
    IMAGENETTE_64,
    IRAE_CELEBA_64,
    RESIDE,
    SIDD,
    CelebA,
    CropResize,
    Flowers102,
    Imagenette,
    IncompleteDatasetWarning,
    OutdoorRain,
    PairedFolders,
    Rain800,
    Rain1200,
    RainCityscapes,
    get_transform,
    image_dataset,
    pair_files,
    paired_dataset,
)
from invrestore.data.restoration import RestorationDataConfig, restoration_train_set, validate_restoration
from invrestore.errors import ConfigError, DatasetNotFoundError, ImageShapeError
from invrestore.metrics import psnr
from invrestore.models.selfvae.datasets import SELFVAE_CELEBA_64

pytestmark = pytest.mark.filterwarnings("ignore::invrestore.data.locate.IncompleteDatasetWarning")


# --- helpers ------------------------------------------------------------------------------------------------------


def _rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _save(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _unit(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(arr)).permute(2, 0, 1).float() / 255.0


def _is_inverse(x_lq: torch.Tensor, x: torch.Tensor) -> bool:
    """The fakes store degraded = 255 − clean, so a correct (and consistently cropped/flipped) pair satisfies this."""
    return x_lq.shape == x.shape and torch.allclose(x_lq, 1.0 - x, atol=1e-6)


def _celeba(root: Path, n: int = 6, partition: str = "txt") -> list[np.ndarray]:
    imgs = [_rgb(218, 178, i) for i in range(n)]
    for i, a in enumerate(imgs):
        _save(root / "img_align_celeba" / f"{i + 1:06d}.png", a)
    codes = [0, 0, 0, 1, 1, 2][:n]
    if partition == "txt":
        (root / "list_eval_partition.txt").write_text("".join(f"{i + 1:06d}.png {c}\n" for i, c in enumerate(codes)))
    else:
        rows = "".join(f"{i + 1:06d}.png,{c}\n" for i, c in enumerate(codes))
        (root / "list_eval_partition.csv").write_text("image_id,partition\n" + rows)
    return imgs


# --- preprocessing ------------------------------------------------------------------------------------------------


def test_the_irae_celeba_crop_is_the_centre_148_box_of_a_178x218_face() -> None:
    assert IRAE_CELEBA_64.crop_box(178, 218) == (15, 35, 163, 183)
    assert IRAE_CELEBA_64.output_size(178, 218) == (64, 64)
    assert get_transform("irae-celeba-256").output_size(178, 218) == (256, 256)  # type: ignore[union-attr]


def test_the_selfvae_celeba_crop_starts_at_top_40_left_15() -> None:
    assert SELFVAE_CELEBA_64.crop_box(178, 218) == (15, 40, 163, 188)
    assert SELFVAE_CELEBA_64.output_size(178, 218) == (64, 64)


def test_resize_to_an_int_sets_the_shorter_side_as_torchvision_does() -> None:
    t = CropResize(size=64)
    assert t.resized(213, 160) == (85, 64) and t.resized(160, 213) == (64, 85) and t.resized(64, 64) == (64, 64)
    assert IMAGENETTE_64.resized(213, 160) == (64, 64)


def test_centre_crop_larger_than_the_image_zero_pads_like_torchvision() -> None:
    arr = _rgb(400, 250, 3)
    out = np.asarray(CropResize(center=300)(Image.fromarray(arr)))
    assert out.shape == (300, 300, 3)
    # torchvision pads (300 − 250) // 2 = 25 columns on the left and 25 on the right, then crops rows 50..350
    assert (out[:, :25] == 0).all() and (out[:, 275:] == 0).all()
    assert np.array_equal(out[:, 25:275], arr[50:350])


def test_unknown_transform_names_and_bad_crops_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="irae-celeba-64"):
        get_transform("celeba-128")
    with pytest.raises(ConfigError):
        CropResize(center=148, box=(0, 0, 10, 10))


# --- CelebA -------------------------------------------------------------------------------------------------------


def test_celeba_uses_the_official_partition_for_each_split(tmp_path: Path) -> None:
    _celeba(tmp_path)
    sizes = {s: len(CelebA(tmp_path, s)) for s in ("train", "valid", "test", "all")}
    assert sizes == {"train": 3, "valid": 2, "test": 1, "all": 6}
    assert CelebA(tmp_path, "valid").names == ["000004", "000005"]


def test_celeba_images_are_the_exact_crop_boxes_resized_with_pillow_bilinear(tmp_path: Path) -> None:
    imgs = _celeba(tmp_path)
    raw = CelebA(tmp_path, "train", transform=CropResize(center=148))
    assert torch.equal(raw.load(1), _unit(imgs[1][35:183, 15:163]))
    selfvae = CelebA(tmp_path, "train", transform=CropResize(box=(40, 15, 148, 148)))
    assert torch.equal(selfvae.load(1), _unit(imgs[1][40:188, 15:163]))
    irae = CelebA(tmp_path, "train")  # default: IRAE's CenterCrop(148) → Resize(64)
    ref = Image.fromarray(imgs[1]).crop((15, 35, 163, 183)).resize((64, 64), Image.Resampling.BILINEAR)
    item = irae[1]
    assert torch.equal(item["image"], _unit(np.asarray(ref))) and item["name"] == "000002"  # type: ignore[arg-type]


def test_celeba_finds_kaggles_csv_and_nested_image_folder(tmp_path: Path) -> None:
    _celeba(tmp_path / "celeba", partition="csv")
    inner = tmp_path / "celeba" / "img_align_celeba"
    nested = inner / "img_align_celeba"
    nested.mkdir()
    for f in inner.glob("*.png"):
        f.rename(nested / f.name)
    assert len(CelebA(tmp_path, "train")) == 3


def test_celeba_without_its_files_names_what_is_expected_and_where(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"img_align_celeba/ and list_eval_partition\.txt") as e:
        CelebA(tmp_path)
    assert str(tmp_path) in str(e.value) and "download it from" in str(e.value) and "--data-root" in str(e.value)
    (tmp_path / "img_align_celeba").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"lacks list_eval_partition\.txt"):
        CelebA(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        CelebA(tmp_path / "nowhere")


def test_an_incomplete_celeba_copy_warns_with_the_counts_or_fails_when_strict(tmp_path: Path) -> None:
    _celeba(tmp_path)
    (tmp_path / "img_align_celeba" / "000002.png").unlink()
    with pytest.warns(IncompleteDatasetWarning, match="1 of the 3 images"):
        ds = CelebA(tmp_path, "train")
    assert ds.names == ["000001", "000003"]
    with pytest.raises(DatasetNotFoundError, match="missing"):
        CelebA(tmp_path, "train", strict=True)
    with pytest.warns(IncompleteDatasetWarning, match="found 2 items .* a full copy has 19867"):
        CelebA(tmp_path, "valid")


# --- Flowers-102, CUB-200-2011, Imagenette ------------------------------------------------------------------------


def _flowers(root: Path) -> list[np.ndarray]:
    scipy_io = pytest.importorskip("scipy.io", reason="setid.mat is written with scipy.io.savemat")
    imgs = [_rgb(500, 520 + 10 * i, 10 + i) for i in range(6)]
    for i, a in enumerate(imgs):
        _save(root / "jpg" / f"image_{i + 1:05d}.jpg", a)
    ids = {"trnid": np.array([[1, 2]]), "valid": np.array([[3]]), "tstid": np.array([[6, 4, 5]])}
    scipy_io.savemat(str(root / "setid.mat"), ids)
    return imgs


def test_flowers_train_is_tstid_and_test_is_trnid_plus_valid(tmp_path: Path) -> None:
    _flowers(tmp_path / "flowers-102")
    train, test = Flowers102(tmp_path, "train"), Flowers102(tmp_path, "test")
    assert train.names == ["image_00006", "image_00004", "image_00005"]
    assert test.names == ["image_00001", "image_00002", "image_00003"]
    assert len(Flowers102(tmp_path, "trnid")) == 2 and len(Flowers102(tmp_path, "tstid")) == 3


def test_flowers_images_are_the_centre_400_box_resized_to_128(tmp_path: Path) -> None:
    imgs = _flowers(tmp_path)
    ds = Flowers102(tmp_path, "test", transform=CropResize(center=400))
    decoded = np.asarray(Image.open(tmp_path / "jpg" / "image_00002.jpg").convert("RGB"))
    assert decoded.shape == imgs[1].shape
    assert torch.equal(ds.load(1), _unit(decoded[50:450, 65:465]))  # 500×530: top 50, left round(130/2) = 65
    assert Flowers102(tmp_path, "test").load(1).shape == (3, 128, 128)


def test_flowers_without_setid_mat_says_so(tmp_path: Path) -> None:
    _save(tmp_path / "jpg" / "image_00001.jpg", _rgb(500, 500, 0))
    with pytest.raises(DatasetNotFoundError, match=r"lacks setid\.mat"):
        Flowers102(tmp_path)


def _cub(root: Path) -> None:
    base = root / "CUB_200_2011"
    rows, split = [], []
    for i in range(1, 6):
        rel = f"{1 + i % 2:03d}.Bird_{i % 2}/Bird_{i}.jpg"
        _save(base / "images" / rel, _rgb(330 if i != 5 else 250, 400, i))
        rows.append(f"{i} {rel}\n")
        split.append(f"{i} {1 if i <= 3 else 0}\n")
    (base / "images.txt").write_text("".join(rows))
    (base / "train_test_split.txt").write_text("".join(split))


def test_cub_uses_the_official_train_test_split_in_id_order(tmp_path: Path) -> None:
    _cub(tmp_path)
    train, test = CUB200(tmp_path, "train"), CUB200(tmp_path, "test")
    assert train.names == ["Bird_1", "Bird_2", "Bird_3"] and test.names == ["Bird_4", "Bird_5"]
    assert len(CUB200(tmp_path, "all")) == 5
    assert train.load(0).shape == (3, 128, 128)
    # 400×250 is shorter than the 300 crop: zero rows above and below, as torchvision's CenterCrop pads
    padded = CUB200(tmp_path, "test", transform=CropResize(center=300)).load(1)
    assert padded.shape == (3, 300, 300) and float(padded[:, :25].abs().sum()) == 0.0


def test_cub_with_missing_images_warns_with_the_counts(tmp_path: Path) -> None:
    _cub(tmp_path)
    next((tmp_path / "CUB_200_2011" / "images").rglob("Bird_2.jpg")).unlink()
    with pytest.warns(IncompleteDatasetWarning, match="1 of 3 images are missing"):
        assert len(CUB200(tmp_path, "train")) == 2


def _imagenette(root: Path) -> None:
    for split, n in (("train", 3), ("val", 2)):
        for c, wnid in enumerate(("n01440764", "n02102040")):
            for k in range(n):
                _save(root / "imagenette2-160" / split / wnid / f"{wnid}_{k}.JPEG", _rgb(160, 213 - 40 * c, k))


def test_imagenette64_squashes_to_64x64_and_its_test_split_is_val(tmp_path: Path) -> None:
    _imagenette(tmp_path)
    train, test = Imagenette(tmp_path, "train"), Imagenette(tmp_path, "test")
    assert len(train) == 6 and len(test) == 4 and test.split == "val"
    assert train.labels == [0, 0, 0, 1, 1, 1] and train.classes == ["n01440764", "n02102040"]
    assert train.load(0).shape == (3, 64, 64) and train.load(5).shape == (3, 64, 64)
    assert train.stack_uint8().shape == (6, 3, 64, 64)


def test_image_dataset_looks_loaders_up_by_name(tmp_path: Path) -> None:
    _imagenette(tmp_path)
    assert len(image_dataset("imagenette64", tmp_path, "val")) == 4
    with pytest.raises(ConfigError, match="unknown image dataset"):
        image_dataset("mnist", tmp_path)


# --- paired folders -----------------------------------------------------------------------------------------------


def _pair(deg: Path, clean: Path, seed: int, h: int = 24, w: int = 28) -> None:
    a = _rgb(h, w, seed)
    _save(clean, a)
    _save(deg, 255 - a)


def test_prefix_matching_pairs_each_degraded_image_with_its_clean_scene() -> None:
    clean = [Path("c/1400.png"), Path("c/im_0001.png"), Path("c/aachen_000000_000019_leftImg8bit.png")]
    degraded = [
        Path("d/1400_1.png"),
        Path("d/im_0001_s80_a04.png"),
        Path("d/aachen_000000_000019_leftImg8bit_rain_alpha_0.01_beta_0.005_dropsize_0.01_pattern_1.png"),
        Path("d/1401_1.png"),
    ]
    pairs, unmatched = pair_files(degraded, clean, "prefix")
    assert [(d.stem.split("_")[0], c.stem) for d, c in pairs] == [
        ("1400", "1400"),
        ("im", "im_0001"),
        ("aachen", "aachen_000000_000019_leftImg8bit"),
    ]
    assert unmatched == [Path("d/1401_1.png")]
    assert pair_files([Path("d/1400.jpg")], clean, "stem")[0] == [(Path("d/1400.jpg"), Path("c/1400.png"))]


def test_paired_folders_return_matching_pairs_with_the_same_crop_and_flip(tmp_path: Path) -> None:
    for i in range(3):
        _pair(tmp_path / "rain" / f"{i}.png", tmp_path / "gt" / f"{i}.png", i)
    ds = PairedFolders(tmp_path / "rain", tmp_path / "gt", crop_size=16, flip=True, augment=True, seed=1)
    assert len(ds) == 3
    for i in range(12):  # virtual indices beyond len(ds) too
        item = ds[i]
        assert item["x"].shape == (3, 16, 16) and _is_inverse(item["x_lq"], item["x"])


def test_paired_crops_are_deterministic_for_a_seed_and_change_with_epoch_and_seed(tmp_path: Path) -> None:
    for i in range(2):
        _pair(tmp_path / "d" / f"{i}.png", tmp_path / "c" / f"{i}.png", i, 40, 40)
    a = PairedFolders(tmp_path / "d", tmp_path / "c", crop_size=8, flip=True, seed=3)
    b = PairedFolders(tmp_path / "d", tmp_path / "c", crop_size=8, flip=True, seed=3)
    assert all(torch.equal(a[i]["x"], b[i]["x"]) for i in range(4))
    other = PairedFolders(tmp_path / "d", tmp_path / "c", crop_size=8, flip=True, seed=4)
    assert not all(torch.equal(a[i]["x"], other[i]["x"]) for i in range(4))
    first = [a[i]["x"] for i in range(4)]
    a.set_epoch(1)
    assert not all(torch.equal(a[i]["x"], first[i]) for i in range(4))


def test_paired_folders_report_unmatched_and_missing_images(tmp_path: Path) -> None:
    _pair(tmp_path / "d" / "a.png", tmp_path / "c" / "a.png", 0)
    _save(tmp_path / "d" / "b.png", _rgb(24, 28, 1))
    with pytest.warns(IncompleteDatasetWarning, match="1 of 2 degraded images have no clean counterpart"):
        assert len(PairedFolders(tmp_path / "d", tmp_path / "c")) == 1
    with pytest.raises(DatasetNotFoundError, match="no clean counterpart"):
        PairedFolders(tmp_path / "d", tmp_path / "c", strict=True)
    with pytest.raises(DatasetNotFoundError, match="none of the 2 images"):
        PairedFolders(tmp_path / "d", tmp_path / "c", match=lambda s: s + "_gt")
    with pytest.raises(DatasetNotFoundError, match=r"clean-image folder .* does not exist"):
        PairedFolders(tmp_path / "d", tmp_path / "nothing")


def test_pairs_of_different_sizes_fail_unless_centre_cropped(tmp_path: Path) -> None:
    a = _rgb(12, 14, 0)
    _save(tmp_path / "c" / "1.png", a)
    _save(tmp_path / "d" / "1.png", 255 - a[2:10, 2:12])
    with pytest.raises(ImageShapeError, match="differ in size"):
        PairedFolders(tmp_path / "d", tmp_path / "c")[0]
    item = PairedFolders(tmp_path / "d", tmp_path / "c", size_mismatch="center_crop")[0]
    assert _is_inverse(item["x_lq"], item["x"])


# --- named paired datasets ----------------------------------------------------------------------------------------


def test_sidd_pairs_gt_and_noisy_files_of_each_scene_and_reads_validation_blocks(tmp_path: Path) -> None:
    data = tmp_path / "SIDD_Small_sRGB_Only" / "Data"
    for k, scene in enumerate(("0001_001_S6_00100_00060_3200_L", "0002_001_S6_00100_00020_3200_N")):
        _pair(data / scene / "NOISY_SRGB_010.PNG", data / scene / "GT_SRGB_010.PNG", k)
    with pytest.warns(IncompleteDatasetWarning, match="found 2 items .* a full copy has 160"):
        train = SIDD(tmp_path, "train", crop_size=16)
    assert len(train) == 2 and train.names[0] == "0001_001_S6_00100_00060_3200_L/010"
    assert all(_is_inverse(train[i]["x_lq"], train[i]["x"]) for i in range(2))

    scipy_io = pytest.importorskip("scipy.io", reason="the validation blocks are .mat files")
    gt = np.random.default_rng(0).integers(0, 256, (2, 3, 8, 8, 3), dtype=np.uint8)
    scipy_io.savemat(str(tmp_path / "ValidationGtBlocksSrgb.mat"), {"ValidationGtBlocksSrgb": gt})
    scipy_io.savemat(str(tmp_path / "ValidationNoisyBlocksSrgb.mat"), {"ValidationNoisyBlocksSrgb": 255 - gt})
    test = SIDD(tmp_path, "test")
    assert len(test) == 6 and test.names[4] == "block_01_01"
    assert torch.equal(test[4]["x"], _unit(gt[1, 1])) and _is_inverse(test[4]["x_lq"], test[4]["x"])


def test_sidd_without_scene_folders_names_the_expected_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="SIDD_Small_sRGB_Only/Data/<scene>/GT_SRGB_"):
        SIDD(tmp_path, "train")
    with pytest.raises(DatasetNotFoundError, match=r"ValidationNoisyBlocksSrgb\.mat"):
        SIDD(tmp_path, "test")


def test_reside_pairs_hazy_ids_with_clear_images_and_crops_sots_borders(tmp_path: Path) -> None:
    its = tmp_path / "ITS"
    for cid, k, beta in ((1, 1, "0.90179"), (1, 2, "0.8"), (2, 1, "0.7")):
        a = _rgb(20, 24, cid)
        _save(its / "clear" / f"{cid}.png", a)
        _save(its / "hazy" / f"{cid}_{k}_{beta}.png", 255 - a)
    train = RESIDE(tmp_path, "train")
    assert len(train) == 3 and all(_is_inverse(train[i]["x_lq"], train[i]["x"]) for i in range(3))

    sots = tmp_path / "SOTS" / "indoor"
    big = _rgb(24, 28, 5)  # the ground truth has a 2-pixel border around the hazy image
    _save(sots / "gt" / "1400.png", big)
    for k in (1, 2):
        _save(sots / "hazy" / f"1400_{k}.png", 255 - big[2:22, 2:26])
    test = RESIDE(tmp_path, "test")
    assert len(test) == 2 and test.names == ["1400_1", "1400_2"]
    assert test[0]["x"].shape == (3, 20, 24) and _is_inverse(test[0]["x_lq"], test[0]["x"])


def _side_by_side(path: Path, seed: int, clean_left: bool) -> None:
    a = _rgb(40, 36, seed)
    _save(path, np.concatenate([a, 255 - a] if clean_left else [255 - a, a], axis=1))


def test_rain800_takes_the_right_half_as_rainy_by_default_and_can_swap(tmp_path: Path) -> None:
    for i in range(3):
        _side_by_side(tmp_path / "rain800" / "training" / f"{i + 1}.png", i, True)
    _side_by_side(tmp_path / "rain800" / "test_syn" / "1.png", 9, True)
    with pytest.warns(IncompleteDatasetWarning, match="found 3 items .* a full copy has 700"):
        train = Rain800(tmp_path, "train", crop_size=32, flip=True)
    assert len(train) == 3 and len(Rain800(tmp_path, "test")) == 1
    assert all(_is_inverse(train[i]["x_lq"], train[i]["x"]) for i in range(3))
    item = Rain800(tmp_path, "test")[0]
    assert torch.equal(item["x"], _unit(_rgb(40, 36, 9)))
    swapped = Rain800(tmp_path, "test", degraded_half="left")[0]
    assert torch.equal(swapped["x_lq"], item["x"]) and torch.equal(swapped["x"], item["x_lq"])


def test_rain1200_reads_the_three_densities_with_the_rainy_left_half(tmp_path: Path) -> None:
    training = tmp_path / "DID-MDN-datasets" / "DID-MDN-training"
    for d, density in enumerate(("Rain_Heavy", "Rain_Medium", "Rain_Light")):
        for i in range(2):
            _side_by_side(training / density / "train2018new" / f"{i}.png", 10 * d + i, False)
    _side_by_side(tmp_path / "DID-MDN-datasets" / "DID-MDN-test" / "0.png", 99, False)
    train = Rain1200(tmp_path, "train")
    assert len(train) == 6 and train.names[:2] == ["Rain_Heavy/0", "Rain_Heavy/1"]
    assert torch.equal(train[2]["x"], _unit(_rgb(40, 36, 10)))  # Rain_Medium/0
    test = Rain1200(tmp_path, "test")
    assert len(test) == 1 and _is_inverse(test[0]["x_lq"], test[0]["x"])


def test_raincityscapes_pairs_rendered_rain_with_cityscapes_frames_in_city_folders(tmp_path: Path) -> None:
    rain = tmp_path / "leftImg8bit_trainval_rain" / "leftImg8bit_rain"
    clean = tmp_path / "leftImg8bit_trainvaltest" / "leftImg8bit"
    for s, split in enumerate(("train", "val")):
        for c, (city, frame) in enumerate((("aachen", "000000_000019"), ("bochum", "000000_000313"))):
            a = _rgb(16, 32, 10 * s + c)
            _save(clean / split / city / f"{city}_{frame}_leftImg8bit.png", a)
            for pattern in (1, 2):
                name = f"{city}_{frame}_leftImg8bit_rain_alpha_0.01_beta_0.005_dropsize_0.01_pattern_{pattern}.png"
                _save(rain / split / city / name, 255 - a)
    train, test = RainCityscapes(tmp_path, "train"), RainCityscapes(tmp_path, "test")
    assert len(train) == 4 and len(test) == 4
    assert all(_is_inverse(test[i]["x_lq"], test[i]["x"]) for i in range(4))


def test_outdoorrain_splits_the_training_images_8_to_2_with_a_seed(tmp_path: Path) -> None:
    for scene in range(1, 3):
        a = _rgb(16, 16, scene)
        _save(tmp_path / "train" / "gt" / f"im_{scene:04d}.png", a)
        for s in (80, 85, 90, 95, 100):
            _save(tmp_path / "train" / "in" / f"im_{scene:04d}_s{s}_a04.png", 255 - a)
    train, test = OutdoorRain(tmp_path, "train"), OutdoorRain(tmp_path, "test")
    assert len(train) == 8 and len(test) == 2
    assert set(train.names).isdisjoint(test.names) and len(set(train.names) | set(test.names)) == 10
    assert OutdoorRain(tmp_path, "test").names == test.names
    assert any(OutdoorRain(tmp_path, "test", split_seed=s).names != test.names for s in (1, 2, 3))
    assert all(_is_inverse(test[i]["x_lq"], test[i]["x"]) for i in range(2))


def test_paired_dataset_looks_loaders_up_by_name_and_reports_missing_copies(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown paired dataset"):
        paired_dataset("rain100h", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="RESIDE ITS: expected hazy/ and clear/ under"):
        paired_dataset("reside", tmp_path, "train")
    with pytest.raises(DatasetNotFoundError, match=r"Rain800: expected training/ under .*ID-CGAN"):
        paired_dataset("rain800", tmp_path, "train")


# --- configs ------------------------------------------------------------------------------------------------------


def test_restoration_configs_train_and_validate_on_a_named_dataset(tmp_path: Path) -> None:
    _flowers(tmp_path)
    d = RestorationDataConfig(dataset="flowers", dataset_root=str(tmp_path), task="denoise", val_limit=2)
    train = restoration_train_set(d, seed=0)
    assert len(train) == 3 and train[0]["x"].shape == (3, 128, 128)
    scores = validate_restoration(lambda deg: deg.y, d, seed=0)
    assert set(scores) == {"psnr", "ssim"} and 20 < scores["psnr"] < 40
    assert validate_restoration(lambda deg: deg.y, dataclasses.replace(d, dataset_val_split=None), 0) == {}


def test_restoration_configs_reject_settings_a_named_dataset_overrides() -> None:
    with pytest.raises(ConfigError, match=r"data\.center_crop"):
        RestorationDataConfig(dataset="cub", center_crop=300)
    with pytest.raises(ConfigError, match=r"data\.dataset must be one of"):
        RestorationDataConfig(dataset="imagenet")
    with pytest.raises(ConfigError, match=r"data\.dataset_transform"):
        RestorationDataConfig(dataset="celeba", dataset_transform="celeba")
    assert RestorationDataConfig(dataset="celeba", dataset_transform="irae-celeba-256").resize == 64


def test_pix2pix_trains_and_validates_on_real_pairs(tmp_path: Path) -> None:
    from invrestore.models.pix2pix.config import GeneratorConfig, Pix2PixConfig, Pix2PixDataConfig
    from invrestore.models.pix2pix.steps import Pix2PixTask
    from invrestore.train import TrainConfig

    for i in range(2):
        _side_by_side(tmp_path / "training" / f"{i}.png", i, True)
        _side_by_side(tmp_path / "test_syn" / f"{i}.png", 5 + i, True)
    cfg = Pix2PixConfig(
        generator=GeneratorConfig(depth=2, ngf=4),
        crop_size=32,
        data=Pix2PixDataConfig(paired="rain800", paired_root=str(tmp_path), val_limit=1),
        train=TrainConfig(steps=1, batch_size=1, device="cpu"),
    )
    task = Pix2PixTask(cfg)
    ds = task.train_dataset()
    assert len(ds) == 2 and ds[0]["x"].shape == (3, 32, 32) and _is_inverse(ds[0]["x_lq"], ds[0]["x"])
    scores = task.validate(task.build_model(), torch.device("cpu"))
    assert set(scores) == {"psnr", "ssim", "psnr_in"}  # psnr_in: the degraded input's PSNR, for reference
    item = task.paired_split("test", train=False)[0]  # type: ignore[index]
    assert scores["psnr_in"] == pytest.approx(float(psnr(item["x_lq"].clamp(0, 1), item["x"])), abs=1e-6)
    with pytest.raises(ConfigError, match=r"data\.paired must be one of"):
        Pix2PixDataConfig(paired="rain100h")
    with pytest.raises(ConfigError, match="degraded_half"):
        Pix2PixDataConfig(paired="sidd", degraded_half="left")
    with pytest.raises(ConfigError, match="degraded_dir"):
        Pix2PixDataConfig(paired="folders")


def test_selfvae_loads_celeba_and_imagenette64_as_uint8_with_a_cache(tmp_path: Path) -> None:
    from invrestore.models.selfvae.data import load_celeba, load_external, load_imagenette64

    _celeba(tmp_path / "celeba")
    x = load_celeba(tmp_path / "celeba", "train", cache_dir=tmp_path / "cache")
    assert x.dtype == torch.uint8 and x.shape == (3, 3, 64, 64)
    ref = CelebA(tmp_path / "celeba", "train", transform=SELFVAE_CELEBA_64).stack_uint8()
    assert torch.equal(x, ref)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    assert torch.equal(load_external("CelebA", "train", tmp_path / "celeba", cache_dir=tmp_path / "cache"), x)
    assert load_celeba(tmp_path / "celeba", "test").shape == (1, 3, 64, 64)
    _imagenette(tmp_path / "nette")
    images, labels = load_imagenette64(tmp_path / "nette", "test", size=32)
    assert images.shape == (4, 3, 32, 32) and labels.tolist() == [0, 0, 1, 1]


# --- the real CelebA sample ---------------------------------------------------------------------------------------


def test_the_real_celeba_sample_gives_the_documented_crop_shapes(data_root: Path, tmp_path: Path) -> None:
    sample = data_root / "misc" / "CelebA_sample32"
    if not sample.is_dir():
        pytest.skip(f"{sample} not found")
    os.symlink(sample, tmp_path / "img_align_celeba")
    names = sorted(p.name for p in sample.glob("*.jpg"))
    (tmp_path / "list_eval_partition.txt").write_text("".join(f"{n} 0\n" for n in names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteDatasetWarning)
        raw = CelebA(tmp_path, "train", transform=None)
        irae = CelebA(tmp_path, "train")
        irae256 = CelebA(tmp_path, "train", transform="irae-celeba-256")
        selfvae = CelebA(tmp_path, "train", transform=SELFVAE_CELEBA_64)
        crop = CelebA(tmp_path, "train", transform=CropResize(center=148))
    assert len(raw) == 32 and raw.load(0).shape == (3, 218, 178)
    assert irae.load(0).shape == (3, 64, 64) and irae256.load(0).shape == (3, 256, 256)
    assert selfvae.load(31).shape == (3, 64, 64)
    assert torch.equal(crop.load(0), raw.load(0)[:, 35:183, 15:163])


def test_selfvae_training_reads_celeba_splits_and_asks_for_a_64_pixel_model(tmp_path: Path) -> None:
    from invrestore.errors import ConfigError as CfgError
    from invrestore.models.selfvae.config import SelfVAEConfig, SelfVAEDataConfig
    from invrestore.models.selfvae.steps import SelfVAETask, load_split

    _celeba(tmp_path / "celeba")
    train, test = (
        load_split("CelebA", "train-full", tmp_path / "celeba"),
        load_split("CelebA", "test", tmp_path / "celeba"),
    )
    assert train.shape == (3, 3, 64, 64) and test.shape == (1, 3, 64, 64)
    with pytest.raises(CfgError, match="64×64 model"):  # when the config is built, before any model
        SelfVAETask(SelfVAEConfig(data=SelfVAEDataConfig(dataset="CelebA", root=str(tmp_path / "celeba"))))
