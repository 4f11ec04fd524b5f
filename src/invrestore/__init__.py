"""invrestore: image degradation and restoration that models the information the degradation loses.

The package is organised by concern (see ``docs/`` and the README):

- :mod:`invrestore.io` — image reading/writing with explicit dtypes and atomic writes.
- :mod:`invrestore.color` — MATLAB ``rgb2ycbcr`` and full-range luma.
- :mod:`invrestore.degradations` — MATLAB-compatible bicubic ``imresize`` and other degradations.
- :mod:`invrestore.metrics` — PSNR/SSIM/MS-SSIM/bpp with the literature's conventions.
- :mod:`invrestore.evaluation` — named evaluation protocols (``irn``, ``vdsr``, ``lapsrn``).
- :mod:`invrestore.data` — benchmark-set registry and datasets.
- :mod:`invrestore.nn` — invertible building blocks.
- :mod:`invrestore.zoo` — the shipped weights: manifest, resolver, checksums.
- :mod:`invrestore.api` — :func:`load` and the ``Rescaler``/``Restorer``/``Codec`` protocols::

      m = invrestore.load("irn-x4"); lr, z = m.downscale(img); hr = m.upscale(lr)

``import invrestore`` stays light: torch is imported on first use of :func:`load` or the protocols.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invrestore.errors import InvRestoreError

if TYPE_CHECKING:
    from invrestore.api import Codec, Rescaler, Restorer, load

__version__ = "0.1.0"

__all__ = ["Codec", "InvRestoreError", "Rescaler", "Restorer", "__version__", "load"]

_LAZY = {"load", "Rescaler", "Restorer", "Codec"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from invrestore import api

        return getattr(api, name)
    raise AttributeError(f"module 'invrestore' has no attribute {name!r}")
