"""Every dataset the library knows: one declarative entry each, registered in :data:`~invrestore.data.DATASETS`.

Adding a dataset is adding an entry here (``docs/data.md``, "Adding a dataset"):

- a benchmark or training folder: a :class:`~invrestore.data.registry.DatasetInfo` with ``candidates`` (folders
  under the data root) and the ``expected`` image count;
- an image dataset with official splits: an :class:`~invrestore.data.images.ImageSet` with its ``url``, the
  ``splits`` and their sizes, where a copy is (``search``, ``needs``), a ``listing`` of the split's files and the
  default ``transform``;
- a paired dataset: a :class:`~invrestore.data.layouts.PairedSet` with a layout per split.

Nothing is downloaded: the user fetches the external datasets from their ``url`` and points ``root`` (or the data
root) at them. The entries' names are the public loaders: ``CelebA(root, split)``, ``Rain800(root, "test")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from invrestore.data.images import ImageListing, ImageSet
from invrestore.data.layouts import FolderPairs, MatBlocks, PairedSet, ScenePairs, SeededSplit, SideBySide
from invrestore.data.locate import loadmat
from invrestore.data.registry import DatasetInfo, register_dataset
from invrestore.errors import DatasetNotFoundError
from invrestore.io import list_images

__all__ = [
    "CUB200",
    "RESIDE",
    "SIDD",
    "CelebA",
    "Flowers102",
    "Imagenette",
    "OutdoorRain",
    "Rain800",
    "Rain1200",
    "RainCityscapes",
]


# ---------------------------------------------------------------------------------------------------------------
# benchmark and training folders (``invrestore data list``)


def _sr(name: str, expected: int, desc: str, aliases: Sequence[str] = ()) -> DatasetInfo:
    """A super-resolution benchmark, in this project's layout (``eval/<name>``) or the usual SR ones."""
    cands: list[str] = []
    for n in (name, *aliases):
        cands += [f"eval/{n}", n, f"{n}/HR", f"benchmark/{n}/HR", f"{n}/GTmod12", f"eval/{n}/HR"]
    return DatasetInfo(
        name, candidates=tuple(cands), expected=expected, kind="eval", description=desc, aliases=tuple(aliases)
    )


register_dataset(_sr("Set5", 5, "Set5 super-resolution benchmark"))
register_dataset(_sr("Set14", 14, "Set14 super-resolution benchmark (bridge.png is grayscale)"))
register_dataset(_sr("BSD100", 100, "BSDS300 test split (B100)", aliases=("B100",)))
register_dataset(_sr("Urban100", 100, "Urban100 buildings"))
register_dataset(_sr("Manga109", 109, "Manga109 comics"))
register_dataset(
    DatasetInfo(
        "DIV2K-train",
        candidates=("DIV2K/DIV2K_train_HR", "DIV2K_train_HR", "train/DIV2K_train_HR"),
        expected=800,
        description="DIV2K training HR images 0001-0800 (IRN's training set)",
    )
)
register_dataset(
    DatasetInfo(
        "DIV2K-valid",
        candidates=("DIV2K/DIV2K_valid_HR", "DIV2K_valid_HR", "eval/DIV2K_valid_HR"),
        expected=100,
        kind="eval",
        description="DIV2K validation HR images 0801-0900",
    )
)
register_dataset(
    DatasetInfo(
        "Kodak24",
        candidates=("eval/Kodak24", "Kodak24", "kodak", "Kodak"),
        expected=24,
        kind="eval",
        description="Kodak lossless true colour suite (768x512)",
        aliases=("kodak",),
    )
)
register_dataset(
    DatasetInfo(
        "CBSD68",
        candidates=("eval/CBSD68", "CBSD68"),
        expected=68,
        kind="eval",
        description="colour BSD68 denoising set (the 68 BSD100 images listed in eval/CBSD68_ids.txt)",
        ids_file="eval/CBSD68_ids.txt",
        subset_of="BSD100",
    )
)
register_dataset(
    DatasetInfo(
        "McMaster",
        candidates=("eval/McMaster", "McMaster"),
        expected=18,
        kind="eval",
        description="McMaster colour set (500x500)",
    )
)
register_dataset(
    DatasetInfo(
        "T91",
        candidates=("train/T91", "T91", "yang91"),
        expected=91,
        description="Yang et al. 91-image SR training set",
    )
)
register_dataset(
    DatasetInfo(
        "BSDS200",
        candidates=("train/BSDS200", "BSDS200", "bsd200"),
        expected=200,
        description="BSDS300 train split",
    )
)
register_dataset(
    DatasetInfo(
        "CelebA-sample32",
        candidates=("misc/CelebA_sample32", "CelebA_sample32"),
        expected=32,
        kind="misc",
        description="the first 32 CelebA aligned faces (smoke tests)",
    )
)
register_dataset(
    DatasetInfo(
        "CIFAR-10",
        candidates=("cifar-10-batches-py", "CIFAR10/cifar-10-batches-py", "misc/cifar-10-batches-py"),
        expected=60000,
        description="CIFAR-10 official python pickles (50000 train + 10000 test)",
        array=True,
        aliases=("cifar10",),
    )
)
register_dataset(
    DatasetInfo(
        "CIFAR-10-partial",
        candidates=("misc/CIFAR10_partial/cifar10_partial.npz", "CIFAR10_partial/cifar10_partial.npz"),
        expected=5506,
        kind="misc",
        description="leading rows of CIFAR-10 (4660 train + 846 test) as one .npz",
        array=True,
        aliases=("cifar10-partial",),
    )
)


# ---------------------------------------------------------------------------------------------------------------
# image datasets with official splits (IRAE, baselines, selfVAE)

_CELEBA_CODES = {"train": ("0",), "valid": ("1",), "test": ("2",), "all": ("0", "1", "2")}


def _celeba_listing(found: list[Path], split: str) -> ImageListing:
    """``list_eval_partition.txt`` (or Kaggle's ``.csv`` with a header): ``<file> <0 train | 1 valid | 2 test>``."""
    images_dir, partition = found
    if (images_dir / "img_align_celeba").is_dir() and not (images_dir / "000001.jpg").is_file():
        images_dir = images_dir / "img_align_celeba"  # Kaggle's zip nests the folder
    rows = [ln.replace(",", " ").split() for ln in partition.read_text().splitlines()]
    rows = [r for r in rows if len(r) >= 2 and r[1].isdigit()]
    if not rows:
        raise DatasetNotFoundError(f"CelebA: '{partition}' has no '<file> <0|1|2>' lines")
    files = [images_dir / r[0] for r in rows if r[1] in _CELEBA_CODES[split]]
    return ImageListing(files, where=partition, listed_in=partition, root=images_dir.parent)


CelebA = register_dataset(
    ImageSet(
        "CelebA",
        description="CelebA aligned faces (178x218)",
        url="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped images + Eval/list_eval_partition.txt)",
        splits={"train": 162_770, "valid": 19_867, "test": 19_962, "all": 202_599},
        candidates=("CelebA/img_align_celeba", "img_align_celeba", "celeba/img_align_celeba"),
        expected=202_599,
        search=("", "celeba", "CelebA", "CelebA/celeba"),
        needs=(
            ("img_align_celeba/", "Img/img_align_celeba/"),
            ("list_eval_partition.txt", "Eval/list_eval_partition.txt", "list_eval_partition.csv"),
        ),
        listing=_celeba_listing,
        transform="irae-celeba-64",
    )
)

#: Flowers-102 splits as ``setid.mat`` arrays: IRAE's ``train``/``test`` (swapped on purpose) and the official ones.
_FLOWERS_IDS = {
    "train": ("tstid",),
    "test": ("trnid", "valid"),
    "trnid": ("trnid",),
    "valid": ("valid",),
    "tstid": ("tstid",),
}


def _flowers_listing(found: list[Path], split: str) -> ImageListing:
    """``setid.mat``: 1-based image ids per official part (read with scipy)."""
    jpg, setid = found
    mat = loadmat(setid, "Flowers-102")
    ids: list[int] = []
    for key in _FLOWERS_IDS[split]:
        if key not in mat:
            raise DatasetNotFoundError(f"Flowers-102: '{setid}' has no '{key}' array (trnid, valid, tstid)")
        ids += [int(v) for v in np.asarray(mat[key]).reshape(-1)]
    return ImageListing([jpg / f"image_{i:05d}.jpg" for i in ids], where=jpg, listed_in=setid, root=jpg.parent)


Flowers102 = register_dataset(
    ImageSet(
        "Flowers-102",
        description="Oxford Flowers-102 with IRAE's swapped split (train = tstid, test = trnid + valid)",
        aliases=("flowers", "flowers102"),
        url="https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz and setid.mat)",
        splits={"train": 6_149, "test": 2_040, "trnid": 1_020, "valid": 1_020, "tstid": 6_149},
        search=("", "flowers-102", "flowers102", "102flowers", "Flowers102", "oxford-102-flowers"),
        needs=(("jpg/",), ("setid.mat",)),
        listing=_flowers_listing,
        transform="irae-flowers-128",
    )
)


def _id_table(path: Path) -> dict[int, str]:
    """``<id> <value>`` lines of a CUB index file."""
    table: dict[int, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise DatasetNotFoundError(f"CUB-200-2011: line {n} of '{path}' is not '<id> <value>': {line!r}")
        table[int(parts[0])] = parts[1].strip()
    return table


def _cub_listing(found: list[Path], split: str) -> ImageListing:
    """``images.txt`` (``<id> <class>/<file>.jpg``) and ``train_test_split.txt`` (``<id> <1 train | 0 test>``)."""
    images_txt, split_txt, images_dir = found
    images, is_train = _id_table(images_txt), _id_table(split_txt)
    ids = sorted(i for i in images if split == "all" or is_train.get(i) == ("1" if split == "train" else "0"))
    return ImageListing([images_dir / images[i] for i in ids], where=split_txt)


CUB200 = register_dataset(
    ImageSet(
        "CUB-200-2011",
        description="Caltech-UCSD Birds-200-2011 with the official split",
        aliases=("cub", "cub200"),
        url="https://www.vision.caltech.edu/datasets/cub_200_2011/ (CUB_200_2011.tgz)",
        splits={"train": 5_994, "test": 5_794, "all": 11_788},
        search=("", "CUB_200_2011", "CUB_200_2011/CUB_200_2011", "cub"),
        needs=(("images.txt",), ("train_test_split.txt",), ("images/",)),
        listing=_cub_listing,
        transform="irae-cub-128",
    )
)


def _imagenette_listing(found: list[Path], split: str) -> ImageListing:
    """``<split>/<wnid>/*.JPEG``: files by class folder then name, labels = index of the sorted wnids."""
    (split_dir,) = found
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    files: list[Path] = []
    labels: list[int] = []
    for k, wnid in enumerate(classes):
        in_class = list_images(split_dir / wnid)
        files += in_class
        labels += [k] * len(in_class)
    return ImageListing(
        files, where=split_dir, check=False, root=split_dir.parent, split=split_dir.name, labels=labels, classes=classes
    )


Imagenette = register_dataset(
    ImageSet(
        "Imagenette",
        description="Imagenette imagenette2-160 (10 ImageNet classes; test = val)",
        aliases=("imagenette64",),
        url="https://github.com/fastai/imagenette (imagenette2-160.tgz)",
        splits={"train": 9_469, "val": 3_925, "test": 3_925},
        search=("", "imagenette2-160", "imagenette2-160/imagenette2-160", "imagenette"),
        needs={"train": (("train/",),), "val": (("val/",),), "test": (("val/",),)},
        listing=_imagenette_listing,
        transform="imagenette-64",
    )
)


# ---------------------------------------------------------------------------------------------------------------
# real paired restoration datasets (pix2pix, "Rethinking generative restoration")

SIDD = register_dataset(
    PairedSet(
        "SIDD",
        description="SIDD real noise: SIDD-Small sRGB scenes (train), SIDD validation 256² blocks (test)",
        url="https://www.eecs.yorku.ca/~kamel/sidd/ (SIDD-Small sRGB; SIDD validation blocks, sRGB .mat)",
        splits={"train": 160, "test": 1_280},
        layouts={
            "train": ScenePairs(
                search=(
                    "SIDD_Small_sRGB_Only/Data",
                    "SIDD_Small_sRGB_Only/SIDD_Small_sRGB_Only/Data",
                    "SIDD_Small_sRGB_Only",
                    "Data",
                    "",
                ),
                clean="GT_SRGB_",
                degraded="NOISY_SRGB_",
            ),
            "test": MatBlocks(
                search=("", "SIDD_Validation", "SIDD-Validation", "validation", "val"),
                degraded="ValidationNoisyBlocksSrgb.mat",
                clean="ValidationGtBlocksSrgb.mat",
            ),
        },
    )
)

RESIDE = register_dataset(
    PairedSet(
        "RESIDE",
        description="RESIDE dehazing: ITS (train), SOTS-indoor (test); hazy 1400_1.png pairs with clear 1400.png",
        url="https://sites.google.com/view/reside-dehaze-datasets (RESIDE-Standard: ITS and SOTS)",
        splits={"train": 13_990, "test": 500},
        layouts={
            "train": FolderPairs(
                search=("ITS", "ITS_v2", "RESIDE/ITS", "RESIDE-ITS", "reside-indoor/train", ""),
                degraded=("hazy/",),
                clean=("clear/", "gt/", "GT/"),
                label="RESIDE ITS",
            ),
            "test": FolderPairs(
                search=(
                    "SOTS/indoor",
                    "SOTS-indoor",
                    "SOTS/nyuhaze500",
                    "RESIDE/SOTS/indoor",
                    "reside-indoor/test",
                    "",
                ),
                degraded=("hazy/",),
                clean=("gt/", "clear/", "GT/"),
                label="RESIDE SOTS-indoor",
            ),
        },
        defaults={"size_mismatch": "center_crop"},  # SOTS ground truths with a border, as FFA-Net crops them
    )
)

_RAIN800 = ("", "rain800", "Rain800")
Rain800 = register_dataset(
    PairedSet(
        "Rain800",
        description="Rain800 (ID-CGAN): [clean | rainy] side by side",
        url="https://github.com/hezhangsprinter/ID-CGAN (Rain800: training/ and test_syn/)",
        splits={"train": 700, "test": 100},
        layouts={
            "train": SideBySide(_RAIN800, folders=("training/", "train/")),
            "test": SideBySide(_RAIN800, folders=("test_syn/", "testing/", "test/")),
        },
        defaults={"degraded_half": "right"},  # ID-CGAN trains pix2pix BtoA: the right half (B) is the input
    )
)

_RAIN1200 = ("", "DID-MDN-datasets", "DID-MDN", "Rain1200", "rain1200")
Rain1200 = register_dataset(
    PairedSet(
        "Rain1200",
        description="Rain1200 (DID-MDN): heavy, medium and light rain, [rainy | clean] side by side",
        aliases=("did-mdn",),
        url="https://github.com/hezhangsprinter/DID-MDN (DID-MDN-training/ and DID-MDN-test/)",
        splits={"train": 12_000, "test": 1_200},
        layouts={
            "train": SideBySide(
                _RAIN1200,
                folders=("DID-MDN-training/",),
                parts=tuple(f"Rain_{d}/train2018new" for d in ("Heavy", "Medium", "Light")),
            ),
            "test": SideBySide(_RAIN1200, folders=("DID-MDN-test/",)),
        },
        defaults={"degraded_half": "left"},  # DID-MDN's loader takes the left half as its input
    )
)


def _raincityscapes(split: str) -> FolderPairs:
    return FolderPairs(
        search=("leftImg8bit_trainval_rain", "RainCityscapes/leftImg8bit_trainval_rain", "RainCityscapes", ""),
        degraded=(f"leftImg8bit_rain/{split}/",),
        clean=(f"leftImg8bit/{split}/",),
        clean_search=(
            "leftImg8bit_trainvaltest",
            "cityscapes",
            "RainCityscapes/leftImg8bit_trainvaltest",
            "RainCityscapes",
            "",
        ),
        clean_what="clean Cityscapes images",
        recursive=True,
    )


RainCityscapes = register_dataset(
    PairedSet(
        "RainCityscapes",
        description="RainCityscapes (Hu et al. 2019): rain rendered on Cityscapes frames (test = val)",
        url="https://www.cityscapes-dataset.com/downloads/ (leftImg8bit_trainval_rain.zip and "
        "leftImg8bit_trainvaltest.zip)",
        splits={"train": 9_432, "test": 1_188},
        layouts={"train": _raincityscapes("train"), "test": _raincityscapes("val")},
    )
)

_OUTDOORRAIN = SeededSplit(
    search=("train", "Outdoor-Rain/train", "OutdoorRain/train", "outdoor-rain/train", ""),
    degraded=("in/", "input/", "data/", "rain/"),
    clean=("gt/",),
)
OutdoorRain = register_dataset(
    PairedSet(
        "OutdoorRain",
        description="Outdoor-Rain (Li et al. 2019, heavy rain + haze), seeded 8:2 split of the 9,000 training images",
        url="https://github.com/liruoteng/HeavyRainRemoval (Outdoor-Rain training set: in/ and gt/)",
        splits={"train": 7_200, "test": 1_800, "all": 9_000},
        layouts={"train": _OUTDOORRAIN, "test": _OUTDOORRAIN, "all": _OUTDOORRAIN},
    )
)
