"""Image I/O: lossless round trips, explicit dtypes, alpha/palette/EXIF policies, clear errors, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invrestore.errors import ImageReadError, ImageWriteError
from invrestore.io import read_image, read_image_uint, read_png_text, to_uint8, write_image

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(19, 23), (19, 23, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_write_then_read_is_lossless_for_8_and_16_bit(tmp_path: Path, shape: tuple[int, ...], dtype) -> None:
    a = RNG.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)
    p = tmp_path / "a.png"
    write_image(p, a)
    b = read_image_uint(p)
    assert b.dtype == dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    # through the float tensor and back with the same bit depth
    t = read_image(p)
    write_image(p, t, bits=16 if dtype == np.uint16 else 8)
    np.testing.assert_array_equal(read_image_uint(p), a)


def test_16_bit_png_is_not_silently_reduced_to_8_bits(tmp_path: Path) -> None:
    a = np.full((4, 5, 3), 1000, dtype=np.uint16)  # 1000/65535 is between two 8-bit levels
    write_image(tmp_path / "a.png", a)
    t = read_image(tmp_path / "a.png", dtype=torch.float64)
    assert torch.allclose(t, torch.full_like(t, 1000 / 65535), atol=0, rtol=0)


def test_read_image_returns_chw_float_in_unit_range_with_requested_dtype(tmp_path: Path) -> None:
    a = RNG.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "a.bmp")
    t = read_image(tmp_path / "a.bmp", dtype=torch.float64)
    assert t.shape == (3, 7, 9) and t.dtype == torch.float64
    assert torch.equal(t, torch.from_numpy(a).permute(2, 0, 1).double() / 255)


def test_grayscale_stays_one_channel_unless_rgb_is_asked(tmp_path: Path) -> None:
    a = RNG.integers(0, 256, size=(6, 8), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "g.png")
    assert read_image(tmp_path / "g.png").shape == (1, 6, 8)
    rgb = read_image(tmp_path / "g.png", mode="rgb")
    assert rgb.shape == (3, 6, 8) and torch.equal(rgb[0], rgb[2])


def test_rgba_drops_alpha_by_default_and_can_composite_on_white(tmp_path: Path) -> None:
    a = np.zeros((2, 2, 4), dtype=np.uint8)
    a[..., 0] = 200
    a[..., 3] = 0  # fully transparent
    Image.fromarray(a).save(tmp_path / "a.png")
    assert read_image_uint(tmp_path / "a.png")[0, 0].tolist() == [200, 0, 0]
    assert read_image_uint(tmp_path / "a.png", alpha="composite")[0, 0].tolist() == [255, 255, 255]
    with pytest.raises(ImageReadError, match="alpha"):
        read_image(tmp_path / "a.png", alpha="error")


def test_palette_images_are_expanded_to_rgb(tmp_path: Path) -> None:
    a = RNG.integers(0, 256, size=(5, 5, 3), dtype=np.uint8)
    Image.fromarray(a).convert("P").save(tmp_path / "p.png")
    expected = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    np.testing.assert_array_equal(read_image_uint(tmp_path / "p.png"), expected)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    a = RNG.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif, quality=100)
    assert read_image(tmp_path / "r.jpg").shape == (3, 6, 4)


def test_writing_rounds_half_up_to_8_bits() -> None:
    x = torch.tensor([[[0.5 / 255, 1.5 / 255, 2.4999 / 255, -0.1, 1.2]]], dtype=torch.float64)
    assert to_uint8(x).tolist() == [[1, 2, 2, 0, 255]]


def test_png_text_metadata_round_trips(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", torch.rand(3, 4, 4), text={"invrestore.model": "irn-x4"})
    assert read_png_text(tmp_path / "a.png")["invrestore.model"] == "irn-x4"


@pytest.mark.parametrize("ext", [".jpg", ".webp"])
def test_lossy_formats_write_and_read_back(tmp_path: Path, ext: str) -> None:
    x = torch.rand(3, 16, 16)
    write_image(tmp_path / f"a{ext}", x, quality=90)
    assert read_image(tmp_path / f"a{ext}").shape == (3, 16, 16)


def test_lossless_webp_round_trips(tmp_path: Path) -> None:
    a = RNG.integers(0, 256, size=(9, 11, 3), dtype=np.uint8)
    write_image(tmp_path / "a.webp", a, lossless=True)
    np.testing.assert_array_equal(read_image_uint(tmp_path / "a.webp"), a)


def _make_bad_files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.png"
    write_image(good, RNG.integers(0, 256, size=(32, 32, 3), dtype=np.uint8))
    data = good.read_bytes()
    files = {
        "empty": tmp_path / "empty.png",
        "truncated": tmp_path / "trunc.png",
        "corrupt": tmp_path / "corrupt.jpg",
        "text": tmp_path / "notes.png",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["corrupt"].write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    files["text"].write_text("this is not an image\n")
    files["missing"] = tmp_path / "missing.png"
    files["folder"] = tmp_path
    return files


@pytest.mark.parametrize("kind", ["empty", "truncated", "corrupt", "text", "missing", "folder"])
def test_unreadable_files_raise_image_read_error_naming_the_path(tmp_path: Path, kind: str) -> None:
    path = _make_bad_files(tmp_path)[kind]
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_failed_write_leaves_no_file_behind(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / "a.xyz", torch.rand(3, 4, 4))
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / "nope" / "a.png", torch.rand(3, 4, 4))
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_existing_file_atomically(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    write_image(p, torch.zeros(3, 4, 4))
    write_image(p, torch.ones(3, 4, 4))
    assert read_image(p).min() == 1.0
    assert [q.name for q in tmp_path.iterdir()] == ["a.png"]


# -- pixel limit, probe, atomic writes (issue 19) ---------------------------------------------------------------------
def _png_claiming(path: Path, w: int, h: int) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b""))


def test_pixel_limit_is_ours_configurable_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from invrestore.errors import ConfigError, ImageTooLargeError
    from invrestore.io import DEFAULT_MAX_PIXELS, get_max_pixels, image_size, probe_image, set_max_pixels

    big = tmp_path / "big.png"
    _png_claiming(big, 30000, 30000)
    for fn in (read_image, probe_image, image_size, read_png_text):
        with pytest.raises(ImageTooLargeError, match="INVRESTORE_MAX_PIXELS=900000000"):
            fn(big)
    small = tmp_path / "s.png"
    write_image(small, torch.rand(3, 6, 8))
    assert get_max_pixels() == DEFAULT_MAX_PIXELS
    monkeypatch.setenv("INVRESTORE_MAX_PIXELS", "47")
    with pytest.raises(ImageTooLargeError, match=r"8×6 = 0\.0 MP"):
        read_image(small)
    monkeypatch.setenv("INVRESTORE_MAX_PIXELS", "48")
    assert read_image(small).shape == (3, 6, 8)
    monkeypatch.setenv("INVRESTORE_MAX_PIXELS", "lots")
    with pytest.raises(ConfigError, match="INVRESTORE_MAX_PIXELS"):
        read_image(small)
    monkeypatch.delenv("INVRESTORE_MAX_PIXELS")
    try:
        set_max_pixels(10)
        with pytest.raises(ImageTooLargeError):
            image_size(small)
        with pytest.raises(ConfigError):
            set_max_pixels(0)
    finally:
        set_max_pixels(None)
    monkeypatch.setenv("INVRESTORE_MAX_PIXELS", str(10**9))  # above the claim: Pillow must not refuse it first
    with pytest.raises(ImageReadError, match=r"truncated|corrupt") as e:
        read_image(big)
    assert not isinstance(e.value, ImageTooLargeError)


def test_probe_image_checks_data_cheaply(tmp_path: Path) -> None:
    from invrestore.io import probe_image

    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    for ext, fmt in ((".png", "PNG"), (".jpg", "JPEG")):
        good = tmp_path / f"good{ext}"
        img.save(good, format=fmt)
        assert probe_image(good) == (30, 20, "RGB")
        data = good.read_bytes()
        bad = tmp_path / f"bad{ext}"
        bad.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(ImageReadError, match="truncated"):
            probe_image(bad)
    img.convert("P").save(tmp_path / "p.png")
    assert probe_image(tmp_path / "p.png") == (30, 20, "P")
    Image.fromarray(np.zeros((4, 4), np.float32)).save(tmp_path / "f.tiff")
    with pytest.raises(ImageReadError, match="floating-point"):
        probe_image(tmp_path / "f.tiff")


def test_damaged_png_chunk_is_refused_not_decoded_wrongly(tmp_path: Path) -> None:
    good = tmp_path / "g.png"
    write_image(good, torch.rand(3, 6, 5, generator=torch.Generator().manual_seed(0)))
    data = bytearray(good.read_bytes())
    pos = data.index(b"IDAT") - 1  # low byte of the IDAT length
    data[pos] -= 1
    bad = tmp_path / "b.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="corrupt"):
        read_image(bad)


def test_atomic_write_removes_its_tmp_on_any_exit(tmp_path: Path) -> None:
    import os

    from invrestore.io import atomic_write

    dst = tmp_path / "x.bin"
    for exc in (ValueError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), atomic_write(dst) as fh:
            fh.write(b"partial")
            assert (tmp_path / f".x.bin.tmp-{os.getpid()}").exists()
            raise exc
        assert list(tmp_path.iterdir()) == []
    with atomic_write(dst) as fh:
        fh.write(b"done")
    assert dst.read_bytes() == b"done" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_stale_tmps_of_dead_processes_are_cleaned(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from invrestore.io import clean_stale_tmps

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".a.png.tmp-{dead_pid}"
    mine = tmp_path / f".b.png.tmp-{os.getpid()}"
    other = tmp_path / ".c.png.tmp-x"
    for p in (stale, mine, other):
        p.write_bytes(b"x")
    assert clean_stale_tmps(tmp_path) == [stale]
    assert not stale.exists() and mine.exists() and other.exists()


def test_write_errors_are_one_actionable_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    (tmp_path / "afile").write_text("x")
    with pytest.raises(ImageWriteError, match="is not a folder"):
        write_image(tmp_path / "afile" / "x.png", torch.rand(3, 4, 4))
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_image(tmp_path / "nope" / "x.png", torch.rand(3, 4, 4))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ImageWriteError, match="disk is full"):
        write_image(tmp_path / "x.png", torch.rand(3, 4, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
