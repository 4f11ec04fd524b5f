"""IRN as a :class:`~invrestore.degradations.rescaling.RescalingMethod` (for ``invrestore eval`` and validation)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from invrestore.errors import ScaleError
from invrestore.models.irn.model import IRN

__all__ = ["IRNRescaler"]


class IRNRescaler:
    """``downscale`` = the LR part of ``G(x)`` (the latent is discarded, as at test time); ``upscale`` =
    ``G⁻¹(cat(y, z))`` with ``z`` drawn from the rescaler's own seeded generator.

    Args:
        model: the IRN.
        z_mode: ``"random"`` (N(0, I), the paper's default), or ``"zero"``.
        temperature: ``z`` scale α (IRN is not robust to α ≠ 1; IRN+ is).
        seed: seed of the z generator (reset by :meth:`reset`), so evaluations are reproducible.
    """

    def __init__(
        self,
        model: IRN,
        z_mode: Literal["random", "zero"] = "random",
        temperature: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.z_mode: Literal["random", "zero"] = z_mode
        self.temperature = temperature
        self.seed = seed
        self.name = f"irn-x{model.scale}"
        self.reset()

    def reset(self) -> None:
        """Restart the z generator from the seed."""
        self._gen = torch.Generator().manual_seed(self.seed)

    def _check(self, scale: int) -> None:
        if scale != self.model.scale:
            raise ScaleError(f"this IRN rescales by {self.model.scale}, not {scale}")

    def _as_rgb(self, x: Tensor) -> tuple[Tensor, bool]:
        if x.shape[1] == 1 and self.model.in_channels == 3:
            return x.expand(-1, 3, -1, -1), True
        return x, False

    @torch.no_grad()
    def downscale(self, hr: Tensor, scale: int) -> Tensor:
        self._check(scale)
        x, gray = self._as_rgb(hr)
        p = next(self.model.parameters())
        y, _ = self.model.downscale(x.to(p.dtype), quantize=False)
        y = y.to(hr.dtype)
        return y.mean(dim=1, keepdim=True) if gray else y

    @torch.no_grad()
    def upscale(self, lr: Tensor, scale: int) -> Tensor:
        self._check(scale)
        y, gray = self._as_rgb(lr)
        p = next(self.model.parameters())
        y = y.to(p.dtype)
        shape = self.model.z_shape(y)
        if self.z_mode == "zero":
            z = y.new_zeros(shape)
        else:
            z = self.temperature * torch.randn(shape, generator=self._gen, dtype=y.dtype).to(y.device)
        x = self.model.upscale(y, z).to(lr.dtype)
        return x.mean(dim=1, keepdim=True) if gray else x
