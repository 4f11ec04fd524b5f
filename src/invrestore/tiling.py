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
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from invrestore.errors import ConfigError, ImageShapeError, ScaleError

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

#: Tile sizes :func:`auto_tile` chooses from (input pixels), largest first.
TILE_BUCKETS = (1024, 768, 512, 384, 256, 192, 128, 96, 64, 48, 32)

#: Default activation budget on the CPU when none is given: large enough for efficient tiles, small enough that a
#: ×4 downscale + upscale stays near 1 GB of peak RSS plus the whole-image buffers (see docs/tiling.md).
DEFAULT_CPU_BUDGET = 768 << 20


# -- the tiling scheme ------------------------------------------------------------------------------------------
def _round_up(v: int, m: int) -> int:
    return -(-v // m) * m


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

    False for pix2pix's default train-mode inference (a :class:`~invrestore.cli.restore.Pix2PixRestorer` with
    ``eval_mode=False``) and for any module with BatchNorm in training mode: their BatchNorm normalises with the
    statistics of the whole input, so every window would be normalised differently (measured in
    ``docs/tiling.md``).
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


# -- defaults from the measurements in docs/tiling.md ---------------------------------------------------------
#: Overlap per kind in input pixels: the measured distance (benchmarks/erf.py, shipped weights, Kodak24) beyond
#: which cutting the input changes no output value by more than 0.01 of an 8-bit level, rounded up to a multiple
#: of the model's alignment with margin. Families without shipped weights use their theoretical receptive radius.
_OVERLAP: dict[str, int] = {
    "irn-x2-down": 24,  # measured 17 HR px
    "irn-x4-down": 64,  # measured 53 HR px
    "irn-x2-up": 12,  # measured 10 LR px
    "irn-x4-up": 20,  # measured 16 LR px
    "irn-color": 8,  # measured 5 px
    "crm": 16,  # measured 10 px
    "restore-irae": 32,  # measured 24 px
    "restore-dncnn": 24,  # measured 14 px (DnCNN-S); 20 px theoretical radius of the 20-layer variants
    "restore-ffdnet": 48,  # not measured (no shipped weights): 15 layers at half resolution = 30 px radius
    "restore-arcnn": 16,  # not measured: 9-7-1-5 kernels = 9 px radius
    "restore-unet": 64,  # not measured: its theoretical radius covers the image; 64 px is a guess, check yours
    "restore-pix2pix": 64,  # eval-mode pix2pix only: train mode is refused (see tileable)
    "restore": 64,
}

#: Peak activation bytes per input pixel (float32) and a fixed part, measured by ``benchmarks/erf.py --memory``
#: (peak RSS of a no-grad float32 CPU forward minus the RSS before it, a line through two sizes; negative fixed
#: parts clipped to 0). CUDA allocations are assumed to follow the same model.
_MEMORY: dict[str, tuple[float, int]] = {
    "irn-x2-down": (711.0, 0),
    "irn-x4-down": (724.0, 0),
    "irn-x2-up": (2926.0, 0),
    "irn-x4-up": (9561.0, 16_000_000),
    "irn-color": (1403.0, 86_000_000),
    "crm": (2604.0, 123_000_000),
    "restore-irae": (543.0, 6_000_000),
    "restore-dncnn": (597.0, 45_000_000),
    "restore-ffdnet": (600.0, 45_000_000),  # not measured (no shipped weights): DnCNN-like
    "restore-arcnn": (600.0, 45_000_000),  # not measured
    "restore-unet": (1200.0, 45_000_000),  # not measured
    "restore-pix2pix": (2262.0, 0),  # pix2pix-derain (train mode is not tiled; eval mode assumed alike)
    "restore": (1200.0, 45_000_000),
}


def _lookup(table: Mapping[str, object], kind: str) -> str:
    if kind in table:
        return kind
    m = re.fullmatch(r"irn-x(\d+)[a-z]*-(down|up)", kind)
    if m:
        return kind  # handled by the caller's scale extrapolation
    if kind == "irn-down":
        return "irn-x4-down"
    if kind == "irn-up":
        return "irn-x4-up"
    if kind.startswith("restore-"):
        name = kind.removeprefix("restore-")
        for family in ("irae", "dncnn", "ffdnet", "arcnn", "unet", "pix2pix"):
            if name.startswith(family):
                return f"restore-{family}"
        return "restore"
    known = ", ".join(sorted(table))
    raise ConfigError(f"unknown model kind {kind!r} for tiling; known: {known}, irn-x<s>-down/up, restore-<name>")


def _irn_scale_kind(kind: str) -> tuple[int, str] | None:
    m = re.fullmatch(r"irn-x(\d+)[a-z]*-(down|up)", kind)
    return (int(m.group(1)), m.group(2)) if m else None


def default_overlap(kind: str) -> int:
    """Default overlap in the kind's input pixels (HR for ``irn-x*-down``, LR for ``irn-x*-up``).

    Kinds: ``irn-x2-down``, ``irn-x4-down``, ``irn-x2-up``, ``irn-x4-up`` (``irn-down``/``irn-up``: ×4), other
    IRN scales ``irn-x<s>-down/up`` (extrapolated from ×4: HR overlap grows with ``s``, LR overlap stays),
    ``irn-color``, ``crm``, ``restore-<model name>`` (by family: irae, dncnn, ffdnet, arcnn, unet, pix2pix;
    others get the conservative ``restore`` value). Raises :class:`ConfigError` for anything else.
    """
    key = _lookup(_OVERLAP, kind)
    if key in _OVERLAP:
        return _OVERLAP[key]
    sk = _irn_scale_kind(key)
    assert sk is not None
    s, direction = sk
    base = f"irn-x4-{direction}"
    if direction == "down":
        return _round_up(max(_OVERLAP[base] * s // 4, _OVERLAP["irn-x2-down"]), s)
    return _OVERLAP[base]


def estimate_memory(kind: str, pixels: int, *, dtype_bytes: int = 4) -> int:
    """Estimated peak activation memory in bytes of one no-grad forward of ``kind`` over ``pixels`` input pixels.

    A measured linear model (``benchmarks/erf.py --memory``), scaled by ``dtype_bytes / 4`` for half precision;
    the image and the weights are not included.
    """
    if pixels < 0:
        raise ValueError(f"pixels must be >= 0, got {pixels}")
    key = _lookup(_MEMORY, kind)
    if key in _MEMORY:
        per_px, fixed = _MEMORY[key]
    else:
        sk = _irn_scale_kind(key)
        assert sk is not None
        s, direction = sk
        per_px, fixed = _MEMORY["irn-x4-down"] if direction == "down" else (_MEMORY["irn-x4-up"][0] * s * s / 16, 0)
    return math.ceil((per_px * pixels + fixed) * dtype_bytes / 4)


def available_memory(device: torch.device | None = None) -> int:
    """Free memory in bytes: ``MemAvailable`` of ``/proc/meminfo`` on the CPU (fallback: free physical pages),
    ``torch.cuda.mem_get_info`` on CUDA."""
    dev = torch.device("cpu") if device is None else torch.device(device)
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def default_budget(device: torch.device | None = None) -> int:
    """The activation budget :func:`auto_tile` uses when none is given: half the available memory, capped at
    :data:`DEFAULT_CPU_BUDGET` on the CPU."""
    dev = torch.device("cpu") if device is None else torch.device(device)
    half = available_memory(dev) // 2
    return half if dev.type == "cuda" else min(half, DEFAULT_CPU_BUDGET)


def auto_tile(
    kind: str,
    h: int,
    w: int,
    *,
    max_memory: int | None,
    align: int,
    device: torch.device | None = None,
    overlap: int | None = None,
) -> int | None:
    """``None`` when a whole ``h × w`` input fits the budget, else the largest bucket of :data:`TILE_BUCKETS`
    (rounded up to ``align``) whose window ``(tile + 2·overlap)²`` fits; the smallest bucket when none fits.

    ``max_memory`` in bytes (``None``: :func:`default_budget`); sizes in the kind's input pixels.
    """
    budget = default_budget(device) if max_memory is None else int(max_memory)
    if budget <= 0:
        raise ConfigError(f"memory budget must be positive, got {budget} bytes")
    if estimate_memory(kind, h * w) <= budget:
        return None
    a = max(1, int(align))
    ov = _round_up(default_overlap(kind) if overlap is None else overlap, a)
    for b in TILE_BUCKETS:
        t = _round_up(b, a)
        if estimate_memory(kind, min(h, t + 2 * ov) * min(w, t + 2 * ov)) <= budget:
            return t
    return _round_up(TILE_BUCKETS[-1], a)


_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_memory(text: str) -> int:
    """``"2GB"``, ``"512MiB"``, ``"1.5G"``, ``"800m"``, ``"1000000"`` -> bytes.

    Decimal units (k, M, G, T with or without B) are powers of 1000, binary ones (KiB, MiB, GiB, TiB) powers of
    1024; case-insensitive. ``"auto"`` is not a size: callers map it to ``None`` (:func:`default_budget`) before
    calling; here it raises :class:`ConfigError` like any other unreadable text.
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS:
        raise ConfigError(f"cannot read memory size {text!r}: use e.g. 2GB, 512MiB or 1.5G")
    value = int(float(m.group(1)) * _UNITS[unit])
    if value <= 0:
        raise ConfigError(f"memory size must be positive, got {text!r}")
    return value
