"""The PNG text fields of the LR images ``invrestore downscale`` (and ``decolorize``) writes, and their checks.

An LR PNG records the model (``invrestore.model``), the scale (``invrestore.scale``), the original size
(``invrestore.size``, ``HxW``) and the original channel count (``invrestore.channels``); ``invrestore upscale``
reads them back and validates every field before anything is written (see docs/irn.md).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from invrestore.errors import ImageReadError

__all__ = [
    "MAX_SIDE",
    "META_CHANNELS",
    "META_MODEL",
    "META_SCALE",
    "META_SIZE",
    "irn_names",
    "lr_meta",
    "parse_lr_meta",
    "read_lr_meta",
]

META_MODEL = "invrestore.model"
META_SCALE = "invrestore.scale"
META_SIZE = "invrestore.size"
META_CHANNELS = "invrestore.channels"

#: Largest side recorded in an LR PNG's metadata that upscale accepts (PNG's own limit is 2^31 - 1).
MAX_SIDE = 1 << 20


def irn_names() -> tuple[str, ...]:
    """The registered IRN rescalers (the models an LR PNG may name; not IRN_color)."""
    from invrestore.models.registry import MODELS, list_models

    list_models()
    return tuple(n for n, e in MODELS.items() if e.family == "irn" and n != "irn-color")


def lr_meta(model: str, scale: int | None, size: tuple[int, int], channels: int) -> dict[str, str]:
    """The text fields of an LR PNG: ``model``, ``scale`` (None: not recorded), ``size=(H, W)``, ``channels``."""
    meta = {META_MODEL: model}
    if scale is not None:
        meta[META_SCALE] = str(scale)
    meta[META_SIZE] = f"{size[0]}x{size[1]}"
    meta[META_CHANNELS] = str(channels)
    return meta


def read_lr_meta(path: Path) -> dict[str, str]:
    """The ``invrestore.*`` text fields of the PNG ``path`` (unchecked; see :func:`parse_lr_meta`)."""
    from invrestore.io import read_png_text

    return {k: v for k, v in read_png_text(path).items() if k.startswith("invrestore.")}


def _wxh(w: int, h: int) -> str:
    return f"{w}×{h}"


def parse_lr_meta(path: Path, meta: dict[str, str], lr_hw: tuple[int, int]) -> dict[str, Any]:
    """Validate the invrestore text fields of an LR PNG: model (a registered IRN name), scale (a positive int),
    size (``HxW`` positive ints consistent with the LR size and the scale), channels (1 or 3).

    Returns:
        The fields present: ``model`` (str), ``scale`` (int), ``size`` (``(H, W)``), ``channels`` (int).

    Raises:
        ImageReadError: a malformed or inconsistent field, naming it.
    """
    out: dict[str, Any] = {}

    def bad(key: str, why: str) -> ImageReadError:
        return ImageReadError(path, f"its metadata field {key}={meta[key]!r} {why}; was it written by downscale?")

    if META_MODEL in meta:
        names = irn_names()
        if meta[META_MODEL] not in names:
            raise bad(META_MODEL, f"is not an IRN model ({', '.join(names)})")
        out["model"] = meta[META_MODEL]
    if META_SCALE in meta:
        if not re.fullmatch(r"[1-9]\d{0,2}", meta[META_SCALE]):
            raise bad(META_SCALE, "is not a scale (a positive integer)")
        out["scale"] = int(meta[META_SCALE])
    if META_SIZE in meta:
        m = re.fullmatch(r"([1-9]\d{0,7})x([1-9]\d{0,7})", meta[META_SIZE])
        if m is None or max(int(m.group(1)), int(m.group(2))) > MAX_SIDE:
            raise bad(META_SIZE, "is not a size HxW in pixels")
        h, w = int(m.group(1)), int(m.group(2))
        s = out.get("scale")
        if s is not None and (math.ceil(h / s), math.ceil(w / s)) != lr_hw:
            raise bad(META_SIZE, f"does not match the {_wxh(lr_hw[1], lr_hw[0])} LR image at ×{s}")
        out["size"] = (h, w)
    if META_CHANNELS in meta:
        if meta[META_CHANNELS] not in ("1", "3"):
            raise bad(META_CHANNELS, "is not 1 or 3")
        out["channels"] = int(meta[META_CHANNELS])
    return out
