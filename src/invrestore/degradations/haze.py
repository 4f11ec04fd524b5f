"""Synthetic haze with the atmospheric scattering model (the composition RESIDE uses), seeded.

.. math::

    I(p) = J(p)\\,t(p) + A\\,(1 - t(p)), \\qquad t(p) = e^{-\\beta\\, d(p)}

``J`` is the clean image ``x`` in [0, 1], ``A`` the global airlight (a grey level, RESIDE draws it in [0.7, 1.0]),
``β`` the scattering coefficient (RESIDE: [0.6, 1.8]) and ``d`` a **depth proxy** in [0, 1], because we have no
depth maps (RESIDE estimates them; RainCityScapes ships them):

* ``"random"`` — a smooth random field: a ``grid × grid`` map of U(0, 1) values, upsampled bicubically
  (``align_corners=True``) to ``H × W`` and min–max normalised to [0, 1]. Seeded by the generator.
* ``"vertical"`` — a scene-like gradient, far at the top and near at the bottom: ``d(i, ·) = 1 − i/(H−1)``.
* a tensor ``(H, W)``, ``(1, H, W)`` or ``(B, 1, H, W)`` with values in [0, 1] (e.g. a real normalised depth map).

Since ``0 ≤ t ≤ 1`` and ``A ∈ [0, 1]``, ``I`` is a convex combination of ``J`` and ``A`` and stays in [0, 1];
``β = 0`` gives ``t = 1`` and ``I = J`` exactly. Shapes: ``(C,H,W)`` or ``(B,C,H,W)`` (one depth field per image).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from invrestore.errors import ConfigError

__all__ = ["Haze", "add_haze", "beta_from_visibility", "smooth_depth", "transmission", "vertical_depth"]


def _gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def smooth_depth(
    size: tuple[int, int], generator: torch.Generator | None = None, grid: int = 4, batch: int = 1
) -> Tensor:
    """A seeded smooth random depth proxy ``(batch, 1, H, W)`` in [0, 1] (see the module docstring).

    Args:
        size: ``(H, W)``.
        generator: source of randomness (``None``: the global RNG).
        grid: side of the coarse random grid (larger = more depth variation across the image).
        batch: number of independent fields.
    """
    if grid < 2:
        raise ConfigError(f"grid must be ≥ 2, got {grid}")
    h, w = size
    coarse = torch.rand((batch, 1, grid, grid), generator=generator, device=_gen_device(generator))
    field = F.interpolate(coarse.double(), size=(h, w), mode="bicubic", align_corners=True)
    lo = field.amin(dim=(2, 3), keepdim=True)
    hi = field.amax(dim=(2, 3), keepdim=True)
    field = (field - lo) / (hi - lo).clamp_min(1e-12)
    return field.float()


def vertical_depth(size: tuple[int, int], device: torch.device | str | None = None) -> Tensor:
    """``(1, 1, H, W)`` depth proxy ``1 − i/(H−1)``: 1 (far) on the top row, 0 (near) on the bottom row."""
    h, w = size
    rows = 1.0 - torch.arange(h, dtype=torch.float32, device=device) / max(h - 1, 1)
    return rows.view(1, 1, h, 1).expand(1, 1, h, w).contiguous()


def transmission(depth: Tensor, beta: float | Tensor) -> Tensor:
    """``t = exp(−β·d)``; ``beta`` a number or a ``(B,)`` tensor broadcast over ``(B, 1, H, W)`` depths."""
    if isinstance(beta, Tensor) and beta.ndim == 1:
        beta = beta.view(-1, 1, 1, 1)
    return torch.exp(-beta * depth)


def add_haze(
    x: Tensor,
    generator: torch.Generator | None = None,
    beta: float = 1.0,
    airlight: float = 0.9,
    depth: str | Tensor = "random",
    grid: int = 4,
) -> Tensor:
    """``I = x·t + A·(1 − t)``, ``t = exp(−β·d)``.

    Args:
        x: clean image(s) in [0, 1], ``(C, H, W)`` or ``(B, C, H, W)``.
        generator: randomness of the ``"random"`` depth field (unused otherwise).
        beta: scattering coefficient β ≥ 0 (0 = no haze).
        airlight: atmospheric light ``A`` in [0, 1].
        depth: ``"random"``, ``"vertical"`` or a depth tensor in [0, 1] (see the module docstring).
        grid: coarse grid of the ``"random"`` field.

    Returns:
        The hazy image, same shape and dtype as ``x``, in [0, 1].
    """
    if not x.is_floating_point():
        raise TypeError(f"expected a float image in [0, 1], got dtype {x.dtype}")
    if beta < 0 or not 0.0 <= airlight <= 1.0:
        raise ConfigError(f"need beta ≥ 0 and airlight in [0, 1], got {beta}, {airlight}")
    single = x.ndim == 3
    xb = x.unsqueeze(0) if single else x
    b, _, h, w = xb.shape
    d = _depth(depth, (h, w), b, generator, grid).to(device=xb.device, dtype=xb.dtype)
    t = transmission(d, beta)
    out = xb * t + airlight * (1.0 - t)
    return out[0] if single else out


def _depth(depth: str | Tensor, size: tuple[int, int], b: int, generator: torch.Generator | None, grid: int) -> Tensor:
    if isinstance(depth, Tensor):
        d = depth
        while d.ndim < 4:
            d = d.unsqueeze(0)
        if tuple(d.shape[-2:]) != size:
            raise ConfigError(f"depth map is {tuple(d.shape[-2:])}, image is {size}")
        return d
    if depth == "random":
        return smooth_depth(size, generator, grid, batch=b)
    if depth == "vertical":
        return vertical_depth(size)
    raise ConfigError(f"depth must be 'random', 'vertical' or a tensor, not {depth!r}")


class Haze:
    """Random haze ``(x, generator) -> x_lq`` for :class:`~invrestore.data.PairedDataset` (``where="crop"``).

    Per call it draws ``β ~ U(beta)``, ``A ~ U(airlight)`` and (for ``depth="random"``) a depth field, all from
    ``generator`` in that order, then applies :func:`add_haze`. Defaults follow RESIDE's ranges.
    """

    def __init__(
        self,
        beta: tuple[float, float] = (0.6, 1.8),
        airlight: tuple[float, float] = (0.7, 1.0),
        depth: str = "random",
        grid: int = 4,
    ) -> None:
        if not (0 <= beta[0] <= beta[1]) or not (0 <= airlight[0] <= airlight[1] <= 1):
            raise ConfigError(f"invalid ranges beta={beta}, airlight={airlight}")
        self.beta, self.airlight, self.depth, self.grid = beta, airlight, depth, grid

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        u = torch.rand(2, generator=generator, device=_gen_device(generator), dtype=torch.float64).tolist()
        beta = self.beta[0] + (self.beta[1] - self.beta[0]) * u[0]
        airlight = self.airlight[0] + (self.airlight[1] - self.airlight[0]) * u[1]
        return add_haze(x, generator, beta=beta, airlight=airlight, depth=self.depth, grid=self.grid)

    def __repr__(self) -> str:
        return f"Haze(beta={self.beta}, airlight={self.airlight}, depth={self.depth!r}, grid={self.grid})"


def beta_from_visibility(visibility: float, contrast_threshold: float = 0.05) -> float:
    """Koschmieder's law ``β = −ln(ε)/V`` in units of the depth proxy (``V`` = visibility distance)."""
    return -math.log(contrast_threshold) / visibility
