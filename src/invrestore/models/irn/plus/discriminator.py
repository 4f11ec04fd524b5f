"""IRN+'s discriminator: ESRGAN's ``Discriminator_VGG_128`` (``docs/irn.md``)."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["DiscriminatorVGG128"]


class DiscriminatorVGG128(nn.Module):
    """ESRGAN's ``Discriminator_VGG_128`` (IRN+'s D, ``docs/irn.md``): one real/fake logit per image.

    Five stages of (3×3 stride-1 conv, 4×4 stride-2 conv) with ``nf, 2nf, 4nf, 8nf, 8nf`` channels; BatchNorm on
    every conv but the first (which alone has a bias); LeakyReLU(0.2); then ``Linear(8nf·k·k → 100)``, LeakyReLU,
    ``Linear(100 → 1)``, where ``k = ⌊input_size / 32⌋`` (each stride-2 conv floors the side by 2). The official
    model has ``nf = 64`` and ``k = 4``: inputs of 128 to 159 pixels, e.g. IRN's 144² crops; 14,499,401 parameters.
    ``input_size=32`` gives the official ``Discriminator_VGG_32``. Parameters keep PyTorch's default
    initialisation (the official ``define_D`` applies none) and the official names (``conv0_0``, ``bn0_1``, …).

    Args:
        in_channels: image channels.
        nf: base width.
        input_size: the (square) training crop side; fixes the first linear layer.
    """

    def __init__(self, in_channels: int = 3, nf: int = 64, input_size: int = 128) -> None:
        super().__init__()
        k = input_size // 32
        if k < 1:
            raise ValueError(f"the discriminator needs inputs of at least 32 pixels, not {input_size}")
        self.input_size = input_size
        widths = (nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf)
        c = in_channels
        for i, w in enumerate(widths):
            setattr(self, f"conv{i}_0", nn.Conv2d(c, w, 3, 1, 1, bias=i == 0))
            if i > 0:
                setattr(self, f"bn{i}_0", nn.BatchNorm2d(w))
            setattr(self, f"conv{i}_1", nn.Conv2d(w, w, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(w))
            c = w
        self.linear1 = nn.Linear(c * k * k, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, 1)``."""
        h = x
        for i in range(5):
            h = getattr(self, f"conv{i}_0")(h)
            if i > 0:
                h = getattr(self, f"bn{i}_0")(h)
            h = self.lrelu(h)
            h = self.lrelu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(h)))
        h = self.lrelu(self.linear1(h.flatten(1)))
        out: Tensor = self.linear2(h)
        return out
