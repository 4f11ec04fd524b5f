"""`invrestore compress` / `invrestore decompress`: round trips, real bpp, and one-line refusals with no output."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from invrestore.cli.main import cli
from invrestore.entropy import Bitstream
from invrestore.io import read_image, write_image
from invrestore.models import create_model
from invrestore.train import save_weights


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return res.exit_code, res.output


def _tiny(seed: int, path: Path, update: bool = True) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model("ilc-tiny").eval()
    with torch.no_grad():  # move away from the identity IEM so the test is not trivial
        for p in model.iem.parameters():  # type: ignore[union-attr]
            if p.requires_grad and p.dim() == 4:
                p.add_(0.02 * torch.randn_like(p))
    if update:
        model.update()  # type: ignore[operator]
    save_weights(model.state_dict(), path)
    return model


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path, torch.nn.Module]:
    weights = tmp_path / "ilc.safetensors"
    model = _tiny(0, weights)
    image = tmp_path / "img.png"
    g = torch.Generator().manual_seed(0)
    base = torch.rand(3, 4, 5, generator=g)
    write_image(image, torch.nn.functional.interpolate(base[None], size=(37, 50), mode="bilinear")[0].clamp(0, 1))
    return image, weights, model


def test_round_trip_prints_the_real_bpp_and_matches_the_library(setup: tuple[Path, Path, torch.nn.Module]) -> None:
    image, weights, model = setup
    irc = image.with_name("a.irc")
    code, out = run("compress", str(image), "-o", str(irc), "--model", "ilc-tiny", "--weights", str(weights))
    assert code == 0, out
    size = irc.stat().st_size
    assert f"{size} bytes, {8 * size / (37 * 50):.4f} bpp" in out
    assert "estimated" in out
    dec = image.with_name("b.png")
    code, out = run("decompress", str(irc), "-o", str(dec), "--weights", str(weights))
    assert code == 0, out
    x = read_image(image, mode="rgb")
    expected = model.decompress(Bitstream.from_bytes(irc.read_bytes()))  # type: ignore[operator]
    decoded = read_image(dec, mode="rgb")
    assert decoded.shape == (3, 37, 50)
    assert torch.equal(decoded, torch.floor(expected[0] * 255 + 0.5) / 255)
    with torch.no_grad():
        assert model.compress(x).to_bytes() == irc.read_bytes()  # type: ignore[operator]


def _refused(code: int, out: str, output: Path, message: str) -> None:
    assert code == 1, out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("invrestore: error:"), out
    assert message in out, out
    assert not output.exists()
    assert not list(output.parent.glob(f".{output.name}.*"))  # no temporary left behind


def test_truncated_corrupt_and_foreign_files_are_refused(setup: tuple[Path, Path, torch.nn.Module]) -> None:
    image, weights, _ = setup
    irc = image.with_name("a.irc")
    assert run("compress", str(image), "-o", str(irc), "--model", "ilc-tiny", "--weights", str(weights))[0] == 0
    data = irc.read_bytes()
    out = image.with_name("out.png")
    cases = {
        "trunc.irc": (data[: len(data) // 2], "truncated"),
        "flip.irc": (data[:20] + bytes([data[20] ^ 1]) + data[21:], "checksum"),
        "png.irc": (image.read_bytes(), "not an invrestore compressed file"),
        "empty.irc": (b"", "not an invrestore compressed file"),
    }
    for name, (content, message) in cases.items():
        bad = image.with_name(name)
        bad.write_bytes(content)
        _refused(*run("decompress", str(bad), "-o", str(out), "--weights", str(weights)), out, message)
    _refused(*run("decompress", str(image.with_name("missing.irc")), "-o", str(out)), out, "no such file")


def test_a_container_from_other_weights_is_refused(setup: tuple[Path, Path, torch.nn.Module], tmp_path: Path) -> None:
    image, weights, _ = setup
    irc = tmp_path / "a.irc"
    assert run("compress", str(image), "-o", str(irc), "--model", "ilc-tiny", "--weights", str(weights))[0] == 0
    other = tmp_path / "other.safetensors"
    _tiny(1, other)
    out = tmp_path / "out.png"
    _refused(*run("decompress", str(irc), "-o", str(out), "--weights", str(other)), out, "other weights")
    # weights of another architecture for the model named in the file
    bls = tmp_path / "bls.safetensors"
    teacher = create_model("bls2017-128").eval()
    teacher.update()  # type: ignore[operator]
    save_weights(teacher.state_dict(), bls)
    _refused(*run("decompress", str(irc), "-o", str(out), "--weights", str(bls)), out, "do not fit")
    # no weights at all
    _refused(*run("decompress", str(irc), "-o", str(out)), out, "--weights")


def test_compress_refusals_leave_no_file(setup: tuple[Path, Path, torch.nn.Module], tmp_path: Path) -> None:
    image, weights, _ = setup
    irc = tmp_path / "x.irc"
    untabled = tmp_path / "untabled.safetensors"
    _tiny(0, untabled, update=False)
    args = ("compress", str(image), "-o", str(irc))
    _refused(*run(*args, "--model", "ilc-tiny", "--weights", str(untabled)), irc, "no coding tables")
    _refused(*run(*args, "--model", "irn-x2", "--weights", str(weights)), irc, "not a learned image codec")
    _refused(*run(*args, "--model", "nope", "--weights", str(weights)), irc, "unknown codec")
    _refused(*run(*args, "--model", "ilc-small", "--weights", str(weights)), irc, "do not fit")
    bad_image = tmp_path / "bad.png"
    bad_image.write_bytes(b"not a png")
    _refused(
        *run("compress", str(bad_image), "-o", str(irc), "--model", "ilc-tiny", "--weights", str(weights)), irc, ""
    )


def test_train_writes_codec_weights_that_compress_accepts(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(2):
        write_image(folder / f"im{i}.png", torch.rand(3, 40, 48, generator=g))
    cfg = tmp_path / "teacher.yaml"
    cfg.write_text(
        "family: bls2017\nmodel:\n  name: bls2017-8\n"
        f"data:\n  train_folders: [{folder}]\n  crop_size: 32\n"
        "train:\n  steps: 2\n  batch_size: 2\n  log_every: 1\n  val_every: 100\n  ckpt_every: 100\n"
    )
    code, out = run("train", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress")
    assert code == 0, out
    weights = tmp_path / "run" / "bls2017-8.safetensors"
    assert f"codec weights with coding tables: {weights}" in out
    irc = tmp_path / "a.irc"
    code, out = run(
        "compress", str(folder / "im0.png"), "-o", str(irc), "--model", "bls2017-8", "--weights", str(weights)
    )
    assert code == 0, out
    code, out = run("decompress", str(irc), "-o", str(tmp_path / "b.png"), "--weights", str(weights))
    assert code == 0 and read_image(tmp_path / "b.png", mode="rgb").shape == (3, 40, 48), out
