"""Rescaling methods: what an evaluation protocol (:mod:`invrestore.evaluation`) downscales and upscales with.

A *method* is any object with two methods (structural typing, see :class:`RescalingMethod`)::

    downscale(hr: Tensor (B, C, H, W), scale: int) -> lr: Tensor (B, C, H/s, W/s)
    upscale(lr: Tensor (B, C, h, w), scale: int)   -> sr: Tensor (B, C, h*s, w*s)

Images are floats in [0, 1] (values may leave [0, 1]; the protocol clips when it quantises). The protocol
decides what happens *between* the two calls (e.g. the ``irn`` protocol rounds the LR to 8 bits, like saving a
PNG) and after them, so a method never quantises its own output. The two calls are independent: a method must
not keep per-image state between them. Learned rescalers fit this API without state: IRN's ``downscale``
returns the LR part of the forward pass (the latent is discarded, as at test time), and its ``upscale`` draws
:math:`z \\sim \\mathcal{N}(0, 1)` (from a generator it owns) and runs the inverse pass on the quantised LR.

Grayscale images reach the method with one channel unless the protocol was built with
``grayscale_as_rgb=True``; a method that only handles RGB should replicate the channel itself and return the
channel mean, or be evaluated with ``grayscale_as_rgb=True``. In the ``vdsr`` protocol a method always
receives the single Y channel in float64 (this suits channel-agnostic methods such as bicubic).

The protocol and :class:`BicubicMethod` live here, below the models, so that a model family (the IRN CRM's
bicubic baseline, IRN's validation) can use them without importing :mod:`invrestore.evaluation`; the evaluation
package re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor

from invrestore.degradations.imresize import imresize
from invrestore.errors import ScaleError

__all__ = ["BicubicMethod", "RescalingMethod"]


@runtime_checkable
class RescalingMethod(Protocol):
    """A pair of (downscale, upscale) maps for an integer scale factor (see the module docstring)."""

    def downscale(self, hr: Tensor, scale: int) -> Tensor:
        """``(B, C, H, W) -> (B, C, H/s, W/s)`` in [0, 1]; H and W are multiples of ``scale``."""
        ...

    def upscale(self, lr: Tensor, scale: int) -> Tensor:
        """``(B, C, h, w) -> (B, C, h·s, w·s)``, floats in [0, 1]."""
        ...


@dataclass(frozen=True)
class BicubicMethod:
    """MATLAB ``imresize(·, 1/s, 'bicubic')`` down and ``imresize(·, s, 'bicubic')`` up (the papers' "Bicubic
    & Bicubic" rows). Works on any channel count, dtype and device; keeps the input dtype.

    Attributes:
        antialias: Antialiasing when downscaling (MATLAB's default).
        name: Display name.
    """

    antialias: bool = True
    name: str = "bicubic"

    def downscale(self, hr: Tensor, scale: int) -> Tensor:
        """``(B, C, H, W) -> (B, C, H/s, W/s)`` with MATLAB bicubic + antialiasing."""
        h, w = hr.shape[-2:]
        if h % scale or w % scale:
            raise ScaleError(f"image size {h}x{w} is not a multiple of the scale {scale}; modcrop it first")
        # An explicit size avoids ceil(n * (1/s)) overshooting by one through floating-point error; the
        # per-axis scale (n/s)/n is the same double as 1/s.
        return imresize(hr, size=(h // scale, w // scale), antialias=self.antialias)

    def upscale(self, lr: Tensor, scale: int) -> Tensor:
        """``(B, C, h, w) -> (B, C, h·s, w·s)`` with MATLAB bicubic."""
        return imresize(lr, float(scale))
