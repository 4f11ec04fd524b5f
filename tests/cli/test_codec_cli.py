"""`invrestore pack` / `unpack` (IRN LR in lossless codecs) and `invrestore bench codecs`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from invrestore.cli.main import cli
from invrestore.codecs import LOSSLESS_CODECS, decode, encode_jpeg, encode_lossless, jxl_available
from invrestore.entropy.irnpack import read_pack, write_pack
from invrestore.errors import ConfigError, InvalidBitstream
from invrestore.imageops import pad_to_multiple
from invrestore.io import read_image, write_image
from invrestore.models.catalog import pack_names
from invrestore.models.irn.model import IRN
from invrestore.models.registry import create_model
from invrestore.train import save_weights

CODECS = [c for c in LOSSLESS_CODECS if c != "jxl" or jxl_available()]


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


@pytest.fixture(scope="module")
def irn(tmp_path_factory: pytest.TempPathFactory) -> tuple[IRN, Path]:
    torch.manual_seed(0)
    net = create_model("irn-x2")
    assert isinstance(net, IRN)
    with torch.no_grad():  # leave the near-identity init so the round trip is not trivial
        for p in net.parameters():
            if p.requires_grad and p.dim() == 4:
                p.add_(0.02 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("w") / "irn.safetensors"
    save_weights(net.state_dict(), path)
    return net.eval(), path


@pytest.mark.parametrize("codec", CODECS)
def test_lossless_codecs_round_trip_exactly(codec: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    assert np.array_equal(decode(encode_lossless(a, codec), codec), a)
    g = a[..., 0]
    assert np.array_equal(decode(encode_lossless(g, codec), codec, channels=1), g)


def test_jpeg_is_pillow_420_and_codec_errors() -> None:
    from invrestore.degradations.jpeg import jpeg_encode

    a = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    t = torch.from_numpy(a).permute(2, 0, 1).float() / 255
    assert encode_jpeg(a, 57) == jpeg_encode(t, 57, "4:2:0")
    assert encode_jpeg(a, 57, "4:4:4") != encode_jpeg(a, 57)
    with pytest.raises(ConfigError, match="FLIF"):
        encode_lossless(a, "flif")
    with pytest.raises(ConfigError):
        encode_jpeg(a, 0)
    with pytest.raises(InvalidBitstream):
        decode(b"not an image")
    with pytest.raises(InvalidBitstream):
        decode(encode_lossless(a, "png"), "webp")


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("size", [(16, 20), (15, 21)])
def test_pack_unpack_equals_upscale_of_downscale(
    irn: tuple[IRN, Path], tmp_path: Path, codec: str, size: tuple[int, int]
) -> None:
    net, weights = irn
    h, w = size
    img = tmp_path / "x.png"
    write_image(img, torch.rand(3, h, w, generator=torch.Generator().manual_seed(3)))
    packed, out = tmp_path / f"x.{codec}.irn", tmp_path / "out.png"
    code, msg = run(
        "pack", str(img), "--model", "irn-x2", "--weights", str(weights), "--codec", codec, "-o", str(packed)
    )
    assert code == 0, msg
    code, msg = run("unpack", str(packed), "--weights", str(weights), "--seed", "5", "-o", str(out))
    assert code == 0, msg
    x = read_image(img).unsqueeze(0)
    with torch.no_grad():
        y, _ = net.downscale(pad_to_multiple(x, 2))
        ref = net.upscale(y, generator=torch.Generator().manual_seed(5))[:, :, :h, :w]
    got = read_image(out)
    expected = torch.floor(ref[0].clamp(0, 1) * 255 + 0.5) / 255
    assert torch.equal(got, expected)
    header, payload = read_pack(packed.read_bytes())
    assert header["codec"] == codec and header["size"] == [h, w] and header["scale"] == 2
    assert decode(payload, codec).shape == ((h + 1) // 2, (w + 1) // 2, 3)


def test_jpeg_pack_unpack_runs_the_recorded_crm_between_decoding_and_irn_inverse(
    irn: tuple[IRN, Path], tmp_path: Path
) -> None:
    from invrestore.degradations.jpeg import jpeg_decode
    from invrestore.models.irn.crm import CRM
    from invrestore.models.irn.model import quantize_ste

    net, weights = irn
    torch.manual_seed(1)
    crm = CRM(nf=8, nb=1, gc=4).eval()
    crm_file = tmp_path / "crm.safetensors"
    save_weights(crm.state_dict(), crm_file)
    img = tmp_path / "x.png"
    write_image(img, torch.rand(3, 18, 22, generator=torch.Generator().manual_seed(3)))
    packed = tmp_path / "x.irn"
    args = ["--model", "irn-x2", "--weights", str(weights)]
    # a pack file names a CRM by name only: a weights path is refused at pack time, and given to unpack instead
    code, msg = run(
        "pack", str(img), *args, "--codec", "jpeg", "--quality", "80", "--crm", str(crm_file), "-o", str(packed)
    )
    assert code == 1 and "--crm PATH" in msg and not packed.exists()
    code, msg = run("pack", str(img), *args, "--codec", "jpeg", "--quality", "80", "-o", str(packed))
    assert code == 0, msg
    header, payload = read_pack(packed.read_bytes())
    assert (header["codec"], header["quality"], header["subsampling"], header["crm"]) == ("jpeg", 80, "4:2:0", None)
    out, plain = tmp_path / "out.png", tmp_path / "plain.png"
    unpack = ("unpack", str(packed), "--weights", str(weights), "--seed", "5")
    assert run(*unpack, "--crm", str(crm_file), "-o", str(out))[0] == 0
    assert run(*unpack, "-o", str(plain))[0] == 0
    with torch.no_grad():
        j = jpeg_decode(payload, channels=3).unsqueeze(0)
        for lr, file in ((quantize_ste(crm(j)), out), (j, plain)):
            ref = net.upscale(lr, generator=torch.Generator().manual_seed(5))[0, :, :18, :22]
            assert torch.equal(read_image(file), torch.floor(ref.clamp(0, 1) * 255 + 0.5) / 255)
    assert not torch.equal(read_image(out), read_image(plain))
    # a file that names a path as its CRM (forged, with valid checksums) is refused without opening the path
    forged = tmp_path / "forged.irn"
    forged.write_bytes(
        write_pack(
            {k: v for k, v in header.items() if k not in ("payload_bytes", "crc32")} | {"crm": str(crm_file)}, payload
        )
    )
    code, msg = run("unpack", str(forged), "--weights", str(weights), "-o", str(tmp_path / "gone.png"))
    assert code == 1 and "CRM" in msg and not (tmp_path / "gone.png").exists()


def test_pack_refuses_crm_options_that_cannot_apply(tmp_path: Path) -> None:
    img = tmp_path / "x.png"
    write_image(img, torch.rand(3, 8, 8))
    code, msg = run("pack", str(img), "--codec", "png", "--crm", "crm-q90", "-o", str(tmp_path / "a.irn"))
    assert code == 1 and "--codec jpeg" in msg
    code, msg = run(
        "pack", str(img), "--model", "irn-x4", "--codec", "jpeg", "--crm", "crm-q90", "-o", str(tmp_path / "b.irn")
    )
    assert code == 1 and "irn-x2-noise or irn-x2" in msg and "--model irn-x2 --quality 90" in msg
    code, msg = run(
        "pack",
        str(img),
        "--model",
        "irn-x2-noise",
        "--codec",
        "jpeg",
        "--quality",
        "50",
        "--crm",
        "crm-q90",
        "-o",
        str(tmp_path / "c.irn"),
    )
    assert code == 1 and "JPEG quality 90" in msg
    assert not any(tmp_path.glob("*.irn"))


def test_malformed_pack_files_are_refused(tmp_path: Path) -> None:
    payload = encode_lossless(np.zeros((4, 4, 3), np.uint8), "png")
    head = {"model": "irn-x2", "scale": 2, "size": [8, 8], "lr_size": [4, 4], "channels": 3, "codec": "png"}
    good = write_pack(head, payload)
    assert read_pack(good)[1] == payload
    bad = {
        "magic": b"XXXXXXXX" + good[8:],
        "version": good[:7] + b"\x09" + good[8:],
        "truncated": good[:-3],
        "trailing": good + b"\x00",
        "crc": good[:-1] + bytes([good[-1] ^ 1]),
        "short": good[:6],
        "size": write_pack(dict(head, size=[80, 8]), payload),
    }
    for name, data in bad.items():
        with pytest.raises(InvalidBitstream):
            read_pack(data, name)
    # a well-formed pack that names something we do not ship is refused by unpack (no path from a file)
    for field, value, says in (("model", "irn-x5", "not a registered IRN"), ("model", "crm-q90", "not a registered")):
        forged = tmp_path / f"forged-{value}.irn"
        forged.write_bytes(write_pack(dict(head, **{field: value}), payload))
        code, msg = run("unpack", str(forged), "-o", str(tmp_path / "f.png"))
        assert code == 1 and says in msg and not (tmp_path / "f.png").exists(), msg
    jpeg_head = dict(head, codec="jpeg", quality=90, subsampling="4:2:0", crm="crm-q42")
    with pytest.raises(InvalidBitstream, match="not a shipped CRM"):
        read_pack(write_pack(jpeg_head, payload), "x.irn", names=pack_names())
    assert read_pack(write_pack(jpeg_head, payload))[0]["crm"] == "crm-q42"  # the container alone checks forms only
    f = tmp_path / "bad.irn"
    f.write_bytes(bad["crc"])
    code, msg = run("unpack", str(f), "-o", str(tmp_path / "o.png"))
    assert code == 1 and "CRC" in msg and not (tmp_path / "o.png").exists()


def test_bench_codecs_bicubic_and_jpeg_rows(irn: tuple[IRN, Path], tmp_path: Path) -> None:
    _, weights = irn
    root = tmp_path / "data"
    folder = root / "Kodak24"
    folder.mkdir(parents=True)
    for i in range(2):
        g = torch.Generator().manual_seed(i)
        base = torch.nn.functional.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(24, 32), mode="bilinear")
        write_image(folder / f"kodim{i + 1:02d}.png", base[0])
    out = tmp_path / "bench.csv"
    code, msg = run(
        "bench", "codecs", "--data-root", str(root), "--scale", "2,4", "--codecs", "png,webp",
        "--model-weights", f"irn-x2={weights}", "--csv", str(out),
    )  # fmt: skip
    assert code == 0, msg
    rows = list(csv.DictReader(out.open()))
    methods = {(r["scale"], r["method"], r["codec"]) for r in rows}
    assert {("2", "irn", "png"), ("2", "bicubic", "webp"), ("4", "bicubic", "png"), ("4", "jpeg", "jpeg")} <= methods
    assert ("4", "irn", "png") not in methods  # no irn-x4 weights given
    for r in rows:
        assert int(r["total_bytes"]) > 0 and r["images"] == "2"
        if r["method"] == "jpeg":
            assert 1 <= int(r["jpeg_quality"]) <= 100 and "4:2:0" in r["encoder"]
    bic = [r for r in rows if r["method"] == "bicubic" and r["scale"] == "2"]
    assert len({r["psnr_rgb"] for r in bic}) == 1  # lossless: PSNR does not depend on the codec
    png_lr = sum(
        len(encode_lossless(np.asarray(_bicubic_lr(folder / f"kodim{i + 1:02d}.png", 2)), "png")) for i in range(2)
    )
    assert int(next(r for r in bic if r["codec"] == "png")["total_bytes"]) == png_lr


def _bicubic_lr(path: Path, s: int) -> np.ndarray:
    from invrestore.degradations.rescaling import BicubicMethod
    from invrestore.io import to_uint8

    x = read_image(path, mode="rgb")
    return to_uint8(BicubicMethod().downscale(x.unsqueeze(0), s)[0])
