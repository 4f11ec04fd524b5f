"""ONNX export of IRN: the exported down/up graphs equal the eager torch model (onnxruntime CPU, within 1e-4) at
several sizes and batch sizes, carry their metadata, and the CLI refuses what it cannot export in one line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from invrestore.cli.main import cli
from invrestore.errors import ConfigError, ScaleError
from invrestore.export import ExportCheckError, _Down, _Up, check_onnx, export_irn_onnx, read_metadata
from invrestore.models.irn.model import IRN, quantize_ste

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("onnx")

if "export" not in cli.commands:  # until cli/main.py registers it
    from invrestore.cli.export import export as _export_cmd

    cli.add_command(_export_cmd)


def tiny_irn(seed: int = 0, **kw: Any) -> IRN:
    """A small IRN whose weights are perturbed away from the (near-identity) initialisation."""
    torch.manual_seed(seed)
    net = IRN(**{"scale": 2, "blocks": [1], **kw})
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    return net.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IRN, Path, Path, str]]:
    """One export through the CLI (``--check`` on), with the model loader pointed at a tiny random IRN."""
    import invrestore.api as api
    from invrestore.inference.rescaler import ImageRescaler

    net = tiny_irn()
    out = tmp_path_factory.mktemp("onnx")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "load_rescaler", lambda model, weights=None, **kw: ImageRescaler(net, model))
        res = CliRunner().invoke(cli, ["export", "--model", "irn-x2", "--format", "onnx", "-o", str(out)])
    assert res.exit_code == 0, res.output
    yield net, out / "irn-x2.down.onnx", out / "irn-x2.up.onnx", res.output


def _session(path: Path) -> object:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(("batch", "h", "w"), [(1, 32, 32), (1, 24, 40), (3, 18, 10)])
def test_onnxruntime_equals_torch_both_directions(
    exported: tuple[IRN, Path, Path, str], batch: int, h: int, w: int
) -> None:
    net, down, up, _ = exported
    g = torch.Generator().manual_seed(h * w + batch)
    x = torch.rand(batch, 3, h, w, generator=g)
    out_o, lr_o = _session(down).run(["out", "lr"], {"x": x.numpy()})  # type: ignore[attr-defined]
    with torch.no_grad():
        y, z = net.downscale(x)
        out_t, _ = net(x)
    assert out_o.shape == (batch, 12, h // 2, w // 2)
    np.testing.assert_allclose(out_o, out_t.numpy(), atol=1e-4, rtol=0)
    # the 8-bit LR: integers over 255, equal to torch's quantised y (at most one level where out sits on a tie)
    assert np.abs(lr_o * 255 - np.round(lr_o * 255)).max() < 1e-4
    differ = np.abs(lr_o - y.numpy()) > 1e-6
    assert np.abs(lr_o - y.numpy()).max() <= 1 / 255 + 1e-6
    tie_distance = np.abs(np.modf(out_t[:, :3].clamp(0, 1).numpy() * 255)[0] - 0.5)
    assert (tie_distance[differ] < 255 * 1e-4).all(), "an LR level differs away from a rounding tie"

    zr = torch.randn(z.shape, generator=g)
    (hr_o,) = _session(up).run(["hr"], {"lr": y.numpy(), "z": zr.numpy()})  # type: ignore[attr-defined]
    with torch.no_grad():
        hr_t = net.upscale(y, zr)
    assert hr_o.shape == (batch, 3, h, w)
    np.testing.assert_allclose(hr_o, hr_t.numpy(), atol=1e-4, rtol=0)
    # and the raw bijection inverts: up(down(x)) == x
    (x_rec,) = _session(up).run(["hr"], {"lr": out_o[:, :3], "z": out_o[:, 3:]})  # type: ignore[attr-defined]
    np.testing.assert_allclose(x_rec, x.numpy(), atol=1e-4, rtol=0)


def test_down_graph_refuses_a_size_that_is_not_a_multiple_of_the_scale(exported: tuple[IRN, Path, Path, str]) -> None:
    _, down, _, _ = exported
    sess = _session(down)
    for h, w in ((33, 32), (32, 35)):  # a strided convolution alone would silently drop the last row/column
        with pytest.raises(Exception, match="Reshape"):
            sess.run(["out"], {"x": np.random.rand(1, 3, h, w).astype(np.float32)})  # type: ignore[attr-defined]


def test_cli_check_and_metadata(exported: tuple[IRN, Path, Path, str]) -> None:
    _, down, up, output = exported
    assert f"wrote {down}" in output and f"wrote {up}" in output
    assert "check (onnxruntime CPU vs torch at 32x32, 24x40)" in output
    for path, direction in ((down, "down"), (up, "up")):
        meta = read_metadata(path)
        assert meta["invrestore.model"] == "irn-x2"
        assert meta["invrestore.scale"] == "2"
        assert meta["invrestore.direction"] == direction
        assert meta["invrestore.z_channels"] == "9"
        assert "invrestore.version" in meta
    assert not list(down.parent.glob(".*tmp*")), "atomic write left a temporary file"
    names = {i.name: i.shape for i in _session(up).get_inputs()}  # type: ignore[attr-defined]
    assert list(names) == ["lr", "z"] and names["lr"][0] == names["z"][0] and isinstance(names["lr"][2], str)


def test_check_onnx_reports_small_diffs_and_catches_a_wrong_model(exported: tuple[IRN, Path, Path, str]) -> None:
    net, down, up, _ = exported
    diffs = check_onnx(net, (down, up), sizes=[(16, 16), (8, 12)])
    assert set(diffs) == {"down", "up", "lr_levels"}
    assert diffs["down"] <= 1e-4 and diffs["up"] <= 1e-4 and diffs["lr_levels"] <= 1
    other = tiny_irn(seed=1)  # another network: the graphs must not pass for it
    with pytest.raises(ExportCheckError, match="differ from torch"):
        check_onnx(other, (down, up), sizes=[(16, 16)])


def test_check_onnx_without_onnxruntime_says_what_to_install(
    exported: tuple[IRN, Path, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    net, down, up, _ = exported
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install 'invrestore\[export\]'"):
        check_onnx(net, (down, up), sizes=[(16, 16)])


@pytest.mark.parametrize(
    "kw", [{"scale": 3, "blocks": 1, "downsampling": "learnable"}, {"scale": 4, "blocks": 1, "down_first": True}]
)
def test_export_modules_equal_eager_for_every_variant(kw: dict[str, Any]) -> None:
    """What is traced (log-det free, IRN_LD's inverse matrix precomputed) is the eager forward and inverse."""
    net = tiny_irn(**kw)
    s = net.scale
    x = torch.rand(2, 3, 6 * s, 4 * s)
    with torch.no_grad():
        out, lr = _Down(net)(x)
        ref, _ = net(x)
        assert torch.equal(out, ref)
        assert torch.equal(lr, quantize_ste(ref[:, :3]))
        z = torch.randn(2, net.out_channels - 3, 6, 4)
        assert torch.equal(_Up(net)(lr, z), net.upscale(lr, z))


def test_export_refuses_bad_arguments(tmp_path: Path) -> None:
    net = tiny_irn()
    with pytest.raises(ScaleError, match="multiples of the scale 2"):
        export_irn_onnx(net, tmp_path, height=33, width=32)
    with pytest.raises(ConfigError, match="give height and width"):
        export_irn_onnx(net, tmp_path, dynamic=False)
    with pytest.raises(ConfigError, match="IRN models only"):
        export_irn_onnx(torch.nn.Conv2d(3, 3, 1), tmp_path)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "dncnn"], "'dncnn' is not an IRN model; ONNX export supports the IRN rescalers: irn-x2"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--format", "tflite"], "unknown export format 'tflite'; supported: onnx"),
        (["--static"], "--static exports one fixed size"),
    ],
)
def test_cli_refuses_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(cli, ["export", *args, "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.output
    assert not (tmp_path / "o").exists()
