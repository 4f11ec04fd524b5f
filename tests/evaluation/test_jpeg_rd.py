"""IRN Fig. 9 R–D benchmark: IRN/bicubic + JPEG (+ CRM) and JPEG alone from real files; bicubic-LR CRM training."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from invrestore.cli.main import cli
from invrestore.errors import CheckpointError, ConfigError, ScaleError
from invrestore.evaluation.jpeg_rd import METHODS, JpegRDPoint, jpeg_rd_points, psnr_u8
from invrestore.io import to_uint8, write_image
from invrestore.models.irn.config import IRNDataConfig
from invrestore.models.irn.crm import (
    CRM,
    CRMConfig,
    CRMTask,
    bicubic_jpeg_crm,
    bicubic_lr,
    crm_loss,
    irn_jpeg_crm,
    load_crm,
)
from invrestore.models.irn.model import IRN
from invrestore.models.registry import create_model
from invrestore.train import save_weights
from invrestore.train.config import load_config

BICUBIC_PRESET = Path(__file__).resolve().parents[2] / "configs" / "irn" / "crm_bicubic_q90.yaml"


def _smooth(seed: int, h: int = 32, w: int = 32) -> torch.Tensor:
    """A smooth random 8-bit image (JPEG sizes then grow with quality as for photographs)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(1, 3, 4, 4, generator=g), size=(h, w), mode="bicubic")
    noise = 0.03 * torch.randn(1, 3, h, w, generator=g)
    return torch.floor((base + noise)[0].clamp(0, 1) * 255 + 0.5) / 255


@pytest.fixture(scope="module")
def irn() -> IRN:
    torch.manual_seed(0)
    net = create_model("irn-x2")
    assert isinstance(net, IRN)
    with torch.no_grad():  # leave the near-identity init so that z matters
        for p in net.parameters():
            if p.dim() == 4:
                p.add_(0.02 * torch.randn_like(p))
    return net.eval()


@pytest.fixture(scope="module")
def crm() -> CRM:
    torch.manual_seed(1)
    net = create_model("crm-rrdb8", nb=1)
    assert isinstance(net, CRM)
    return net.eval()


@pytest.fixture(scope="module")
def images() -> list[tuple[str, torch.Tensor]]:
    return [("a", _smooth(0)), ("b", _smooth(1, 32, 48))]


@pytest.fixture(scope="module")
def points(
    irn: IRN, crm: CRM, images: list[tuple[str, torch.Tensor]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[JpegRDPoint], Path]:
    out = tmp_path_factory.mktemp("rd")
    pts = jpeg_rd_points(
        images,
        out,
        scale=2,
        qualities=[20, 80],
        hr_qualities=[20, 80],
        irn=irn,
        crms={80: crm},
        bicubic_crms={20: crm},
        seed=0,
    )
    return pts, out


def _point(pts: list[JpegRDPoint], method: str, q: int) -> JpegRDPoint:
    return next(p for p in pts if p.method == method and p.quality == q)


def test_every_method_gives_a_point_per_quality_in_order(points: tuple[list[JpegRDPoint], Path]) -> None:
    pts, _ = points
    assert [(p.method, p.quality) for p in pts] == [
        ("irn+jpeg+crm", 80),
        ("irn+jpeg", 20),
        ("irn+jpeg", 80),
        ("bicubic+jpeg+crm", 20),
        ("bicubic+jpeg", 20),
        ("bicubic+jpeg", 80),
        ("jpeg", 20),
        ("jpeg", 80),
    ]
    assert {p.method for p in pts} == set(METHODS)
    assert all(p.images == 2 and "4:2:0" in p.encoder and f"q={p.quality}" in p.encoder for p in pts)
    assert {p.scale for p in pts if p.method == "jpeg"} == {1} and {p.scale for p in pts if p.method != "jpeg"} == {2}


def test_bytes_are_the_jpeg_files_on_disk_and_bpp_is_eight_bits_per_hr_pixel(
    points: tuple[list[JpegRDPoint], Path],
) -> None:
    pts, out = points
    for p in pts:
        sizes = [(out / p.method / f"q{p.quality}" / f"{stem}.jpg").stat().st_size for stem in ("a", "b")]
        assert [r.num_bytes for r in p.per_image] == sizes
        assert p.total_bytes == sum(sizes)
        assert p.bpp == pytest.approx(8 * sum(sizes) / (32 * 32 + 32 * 48))
        assert float(p.csv_row()["bpp"]) == pytest.approx(p.bpp, abs=1e-6)
    assert not list(out.rglob("*.tmp*"))  # atomic writes leave no temporaries


def test_jpeg_rows_are_pillow_files_of_the_8bit_hr(
    points: tuple[list[JpegRDPoint], Path], images: list[tuple[str, torch.Tensor]]
) -> None:
    pts, out = points
    for q in (20, 80):
        p = _point(pts, "jpeg", q)
        for (stem, x), row in zip(images, p.per_image, strict=True):
            buf = io.BytesIO()
            Image.fromarray(to_uint8(x)).save(buf, format="JPEG", quality=q, subsampling=2)
            data = (out / "jpeg" / f"q{q}" / f"{stem}.jpg").read_bytes()
            assert data == buf.getvalue()
            decoded = np.array(Image.open(io.BytesIO(data)).convert("RGB"))
            assert row.psnr_rgb == pytest.approx(psnr_u8(decoded, to_uint8(x)))


def test_higher_quality_costs_more_bytes(points: tuple[list[JpegRDPoint], Path]) -> None:
    pts, _ = points
    for method in ("irn+jpeg", "bicubic+jpeg", "jpeg"):
        assert _point(pts, method, 80).total_bytes > _point(pts, method, 20).total_bytes
    # the CRM changes the decoding, not the file
    assert _point(pts, "irn+jpeg+crm", 80).total_bytes == _point(pts, "irn+jpeg", 80).total_bytes
    assert _point(pts, "bicubic+jpeg+crm", 20).total_bytes == _point(pts, "bicubic+jpeg", 20).total_bytes


def test_rows_match_the_crm_module_pipelines(
    points: tuple[list[JpegRDPoint], Path], irn: IRN, crm: CRM, images: list[tuple[str, torch.Tensor]]
) -> None:
    pts, _ = points
    for k, (_, x) in enumerate(images):
        ref = to_uint8(x)
        x_hat, n = irn_jpeg_crm(irn, crm, x[None], 80, generator=torch.Generator().manual_seed(0))
        row = _point(pts, "irn+jpeg+crm", 80).per_image[k]
        assert row.num_bytes == n and row.psnr_rgb == pytest.approx(psnr_u8(to_uint8(x_hat[0]), ref))
        x_hat, n = bicubic_jpeg_crm(crm, x[None], 2, 20)
        row = _point(pts, "bicubic+jpeg+crm", 20).per_image[k]
        assert row.num_bytes == n and row.psnr_rgb == pytest.approx(psnr_u8(to_uint8(x_hat[0]), ref))


def test_irn_jpeg_is_reproducible_with_the_same_seed(
    irn: IRN, images: list[tuple[str, torch.Tensor]], tmp_path: Path
) -> None:
    def run(seed: int, folder: str) -> list[float]:
        pts = jpeg_rd_points(images, tmp_path / folder, scale=2, qualities=[50], irn=irn, bicubic=False, seed=seed)
        assert [p.method for p in pts] == ["irn+jpeg"]
        return [r.psnr_rgb for r in pts[0].per_image]

    first = run(0, "a")
    assert run(0, "b") == first
    assert run(1, "c") != first


def test_bad_arguments_are_refused_before_writing(
    irn: IRN, crm: CRM, images: list[tuple[str, torch.Tensor]], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"1\.\.100"):
        jpeg_rd_points(images, out, scale=2, qualities=[0])
    with pytest.raises(ConfigError, match=r"1\.\.100"):
        jpeg_rd_points(images, out, scale=2, qualities=[50], hr_qualities=[101])
    with pytest.raises(ConfigError, match="not among"):
        jpeg_rd_points(images, out, scale=2, qualities=[50], irn=irn, crms={60: crm})
    with pytest.raises(ConfigError, match="needs the IRN"):
        jpeg_rd_points(images, out, scale=2, qualities=[50], crms={50: crm})
    with pytest.raises(ConfigError, match="rescales by 2"):
        jpeg_rd_points(images, out, scale=4, qualities=[50], irn=irn)
    with pytest.raises(ScaleError):
        jpeg_rd_points([("odd", torch.rand(3, 33, 32))], out, scale=2, qualities=[50])
    assert not out.exists()


def test_load_crm_reads_the_size_from_the_keys_and_refuses_other_weights(crm: CRM, irn: IRN, tmp_path: Path) -> None:
    path = tmp_path / "crm.safetensors"
    save_weights(crm.state_dict(), path)
    loaded = load_crm(path)
    assert len(loaded.RRDB_trunk) == 1
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(loaded(x), crm(x))
    pth = tmp_path / "crm.pth"
    torch.save({"params": {f"module.{k}": v for k, v in crm.state_dict().items()}}, pth)  # official-style wrapper
    assert torch.equal(load_crm(pth)(x), crm(x))
    save_weights(irn.state_dict(), tmp_path / "irn.safetensors")
    with pytest.raises(CheckpointError, match="not hold CRM"):
        load_crm(tmp_path / "irn.safetensors")


def _dataset(root: Path) -> None:
    folder = root / "Kodak24"
    folder.mkdir(parents=True)
    write_image(folder / "kodim01.png", _smooth(2, 32, 32))
    write_image(folder / "kodim02.png", _smooth(3, 33, 40))  # mod-cropped to 32×40


def run_cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


def test_cli_writes_the_csv_with_every_method(irn: IRN, crm: CRM, tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    save_weights(irn.state_dict(), tmp_path / "irn.safetensors")
    save_weights(crm.state_dict(), tmp_path / "crm.safetensors")
    out, table, per_image = tmp_path / "jpegs", tmp_path / "rd.csv", tmp_path / "per_image.csv"
    code, msg = run_cli(
        "bench", "jpeg-rd", "--data-root", str(tmp_path / "data"), "--scale", "2", "--qualities", "20,50",
        "--hr-qualities", "10-30:10", "--irn-weights", str(tmp_path / "irn.safetensors"),
        "--crm", f"50={tmp_path / 'crm.safetensors'}", "--bicubic-crm", f"20={tmp_path / 'crm.safetensors'}",
        "--out", str(out), "--csv", str(table), "--per-image-csv", str(per_image),
    )  # fmt: skip
    assert code == 0, msg
    rows = list(csv.DictReader(table.open()))
    assert {r["method"] for r in rows} == set(METHODS)
    assert [r["quality"] for r in rows if r["method"] == "jpeg"] == ["10", "20", "30"]
    assert all(r["images"] == "2" and int(r["total_bytes"]) > 0 for r in rows)
    assert len(list(csv.DictReader(per_image.open()))) == 2 * len(rows)
    assert (out / "irn+jpeg+crm" / "q50" / "kodim02.jpg").is_file()
    assert ("wrote" in msg and table.with_suffix(".png").is_file()) or "matplotlib is not installed" in msg


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--qualities", "10,abc"), "--qualities expects"),
        (("--hr-qualities", "5,101"), "1..100"),
        (("--bicubic-crm", "50"), "QUALITY=WEIGHTS"),
        (("--bicubic-crm", "20=IRN"), "not hold CRM"),
        (("--dataset", "Set5"), "not found"),
    ],
)
def test_cli_refuses_bad_input_with_one_line_and_writes_nothing(
    irn: IRN, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    _dataset(tmp_path / "data")
    save_weights(irn.state_dict(), tmp_path / "irn.safetensors")
    args = tuple(a.replace("IRN", str(tmp_path / "irn.safetensors")) for a in args)
    table, out = tmp_path / "rd.csv", tmp_path / "jpegs"
    code, msg = run_cli(
        "bench", "jpeg-rd", "--data-root", str(tmp_path / "data"), "--qualities", "20", "--hr-qualities", "20",
        "--out", str(out), "--csv", str(table), *args,
    )  # fmt: skip
    assert code != 0 and expected in msg
    assert "Traceback" not in msg
    assert not table.exists() and not out.exists()


def test_bicubic_lr_source_trains_and_validates_a_crm(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    cfg = load_config(CRMConfig, BICUBIC_PRESET)
    assert cfg.source.lr_source == "bicubic" and cfg.source.scale == 2 and cfg.jpeg.quality == 90
    cfg = replace(
        cfg,
        data=IRNDataConfig(
            root=str(tmp_path / "data"),
            train_sets=(),
            train_folders=(str(tmp_path / "data" / "Kodak24"),),
            crop_size=16,
            val_set="Kodak24",
            val_limit=1,
        ),
    )
    task = CRMTask(cfg)
    assert task.name == "crm-rrdb8-bicubic-q90" and task.scale == 2
    ds = task.train_dataset()
    x = torch.stack([ds[0]["x"], ds[1]["x"]])
    torch.manual_seed(2)
    model = CRM(nb=1)
    loss, metrics = task.training_step(model, {"x": x}, torch.Generator())
    loss.backward()
    assert task._irn is None  # the IRN is never built
    from invrestore.degradations.jpeg import jpeg_compress

    with torch.no_grad():
        y_q = bicubic_lr(x, 2)
        manual = ((y_q - model(jpeg_compress(y_q, 90, "4:2:0"))) ** 2).sum() / 2
    assert torch.allclose(loss.detach(), manual, rtol=1e-5) and metrics["loss"] > 0
    assert torch.equal(torch.from_numpy(to_uint8(y_q[0])).permute(2, 0, 1).float() / 255, y_q[0])  # 8-bit
    scores = task.validate(model, torch.device("cpu"))
    assert set(scores) == {"psnr_hr", "bpp"} and scores["bpp"] > 0


def test_an_unknown_lr_source_is_refused() -> None:
    cfg = CRMConfig()
    with pytest.raises(ConfigError, match="lr_source"):
        CRMTask(replace(cfg, source=replace(cfg.source, lr_source="lanczos")))
    with pytest.raises(ConfigError, match="only for lr_source: bicubic"):
        CRMTask(replace(cfg, source=replace(cfg.source, scale=2)))
    with pytest.raises(ConfigError, match="lr_source"):
        crm_loss(CRM(nb=1), None, torch.rand(1, 3, 8, 8), lr_source="lanczos")
