"""Non-invertible restoration baselines of the IRAE paper: DnCNN, FFDNet, U-Net and AR-CNN.

Sizes follow the definitions in the official IRAE repository (``Lillian1082/IRAE_pytorch``) as written down in
``docs/restoration.md`` (parameter counts obtained by instantiating the official definitions), and each
model's own paper where the spec is silent. Every model maps ``(B, C, H, W) -> (B, C, H, W)`` and accepts any
``H, W``: models that need a multiple (FFDNet: 2, U-Net: ``2^(depth−1)``) pad the input at the bottom/right
(reflect; replicate for tiny images) and crop the output back. Outputs are not clamped.

============  ==================================================================  ============  ===============
model          layers                                                              params        paper / spec
============  ==================================================================  ============  ===============
``dncnn``      3×3 C→64 + ReLU; 40 × [3×3 64→64 + BN + ReLU]; 3×3 64→C; no biases   1,483,136     1.48M ✓
``ffdnet``     unshuffle 2 (4C) + C-channel σ map; 3×3 5C→96 + ReLU;                 854,688       –
               10 × [3×3 96→96 + BN + ReLU]; 3×3 96→4C; shuffle 2; no biases
``unet``       depth 4, width 64, [3×3 + LReLU 0.2] × 2 per block, avg-pool down,    7,699,011     7.70M ✓
               ConvT 2×2 up, concatenation skips, final 3×3 64→C; biases
``arcnn``      9×9 C→64, 7×7 64→32, 1×1 32→16 (PReLU after each), 5×5 16→C          117,734       –
============  ==================================================================  ============  ===============
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import ConfigError
from invrestore.imageops import pad_to_multiple
from invrestore.models.registry import register_model

__all__ = ["ARCNN", "DnCNN", "FFDNet", "UNet", "pad_to_multiple", "parameter_count"]


def _check_image(x: Tensor, channels: int) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"expected (B, {channels}, H, W), got {tuple(x.shape)}")


class DnCNN(nn.Module):
    """DnCNN: a plain stack of 3×3 conv + BN + ReLU layers. ``(B, C, H, W) -> (B, C, H, W)``, any size.

    Paper: Zhang et al., "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image Denoising", TIP
    2017. The IRAE repo's ``DnCNN(3, num_of_layers=40)`` (``docs/restoration.md``):

    .. code-block:: none

        y ─► conv3×3(C→w) ─► ReLU ─► [conv3×3(w→w) ─► BN ─► ReLU] × middle_layers ─► conv3×3(w→C) ─► x̂

    All convolutions have no bias. Parameters: ``9·C·w + middle·(9·w² + 2w) + 9·w·C`` (BN running statistics are
    buffers, not parameters) = **1,483,136** for ``C = 3``, ``w = 64``, 40 middle layers (the paper's 1.48M).
    The IRAE repo's network outputs the clean image directly (``residual=False``, the default); the original
    DnCNN predicts the noise and returns ``y − net(y)`` (``residual=True``). DnCNN-S of the DnCNN paper is
    ``middle_layers=15`` (depth 17).

    Args:
        in_channels: image channels ``C``.
        middle_layers: number of conv + BN + ReLU layers between the first and the last conv.
        width: feature channels ``w``.
        batch_norm: use BatchNorm in the middle layers.
        residual: return ``y − net(y)`` instead of ``net(y)``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        middle_layers: int = 40,
        width: int = 64,
        batch_norm: bool = True,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.residual = residual
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.ReLU(inplace=True)]
        for _ in range(middle_layers):
            layers.append(nn.Conv2d(width, width, 3, padding=1, bias=False))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(width, in_channels, 3, padding=1, bias=False))
        self.dncnn = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, y: Tensor) -> Tensor:
        _check_image(y, self.in_channels)
        out: Tensor = self.dncnn(y)
        return y - out if self.residual else out


def _noise_map(sigma: float | Tensor, x: Tensor, channels: int) -> Tensor:
    """The FFDNet noise-level map ``(B, channels, H/2, W/2)`` from σ (on the [0, 1] image scale).

    ``sigma``: a number, a tensor ``()``, ``(B,)``, ``(B, channels)``, or a full-resolution map ``(B, 1|channels,
    H, W)`` (average-pooled 2×2 after the same padding as the image).
    """
    b, _, h, w = x.shape  # x is the padded image
    s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if s.ndim == 4:
        s = pad_to_multiple(s, 2, "replicate")
        if s.shape[-2:] != (h, w):
            raise ValueError(f"the noise map has size {tuple(s.shape[-2:])}, the (padded) image {(h, w)}")
        return F.avg_pool2d(s, 2).expand(b, channels, h // 2, w // 2)
    if s.ndim == 0:
        s = s.expand(b)
    if s.ndim == 1:
        s = s.view(-1, 1)
    if s.ndim != 2 or s.shape[0] != b or s.shape[1] not in (1, channels):
        raise ValueError(f"sigma must be a number, (B,), (B, {channels}) or a map, got shape {tuple(s.shape)}")
    return s.view(b, -1, 1, 1).expand(b, channels, h // 2, w // 2)


class FFDNet(nn.Module):
    """FFDNet: denoising on 2×2 pixel-unshuffled sub-images with a noise-level map as extra input.

    Paper: Zhang, Zuo & Zhang, "FFDNet: Toward a Fast and Flexible Solution for CNN-Based Image Denoising", TIP
    2018, §III. Shapes: ``y (B, C, H, W), σ -> x̂ (B, C, H, W)``; odd ``H, W`` are padded to even.

    .. code-block:: none

        y ─► unshuffle 2 (4C, H/2, W/2) ─┐
        σ ─► map M (C, H/2, W/2) ────────┴► cat (5C) ─► conv3×3(5C→w) ─► ReLU
            ─► [conv3×3(w→w) ─► BN ─► ReLU] × (num_layers − 2) ─► conv3×3(w→4C) ─► shuffle 2 ─► x̂

    Colour preset (the paper's): 12 layers, width 96, a 3-channel noise map (input 15 channels, output 12);
    greyscale: ``in_channels=1, num_layers=15, width=64``. Convolutions have no bias (as in the authors' PyTorch
    implementation; BN follows the middle ones). Parameters: ``9·5C·w + (L−2)·(9w² + 2w) + 9·w·4C`` = 854,688
    for the colour preset. Like the paper, the network outputs the clean sub-images (no residual learning);
    ``residual=True`` returns ``y − net(y)`` instead.

    ``sigma`` is the noise standard deviation **on the [0, 1] image scale** (σ₂₅₅ / 255): a number, a tensor
    ``()`` / ``(B,)`` / ``(B, C)``, or a full-resolution map ``(B, 1|C, H, W)``.

    Args:
        in_channels: image channels ``C``.
        num_layers: total number of convolutions ``L``.
        width: feature channels ``w``.
        batch_norm: BatchNorm in the middle layers.
        residual: predict the noise and subtract it.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_layers: int = 12,
        width: int = 96,
        batch_norm: bool = True,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 2:
            raise ConfigError(f"FFDNet needs num_layers >= 2, got {num_layers}")
        self.in_channels = in_channels
        self.residual = residual
        c4 = 4 * in_channels
        layers: list[nn.Module] = [nn.Conv2d(c4 + in_channels, width, 3, padding=1, bias=False), nn.ReLU(True)]
        for _ in range(num_layers - 2):
            layers.append(nn.Conv2d(width, width, 3, padding=1, bias=False))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(width, c4, 3, padding=1, bias=False))
        self.body = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, y: Tensor, sigma: float | Tensor) -> Tensor:
        _check_image(y, self.in_channels)
        h, w = y.shape[-2:]
        yp = pad_to_multiple(y, 2)
        m = _noise_map(sigma, yp, self.in_channels)
        out = F.pixel_shuffle(self.body(torch.cat([F.pixel_unshuffle(yp, 2), m], dim=1)), 2)
        out = yp - out if self.residual else out
        return out[..., :h, :w]


class _UNetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, negative_slope: float) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.block(x)
        return out


class _UNetUp(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, negative_slope: float) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv = _UNetBlock(2 * out_channels, out_channels, negative_slope)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class UNet(nn.Module):
    """U-Net with padded 3×3 convolutions, average-pool downsampling and transposed-conv upsampling.

    Paper: Ronneberger, Fischer & Brox, "U-Net", MICCAI 2015; the IRAE repo's ``UNet(3, 3, depth=4, wf=64)``
    (``docs/restoration.md``). Shapes: ``(B, C, H, W) -> (B, C_out, H, W)``; sizes that are not
    multiples of ``2^(depth−1)`` are padded and cropped back.

    .. code-block:: none

        level i = 0..depth−1 (width_i = width·2^i):  block_i = [conv3×3 + LReLU(0.2)] × 2
        down:  block_0 ─► avgpool2 ─► block_1 ─► … ─► block_{depth−1}
        up:    for i = depth−2..0:  ConvT2×2(width_{i+1} → width_i) ─► cat(·, skip_i) ─► block(2·width_i → width_i)
        last:  conv3×3(width → C_out)

    All convolutions have biases. Parameters at depth 4, width 64, 3 → 3 channels: **7,699,011** (the paper's
    7.70M). The final layer is a 3×3 convolution: the official count implies it (a 1×1 final layer, as in the
    common ``jvanvugt/pytorch-unet`` this follows, would give 7,697,475, 1,536 fewer). The output is the
    restored image itself (no residual connection).

    Args:
        in_channels: input channels.
        out_channels: output channels (default: ``in_channels``).
        depth: number of resolution levels.
        width: channels of the first level (doubled per level).
        negative_slope: LeakyReLU slope.
        last_kernel: kernel size of the final convolution (3; 1 for the plain U-Net head).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int | None = None,
        depth: int = 4,
        width: int = 64,
        negative_slope: float = 0.2,
        last_kernel: int = 3,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ConfigError(f"U-Net needs depth >= 1, got {depth}")
        self.in_channels = in_channels
        self.depth = depth
        out_channels = in_channels if out_channels is None else out_channels
        self.down = nn.ModuleList()
        prev = in_channels
        for i in range(depth):
            self.down.append(_UNetBlock(prev, width * 2**i, negative_slope))
            prev = width * 2**i
        self.up = nn.ModuleList()
        for i in reversed(range(depth - 1)):
            self.up.append(_UNetUp(prev, width * 2**i, negative_slope))
            prev = width * 2**i
        self.last = nn.Conv2d(prev, out_channels, last_kernel, padding=last_kernel // 2)

    @property
    def multiple(self) -> int:
        """Sizes are padded internally to multiples of this (``2^(depth−1)``)."""
        return 2 ** (self.depth - 1)

    def forward(self, x: Tensor) -> Tensor:
        _check_image(x, self.in_channels)
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.multiple)
        skips: list[Tensor] = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < self.depth - 1:
                skips.append(x)
                x = F.avg_pool2d(x, 2)
        for up in self.up:
            x = up(x, skips.pop())
        out: Tensor = self.last(x)
        return out[..., :h, :w]


class ARCNN(nn.Module):
    """AR-CNN: four convolutions for JPEG artefact reduction. ``(B, C, H, W) -> (B, C, H, W)``, any size.

    Paper: Dong, Deng, Loy & Tang, "Compression Artifacts Reduction by a Deep Convolutional Network", ICCV 2015
    (feature extraction 9×9×64, feature enhancement 7×7×32, mapping 1×1×16, reconstruction 5×5). As in the IRAE
    repo (``docs/restoration.md``): PReLU (one shared slope each) after the first three layers, "same"
    zero padding so the output has the input's size, weights initialised from ``N(0, 0.001²)`` (std 0.001, as in
    the AR-CNN paper) and zero biases. Parameters for ``C = 3``: 15,616 + 100,384 + 528 + 1,203 + 3 (PReLU) =
    **117,734**.

    Args:
        in_channels: image channels ``C``.
        init_std: standard deviation of the Gaussian weight initialisation.
    """

    def __init__(self, in_channels: int = 3, init_std: float = 1e-3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 9, padding=4),
            nn.PReLU(),
            nn.Conv2d(64, 32, 7, padding=3),
            nn.PReLU(),
            nn.Conv2d(32, 16, 1),
            nn.PReLU(),
            nn.Conv2d(16, in_channels, 5, padding=2),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, init_std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, y: Tensor) -> Tensor:
        _check_image(y, self.in_channels)
        out: Tensor = self.features(y)
        return out


def parameter_count(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


register_model(
    "dncnn",
    DnCNN,
    family="baselines",
    trainer="baselines",
    params=1_483_136,
    description="DnCNN, colour, 40 middle layers",
)
register_model(
    "ffdnet",
    FFDNet,
    family="baselines",
    trainer="baselines",
    params=854_688,
    description="FFDNet, colour (12 layers, width 96)",
)
register_model(
    "unet", UNet, family="baselines", trainer="baselines", params=7_699_011, description="U-Net depth 4, width 64"
)
register_model(
    "arcnn", ARCNN, family="baselines", trainer="baselines", params=117_734, description="AR-CNN (9-7-1-5, PReLU)"
)
# DnCNN-S depth with shipped σ = 25 weights (weights/dncnn-s-denoise25.md), the IRAE comparison's equal-budget
# baseline; trained as `dncnn` with model.middle_layers=15 (configs/baselines/cpu_dncnn_denoise25.yaml)
register_model(
    "dncnn-s-denoise25",
    DnCNN,
    family="baselines",
    trainer="baselines",
    kwargs={"middle_layers": 15},
    params=558_336,
    description="DnCNN-S (15 middle layers) trained here for σ = 25 denoising (CPU budget)",
    pretrained="dncnn-s-denoise25.safetensors",
    task="denoise",
)
