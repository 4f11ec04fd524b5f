"""Small tensor operations on images shared by the model families and the CLI."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["pad_to_multiple"]


def pad_to_multiple(x: Tensor, multiple: int, mode: str = "reflect") -> Tensor:
    """Pad ``(B, C, H, W)`` at the bottom/right so that H and W are multiples of ``multiple``.

    ``reflect`` falls back to ``replicate`` when the image is too small to reflect (a pad as large as the side).
    Crop the result back with ``y[..., :H, :W]``.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    if mode == "reflect" and (ph >= h or pw >= w):
        mode = "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
