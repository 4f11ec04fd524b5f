"""Compatibility names for importers of the former ``invrestore.data.external`` module.

The external datasets are entries of the one registry now (:mod:`invrestore.data.catalog`), built on
:mod:`invrestore.data.images`, :mod:`invrestore.data.paired`, :mod:`invrestore.data.layouts` and
:mod:`invrestore.data.transforms`; import them from :mod:`invrestore.data`. This module goes once
``invrestore.models.selfvae.data`` imports from there (and ``selfvae_celeba_transform`` from
``invrestore.models.selfvae.datasets``).
"""

from __future__ import annotations

from invrestore.data.catalog import (
    CUB200,
    RESIDE,
    SIDD,
    CelebA,
    Flowers102,
    Imagenette,
    OutdoorRain,
    Rain800,
    Rain1200,
    RainCityscapes,
)
from invrestore.data.images import TransformedImages, image_dataset
from invrestore.data.layouts import paired_dataset
from invrestore.data.locate import IncompleteDatasetWarning
from invrestore.data.paired import PairedFiles, PairedFolders, PairedImages, SideBySideImages, pair_files
from invrestore.data.transforms import (
    IMAGENETTE_64,
    IRAE_CELEBA_64,
    IRAE_CELEBA_256,
    IRAE_CUB_128,
    IRAE_FLOWERS_128,
    TRANSFORMS,
    CropResize,
    get_transform,
)

__all__ = [
    "CUB200",
    "IMAGENETTE_64",
    "IRAE_CELEBA_64",
    "IRAE_CELEBA_256",
    "IRAE_CUB_128",
    "IRAE_FLOWERS_128",
    "RESIDE",
    "SELFVAE_CELEBA_64",
    "SIDD",
    "TRANSFORMS",
    "CelebA",
    "CropResize",
    "Flowers102",
    "Imagenette",
    "IncompleteDatasetWarning",
    "OutdoorRain",
    "PairedFiles",
    "PairedFolders",
    "PairedImages",
    "Rain800",
    "Rain1200",
    "RainCityscapes",
    "SideBySideImages",
    "TransformedImages",
    "get_transform",
    "image_dataset",
    "pair_files",
    "paired_dataset",
    "selfvae_celeba_transform",
]


def selfvae_celeba_transform(size: int = 64) -> CropResize:
    """srVAE's CelebA preprocessing (kept here until ``models/selfvae/data.py`` imports it from
    ``invrestore.models.selfvae.datasets``, where it lives; the data layer cannot import a family)."""
    return CropResize(box=(40, 15, 148, 148), size=size)


#: srVAE CelebA at 64×64 (see :func:`selfvae_celeba_transform`).
SELFVAE_CELEBA_64 = selfvae_celeba_transform(64)
