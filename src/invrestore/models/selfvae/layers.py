"""Network layers of selfVAE / srVAE: weight-normalised convolutions and densely connected blocks.

Paper: Gatopoulos & Tomczak, "Self-Supervised Variational Auto-Encoders", Entropy 2021 (selfVAE); the layer
details follow the official code of its predecessor srVAE (``src/modules/nn_layers.py``), see
``docs/selfvae.md``.

Weight normalisation (Salimans & Kingma, 2016): ``w = g · v / ‖v‖`` with the norm taken over every dimension but
the output-channel one (dim 0 for a convolution, dim 1 for a transposed convolution). Data-dependent init on the
first training-mode forward: ``v ~ N(0, 0.05²)``, ``g = 1``, ``b = 0``; then with the per-channel mean ``m`` and
variance ``σ²`` of the output on that batch, ``g ← g · 0.01/√(σ² + 1e-8)`` and ``b ← −m · 0.01/√(σ² + 1e-8)``,
so that every output channel starts with mean 0 and standard deviation 0.01.

Deviation from the official code: the ``initialized`` flag is a persistent buffer (in the state_dict), so loading
a checkpoint into a fresh model marks it initialised; the official Python attribute required an init batch
*before* ``load_state_dict``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CALayer",
    "DenseNetBlock",
    "DenseNetLayer",
    "DenselyDecoder",
    "DenselyEncoder",
    "DenselyNetwork",
    "WNConv2d",
    "WNConvTranspose2d",
    "data_dependent_init",
]

_INIT_STD = 0.05
_INIT_SCALE = 0.01
_EPS = 1e-8


class _WeightNormConv(nn.Module):
    """Shared machinery of :class:`WNConv2d` and :class:`WNConvTranspose2d`."""

    out_dim: int  # the weight dimension of the output channels
    initialized: Tensor

    def __init__(self, weight_shape: tuple[int, ...], out_channels: int, activation: bool) -> None:
        super().__init__()
        self.weight_v = nn.Parameter(torch.randn(weight_shape) * _INIT_STD)
        g_shape = [1] * len(weight_shape)
        g_shape[self.out_dim] = out_channels
        self.weight_g = nn.Parameter(torch.ones(g_shape))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.activation = activation
        self.register_buffer("initialized", torch.tensor(False))

    def weight(self) -> Tensor:
        """The effective weight ``g · v / ‖v‖``."""
        dims = [d for d in range(self.weight_v.ndim) if d != self.out_dim]
        norm = self.weight_v.pow(2).sum(dim=dims, keepdim=True).sqrt()
        return self.weight_g * self.weight_v / norm

    def _conv(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def _data_init(self, x: Tensor) -> None:
        self.weight_v.normal_(0.0, _INIT_STD)
        self.weight_g.fill_(1.0)
        self.bias.zero_()
        out = self._conv(x)
        flat = out.transpose(0, 1).reshape(out.shape[1], -1)
        mean, var = flat.mean(dim=1), flat.var(dim=1)
        scale = _INIT_SCALE / torch.sqrt(var + _EPS)
        shape = self.weight_g.shape
        self.weight_g.mul_(scale.reshape(shape))
        self.bias.copy_(-mean * scale)
        self.initialized.fill_(True)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and not bool(self.initialized):
            self._data_init(x)
        out = self._conv(x)
        return F.elu(out) if self.activation else out


class WNConv2d(_WeightNormConv):
    """Weight-normalised ``Conv2d`` with data-dependent init (official ``Conv2d``). ``(B,C_in,H,W) -> (B,C_out,H',W')``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size.
        stride: stride.
        padding: zero padding.
        activation: apply ELU after the convolution (the official default is the identity).
    """

    out_dim = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 0,
        activation: bool = False,
    ) -> None:
        super().__init__((out_channels, in_channels, kernel_size, kernel_size), out_channels, activation)
        self.stride = stride
        self.padding = padding

    def _conv(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight(), self.bias, stride=self.stride, padding=self.padding)


class WNConvTranspose2d(_WeightNormConv):
    """Weight-normalised ``ConvTranspose2d`` (norm over dim 1) with data-dependent init.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size.
        stride: stride.
        padding: padding.
        output_padding: extra size added to one side of the output.
        activation: apply ELU after the convolution.
    """

    out_dim = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        output_padding: int = 0,
        activation: bool = False,
    ) -> None:
        super().__init__((in_channels, out_channels, kernel_size, kernel_size), out_channels, activation)
        self.stride = stride
        self.padding = padding
        self.output_padding = output_padding

    def _conv(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(
            x, self.weight(), self.bias, stride=self.stride, padding=self.padding, output_padding=self.output_padding
        )


class CALayer(nn.Module):
    """Channel attention: ``x · σ(W₂ W₁ avgpool(x))`` with 1×1 convs ``C → C/8 → C`` and *no* activation in between
    (as in the official code). ``(B,C,H,W) -> (B,C,H,W)``.

    Args:
        channels: number of channels ``C``.
        reduction: channel reduction of the bottleneck.
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.conv1 = WNConv2d(channels, hidden, kernel_size=1)
        self.conv2 = WNConv2d(hidden, channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        y = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.conv2(self.conv1(y)))


class DenseNetBlock(nn.Module):
    """``cat[x, Conv3×3(Conv1×1(x))]``: 1×1 ``C → 4g`` then 3×3 ``4g → g``, no activation between them.
    ``(B,C,H,W) -> (B,C+g,H,W)``.

    Args:
        in_channels: ``C``.
        growth_rate: ``g``.
    """

    def __init__(self, in_channels: int, growth_rate: int) -> None:
        super().__init__()
        self.conv1 = WNConv2d(in_channels, 4 * growth_rate, kernel_size=1)
        self.conv2 = WNConv2d(4 * growth_rate, growth_rate, kernel_size=3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.conv2(self.conv1(x))], dim=1)


class DenseNetLayer(nn.Module):
    """``steps × [DenseNetBlock → ELU]`` then :class:`CALayer`. ``(B,C,H,W) -> (B,C+steps·g,H,W)``.

    Args:
        in_channels: ``C``.
        growth_rate: ``g``.
        steps: number of dense blocks.
    """

    def __init__(self, in_channels: int, growth_rate: int, steps: int) -> None:
        super().__init__()
        blocks = []
        for _ in range(steps):
            blocks.append(DenseNetBlock(in_channels, growth_rate))
            in_channels += growth_rate
        self.blocks = nn.ModuleList(blocks)
        self.ca = CALayer(in_channels)
        self.out_channels = in_channels

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = F.elu(block(x))
        return self.ca(x)


class DenselyEncoder(nn.Module):
    """``sf × [DenseNetLayer(g) → Conv3×3 s2 (C → 2C), g ← 2g]`` → DenseNetLayer(g) → Conv1×1.
    ``(B,C_in,H,W) -> (B,C_out,H/2^sf,W/2^sf)``.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        growth_rate: initial growth rate ``g``.
        steps: dense blocks per layer.
        scale_factor: number of stride-2 downsamplings ``sf``.
    """

    def __init__(self, in_channels: int, out_channels: int, growth_rate: int, steps: int, scale_factor: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, g = in_channels, growth_rate
        for _ in range(scale_factor):
            layers.append(DenseNetLayer(c, g, steps))
            c += g * steps
            layers.append(WNConv2d(c, 2 * c, kernel_size=3, stride=2, padding=1))
            c, g = 2 * c, 2 * g
        layers.append(DenseNetLayer(c, g, steps))
        c += g * steps
        layers.append(WNConv2d(c, out_channels, kernel_size=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


class DenselyDecoder(nn.Module):
    """``sf × [DenseNetLayer(g) → ConvT3×3 s2 (C → C/2), g ← g/2]`` → Conv3×3.
    ``(B,C_in,h,w) -> (B,C_out,h·2^sf,w·2^sf)``.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        growth_rate: initial growth rate ``g``.
        steps: dense blocks per layer.
        scale_factor: number of stride-2 upsamplings ``sf``.
    """

    def __init__(self, in_channels: int, out_channels: int, growth_rate: int, steps: int, scale_factor: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, g = in_channels, growth_rate
        for _ in range(scale_factor):
            layers.append(DenseNetLayer(c, g, steps))
            c += g * steps
            layers.append(WNConvTranspose2d(c, c // 2, kernel_size=3, stride=2, padding=1, output_padding=1))
            c, g = c // 2, max(g // 2, 1)
        layers.append(WNConv2d(c, out_channels, kernel_size=3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


class DenselyNetwork(nn.Module):
    """``blocks × DenseNetLayer(g)`` → Conv1×1. ``(B,C_in,H,W) -> (B,C_out,H,W)``.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        growth_rate: growth rate ``g`` (constant).
        steps: dense blocks per layer.
        blocks: number of dense layers.
    """

    def __init__(self, in_channels: int, out_channels: int, growth_rate: int, steps: int, blocks: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(blocks):
            layers.append(DenseNetLayer(c, growth_rate, steps))
            c += growth_rate * steps
        layers.append(WNConv2d(c, out_channels, kernel_size=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


def data_dependent_init(module: nn.Module, *inputs: Tensor) -> None:
    """Initialise every weight-normalised convolution of ``module`` from one batch (one training-mode forward
    under ``no_grad``; the official code's "initialisation batch"). The module's training flag is restored.

    Args:
        module: a model containing :class:`WNConv2d` / :class:`WNConvTranspose2d` layers.
        *inputs: the arguments of ``module(...)`` (e.g. a training batch ``x``).
    """
    was_training = module.training
    module.train()
    with torch.no_grad():
        module(*inputs)
    module.train(was_training)
