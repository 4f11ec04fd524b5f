"""A pix2pix generator as a same-size restoration module: [0, 1] in and out.

Used by :class:`invrestore.inference.restorer.ImageRestorer` (and so by ``invrestore restore``); the tiling layer
recognises it (:func:`invrestore.tiling.tileable` is false in train mode). See docs/generative.md.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Pix2PixRestorer"]


class Pix2PixRestorer(nn.Module):
    """A pix2pix generator used for restoration: [0, 1] in and out, padded to ``2^N`` and cropped back, with
    pix2pix's train-mode inference unless ``eval_mode`` (see :func:`invrestore.models.pix2pix.model.restore`).

    Args:
        generator: the pix2pix generator.
        eval_mode: use running BatchNorm statistics and no dropout (pix2pix ``--eval``); False reproduces pix2pix's
            default test-time mode (BatchNorm on the image's statistics, dropout on).
        task: what the generator was trained for (``derain``, ``dehaze``, ...), when known.
    """

    def __init__(self, generator: nn.Module, eval_mode: bool, task: str | None = None) -> None:
        super().__init__()
        self.generator, self.eval_mode, self.task = generator, eval_mode, task

    def forward(self, x: Tensor) -> Tensor:
        from invrestore.models.pix2pix.model import restore

        out: Tensor = restore(self.generator, x, eval_mode=self.eval_mode)
        return out
