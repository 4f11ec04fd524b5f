"""Learned entropy models and real entropy coding (see ``docs/compression.md``).

- :class:`EntropyBottleneck` — deep factorized density (Ballé 2018), quantization, quantile bisection,
  16-bit integer CDF tables as buffers, ``compress``/``decompress``.
- :class:`SymbolCoder` — ANS coding (``constriction``) of integer symbols from the stored tables only,
  with escape coding of out-of-range values.
- :class:`Bitstream` — the versioned, CRC-checked container; malformed input raises
  :class:`~invrestore.errors.InvalidBitstream`.
- :class:`GDN` / :class:`IGDN` — generalized divisive normalization with non-negative reparametrisation.
- :class:`LearnedCodec`, :class:`CodecOutput`, centred padding and rate-estimate helpers shared by codecs.
"""

from invrestore.entropy.bitstream import FORMAT_VERSION, MAGIC, Bitstream
from invrestore.entropy.bottleneck import EntropyBottleneck, QuantizeMode
from invrestore.entropy.codec import (
    MAX_DECODE_PIXELS,
    CodecOutput,
    LearnedCodec,
    centered_padding,
    config_hash,
    crop_padding,
    estimated_bits,
    estimated_bpp,
    pad_centered,
)
from invrestore.entropy.coder import (
    MAX_SYMBOL_MAGNITUDE,
    PRECISION,
    SymbolCoder,
    effective_cdf,
    pmf_to_quantized_cdf,
    validate_tables,
)
from invrestore.entropy.gdn import GDN, IGDN, NonNegativeParametrizer
from invrestore.entropy.ops import lower_bound
from invrestore.errors import InvalidBitstream

__all__ = [
    "FORMAT_VERSION",
    "GDN",
    "IGDN",
    "MAGIC",
    "MAX_DECODE_PIXELS",
    "MAX_SYMBOL_MAGNITUDE",
    "PRECISION",
    "Bitstream",
    "CodecOutput",
    "EntropyBottleneck",
    "InvalidBitstream",
    "LearnedCodec",
    "NonNegativeParametrizer",
    "QuantizeMode",
    "SymbolCoder",
    "centered_padding",
    "config_hash",
    "crop_padding",
    "effective_cdf",
    "estimated_bits",
    "estimated_bpp",
    "lower_bound",
    "pad_centered",
    "pmf_to_quantized_cdf",
    "validate_tables",
]
