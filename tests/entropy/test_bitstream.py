"""The container: exact layout, round trip, and a clear InvalidBitstream for every kind of bad input."""

from __future__ import annotations

import struct
import zlib

import pytest

from invrestore.entropy import FORMAT_VERSION, MAGIC, Bitstream
from invrestore.errors import InvalidBitstream, InvRestoreError


def _example() -> Bitstream:
    return Bitstream(
        model="bls2017-8",
        config_hash=bytes(range(8)),
        image_size=(37, 50),
        padding=(5, 6, 7, 7),
        shapes=((8, 3, 4),),
        strings=(b"\x01\x02\x03\x04" * 3,),
    )


def _recrc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_round_trip_gives_an_equal_bitstream() -> None:
    bits = _example()
    assert Bitstream.from_bytes(bits.to_bytes()) == bits
    two = Bitstream("m", b"\x00" * 8, (1, 1), (0, 0, 0, 0), ((3,), (2, 2, 2, 2)), (b"", b"ab"))
    assert Bitstream.from_bytes(two.to_bytes()) == two


def test_layout_matches_the_documented_byte_table() -> None:
    bits = _example()
    data = bits.to_bytes()
    k = len(bits.model)
    assert data[:4] == MAGIC and data[4] == FORMAT_VERSION and data[5] == 0 and data[6] == k
    assert data[7 : 7 + k] == b"bls2017-8" and data[7 + k : 15 + k] == bytes(range(8))
    assert struct.unpack_from("<II4HB", data, 15 + k) == (37, 50, 5, 6, 7, 7, 1)
    assert struct.unpack_from("<B3II", data, 32 + k) == (3, 8, 3, 4, 12)
    assert data[-4:] == struct.pack("<I", zlib.crc32(data[:-4]))
    assert bits.header_bytes == 53 + k == len(data) - bits.payload_bytes
    assert bits.num_bytes == len(data)
    assert bits.bpp() == pytest.approx(8 * len(data) / (37 * 50))


def test_foreign_files_are_rejected_by_their_magic_bytes() -> None:
    for data in [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a", b"\x89IR"]:
        with pytest.raises(InvalidBitstream, match="not an invrestore"):
            Bitstream.from_bytes(data)


def test_truncated_files_raise_invalid_bitstream() -> None:
    data = _example().to_bytes()
    for n in range(4, len(data)):
        with pytest.raises(InvalidBitstream, match=r"truncated|checksum"):
            Bitstream.from_bytes(data[:n])


def test_a_flipped_bit_fails_the_checksum() -> None:
    data = bytearray(_example().to_bytes())
    data[30] ^= 0x10
    with pytest.raises(InvalidBitstream, match="checksum"):
        Bitstream.from_bytes(bytes(data))


def test_newer_format_versions_are_refused_with_the_supported_version_named() -> None:
    data = bytearray(_example().to_bytes())
    data[4] = FORMAT_VERSION + 1
    with pytest.raises(InvalidBitstream, match="version"):
        Bitstream.from_bytes(_recrc(bytes(data[:-4])))


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (5, "<B", 1, "flags"),
        (6, "<B", 0, "model id length"),
        (6, "<B", 200, "model id length"),
        (7, "<B", ord(" "), "malformed model id"),
        (7, "<B", 0xFF, "not ASCII"),
        (24, "<I", 0, "image size"),
        (28, "<I", 70_000, "image size"),
        (40, "<B", 0, "number of latents"),
        (41, "<B", 9, "dimensions"),
        (42, "<I", 0, "shape"),
        (54, "<I", 13, "payload lengths"),
        (54, "<I", 2**32 - 1, "payload lengths"),
    ],
)
def test_out_of_range_fields_with_a_valid_checksum_raise_invalid_bitstream(
    offset: int, fmt: str, value: int, message: str
) -> None:
    body = bytearray(_example().to_bytes()[:-4])
    struct.pack_into(fmt, body, offset, value)
    with pytest.raises(InvalidBitstream, match=message):
        Bitstream.from_bytes(_recrc(bytes(body)))


def test_trailing_bytes_after_the_payloads_are_rejected() -> None:
    body = _example().to_bytes()[:-4] + b"\x00"
    with pytest.raises(InvalidBitstream, match="payload lengths"):
        Bitstream.from_bytes(_recrc(body))


def test_invalid_bitstream_is_a_user_facing_error() -> None:
    assert issubclass(InvalidBitstream, InvRestoreError)


def test_constructing_an_impossible_bitstream_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="config_hash"):
        Bitstream("m", b"short", (1, 1), (0, 0, 0, 0), ((1,),), (b"",))
    with pytest.raises(ValueError, match="model id"):
        Bitstream("bad id", b"\x00" * 8, (1, 1), (0, 0, 0, 0), ((1,),), (b"",))
    with pytest.raises(ValueError, match="one payload each"):
        Bitstream("m", b"\x00" * 8, (1, 1), (0, 0, 0, 0), ((1,),), ())
