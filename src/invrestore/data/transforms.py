"""Image preprocessing of the external datasets: :class:`CropResize` and the named pipelines of configs.

A :class:`CropResize` crops, then resizes with Pillow ``BILINEAR`` on the uint8 image, which is what torchvision's
``CenterCrop``/``crop`` + ``Resize`` do on PIL images (the official IRAE and srVAE pipelines). Pillow's bilinear
filter widens its support by the scale factor when downscaling (it antialiases), so it differs from
``torch.nn.functional.interpolate(mode="bilinear")`` without ``antialias``.

Named pipelines (:data:`TRANSFORMS`, looked up by :func:`get_transform`) are the datasets' default preprocessing
used by the restoration pipeline (IRAE and the baselines) and Imagenette64; a family adds its own with
:func:`register_transform` in its ``datasets.py`` (e.g. ``invrestore.models.selfvae.datasets``). See
``docs/data.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from invrestore.errors import ConfigError

__all__ = [
    "IMAGENETTE_64",
    "IRAE_CELEBA_64",
    "IRAE_CELEBA_256",
    "IRAE_CUB_128",
    "IRAE_FLOWERS_128",
    "TRANSFORMS",
    "CropResize",
    "get_transform",
    "register_transform",
]


@dataclass(frozen=True)
class CropResize:
    """Crop, then resize with Pillow ``BILINEAR``: torchvision's ``CenterCrop``/``crop`` + ``Resize`` on PIL images.

    Attributes:
        center: square centre crop side (torchvision ``CenterCrop``: ``top = round((H − c)/2)``, ``left =
            round((W − c)/2)`` with Python rounding; a side smaller than ``c`` is zero-padded by ``(c − W)//2``
            before and ``(c − W + 1)//2`` after, as torchvision does).
        box: fixed crop ``(top, left, height, width)`` (torchvision ``functional.crop``; outside pixels are 0).
        size: ``int`` = the shorter side after resizing (the longer one is ``int(size · long / short)``,
            torchvision's ``Resize(int)``); ``(h, w)`` = exact size (``Resize((h, w))``, aspect not kept);
            ``None`` = no resizing. An image already at the target size is left untouched.
    """

    center: int | None = None
    box: tuple[int, int, int, int] | None = None
    size: int | tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.center is not None and self.box is not None:
            raise ConfigError("CropResize takes a centre crop or a box, not both")
        if self.center is not None and self.center <= 0:
            raise ConfigError(f"CropResize: the centre crop must be positive, got {self.center}")
        if self.box is not None and (len(self.box) != 4 or self.box[2] <= 0 or self.box[3] <= 0):
            raise ConfigError(f"CropResize: box must be (top, left, height, width) with positive sizes, got {self.box}")
        sizes = (self.size,) if isinstance(self.size, int) else (self.size or ())
        if any(s <= 0 for s in sizes):
            raise ConfigError(f"CropResize: sizes must be positive, got {self.size}")

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The crop as Pillow's ``(left, upper, right, lower)`` in source pixels (it may reach outside: zeros)."""
        if self.box is not None:
            top, left, h, w = self.box
            return left, top, left + w, top + h
        if self.center is not None:
            c = self.center
            left = round((width - c) / 2) if width >= c else -((c - width) // 2)
            top = round((height - c) / 2) if height >= c else -((c - height) // 2)
            return left, top, left + c, top + c
        return 0, 0, width, height

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """The ``(width, height)`` that the resize gives an image of ``width × height``."""
        if self.size is None:
            return width, height
        if isinstance(self.size, int):
            s = self.size
            return (s, int(s * height / width)) if width <= height else (int(s * width / height), s)
        return self.size[1], self.size[0]

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The ``(width, height)`` of the transformed image of a ``width × height`` source."""
        left, top, right, bottom = self.crop_box(width, height)
        return self.resized(right - left, bottom - top)

    def __call__(self, img: Image.Image) -> Image.Image:
        if self.center is not None or self.box is not None:
            img = img.crop(self.crop_box(*img.size))
        if self.size is not None:
            w, h = img.size
            target = self.resized(w, h)
            if target != (w, h):
                img = img.resize(target, Image.Resampling.BILINEAR)
        return img


#: IRAE CelebA: ``CenterCrop(148) → Resize(64)`` (the Glow/RealNVP preprocessing, ``docs/restoration.md``).
IRAE_CELEBA_64 = CropResize(center=148, size=64)
#: IRAE CelebA inpainting: ``CenterCrop(148) → Resize(256)``.
IRAE_CELEBA_256 = CropResize(center=148, size=256)
#: IRAE Flowers-102: ``CenterCrop(400) → Resize(128)``.
IRAE_FLOWERS_128 = CropResize(center=400, size=128)
#: IRAE CUB-200 ("Bird"): ``CenterCrop(300) → Resize(128)``.
IRAE_CUB_128 = CropResize(center=300, size=128)
#: Imagenette64: ``Resize((64, 64))`` of imagenette2-160 (the aspect ratio is not preserved).
IMAGENETTE_64 = CropResize(size=(64, 64))

#: The named preprocessing pipelines (for configs); families add theirs with :func:`register_transform`.
TRANSFORMS: dict[str, CropResize] = {
    "irae-celeba-64": IRAE_CELEBA_64,
    "irae-celeba-256": IRAE_CELEBA_256,
    "irae-flowers-128": IRAE_FLOWERS_128,
    "irae-cub-128": IRAE_CUB_128,
    "imagenette-64": IMAGENETTE_64,
}


def register_transform(name: str, transform: CropResize) -> CropResize:
    """Add a named pipeline to :data:`TRANSFORMS` (lower-case name) and return it.

    Raises:
        ConfigError: the name is taken by another pipeline.
    """
    key = name.lower()
    if TRANSFORMS.get(key, transform) != transform:
        raise ConfigError(f"transform {name!r} is already registered as {TRANSFORMS[key]}")
    TRANSFORMS[key] = transform
    return transform


def get_transform(name: str | CropResize | None) -> CropResize | None:
    """A named transform of :data:`TRANSFORMS` (a :class:`CropResize` or ``None`` passes through).

    Raises:
        ConfigError: unknown name.
    """
    if name is None or isinstance(name, CropResize):
        return name
    key = name.lower()
    if key not in TRANSFORMS:
        raise ConfigError(f"unknown transform {name!r}; known: {', '.join(TRANSFORMS)}")
    return TRANSFORMS[key]
