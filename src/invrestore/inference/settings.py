"""How an inference wrapper runs its model: device, tiling, memory budget, fast path, progress.

:class:`InferenceSettings` is the part the three wrappers share. Its defaults are those of the Python API (tile
only images whose estimated memory exceeds the budget, the exact eager path, no progress bar);
:meth:`InferenceSettings.configure` takes the settings of a file command (:class:`invrestore.batch.Inference`:
``--device``, ``--tile``, ``--tile-overlap``, ``--max-memory``, ``--compile``, ``--precision``, ``--progress``).
See docs/api.md ("Large images") and docs/tiling.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from invrestore.inference.images import model_device

if TYPE_CHECKING:
    from invrestore.batch import Inference
    from invrestore.fast import FastOptions

__all__ = ["InferenceSettings", "tiling_layer"]

_TILING_API = ("auto_tile", "irn_downscale", "irn_upscale", "irn_kind", "ZField", "tiled_restore", "restore_kind")


def tiling_layer() -> Any:
    """The tiling module when it is installed (large images in bounded memory), else None (whole images)."""
    try:
        import invrestore.tiling as tiling
    except ImportError:
        return None
    return tiling if all(hasattr(tiling, n) for n in _TILING_API) else None


class InferenceSettings:
    """Tiling, memory and fast-path settings of a wrapper around ``self.model``.

    Attributes:
        tile: ``"auto"``: tile an image only when its estimated memory exceeds ``max_memory``; an int: always tile
            with that tile side (pixels of the model's input, rounded up to its alignment); None: always whole.
        max_memory: the activation budget in bytes for ``tile="auto"`` (None: the tiling layer's default, half the
            free memory, at most 768 MiB on the CPU).
        overlap: context around each tile in input pixels (None: the model kind's measured default).
        fast: the fast path (:class:`invrestore.fast.FastOptions`) of the forward passes; None: the exact eager
            calls.
        progress: show a bar over the tiles of an image.
        last_tile: the tile side the last call used (None: it ran whole).
    """

    model: Any

    def _init_settings(self) -> None:
        self.tile: int | str | None = "auto"
        self.max_memory: int | None = None
        self.overlap: int | None = None
        self.fast: FastOptions | None = None
        self.progress = False
        self.last_tile: int | None = None

    @property
    def device(self) -> torch.device:
        """Where the model's parameters are."""
        return model_device(self.model)

    def configure(self, inf: Inference, *, progress: bool | None = None) -> None:
        """Take a file command's settings: the model moves to ``inf.device``; tile, overlap, budget and fast path
        follow ``inf``; ``progress`` (default ``inf.show_progress``) shows a bar over the tiles."""
        self.model.to(inf.device)
        self.tile = inf.tile
        self.overlap = inf.overlap
        self.max_memory = inf.max_memory
        self.fast = inf.fast
        self.progress = inf.show_progress if progress is None else progress
        self._settings_changed()

    def _settings_changed(self) -> None:
        """Hook: a wrapper rebuilds its fast-path functions here."""

    def tile_for(self, kind: str, h: int, w: int, align: int = 1) -> int | None:
        """The tile side for an ``h × w`` input of model ``kind`` (None: whole image), a multiple of ``align``."""
        tiling = tiling_layer()
        if tiling is None or self.tile is None:
            return None
        if self.tile == "auto":
            tile: int | None = tiling.auto_tile(
                kind, h, w, max_memory=self.max_memory, align=align, device=self.device, overlap=self.overlap
            )
            return tile
        return -(-int(self.tile) // align) * align
