"""The :class:`~invrestore.api.Restorer` over a same-size restoration network (IRAE, DnCNN, FFDNet, U-Net, AR-CNN,
KAIR variants, pix2pix generators, CRMs): padding, FFDNet's σ map, grey inputs, tiling and the fast path inside.

``invrestore.load("dncnn-s-denoise25")`` returns one; ``invrestore restore`` and ``invrestore eval`` drive the same
object. See docs/api.md ("Restorer details") and docs/tiling.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError
from invrestore.inference.images import from_tensor, pad, to_tensor
from invrestore.inference.settings import InferenceSettings, tiling_layer

__all__ = ["ImageRestorer", "restore_image"]


def restore_image(net: nn.Module, y: Tensor, sigma: float | None = None) -> Tensor:
    """Restore one ``(3, H, W)`` image of any size: pad (reflect) to the model's multiple, run, crop, clamp.

    FFDNet needs ``sigma`` (0–255 scale). The network is used as it is (its mode is not changed).

    Raises:
        ConfigError: FFDNet without ``sigma``.
    """
    from invrestore.models.baselines.model import FFDNet

    h, w = y.shape[-2:]
    yp = pad(y.unsqueeze(0), int(getattr(net, "multiple", 1)))
    with torch.no_grad():
        if isinstance(net, FFDNet):
            if sigma is None:
                raise ConfigError("ffdnet needs the noise level: pass --sigma N")
            out = net(yp, sigma / 255.0)
        else:
            out = net(yp)
    result: Tensor = out[0, :, :h, :w].clamp(0, 1)
    return result


class ImageRestorer(InferenceSettings):
    """A :class:`~invrestore.api.Restorer` over an image-to-image network: any size (reflect-padded to the model's
    multiple and cropped back), FFDNet's σ map built from ``sigma``, pix2pix generators run with pix2pix's test-time
    mode, single-channel inputs run as RGB and returned single-channel, output clamped to [0, 1], large images in
    tiles (see :class:`~invrestore.inference.settings.InferenceSettings`).

    Attributes:
        model: the network (eval mode).
        name: its registry name (or the file it came from).
        task: what it was trained for, when known (``denoise``, ``derain``, ...).
        pix2pix_eval_mode: None for other models; for a pix2pix generator, whether it runs with running BatchNorm
            statistics (``--eval``) rather than pix2pix's default train-mode inference.
        on_untileable: called with the image's ``(height, width)`` when ``tile="auto"`` would tile an image but the
            model normalises with whole-image statistics, so the image runs whole (None: silently).
    """

    def __init__(
        self,
        model: nn.Module,
        name: str = "restorer",
        task: str | None = None,
        *,
        pix2pix_eval_mode: bool | None = None,
    ) -> None:
        self.model: Any = model.eval()
        self.name = name
        self.task = task
        self.pix2pix_eval_mode = pix2pix_eval_mode  # None: not a pix2pix generator
        self.on_untileable: Callable[[int, int], None] | None = None
        self._init_settings()
        self._net: nn.Module = self.model
        if pix2pix_eval_mode is not None:
            from invrestore.models.pix2pix.restorer import Pix2PixRestorer

            self._net = Pix2PixRestorer(self.model, pix2pix_eval_mode, task).eval()

    def __repr__(self) -> str:
        return f"ImageRestorer({self.name!r}, task={self.task!r})"

    @property
    def module(self) -> nn.Module:
        """The module that maps the [0, 1] input to the output: the network, or for a pix2pix generator its
        :class:`~invrestore.models.pix2pix.restorer.Pix2PixRestorer` (with the test-time mode)."""
        return self._net

    @property
    def needs_sigma(self) -> bool:
        """Whether the model takes the noise level (FFDNet's σ map)."""
        from invrestore.models.baselines.model import FFDNet

        return isinstance(self.model, FFDNet)

    @property
    def multiple(self) -> int:
        """What the input is padded to (a pix2pix generator pads itself, to ``2^N``)."""
        return int(getattr(self._net, "multiple", 1))

    @property
    def tileable(self) -> bool:
        """False when tiling would change the output (pix2pix's train-mode inference: whole-image statistics)."""
        from invrestore.tiling import tileable

        return bool(tileable(self._net))

    def _fn(self, sigma: float | None) -> Callable[[Tensor], Tensor]:
        net = self._net
        if self.needs_sigma:
            if sigma is None:
                raise ConfigError(f"{self.name} needs the noise level of the input: pass sigma= (0–255 scale)")
            level = sigma / 255.0

            def fn(t: Tensor) -> Tensor:
                out: Tensor = net(t, level)
                return out

        else:

            def fn(t: Tensor) -> Tensor:
                out: Tensor = net(t)
                return out

        if self.fast is None:
            return fn
        from invrestore.fast import optimize

        return optimize(fn, self.fast, device=self.device)

    def _tile_size(self, y: Tensor) -> int | None:
        tiling = tiling_layer()
        if tiling is None or y.shape[0] != 1:
            return None
        m = self.multiple
        h, w = int(y.shape[-2]), int(y.shape[-1])
        hp, wp = -(-h // m) * m, -(-w // m) * m
        tile = self.tile_for(tiling.restore_kind(self.name), hp, wp, m)
        if tile is not None and not self.tileable:
            if self.tile != "auto":
                raise ConfigError(
                    f"'{self.name}' normalises with whole-image statistics (pix2pix train-mode inference), so "
                    "tiling would change its output: run it whole (tile=None)"
                )
            if self.on_untileable is not None:
                self.on_untileable(h, w)
            tile = None
        return tile

    def restore_tensor(self, y: Tensor, sigma: float | None = None) -> Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> restored ``(B, 3, H, W)`` in [0, 1]; a single image may go through tiles
        (``last_tile`` says)."""
        fn = self._fn(sigma)
        tile = self._tile_size(y)
        self.last_tile = tile
        tiling = tiling_layer()
        if tiling is None or y.shape[0] != 1:
            h, w = y.shape[-2:]
            with torch.no_grad():
                out = fn(pad(y, self.multiple).to(self.device))
            whole: Tensor = out[..., :h, :w].clamp(0, 1)
            return whole
        tiled: Tensor = tiling.tiled_restore(
            fn, y, multiple=self.multiple, tile=tile, overlap=self.overlap, device=self.device,
            progress=self.progress, kind=tiling.restore_kind(self.name),
        )  # fmt: skip
        return tiled.clamp(0, 1)

    def restore(self, y: Any, *, task: str | None = None, sigma: float | None = None) -> Any:
        """Degraded image -> restored image (same kind as ``y``).

        Args:
            y: the degraded image.
            task: the task you expect (``denoise``, ``dejpeg``, ``derain``, ...); refused when the model was
                trained for another.
            sigma: noise σ on the 0–255 scale; required by FFDNet (its noise map), ignored by blind models.

        Raises:
            ConfigError: another task than the model's, a missing or negative ``sigma`` for FFDNet.
        """
        if task is not None and self.task is not None and task != self.task:
            raise ConfigError(f"'{self.name}' was trained to {self.task}, not to {task}")
        if sigma is not None and (not math.isfinite(sigma) or sigma < 0):
            raise ConfigError(f"sigma must be a finite number ≥ 0 (0–255 scale), got {sigma}")
        t, like = to_tensor(y)
        gray = t.shape[1] == 1
        if gray and getattr(self.model, "in_channels", 3) == 1:  # a grayscale model (KAIR's gray DnCNN/FFDNet)
            return from_tensor(self.restore_tensor(t, sigma), like)
        out = self.restore_tensor(t.expand(-1, 3, -1, -1) if gray else t, sigma)
        if gray:
            out = out.mean(1, keepdim=True)
        return from_tensor(out, like)
