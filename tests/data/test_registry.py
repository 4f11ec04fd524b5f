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
