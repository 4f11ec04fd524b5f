"""Integer-table ANS coding: table quantization, exact round trips, escapes, rate, determinism, corrupt input."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invrestore.entropy import (
    MAX_SYMBOL_MAGNITUDE,
    PRECISION,
    SymbolCoder,
    effective_cdf,
    pmf_to_quantized_cdf,
)
from invrestore.errors import CheckpointError, InvalidBitstream


def _laplace_tables(channels: int, half_width: int = 10) -> SymbolCoder:
    support = np.arange(-half_width, half_width + 1)
    cdf = np.zeros((channels, support.size + 2), dtype=np.int64)
    for c in range(channels):
        pmf = np.exp(-np.abs(support) / (0.5 + c))
        cdf[c] = pmf_to_quantized_cdf(np.append(pmf, 1e-7))
    return SymbolCoder(cdf, np.full(channels, support.size + 2), np.full(channels, -half_width))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=300).filter(lambda p: sum(p) > 0))
def test_quantized_cdf_ends_at_two_to_the_sixteen_with_every_bin_at_least_one(pmf: list[float]) -> None:
    cdf = pmf_to_quantized_cdf(np.array(pmf))
    freq = np.diff(cdf)
    assert cdf[0] == 0 and cdf[-1] == 1 << PRECISION
    assert freq.min() >= 1
    expected = np.array(pmf) / sum(pmf) * (1 << PRECISION)
    assert np.abs(freq - expected).max() <= len(pmf) + 1  # each bin within the 1-quantum floors + remainder


def test_round_trip_reproduces_symbols_including_far_out_of_range_escapes() -> None:
    rng = np.random.default_rng(0)
    coder = _laplace_tables(4)
    symbols = np.round(rng.laplace(0, 3, size=(4, 500))).astype(np.int32)
    symbols[0, 0] = 11  # just above the range
    symbols[1, 1] = -11  # just below
    symbols[2, 2] = MAX_SYMBOL_MAGNITUDE
    symbols[3, 3] = -MAX_SYMBOL_MAGNITUDE
    symbols[3, 4] = 70_000  # needs two low-bit chunks
    decoded = coder.decode(coder.encode(symbols), 500)
    assert decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, symbols)


def test_symbols_beyond_the_escape_limit_are_rejected_when_encoding() -> None:
    coder = _laplace_tables(1)
    with pytest.raises(ValueError, match="exceeds"):
        coder.encode(np.array([[MAX_SYMBOL_MAGNITUDE + 1]]))


def test_coded_size_is_within_64_bits_of_the_ideal_size_under_the_effective_integer_model() -> None:
    rng = np.random.default_rng(1)
    coder = _laplace_tables(3)
    symbols = np.clip(np.round(rng.laplace(0, 2, size=(3, 4000))), -10, 10).astype(np.int64)
    ideal = 0.0
    for c in range(3):
        freq24 = np.diff(effective_cdf(coder.cdfs[c]))
        ideal += -np.log2(freq24[symbols[c] + 10] / 2.0**24).sum()
    real = 8 * len(coder.encode(symbols))
    assert ideal <= real <= ideal + 64


def test_encoding_is_byte_identical_to_the_golden_stream() -> None:
    # locks the fixed-point model and the stream layout: a change here breaks every file already written
    rng = np.random.default_rng(2)
    coder = _laplace_tables(2)
    symbols = np.round(rng.laplace(0, 4, size=(2, 64))).astype(np.int32)
    symbols[0, 0] = 1000
    data = coder.encode(symbols)
    assert hashlib.sha256(data).hexdigest()[:16] == GOLDEN_SHA256_PREFIX


GOLDEN_SHA256_PREFIX = "e227700fc92ce869"


def test_payloads_that_do_not_match_the_tables_raise_invalid_bitstream() -> None:
    rng = np.random.default_rng(3)
    coder = _laplace_tables(2)
    good = coder.encode(np.round(rng.laplace(0, 2, size=(2, 100))).astype(np.int32))
    bad = [b"", b"\x01\x02\x03", b"\x00\x00\x00\x00", good + b"\x01\x00\x00\x00", good[4:]]
    bad += [rng.integers(0, 256, size=4 * k, dtype=np.uint8).tobytes() for k in range(1, 40)]
    for payload in bad:
        with pytest.raises(InvalidBitstream):
            coder.decode(payload, 100)
    with pytest.raises(InvalidBitstream):
        coder.decode(good, 101)  # the stream holds fewer symbols than claimed


def test_corrupt_tables_raise_checkpoint_error() -> None:
    cdf = np.array([[0, 100, 65536, 0]])
    with pytest.raises(CheckpointError):
        SymbolCoder(cdf, np.array([4]), np.array([0]))  # length past the end of the table
    with pytest.raises(CheckpointError):
        SymbolCoder(np.array([[0, 100, 100, 65536]]), np.array([4]), np.array([0]))  # zero-frequency bin
    with pytest.raises(CheckpointError):
        SymbolCoder(np.array([[0, 100, 65535]]), np.array([3]), np.array([0]))  # does not end at 2**16
