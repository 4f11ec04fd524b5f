"""Degradation operators (image -> degraded image).

- :func:`imresize`: MATLAB-compatible bicubic resize with antialiasing (the LR generator of every SR
  benchmark).
- :class:`GaussianNoise`: AWGN at σ on the 0–255 scale, fixed or blind (σ drawn per image); not clipped by default.
- :class:`JPEG`: real JPEG at quality QF through Pillow (round-half-up to uint8, 4:2:0), decoded back to float.
- :class:`Inpainting`: box ("center") and free-form ("irregular") hole masks, ``x·(1 − m) + fill·m``.

The random ones take an explicit ``torch.Generator`` and have the ``PairedDataset`` signature
``degrade(x (C, H, W) in [0, 1], generator) -> x_lq``; see ``docs/restoration.md``.
"""

from invrestore.degradations.imresize import imresize, imresize_output_size, resize_weights
from invrestore.degradations.jpeg import JPEG, SUBSAMPLING, jpeg_compress, jpeg_decode, jpeg_encode
from invrestore.degradations.masks import Inpainting, box_mask, irregular_mask
from invrestore.degradations.noise import IRAE_BLIND_SIGMA, GaussianNoise, add_gaussian_noise

__all__ = [
    "IRAE_BLIND_SIGMA",
    "JPEG",
    "SUBSAMPLING",
    "GaussianNoise",
    "Inpainting",
    "add_gaussian_noise",
    "box_mask",
    "imresize",
    "imresize_output_size",
    "irregular_mask",
    "jpeg_compress",
    "jpeg_decode",
    "jpeg_encode",
    "resize_weights",
]
