"""selfVAE's preprocessing of the external datasets (the loaders are registry entries of :mod:`invrestore.data`).

- CelebA: srVAE's ``crop(top=40, left=15, 148, 148) → Resize(size)`` (Pillow bilinear, as torchvision on PIL
  images), no augmentation; registered as the named transform ``selfvae-celeba-64``.
- Imagenette64: ``Resize((size, size))`` of imagenette2-160 (aspect not preserved), the data layer's
  ``imagenette-64`` at 64 (:func:`imagenette_transform`).

See ``docs/selfvae.md`` and ``docs/data.md``.
"""

from __future__ import annotations

from invrestore.data import CropResize, register_transform

__all__ = ["CELEBA_BOX", "SELFVAE_CELEBA_64", "imagenette_transform", "selfvae_celeba_transform"]

#: srVAE's CelebA crop box ``(top, left, height, width)`` in the 178×218 aligned faces.
CELEBA_BOX = (40, 15, 148, 148)


def selfvae_celeba_transform(size: int = 64) -> CropResize:
    """srVAE's CelebA preprocessing: ``crop(top=40, left=15, 148, 148) → Resize(size)`` (no augmentation)."""
    return CropResize(box=CELEBA_BOX, size=size)


def imagenette_transform(size: int = 64) -> CropResize:
    """Imagenette at ``size×size``: ``Resize((size, size))`` (aspect not preserved)."""
    return CropResize(size=(size, size))


#: srVAE CelebA at 64×64.
SELFVAE_CELEBA_64 = register_transform("selfvae-celeba-64", selfvae_celeba_transform(64))
