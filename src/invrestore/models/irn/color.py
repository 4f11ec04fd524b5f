"""IRN_color: invertible decolorization–colorization (IRN paper §3.4, official ``InvGreyNet``).

.. code-block:: none

    x (B,3,H,W) ─► M (learnable 3×3, init RGB→YUV) ─► InvBlock(3, split 1) × 8 ─► cat(g, z) (B,3,H,W)
                                                          g = out[:, :1]  the grayscale image (8 bits)
                                                          z = out[:, 1:]  the lost colour information
    x̂ = G⁻¹(cat(Quant(g), 0))          (z = 0 in training and at test, as the official code)

``docs/irn.md``: the matrix is initialised with **YUV** (BT.601 analog) coefficients, not YCbCr, has no
offsets, and is learnable; its parameter is ``conv_weights`` of shape (3, 3) and the blocks follow in
``operations`` (official keys ``operations.0.conv_weights``, ``operations.1.F.conv1.weight`` ...), 1,413,601
parameters in all.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import ImageShapeError
from invrestore.models.irn.model import quantize_ste
from invrestore.models.registry import register_model
from invrestore.nn import DenseBlock, InvBlock, InvertibleModule, InvertibleSequential

__all__ = ["YUV_MATRIX", "ColorMatrix", "IRNColor", "color_metrics"]

#: The official initialisation (``rgb_type: RGB``): rows Y, U, V.
YUV_MATRIX = ((0.299, 0.587, 0.114), (-0.147, -0.289, 0.436), (0.615, -0.515, -0.100))


class ColorMatrix(InvertibleModule):
    """A learnable 3×3 colour transform applied per pixel (the official ``Conv1x1Grey``).

    ``y = M x`` per pixel, ``logdet = H·W·log|det M|``; the inverse uses ``M⁻¹`` computed in float64.
    Shapes ``(B, 3, H, W)`` both ways. Args: ``init`` (rows of M), ``learnable``.
    """

    def __init__(self, init: tuple[tuple[float, ...], ...] = YUV_MATRIX, learnable: bool = True) -> None:
        super().__init__()
        self.conv_weights = nn.Parameter(torch.tensor(init, dtype=torch.float32), requires_grad=learnable)

    def _logdet(self, x: Tensor, m: Tensor) -> Tensor:
        _, logabs = torch.linalg.slogdet(m.to(torch.float64))
        return x.new_full((x.shape[0],), float(x.shape[-2] * x.shape[-1])) * logabs.to(x.dtype)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        m = self.conv_weights.to(x.dtype)
        return F.conv2d(x, m.reshape(3, 3, 1, 1)), self._logdet(x, m)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        inv = torch.linalg.inv(self.conv_weights.to(torch.float64)).to(y.dtype)
        return F.conv2d(y, inv.reshape(3, 3, 1, 1)), -self._logdet(y, self.conv_weights)


class IRNColor(nn.Module):
    """IRN_color ``G``: ``(B, 3, H, W) -> (B, 3, H, W)`` = ``cat(gray, z)`` and back (scale 1).

    Args:
        blocks: number of InvBlocks (8).
        learnable_matrix: train the colour matrix (the official default).
        clamp, gc: InvBlock clamp and dense-block growth (1.0, 32).
        memory_efficient: recompute activations by inversion in backward instead of storing them.
    """

    scale = 1
    in_channels = 3
    split = 1
    out_channels = 3

    def __init__(
        self,
        blocks: int = 8,
        learnable_matrix: bool = True,
        clamp: float = 1.0,
        gc: int = 32,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        ops: list[InvertibleModule] = [ColorMatrix(learnable=learnable_matrix)]
        ops += [InvBlock(3, split=1, subnet=lambda i, o: DenseBlock(i, o, gc=gc), clamp=clamp) for _ in range(blocks)]
        self.operations = InvertibleSequential(*ops, memory_efficient=memory_efficient)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ImageShapeError(f"expected an RGB batch (B, 3, H, W), got {tuple(x.shape)}")
        out, logdet = self.operations(x)
        return out, logdet

    def inverse(self, out: Tensor) -> tuple[Tensor, Tensor]:
        if out.ndim != 4 or out.shape[1] != 3:
            raise ImageShapeError(f"expected cat(gray, z) (B, 3, H, W), got {tuple(out.shape)}")
        x, logdet = self.operations.inverse(out)
        return x, logdet

    def z_shape(self, y: Tensor) -> tuple[int, int, int, int]:
        return (y.shape[0], 2, y.shape[-2], y.shape[-1])

    def decolorize(self, x: Tensor, quantize: bool = True) -> tuple[Tensor, Tensor]:
        """``x (B,3,H,W) -> (gray (B,1,H,W), z (B,2,H,W))``; gray is 8-bit quantised unless ``quantize=False``."""
        out, _ = self(x)
        g, z = out[:, :1], out[:, 1:]
        return (quantize_ste(g) if quantize else g), z

    def colorize(self, gray: Tensor, z: Tensor | None = None) -> Tensor:
        """``gray (B,1,H,W) -> x̂ (B,3,H,W)`` with ``z = 0`` unless given (the official test setting)."""
        if z is None:
            z = gray.new_zeros(self.z_shape(gray))
        x, _ = self.inverse(torch.cat([gray, z], dim=1))
        return x

    # the rescaling-style names (scale 1), so code written for an IRN drives it too
    def downscale(self, x: Tensor, quantize: bool = True) -> tuple[Tensor, Tensor]:
        return self.decolorize(x, quantize)

    def upscale(self, y: Tensor, z: Tensor | None = None, **_: Any) -> Tensor:
        return self.colorize(y, z)


def color_metrics(model: IRNColor, x: Tensor, crop_border: int = 2) -> dict[str, float]:
    """RGB PSNR/SSIM of ``colorize(decolorize(x))`` (gray rounded to 8 bits, z = 0), the paper's Table 12 metric;
    ``crop_border`` = 2 as the official colour yml (its ``scale: 2``)."""
    from invrestore.metrics import psnr, ssim

    with torch.no_grad():
        gray, _ = model.decolorize(x)
        x_hat = model.colorize(gray)
    return {
        "psnr_rgb": float(psnr(x_hat, x, crop_border=crop_border, channel="rgb").mean()),
        "ssim_rgb": float(ssim(x_hat, x, crop_border=crop_border, channel="rgb").mean()),
    }


register_model(
    "irn-color",
    IRNColor,
    family="irn",
    trainer="irn-color",
    params=1_413_601,
    description="IRN_color: YUV-initialised 3×3 matrix + 8 InvBlocks, split 1",
    pretrained="irn-color.safetensors",
)
