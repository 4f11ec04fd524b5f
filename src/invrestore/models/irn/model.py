"""The Invertible Rescaling Network (IRN) and its variants.

Paper: Xiao et al., "Invertible Rescaling Network and Its Extensions", IJCV 2022 (ECCV 2020 for IRN).
Official code: ``pkuxmq/Invertible-Image-Rescaling`` (``models/modules/Inv_arch.py``); see ``docs/irn.md``.

.. code-block:: none

    x (B,3,H,W) ──► [Haar ─► InvBlock×K] × log2(s) ──► out (B,3·s²,H/s,W/s) = cat(y, z)
                                                       y = out[:, :3]  the LR image (quantised to 8 bits)
                                                       z = out[:, 3:]  the lost information, ~ N(0, I)
    x̂ = G⁻¹(cat(Quant(y), ẑ)),  ẑ ~ N(0, I)

Variants (registry names): ``irn-x2`` / ``irn-x4`` / ``irn-x8`` (one Haar + 8 InvBlocks per 2× level),
``irn-x3`` (IRN_LD: learnable downsampling + 12 InvBlocks; any integer scale), ``irn-x4e`` (IRN_E: both Haar
levels first, then 16 InvBlocks). The blocks live in ``self.operations`` in the official order, so official
state dicts (``operations.0.haar_weights``, ``operations.1.F.conv1.weight``, ...) load directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from invrestore.errors import CheckpointError, ConfigError, ImageShapeError, ScaleError
from invrestore.models.registry import register_model
from invrestore.nn import DenseBlock, HaarDownsampling, InvBlock, InvertibleSequential, LearnableDownsampling

__all__ = ["IRN", "FractionalIRN", "load_into", "load_official_checkpoint", "quantize_ste", "read_state_dict"]


class _QuantizeSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.round(x.clamp(0, 1) * 255.0) / 255.0

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad


def quantize_ste(x: Tensor) -> Tensor:
    """``round(255·clamp(x, 0, 1)) / 255`` with an identity (straight-through) gradient, also through the clamp.

    This is IRN's ``Quantization`` module: the LR image is stored as 8 bits, and the reconstruction gradient flows
    back into the forward pass unchanged.
    """
    out: Tensor = _QuantizeSTE.apply(x)
    return out


class IRN(nn.Module):
    """Invertible Rescaling Network ``G``: ``(B, C, H, W) -> (B, C·s², H/s, W/s)`` and back.

    Args:
        scale: the integer downscaling factor ``s``.
        blocks: InvBlocks per level (a list, one entry per 2× Haar level) or one number for the single level of
            IRN_LD / IRN_E.
        downsampling: ``"haar"`` (one Haar transform per 2× level; ``s`` must be a power of two) or
            ``"learnable"`` (IRN_LD: one learnable ``s²×s²`` transform, then all blocks).
        down_first: IRN_E: all Haar levels first, then ``blocks`` InvBlocks on ``C·s²`` channels.
        in_channels: image channels (3).
        clamp: InvBlock scale clamp (1.0 in the official code).
        gc: dense-block growth channels (32).
        memory_efficient: recompute activations by inversion in backward instead of storing them.
    """

    def __init__(
        self,
        scale: int = 4,
        blocks: Sequence[int] | int = (8, 8),
        downsampling: Literal["haar", "learnable"] = "haar",
        down_first: bool = False,
        in_channels: int = 3,
        clamp: float = 1.0,
        gc: int = 32,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(scale, bool) or int(scale) != scale or scale < 2:
            raise ScaleError(f"scale={scale!r} is not supported; IRN needs an integer scale >= 2")
        self.scale = int(scale)
        self.in_channels = in_channels
        self.split = in_channels

        def block(c: int) -> InvBlock:
            return InvBlock(c, split=in_channels, subnet=lambda i, o: DenseBlock(i, o, gc=gc), clamp=clamp)

        ops: list[nn.Module] = []
        if downsampling == "learnable":
            n = blocks if isinstance(blocks, int) else sum(blocks)
            ops.append(LearnableDownsampling(in_channels, self.scale))
            c = in_channels * self.scale**2
            ops += [block(c) for _ in range(n)]
        elif downsampling == "haar":
            levels = round(math.log2(self.scale))
            if 2**levels != self.scale:
                raise ScaleError(f"Haar IRN needs a power-of-two scale, got {scale}; use downsampling='learnable'")
            c = in_channels
            if down_first:
                n = blocks if isinstance(blocks, int) else sum(blocks)
                for _ in range(levels):
                    ops.append(HaarDownsampling(c))
                    c *= 4
                ops += [block(c) for _ in range(n)]
            else:
                per_level = [blocks] * levels if isinstance(blocks, int) else list(blocks)
                if len(per_level) != levels:
                    raise ConfigError(
                        f"blocks={list(per_level)} does not fit scale {scale}: it has {levels} Haar levels, so give "
                        f"{levels} numbers (one per level) or one number"
                    )
                for n in per_level:
                    ops.append(HaarDownsampling(c))
                    c *= 4
                    ops += [block(c) for _ in range(n)]
        else:
            raise ConfigError(f"downsampling={downsampling!r} is unknown; allowed: haar, learnable")
        self.out_channels = c
        self.operations = InvertibleSequential(*ops, memory_efficient=memory_efficient)  # type: ignore[arg-type]

    # -- the bijection -------------------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, C, H, W) -> (cat(y, z) (B, C·s², H/s, W/s), logdet (B,))``; H and W must be multiples of s."""
        self._check_hr(x)
        out, logdet = self.operations(x)
        return out, logdet

    def inverse(self, out: Tensor) -> tuple[Tensor, Tensor]:
        """``cat(y, z) (B, C·s², h, w) -> (x (B, C, h·s, w·s), logdet (B,))``."""
        if out.ndim != 4 or out.shape[1] != self.out_channels:
            raise ImageShapeError(f"expected (B, {self.out_channels}, h, w), got {tuple(out.shape)}")
        x, logdet = self.operations.inverse(out)
        return x, logdet

    def _check_hr(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ImageShapeError(f"expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.scale or w % self.scale:
            raise ScaleError(f"H×W = {h}×{w} is not a multiple of the scale {self.scale}; pad or crop first")

    # -- convenience for users --------------------------------------------------------------------------------
    def z_shape(self, y: Tensor) -> tuple[int, int, int, int]:
        """The shape of ``z`` that goes with an LR image ``y`` ``(B, C, h, w)``."""
        return (y.shape[0], self.out_channels - self.in_channels, y.shape[-2], y.shape[-1])

    def downscale(self, x: Tensor, quantize: bool = True) -> tuple[Tensor, Tensor]:
        """``x (B,C,H,W) -> (y, z)``: the LR image (8-bit quantised unless ``quantize=False``) and the latent."""
        out, _ = self(x)
        y, z = out[:, : self.in_channels], out[:, self.in_channels :]
        return (quantize_ste(y) if quantize else y), z

    def upscale(
        self,
        y: Tensor,
        z: Tensor | None = None,
        *,
        z_mode: Literal["random", "zero"] = "random",
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``y (B,C,h,w) -> x̂ (B,C,h·s,w·s)``. Without ``z``, draws ``temperature · N(0, I)`` (or zeros)."""
        if z is None:
            shape = self.z_shape(y)
            if z_mode == "zero":
                z = y.new_zeros(shape)
            else:
                z = temperature * torch.randn(shape, generator=generator, device=y.device, dtype=y.dtype)
        x, _ = self.inverse(torch.cat([y, z], dim=1))
        return x


class FractionalIRN(nn.Module):
    """IRN at a fractional scale ``s₁`` (paper §3.3.2): bicubic pre/post-resizing around ``s₂ = ⌈s₁⌉``.

    Downscaling resizes the HR image by ``s₂/s₁`` (MATLAB bicubic) and applies IRN ×s₂; upscaling applies
    IRN⁻¹ and resizes by ``s₁/s₂``. The result is not exactly invertible (the resizes are not).
    """

    def __init__(self, irn: IRN, scale: float) -> None:
        super().__init__()
        if not 1 < scale <= irn.scale or math.ceil(scale) != irn.scale:
            raise ScaleError(f"a ×{irn.scale} IRN serves scales in ({irn.scale - 1}, {irn.scale}], not {scale}")
        self.irn = irn
        self.scale = float(scale)

    def downscale(self, x: Tensor) -> tuple[Tensor, Tensor]:
        from invrestore.degradations.imresize import imresize

        s2 = self.irn.scale
        h, w = x.shape[-2:]
        lh, lw = round(h / self.scale), round(w / self.scale)
        up = imresize(x, size=(lh * s2, lw * s2))
        return self.irn.downscale(up.clamp(0, 1))

    def upscale(self, y: Tensor, size: tuple[int, int], **kwargs: Any) -> Tensor:
        from invrestore.degradations.imresize import imresize

        x = self.irn.upscale(y, **kwargs)
        return imresize(x, size=size)


# -- registry -------------------------------------------------------------------------------------------------------
register_model(
    "irn-x2",
    IRN,
    family="irn",
    trainer="irn",
    kwargs={"scale": 2, "blocks": [8]},
    params=1_668_000,
    description="IRN ×2: Haar + 8 InvBlocks",
    pretrained="irn-x2.safetensors",
)
register_model(  # the same architecture with other shipped weights
    "irn-x2-noise",
    IRN,
    family="irn",
    trainer="irn",
    kwargs={"scale": 2, "blocks": [8]},
    params=1_668_000,
    description="IRN ×2 noise-fine-tuned for lossy LR coding (the G crm-q90 trained behind)",
    pretrained="irn-x2-noise.safetensors",
)
register_model(
    "irn-x4",
    IRN,
    family="irn",
    trainer="irn",
    kwargs={"scale": 4, "blocks": [8, 8]},
    params=4_355_376,
    description="IRN ×4: 2×(Haar + 8 InvBlocks)",
    pretrained="irn-x4.safetensors",
)
register_model(
    "irn-x8",
    IRN,
    family="irn",
    trainer="irn",
    kwargs={"scale": 8, "blocks": [8, 8, 8]},
    params=11_120_256,
    description="IRN ×8: 3×(Haar + 8 InvBlocks)",
)
register_model(
    "irn-x3",
    IRN,
    family="irn",
    trainer="irn",
    kwargs={"scale": 3, "blocks": 12, "downsampling": "learnable"},
    params=3_139_029,
    description="IRN_LD ×3: learnable downsampling + 12 InvBlocks",
)
register_model(
    "irn-x4e",
    IRN,
    family="irn",
    trainer="irn",
    kwargs={"scale": 4, "blocks": 16, "down_first": True},
    params=5_374_608,
    description="IRN_E ×4: 2 Haar levels first, then 16 InvBlocks",
)


# -- official checkpoints -----------------------------------------------------------------------------------------
_WRAPPER_KEYS = ("state_dict", "params", "params_ema", "model", "netG", "network_G", "G")


def _unwrap_state_dict(obj: Any) -> dict[str, Tensor]:
    if isinstance(obj, dict) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        sd = dict(obj)
    elif isinstance(obj, dict):
        for k in _WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], dict):
                return _unwrap_state_dict(obj[k])
        raise CheckpointError(
            f"the checkpoint holds no state dict (top-level keys: {', '.join(map(str, list(obj)[:8]))})"
        )
    else:
        raise CheckpointError(f"the checkpoint holds a {type(obj).__name__}, not a state dict")
    for prefix in ("module.", "netG.", "model."):
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    return sd


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The state dict in an official IRN release file (``IRN_x4.pth`` etc.) or one of our safetensors files.

    Accepts a plain state dict, a ``module.``-prefixed one (DataParallel), or a dict wrapping it under
    ``state_dict``/``params``/``model``/...

    Raises:
        CheckpointError: unreadable file, or no state dict in it.
    """
    from invrestore.train.checkpoint import load_weights

    path = Path(path)
    if path.suffix == ".safetensors":
        return load_weights(path)
    return _unwrap_state_dict(load_weights(path))  # torch.load(weights_only=True), one-line errors


def load_official_checkpoint(path: str | Path, name: str = "irn-x4", strict: bool = True) -> Any:
    """Build ``name`` and load an official IRN release file or one of ours (see :func:`read_state_dict`).

    Raises:
        CheckpointError: unreadable file, or keys/shapes that do not match ``name`` (the message lists them).
    """
    from invrestore.models.registry import create_model

    model = create_model(name)
    if not hasattr(model, "operations"):
        raise CheckpointError(f"'{name}' is not an IRN model")
    load_into(model, read_state_dict(path), source=str(path), strict=strict)
    return model


def load_into(model: nn.Module, sd: dict[str, Tensor], source: str = "checkpoint", strict: bool = True) -> None:
    """``model.load_state_dict(sd)`` with an error that names missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k} {tuple(sd[k].shape)}≠{tuple(own[k].shape)}" for k in own if k in sd and sd[k].shape != own[k].shape]
    if shapes or (strict and (missing or unexpected)):

        def few(xs: list[str]) -> str:
            return ", ".join(xs[:4]) + (f" (+{len(xs) - 4} more)" if len(xs) > 4 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {few(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {few(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches: {few(shapes)}")
        raise CheckpointError(
            f"{source} does not match {type(model).__name__} ({'; '.join(parts)}); is it for another model/scale?"
        )
    model.load_state_dict(sd, strict=strict)
