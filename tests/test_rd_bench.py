"""The R–D benchmark (`invrestore.evaluation.rd`, `invrestore bench rd`): real vs estimated rate of learned codecs,
reference codecs' bytes and quality ordering, skipped optional encoders, and the CSV written by the command."""

from __future__ import annotations

import csv
import io
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from invrestore.errors import CheckpointError, ConfigError
from invrestore.evaluation.rd import (
    CSV_COLUMNS,
    as_named_images,
    method_and_quality,
    rd_csv_text,
    rd_points_learned,
    rd_points_reference,
    reference_unavailable_reason,
)
from invrestore.io import read_image, to_uint8, write_image
from invrestore.models import create_model
from invrestore.models.ilc import BLS2017
from invrestore.train import save_weights

SIZE = 64


def _sample(name: str) -> torch.Tensor:
    path = resources.files("invrestore") / "assets" / "samples" / f"{name}_crop256.png"
    with resources.as_file(path) as p:
        return read_image(p, mode="rgb")


@pytest.fixture(scope="module")
def images() -> dict[str, torch.Tensor]:
    """Two 64×64 natural crops (8-bit values)."""
    return {
        "kodim23": _sample("kodim23")[:, 60 : 60 + SIZE, 80 : 80 + SIZE].contiguous(),
        "kodim05": _sample("kodim05")[:, 100 : 100 + SIZE, 30 : 30 + SIZE].contiguous(),
    }


def _ilc_tiny(seed: int = 0, update: bool = True) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model("ilc-tiny").eval()
    with torch.no_grad():  # away from the identity IEM, so the reconstruction is not trivially good
        for p in model.iem.parameters():  # type: ignore[union-attr]
            if p.requires_grad and p.dim() == 4:
                p.add_(0.02 * torch.randn_like(p))
    if update:
        model.update()  # type: ignore[operator]
    return model


def _bls8(seed: int = 0) -> BLS2017:
    torch.manual_seed(seed)
    model = BLS2017(N=8).eval()
    model.update()
    return model


@pytest.fixture(scope="module")
def codecs() -> dict[str, torch.nn.Module]:
    return {"ilc-tiny": _ilc_tiny(), "bls2017-8": _bls8()}


@pytest.mark.parametrize("name", ["ilc-tiny", "bls2017-8"])
def test_learned_point_real_rate_is_the_container_size_and_close_to_the_estimate(
    name: str, codecs: dict[str, torch.nn.Module], images: dict[str, torch.Tensor]
) -> None:
    codec = codecs[name]
    (point,) = rd_points_learned(codec, images)
    assert point.name == name and point.quality is None
    assert [r.image for r in point.per_image] == list(images)
    for row, x in zip(point.per_image, images.values()):
        bits = codec.compress(x[None])  # type: ignore[operator]
        data = bits.to_bytes()
        hw = SIZE * SIZE
        assert row.num_bytes == len(data)
        assert row.bpp_real == pytest.approx(8 * len(data) / hw)
        assert row.bpp_estimated is not None
        real_bits, est_bits = row.bpp_real * hw, row.bpp_estimated * hw
        assert real_bits >= est_bits - 1.0  # the estimate is (almost) a lower bound of the file
        assert real_bits <= 1.01 * est_bits + 8 * bits.header_bytes + 64  # + container header + ANS flush
        assert 5.0 < row.psnr_rgb < 60.0
        assert row.ms_ssim is None  # 64×64 is too small for 5 scales
        assert row.psnr_no_quant is not None and np.isfinite(row.psnr_no_quant)
    assert point.bpp_real == pytest.approx(np.mean([r.bpp_real for r in point.per_image]))
    assert point.psnr_rgb == pytest.approx(np.mean([r.psnr_rgb for r in point.per_image]))
    assert point.bpp_estimated == pytest.approx(np.mean([r.bpp_estimated for r in point.per_image]))


def test_learned_psnr_is_that_of_the_decoded_file(
    codecs: dict[str, torch.nn.Module], images: dict[str, torch.Tensor]
) -> None:
    from invrestore.entropy import Bitstream
    from invrestore.metrics import psnr

    codec = codecs["ilc-tiny"]
    (point,) = rd_points_learned(codec, images, name="ilc", quality=7, no_quant=False)
    assert (point.name, point.quality, point.psnr_no_quant) == ("ilc", 7, None)
    x = images["kodim23"]
    x_hat = codec.decompress(Bitstream.from_bytes(codec.compress(x[None]).to_bytes()))  # type: ignore[operator]
    assert point.per_image[0].psnr_rgb == pytest.approx(float(psnr(x_hat[0].double(), x.double())))


def test_learned_codec_without_tables_is_refused(images: dict[str, torch.Tensor]) -> None:
    with pytest.raises(CheckpointError, match="no coding tables"):
        rd_points_learned(_ilc_tiny(update=False), images)


def test_method_and_quality() -> None:
    assert method_and_quality("ilc-q3") == ("ilc", 3)
    assert method_and_quality("bls2017-256", "teacher_q2") == ("bls2017-256", "teacher_q2")
    assert method_and_quality("ilc-small") == ("ilc-small", None)


def test_jpeg_bpp_is_pillows_file_size_and_psnr_grows_with_quality(images: dict[str, torch.Tensor]) -> None:
    qualities = [10, 50, 90]
    points = rd_points_reference("jpeg", qualities, images)
    assert [p.quality for p in points] == qualities
    for p in points:
        assert p.name == "jpeg" and p.bpp_estimated is None and p.psnr_no_quant is None
        assert "4:2:0" in p.settings
        for row, x in zip(p.per_image, images.values()):
            buf = io.BytesIO()
            Image.fromarray(to_uint8(x)).save(buf, format="JPEG", quality=p.quality)  # Pillow's defaults
            assert row.num_bytes == len(buf.getvalue())
            assert row.bpp_real == 8 * len(buf.getvalue()) / (SIZE * SIZE)
    psnrs = [p.psnr_rgb for p in points]
    assert psnrs == sorted(psnrs) and psnrs[0] < psnrs[-1] - 3.0
    bpps = [p.bpp_real for p in points]
    assert bpps == sorted(bpps)


def test_webp_points_and_ms_ssim_on_a_large_enough_image() -> None:
    x = _sample("kodim03")[:, :168, :176].contiguous()
    lo, hi = rd_points_reference("webp", [20, 90], [x])
    assert lo.per_image[0].image == "img000"
    assert lo.ms_ssim is not None and hi.ms_ssim is not None
    assert 0.5 < lo.ms_ssim < hi.ms_ssim <= 1.0
    assert lo.psnr_rgb < hi.psnr_rgb and lo.bpp_real < hi.bpp_real


@pytest.mark.parametrize("key", ["jxl", "heif"])
def test_optional_encoders_run_when_installed(key: str, images: dict[str, torch.Tensor]) -> None:
    reason = reference_unavailable_reason(key)
    if reason is not None:
        pytest.skip(reason)
    lo, hi = rd_points_reference(key, [20, 90], images)
    assert lo.psnr_rgb < hi.psnr_rgb and lo.bpp_real < hi.bpp_real
    assert all(r.num_bytes > 0 for r in lo.per_image)


@pytest.mark.parametrize(("key", "module"), [("jxl", "pillow_jxl"), ("heif", "pillow_heif")])
def test_missing_optional_encoder_is_skipped_with_a_note(
    key: str, module: str, images: dict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    notes: list[str] = []
    assert rd_points_reference(key, [50], images, on_skip=notes.append) == []
    assert len(notes) == 1 and "skipped" in notes[0] and module in notes[0]
    with pytest.warns(RuntimeWarning, match="skipped"):
        assert rd_points_reference(key, None, images) == []


def test_bad_arguments_are_config_errors(images: dict[str, torch.Tensor]) -> None:
    with pytest.raises(ConfigError, match="unknown reference codec"):
        rd_points_reference("bpg", [10], images)
    with pytest.raises(ConfigError, match="quality"):
        rd_points_reference("jpeg", [0], images)
    with pytest.raises(ConfigError, match="RGB"):
        as_named_images([torch.zeros(1, 8, 8)])
    with pytest.raises(ConfigError, match="no images"):
        as_named_images([])


# -- the command ---------------------------------------------------------------------------------------------------


@pytest.fixture()
def bench_setup(tmp_path: Path, images: dict[str, torch.Tensor], codecs: dict[str, torch.nn.Module]) -> Path:
    """A data root with a two-image ``Kodak24`` folder and the weights of both tiny codecs."""
    kodak = tmp_path / "data" / "Kodak24"
    kodak.mkdir(parents=True)
    for name, x in images.items():
        write_image(kodak / f"{name}.png", x)
    for name, codec in codecs.items():
        save_weights(codec.state_dict(), tmp_path / f"{name}.safetensors")
    return tmp_path


def _run(*args: str) -> tuple[int, str, BaseException | None]:
    from invrestore.cli.rd import rd_cmd

    res = CliRunner().invoke(rd_cmd, list(args))
    return res.exit_code, res.output, res.exception


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


def test_command_writes_one_row_per_method_and_quality(
    bench_setup: Path,
    images: dict[str, torch.Tensor],
    codecs: dict[str, torch.nn.Module],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # heif skipped with a note
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # the plot is optional
    out = bench_setup / "rd.csv"
    per_image = bench_setup / "rd_images.csv"
    plot = bench_setup / "rd.png"
    code, text, exc = _run(
        "--models",
        f"ilc-tiny={bench_setup / 'ilc-tiny.safetensors'}",
        "--models",
        f"bls2017-8={bench_setup / 'bls2017-8.safetensors'}",
        "--dataset",
        "Kodak24",
        "--data-root",
        str(bench_setup / "data"),
        "--references",
        "jpeg,heif",
        "--qualities",
        "jpeg=20,80",
        "--qualities",
        "50",
        "--csv",
        str(out),
        "--per-image-csv",
        str(per_image),
        "--plot",
        str(plot),
    )
    assert code == 0, (text, exc)
    assert "Kodak24: 2 images" in text
    assert "note: heif: skipped" in text and "pillow_heif" in text
    assert "matplotlib is not installed" in text and not plot.exists()
    rows = _read_csv(out)
    assert [(r["method"], r["quality"]) for r in rows] == [
        ("ilc-tiny", "ilc-tiny"),
        ("bls2017-8", "bls2017-8"),
        ("jpeg", "20"),
        ("jpeg", "80"),
    ]
    (expected,) = rd_points_learned(codecs["ilc-tiny"], images)  # same images, read back from 8-bit PNGs
    ilc = rows[0]
    assert float(ilc["bpp_real"]) == pytest.approx(expected.bpp_real, abs=1e-6)
    assert float(ilc["psnr_rgb"]) == pytest.approx(expected.psnr_rgb, abs=1e-5)
    assert float(ilc["bpp_est"]) == pytest.approx(expected.bpp_estimated, abs=1e-6)
    assert ilc["psnr_no_quant"] and ilc["ms_ssim"] == ""
    assert rows[2]["bpp_est"] == "" and rows[2]["psnr_no_quant"] == ""
    assert float(rows[2]["psnr_rgb"]) < float(rows[3]["psnr_rgb"])
    with per_image.open(newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 4 * 2
    assert not list(bench_setup.glob(".*.tmp*"))


def test_command_limit_and_default_references(bench_setup: Path) -> None:
    out = bench_setup / "ref.csv"
    code, text, exc = _run(
        "--data-root", str(bench_setup / "data"), "--limit", "1", "--qualities", "30", "--csv", str(out)
    )
    assert code == 0, (text, exc)
    assert "Kodak24: 1 images" in text
    assert [(r["method"], r["quality"]) for r in _read_csv(out)] == [("jpeg", "30"), ("webp", "30")]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--models", "ilc-tiny", "--references", "jpeg"], "NAME=WEIGHTS"),
        (["--references", "bpg"], "unknown reference codec"),
        (["--references", "none"], "nothing to benchmark"),
        (["--references", "jpeg", "--qualities", "webp=10"], "not in --references"),
        (["--references", "jpeg", "--qualities", "ten"], "integers"),
    ],
)
def test_command_refuses_bad_arguments_without_writing(bench_setup: Path, args: list[str], match: str) -> None:
    out = bench_setup / "bad.csv"
    code, _, exc = _run(*args, "--data-root", str(bench_setup / "data"), "--csv", str(out))
    assert code != 0 and isinstance(exc, ConfigError)
    assert match in str(exc)
    assert not out.exists()


def test_rd_csv_text_header_only_without_points() -> None:
    assert rd_csv_text([]).strip() == ",".join(CSV_COLUMNS)
