"""Factorized entropy model ("EntropyBottleneck"): a learned, per-channel density for quantized latents.

Ballé, Minnen, Singh, Hwang & Johnston, "Variational image compression with a scale hyperprior" (ICLR 2018),
Appendix 6.1. For each channel ``c`` the cumulative density is a small monotone network
``F_c = σ ∘ f_K ∘ … ∘ f_1`` on scalars, with layers

    f_k(x) = g_k(H_k x + b_k),   g_k(x) = x + tanh(a_k) ⊙ tanh(x)   (k < K),   f_K(x) = H_K x + b_K,

``H_k = softplus(Ĥ_k)`` (positive, so ``F_c`` is increasing), widths ``1 → filters → 1``. The probability of a
quantized value is the mass of its unit bin, ``p(ŷ) = F(ŷ + ½) − F(ŷ − ½)``, lower-bounded by
``likelihood_bound``.

Quantization (one quantizer shared by training evaluation and coding, so estimated and real rates agree):

- ``"noise"`` (training): ``ỹ = y + u``, ``u ~ U(−½, ½)``;
- ``"dequantize"`` (evaluation): ``ŷ = round(y − m) + m`` with the channel median ``m`` (detached);
- ``"symbols"`` (coding): ``s = round(y − m)`` as integers;
- :meth:`EntropyBottleneck.quantize_ste`: the ``"dequantize"`` values with an identity gradient (for
  distortion losses that must see the decoder's latent, as in ILC).

Coding tables: :meth:`EntropyBottleneck.update` first finds the quantiles ``F⁻¹(τ/2)``, the median and
``F⁻¹(1 − τ/2)`` of every channel by bisection (``τ = tail_mass``), so correctness never depends on the auxiliary
loss having converged, then tabulates ``p`` on ``[m − ⌈m − q_lo⌉, m + ⌈q_hi − m⌉]`` plus one escape bin holding
both tails, and quantizes it to a 16-bit integer CDF (:func:`~invrestore.entropy.coder.pmf_to_quantized_cdf`).
The tables are buffers (``quantized_cdf``, ``cdf_length``, ``offset``), so they travel in checkpoints; loading a
state dict with tables of another size resizes them. Coding uses only these integers
(:class:`~invrestore.entropy.coder.SymbolCoder`).

The auxiliary loss of CompressAI (``Σ |logit F(q) − (−t, 0, t)|``, ``t = log(2/τ − 1)``, density under
stop-gradient) is kept as :meth:`EntropyBottleneck.aux_loss` for parity; it trains only ``quantiles``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.entropy.coder import SymbolCoder, pmf_to_quantized_cdf
from invrestore.entropy.ops import lower_bound
from invrestore.errors import CheckpointError, InvalidBitstream

__all__ = ["EntropyBottleneck", "QuantizeMode"]

QuantizeMode = Literal["noise", "dequantize", "symbols"]

_TABLE_BUFFERS = ("quantized_cdf", "cdf_length", "offset")


class EntropyBottleneck(nn.Module):
    """Per-channel factorized density with quantization, 16-bit coding tables and real entropy coding.

    Args:
        channels: Number of latent channels ``C``.
        filters: Hidden widths of the density network (``(3, 3, 3, 3)`` as in the paper).
        init_scale: Initial spread of the density (the CDF starts as a wide sigmoid-like curve).
        tail_mass: ``τ``: probability left outside the tabulated range (coded through the escape bin).
        likelihood_bound: Lower bound of the likelihood (avoids ``log 0`` and NaN rates).
        max_support: At most this many regular bins per channel; values beyond are escape-coded.

    Shapes: ``y`` is ``(B, C, *spatial)``; likelihoods have the same shape.
    """

    quantized_cdf: Tensor
    cdf_length: Tensor
    offset: Tensor

    def __init__(
        self,
        channels: int,
        filters: tuple[int, ...] = (3, 3, 3, 3),
        init_scale: float = 10.0,
        tail_mass: float = 1e-9,
        likelihood_bound: float = 1e-9,
        max_support: int = 4096,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be ≥ 1, got {channels}")
        if not 0.0 < tail_mass < 1.0:
            raise ValueError(f"tail_mass must be in (0, 1), got {tail_mass}")
        if not 1 <= max_support <= 16384:
            raise ValueError(f"max_support must be in [1, 16384], got {max_support}")
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        self.init_scale = float(init_scale)
        self.tail_mass = float(tail_mass)
        self.likelihood_bound = float(likelihood_bound)
        self.max_support = int(max_support)

        dims = (1, *self.filters, 1)
        scale = self.init_scale ** (1.0 / (len(self.filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(len(self.filters) + 1):
            init = math.log(math.expm1(1.0 / scale / dims[k + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[k + 1], dims[k]), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, dims[k + 1], 1).uniform_(-0.5, 0.5)))
            if k < len(self.filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[k + 1], 1)))
        q = torch.tensor([-self.init_scale, 0.0, self.init_scale])
        self.quantiles = nn.Parameter(q.repeat(channels, 1, 1))
        self.register_buffer("quantized_cdf", torch.zeros(channels, 0, dtype=torch.int32))
        self.register_buffer("cdf_length", torch.zeros(channels, dtype=torch.int32))
        self.register_buffer("offset", torch.zeros(channels, dtype=torch.int32))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, filters={self.filters}, tail_mass={self.tail_mass}"

    # -- density --------------------------------------------------------------------------------------------------
    def _logits_cdf(self, x: Tensor, stop_gradient: bool = False) -> Tensor:
        """``logit F_c(x)``: ``x`` is ``(C, 1, N)``, computed in ``x``'s dtype; returns ``(C, 1, N)``."""
        logits = x
        for k, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            h, b = F.softplus(matrix.to(x.dtype)), bias.to(x.dtype)
            if stop_gradient:
                h, b = h.detach(), b.detach()
            logits = torch.matmul(h, logits) + b
            if k < len(self.factors):
                a = self.factors[k].to(x.dtype)
                if stop_gradient:
                    a = a.detach()
                logits = logits + torch.tanh(a) * torch.tanh(logits)
        return logits

    def _bin_mass(self, values: Tensor) -> Tensor:
        """``F(v + ½) − F(v − ½)`` for ``values`` ``(C, 1, N)``, computed on the side where σ is not saturated."""
        n = values.shape[-1]
        logits = self._logits_cdf(torch.cat([values - 0.5, values + 0.5], dim=-1))
        lower, upper = logits[..., :n], logits[..., n:]
        sign = torch.where(lower + upper > 0, -1.0, 1.0).to(values.dtype).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))

    @property
    def medians(self) -> Tensor:
        """Per-channel medians ``m``, shape ``(C,)`` (detached)."""
        return self.quantiles[:, 0, 1].detach()

    # -- quantization ---------------------------------------------------------------------------------------------
    def quantize(self, y: Tensor, mode: QuantizeMode, generator: torch.Generator | None = None) -> Tensor:
        """Quantize ``y`` ``(B, C, *spatial)`` (see the module docstring for the three modes).

        Returns:
            Same shape; float for ``"noise"``/``"dequantize"``, int32 for ``"symbols"``.
        """
        if mode == "noise":
            noise = torch.rand(y.shape, generator=generator, device=y.device, dtype=y.dtype) - 0.5
            return y + noise
        m = self._per_channel(self.medians, y)
        if mode == "dequantize":
            return torch.round(y - m) + m
        if mode == "symbols":
            return torch.round(y - m).to(torch.int32)
        raise ValueError(f"unknown quantization mode {mode!r}")

    def quantize_ste(self, y: Tensor) -> Tensor:
        """``ŷ = round(y − m) + m`` in the forward pass with an identity gradient (straight-through estimator).

        The values are exactly those :meth:`compress` codes, so a distortion loss on them (ILC) trains the
        reconstruction the decoder will produce.
        """
        # q + (y - y.detach()) is q exactly in the forward pass (y + (q - y) is not, in floating point)
        return self.quantize(y.detach(), "dequantize") + (y - y.detach())

    def dequantize(self, symbols: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """``ŷ = s + m``: symbols ``(B, C, *spatial)`` back to latent values."""
        return symbols.to(dtype) + self._per_channel(self.medians.to(dtype), symbols)

    @staticmethod
    def _per_channel(v: Tensor, like: Tensor) -> Tensor:
        return v.reshape(1, -1, *([1] * (like.dim() - 2))).to(like.device)

    def _check_input(self, y: Tensor) -> None:
        if y.dim() < 2 or y.shape[1] != self.channels:
            raise ValueError(f"expected a (B, {self.channels}, ...) latent, got shape {tuple(y.shape)}")

    def likelihood(self, y_hat: Tensor) -> Tensor:
        """``p(ŷ)`` elementwise for ``y_hat`` ``(B, C, *spatial)``, lower-bounded by ``likelihood_bound``."""
        self._check_input(y_hat)
        flat = y_hat.transpose(0, 1).reshape(self.channels, 1, -1)
        lik = lower_bound(self._bin_mass(flat), self.likelihood_bound)
        shape = (y_hat.shape[1], y_hat.shape[0], *y_hat.shape[2:])
        return lik.reshape(shape).transpose(0, 1)

    def forward(
        self, y: Tensor, training: bool | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Quantize and score a latent.

        Args:
            y: ``(B, C, *spatial)``.
            training: Noise (``True``) or median-rounding (``False``); default ``self.training``.
            generator: Random generator for the noise.

        Returns:
            ``(y_hat, likelihoods)``, both ``(B, C, *spatial)``. ``−Σ log₂ likelihoods`` is the estimated rate
            in bits; in evaluation mode it matches the real coded size (up to the 16-bit table precision).
        """
        self._check_input(y)
        training = self.training if training is None else training
        y_hat = self.quantize(y, "noise" if training else "dequantize", generator)
        return y_hat, self.likelihood(y_hat)

    def aux_loss(self) -> Tensor:
        """CompressAI's auxiliary quantile loss ``Σ |logit F(q) − (−t, 0, t)|`` (trains only ``quantiles``)."""
        t = math.log(2.0 / self.tail_mass - 1.0)
        target = self.quantiles.new_tensor([-t, 0.0, t])
        logits = self._logits_cdf(self.quantiles, stop_gradient=True)
        return torch.sum(torch.abs(logits - target))

    # -- tables ---------------------------------------------------------------------------------------------------
    @property
    def has_tables(self) -> bool:
        """Whether :meth:`update` has built (or a checkpoint has provided) coding tables."""
        return self.quantized_cdf.numel() > 0 and bool((self.cdf_length >= 3).all())

    @torch.no_grad()
    def fit_quantiles(self, max_iterations: int = 200) -> None:
        """Set ``quantiles`` to ``F⁻¹(τ/2), F⁻¹(½), F⁻¹(1 − τ/2)`` per channel by bisection in float64.

        ``logit F`` is strictly increasing (positive ``H_k``, ``|tanh a_k| < 1``), so bisection on a bracket that
        doubles until it contains the target converges.

        Raises:
            CheckpointError: the density is degenerate (non-finite parameters or no bracket within ±2⁴⁰).
        """
        t = math.log(2.0 / self.tail_mass - 1.0)
        device = self.quantiles.device
        target = torch.tensor([-t, 0.0, t], dtype=torch.float64, device=device).expand(self.channels, 1, 3)
        radius = torch.full((self.channels, 1, 3), max(self.init_scale, 1.0), dtype=torch.float64, device=device)
        for _ in range(41):
            lo_ok = self._logits_cdf(-radius) < target
            hi_ok = self._logits_cdf(radius) > target
            ok = lo_ok & hi_ok
            if bool(ok.all()):
                break
            radius = torch.where(ok, radius, 2.0 * radius)
        else:
            raise CheckpointError("entropy model: cannot bracket the quantiles (is the density degenerate or NaN?)")
        lo, hi = -radius, radius.clone()
        for _ in range(max_iterations):
            mid = 0.5 * (lo + hi)
            below = self._logits_cdf(mid) < target
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
            if bool(((hi - lo) <= 1e-9 * (1.0 + hi.abs())).all()):
                break
        self.quantiles.copy_((0.5 * (lo + hi)).to(self.quantiles.dtype))

    @torch.no_grad()
    def update(self, force: bool = False, update_quantiles: bool = True) -> bool:
        """Build the 16-bit coding tables (call once after training, before :meth:`compress`).

        Args:
            force: Rebuild even if tables exist.
            update_quantiles: Fit the quantiles by bisection first (recommended; otherwise the current
                ``quantiles`` parameter, e.g. from the auxiliary loss, is used).

        Returns:
            Whether tables were (re)built.
        """
        if self.has_tables and not force:
            return False
        if update_quantiles:
            self.fit_quantiles()
        q = self.quantiles.detach().to(torch.float64)
        medians = self.medians.to(torch.float64)
        if not bool(torch.isfinite(q).all()):
            raise CheckpointError("entropy model: quantiles are not finite")
        below = torch.ceil(medians - q[:, 0, 0]).clamp(min=0).to(torch.int64)
        above = torch.ceil(q[:, 0, 2] - medians).clamp(min=0).to(torch.int64)
        below = below.clamp(max=(self.max_support - 1) // 2)
        above = torch.minimum(above, self.max_support - 1 - below)
        length = (below + above + 1).cpu()  # regular bins L_c
        width = int(length.max())
        samples = torch.arange(width, dtype=torch.float64, device=q.device)[None, :] - below[:, None] + medians[:, None]
        pmf = self._bin_mass(samples[:, None, :])[:, 0, :].cpu().numpy()
        lo_tail = torch.sigmoid(self._logits_cdf((medians - below - 0.5).reshape(-1, 1, 1))).reshape(-1)
        hi_tail = torch.sigmoid(-self._logits_cdf((medians + above + 0.5).reshape(-1, 1, 1))).reshape(-1)
        tails = (lo_tail + hi_tail).cpu().numpy()
        cdf = np.zeros((self.channels, width + 2), dtype=np.int64)
        for c in range(self.channels):
            n = int(length[c])
            cdf[c, : n + 2] = pmf_to_quantized_cdf(np.append(pmf[c, :n], tails[c]))
        device = self.quantized_cdf.device
        self._buffers["quantized_cdf"] = torch.from_numpy(cdf).to(device=device, dtype=torch.int32)
        self._buffers["cdf_length"] = (length + 2).to(device=device, dtype=torch.int32)
        self._buffers["offset"] = (-below.cpu()).to(device=device, dtype=torch.int32)
        return True

    def coder(self) -> SymbolCoder:
        """A :class:`~invrestore.entropy.coder.SymbolCoder` over the stored tables.

        Raises:
            CheckpointError: no tables yet (call :meth:`update`) or the stored tables are corrupt.
        """
        if not self.has_tables:
            raise CheckpointError(
                "the entropy model has no coding tables: call update() after training (or load a checkpoint "
                "saved after update()) before compress()/decompress()"
            )
        return SymbolCoder(self.quantized_cdf.cpu().numpy(), self.cdf_length.cpu().numpy(), self.offset.cpu().numpy())

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # the tables' width depends on the fitted quantiles: adopt the stored shapes instead of failing
        for name in _TABLE_BUFFERS:
            stored = state_dict.get(prefix + name)
            current = self._buffers[name]
            if isinstance(stored, Tensor) and current is not None and stored.shape != current.shape:
                self._buffers[name] = torch.zeros(stored.shape, dtype=current.dtype, device=current.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- coding ---------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def compress(self, y: Tensor) -> list[bytes]:
        """Entropy-code ``y`` ``(B, C, *spatial)``: one byte string per batch item.

        Raises:
            CheckpointError: no tables (see :meth:`coder`).
            ValueError: ``y`` has the wrong shape or non-finite values.
        """
        self._check_input(y)
        coder = self.coder()
        if not bool(torch.isfinite(y).all()):
            raise ValueError("cannot compress a latent with NaN or infinite values")
        symbols = self.quantize(y, "symbols").reshape(y.shape[0], self.channels, -1).cpu().numpy()
        return [coder.encode(s) for s in symbols]

    @torch.no_grad()
    def decompress(
        self, strings: list[bytes], spatial_shape: tuple[int, ...], dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """Decode byte strings from :meth:`compress` into ``ŷ`` ``(B, C, *spatial_shape)`` on the module's device.

        Raises:
            CheckpointError: no tables.
            InvalidBitstream: a payload is corrupt or does not match these tables.
        """
        symbols = self.decompress_symbols(strings, spatial_shape)
        return self.dequantize(symbols.to(self.quantiles.device), dtype)

    def decompress_symbols(self, strings: list[bytes], spatial_shape: tuple[int, ...]) -> Tensor:
        """Like :meth:`decompress` but returns the int32 symbols ``s`` (CPU)."""
        coder = self.coder()
        n = math.prod(spatial_shape)
        if any(d < 0 for d in spatial_shape):
            raise InvalidBitstream(f"negative latent size {spatial_shape}")
        out = [torch.from_numpy(coder.decode(s, n)) for s in strings]
        if not out:
            return torch.zeros(0, self.channels, *spatial_shape, dtype=torch.int32)
        return torch.stack(out).reshape(len(strings), self.channels, *spatial_shape)
