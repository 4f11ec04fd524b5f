"""``invrestore export``: an IRN model as two ONNX graphs (downscale and upscale), checked against torch.

The model loads through :func:`invrestore.api.load_rescaler` (shipped weights, ours, or an official ``.pth``).

See :mod:`invrestore.export` and ``docs/export.md``. Needs ``pip install 'invrestore[export]'``.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from invrestore.errors import ConfigError

__all__ = ["FORMATS", "export"]

FORMATS = ("onnx",)


def _irn_names() -> list[str]:
    import torch

    from invrestore.models.irn.model import IRN
    from invrestore.models.registry import MODELS, list_models

    names = []
    for n in list_models("irn"):
        try:
            with torch.device("meta"):
                if isinstance(MODELS[n].factory(), IRN):
                    names.append(n)
        except Exception:
            continue
    return names


def _check_exportable(model: str) -> None:
    """Refuse an unknown model or one that is not an IRN, before any weights are read."""
    import torch

    from invrestore.models.irn.model import IRN
    from invrestore.models.registry import MODELS, list_models

    list_models()
    if model not in MODELS:
        raise ConfigError(f"unknown model '{model}'; exportable models: {', '.join(_irn_names())}")
    with torch.device("meta"):
        probe = MODELS[model].factory()
    if not isinstance(probe, IRN):
        raise ConfigError(
            f"'{model}' is not an IRN model; ONNX export supports the IRN rescalers: {', '.join(_irn_names())}"
        )


def _parse_size(text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if m is None:
        raise ConfigError(f"--size must look like HxW (e.g. 512x768), not {text!r}")
    return int(m.group(1)), int(m.group(2))


@click.command("export")
@click.option("--model", default="irn-x4", show_default=True, help="IRN model (irn-x2, irn-x4, ...).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Weights (else the shipped ones).")
@click.option("--format", "fmt", default="onnx", show_default=True, help="Export format (onnx).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
@click.option("--name", default=None, help="File stem of the two graphs [default: the model name].")
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Run the graphs in onnxruntime against torch at two sizes and print the largest difference.",
)
@click.option("--opset", type=click.IntRange(min=7), default=None, help="ONNX opset [default: the exporter's].")
@click.option("--size", default=None, help="HR size HxW traced (and, with --static, the only size accepted).")
@click.option("--static", is_flag=True, help="Fixed batch 1 and --size instead of dynamic batch/height/width axes.")
@click.option("--atol", type=float, default=1e-4, show_default=True, help="Tolerance of --check.")
def export(
    model: str,
    weights: str | None,
    fmt: str,
    output: str,
    name: str | None,
    check: bool,
    opset: int | None,
    size: str | None,
    static: bool,
    atol: float,
) -> None:
    """Export an IRN model's two directions as ONNX graphs NAME.down.onnx and NAME.up.onnx.

    down: x (B,3,H,W) -> out = cat(y, z) (B,3s²,H/s,W/s) and lr = the 8-bit LR in [0,1]; up: lr, z -> hr.
    """
    if fmt.lower() not in FORMATS:
        raise ConfigError(f"unknown export format '{fmt}'; supported: {', '.join(FORMATS)}")
    height, width = _parse_size(size)
    if static and height is None:
        raise ConfigError("--static exports one fixed size: give --size HxW")
    from invrestore.api import load_rescaler
    from invrestore.export import check_onnx, export_irn_onnx

    _check_exportable(model)
    net = load_rescaler(model, weights).model
    if check:  # fail early, before the slow export, when the checker cannot run
        from invrestore.export import ensure_installed

        ensure_installed("onnxruntime", "--check")
    paths = export_irn_onnx(
        net, Path(output), height=height, width=width, dynamic=not static, opset=opset, name=name or model
    )
    for p in paths:
        click.echo(f"wrote {p} ({p.stat().st_size / 1e6:.1f} MB)")
    if check:
        s = net.scale
        if static:
            assert height is not None and width is not None
            sizes = [(height, width)]
        else:
            sizes = [(16 * s, 16 * s), (12 * s, 20 * s)]
        diffs = check_onnx(net, paths, sizes=sizes, atol=atol)
        shown = ", ".join(f"{h}x{w}" for h, w in sizes)
        click.echo(
            f"check (onnxruntime CPU vs torch at {shown}): max |diff| down {diffs['down']:.2e}, "
            f"up {diffs['up']:.2e}, 8-bit LR {diffs['lr_levels']:.0f} levels (atol {atol:g})"
        )
