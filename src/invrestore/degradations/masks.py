"""Inpainting masks (box and free-form strokes) and the masking degradation, seeded through a ``torch.Generator``.

A mask is a float tensor with **1 in the hole** (missing pixels) and 0 where the image is known, of shape
``(1, H, W)`` for one image (broadcast over channels) or ``(B, 1, H, W)`` for a batch. The degraded image is

.. math::

    y = x \\odot (1 - m) + \\text{fill} \\cdot m,

with ``fill = 1`` (a white hole) by default, as in the official IRAE code (``x·(1−mask) + mask``).

Modes:

* ``"center"`` — the IRAE paper's box mode (128×128 boxes on 256×256 CelebA; the official code's generative-
  inpainting-style ``random_bbox`` + ``bbox2mask``, ``docs/restoration.md``). A box of
  ``box_size = (h, w)`` (default ``(H/2, W/2)``, i.e. 128×128 at 256²) is placed with its top-left corner
  ``t ~ U{margin_h, …, H − margin_h − h − 1}``, ``l ~ U{margin_w, …, W − margin_w − w − 1}`` (the official
  exclusive upper bound; ``position="random"``, the default) or exactly in the middle (``position="center"``,
  one reading of the paper's "we ignore masking parts outside the central region"), then each side is shrunk by
  ``dh ~ U{0, …, max_delta_h}``, ``dw ~ U{0, …, max_delta_w}`` (default ``max_delta = box/8``, i.e. 16): the hole
  is ``[t+dh, t+h−dh) × [l+dw, l+w−dw)``, between 96 and 128 pixels per side at the defaults. Draw order:
  ``t, l`` (random position only), then ``dh, dw``.
* ``"irregular"`` — free-form random strokes (in the spirit of DeepFill v2's free-form masks and the 10–50 %
  irregular holes of partial-convolution inpainting; the official code's irregular mode reads an external mask set,
  which is out of scope). A target hole fraction ``r ~ U[lo, hi)`` (``hole_ratio``) is drawn first; then strokes
  are drawn until the hole covers at least ``⌈r·H·W⌉`` pixels. A stroke starts at a uniform point with a brush
  width ``∈ brush_width·min(H, W)`` and a random direction, and has ``vertices`` segments of length
  ``∈ stroke_length·min(H, W)``, each turning by up to ±60° (every other one reversed, so strokes zig-zag). A
  segment is the set of pixel centres within half the brush width of it (a capsule). A segment that would push
  the hole above ``⌊hi·H·W⌋`` pixels is shortened and thinned (halved, repeatedly; no extra random draws), so the
  hole fraction always lies in ``[lo, hi]`` (up to the rounding to whole pixels).

Reproducibility: :meth:`Inpainting.mask` consumes the generator exactly as :meth:`Inpainting.__call__` does, so
two generators in the same state give the same mask; :meth:`Inpainting.apply` returns the degraded image and
its mask together.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from invrestore.errors import ConfigError

__all__ = ["Inpainting", "MaskMode", "box_mask", "irregular_mask"]

MaskMode = Literal["center", "irregular"]


def _device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _randint(generator: torch.Generator | None, lo: int, hi: int) -> int:
    """Uniform integer in ``lo..hi−1`` (``lo`` when the range is empty, without drawing)."""
    if hi <= lo + 1:
        return lo
    return int(torch.randint(lo, hi, (1,), generator=generator, device=_device(generator)))


def _uniform(generator: torch.Generator | None, n: int) -> list[float]:
    return torch.rand((n,), generator=generator, device=_device(generator), dtype=torch.float64).tolist()


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def box_mask(
    height: int,
    width: int,
    generator: torch.Generator | None,
    box_size: int | tuple[int, int] | None = None,
    max_delta: int | tuple[int, int] | None = None,
    margin: int | tuple[int, int] = 0,
    position: Literal["random", "center"] = "random",
) -> Tensor:
    """The box ("center" mode) mask ``(1, H, W)`` float32 (1 = hole); see the module docstring.

    Args:
        height: image height ``H``.
        width: image width ``W``.
        generator: source of randomness.
        box_size: ``(h, w)`` of the box before shrinking (default ``(H // 2, W // 2)``).
        max_delta: largest shrink per side ``(dh_max, dw_max)`` (default ``box // 8``).
        margin: distance kept from the image border when the position is random.
        position: ``"random"`` (official code) or ``"center"``.
    """
    bh, bw = _pair(box_size) if box_size is not None else (height // 2, width // 2)
    mh, mw = _pair(max_delta) if max_delta is not None else (bh // 8, bw // 8)
    gh, gw = _pair(margin)
    if not (0 < bh <= height - 2 * gh and 0 < bw <= width - 2 * gw):
        raise ConfigError(f"box {bh}×{bw} with margin {gh}×{gw} does not fit a {height}×{width} image")
    if not (0 <= 2 * mh < bh and 0 <= 2 * mw < bw):
        raise ConfigError(f"max_delta {mh}×{mw} must be >= 0 and leave a non-empty hole in the {bh}×{bw} box")
    if position == "random":
        top = _randint(generator, gh, height - gh - bh)
        left = _randint(generator, gw, width - gw - bw)
    elif position == "center":
        top, left = (height - bh) // 2, (width - bw) // 2
    else:
        raise ConfigError(f"position must be 'random' or 'center', got {position!r}")
    dh = _randint(generator, 0, mh + 1)
    dw = _randint(generator, 0, mw + 1)
    m = torch.zeros(1, height, width)
    m[:, top + dh : top + bh - dh, left + dw : left + bw - dw] = 1.0
    return m


def _capsule(
    p: tuple[float, float], q: tuple[float, float], radius: float, height: int, width: int
) -> tuple[tuple[int, int, int, int], Tensor]:
    """Pixels (centres at integer coordinates) within ``radius`` of the segment ``pq``, inside its bounding box.

    Returns ``((i0, i1, j0, j1), inside)`` with ``inside`` a bool tensor of shape ``(i1 − i0, j1 − j0)``.
    """
    i0 = max(0, math.floor(min(p[0], q[0]) - radius))
    i1 = min(height, math.ceil(max(p[0], q[0]) + radius) + 1)
    j0 = max(0, math.floor(min(p[1], q[1]) - radius))
    j1 = min(width, math.ceil(max(p[1], q[1]) + radius) + 1)
    ii = torch.arange(i0, i1, dtype=torch.float64).view(-1, 1)
    jj = torch.arange(j0, j1, dtype=torch.float64).view(1, -1)
    di, dj = q[0] - p[0], q[1] - p[1]
    length2 = di * di + dj * dj
    if length2 > 0:
        t = (((ii - p[0]) * di + (jj - p[1]) * dj) / length2).clamp(0.0, 1.0)
    else:
        t = torch.zeros(1, 1, dtype=torch.float64)
    dist2 = (ii - (p[0] + t * di)) ** 2 + (jj - (p[1] + t * dj)) ** 2
    return (i0, i1, j0, j1), dist2 <= radius * radius


def irregular_mask(
    height: int,
    width: int,
    generator: torch.Generator | None,
    hole_ratio: tuple[float, float] = (0.1, 0.5),
    brush_width: tuple[float, float] = (0.04, 0.12),
    stroke_length: tuple[float, float] = (0.05, 0.2),
    vertices: tuple[int, int] = (4, 12),
    max_segments: int = 100_000,
) -> Tensor:
    """A free-form stroke mask ``(1, H, W)`` float32 (1 = hole) covering a fraction in ``hole_ratio``.

    See the module docstring for the stroke model.

    Args:
        height: image height ``H``.
        width: image width ``W``.
        generator: source of randomness.
        hole_ratio: ``(lo, hi)``, the range of the hole fraction (target drawn as ``U[lo, hi)``).
        brush_width: brush width range as fractions of ``min(H, W)``.
        stroke_length: segment length range as fractions of ``min(H, W)``.
        vertices: inclusive range of the number of segments per stroke.
        max_segments: safety bound on the number of segments drawn.
    """
    lo, hi = hole_ratio
    if not 0 <= lo <= hi <= 1:
        raise ConfigError(f"hole_ratio must satisfy 0 <= lo <= hi <= 1, got {hole_ratio}")
    n_pix = height * width
    min_pixels, max_pixels = math.ceil(lo * n_pix), math.floor(hi * n_pix)
    if min_pixels > max_pixels:
        raise ConfigError(f"no whole number of pixels has a hole fraction in {hole_ratio} at {height}×{width}")
    (u,) = _uniform(generator, 1)
    target = min(max(math.ceil((lo + (hi - lo) * u) * n_pix), min_pixels), max_pixels)
    side = min(height, width)
    hole = torch.zeros(height, width, dtype=torch.bool)
    area = 0
    segments = 0
    while area < target:
        u0, u1, u2, u3 = _uniform(generator, 4)
        p = (u0 * (height - 1), u1 * (width - 1))
        base_angle = 2 * math.pi * u2
        brush = side * (brush_width[0] + (brush_width[1] - brush_width[0]) * u3)
        n_vert = _randint(generator, vertices[0], vertices[1] + 1)
        for k in range(n_vert):
            ua, ul = _uniform(generator, 2)
            angle = base_angle + (2 * ua - 1) * (math.pi / 3) + (math.pi if k % 2 else 0.0)
            length = side * (stroke_length[0] + (stroke_length[1] - stroke_length[0]) * ul)
            q = (
                min(max(p[0] + length * math.sin(angle), 0.0), height - 1.0),
                min(max(p[1] + length * math.cos(angle), 0.0), width - 1.0),
            )
            radius = brush / 2
            while True:
                (i0, i1, j0, j1), inside = _capsule(p, q, radius, height, width)
                new = inside & ~hole[i0:i1, j0:j1]
                added = int(new.sum())
                if area + added <= max_pixels:
                    break
                # Too much: halve the segment and the brush (deterministic, no extra draws).
                q = (p[0] + (q[0] - p[0]) / 2, p[1] + (q[1] - p[1]) / 2)
                radius /= 2
            hole[i0:i1, j0:j1] |= new
            area += added
            p = q
            segments += 1
            if area >= target:
                break
            if segments >= max_segments:
                raise RuntimeError(f"irregular_mask did not reach {target} hole pixels in {max_segments} segments")
    return hole.to(torch.float32).unsqueeze(0)


class Inpainting:
    """Masking degradation ``x -> x·(1 − m) + fill·m`` with a box or free-form mask ``m`` (1 = hole).

    Usable as a ``PairedDataset`` ``degrade``: ``(C, H, W) -> (C, H, W)`` (or ``(B, C, H, W)``, one mask per
    image). Paper: the IRAE paper's §5.2 ("Image Inpainting", 128×128 masks on 256×256 CelebA). See the module
    docstring for the two modes and their parameters.

    Example::

        degrade = Inpainting("center")                   # 96–128 px box at a random position, white fill
        y, m = degrade.apply(x, torch.Generator().manual_seed(0))
        ff = Inpainting("irregular", hole_ratio=(0.1, 0.5))

    Args:
        mode: ``"center"`` (box) or ``"irregular"`` (free-form strokes).
        fill: value written into the hole (1.0 = white, the official code's choice).
        box_size, max_delta, margin, position: box-mode parameters (see :func:`box_mask`).
        hole_ratio, brush_width, stroke_length, vertices: stroke-mode parameters (see :func:`irregular_mask`).
    """

    def __init__(
        self,
        mode: MaskMode = "center",
        fill: float = 1.0,
        box_size: int | tuple[int, int] | None = None,
        max_delta: int | tuple[int, int] | None = None,
        margin: int | tuple[int, int] = 0,
        position: Literal["random", "center"] = "random",
        hole_ratio: tuple[float, float] = (0.1, 0.5),
        brush_width: tuple[float, float] = (0.04, 0.12),
        stroke_length: tuple[float, float] = (0.05, 0.2),
        vertices: tuple[int, int] = (4, 12),
    ) -> None:
        if mode not in ("center", "irregular"):
            raise ConfigError(f"unknown inpainting mode {mode!r}; expected 'center' or 'irregular'")
        if position not in ("random", "center"):
            raise ConfigError(f"position must be 'random' or 'center', got {position!r}")
        self.mode: MaskMode = mode
        self.fill = float(fill)
        self.box_size = box_size
        self.max_delta = max_delta
        self.margin = margin
        self.position: Literal["random", "center"] = position
        self.hole_ratio = (float(hole_ratio[0]), float(hole_ratio[1]))
        self.brush_width = (float(brush_width[0]), float(brush_width[1]))
        self.stroke_length = (float(stroke_length[0]), float(stroke_length[1]))
        self.vertices = (int(vertices[0]), int(vertices[1]))

    def __repr__(self) -> str:
        return f"Inpainting(mode={self.mode!r}, fill={self.fill})"

    def _one_mask(self, height: int, width: int, generator: torch.Generator | None) -> Tensor:
        if self.mode == "center":
            return box_mask(height, width, generator, self.box_size, self.max_delta, self.margin, self.position)
        return irregular_mask(
            height, width, generator, self.hole_ratio, self.brush_width, self.stroke_length, self.vertices
        )

    def mask(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The mask for image(s) ``x`` (only its shape, dtype and device are used).

        Returns ``(1, H, W)`` for a ``(C, H, W)`` image or ``(B, 1, H, W)`` for a batch, in ``x``'s dtype (float32
        for integer images) and on its device; 1 marks the hole. Consumes ``generator`` exactly like
        :meth:`__call__`.
        """
        if x.ndim not in (3, 4):
            raise ValueError(f"expected (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        dtype = x.dtype if x.is_floating_point() else torch.float32
        if x.ndim == 4:
            m = torch.stack([self._one_mask(h, w, generator) for _ in range(x.shape[0])])
        else:
            m = self._one_mask(h, w, generator)
        return m.to(device=x.device, dtype=dtype)

    def apply(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(x_lq, mask)``: the masked image (same shape as ``x``) and its mask (see :meth:`mask`)."""
        m = self.mask(x, generator)
        return x * (1 - m) + self.fill * m, m

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.apply(x, generator)[0]
