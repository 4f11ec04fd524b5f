"""pix2pix generators (UNet-N, En/Decoder-N), InfoAccum, SubPixUpsamp and the 70×70 PatchGAN discriminator.

Papers: Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017 (pix2pix);
"Rethinking Generative Methods for Image Restoration in Physics-based Vision" (UNet-N, InfoAccum-L, SubPixUpsamp,
LSGAN). Documentation: ``docs/generative.md``. Reference code (read, not copied): junyanz's
``pytorch-CycleGAN-and-pix2pix`` ``models/networks.py``.

.. code-block:: none

    UNet-N (recursive; level k has c_k = min(ngf·2^k, 512) channels, k = 0..N-1)

    x (B,C,H,W) ─[InfoAccum-L]─► Conv4×4s2 ─────────────────────────────────► ReLU ConvT4×4s2 Tanh ─► x̂ (B,3,H,W)
                                     │ (B,c0,H/2)                                ▲ cat (B,2c0,H/2)
                                     └─ LReLU Conv4×4s2 BN ─► … innermost … ─► ReLU ConvT BN [Dropout] ┘
                                        (B,c1,H/4)          (B,c_{N-1},H/2^N)

    SubPixUpsamp (top layer only): ReLU ConvT4×4s2(2c0→3) Tanh  →  ReLU Conv3×3(2c0→3·4) PixelShuffle(2) Tanh
    InfoAccum-L: x_l = cat[x_{l-1}, F_l(x_{l-1}), G_l(x_{l-1}), H_l(x_{l-1})], F/G/H = BN ReLU Conv3×3 (dil. 1/3/5)
    PatchGAN D: cat(x_lq, x) (B,6,H,W) ─► C64 ─► C128 ─► C256 ─► C512(s1) ─► Conv(s1) ─► logits (B,1,H/8−2,W/8−2)

The generators work on images in [−1, 1] (``input_range``); :func:`restore` maps [0, 1] images in and out, pads
them to a multiple of ``2^N`` and crops the result back. Module attribute names follow the reference code
(``model.model.1.model.3...``) so that pix2pix ``unet_256``/``basic`` state dicts load into the plain configurations.
The registry entries (``pix2pix-unet-N``, ``pix2pix-patchgan``, ...) are in :mod:`invrestore.models.pix2pix.zoo`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import ConfigError
from invrestore.imageops import pad_to_multiple

__all__ = [
    "EncoderDecoderGenerator",
    "InfoAccum",
    "InfoAccumLayer",
    "PatchDiscriminator",
    "Pix2Pix",
    "UNetBlock",
    "UNetGenerator",
    "count_parameters",
    "init_pix2pix_",
    "level_channels",
    "pad_to_multiple",
    "pix2pix_test_mode",
    "restore",
]

NormFactory = Callable[[int], nn.Module]


def _norm_factory(norm: str) -> tuple[NormFactory, bool]:
    """``(norm layer factory, conv bias)``: convolutions followed by BatchNorm have no bias (pix2pix ``use_bias``)."""
    if norm == "batch":
        return (lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)), False
    if norm == "instance":
        return (lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)), True
    raise ConfigError(f"norm must be 'batch' or 'instance', not {norm!r}")


def level_channels(depth: int, ngf: int = 64, max_channels: int | None = None) -> list[int]:
    """Channels of the N encoder levels, ``c_k = min(ngf·2^k, max_channels)`` for ``k = 0..N-1``
    (``max_channels=None``: pix2pix's cap ``8·ngf``, i.e. 512 at ngf = 64).

    ``level_channels(8) == [64, 128, 256, 512, 512, 512, 512, 512]`` (pix2pix ``unet_256``).
    """
    if depth < 1:
        raise ConfigError(f"depth must be ≥ 1, got {depth}")
    cap = 8 * ngf if max_channels is None else max_channels
    return [min(ngf * 2**k, cap) for k in range(depth)]


def init_pix2pix_(module: nn.Module, gain: float = 0.02, generator: torch.Generator | None = None) -> nn.Module:
    """pix2pix ``init_type='normal'``: conv/linear weights ~ N(0, gain), biases 0; BatchNorm weight ~ N(1, gain),
    bias 0. Modifies ``module`` in place and returns it."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            with torch.no_grad():
                m.weight.normal_(0.0, gain, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            with torch.no_grad():
                m.weight.normal_(1.0, gain, generator=generator)
                m.bias.zero_()
    return module


def _icnr_(conv: nn.Conv2d, r: int) -> None:
    """ICNR init (Aitken et al. 2017): every group of ``r²`` output channels starts equal, so conv + PixelShuffle
    starts as a nearest-neighbour upsampling of one conv (no checkerboard at initialisation)."""
    with torch.no_grad():
        w = conv.weight[:: r * r].clone()
        conv.weight.copy_(w.repeat_interleave(r * r, dim=0))
        if conv.bias is not None:
            conv.bias.copy_(conv.bias[:: r * r].clone().repeat_interleave(r * r))


# -- InfoAccum ----------------------------------------------------------------------------------------------------
class InfoAccumLayer(nn.Module):
    """One dense layer of InfoAccum (paper eq. 14): ``(B,C,H,W) -> (B, C + growth·len(dilations), H, W)``.

    ``x_l = cat[x_{l−1}, F_l(x_{l−1}), G_l(x_{l−1}), H_l(x_{l−1})]`` where each path is BN → ReLU → Conv3×3 with
    dilation ``d`` and padding ``d`` (so the size is kept), ``growth`` output channels, with bias [spec proposal].
    """

    def __init__(
        self, in_channels: int, growth: int = 4, dilations: Sequence[int] = (1, 3, 5), norm: str = "batch"
    ) -> None:
        super().__init__()
        make_norm, _ = _norm_factory(norm)
        self.paths = nn.ModuleList(
            nn.Sequential(
                make_norm(in_channels),
                nn.ReLU(inplace=False),
                nn.Conv2d(in_channels, growth, 3, padding=d, dilation=d, bias=True),
            )
            for d in dilations
        )
        self.out_channels = in_channels + growth * len(dilations)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x] + [p(x) for p in self.paths], dim=1)


class InfoAccum(nn.Module):
    """InfoAccum-L: ``L`` densely connected :class:`InfoAccumLayer` s; ``(B,C,H,W) -> (B, C + L·g·3, H, W)``.

    The input passes through unchanged (it is the first ``C`` output channels), so no information is lost before
    the generator; InfoAccum-15 with growth 4 per path turns 3 channels into ``3 + 15·12 = 183`` (148,950
    parameters).

    Args:
        in_channels: input channels ``C``.
        layers: number of dense layers ``L``.
        growth: channels added per path and layer (the paper only says "small"; 4 is the spec's proposal).
        dilations: dilation of each path (1, 3, 5 in the paper).
        norm: ``"batch"`` or ``"instance"``.
    """

    def __init__(
        self,
        in_channels: int,
        layers: int = 15,
        growth: int = 4,
        dilations: Sequence[int] = (1, 3, 5),
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if layers < 1 or growth < 1:
            raise ConfigError(f"InfoAccum needs layers ≥ 1 and growth ≥ 1, got {layers}, {growth}")
        mods: list[InfoAccumLayer] = []
        c = in_channels
        for _ in range(layers):
            mods.append(InfoAccumLayer(c, growth, dilations, norm))
            c = mods[-1].out_channels
        self.layers = nn.Sequential(*mods)
        self.in_channels = in_channels
        self.out_channels = c

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out


# -- UNet ---------------------------------------------------------------------------------------------------------
class UNetBlock(nn.Module):
    """One level of the pix2pix U-Net (``UnetSkipConnectionBlock``), built recursively around ``submodule``.

    - middle: ``cat([LReLU(x), up(sub(down(x)))])`` with down = LReLU(0.2) → Conv4×4 s2 → norm and
      up = ReLU → ConvT4×4 s2 (``2·inner → outer``) → norm [→ Dropout(0.5)].
    - innermost: no norm on the down path; the up conv takes ``inner`` (not ``2·inner``) channels.
    - outermost: down = Conv4×4 s2 only; up = ReLU → ConvT(``2·inner → outer``, bias) → Tanh, or with
      ``subpix`` ReLU → Conv3×3(``2·inner → outer·4``, bias) → PixelShuffle(2) → Tanh; no skip concatenation.

    ``pre`` (e.g. an :class:`InfoAccum`) runs on the block input before the down path; the skip concatenates the
    *original* input, so the decoder widths do not change.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        dropout: bool = False,
        subpix: bool = False,
        pre: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        make_norm, use_bias = _norm_factory(norm)
        if input_nc is None:
            input_nc = outer_nc
        down_in = int(getattr(pre, "out_channels", input_nc)) if pre is not None else input_nc
        self.pre: nn.Module = pre if pre is not None else nn.Identity()
        downconv = nn.Conv2d(down_in, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        up_in = inner_nc if innermost else 2 * inner_nc
        layers: list[nn.Module]
        if outermost:
            if subpix:
                conv = nn.Conv2d(up_in, outer_nc * 4, kernel_size=3, padding=1, bias=True)
                up: list[nn.Module] = [nn.ReLU(True), conv, nn.PixelShuffle(2), nn.Tanh()]
            else:
                up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, 2, 1), nn.Tanh()]
            layers = [downconv] + ([submodule] if submodule is not None else []) + up
        elif innermost:
            layers = [
                nn.LeakyReLU(0.2),
                downconv,
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer_nc, 4, 2, 1, bias=use_bias),
                make_norm(outer_nc),
            ]
        else:
            assert submodule is not None
            layers = [
                nn.LeakyReLU(0.2),
                downconv,
                make_norm(inner_nc),
                submodule,
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer_nc, 4, 2, 1, bias=use_bias),
                make_norm(outer_nc),
            ]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            out: Tensor = self.model(self.pre(x))
            return out
        # pix2pix's down-path LeakyReLU is in place, so its skip concatenates LReLU(x), not x; we keep that
        # (pretrained pix2pix weights depend on it) but compute it explicitly instead of relying on aliasing.
        return torch.cat([F.leaky_relu(x, 0.2), self.model(self.pre(x))], dim=1)


class UNetGenerator(nn.Module):
    """UNet-N generator, the pix2pix U-Net generalised to any depth: ``(B,C_in,H,W) -> (B,C_out,H,W)`` in [−1,1].

    ``H`` and ``W`` must be multiples of ``2^N`` (see :func:`restore` for arbitrary sizes). ``depth=8`` with the
    defaults is pix2pix's ``unet_256`` (54,413,955 parameters); ``depth=5`` is the paper's UNet-5 (16,659,075).

    Args:
        depth: number of down/up-sampling levels ``N`` (1..8 in the paper; any N ≥ 1 works).
        in_channels, out_channels: image channels.
        ngf: channels of the first level; level k has ``min(ngf·2^k, max_channels)``.
        max_channels: channel cap (``None``: pix2pix's ``8·ngf``, 512 at the default ngf = 64; reduced-width
            generators keep pix2pix's shape).
        norm: ``"batch"`` (pix2pix default) or ``"instance"``.
        dropout: Dropout(0.5) after the up path of each non-innermost, non-outermost level whose input and output
            widths are both ``max_channels`` (pix2pix: 3 levels for N = 8, none for N ≤ 5).
        subpix_top: SubPixUpsamp at the outermost decoder layer (conv 3×3 + PixelShuffle instead of ConvT).
        icnr: ICNR initialisation of the SubPixUpsamp conv (off in the paper's unstated recipe).
        info_accum_layers: InfoAccum-L with ``L`` layers (0 = none).
        info_accum_growth: InfoAccum growth per path.
        info_accum_positions: where InfoAccum modules go: 1 = before the generator (the paper's main choice), k =
            before encoder level k (its Appendix H experiment); each position gets its own module.
        init_gain: std of the pix2pix normal initialisation.
    """

    input_range = (-1.0, 1.0)

    def __init__(
        self,
        depth: int = 8,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        max_channels: int | None = None,
        norm: str = "batch",
        dropout: bool = True,
        subpix_top: bool = False,
        icnr: bool = False,
        info_accum_layers: int = 0,
        info_accum_growth: int = 4,
        info_accum_positions: Sequence[int] = (1,),
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        ch = level_channels(depth, ngf, max_channels)
        cap = 8 * ngf if max_channels is None else max_channels
        positions = set(info_accum_positions) if info_accum_layers > 0 else set()
        if any(p < 1 or p > depth for p in positions):
            raise ConfigError(f"info_accum_positions must lie in 1..{depth}, got {sorted(positions)}")
        self.depth = depth
        self.in_channels, self.out_channels = in_channels, out_channels

        def pre(level: int, c_in: int) -> nn.Module | None:
            if level not in positions:
                return None
            return InfoAccum(c_in, info_accum_layers, info_accum_growth, norm=norm)

        block: UNetBlock | None = None
        for level in range(depth, 1, -1):  # levels N .. 2 (level 1 is the outermost block)
            outer, inner = ch[level - 2], ch[level - 1]
            block = UNetBlock(
                outer,
                inner,
                submodule=block,
                innermost=block is None,
                norm=norm,
                dropout=dropout and block is not None and outer == inner == cap,
                pre=pre(level, outer),
            )
        self.model = UNetBlock(
            out_channels,
            ch[0],
            input_nc=in_channels,
            submodule=block,
            outermost=True,
            innermost=block is None,
            norm=norm,
            subpix=subpix_top,
            pre=pre(1, in_channels),
        )
        init_pix2pix_(self, init_gain)
        if subpix_top and icnr:  # ICNR on top of the normal init
            seq = self.model.model
            shuffle = next(i for i, m in enumerate(seq) if isinstance(m, nn.PixelShuffle))
            conv = seq[shuffle - 1]
            assert isinstance(conv, nn.Conv2d)
            _icnr_(conv, 2)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (``2^N``)."""
        return 2**self.depth

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W) -> (B, C_out, H, W)``, both in [−1, 1]; ``H, W`` multiples of ``2^N``."""
        _check_multiple(x, self.multiple)
        out: Tensor = self.model(x)
        return out


class EncoderDecoderGenerator(nn.Module):
    """En/Decoder-N: the paper's skip-free baseline, ``(B,C_in,H,W) -> (B,C_out,H,W)`` in [−1, 1].

    [paper] 2×2 max-pool down, nearest ×2 up; [spec proposal] per level Conv3×3 → BN → LReLU(0.2) → MaxPool2 on
    the way down and Upsample(nearest) → Conv3×3 → BN → ReLU on the way up, widths as in UNet-N
    (``c_k = min(ngf·2^k, 512)``); the top layer is Upsample → Conv3×3(c_0 → C_out, bias) → Tanh, or with
    ``subpix_top`` Conv3×3(c_0 → 4·C_out) → PixelShuffle(2) → Tanh. The bottleneck is ``(B, c_{N−1}, H/2^N, W/2^N)``.
    """

    input_range = (-1.0, 1.0)

    def __init__(
        self,
        depth: int = 5,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        max_channels: int | None = None,
        norm: str = "batch",
        subpix_top: bool = False,
        info_accum_layers: int = 0,
        info_accum_growth: int = 4,
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        ch = level_channels(depth, ngf, max_channels)
        make_norm, use_bias = _norm_factory(norm)
        self.depth = depth
        self.in_channels, self.out_channels = in_channels, out_channels
        self.info_accum: nn.Module = (
            InfoAccum(in_channels, info_accum_layers, info_accum_growth, norm=norm)
            if info_accum_layers > 0
            else nn.Identity()
        )
        c_prev = int(getattr(self.info_accum, "out_channels", in_channels))
        enc: list[nn.Module] = []
        for c in ch:
            enc += [nn.Conv2d(c_prev, c, 3, padding=1, bias=use_bias), make_norm(c), nn.LeakyReLU(0.2, True)]
            enc.append(nn.MaxPool2d(2))
            c_prev = c
        dec: list[nn.Module] = []
        for k in range(depth - 1, 0, -1):
            dec += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(ch[k], ch[k - 1], 3, padding=1, bias=use_bias),
            ]
            dec += [make_norm(ch[k - 1]), nn.ReLU(True)]
        if subpix_top:
            dec += [nn.Conv2d(ch[0], out_channels * 4, 3, padding=1), nn.PixelShuffle(2), nn.Tanh()]
        else:
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch[0], out_channels, 3, padding=1)]
            dec.append(nn.Tanh())
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)
        init_pix2pix_(self, init_gain)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (``2^N``)."""
        return 2**self.depth

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W) -> (B, C_out, H, W)``, both in [−1, 1]; ``H, W`` multiples of ``2^N``."""
        _check_multiple(x, self.multiple)
        out: Tensor = self.decoder(self.encoder(self.info_accum(x)))
        return out


# -- discriminator ------------------------------------------------------------------------------------------------
class PatchDiscriminator(nn.Module):
    """pix2pix ``basic`` PatchGAN (70×70 receptive field for ``n_layers=3``), conditional on the degraded input.

    ``D(x_lq, x) = net(cat(x_lq, x))``: ``(B,3,H,W), (B,3,H,W) -> logits (B,1,H/8−2,W/8−2)`` (30×30 for 256²; no
    sigmoid). Layers: C64 (4×4 s2, no norm) → C128 s2 → C256 s2 → C512 s1 (with norm, LReLU 0.2) → Conv 1-ch s1.
    2,768,705 parameters with the defaults.
    """

    def __init__(
        self, in_channels: int = 6, ndf: int = 64, n_layers: int = 3, norm: str = "batch", init_gain: float = 0.02
    ) -> None:
        super().__init__()
        make_norm, use_bias = _norm_factory(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=use_bias),
                make_norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        self.in_channels = in_channels
        init_pix2pix_(self, init_gain)

    def forward(self, cond: Tensor, x: Tensor) -> Tensor:
        """Patch logits of the pair: ``(B,C1,H,W), (B,C2,H,W) -> (B,1,h,w)`` with ``C1 + C2 = in_channels``."""
        out: Tensor = self.model(torch.cat([cond, x], dim=1))
        return out


class Pix2Pix(nn.Module):
    """A generator/discriminator pair; ``forward`` is the generator. The loop gives each its own optimiser
    (``"g"`` → ``generator``, ``"d"`` → ``discriminator``, see :mod:`invrestore.models.pix2pix.steps`)."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator

    def forward(self, x_lq: Tensor) -> Tensor:
        out: Tensor = self.generator(x_lq)
        return out

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """The parameters of each named optimiser: ``{"g": G's, "d": D's}``."""
        return {"g": list(self.generator.parameters()), "d": list(self.discriminator.parameters())}


# -- full-image inference -----------------------------------------------------------------------------------------
def _check_multiple(x: Tensor, m: int) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected (B, C, H, W), got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % m or w % m:
        raise ValueError(f"H×W = {h}×{w} is not a multiple of {m}; use restore() or pad_to_multiple() first")


@contextmanager
def pix2pix_test_mode(model: nn.Module, eval_mode: bool = False) -> Iterator[nn.Module]:
    """Inference mode of pix2pix: by default upstream *keeps train mode* at test time (BatchNorm uses the test
    batch's statistics, dropout stays on); ``eval_mode=True`` is its ``--eval`` flag (running statistics, no
    dropout). Gradients are off, the BatchNorm running statistics are restored afterwards (train-mode forwards
    would update them) and the model's previous train/eval mode is restored on exit."""
    was_training = model.training
    saved = {
        name: buf.detach().clone()
        for name, buf in model.named_buffers()
        if name.endswith(("running_mean", "running_var", "num_batches_tracked"))
    }
    model.train(not eval_mode)
    try:
        with torch.no_grad():
            yield model
    finally:
        bufs = dict(model.named_buffers())
        with torch.no_grad():
            for name, val in saved.items():
                bufs[name].copy_(val)
        model.train(was_training)


def restore(
    generator: nn.Module,
    x_lq: Tensor,
    eval_mode: bool = False,
    multiple: int | None = None,
    value_range: tuple[float, float] | None = None,
) -> Tensor:
    """Restore full images of any size: ``(B,C,H,W)`` or ``(C,H,W)`` in [0, 1] -> same shape in [0, 1].

    Maps to [−1, 1], pads (reflect) to a multiple of ``2^N``, runs the generator under :func:`pix2pix_test_mode`
    (``eval_mode=False`` reproduces pix2pix's default train-mode inference), crops back and maps to [0, 1]
    (``x̂ = (G(2x−1) + 1)/2``, not clamped beyond Tanh's range).

    Args:
        generator: a pix2pix generator (with ``multiple``) or any image-to-image module.
        x_lq: degraded image(s) in [0, 1].
        eval_mode: use running BatchNorm statistics and no dropout (pix2pix ``--eval``).
        multiple: padding multiple (default: ``generator.multiple``, else 1).
        value_range: the generator's image range (default: ``generator.input_range``, else pix2pix's (−1, 1)).
    """
    single = x_lq.ndim == 3
    x = x_lq.unsqueeze(0) if single else x_lq
    m = multiple if multiple is not None else int(getattr(generator, "multiple", 1))
    lo, hi = value_range if value_range is not None else getattr(generator, "input_range", (-1.0, 1.0))
    h, w = x.shape[-2:]
    xp = pad_to_multiple(x * (hi - lo) + lo, m)
    with pix2pix_test_mode(generator, eval_mode):
        out = generator(xp)
    out = (out[..., :h, :w] - lo) / (hi - lo)
    return out[0] if single else out


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (all of them trainable here)."""
    return sum(p.numel() for p in module.parameters())
