"""Images in and out of the inference wrappers: tensors, numpy arrays and PIL images as ``(B, C, H, W)`` float
tensors in [0, 1], and back in the kind they came in; grey/alpha handling and padding.

See docs/api.md ("Images in and out").
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError, ImageShapeError

__all__ = ["Kind", "Like", "as_rgb", "from_tensor", "model_device", "pad", "to_channels", "to_tensor"]

Kind = Literal["tensor", "numpy", "pil"]


class Like:
    """How an input image was given, so that outputs come back the same way."""

    def __init__(self, kind: Kind, batched: bool, dtype: Any, device: torch.device | None, mode: str | None) -> None:
        self.kind, self.batched, self.dtype, self.device, self.mode = kind, batched, dtype, device, mode


def to_tensor(img: Any) -> tuple[Tensor, Like]:
    """An image as a float32 ``(B, C, H, W)`` tensor in [0, 1], and how to give results back in its kind.

    Accepts a tensor ``(C, H, W)``/``(B, C, H, W)`` (float in [0, 1] or uint8), a numpy array ``(H, W)``/
    ``(H, W, C)`` (uint8, uint16 or float in [0, 1]) or a PIL image (alpha dropped, palette/CMYK/16-bit converted).

    Raises:
        ImageShapeError: not an image of 1, 3 or 4 channels.
        ConfigError: an unsupported type or dtype.
    """
    if isinstance(img, Tensor):
        if img.ndim not in (3, 4):
            raise ImageShapeError(f"expected a (C, H, W) or (B, C, H, W) tensor, got shape {tuple(img.shape)}")
        x = img if img.ndim == 4 else img.unsqueeze(0)
        like = Like("tensor", img.ndim == 4, img.dtype, img.device, None)
        if img.dtype == torch.uint8:
            x = x.float() / 255.0
        elif not img.is_floating_point():
            raise ConfigError(f"image tensors must be float in [0, 1] or uint8, got {img.dtype}")
        x = x.float()
    elif isinstance(img, np.ndarray):
        arr = img
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ImageShapeError(f"expected an (H, W) or (H, W, C) array, got shape {img.shape}")
        like = Like("numpy", False, img.dtype, None, None)
        if arr.dtype == np.uint8:
            x = torch.from_numpy(np.ascontiguousarray(arr)).float() / 255.0
        elif arr.dtype == np.uint16:
            x = torch.from_numpy(arr.astype(np.float32) / 65535.0)
        elif np.issubdtype(arr.dtype, np.floating):
            x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        else:
            raise ConfigError(f"image arrays must be uint8, uint16 or float in [0, 1], got {arr.dtype}")
        x = x.permute(2, 0, 1).unsqueeze(0)
    else:
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover - Pillow is a dependency
            Image = None  # type: ignore[assignment]
        if Image is None or not isinstance(img, Image.Image):
            raise ConfigError(f"expected a torch tensor, a numpy array or a PIL image, got {type(img).__name__}")
        mode = "L" if img.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"
        conv = img
        if img.mode in ("I", "I;16", "F"):
            a = np.asarray(img, dtype=np.float32)
            a = a / (65535.0 if a.max(initial=0) > 255 else 255.0)
            x = torch.from_numpy(a.clip(0, 1))[None, None]
            return x, Like("pil", False, None, None, mode)
        conv = img.convert(mode)
        x = torch.from_numpy(np.asarray(conv, dtype=np.uint8).copy()).float() / 255.0
        x = x[None, None] if mode == "L" else x.permute(2, 0, 1).unsqueeze(0)
        like = Like("pil", False, None, None, mode)
    c = x.shape[1]
    if c == 4:
        x = x[:, :3]
    elif c not in (1, 3):
        raise ImageShapeError(f"expected an image with 1, 3 or 4 channels, got {c}")
    if not x.shape[-2] or not x.shape[-1]:
        raise ImageShapeError(f"the image is empty ({x.shape[-2]}×{x.shape[-1]})")
    return x, like


def from_tensor(x: Tensor, like: Like) -> Any:
    """Give ``x`` (``(B, C, H, W)`` in [0, 1]) back in the kind of the input described by ``like``."""
    x = x.detach()
    if like.kind == "tensor":
        out = x if like.batched else x[0]
        if like.dtype == torch.uint8:
            out = (out.clamp(0, 1) * 255.0).round().to(torch.uint8)
        else:
            out = out.to(like.dtype)
        return out.to(like.device) if like.device is not None else out
    if x.shape[0] != 1:
        raise ImageShapeError(f"a numpy or PIL result holds one image, got a batch of {x.shape[0]}")
    hwc = x[0].permute(1, 2, 0).float().cpu().numpy()
    if like.kind == "numpy":
        if like.dtype == np.uint8:
            return (hwc.clip(0, 1) * 255.0).round().astype(np.uint8)
        if like.dtype == np.uint16:
            return (hwc.clip(0, 1) * 65535.0).round().astype(np.uint16)
        return hwc.astype(like.dtype)
    from PIL import Image

    u8 = (hwc.clip(0, 1) * 255.0).round().astype(np.uint8)
    return Image.fromarray(u8[:, :, 0], "L") if u8.shape[2] == 1 else Image.fromarray(u8, "RGB")


def pad(x: Tensor, multiple: int) -> Tensor:
    """``x`` reflect-padded (bottom/right) to a multiple of ``multiple`` (unchanged for 1)."""
    from invrestore.imageops import pad_to_multiple

    return pad_to_multiple(x, multiple) if multiple > 1 else x


def model_device(net: nn.Module) -> torch.device:
    """The device of ``net``'s first parameter (the CPU for a module without parameters)."""
    p = next(iter(net.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def as_rgb(x: Tensor) -> Tensor:
    """A single-channel image (``(C, H, W)`` or ``(B, C, H, W)``) expanded to RGB; other images unchanged.

    The models are RGB; a grey image runs as RGB and comes back grey (:func:`to_channels`)."""
    return x.expand(*x.shape[:-3], 3, *x.shape[-2:]) if x.shape[-3] == 1 else x


def to_channels(x: Tensor, channels: int) -> Tensor:
    """An RGB result back to ``channels`` (1: the mean of the three channels, keepdim; 3: unchanged)."""
    return x.mean(dim=-3, keepdim=True) if channels == 1 and x.shape[-3] != 1 else x
