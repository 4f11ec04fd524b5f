"""Coupling layers: additive and affine couplings (NICE/RealNVP/Glow) and IRN's ``InvBlock``.

A coupling splits its input into an *identity* part ``x_id`` that passes through unchanged and conditions a
subnet, and a *transformed* part ``x_tr``::

    additive:  y_tr = x_tr + t(x_id)
    affine:    y_tr = x_tr · exp(log_s) + t,   log_s = scale_fn(raw_s, clamp),   (raw_s, t) = subnet(x_id)

Masks: ``"channel"`` splits the channels at ``split`` (default ``C // 2``); ``"checkerboard"`` (RealNVP) uses
the spatial mask ``b(i, j) = (i + j) mod 2`` (top-left 0): entries with ``b = 1`` condition, entries with
``b = 0`` are transformed, and the subnet sees ``x · b`` (all channels). ``reverse=True`` swaps the roles of
the two parts.

If the coupling was built with ``cond_channels > 0``, ``cond`` (same ``H, W``) is concatenated to the subnet
input; with ``cond_channels = 0`` a given ``cond`` is ignored (so conditional and unconditional blocks can
share one chain).

Scale functions (``SCALE_FUNCTIONS``; each maps the raw subnet output ``h`` to ``log_s``):

- ``"irn"``: ``clamp · (2σ(h) − 1)`` (IRN; ``= clamp · tanh(h/2)``),
- ``"glow"``: ``log σ(h + 2)`` (Glow; the scale is ``σ(h + 2) ∈ (0, 1)``; ``clamp`` unused),
- ``"atan"``: ``clamp · (2/π) · atan(h / clamp)`` (soft clamp),
- ``"tanh"``: ``clamp · tanh(h / clamp)``,
- ``"exp"``: ``h`` (no clamp).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from invrestore.nn.base import InvertibleModule, ReconstructedGrad, add_grads, vjp
from invrestore.nn.subnets import DenseBlock, SubnetFactory, subnet_factory

__all__ = [
    "SCALE_FUNCTIONS",
    "AdditiveCoupling",
    "AffineCoupling",
    "InvBlock",
    "ScaleFunction",
    "checkerboard_mask",
]

ScaleFunction = Callable[[Tensor, float], Tensor]
MaskType = Literal["channel", "checkerboard"]


def _scale_irn(h: Tensor, clamp: float) -> Tensor:
    return clamp * (torch.sigmoid(h) * 2 - 1)


def _scale_glow(h: Tensor, clamp: float) -> Tensor:
    return F.logsigmoid(h + 2.0)


def _scale_atan(h: Tensor, clamp: float) -> Tensor:
    return clamp * (2.0 / math.pi) * torch.atan(h / clamp)


def _scale_tanh(h: Tensor, clamp: float) -> Tensor:
    return clamp * torch.tanh(h / clamp)


def _scale_exp(h: Tensor, clamp: float) -> Tensor:
    return h


SCALE_FUNCTIONS: dict[str, ScaleFunction] = {
    "irn": _scale_irn,
    "glow": _scale_glow,
    "atan": _scale_atan,
    "tanh": _scale_tanh,
    "exp": _scale_exp,
}


def _resolve_scale_fn(scale_fn: str | ScaleFunction) -> ScaleFunction:
    if callable(scale_fn):
        return scale_fn
    if scale_fn not in SCALE_FUNCTIONS:
        raise ValueError(f"unknown scale function {scale_fn!r}; known: {sorted(SCALE_FUNCTIONS)}")
    return SCALE_FUNCTIONS[scale_fn]


def checkerboard_mask(height: int, width: int, reverse: bool = False, like: Tensor | None = None) -> Tensor:
    """RealNVP checkerboard mask ``b(i, j) = (i + j) mod 2`` (``1 − b`` if ``reverse``), shape
    ``(1, 1, H, W)``.

    Args:
        height: ``H``.
        width: ``W``.
        reverse: return ``1 − b``.
        like: tensor whose dtype and device the mask takes (float32 on CPU if None).
    """
    dtype = like.dtype if like is not None else torch.float32
    device = like.device if like is not None else None
    i = torch.arange(height, device=device).view(-1, 1)
    j = torch.arange(width, device=device).view(1, -1)
    b = ((i + j) % 2 == (0 if reverse else 1)).to(dtype)
    return b.view(1, 1, height, width)


def _cat_cond(h: Tensor, cond: Tensor | None, cond_channels: int) -> Tensor:
    if cond_channels == 0:  # an unconditional block ignores cond, like every block that does not use it
        return h
    if cond is None:
        raise ValueError(f"this block was built with cond_channels={cond_channels} and needs cond")
    if cond.shape[1] != cond_channels:
        raise ValueError(f"expected cond with {cond_channels} channels, got {cond.shape[1]}")
    return torch.cat([h, cond], dim=1)


class _Coupling(InvertibleModule):
    """Shared machinery of :class:`AdditiveCoupling` and :class:`AffineCoupling`."""

    def __init__(
        self,
        channels: int,
        subnet: SubnetFactory,
        outputs_per_channel: int,
        mask: MaskType,
        split: int | None,
        reverse: bool,
        cond_channels: int,
    ) -> None:
        super().__init__()
        if mask not in ("channel", "checkerboard"):
            raise ValueError(f"unknown mask {mask!r}; expected 'channel' or 'checkerboard'")
        self.channels = channels
        self.mask = mask
        self.reverse = reverse
        self.cond_channels = cond_channels
        if mask == "channel":
            self.split = channels // 2 if split is None else split
            if not 0 < self.split < channels:
                raise ValueError(f"split must be in (0, {channels}), got {self.split}")
            first, second = self.split, channels - self.split
            id_ch, tr_ch = (second, first) if reverse else (first, second)
        else:
            self.split = channels
            id_ch = tr_ch = channels
        self.transformed_channels = tr_ch
        self.subnet = subnet(id_ch + cond_channels, outputs_per_channel * tr_ch)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, mask={self.mask!r}, split={self.split}, reverse={self.reverse}"

    # -- splitting -------------------------------------------------------------------------------------------
    def _mask(self, x: Tensor) -> Tensor:
        return checkerboard_mask(x.shape[2], x.shape[3], self.reverse, like=x)

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.mask == "checkerboard":
            return x * self._mask(x), x
        first, second = x[:, : self.split], x[:, self.split :]
        return (second, first) if self.reverse else (first, second)

    def _merge(self, x_id: Tensor, x_tr: Tensor) -> Tensor:
        if self.mask == "checkerboard":
            return x_id + (1 - self._mask(x_tr)) * x_tr
        return torch.cat([x_tr, x_id] if self.reverse else [x_id, x_tr], dim=1)

    def _split_adjoint(self, g_id: Tensor, g_tr: Tensor) -> Tensor:
        if self.mask == "checkerboard":
            return g_id * self._mask(g_tr) + g_tr
        return torch.cat([g_tr, g_id] if self.reverse else [g_id, g_tr], dim=1)

    def _masked_sum(self, log_s: Tensor | None, like: Tensor) -> Tensor:
        if log_s is None:
            return like.new_zeros(like.shape[0])
        if self.mask == "checkerboard":
            log_s = log_s * (1 - self._mask(log_s))
        return log_s.sum(dim=(1, 2, 3))

    # -- to be provided by subclasses ------------------------------------------------------------------------
    def _coefficients(self, x_id: Tensor, cond: Tensor | None) -> tuple[Tensor | None, Tensor]:
        raise NotImplementedError

    @staticmethod
    def _transform(x_tr: Tensor, log_s: Tensor | None, t: Tensor) -> Tensor:
        return x_tr + t if log_s is None else x_tr * torch.exp(log_s) + t

    @staticmethod
    def _untransform(y_tr: Tensor, log_s: Tensor | None, t: Tensor) -> Tensor:
        return y_tr - t if log_s is None else (y_tr - t) * torch.exp(-log_s)

    # -- contract --------------------------------------------------------------------------------------------
    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x_id, x_tr = self._split(x)
        log_s, t = self._coefficients(x_id, cond)
        y = self._merge(x_id, self._transform(x_tr, log_s, t))
        return y, self._masked_sum(log_s, x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y_id, y_tr = self._split(y)
        log_s, t = self._coefficients(y_id, cond)
        x = self._merge(y_id, self._untransform(y_tr, log_s, t))
        return x, -self._masked_sum(log_s, y)

    def backward_from_output(
        self,
        y: Tensor,
        grad_y: Tensor,
        grad_logdet: Tensor,
        cond: Tensor | None,
        wrt: Sequence[Tensor],
    ) -> ReconstructedGrad:
        # The identity part is the same in x and y, so the subnet runs once (with a graph) on it; the
        # transformed part is inverted without a graph and re-transformed with one.
        y_id, y_tr = self._split(y.detach())
        u = y_id.detach().requires_grad_(True)
        with torch.enable_grad():
            log_s, t = self._coefficients(u, cond)
        with torch.no_grad():
            x_tr = self._untransform(y_tr, log_s, t)
        v = x_tr.detach().requires_grad_(True)
        with torch.enable_grad():
            y_re = self._merge(u, self._transform(v, log_s, t))
            logdet = self._masked_sum(log_s, y)
        grads = vjp([y_re, logdet], [u, v, *wrt], [grad_y, grad_logdet])
        g_u = grads[0] if grads[0] is not None else torch.zeros_like(u)
        g_v = grads[1] if grads[1] is not None else torch.zeros_like(v)
        x = self._merge(y_id, x_tr)
        return ReconstructedGrad(x.detach(), self._split_adjoint(g_u, g_v), grads[2:])


class AdditiveCoupling(_Coupling):
    """Additive coupling (NICE): ``y_tr = x_tr + t(x_id)``, ``logdet = 0``. Shapes: ``(B, C, H, W)`` both
    ways.

    Paper: Dinh et al., "NICE: Non-linear Independent Components Estimation", ICLR 2015 workshop.
    The subnet is ``subnet(n_id + cond_channels, n_tr)``, stored as ``subnet``. See the module docstring for
    masks.

    Args:
        channels: number of channels ``C``.
        subnet: factory ``(in, out) -> nn.Module``.
        mask: ``"channel"`` or ``"checkerboard"``.
        split: channel split point for the channel mask (default ``C // 2``).
        reverse: swap which part conditions and which is transformed.
        cond_channels: channels of the optional ``cond`` concatenated to the subnet input.
    """

    def __init__(
        self,
        channels: int,
        subnet: SubnetFactory | None = None,
        mask: MaskType = "channel",
        split: int | None = None,
        reverse: bool = False,
        cond_channels: int = 0,
    ) -> None:
        super().__init__(channels, subnet or subnet_factory("glow"), 1, mask, split, reverse, cond_channels)

    def _coefficients(self, x_id: Tensor, cond: Tensor | None) -> tuple[Tensor | None, Tensor]:
        return None, self.subnet(_cat_cond(x_id, cond, self.cond_channels))


class AffineCoupling(_Coupling):
    """Affine coupling (RealNVP/Glow): ``y_tr = x_tr · exp(log_s) + t``. Shapes: ``(B, C, H, W)`` both ways.

    Papers: Dinh et al., "Density estimation using Real NVP", ICLR 2017; Kingma & Dhariwal, "Glow",
    NeurIPS 2018.

    ``h = subnet(x_id [, cond])`` has ``2·n_tr`` channels. ``layout="interleaved"`` (Glow/IRAE):
    ``t = h[:, 0::2]``, ``raw_s = h[:, 1::2]``; ``layout="halves"``: ``raw_s = h[:, :n_tr]``,
    ``t = h[:, n_tr:]``. ``log_s = scale_fn(raw_s, clamp)``; ``logdet = Σ log_s`` over transformed entries.
    Inverse: ``x_tr = (y_tr − t) · exp(−log_s)``.

    Args:
        channels: number of channels ``C``.
        subnet: factory ``(in, out) -> nn.Module`` (default: Glow's 3-layer CNN, width 512).
        scale_fn: name in ``SCALE_FUNCTIONS`` or a callable ``(h, clamp) -> log_s``.
        clamp: clamp value passed to the scale function.
        mask: ``"channel"`` or ``"checkerboard"``.
        split: channel split point for the channel mask (default ``C // 2``).
        reverse: swap which part conditions and which is transformed.
        layout: how the subnet output is split into ``(raw_s, t)``.
        cond_channels: channels of the optional ``cond`` concatenated to the subnet input.
    """

    def __init__(
        self,
        channels: int,
        subnet: SubnetFactory | None = None,
        scale_fn: str | ScaleFunction = "atan",
        clamp: float = 2.0,
        mask: MaskType = "channel",
        split: int | None = None,
        reverse: bool = False,
        layout: Literal["interleaved", "halves"] = "interleaved",
        cond_channels: int = 0,
    ) -> None:
        super().__init__(channels, subnet or subnet_factory("glow"), 2, mask, split, reverse, cond_channels)
        if layout not in ("interleaved", "halves"):
            raise ValueError(f"unknown layout {layout!r}; expected 'interleaved' or 'halves'")
        self.scale_fn = _resolve_scale_fn(scale_fn)
        self.scale_fn_name = scale_fn if isinstance(scale_fn, str) else getattr(scale_fn, "__name__", "custom")
        self.clamp = clamp
        self.layout = layout

    def extra_repr(self) -> str:
        extra = f"scale_fn={self.scale_fn_name!r}, clamp={self.clamp}, layout={self.layout!r}"
        return f"{super().extra_repr()}, {extra}"

    def _coefficients(self, x_id: Tensor, cond: Tensor | None) -> tuple[Tensor | None, Tensor]:
        h = self.subnet(_cat_cond(x_id, cond, self.cond_channels))
        if self.layout == "interleaved":
            t, raw = h[:, 0::2], h[:, 1::2]
        else:
            n = h.shape[1] // 2
            raw, t = h[:, :n], h[:, n:]
        return self.scale_fn(raw, self.clamp), t


class InvBlock(InvertibleModule):
    """IRN's invertible block (``InvBlockExp``): an additive then an affine coupling. ``(B, C, H, W)`` both
    ways.

    Paper: Xiao et al., "Invertible Image Rescaling", ECCV 2020, Eq. 4–5 (and the official ``InvBlockExp``).

    With ``x1 = x[:, :split]`` (the low-frequency/"LR" part) and ``x2 = x[:, split:]``::

        y1 = x1 + F(x2)
        s  = clamp · (2·σ(H(y1)) − 1)          (scale_fn="irn"; any SCALE_FUNCTIONS entry may be chosen)
        y2 = x2 · exp(s) + G(y1)
        y  = cat(y1, y2),   logdet = Σ s  (per sample)

    Inverse: ``s`` from ``y1``; ``x2 = (y2 − G(y1)) / exp(s)``; ``x1 = y1 − F(x2)``.
    Subnets: ``F = subnet(C − split → split)``, ``G = H = subnet(split → C − split)``, built in that order and
    stored as attributes ``F``, ``G``, ``H`` (the official state_dict names). With IRN's :class:`DenseBlock`
    (gc 32) the block has 208,494 / 335,898 / 845,514 / 261,579 parameters for ``C`` = 12 / 48 / 192 / 27
    (split 3) and 176,699 for ``C = 3``, split 1. ``cond`` (if ``cond_channels > 0``) is concatenated to the
    input of every subnet.

    Args:
        channels: number of channels ``C``.
        split: number of channels in ``x1`` (3 in IRN, 1 in IRN_color).
        subnet: factory ``(in, out) -> nn.Module`` (default :class:`DenseBlock`).
        clamp: the clamp ``α`` (1.0 in IRN).
        scale_fn: name in ``SCALE_FUNCTIONS`` or a callable ``(h, clamp) -> s``.
        cond_channels: channels of the optional ``cond``.
    """

    def __init__(
        self,
        channels: int,
        split: int = 3,
        subnet: SubnetFactory | None = None,
        clamp: float = 1.0,
        scale_fn: str | ScaleFunction = "irn",
        cond_channels: int = 0,
    ) -> None:
        super().__init__()
        if not 0 < split < channels:
            raise ValueError(f"split must be in (0, {channels}), got {split}")
        factory: SubnetFactory = subnet or DenseBlock
        self.channels = channels
        self.split_len1 = split
        self.split_len2 = channels - split
        self.clamp = clamp
        self.cond_channels = cond_channels
        self.scale_fn = _resolve_scale_fn(scale_fn)
        self.F = factory(self.split_len2 + cond_channels, self.split_len1)
        self.G = factory(self.split_len1 + cond_channels, self.split_len2)
        self.H = factory(self.split_len1 + cond_channels, self.split_len2)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, split={self.split_len1}, clamp={self.clamp}"

    def _c(self, h: Tensor, cond: Tensor | None) -> Tensor:
        return _cat_cond(h, cond, self.cond_channels)

    def _s(self, y1: Tensor, cond: Tensor | None) -> Tensor:
        return self.scale_fn(self.H(self._c(y1, cond)), self.clamp)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x1, x2 = x[:, : self.split_len1], x[:, self.split_len1 :]
        y1 = x1 + self.F(self._c(x2, cond))
        s = self._s(y1, cond)
        y2 = x2 * torch.exp(s) + self.G(self._c(y1, cond))
        return torch.cat((y1, y2), 1), s.sum(dim=(1, 2, 3))

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y1, y2 = y[:, : self.split_len1], y[:, self.split_len1 :]
        s = self._s(y1, cond)
        x2 = (y2 - self.G(self._c(y1, cond))) / torch.exp(s)
        x1 = y1 - self.F(self._c(x2, cond))
        return torch.cat((x1, x2), 1), -s.sum(dim=(1, 2, 3))

    def backward_from_output(
        self,
        y: Tensor,
        grad_y: Tensor,
        grad_logdet: Tensor,
        cond: Tensor | None,
        wrt: Sequence[Tensor],
    ) -> ReconstructedGrad:
        # Each subnet runs exactly once with a graph: H and G on y1 (which the forward also used), F on the
        # reconstructed x2. Stage 1 back-propagates the affine half, stage 2 the additive half.
        n1 = self.split_len1
        y = y.detach()
        y1, y2 = y[:, :n1], y[:, n1:]
        g_y1, g_y2 = grad_y[:, :n1], grad_y[:, n1:]
        u = y1.detach().requires_grad_(True)
        with torch.enable_grad():
            s = self._s(u, cond)
            g = self.G(self._c(u, cond))
        with torch.no_grad():
            x2 = (y2 - g) / torch.exp(s)
        v = x2.detach().requires_grad_(True)
        with torch.enable_grad():
            y2_re = v * torch.exp(s) + g
            logdet = s.sum(dim=(1, 2, 3))
        grads1 = vjp([y2_re, logdet], [u, v, *wrt], [g_y2, grad_logdet])
        grad_y1_total = g_y1 if grads1[0] is None else g_y1 + grads1[0]
        with torch.enable_grad():
            f = self.F(self._c(v, cond))
        grads2 = vjp([f], [v, *wrt], [grad_y1_total])
        with torch.no_grad():
            x1 = y1 - f
        grad_x2 = add_grads((grads1[1],), (grads2[0],))[0]
        if grad_x2 is None:
            grad_x2 = torch.zeros_like(x2)
        x = torch.cat((x1.detach(), x2), 1)
        grad_x = torch.cat((grad_y1_total, grad_x2), 1)
        return ReconstructedGrad(x, grad_x, add_grads(grads1[2:], grads2[1:]))
