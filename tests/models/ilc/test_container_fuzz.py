"""Fuzzing the whole decode path (container + entropy decoder + synthesis) of a tiny bls2017 codec.

A few thousand mutated, truncated and forged files must only ever raise InvalidBitstream. Files whose CRC is
deliberately recomputed after the mutation (to reach the checks behind it) may also decode successfully, to an
image of the size their header declares.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable

import numpy as np
import pytest
import torch
from ilc_helpers import sample_image

from invrestore.entropy import MAGIC, Bitstream
from invrestore.errors import InvalidBitstream
from invrestore.models.ilc import BLS2017


def _decoder(model: BLS2017) -> Callable[[bytes], torch.Tensor]:
    def decode(data: bytes) -> torch.Tensor:
        return model.decompress(Bitstream.from_bytes(data))

    return decode


def _recrc(body: bytes | bytearray) -> bytes:
    return bytes(body) + struct.pack("<I", zlib.crc32(body))


def _outcome(decode: Callable[[bytes], torch.Tensor], data: bytes) -> str:
    try:
        out = decode(data)
    except InvalidBitstream as err:
        assert str(err), "InvalidBitstream needs a message"
        return "rejected"
    # only a CRC-valid file can decode; it must then have the size its header declares
    h, w = struct.unpack_from("<II", data, 15 + data[6])
    assert out.shape == (1, 3, h, w)
    return "decoded"


@pytest.fixture(scope="module")
def valid_file(tiny_codec: BLS2017) -> bytes:
    return tiny_codec.compress(sample_image(45, 60)).to_bytes()


def test_mutated_and_truncated_files_only_ever_raise_invalid_bitstream(tiny_codec: BLS2017, valid_file: bytes) -> None:
    rng = np.random.default_rng(2024)
    decode = _decoder(tiny_codec)
    data = valid_file
    n = len(data)
    cases: list[bytes] = []
    for _ in range(1200):  # 1–8 random bit flips anywhere
        buf = bytearray(data)
        for pos in rng.integers(0, 8 * n, size=rng.integers(1, 9)):
            buf[pos // 8] ^= 1 << (pos % 8)
        cases.append(bytes(buf))
    cases += [data[:k] for k in range(n)]  # every truncation
    cases += [data + rng.integers(0, 256, size=k, dtype=np.uint8).tobytes() for k in range(1, 50)]  # trailing junk
    for _ in range(400):  # random byte overwrites
        buf = bytearray(data)
        pos = int(rng.integers(0, n))
        buf[pos : pos + 4] = rng.integers(0, 256, size=4, dtype=np.uint8).tobytes()
        cases.append(bytes(buf[:n]))
    for _ in range(200):  # random files, half of them with our magic and version
        junk = rng.integers(0, 256, size=int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
        cases.append(MAGIC + b"\x01" + junk if rng.random() < 0.5 else junk)
    start = time.perf_counter()
    outcomes = [_outcome(decode, c) for c in cases if c != data]
    assert set(outcomes) == {"rejected"}  # without a valid CRC nothing decodes
    assert time.perf_counter() - start < 30


def test_forged_files_with_a_valid_checksum_only_raise_invalid_bitstream_or_decode(
    tiny_codec: BLS2017, valid_file: bytes
) -> None:
    rng = np.random.default_rng(7)
    decode = _decoder(tiny_codec)
    body = valid_file[:-4]
    k = body[6]
    header_end = 32 + k + 1 + 4 * 3 + 4
    fields = [(6, "<B"), (15 + k, "<I"), (19 + k, "<I")] + [(23 + k + 2 * i, "<H") for i in range(4)]
    fields += [(31 + k, "<B"), (32 + k, "<B")] + [(33 + k + 4 * i, "<I") for i in range(4)]  # dims, length
    cases: list[bytes] = []
    for _ in range(600):  # header fields set to random or boundary values
        buf = bytearray(body)
        offset, fmt = fields[int(rng.integers(0, len(fields)))]
        bits = 8 * struct.calcsize(fmt)
        choices = [0, 1, 2, (1 << bits) - 1, int(rng.integers(0, 1 << bits))]
        struct.pack_into(fmt, buf, offset, choices[int(rng.integers(0, len(choices)))])
        cases.append(_recrc(buf))
    for _ in range(600):  # payload bit flips and byte overwrites
        buf = bytearray(body)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(header_end, len(buf)))
            buf[pos] = int(rng.integers(0, 256)) if rng.random() < 0.5 else buf[pos] ^ (1 << int(rng.integers(0, 8)))
        cases.append(_recrc(buf))
    for _ in range(200):  # payload replaced by random words of a random length (length field kept consistent)
        size = 4 * int(rng.integers(0, 40))
        buf = bytearray(body[:header_end]) + rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        struct.pack_into("<I", buf, header_end - 4, size)
        cases.append(_recrc(buf))
    for _ in range(100):  # foreign model ids
        buf = bytearray(body)
        buf[7 : 7 + k] = rng.choice(list(b"abcxyz0123-._+ \xff"), size=k).astype(np.uint8).tobytes()
        cases.append(_recrc(buf))
    start = time.perf_counter()
    outcomes = [_outcome(decode, c) for c in cases]
    assert outcomes.count("rejected") > 0.9 * len(outcomes)
    assert time.perf_counter() - start < 30
