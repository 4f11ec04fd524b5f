"""Tiled inference for image-to-image models: any image size in bounded memory, without seams.

The image itself stays whole on the CPU (float32); only the network activations are tiled. The image is cut into
windows that all have the same size (the last window of a row or column is shifted inward so that it ends at the
border), neighbouring windows overlap by at least ``2·overlap`` pixels, and each window contributes only its *core*:
the output pixels between the middles of its overlaps with its neighbours. Every output pixel therefore comes from a
window in which it lies at least ``overlap`` input pixels away from any cut, so when ``overlap`` exceeds the model's
effective receptive field the tiled result equals the whole-image result (the defaults come from the measured table
in ``docs/tiling.md``). Nothing is blended, so nothing is blurred.

Units: :func:`tiled_map`, :func:`tiled_restore` and :func:`irn_downscale` take ``tile``/``overlap`` in pixels of
their *input* (for :func:`irn_downscale` HR pixels); :func:`irn_upscale` takes them in *LR* pixels (its input).

IRN upscaling draws its latent from a :class:`ZField`: a deterministic ``N(0, 1)`` field generated chunk by chunk
from ``(seed, chunk row, chunk column)``, so a tiled and a whole-image upscale use exactly the same ``z``.

Memory: :func:`estimate_memory` returns a measured per-pixel model of the peak activation memory of each model kind
(``benchmarks/erf.py --memory``); :func:`auto_tile` picks the largest bucketed tile whose estimate fits a budget
(default: half the available memory, at most :data:`DEFAULT_CPU_BUDGET` on the CPU).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from invrestore.errors import ConfigError, ImageShapeError, ScaleError
from invrestore.memory import (
    DEFAULT_CPU_BUDGET,
    TILE_BUCKETS,
    _round_up,
    auto_tile,
    available_memory,
    default_budget,
    default_overlap,
    estimate_memory,
    parse_memory,
)

if TYPE_CHECKING:
    from invrestore.models.irn.model import IRN

__all__ = [
    "DEFAULT_CPU_BUDGET",
    "TILE_BUCKETS",
    "Box",
    "ZField",
    "auto_tile",
    "available_memory",
    "check_tileable",
    "default_budget",
    "default_overlap",
    "estimate_memory",
    "irn_downscale",
    "irn_kind",
    "irn_upscale",
    "parse_memory",
    "plan_tiles",
    "restore_kind",
    "tileable",
    "tiled_map",
    "tiled_restore",
]

#: ``(top, left, height, width)`` of a window, in input pixel coordinates.
Box = tuple[int, int, int, int]


# -- the tiling scheme ------------------------------------------------------------------------------------------
def _axis_plan(length: int, window: int, stride: int, align: int) -> list[tuple[int, int, int]]:
    """``(window start, core start, core end)`` along one axis; every window is ``min(length, window)`` long."""
    if window >= length:
        return [(0, 0, length)]
    starts = [*range(0, length - window, stride), length - window]
    cuts = [0]
    for a, b in itertools.pairwise(starts):
        ov = a + window - b  # >= window - stride = 2·overlap
        cuts.append(b + (ov // 2) // align * align)
    cuts.append(length)
    return [(s, cuts[i], cuts[i + 1]) for i, s in enumerate(starts)]


def plan_tiles(h: int, w: int, *, tile: int, overlap: int, align: int = 1) -> list[tuple[Box, Box]]:
    """The windows :func:`tiled_map` runs, as ``(window box, core box)`` pairs in input pixels.

    Windows are ``tile + 2·overlap`` pixels (or the whole dimension when it is shorter), all of the same size; the
    cores tile the image exactly once. Raises :class:`ConfigError` for a non-positive ``tile``, a negative
    ``overlap`` or values that are not multiples of ``align``.
    """
    if align < 1:
        raise ConfigError(f"tile alignment must be >= 1, got {align}")
    if tile < 1:
        raise ConfigError(f"tile size must be positive, got {tile}")
    if overlap < 0:
        raise ConfigError(f"tile overlap must be >= 0, got {overlap}")
    if tile % align or overlap % align:
        raise ConfigError(f"tile ({tile}) and overlap ({overlap}) must be multiples of {align} for this model")
    if h % align or w % align:
        raise ScaleError(f"image {h}×{w} is not a multiple of {align}; pad it first")
    window = tile + 2 * overlap
    rows = _axis_plan(h, window, tile, align)
    cols = _axis_plan(w, window, tile, align)
    wh, ww = min(h, window), min(w, window)
    return [((t, l, wh, ww), (ct, cl, cb - ct, cr - cl)) for t, ct, cb in rows for l, cl, cr in cols]


def _scaled(v: int, scale: Fraction) -> int:
    s = v * scale
    if s.denominator != 1:
        raise ScaleError(f"{v} px times the scale {scale} is not a whole number of pixels")
    return int(s)


def _iter(items: list[tuple[Box, Box]], progress: bool) -> Iterator[tuple[Box, Box]]:
    if not progress:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc="tiles", unit="tile", disable=len(items) < 2)


def tiled_map(
    fn: Callable[[Tensor, Box], Tensor],
    x: Tensor,
    *,
    tile: int,
    overlap: int,
    align: int = 1,
    scale: int | Fraction = 1,
    out_channels: int | None = None,
    device: torch.device | None = None,
    progress: bool = False,
) -> Tensor:
    """Apply ``fn`` to ``x`` window by window and assemble the cores of the results.

    Args:
        fn: ``fn(window, box)`` with ``window`` ``(1, C, h, w)`` on ``device`` and ``box`` its
            ``(top, left, h, w)`` in ``x``; returns ``(1, C', h·scale, w·scale)``.
        x: ``(1, C, H, W)`` on the CPU, ``H`` and ``W`` multiples of ``align``.
        tile: core size of a window in input pixels (a multiple of ``align``); a dimension shorter than
            ``tile + 2·overlap`` is taken whole.
        overlap: context on each side of a core, in input pixels (a multiple of ``align``).
        align: cuts fall on multiples of this (the model's scale or padding multiple).
        scale: output pixels per input pixel (``Fraction(1, 4)`` for a ×4 downscale).
        out_channels: ``C'`` (default: from the first window's result).
        device: where ``fn`` runs (default: the CPU).
        progress: show a tqdm bar over the windows.

    Returns:
        ``(1, C', H·scale, W·scale)`` float32 on the CPU.

    Every call of ``fn`` gets a window of the same shape (``min(H, tile + 2·overlap)`` by the same for ``W``), so
    compiled or bucketed fast paths see one shape per image size class.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ImageShapeError(f"tiled_map expects one image (1, C, H, W), got {tuple(x.shape)}")
    scale = Fraction(scale)
    h, w = int(x.shape[-2]), int(x.shape[-1])
    plan = plan_tiles(h, w, tile=tile, overlap=overlap, align=align)
    _scaled(align, scale)
    oh, ow = _scaled(h, scale), _scaled(w, scale)
    dev = device if device is not None else torch.device("cpu")
    out: Tensor | None = None
    if out_channels is not None:
        out = torch.empty((1, out_channels, oh, ow), dtype=torch.float32)
    for (t, l, wh, ww), (ct, cl, ch, cw) in _iter(plan, progress):
        win = x[:, :, t : t + wh, l : l + ww].to(dev)
        res = fn(win, (t, l, wh, ww))
        exp_hw = (_scaled(wh, scale), _scaled(ww, scale))
        if res.ndim != 4 or res.shape[0] != 1 or tuple(res.shape[-2:]) != exp_hw:
            raise ImageShapeError(
                f"tile function returned {tuple(res.shape)} for a {wh}×{ww} window; expected "
                f"(1, C', {exp_hw[0]}, {exp_hw[1]})"
            )
        if out is None:
            out = torch.empty((1, int(res.shape[1]), oh, ow), dtype=torch.float32)
        elif res.shape[1] != out.shape[1]:
            raise ImageShapeError(f"tile function returned {res.shape[1]} channels, expected {out.shape[1]}")
        r0, c0 = _scaled(ct - t, scale), _scaled(cl - l, scale)
        rh, rw = _scaled(ch, scale), _scaled(cw, scale)
        core = res[:, :, r0 : r0 + rh, c0 : c0 + rw]
        out[:, :, _scaled(ct, scale) : _scaled(ct, scale) + rh, _scaled(cl, scale) : _scaled(cl, scale) + rw] = core.to(
            "cpu", torch.float32
        )
    assert out is not None  # plan_tiles always yields a window
    return out


# -- IRN -----------------------------------------------------------------------------------------------------------
def _mix(seed: int, row: int, col: int) -> int:
    digest = hashlib.blake2b(f"invrestore-zfield:{seed}:{row}:{col}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class ZField:
    """A deterministic latent field: ``temperature · N(0, 1)`` (or zeros) at every LR position.

    The field is generated in ``chunk × chunk`` LR-pixel chunks, each from its own ``torch.Generator`` seeded with
    ``(seed, chunk row, chunk column)``; any crop of the same position gives the same values, so whole-image and
    tiled upscales use an identical ``z``. Values do not depend on the image size.

    Args:
        channels: latent channels (``C·s² − C`` for an IRN: 9 at ×2, 45 at ×4).
        seed: the field's seed.
        chunk: chunk side in LR pixels (part of the field's identity: another chunk size gives another field).
        temperature: scale of the random values.
        mode: ``"random"`` or ``"zero"`` (all zeros).
    """

    def __init__(
        self,
        channels: int,
        seed: int = 0,
        chunk: int = 64,
        temperature: float = 1.0,
        mode: Literal["random", "zero"] = "random",
    ) -> None:
        if channels < 1 or chunk < 1:
            raise ConfigError(f"ZField needs channels >= 1 and chunk >= 1, got {channels} and {chunk}")
        if mode not in ("random", "zero"):
            raise ConfigError(f"z mode must be 'random' or 'zero', not {mode!r}")
        self.channels, self.seed, self.chunk = int(channels), int(seed), int(chunk)
        self.temperature, self.mode = float(temperature), mode

    def _chunk(self, row: int, col: int) -> Tensor:
        g = torch.Generator().manual_seed(_mix(self.seed, row, col))
        return torch.randn((self.channels, self.chunk, self.chunk), generator=g)

    def crop(self, top: int, left: int, h: int, w: int) -> Tensor:
        """``(1, channels, h, w)`` float32 of the field at rows ``top..top+h``, columns ``left..left+w``."""
        if top < 0 or left < 0 or h < 0 or w < 0:
            raise ValueError(f"ZField crop needs non-negative coordinates, got {(top, left, h, w)}")
        out = torch.zeros((1, self.channels, h, w))
        if self.mode == "zero" or h == 0 or w == 0:
            return out
        k = self.chunk
        for r in range(top // k, (top + h - 1) // k + 1):
            for c in range(left // k, (left + w - 1) // k + 1):
                y0, y1 = max(top, r * k), min(top + h, (r + 1) * k)
                x0, x1 = max(left, c * k), min(left + w, (c + 1) * k)
                ch = self._chunk(r, c)
                out[0, :, y0 - top : y1 - top, x0 - left : x1 - left] = ch[
                    :, y0 - r * k : y1 - r * k, x0 - c * k : x1 - c * k
                ]
        if self.temperature != 1.0:
            out.mul_(self.temperature)
        return out

    def full(self, h: int, w: int) -> Tensor:
        """The field's top-left ``h × w``: ``crop(0, 0, h, w)``."""
        return self.crop(0, 0, h, w)


def irn_kind(net: IRN, direction: Literal["down", "up"]) -> str:
    """The :func:`default_overlap` / :func:`estimate_memory` kind of an IRN: ``"irn-x{s}-down"`` or ``-up``."""
    return f"irn-x{net.scale}-{direction}"


def _tile_args(kind: str, tile: int, overlap: int | None, align: int) -> tuple[int, int]:
    if tile < 1:
        raise ConfigError(f"tile size must be positive, got {tile}")
    ov = default_overlap(kind) if overlap is None else overlap
    if ov < 0:
        raise ConfigError(f"tile overlap must be >= 0, got {ov}")
    return _round_up(tile, align), _round_up(ov, align)


def irn_downscale(
    net: IRN,
    x: Tensor,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    forward: Callable[[Tensor], Tensor] | None = None,
    device: torch.device | None = None,
    progress: bool = False,
) -> Tensor:
    """IRN downscale of one image, whole or tiled: ``x (1, 3, H, W)`` in [0, 1] -> 8-bit LR ``y (1, 3, H/s, W/s)``.

    ``y`` is float32 on the CPU with values ``k/255``. ``tile``/``overlap`` are in **HR** (input) pixels and are
    rounded up to multiples of the scale; ``tile=None`` runs the whole image; ``overlap=None`` takes
    :func:`default_overlap` of ``irn-x{s}-down``. ``forward`` maps ``(1, 3, h, w)`` to ``cat(y, z)`` (default
    ``net(t)[0]``; a compiled one may be passed). ``H`` and ``W`` must be multiples of the scale (pad first).
    """
    s, c = int(net.scale), int(net.in_channels)
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != c:
        raise ImageShapeError(f"irn_downscale expects (1, {c}, H, W), got {tuple(x.shape)}")
    if x.shape[-2] % s or x.shape[-1] % s:
        raise ScaleError(f"H×W = {x.shape[-2]}×{x.shape[-1]} is not a multiple of the scale {s}; pad it first")
    fwd = forward if forward is not None else (lambda t: net(t)[0])
    with torch.no_grad():
        if tile is None:
            y = fwd(x.to(device if device is not None else torch.device("cpu")))[:, :c].to("cpu", torch.float32)
        else:
            t, ov = _tile_args(irn_kind(net, "down"), tile, overlap, s)
            y = tiled_map(
                lambda win, box: fwd(win)[:, :c],
                x,
                tile=t,
                overlap=ov,
                align=s,
                scale=Fraction(1, s),
                out_channels=c,
                device=device,
                progress=progress,
            )
        return torch.round(y.clamp_(0, 1) * 255.0) / 255.0


def irn_upscale(
    net: IRN,
    y: Tensor,
    zfield: ZField,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    inverse: Callable[[Tensor], Tensor] | None = None,
    device: torch.device | None = None,
    progress: bool = False,
) -> Tensor:
    """IRN upscale of one LR image, whole or tiled: ``y (1, 3, h, w)`` -> ``x̂ (1, 3, h·s, w·s)`` float32 (CPU).

    The latent of each window is ``zfield.crop(window box)``, so the result does not depend on the tiling.
    ``tile``/``overlap`` are in **LR** (input) pixels; ``tile=None`` runs the whole image; ``overlap=None`` takes
    :func:`default_overlap` of ``irn-x{s}-up``. ``inverse`` maps ``cat(y, z)`` to ``x̂`` (default
    ``net.inverse(t)[0]``). The result is not clamped (clamp to [0, 1] before saving).
    """
    s, c = int(net.scale), int(net.in_channels)
    zc = int(net.out_channels) - c
    if y.ndim != 4 or y.shape[0] != 1 or y.shape[1] != c:
        raise ImageShapeError(f"irn_upscale expects (1, {c}, h, w), got {tuple(y.shape)}")
    if zfield.channels != zc:
        raise ConfigError(f"this ×{s} IRN needs a {zc}-channel ZField, got {zfield.channels} channels")
    inv = inverse if inverse is not None else (lambda t: net.inverse(t)[0])

    def fn(win: Tensor, box: Box) -> Tensor:
        z = zfield.crop(*box).to(device=win.device, dtype=win.dtype)
        return inv(torch.cat([win, z], dim=1))

    with torch.no_grad():
        if tile is None:
            dev = device if device is not None else torch.device("cpu")
            return fn(y.to(dev), (0, 0, int(y.shape[-2]), int(y.shape[-1]))).to("cpu", torch.float32)
        t, ov = _tile_args(irn_kind(net, "up"), tile, overlap, 1)
        return tiled_map(fn, y, tile=t, overlap=ov, align=1, scale=s, out_channels=c, device=device, progress=progress)


# -- same-size restoration models -----------------------------------------------------------------------------
def tileable(net: object) -> bool:
    """Whether tiling leaves ``net``'s output unchanged up to the receptive-field bound.

    False for pix2pix's default train-mode inference (a
    :class:`~invrestore.models.pix2pix.restorer.Pix2PixRestorer` with ``eval_mode=False``) and for any module with
    BatchNorm in training mode: their BatchNorm normalises with the statistics of the whole input, so every window
    would be normalised differently (measured in ``docs/tiling.md``).
    """
    from torch import nn

    if getattr(net, "eval_mode", True) is False and hasattr(net, "generator"):
        return False
    if isinstance(net, nn.Module):
        return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in net.modules())
    return True


def check_tileable(net: object) -> None:
    """Raise :class:`ConfigError` when :func:`tileable` is false."""
    if not tileable(net):
        raise ConfigError(
            "this model normalises with whole-image statistics (pix2pix train-mode inference), so "
            "tiling would change its output: run it whole (no --tile) or with --eval"
        )


def tiled_restore(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    multiple: int = 1,
    tile: int | None = None,
    overlap: int | None = None,
    device: torch.device | None = None,
    progress: bool = False,
    kind: str = "restore",
) -> Tensor:
    """Same-size image-to-image model ``fn`` on ``x (1, C, H, W)`` of any size -> ``(1, C', H, W)`` float32 (CPU).

    Pads (reflect, bottom/right) to ``multiple`` like ``restore_image`` does, runs whole (``tile=None``) or tiled
    with windows aligned to ``multiple``, crops back. ``tile``/``overlap`` are input pixels, rounded up to
    multiples of ``multiple``; ``overlap=None`` takes :func:`default_overlap` of ``kind``. Not clamped. Raises
    :class:`ConfigError` when tiling a model for which :func:`tileable` is false.
    """
    from invrestore.imageops import pad_to_multiple

    if x.ndim != 4 or x.shape[0] != 1:
        raise ImageShapeError(f"tiled_restore expects one image (1, C, H, W), got {tuple(x.shape)}")
    m = max(1, int(multiple))
    h, w = int(x.shape[-2]), int(x.shape[-1])
    xp = pad_to_multiple(x, m)
    with torch.no_grad():
        if tile is None:
            out = fn(xp.to(device if device is not None else torch.device("cpu"))).to("cpu", torch.float32)
        else:
            check_tileable(fn)
            t, ov = _tile_args(kind, tile, overlap, m)
            out = tiled_map(lambda win, box: fn(win), xp, tile=t, overlap=ov, align=m, device=device, progress=progress)
    return out[:, :, :h, :w]


def restore_kind(name: str) -> str:
    """The :func:`default_overlap` kind of a restoration model name (``"restore-<name>"``)."""
    return f"restore-{name}"
