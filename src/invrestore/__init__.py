"""invrestore: image degradation and restoration that models the information the degradation loses.

The package is organised by concern (see ``docs/`` and the README):

- :mod:`invrestore.io` — image reading/writing with explicit dtypes and atomic writes.
- :mod:`invrestore.color` — MATLAB ``rgb2ycbcr`` and full-range luma.
- :mod:`invrestore.degradations` — MATLAB-compatible bicubic ``imresize`` and other degradations.
- :mod:`invrestore.metrics` — PSNR/SSIM/MS-SSIM/bpp with the literature's conventions.
- :mod:`invrestore.evaluation` — named evaluation protocols (``irn``, ``vdsr``, ``lapsrn``).
- :mod:`invrestore.data` — benchmark-set registry and datasets.
- :mod:`invrestore.nn` — invertible building blocks.
"""

from invrestore.errors import InvRestoreError

__version__ = "0.1.0"

__all__ = ["InvRestoreError", "__version__"]
