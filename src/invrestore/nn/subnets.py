"""Subnets for coupling layers: factories ``(in_channels, out_channels) -> nn.Module``.

A coupling builds its subnets by calling a :data:`SubnetFactory` with the channel counts it needs. Every
subnet here maps ``(B, in, H, W) -> (B, out, H, W)`` and zero-initialises its last layer, so a fresh coupling
is (close to) the identity. Use :func:`subnet_factory` to get a factory by name with keyword overrides::

    factory = subnet_factory("dense", gc=32)      # IRN's DenseBlock
    block = InvBlock(12, split=3, subnet=factory)
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.nn.actnorm import ActNorm

__all__ = [
    "SUBNETS",
    "BottleneckSubnet",
    "DenseBlock",
    "DenseNetSubnet",
    "GlowSubnet",
    "ResNetSubnet",
    "SubnetFactory",
    "ZeroConv2d",
    "subnet_factory",
]

SubnetFactory = Callable[[int, int], nn.Module]


def _zero_(conv: nn.Conv2d) -> None:
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class DenseBlock(nn.Module):
    """IRN's dense subnet ("DBNet", ESRGAN-style 5-conv dense block): ``(B, in, H, W) -> (B, out, H, W)``.

    Paper: Xiao et al., "Invertible Image Rescaling", ECCV 2020 (subnets of the InvBlock); Wang et al.,
    "ESRGAN", 2018.

    ``x_k = LeakyReLU_0.2(conv_k(cat(x, x_1, …, x_{k−1})))`` for ``k = 1..4`` and
    ``out = conv5(cat(x, x_1..x_4))`` (no activation, no residual). All convs are 3×3, stride 1, padding 1,
    with bias; ``conv_k`` has ``in + gc·(k−1)`` input channels and ``gc`` outputs (``out`` for ``conv5``).
    Initialisation (``init: xavier`` in the official configs): conv1–4 ``xavier_normal_ × 0.1`` with zero
    bias, conv5 weights and bias all zero. Parameters:
    ``Σ_{k=0..3} (9·gc·(in + gc·k) + gc) + 9·(in + 4·gc)·out + out``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        gc: growth channels (32 in IRN).
        bias: use biases.
    """

    def __init__(self, in_channels: int, out_channels: int, gc: int = 32, bias: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, gc, 3, 1, 1, bias=bias)
        self.conv2 = nn.Conv2d(in_channels + gc, gc, 3, 1, 1, bias=bias)
        self.conv3 = nn.Conv2d(in_channels + 2 * gc, gc, 3, 1, 1, bias=bias)
        self.conv4 = nn.Conv2d(in_channels + 3 * gc, gc, 3, 1, 1, bias=bias)
        self.conv5 = nn.Conv2d(in_channels + 4 * gc, out_channels, 3, 1, 1, bias=bias)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            nn.init.xavier_normal_(conv.weight)
            with torch.no_grad():
                conv.weight.mul_(0.1)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        _zero_(self.conv5)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        return self.conv5(torch.cat((x, x1, x2, x3, x4), 1))

    # -- fused inference path (opt-in; ``forward`` above is the reference) ---------------------------------------
    def fused_weights(self) -> tuple[list[Tensor], Tensor | None]:
        """The weights of :meth:`forward_fused`, re-sliced from ``conv1..conv5`` (not cached, differentiable).

        ``conv_k(cat(x, x_1, …, x_{k−1})) = Σ_j conv_k|_j(x_j)`` where ``conv_k|_j`` is ``conv_k``'s weight
        restricted to the input channels of ``x_j``. Entry ``j`` (``j = 0`` for ``x``) stacks, along the output
        channels, ``conv_k|_j`` for every ``k > j`` (``k = 1..5``), so one convolution of ``x_j`` produces its
        contributions to all later convolutions. The bias is the stacked biases of ``conv1..conv5`` (added once,
        with the ``j = 0`` convolution), or None without biases.
        """
        convs = (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5)
        cin, gc = self.conv1.in_channels, self.conv1.out_channels
        bounds = [(0, cin)] + [(cin + gc * j, cin + gc * (j + 1)) for j in range(4)]
        weights = [torch.cat([convs[k].weight[:, a:b] for k in range(j, 5)], 0) for j, (a, b) in enumerate(bounds)]
        biases = [c.bias for c in convs]
        bias = None if any(b is None for b in biases) else torch.cat([b for b in biases if b is not None])
        return weights, bias

    def forward_fused(self, x: Tensor) -> Tensor:
        """The same function as :meth:`forward` without concatenations: 5 convolutions with stacked outputs.

        Each dense feature ``x_j`` is convolved once with the stacked weights of :meth:`fused_weights`; its
        contributions are added to the pre-activations of all later convolutions. The
        FLOPs are those of :meth:`forward`; the result differs by float32 summation order only (≈1e-6 relative).
        Outside ``torch.compile`` the stacked weights are cached and rebuilt when any parameter changes (in place
        or replaced, on another device or dtype); under ``torch.compile`` they are rebuilt in the graph (freezing
        folds them into constants). Meant for inference; gradients flow but are not tested for training.
        """
        if torch.compiler.is_compiling():
            weights, bias = self.fused_weights()
        else:
            weights, bias = self._cached_fused_weights(x)
        sizes = [c.out_channels for c in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5)]
        if not torch.is_grad_enabled() and not torch.compiler.is_compiling():
            # eager inference: accumulate each feature's contributions in place into one buffer of all pre-activations
            # (one addition per feature instead of one per later convolution; 1.34 -> 1.09 s for IRN x4 at 512²)
            offs = [0]
            for n in sizes:
                offs.append(offs[-1] + n)
            buf = F.conv2d(x, weights[0], bias, padding=1)
            for j in range(1, 5):
                feat = F.leaky_relu(buf[:, offs[j - 1] : offs[j]], 0.2)
                buf[:, offs[j] :].add_(F.conv2d(feat, weights[j], None, padding=1))
            return buf[:, offs[4] :]
        pre = list(F.conv2d(x, weights[0], bias, padding=1).split(sizes, 1))  # pre-activations of conv1..conv5
        for j in range(1, 5):
            feat = F.leaky_relu(pre[j - 1], 0.2)
            contrib = F.conv2d(feat, weights[j], None, padding=1).split(sizes[j:], 1)
            for k, c in enumerate(contrib, start=j):
                pre[k] = pre[k] + c
        return pre[4]

    def _cached_fused_weights(self, x: Tensor) -> tuple[list[Tensor], Tensor | None]:
        params = [p for c in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5) for p in c.parameters()]
        key = (
            tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params),
            x.is_contiguous(memory_format=torch.channels_last),
            torch.is_grad_enabled(),
        )
        cache = self.__dict__.get("_fused_cache")
        if cache is not None and cache[0] == key:
            return cache[1]
        with torch.no_grad() if not torch.is_grad_enabled() else contextlib.nullcontext():
            weights, bias = self.fused_weights()
            if key[1]:
                weights = [w.contiguous(memory_format=torch.channels_last) for w in weights]
        if not torch.is_grad_enabled():  # never keep a graph alive in the cache
            self.__dict__["_fused_cache"] = (key, (weights, bias))
        return weights, bias


class ZeroConv2d(nn.Module):
    """Zero-initialised convolution with a learned per-channel output scale ``exp(logs · logscale_factor)``.

    Glow's ``Conv2dZeros`` (``logscale_factor = 3``); IRAE's last coupling layer uses ``logscale_factor = 1``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: kernel size.
        padding: zero padding.
        logscale_factor: multiplier of the learned log-scale.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        logscale_factor: float = 3.0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding)
        _zero_(self.conv)
        self.logs = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.logscale_factor = logscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) * torch.exp(self.logs * self.logscale_factor)


class GlowSubnet(nn.Module):
    """Glow's coupling network: 3×3 conv → ActNorm → ReLU → 1×1 conv → ActNorm → ReLU → zero-init 3×3 conv.

    Paper: Kingma & Dhariwal, Glow, NeurIPS 2018, §3.3 (``NN()`` of the affine coupling).
    Shapes: ``(B, in, H, W) -> (B, out, H, W)``. The two hidden convs have no bias (ActNorm follows them). The
    inner ActNorms are data-initialised on the first training-mode forward call.

    ``variant="irae"`` reproduces IRAE's quirk: the 1×1 conv has ``padding=1`` (H, W grow by 2) and the last
    3×3 conv has no padding (bringing H, W back), with ``logscale_factor = 1``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        hidden: hidden width (512 in Glow, 64 in IRAE).
        variant: ``"glow"`` or ``"irae"``.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 512, variant: str = "glow") -> None:
        super().__init__()
        if variant not in ("glow", "irae"):
            raise ValueError(f"unknown GlowSubnet variant {variant!r}; expected 'glow' or 'irae'")
        irae = variant == "irae"
        self.conv1 = nn.Conv2d(in_channels, hidden, 3, padding=1, bias=False)
        self.norm1 = ActNorm(hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, 1, padding=1 if irae else 0, bias=False)
        self.norm2 = ActNorm(hidden)
        self.conv3 = ZeroConv2d(hidden, out_channels, 3, padding=0 if irae else 1, logscale_factor=1.0 if irae else 3.0)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.norm1(self.conv1(x))[0])
        h = F.relu(self.norm2(self.conv2(h))[0])
        return self.conv3(h)


class BottleneckSubnet(nn.Module):
    """ILC's "bottleneck-like" subnet: K×K conv → ReLU → 1×1 conv → ReLU → zero-init K×K conv.

    Paper: Wang et al., "Modeling Lost Information in Lossy Image Compression" (ILC), 2020, Eq. 1 (ψ, φ, ρ,
    η). Shapes: ``(B, in, H, W) -> (B, out, H, W)``; ``padding = K // 2``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        hidden: hidden width (128/256/1024 for ILC's three stages).
        kernel_size: ``K`` (5 for ILC's first stage, 3 after).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 128, kernel_size: int = 3) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(in_channels, hidden, kernel_size, padding=pad)
        self.conv2 = nn.Conv2d(hidden, hidden, 1)
        self.conv3 = nn.Conv2d(hidden, out_channels, kernel_size, padding=pad)
        _zero_(self.conv3)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class ResNetSubnet(nn.Module):
    """RealNVP-style residual subnet: conv → ``n_blocks`` × (ReLU → conv → ReLU → conv, + skip) → ReLU → zero
    conv.

    Paper: Dinh et al., "Density estimation using Real NVP", ICLR 2017 (residual s/t networks). Without batch
    or weight normalisation, so outputs of different samples stay independent. Shapes:
    ``(B, in, H, W) -> (B, out, H, W)``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        hidden: hidden width.
        n_blocks: number of residual blocks.
        kernel_size: kernel size of every conv.
    """

    def __init__(
        self, in_channels: int, out_channels: int, hidden: int = 64, n_blocks: int = 2, kernel_size: int = 3
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv_in = nn.Conv2d(in_channels, hidden, kernel_size, padding=pad)
        self.blocks = nn.Sequential(*[_ResidualBlock(hidden, kernel_size) for _ in range(n_blocks)])
        self.conv_out = nn.Conv2d(hidden, out_channels, kernel_size, padding=pad)
        _zero_(self.conv_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(F.relu(self.blocks(self.conv_in(x))))


class _ChannelAttention(nn.Module):
    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        mid = max(1, channels // reduction)
        self.conv1 = nn.Conv2d(channels, mid, 1)
        self.conv2 = nn.Conv2d(mid, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(self.conv1(F.adaptive_avg_pool2d(x, 1)))
        return x * torch.sigmoid(y)


class DenseNetSubnet(nn.Module):
    """selfVAE/srVAE-style densely connected subnet for RealNVP couplings.

    Paper: Gatopoulos & Tomczak, "Self-Supervised Variational Auto-Encoders", Entropy 2021 (RealNVP prior s/t
    nets). ``steps`` × [1×1 conv (c → 4g) → 3×3 conv (4g → g), concatenated to the input, ELU on the whole
    concatenation], optional channel attention (avg-pool → 1×1 → 1×1 → sigmoid gate), then a zero-init 3×3
    conv to ``out``. Plain convolutions are used (the original's weight normalisation with data-dependent init
    is left out). Shapes: ``(B, in, H, W) -> (B, out, H, W)``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        growth: growth channels ``g`` per step.
        steps: number of dense steps.
        channel_attention: apply the channel-attention gate.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        growth: int = 32,
        steps: int = 4,
        channel_attention: bool = True,
    ) -> None:
        super().__init__()
        self.reduce = nn.ModuleList()
        self.grow = nn.ModuleList()
        c = in_channels
        for _ in range(steps):
            self.reduce.append(nn.Conv2d(c, 4 * growth, 1))
            self.grow.append(nn.Conv2d(4 * growth, growth, 3, padding=1))
            c += growth
        self.attention: nn.Module = _ChannelAttention(c) if channel_attention else nn.Identity()
        self.conv_out = nn.Conv2d(c, out_channels, 3, padding=1)
        _zero_(self.conv_out)

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for reduce, grow in zip(self.reduce, self.grow):
            h = F.elu(torch.cat([h, grow(reduce(h))], dim=1))
        return self.conv_out(self.attention(h))


SUBNETS: dict[str, Callable[..., nn.Module]] = {
    "dense": DenseBlock,
    "glow": GlowSubnet,
    "bottleneck": BottleneckSubnet,
    "resnet": ResNetSubnet,
    "densenet": DenseNetSubnet,
}


def subnet_factory(name: str, **kwargs: Any) -> SubnetFactory:
    """Return a :data:`SubnetFactory` for the named subnet with keyword overrides.

    Args:
        name: one of ``SUBNETS`` (``"dense"``, ``"glow"``, ``"bottleneck"``, ``"resnet"``, ``"densenet"``).
        **kwargs: constructor arguments other than the channel counts (e.g. ``gc=32``, ``hidden=64``).

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
    """
    if name not in SUBNETS:
        raise KeyError(f"unknown subnet {name!r}; known: {sorted(SUBNETS)}")
    return functools.partial(SUBNETS[name], **kwargs)
