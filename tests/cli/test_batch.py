"""Batch inference: folders and globs, collisions refused before any write, --resume, failures summarised with exit 1,
torchrun sharding, W×H printing, device resolution, validated LR metadata, grayscale through IRN."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from invrestore import devices
from invrestore.batch import dist_info, expand_inputs, output_paths, pending, shard
from invrestore.cli.main import cli
from invrestore.errors import ConfigError, ImageReadError
from invrestore.io import read_image, read_image_uint, read_png_text, write_image


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def _png(path: Path, h: int, w: int, seed: int, channels: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (h, w, channels) if channels == 3 else (h, w)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def _corrupt_pixels(path: Path) -> None:
    """Replace the IDAT payload by bytes that are not zlib data, with a valid CRC: the header and the chunk
    checksums pass, decoding the pixels fails."""
    data = bytearray(path.read_bytes())
    i = data.index(b"IDAT") - 4
    (n,) = struct.unpack(">I", data[i : i + 4])
    junk = bytes((7 * k + 3) % 256 for k in range(n))
    crc = struct.pack(">I", zlib.crc32(b"IDAT" + junk) & 0xFFFFFFFF)
    data[i + 8 : i + 8 + n] = junk
    data[i + 8 + n : i + 12 + n] = crc
    path.write_bytes(bytes(data))


# -- library ----------------------------------------------------------------------------------------------------
def test_inputs_expand_folders_globs_and_files_sorted_without_duplicates(tmp_path: Path) -> None:
    for name in ("b.png", "a.jpg", "c.txt", ".hidden.png", "sub/d.png", "sub/deeper/e.webp"):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    got = expand_inputs([str(tmp_path), str(tmp_path / "b.png"), str(tmp_path / "**" / "*.png")])
    assert got == [tmp_path / "a.jpg", tmp_path / "b.png", tmp_path / "sub" / "d.png"]
    rec = expand_inputs([str(tmp_path)], recursive=True)
    assert [p.name for p in rec] == ["a.jpg", "b.png", "d.png", "e.webp"]
    with pytest.raises(ConfigError, match=r"matches no"):
        expand_inputs([str(tmp_path / "*.tiff")])
    with pytest.raises(ImageReadError, match="no such file"):
        expand_inputs([str(tmp_path / "missing.png")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="has no"):
        expand_inputs([str(tmp_path / "empty")])


def test_colliding_output_names_are_refused_naming_both(tmp_path: Path) -> None:
    ins = [Path("x/a.png"), Path("y/b.jpg"), Path("x/a.webp")]
    with pytest.raises(ConfigError, match=r"x/a\.png and x/a\.webp would both be written as .*a\.png"):
        output_paths(ins, tmp_path)
    assert output_paths(ins[:2], tmp_path, ".irc") == [tmp_path / "a.irc", tmp_path / "b.irc"]


def test_shards_are_disjoint_deterministic_and_cover_the_list() -> None:
    items = list(range(11))
    parts = [shard(items, r, 3) for r in range(3)]
    assert sorted(x for part in parts for x in part) == items
    assert all(not set(a) & set(b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    assert parts == [shard(items, r, 3) for r in range(3)]
    with pytest.raises(ConfigError):
        shard(items, 3, 3)


def test_dist_info_reads_torchrun_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert dist_info().world == 1 and not dist_info().distributed
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = dist_info()
    assert (info.rank, info.world, info.local_rank) == (5, 8, 1) and info.prefix == "[rank 5/8] "
    monkeypatch.setenv("RANK", "8")
    with pytest.raises(ConfigError, match="inconsistent torchrun"):
        dist_info()


def test_resume_skips_only_complete_existing_outputs(tmp_path: Path) -> None:
    done, empty = tmp_path / "done.png", tmp_path / "empty.png"
    done.write_bytes(b"png")
    empty.write_bytes(b"")
    todo, skipped = pending(["d", "e", "m"], [done, empty, tmp_path / "missing.png"], resume=True)
    assert skipped == ["d"] and todo == ["e", "m"]
    assert pending(["d"], [done], resume=False) == (["d"], [])


def test_devices_resolve_with_a_listing_of_the_available_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "_cuda_count", lambda: 0)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")
    assert devices.resolve_device("CPU") == torch.device("cpu")
    for bad in ("banana", "cuda", "cuda:0", "cpu:1", "mps"):
        with pytest.raises(ConfigError, match=r"available here: auto, cpu$"):
            devices.resolve_device(bad)
    monkeypatch.setattr(devices, "_cuda_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert devices.resolve_device("auto") == torch.device("cuda", 1)  # torchrun: this process's GPU
    assert devices.resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match=r"2 CUDA GPU\(s\)\); available here: auto, cpu, cuda, cuda:0, cuda:1"):
        devices.resolve_device("cuda:2")


# -- the commands -----------------------------------------------------------------------------------------------
def test_folders_and_globs_downscale_printing_w_by_h(tmp_path: Path) -> None:
    _png(tmp_path / "in" / "wide.png", 12, 20, 0)
    _png(tmp_path / "in" / "tall.jpg", 18, 10, 1)
    _png(tmp_path / "more" / "x.png", 8, 8, 2)
    code, out, err = run(
        "downscale", str(tmp_path / "in"), str(tmp_path / "more" / "*.png"), "--model", "irn-x2",
        "-o", str(tmp_path / "lr"),
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "lr").iterdir()) == ["tall.png", "wide.png", "x.png"]
    assert "wide.png (20×12) -> " in out and "(10×6)" in out  # width × height
    assert read_image_uint(tmp_path / "lr" / "wide.png").shape[:2] == (6, 10)
    assert "downscale: 3 written, 0 skipped, 0 failed" in out


def test_colliding_inputs_are_refused_before_any_write(tmp_path: Path) -> None:
    srcs = [str(_png(tmp_path / f"a{ext}", 8, 8, i)) for i, ext in enumerate((".png", ".jpg", ".webp"))]
    for cmd in ("downscale", "decolorize"):
        code, _, err = run(cmd, *srcs, "-o", str(tmp_path / "out"))
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert "a.png and" in err and "would both be written" in err
        assert not (tmp_path / "out").exists()


def test_resume_finishes_an_interrupted_batch_and_keeps_existing_outputs(tmp_path: Path) -> None:
    for i in range(3):
        _png(tmp_path / "in" / f"im{i}.png", 8, 10, i)
    args = ("downscale", str(tmp_path / "in"), "--model", "irn-x2", "-o", str(tmp_path / "lr"))
    assert run(*args)[0] == 0
    reference = {p.name: p.read_bytes() for p in (tmp_path / "lr").iterdir()}
    (tmp_path / "lr" / "im1.png").unlink()  # as if killed before im1 was written
    sentinel = _png(tmp_path / "lr" / "im2.png", 3, 3, 9).read_bytes()
    code, out, err = run(*args, "--resume")
    assert code == 0, err
    assert "1 written, 2 skipped, 0 failed" in out
    assert (tmp_path / "lr" / "im1.png").read_bytes() == reference["im1.png"]
    assert (tmp_path / "lr" / "im2.png").read_bytes() == sentinel  # existing outputs are not redone
    code, out, _ = run(*args, "--resume")
    assert code == 0 and "0 written, 3 skipped, 0 failed" in out


def test_a_file_failing_mid_batch_is_reported_the_rest_written_and_exit_is_1(tmp_path: Path) -> None:
    for i in range(3):
        _png(tmp_path / "in" / f"im{i}.png", 8, 8, i)
    _corrupt_pixels(tmp_path / "in" / "im1.png")
    code, out, err = run("downscale", str(tmp_path / "in"), "--model", "irn-x2", "-o", str(tmp_path / "lr"))
    assert code == 1
    assert "2 written, 0 skipped, 1 failed" in out
    assert sorted(p.name for p in (tmp_path / "lr").iterdir()) == ["im0.png", "im2.png"]
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "im1.png" in lines[0] and "1 of 3 inputs failed" in lines[1], err
    assert "Traceback" not in err


def test_a_single_failing_input_is_one_line_and_leaves_no_folder(tmp_path: Path) -> None:
    _corrupt_pixels(_png(tmp_path / "a.png", 8, 8, 0))
    code, _, err = run("downscale", str(tmp_path / "a.png"), "--model", "irn-x2", "-o", str(tmp_path / "lr"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "a.png" in err
    assert not (tmp_path / "lr").exists()


def test_bad_device_is_one_line_listing_the_available_devices(tmp_path: Path) -> None:
    src = str(_png(tmp_path / "a.png", 8, 8, 0))
    for cmd in ("downscale", "restore"):
        extra = ("--task", "denoise", "--model", "dncnn-s-denoise25") if cmd == "restore" else ()
        code, _, err = run(cmd, src, *extra, "-o", str(tmp_path / "o"), "--device", "banana")
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert "unknown device 'banana'" in err and "available here: auto, cpu" in err
    if not torch.cuda.is_available():
        code, _, err = run("downscale", src, "-o", str(tmp_path / "o"), "--device", "cuda")
        assert code == 1 and "'cuda' is not available" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("invrestore.size", "abc", "not a size"),
        ("invrestore.size", "9x9", "does not match"),
        ("invrestore.scale", "two", "not a scale"),
        ("invrestore.channels", "7", "not 1 or 3"),
        ("invrestore.model", "/etc/passwd", "not an IRN model"),
    ],
)
def test_forged_lr_metadata_is_refused_naming_the_field(tmp_path: Path, key: str, value: str, why: str) -> None:
    meta = {"invrestore.model": "irn-x2", "invrestore.scale": "2", "invrestore.size": "8x8", "invrestore.channels": "3"}
    meta[key] = value
    info = PngImagePlugin.PngInfo()
    for k, v in meta.items():
        info.add_text(k, v)
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "lr.png", pnginfo=info)
    code, _, err = run("upscale", str(tmp_path / "lr.png"), "-o", str(tmp_path / "hr"))
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert key in err and why in err
    assert not (tmp_path / "hr").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_temperature_must_be_finite_and_positive(tmp_path: Path, value: str) -> None:
    code, _, err = run(
        "upscale", str(_png(tmp_path / "a.png", 4, 4, 0)), "-o", str(tmp_path / "hr"), "--temperature", value
    )
    assert code == 1 and "--temperature must be a finite number > 0" in err
    assert not (tmp_path / "hr").exists()


def test_restore_numeric_options_are_range_checked(tmp_path: Path) -> None:
    src = str(_png(tmp_path / "a.png", 8, 8, 0))
    base = ("restore", src, "-o", str(tmp_path / "o"), "--degrade")
    assert run(*base, "--task", "denoise", "--sigma", "nan", "--model", "dncnn-s-denoise25")[0] != 0
    assert run(*base, "--task", "denoise", "--sigma", "300", "--model", "dncnn-s-denoise25")[0] != 0
    assert run(*base, "--task", "dejpeg", "--quality", "0", "--model", "arcnn")[0] != 0
    assert run(*base, "--task", "dejpeg", "--quality", "101", "--model", "arcnn")[0] != 0
    assert run(*base, "--task", "denoise", "--sigma", "25", "--seed", "-1")[0] != 0
    assert not (tmp_path / "o").exists()


def test_gray_images_keep_irn_lossless_and_come_back_gray(data_root: Path, tmp_path: Path) -> None:
    from invrestore.metrics import psnr
    from invrestore.models import create_model

    bridge = data_root / "eval" / "Set14" / "bridge.png"  # a grayscale benchmark image
    if not bridge.is_file():
        pytest.skip("Set14 bridge.png not in the benchmark data")
    x = read_image(bridge)[:, 200:296, 200:296]
    assert x.shape[0] == 1
    write_image(tmp_path / "g.png", x)
    assert run("downscale", str(tmp_path / "g.png"), "--model", "irn-x2", "-o", str(tmp_path / "lr"))[0] == 0
    lr = read_image(tmp_path / "lr" / "g.png")
    assert lr.shape == (3, 48, 48)  # the three LR channels IRN wrote, not their average
    assert read_png_text(tmp_path / "lr" / "g.png")["invrestore.channels"] == "1"
    assert run("upscale", str(tmp_path / "lr" / "g.png"), "-o", str(tmp_path / "hr"))[0] == 0
    hr = read_image(tmp_path / "hr" / "g.png")
    assert hr.shape == (1, 96, 96)  # gray in, gray out
    # the old behaviour, the LR averaged to one channel, as the reference it must clearly beat
    net = create_model("irn-x2", pretrained=True).eval()
    with torch.no_grad():
        y = torch.round(lr.mean(0, keepdim=True).expand(3, -1, -1) * 255) / 255
        old = net.upscale(y[None], generator=torch.Generator().manual_seed(0))[0].clamp(0, 1).mean(0, keepdim=True)
        old = torch.round(old * 255) / 255
    p_new, p_old = float(psnr(hr[None], x[None])[0]), float(psnr(old[None], x[None])[0])
    assert p_new > p_old + 1.0, (p_new, p_old)


def test_compress_and_decompress_folders_under_a_memory_check(tmp_path: Path) -> None:
    _png(tmp_path / "in" / "a.png", 32, 48, 0)
    _png(tmp_path / "in" / "b.png", 16, 16, 1, channels=1)
    code, out, err = run("compress", str(tmp_path / "in"), "--model", "ilc-small-q1", "-o", str(tmp_path / "irc"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "irc").iterdir()) == ["a.irc", "b.irc"]
    assert "a.png (48×32) -> " in out and "2 written" in out
    code, out, err = run("decompress", str(tmp_path / "irc" / "*.irc"), "-o", str(tmp_path / "dec"))
    assert code == 0, err
    assert read_image(tmp_path / "dec" / "a.png").shape == (3, 32, 48)
    assert read_image(tmp_path / "dec" / "b.png").shape == (3, 16, 16)
    code, _, err = run("compress", str(tmp_path / "in"), "--model", "ilc-small-q1", "-o", str(tmp_path / "x"),
                       "--max-memory", "100kB")  # fmt: skip
    assert code == 1 and len(err.strip().splitlines()) == 1 and "--max-memory" in err and "a.png" in err, err
    assert not (tmp_path / "x").exists()
