"""The :class:`~invrestore.api.Rescaler` over an IRN or IRN_color: any size, any image kind, whole or tiled.

``invrestore.load("irn-x4")`` returns one; ``invrestore downscale``/``upscale``/``decolorize``/``colorize``,
``pack``/``unpack`` and the benchmarks drive the same object (after :meth:`ImageRescaler.configure` with the
command's device, tiling, memory and fast-path settings). See docs/api.md and docs/tiling.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError
from invrestore.inference.images import as_rgb, from_tensor, pad, to_tensor
from invrestore.inference.settings import InferenceSettings, tiling_layer

__all__ = ["ImageRescaler"]

Fn = Callable[[Tensor], Tensor]


class ImageRescaler(InferenceSettings):
    """A :class:`~invrestore.api.Rescaler` over an IRN (or IRN_color, ``scale`` 1): any size (reflect-padded to
    the scale, cropped back by ``upscale(..., size=)``), single-channel inputs run as RGB, outputs in the input's
    kind, large images in tiles (see :class:`~invrestore.inference.settings.InferenceSettings`).

    Attributes:
        model: the network, in eval mode.
        name: its registry name (or the file it came from).
        scale: the downscaling factor.
    """

    def __init__(self, model: nn.Module, name: str = "irn") -> None:
        self.model: Any = model.eval()
        self.name = name
        self.scale = int(getattr(model, "scale", 1))
        self._init_settings()
        self._fns: tuple[Fn, Fn] | None = None

    def __repr__(self) -> str:
        return f"ImageRescaler({self.name!r}, scale={self.scale})"

    # -- the network -------------------------------------------------------------------------------------------
    @property
    def is_irn(self) -> bool:
        """An IRN (RGB LR); False for IRN_color (grey LR, scale 1)."""
        from invrestore.models.irn.model import IRN

        return isinstance(self.model, IRN)

    @property
    def z_channels(self) -> int:
        """Channels of the latent ``z``."""
        return int(self.model.z_shape(torch.empty(1, 1, 1, 1))[1])

    @property
    def lr_channels(self) -> int:
        """Channels of the LR image (3 for IRN, 1 for IRN_color)."""
        return int(self.model.out_channels) - self.z_channels

    def _settings_changed(self) -> None:
        self._fns = None

    def functions(self) -> tuple[Fn, Fn]:
        """``(forward, inverse)``: ``x -> cat(y, z)`` and back, with the fast path of ``self.fast`` (built once per
        setting; the exact ``model(x)[0]`` / ``model.inverse(out)[0]`` when ``fast`` is None)."""
        if self._fns is None:
            if self.fast is None:
                net = self.model
                self._fns = (lambda t: net(t)[0], lambda t: net.inverse(t)[0])
            else:
                from invrestore.fast import irn_functions

                self._fns = irn_functions(self.model, self.fast, self.device)
        return self._fns

    def _kind(self, direction: str) -> str:
        if not self.is_irn:
            return "irn-color"
        kind: str = tiling_layer().irn_kind(self.model, direction)
        return kind

    def _tile(self, direction: str, t: Tensor) -> int | None:
        if t.shape[0] != 1 or tiling_layer() is None:
            return None
        align = self.scale if direction == "down" else 1
        return self.tile_for(self._kind(direction), int(t.shape[-2]), int(t.shape[-1]), align)

    def _color_map(self, fn: Callable[[Tensor, Any], Tensor], x: Tensor, channels: int, tile: int) -> Tensor:
        """The scale-1 IRN_color map ``fn(window, box)`` over ``x`` in tiles (kind ``irn-color``)."""
        tiling = tiling_layer()
        overlap = self.overlap if self.overlap is not None else tiling.default_overlap("irn-color")
        out: Tensor = tiling.tiled_map(
            fn, x, tile=tile, overlap=overlap, out_channels=channels, device=self.device, progress=self.progress
        )
        return out

    # -- the protocol ------------------------------------------------------------------------------------------
    def downscale(self, x: Any) -> tuple[Any, Tensor | None]:
        """HR image -> ``(y, z)``: the 8-bit-quantised LR image (same kind as ``x``; ``ceil(H/s)×ceil(W/s)``) and
        the latent ``z`` (a tensor ``(B, C_z, h, w)``; None when the image was too large and went through tiles).
        Single-channel inputs are run as RGB: ``y`` is RGB (grey for IRN_color)."""
        t, like = to_tensor(x)
        t = as_rgb(t)
        if like.kind == "pil" and like.mode == "L":
            like.mode = "RGB"
        tp = pad(t, self.scale)
        tile = self._tile("down", tp)
        self.last_tile = tile
        fwd, _ = self.functions()
        c = self.lr_channels
        with torch.no_grad():
            if tile is None:
                out = fwd(tp.to(self.device))
                y = torch.round(out[:, :c].clamp(0, 1) * 255.0) / 255.0
                return from_tensor(y, like), out[:, c:]
            # too large for memory at once: the LR in tiles; z is not kept (upscale draws one)
            if self.is_irn:
                y = tiling_layer().irn_downscale(
                    self.model, tp, tile=tile, overlap=self.overlap, forward=fwd, device=self.device,
                    progress=self.progress,
                )  # fmt: skip
            else:
                gray = self._color_map(lambda win, box: fwd(win)[:, :c], tp, c, tile)
                y = torch.round(gray.clamp(0, 1) * 255.0) / 255.0
        return from_tensor(y, like), None

    def upscale(
        self,
        y: Any,
        z: Any = None,
        *,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
        size: tuple[int, int] | None = None,
    ) -> Any:
        """LR image -> HR image (same kind as ``y``).

        ``z``: the latent tensor (the exact inverse of ``downscale``), or a :class:`~invrestore.tiling.ZField`
        (the same z whether or not the image is tiled; what ``invrestore upscale`` uses), or None: z ~
        ``temperature`` · N(0, I) from ``generator`` (or a generator seeded with ``seed``; else torch's global RNG);
        ``temperature=0`` is z = 0. ``size=(H, W)`` crops the result to the original HR size (of an input that was
        padded to the scale).
        """
        t, like = to_tensor(y)
        if t.shape[1] == 1 and self.is_irn:  # IRN's LR is RGB; IRN_color's is grey
            t = t.expand(-1, 3, -1, -1)
        if not math.isfinite(temperature) or temperature < 0:
            raise ConfigError(f"temperature must be a finite number ≥ 0, got {temperature}")
        t = t.to(self.device)
        if generator is None and seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(int(seed))
        tiling = tiling_layer()
        field = z if tiling is not None and isinstance(z, tiling.ZField) else None
        tile = self._tile("up", t) if z is None or field is not None else None
        if field is None and z is None and tile is not None:  # in tiles, z from the tiling layer's seeded field
            if seed is None:
                seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            mode = "zero" if temperature == 0 else "random"
            field = tiling.ZField(self.z_channels, seed=int(seed), temperature=temperature, mode=mode)
        self.last_tile = tile if field is not None else None
        _, inv = self.functions()
        with torch.no_grad():
            if field is not None:
                out = self._upscale_field(t, field, tile)
            else:
                if z is not None:
                    zz = z.to(self.device, t.dtype)
                elif temperature == 0:
                    zz = t.new_zeros(self.model.z_shape(t))
                else:
                    shape = self.model.z_shape(t)
                    zz = temperature * torch.randn(shape, generator=generator, device=t.device, dtype=t.dtype)
                out = inv(torch.cat([t, zz], dim=1))
        if size is not None:
            out = out[..., : int(size[0]), : int(size[1])]
        return from_tensor(out.clamp(0, 1), like)

    def _upscale_field(self, t: Tensor, field: Any, tile: int | None) -> Tensor:
        """The inverse with z from ``field``, whole (``tile`` None) or in tiles; float32 on the CPU."""
        _, inv = self.functions()
        if self.is_irn:
            out: Tensor = tiling_layer().irn_upscale(
                self.model, t, field, tile=tile, overlap=self.overlap, inverse=inv, device=self.device,
                progress=self.progress,
            )  # fmt: skip
            return out

        def fn(win: Tensor, box: Any) -> Tensor:
            zz = field.crop(*box).to(device=win.device, dtype=win.dtype)
            return inv(torch.cat([win, zz], dim=1))

        if tile is None:
            return fn(t, (0, 0, int(t.shape[-2]), int(t.shape[-1]))).to("cpu", torch.float32)
        return self._color_map(fn, t, int(self.model.out_channels), tile)
