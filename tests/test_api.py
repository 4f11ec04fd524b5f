"""``invrestore.load`` and the Rescaler/Restorer/Codec wrappers: the same kind out as in, the same numbers as the
direct model call, every accepted file layout routed to its loader, one clear line for an unknown layout."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import invrestore
from invrestore.api import Codec, ImageRestorer, Rescaler, Restorer
from invrestore.errors import CheckpointError, ConfigError, InvalidBitstream
from invrestore.imageops import pad_to_multiple
from invrestore.models.registry import create_model
from invrestore.train.checkpoint import save_weights

REPO = Path(__file__).resolve().parents[1]


def _img(h: int = 16, w: int = 20, seed: int = 0) -> torch.Tensor:
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def _u8(t: torch.Tensor) -> np.ndarray:
    return (t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_import_invrestore_stays_light() -> None:
    code = "import sys, invrestore; assert 'torch' not in sys.modules; invrestore.load; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def irn() -> Rescaler:
    m = invrestore.load("irn-x2")
    assert isinstance(m, Rescaler) and m.scale == 2
    return m


def test_rescaler_on_tensors_equals_the_direct_model_call(irn: Rescaler) -> None:
    net = create_model("irn-x2", pretrained=True)
    x = _img()
    y, z = irn.downscale(x)
    with torch.no_grad():
        y_ref, z_ref = net.downscale(x.unsqueeze(0))
        hr_ref = net.upscale(y_ref, generator=torch.Generator().manual_seed(5)).clamp(0, 1)[0]
    assert isinstance(y, torch.Tensor) and y.shape == (3, 8, 10)
    assert torch.equal(y, y_ref[0]) and torch.equal(z, z_ref)
    assert torch.equal(irn.upscale(y, seed=5), hr_ref)
    assert torch.equal(irn.upscale(y, generator=torch.Generator().manual_seed(5)), hr_ref)
    with torch.no_grad():
        exact = net.upscale(y_ref, z_ref).clamp(0, 1)[0]
    assert torch.equal(irn.upscale(y, z), exact)  # the true z: the inverse of the forward


def test_rescaler_returns_the_kind_it_was_given(irn: Rescaler) -> None:
    x = _img()
    y_t, _ = irn.downscale(x)
    y_np, z = irn.downscale(_u8(x))
    assert isinstance(y_np, np.ndarray) and y_np.dtype == np.uint8 and y_np.shape == (8, 10, 3)
    y_pil, _ = irn.downscale(Image.fromarray(_u8(x)))
    assert isinstance(y_pil, Image.Image) and y_pil.size == (10, 8)
    assert np.array_equal(np.asarray(y_pil), y_np)
    hr = irn.upscale(y_np, z)
    assert isinstance(hr, np.ndarray) and hr.dtype == np.uint8 and hr.shape == (16, 20, 3)
    assert isinstance(irn.upscale(y_pil, z), Image.Image)
    batch = torch.stack([x, x])
    yb, _ = irn.downscale(batch)
    assert yb.shape == (2, 3, 8, 10) and torch.equal(yb[1], y_t)


def test_rescaler_takes_any_size_and_crops_back(irn: Rescaler) -> None:
    x = _img(15, 17)
    y, z = irn.downscale(x)
    assert y.shape == (3, 8, 9)
    with torch.no_grad():
        ref, _ = create_model("irn-x2", pretrained=True).downscale(pad_to_multiple(x.unsqueeze(0), 2))
    assert torch.equal(y, ref[0])
    assert irn.upscale(y, z, size=(15, 17)).shape == (3, 15, 17)
    zero = irn.upscale(y, temperature=0)
    assert torch.equal(zero, irn.upscale(y, torch.zeros_like(z)))
    with pytest.raises(ConfigError, match="temperature"):
        irn.upscale(y, temperature=float("nan"))


def test_restorer_equals_the_direct_call_and_keeps_gray_gray() -> None:
    r = invrestore.load("dncnn-s-denoise25")
    assert isinstance(r, Restorer) and isinstance(r, ImageRestorer) and r.task == "denoise"
    net = create_model("dncnn-s-denoise25", pretrained=True)
    y = _img(13, 11)
    with torch.no_grad():
        ref = net(y.unsqueeze(0)).clamp(0, 1)[0]
    assert torch.equal(r.restore(y), ref)
    out = r.restore(_u8(y))
    assert out.dtype == np.uint8 and out.shape == (13, 11, 3)
    gray = r.restore(Image.fromarray(_u8(y)[:, :, 0], "L"))
    assert isinstance(gray, Image.Image) and gray.mode == "L" and gray.size == (11, 13)
    with pytest.raises(ConfigError, match="trained to denoise, not to derain"):
        r.restore(y, task="derain")


def test_codec_round_trip_and_foreign_bytes() -> None:
    c = invrestore.load("bls2017-128-q1")
    assert isinstance(c, Codec)
    x = _img(20, 24)
    data = c.compress(x)
    from invrestore.entropy.bitstream import Bitstream

    with torch.no_grad():
        ref = c.model.decompress(c.model.compress(x.unsqueeze(0)))[0]
    assert data == c.model.compress(x.unsqueeze(0)).to_bytes()
    assert torch.equal(c.decompress(data), ref) and Bitstream.from_bytes(data).image_size == (20, 24)
    assert c.decompress(data, kind="numpy").shape == (20, 24, 3)
    assert isinstance(c.decompress(data, kind="pil"), Image.Image)
    other = invrestore.load("bls2017-128-q4")
    with pytest.raises(InvalidBitstream):
        other.decompress(data)


def test_our_files_run_folders_and_official_irn_files(tmp_path: Path) -> None:
    x = _img()
    net = create_model("irn-x2", pretrained=True)
    with torch.no_grad():
        y_ref, _ = net.downscale(x.unsqueeze(0))
    # an official release file: a DataParallel state dict wrapped in a dict
    pth = tmp_path / "IRN_x2.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, pth)
    for m in (invrestore.load("irn-x2", weights=pth), invrestore.load(pth)):
        assert isinstance(m, Rescaler) and torch.equal(m.downscale(x)[0], y_ref[0])
    # a run folder without config: the shipped file copied into run/best is recognised by its sha256
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "best" / "model.safetensors").write_bytes((invrestore.zoo.resolve_weights("irn-x2")).read_bytes())
    m = invrestore.load(run)
    assert m.name == "irn-x2" and torch.equal(m.downscale(x)[0], y_ref[0])
    # a run folder with its config.yaml: built from the config, weights of last/
    run2 = tmp_path / "run2"
    (run2 / "last").mkdir(parents=True)
    (run2 / "config.yaml").write_text((REPO / "configs" / "irn" / "tiny.yaml").read_text())
    torch.manual_seed(1)
    fresh = create_model("irn-x2")
    save_weights(fresh.state_dict(), run2 / "last" / "model.safetensors")
    with torch.no_grad():
        y_fresh, _ = fresh.eval().downscale(x.unsqueeze(0))
    for src in (run2, run2 / "last"):
        assert torch.equal(invrestore.load(src).downscale(x)[0], y_fresh[0])
    with pytest.raises(ConfigError, match="was trained as 'irn-x2'"):
        invrestore.load("irn-x4", weights=run2)


def test_an_official_pix2pix_generator_runs_with_pix2pix_test_mode(tmp_path: Path) -> None:
    from invrestore.models.pix2pix.model import restore

    torch.manual_seed(0)
    gen = create_model("pix2pix-unet-2")
    pth = tmp_path / "latest_net_G.pth"
    torch.save(gen.state_dict(), pth)
    r = invrestore.load(pth)
    assert isinstance(r, ImageRestorer) and r.name == "pix2pix-unet-2"
    y = _img(8, 8)
    with torch.no_grad():
        ref = restore(gen, y, eval_mode=False).clamp(0, 1)
    assert torch.equal(r.restore(y), ref)


def test_peer_checkpoints_go_to_their_loaders(tmp_path: Path) -> None:
    kair = pytest.importorskip("invrestore.models.baselines.kair")
    torch.manual_seed(0)
    state = {k: torch.randn_like(v) * 0.05 for k, v in create_model("dncnn-kair-17-gray").state_dict().items()}
    pth = tmp_path / "dncnn_15.pth"
    torch.save(state, pth)
    r = invrestore.load(pth)
    assert isinstance(r, ImageRestorer) and r.name == "dncnn-kair-17-gray"
    y = _img(12, 12)[:1]
    with torch.no_grad():
        ref = kair.load_kair(pth)(y.unsqueeze(0)).clamp(0, 1)[0]
    assert torch.equal(r.restore(y), ref)

    spec_path = REPO / "tests" / "models" / "ilc" / "test_compressai_teacher.py"
    compressai = pytest.importorskip("invrestore.models.ilc.compressai")
    if not spec_path.is_file():
        pytest.skip("CompressAI layout builder not available")
    spec = importlib.util.spec_from_file_location("_compressai_layout", spec_path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ck = tmp_path / "bmshj2018-factorized.pth.tar"
    torch.save({"epoch": 3, "state_dict": mod.compressai_state()}, ck)
    c = invrestore.load(ck)
    assert isinstance(c, Codec)
    teacher = compressai.load_compressai_teacher(ck)
    x = _img(16, 16)
    assert c.compress(x) == teacher.compress(x.unsqueeze(0)).to_bytes()


def test_files_of_unknown_layout_get_one_line(tmp_path: Path) -> None:
    pth = tmp_path / "mystery.pth"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3), "conv1.bias": torch.zeros(4)}, pth)
    with pytest.raises(CheckpointError) as info:
        invrestore.load(pth)
    msg = str(info.value)
    assert "\n" not in msg and "2 keys like 'conv1.weight'" in msg and "matches no known layout" in msg
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x80\x02not a pickle")
    with pytest.raises(CheckpointError, match="cannot read"):
        invrestore.load(junk)
    with pytest.raises(ConfigError, match="unknown model 'irn-x5'"):
        invrestore.load("irn-x5")
    with pytest.raises(CheckpointError, match="not found"):
        invrestore.load("irn-x2", weights=tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="does not hold weights of 'irn-x4'"):
        invrestore.load("irn-x4", weights=invrestore.zoo.resolve_weights("irn-x2"))
    with pytest.raises(ConfigError, match="device"):
        invrestore.load("irn-x2", device="banana")


def test_large_images_go_through_tiles_with_the_whole_image_result(irn: Rescaler) -> None:
    tiling = pytest.importorskip("invrestore.tiling")
    if not hasattr(tiling, "ZField"):
        pytest.skip("tiling layer without ZField")
    x = _img(96, 80)
    irn.tile = None
    try:
        y_whole, z = irn.downscale(x)
        assert z is not None
        field = tiling.ZField(9, seed=3)
        hr_whole = irn.upscale(y_whole, field.full(48, 40))
        irn.tile, irn.max_memory = "auto", 2_000_000  # a budget this image exceeds: tiles
        y_tiled, z_tiled = irn.downscale(x)
        assert z_tiled is None  # not kept in tiles
        assert (y_tiled - y_whole).abs().max() <= 1 / 255 + 1e-6 and (y_tiled != y_whole).float().mean() < 0.01
        hr_tiled = irn.upscale(y_whole, seed=3)
        torch.testing.assert_close(hr_tiled, hr_whole, rtol=0, atol=2e-3)
        r = invrestore.load("dncnn-s-denoise25")
        r.tile = None
        whole = r.restore(x)
        r.tile = 32
        torch.testing.assert_close(r.restore(x), whole, rtol=0, atol=1e-4)
    finally:
        irn.tile, irn.max_memory = "auto", None


def test_irn_color_is_a_rescaler_from_colour_to_grey_and_back() -> None:
    m = invrestore.load("irn-color")
    x = _img(16, 16)
    gray, z = m.downscale(x)
    assert gray.shape == (1, 16, 16) and z is not None
    net = create_model("irn-color", pretrained=True)
    with torch.no_grad():
        ref, _ = net.downscale(x.unsqueeze(0))
    assert torch.equal(gray, ref[0])
    assert (m.upscale(gray, z) - x).abs().max() < 0.02  # the 8-bit grey, then the exact inverse
    pil, _ = m.downscale(Image.fromarray(_u8(x)))
    assert isinstance(pil, Image.Image) and pil.mode == "L"
