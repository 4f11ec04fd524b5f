"""The memory model of inference: measured per-pixel activation memory and receptive-field overlap of every model
kind, the budget, the automatic tile size, and the memory sizes users type (``2GB``, ``512MiB``).

:mod:`invrestore.tiling` re-exports everything here; the numbers come from ``benchmarks/erf.py`` (see
docs/tiling.md). The learned codecs do not tile: :data:`CODEC_BYTES_PER_PIXEL` is their whole-image estimate.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

import torch

from invrestore.errors import ConfigError

__all__ = [
    "CODEC_BYTES_PER_PIXEL",
    "DEFAULT_CPU_BUDGET",
    "TILE_BUCKETS",
    "auto_tile",
    "available_memory",
    "codec_memory",
    "default_budget",
    "default_overlap",
    "estimate_memory",
    "parse_memory",
]

#: Tile sizes :func:`auto_tile` chooses from (input pixels), largest first.
TILE_BUCKETS = (1024, 768, 512, 384, 256, 192, 128, 96, 64, 48, 32)

#: Default activation budget on the CPU when none is given: large enough for efficient tiles, small enough that a
#: ×4 downscale + upscale stays near 1 GB of peak RSS plus the whole-image buffers (see docs/tiling.md).
DEFAULT_CPU_BUDGET = 768 << 20

#: Peak memory of ILC/bls2017 coding per image pixel (compress + rate estimate, then decode), measured with
#: ru_maxrss on 1–2 MP images with ilc-small-q1 and bls2017-128-q1 (176–235 B/px, rounded up).
CODEC_BYTES_PER_PIXEL = 256


def codec_memory(width: int, height: int) -> int:
    """Estimated peak bytes of coding a ``width × height`` image with a learned codec (whole image, no tiles)."""
    return CODEC_BYTES_PER_PIXEL * width * height


def _round_up(v: int, m: int) -> int:
    return -(-v // m) * m


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
