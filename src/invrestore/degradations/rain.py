"""Synthetic rain streaks, seeded (linear additive composition, as in Rain800/Rain100-style synthetic sets).

.. math::

    I = \\mathrm{clip}_{[0,1]}\\big(J + \\alpha\\, S\\big), \\qquad
    S = \\mathrm{clip}_{[0,1]}\\big(D \\ast K_{L,\\theta}\\big)

* ``D`` — sparse drops: each pixel is a drop with probability ``density``; a drop's strength is ``U(drop)``.
* ``K_{L,θ}`` — a motion-blur line kernel of length ``L`` pixels at angle ``θ`` from the vertical (positive =
  leaning right at the bottom), anti-aliased by bilinear splatting of points along the segment and scaled so that
  a pixel on the line has weight ≈ 1 (:func:`line_kernel`).
* ``α`` — streak intensity. The same grey streak layer is added to every channel (rain is achromatic).

The randomness (drop positions and strengths; the parameters for :class:`Rain`) comes only from the explicit
``generator``, drawn on its device. Shapes: ``(C,H,W)`` or ``(B,C,H,W)`` (one streak layer per image).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from invrestore.errors import ConfigError

__all__ = ["Rain", "add_rain", "line_kernel", "rain_streaks"]


def _gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def line_kernel(length: int, angle: float = 0.0) -> Tensor:
    """``(k, k)`` float32 anti-aliased line through the centre, ``k`` = the smallest odd size that holds it.

    Args:
        length: line length ``L`` in pixels (≥ 1).
        angle: degrees from the vertical.
    """
    if length < 1:
        raise ConfigError(f"streak length must be ≥ 1, got {length}")
    th = math.radians(angle)
    dy, dx = math.cos(th), math.sin(th)
    half = (length - 1) / 2
    k = 2 * math.ceil(half * max(abs(dy), abs(dx))) + 3  # room for the bilinear footprint
    c = k // 2
    n = 4 * length  # samples per unit length: 4
    t = torch.linspace(-half, half, n, dtype=torch.float64) if length > 1 else torch.zeros(1, dtype=torch.float64)
    ys, xs = c + t * dy, c + t * dx
    y0, x0 = ys.floor(), xs.floor()
    fy, fx = ys - y0, xs - x0
    ker = torch.zeros(k, k, dtype=torch.float64)
    for oy, ox, wgt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        ker.index_put_(((y0 + oy).long(), (x0 + ox).long()), wgt, accumulate=True)
    if length > 1:
        ker = ker * (2 * half / (n - 1))  # sample spacing: a pixel on the line collects ≈ 1
    return ker.clamp(max=1.0).float()


def rain_streaks(
    size: tuple[int, int],
    generator: torch.Generator | None = None,
    density: float = 0.01,
    length: int = 15,
    angle: float = 0.0,
    drop: tuple[float, float] = (0.4, 1.0),
    batch: int = 1,
) -> Tensor:
    """A seeded streak layer ``S`` of shape ``(batch, 1, H, W)`` in [0, 1] (see the module docstring)."""
    if not 0.0 <= density <= 1.0:
        raise ConfigError(f"density must be in [0, 1], got {density}")
    h, w = size
    dev = _gen_device(generator)
    u = torch.rand((batch, 1, h, w), generator=generator, device=dev)
    s = torch.rand((batch, 1, h, w), generator=generator, device=dev)
    drops = torch.where(u < density, drop[0] + (drop[1] - drop[0]) * s, torch.zeros_like(s))
    ker = line_kernel(length, angle).to(dev)
    streaks = F.conv2d(drops, ker.flip(0, 1)[None, None], padding=ker.shape[-1] // 2)
    return streaks.clamp(0.0, 1.0)


def add_rain(
    x: Tensor,
    generator: torch.Generator | None = None,
    density: float = 0.01,
    length: int = 15,
    angle: float = 0.0,
    intensity: float = 0.8,
    drop: tuple[float, float] = (0.4, 1.0),
) -> Tensor:
    """``I = clip(x + α·S, 0, 1)`` with a seeded streak layer ``S`` (:func:`rain_streaks`).

    Args:
        x: clean image(s) in [0, 1], ``(C, H, W)`` or ``(B, C, H, W)``.
        generator: source of randomness (``None``: the global RNG).
        density: probability that a pixel starts a streak.
        length: streak length in pixels.
        angle: streak angle in degrees from the vertical.
        intensity: ``α``, the streak brightness (0 = identity).
        drop: range of the per-drop strength.

    Returns:
        The rainy image, same shape and dtype as ``x``, in [0, 1].
    """
    if not x.is_floating_point():
        raise TypeError(f"expected a float image in [0, 1], got dtype {x.dtype}")
    single = x.ndim == 3
    xb = x.unsqueeze(0) if single else x
    b, _, h, w = xb.shape
    s = rain_streaks((h, w), generator, density, length, angle, drop, batch=b).to(device=xb.device, dtype=xb.dtype)
    out = (xb + intensity * s).clamp(0.0, 1.0)
    return out[0] if single else out


class Rain:
    """Random rain ``(x, generator) -> x_lq`` for :class:`~invrestore.data.PairedDataset` (``where="crop"``).

    Per call it draws density, length (integer), angle and intensity uniformly from their ranges (in that order,
    from ``generator``), then the streaks (:func:`add_rain`).
    """

    def __init__(
        self,
        density: tuple[float, float] = (0.005, 0.02),
        length: tuple[int, int] = (10, 30),
        angle: tuple[float, float] = (-30.0, 30.0),
        intensity: tuple[float, float] = (0.5, 1.0),
    ) -> None:
        self.density, self.length, self.angle, self.intensity = density, length, angle, intensity

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        u = torch.rand(4, generator=generator, device=_gen_device(generator), dtype=torch.float64).tolist()

        def pick(r: tuple[float, float], v: float) -> float:
            return r[0] + (r[1] - r[0]) * v

        length = min(self.length[0] + int(u[1] * (self.length[1] - self.length[0] + 1)), self.length[1])
        return add_rain(
            x,
            generator,
            density=pick(self.density, u[0]),
            length=length,
            angle=pick(self.angle, u[2]),
            intensity=pick(self.intensity, u[3]),
        )

    def __repr__(self) -> str:
        return f"Rain(density={self.density}, length={self.length}, angle={self.angle}, intensity={self.intensity})"
