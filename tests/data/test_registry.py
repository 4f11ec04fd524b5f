"""The dataset registry finds sets under a user-given root and explains what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from invrestore.data import DATASETS, resolve_data_root, resolve_dataset
from invrestore.errors import DatasetNotFoundError

AVAILABLE = {
    "Set5": 5,
    "Set14": 14,
    "BSD100": 100,
    "Kodak24": 24,
    "CBSD68": 68,
    "McMaster": 18,
    "T91": 91,
    "BSDS200": 200,
    "CelebA-sample32": 32,
}


@pytest.mark.parametrize(("name", "count"), sorted(AVAILABLE.items()))
def test_benchmark_sets_resolve_with_their_expected_image_counts(data_root: Path, name: str, count: int) -> None:
    r = resolve_dataset(name, data_root, strict=True)
    assert len(r.files) == count == r.info.expected


def test_cbsd68_is_the_listed_subset_of_bsd100(data_root: Path) -> None:
    r = resolve_dataset("cbsd68", data_root)
    ids = (data_root / "eval" / "CBSD68_ids.txt").read_text().split()
    assert [p.stem for p in r.files] == ids


def test_aliases_are_case_insensitive(data_root: Path) -> None:
    assert resolve_dataset("b100", data_root).info.name == "BSD100"


def test_the_registry_covers_every_set_the_project_uses() -> None:
    names = {d.name for d in DATASETS.values()}
    for n in ["Set5", "Set14", "BSD100", "Urban100", "Manga109", "DIV2K-train", "DIV2K-valid", "Kodak24"]:
        assert n in names
    for n in ["CBSD68", "McMaster", "T91", "BSDS200", "CelebA", "CIFAR-10"]:
        assert n in names


def test_root_comes_from_the_environment_when_not_given(data_env: Path) -> None:
    assert resolve_data_root() == data_env


def test_missing_root_says_how_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="--data-root"):
        resolve_data_root(tmp_path / "nowhere")


def test_unknown_dataset_lists_known_names(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="known datasets: Set5"):
        resolve_dataset("Set6", tmp_path)


def test_missing_dataset_names_the_root_searched(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path)):
        resolve_dataset("Urban100", tmp_path)


def test_common_sr_layout_is_found(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "benchmark" / "Set5" / "HR").mkdir(parents=True)
    for i in range(5):
        Image.new("RGB", (4, 4)).save(tmp_path / "benchmark" / "Set5" / "HR" / f"{i}.png")
    assert len(resolve_dataset("Set5", tmp_path, strict=True).files) == 5


def test_one_table_holds_every_dataset_and_one_lookup_finds_each_by_name_or_alias() -> None:
    from invrestore.data import CelebA, ImageSet, PairedSet, Rain1200, get_dataset_info

    for info in DATASETS.values():
        for name in (info.name, *info.aliases):
            assert get_dataset_info(name.upper()) is info
        if isinstance(info, (ImageSet, PairedSet)):
            assert info.url.startswith("https://") and info.splits, info.name
    assert get_dataset_info("celeba") is CelebA and get_dataset_info("did-mdn", PairedSet) is Rain1200
    kinds = {type(d).__name__ for d in DATASETS.values()}
    assert kinds == {"DatasetInfo", "ImageSet", "PairedSet"}


def test_unknown_names_raise_one_error_listing_the_known_names_of_that_kind(tmp_path: Path) -> None:
    from invrestore.data import ImageSet, UnknownDatasetError, get_dataset_info, image_dataset, paired_dataset
    from invrestore.errors import ConfigError

    with pytest.raises(UnknownDatasetError, match="known image datasets: CelebA, Flowers-102") as e:
        get_dataset_info("Set5", ImageSet)
    assert isinstance(e.value, ConfigError) and isinstance(e.value, DatasetNotFoundError)
    with pytest.raises(UnknownDatasetError, match="known paired datasets: SIDD, RESIDE"):
        paired_dataset("celeba", tmp_path)
    with pytest.raises(UnknownDatasetError, match="unknown image dataset 'rain800'"):
        image_dataset("rain800", tmp_path)


def test_split_datasets_say_how_to_load_them_instead_of_listing_files(tmp_path: Path) -> None:
    from invrestore.data import locate_dataset, training_files

    with pytest.raises(DatasetNotFoundError, match=r"Rain800 comes in splits \(train, test\).*paired_dataset"):
        resolve_dataset("rain800", tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"Flowers-102 comes in splits.*data\.dataset"):
        training_files(["flowers"], root=tmp_path)
    (tmp_path / "rain800" / "test_syn").mkdir(parents=True)
    (tmp_path / "rain800" / "training").mkdir()
    assert locate_dataset("Rain800", tmp_path) == tmp_path / "rain800"
    with pytest.raises(DatasetNotFoundError, match="RESIDE ITS: expected hazy/"):
        locate_dataset("RESIDE", tmp_path)


def test_a_second_entry_cannot_take_a_registered_name() -> None:
    from invrestore.data import DatasetInfo, register_dataset
    from invrestore.errors import ConfigError

    with pytest.raises(ConfigError, match="b100"):
        register_dataset(DatasetInfo("Other", description="x", candidates=("o",), expected=1, aliases=("B100",)))
    assert "other" not in DATASETS
