"""Activation normalisation with data-dependent initialisation (Glow)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from invrestore.nn.base import InvertibleModule

__all__ = ["ActNorm", "data_initialize"]


class ActNorm(InvertibleModule):
    """Per-channel affine normalisation ``y = (x − loc) / scale``: ``(B, C, H, W) -> (B, C, H, W)``.

    Paper: Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018, §3.1.
    The ``(x − loc)/scale`` parameterisation is the one of IRAE's Glow.

    ``logdet = −H·W·Σ_c log|scale_c|`` per sample.

    Data-dependent initialisation: on the first forward call *in training mode* (while the buffer
    ``initialized`` is false) ``loc`` and ``scale`` are set to the per-channel batch mean and (biased)
    standard deviation ``+ eps``, so that this first output is zero-mean and unit-variance per channel;
    ``initialized`` then becomes true. The buffer is in the state_dict, so a loaded checkpoint is never
    re-initialised.

    Policy before initialisation: forward calls in eval mode and all ``inverse`` calls never trigger the
    initialisation; they use the current parameters, which are the identity (``loc = 0``, ``scale = 1``) until
    initialised or loaded. (IRAE relies on this: ActNorms that only ever run in the inverse direction stay at
    the identity and are learned from there.) Call :func:`data_initialize` on a batch before memory-efficient
    training or before wrapping the module in :class:`~invrestore.nn.Inverse` if you want the data-dependent
    start.

    Args:
        channels: number of channels ``C``.
        eps: added to the standard deviation at initialisation.
        data_init: set to false to disable the data-dependent initialisation.
    """

    initialized: Tensor

    def __init__(self, channels: int, eps: float = 1e-6, data_init: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.data_init = data_init
        self.loc = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, eps={self.eps}, data_init={self.data_init}"

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set ``loc``/``scale`` from the statistics of ``x`` (B, C, H, W) and mark the module initialised."""
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
        self.loc.copy_(mean)
        self.scale.copy_(std + self.eps)
        self.initialized.fill_(True)

    def _logdet(self, x: Tensor) -> Tensor:
        h, w = x.shape[2], x.shape[3]
        return x.new_zeros(x.shape[0]) + (h * w) * torch.log(self.scale.abs()).sum()

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.training and self.data_init and not bool(self.initialized):
            self.initialize(x)
        return (x - self.loc) / self.scale, -self._logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return y * self.scale + self.loc, self._logdet(y)


@torch.no_grad()
def data_initialize(module: nn.Module, x: Tensor, cond: Tensor | None = None) -> None:
    """Run one forward pass in training mode so every ActNorm inside ``module`` initialises from ``x``.

    Useful before memory-efficient training, or to initialise a model on a chosen batch. The module's previous
    train/eval mode is restored.

    Args:
        module: any module whose forward accepts ``(x, cond)`` (or ``(x)`` when ``cond`` is None).
        x: a representative input batch.
        cond: optional conditioning tensor.
    """
    was_training = module.training
    module.train()
    try:
        if cond is None:
            module(x)
        else:
            module(x, cond)
    finally:
        module.train(was_training)
