"""Lossless coding of integer symbols from stored 16-bit integer CDF tables (ANS via ``constriction``).

Tables
    One table per channel ``c``. ``cdf[c, :cdf_length[c]]`` is a strictly increasing integer CDF with
    ``cdf[c, 0] = 0`` and ``cdf[c, cdf_length[c] − 1] = 2¹⁶``. Its ``n_c = cdf_length[c] − 1`` bins are the
    ``L_c = n_c − 1`` regular symbols ``offset[c], …, offset[c] + L_c − 1`` followed by one *escape* bin, so
    every bin has a frequency ``f = cdf[i+1] − cdf[i] ≥ 1`` (probability ``f / 2¹⁶``).

Exact fixed-point model (why a file decodes bit-identically on every machine)
    Each channel's model is ``self._stream.model.Categorical(f.astype(float64), perfect=False)``.
    constriction (0.4/0.5, ``fast_quantized_cdf``) turns float probabilities into its 24-bit fixed-point CDF as
    ``C₂₄(i) = ⌊S_i · (2²⁴ − n) / Σf⌋ + i`` with ``S_i = Σ_{k<i} f_k``. Our ``f`` are integers with ``Σf = 2¹⁶``,
    so ``S_i`` and ``(2²⁴ − n)/2¹⁶`` are exact in float64 and so is their product (< 2⁴¹ < 2⁵³): the coder's
    model is the integer function ``C₂₄(i) = ⌊cdf[i] · (2²⁴ − n) / 2¹⁶⌋ + i`` of the stored table
    (:func:`effective_cdf`), with no floating-point rounding anywhere. Nothing is recomputed from network
    weights at decode time.

Escape coding
    A symbol outside its channel's range is coded as the escape bin; then its distance is coded with an
    Elias-gamma-like code on uniform models: ``u = −2q − 1`` below the range (``q = s − offset < 0``),
    ``u = 2(q − L)`` above it; ``m = u + 1 = 2^h + r`` is sent as ``h`` (uniform over 32 values, 5 bits) followed
    by the ``h`` low bits ``r`` (uniform, in chunks of ≤ 16 bits). Symbols must satisfy
    ``|s| ≤ MAX_SYMBOL_MAGNITUDE``.

Stream layout (one ANS stack, ``constriction.stream.stack.AnsCoder``, 32-bit words, stored little-endian)
    decode order: channel 0 (all its symbols in C order), …, channel C−1, then the ``h`` of every escaped
    symbol (channel-major order), then their low-bit chunks. The encoder pushes these in reverse. After the
    last symbol the decoder must be back in its empty initial state; any other state means the payload does not
    belong to these tables (or is corrupt) and raises :class:`~invrestore.errors.InvalidBitstream`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from invrestore.errors import CheckpointError, InvalidBitstream

__all__ = [
    "MAX_FLUSH_BYTES",
    "MAX_SYMBOL_MAGNITUDE",
    "PRECISION",
    "SymbolCoder",
    "effective_cdf",
    "pmf_to_quantized_cdf",
    "validate_tables",
]

PRECISION = 16
"""Bits of the stored integer CDF tables (every table ends at ``2**PRECISION``)."""

MAX_SYMBOL_MAGNITUDE = 1 << 28
"""Largest ``|symbol|`` the escape code can carry (``m = u + 1 < 2³⁰``, so ``h ≤ 29``)."""

MAX_FLUSH_BYTES = 8
"""Bound on what a payload costs beyond its information content under the tables: the ANS coder ends by writing
its final 64-bit state (measured 25–56 bits; on small images this exceeds 1 % of the rate)."""

_CODER_PRECISION = 24  # constriction's default preset (u32 words, 24-bit probabilities)
_MAX_ESCAPE_BITS = 29
_CHUNK_BITS = 16


def _constriction() -> ModuleType:
    """Import constriction lazily, so that the model registry (which imports every family) works without it."""
    try:
        import constriction
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "entropy coding needs the 'constriction' package: pip install 'invrestore[codec]' (or constriction>=0.4)"
        ) from err
    return constriction


def pmf_to_quantized_cdf(pmf: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Quantize a probability vector to an integer CDF with every bin ≥ 1 and total ``2**precision``.

    Each bin gets ``1 + ⌊p̂_i (T − n)⌋`` (``p̂ = pmf / Σ pmf``, ``T = 2**precision``); the remaining
    ``T − Σ`` quanta (< n) go to the bins with the largest fractional parts, ties to the lower index (largest
    remainder method: deterministic, and within one quantum of ``p̂ T`` for every bin).

    Args:
        pmf: ``(n,)`` non-negative, finite, ``2 ≤ n ≤ T/2``, positive sum (need not be normalised).
        precision: Bits of the total.

    Returns:
        ``(n + 1,)`` int64 CDF, ``cdf[0] = 0``, ``cdf[n] = 2**precision``, strictly increasing.

    Raises:
        ValueError: for an invalid ``pmf``.
    """
    p = np.asarray(pmf, dtype=np.float64)
    total = 1 << precision
    n = p.shape[0] if p.ndim == 1 else 0
    if p.ndim != 1 or n < 2 or 2 * n > total:
        raise ValueError(f"pmf must be 1-D with 2 ≤ n ≤ {total // 2} entries, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("pmf must be finite, non-negative and not all zero")
    scaled = p / p.sum() * (total - n)
    base = np.floor(scaled)
    freq = base.astype(np.int64) + 1
    rest = total - int(freq.sum())
    if rest > 0:
        order = np.argsort(-(scaled - base), kind="stable")
        freq[order[:rest]] += 1
    cdf = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(freq, out=cdf[1:])
    return cdf


def effective_cdf(cdf: np.ndarray) -> np.ndarray:
    """The 24-bit fixed-point CDF the coder actually uses for one stored 16-bit table (see module docstring).

    Args:
        cdf: ``(n + 1,)`` integer CDF ending at ``2**16``.

    Returns:
        ``(n + 1,)`` int64, ``C₂₄(i) = ⌊cdf[i] (2²⁴ − n) / 2¹⁶⌋ + i`` for ``i < n`` and ``C₂₄(n) = 2²⁴``.
    """
    c = np.asarray(cdf, dtype=np.int64)
    n = c.shape[0] - 1
    out = (c * ((1 << _CODER_PRECISION) - n)) >> PRECISION
    out += np.arange(n + 1, dtype=np.int64)
    out[-1] = 1 << _CODER_PRECISION
    return out


def validate_tables(cdf: np.ndarray, cdf_length: np.ndarray, offset: np.ndarray) -> None:
    """Check stored tables (e.g. from a checkpoint) before they are used for coding.

    Raises:
        CheckpointError: if shapes disagree, a CDF does not start at 0 and end at ``2**16``, is not strictly
            increasing, has fewer than 2 bins, or an offset is out of range.
    """
    if cdf.ndim != 2 or cdf_length.ndim != 1 or offset.ndim != 1:
        raise CheckpointError("entropy tables: cdf must be (C, K), cdf_length and offset (C,)")
    channels, width = cdf.shape
    if cdf_length.shape[0] != channels or offset.shape[0] != channels:
        raise CheckpointError(
            f"entropy tables: {channels} CDF rows but {cdf_length.shape[0]} lengths and {offset.shape[0]} offsets"
        )
    total = 1 << PRECISION
    for c in range(channels):
        n = int(cdf_length[c])
        if not 3 <= n <= width:
            raise CheckpointError(f"entropy tables: channel {c} has CDF length {n} (must be in [3, {width}])")
        row = cdf[c, :n].astype(np.int64)
        if row[0] != 0 or row[-1] != total or np.any(np.diff(row) <= 0):
            raise CheckpointError(
                f"entropy tables: channel {c}'s CDF is not a strictly increasing table from 0 to {total}"
            )
        if abs(int(offset[c])) > MAX_SYMBOL_MAGNITUDE:
            raise CheckpointError(f"entropy tables: channel {c} has offset {int(offset[c])} out of range")


def _bit_length_minus_one(m: np.ndarray) -> np.ndarray:
    # ⌊log2 m⌋ for integers 1 ≤ m < 2^53; frexp is exact (m = mant · 2^e, mant ∈ [0.5, 1))
    _, e = np.frexp(m.astype(np.float64))
    return (e - 1).astype(np.int64)


class SymbolCoder:
    """Entropy coder for ``(C, N)`` integer symbols, channel ``c`` coded with table ``c``.

    Build it from the stored tables (buffers of an entropy model); it keeps one constriction model per channel.

    Args:
        cdf: ``(C, K)`` integer CDFs (rows padded after their length).
        cdf_length: ``(C,)`` number of valid CDF entries per row (bins + 1, escape bin included).
        offset: ``(C,)`` the symbol value of each channel's first bin.

    Raises:
        CheckpointError: invalid tables (see :func:`validate_tables`).
    """

    def __init__(self, cdf: np.ndarray, cdf_length: np.ndarray, offset: np.ndarray) -> None:
        cdf = np.asarray(cdf, dtype=np.int64)
        cdf_length = np.asarray(cdf_length, dtype=np.int64)
        offset = np.asarray(offset, dtype=np.int64)
        validate_tables(cdf, cdf_length, offset)
        self.channels = int(cdf.shape[0])
        self.offset = offset
        self.num_regular = cdf_length - 2  # L_c; bin L_c is the escape bin
        self.cdfs = [cdf[c, : int(cdf_length[c])] for c in range(self.channels)]
        self._stream = _constriction().stream
        self.models: list[Any] = [
            self._stream.model.Categorical(np.diff(row).astype(np.float64), perfect=False) for row in self.cdfs
        ]

    # -- encoding ------------------------------------------------------------------------------------------------
    def encode(self, symbols: np.ndarray) -> bytes:
        """Code ``symbols`` (``(C, N)`` integers, ``|s| ≤ MAX_SYMBOL_MAGNITUDE``) into bytes.

        Raises:
            ValueError: wrong shape or a symbol too large for the escape code.
        """
        sym = np.asarray(symbols)
        if sym.ndim != 2 or sym.shape[0] != self.channels:
            raise ValueError(f"symbols must have shape ({self.channels}, N), got {sym.shape}")
        if not np.issubdtype(sym.dtype, np.integer):
            raise ValueError(f"symbols must be integers, got {sym.dtype}")
        sym = sym.astype(np.int64)
        if sym.size and int(np.abs(sym).max()) > MAX_SYMBOL_MAGNITUDE:
            raise ValueError(f"a symbol exceeds ±{MAX_SYMBOL_MAGNITUDE}; the latent is out of range (NaN or inf?)")
        if sym.shape[1] == 0:
            return b""
        q = sym - self.offset[:, None]
        regular = self.num_regular[:, None]
        escaped = (q < 0) | (q >= regular)
        idx = np.where(escaped, regular, q).astype(np.int32)

        coder = self._stream.stack.AnsCoder()
        esc_q = q[escaped]  # channel-major order, as the decoder will find them
        if esc_q.size:
            esc_l = np.broadcast_to(regular, q.shape)[escaped]
            u = np.where(esc_q < 0, -2 * esc_q - 1, 2 * (esc_q - esc_l))
            m = u + 1
            h = _bit_length_minus_one(m)
            chunks, sizes = _split_low_bits(m - (np.int64(1) << h), h)
            if chunks.size:
                coder.encode_reverse(chunks.astype(np.int32), self._stream.model.Uniform(), sizes.astype(np.int32))
            coder.encode_reverse(h.astype(np.int32), self._stream.model.Uniform(32))
        for c in range(self.channels - 1, -1, -1):
            coder.encode_reverse(idx[c], self.models[c])
        words = coder.get_compressed()
        return words.astype("<u4").tobytes()

    # -- decoding ------------------------------------------------------------------------------------------------
    def decode(self, data: bytes, num_symbols: int) -> np.ndarray:
        """Decode ``(C, num_symbols)`` int32 symbols.

        Raises:
            InvalidBitstream: the payload is malformed, does not decode to exactly this many symbols under these
                tables, or leaves data unread.
        """
        if num_symbols < 0:
            raise InvalidBitstream(f"negative symbol count {num_symbols}")
        if num_symbols == 0:
            if data:
                raise InvalidBitstream("payload holds data but no symbols are expected")
            return np.zeros((self.channels, 0), dtype=np.int32)
        if not data or len(data) % 4:
            raise InvalidBitstream(f"entropy-coded payload has {len(data)} bytes (must be a non-zero multiple of 4)")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            coder = self._stream.stack.AnsCoder(words)
            out = np.empty((self.channels, num_symbols), dtype=np.int64)
            n_esc = 0
            for c in range(self.channels):
                idx = np.asarray(coder.decode(self.models[c], num_symbols), dtype=np.int64)
                out[c] = idx + self.offset[c]
                n_esc += int(np.count_nonzero(idx == self.num_regular[c]))
            if n_esc:
                q = out - self.offset[:, None]
                regular = np.broadcast_to(self.num_regular[:, None], out.shape)
                escaped = q == regular
                h = np.asarray(coder.decode(self._stream.model.Uniform(32), n_esc), dtype=np.int64)
                if int(h.max()) > _MAX_ESCAPE_BITS:
                    raise InvalidBitstream("entropy-coded payload is corrupt (escape code out of range)")
                sizes = _chunk_sizes(h)
                if sizes.size:
                    chunks = np.asarray(
                        coder.decode(self._stream.model.Uniform(), sizes.astype(np.int32)), dtype=np.int64
                    )
                else:
                    chunks = np.zeros(0, dtype=np.int64)
                m = (np.int64(1) << h) + _join_low_bits(chunks, h)
                u = m - 1
                esc_q = np.where(u % 2 == 1, -(u + 1) // 2, regular[escaped] + u // 2)
                q[escaped] = esc_q
                out = q + self.offset[:, None]
            if not coder.is_empty():
                raise InvalidBitstream("entropy-coded payload is corrupt or was not written with these tables")
        except InvalidBitstream:
            raise
        except Exception as err:  # constriction rejects some malformed word sequences with ValueError
            raise InvalidBitstream(f"entropy-coded payload cannot be decoded: {err}") from err
        if int(np.abs(out).max()) > MAX_SYMBOL_MAGNITUDE:
            raise InvalidBitstream("entropy-coded payload is corrupt (symbol out of range)")
        return out.astype(np.int32)


def _chunk_bits(h: np.ndarray) -> np.ndarray:
    """Bits of the (high, low) chunks of each escaped value's ``h`` low bits, flattened: ``(2·len(h),)``."""
    hi_bits = np.where(h > _CHUNK_BITS, h - _CHUNK_BITS, 0)
    lo_bits = np.minimum(h, _CHUNK_BITS)
    return np.stack([hi_bits, lo_bits], axis=1).reshape(-1)


def _chunk_sizes(h: np.ndarray) -> np.ndarray:
    """Uniform-model sizes of the non-empty chunks, in stream order (per value: high chunk, then low chunk)."""
    bits = _chunk_bits(h)
    return np.int64(1) << bits[bits > 0]


def _split_low_bits(r: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-empty chunks of ``r`` (``h`` bits each) and their uniform-model sizes."""
    vals = np.stack([r >> _CHUNK_BITS, r & ((1 << _CHUNK_BITS) - 1)], axis=1).reshape(-1)
    bits = _chunk_bits(h)
    keep = bits > 0
    return vals[keep], np.int64(1) << bits[keep]


def _join_low_bits(chunks: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_split_low_bits`."""
    bits = _chunk_bits(h)
    flat = np.zeros(bits.shape[0], dtype=np.int64)
    flat[bits > 0] = chunks
    pairs = flat.reshape(-1, 2)
    return (pairs[:, 0] << _CHUNK_BITS) + pairs[:, 1]
