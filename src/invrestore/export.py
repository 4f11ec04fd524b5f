"""ONNX export of IRN's two directions, and a check of the exported graphs against torch (``docs/export.md``).

IRN is one bijection ``G``; it is exported as two graphs so that a runtime without torch can downscale and upscale:

.. code-block:: none

    <name>.down.onnx   x (B, 3, H, W)                        ->  out (B, 3·s², H/s, W/s) = cat(y, z)   (raw G(x))
                                                             ->  lr  (B, 3, H/s, W/s)   = round(255·clamp(y, 0, 1))/255
    <name>.up.onnx     lr (B, 3, h, w), z (B, 3·s² − 3, h, w) ->  hr  (B, 3, h·s, w·s)   = G⁻¹(cat(lr, z))

``out`` is the raw bijection (``out[:, 3:]`` is ``z``); ``lr`` is the 8-bit LR image as float in ``[0, 1]`` (its
values times 255 are integers), i.e. what :meth:`IRN.downscale` returns. Upscaling a stored LR image feeds its
pixels ``/ 255`` as ``lr`` and ``z ~ N(0, I)`` (or zeros), as :meth:`IRN.upscale` does. Batch, height and width are
dynamic axes unless ``dynamic=False``; H and W must be multiples of the scale (the down graph fails otherwise).

Example::

    from invrestore.export import check_onnx, export_irn_onnx
    from invrestore.models.registry import create_model

    net = create_model("irn-x4", pretrained=True)
    down, up = export_irn_onnx(net, "onnx/", name="irn-x4")
    print(check_onnx(net, (down, up), sizes=[(64, 64), (48, 80)]))   # max |onnxruntime − torch| per output

Exporting needs ``onnx`` and ``onnxscript`` (torch's ``torch.export``-based exporter); checking and running need
``onnxruntime``: ``pip install 'invrestore[export]'``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError, InvRestoreError, ScaleError
from invrestore.models.irn.model import IRN
from invrestore.nn.base import InvertibleModule
from invrestore.nn.coupling import InvBlock
from invrestore.nn.downsampling import LearnableDownsampling
from invrestore.nn.haar import HaarDownsampling
from invrestore.nn.squeeze import squeeze2d, unsqueeze2d

__all__ = ["ExportCheckError", "check_onnx", "ensure_installed", "export_irn_onnx", "onnx_paths", "read_metadata"]

INSTALL_HINT = "pip install 'invrestore[export]'"

#: ``metadata_props`` keys written into both graphs.
META_MODEL = "invrestore.model"
META_SCALE = "invrestore.scale"
META_DIRECTION = "invrestore.direction"
META_VERSION = "invrestore.version"
META_IN_CHANNELS = "invrestore.in_channels"
META_Z_CHANNELS = "invrestore.z_channels"


class ExportCheckError(InvRestoreError):
    """An exported graph disagrees with the torch model by more than the tolerance."""


# -- the two directions as plain tensor -> tensor modules ----------------------------------------------------------
class _Step(nn.Module):
    """One IRN operation without its log-determinant (the exported graphs compute only the images).

    IRN_LD's learnable downsampling gets its ``M⁻¹`` computed once here, in float64 as the eager inverse does,
    since ONNX has no matrix inverse; the arithmetic is otherwise that of :class:`LearnableDownsampling`.
    """

    m_inv: Tensor

    def __init__(self, op: nn.Module) -> None:
        super().__init__()
        if not isinstance(op, LearnableDownsampling | HaarDownsampling | InvBlock):  # pragma: no cover
            raise ConfigError(f"cannot export an IRN operation of type {type(op).__name__}")
        self.op: InvertibleModule = op
        if isinstance(op, LearnableDownsampling):
            w = op.conv_weights.detach()
            self.register_buffer("m_inv", torch.linalg.inv(w.double()).to(w.dtype))

    def forward(self, x: Tensor) -> Tensor:
        op = self.op
        if isinstance(op, LearnableDownsampling):
            return op._mix(squeeze2d(x, op.scale, "band"), op.conv_weights)
        return op(x)[0]

    def inverse(self, y: Tensor) -> Tensor:
        op = self.op
        if isinstance(op, LearnableDownsampling):
            return unsqueeze2d(op._mix(y, self.m_inv), op.scale, "band")
        return op.inverse(y)[0]


class _Down(nn.Module):
    def __init__(self, net: IRN) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_Step(op) for op in net.operations)
        self.split = net.in_channels
        self.scale = net.scale

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        # A size check the graph keeps: this reshape fails in the runtime unless H and W are multiples of the scale
        # (without it the strided Haar convolution would silently drop the last rows and columns).
        n, c, h, w = x.shape
        s = self.scale
        x = x.reshape(n, c, h // s, s, w // s, s).reshape(n, c, h, w)
        for b in self.blocks:
            x = b(x)
        lr = torch.round(x[:, : self.split].clamp(0, 1) * 255.0) / 255.0
        return x, lr


class _Up(nn.Module):
    def __init__(self, net: IRN) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_Step(op) for op in net.operations)

    def forward(self, lr: Tensor, z: Tensor) -> Tensor:
        x = torch.cat([lr, z], dim=1)
        for b in reversed(self.blocks):
            x = cast(_Step, b).inverse(x)
        return x


# -- helpers -----------------------------------------------------------------------------------------------------
def ensure_installed(module: str, purpose: str) -> Any:
    """Import ``module`` or raise :class:`ConfigError` naming the ``export`` extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"{purpose} needs the '{module}' package, which is not installed: {INSTALL_HINT}") from e


def onnx_paths(out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """The two files :func:`export_irn_onnx` writes: ``out_dir/<name>.down.onnx`` and ``out_dir/<name>.up.onnx``."""
    d = Path(out_dir)
    return d / f"{name}.down.onnx", d / f"{name}.up.onnx"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's progress lines and its warnings (torchvision ops it skips, deprecations)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    buf = io.StringIO()
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _export_one(
    module: nn.Module,
    args: tuple[Tensor, ...],
    path: Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_shapes: dict[str, Any] | None,
    opset: int | None,
    metadata: dict[str, str],
) -> None:
    from invrestore.io import atomic_write

    ensure_installed("onnxscript", "ONNX export")
    onnx = ensure_installed("onnx", "ONNX export")
    with _quiet(), torch.no_grad():
        try:
            program = torch.onnx.export(
                module,
                args,
                None,
                dynamo=True,
                input_names=input_names,
                output_names=output_names,
                dynamic_shapes=dynamic_shapes,
                opset_version=opset,
                external_data=False,
                verbose=False,
            )
        except Exception as e:
            first = (str(e).strip().splitlines() or [""])[0][:300]
            raise ConfigError(f"ONNX export of '{path.name}' failed ({type(e).__name__}: {first})") from e
    if program is None:  # pragma: no cover - dynamo=True always returns a program
        raise ConfigError(f"ONNX export of '{path.name}' returned no program")
    proto = program.model_proto
    for k, v in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    with atomic_write(path) as fh:
        fh.write(proto.SerializeToString())


# -- public API ------------------------------------------------------------------------------------------------
def export_irn_onnx(
    net: IRN,
    out_dir: str | Path,
    *,
    height: int | None = None,
    width: int | None = None,
    dynamic: bool = True,
    opset: int | None = None,
    name: str | None = None,
) -> tuple[Path, Path]:
    """Export an IRN's downscaling and upscaling directions as two ONNX graphs (see the module docstring).

    Args:
        net: the IRN (any registered ``irn-x*`` variant: Haar, IRN_LD, IRN_E), in eval mode or not; not modified.
        out_dir: folder to write into (created if missing). Files are written atomically.
        height, width: the HR size of the example traced (multiples of the scale; default ``16·s``). With
            ``dynamic=False`` the graphs accept only this size and batch 1.
        dynamic: dynamic batch, height and width axes (the default); the graphs then run at any size.
        opset: ONNX opset version (default: the exporter's, 20 with torch 2.13).
        name: file stem and the model name recorded in the metadata (default ``irn-x<s>``).

    Returns:
        ``(down_path, up_path)``.

    Raises:
        ConfigError: ``net`` is not an IRN, the export packages are missing, or the exporter failed.
        ScaleError: ``height``/``width`` not a positive multiple of the scale.
    """
    from invrestore import __version__

    if not isinstance(net, IRN):
        raise ConfigError(f"ONNX export supports IRN models only, not {type(net).__name__}")
    s = net.scale
    name = name or f"irn-x{s}"
    if "/" in name or "\\" in name or not name.strip():
        raise ConfigError(f"the export name must be a plain file stem, not {name!r}")
    if not dynamic and (height is None or width is None):
        raise ConfigError("dynamic=False exports one fixed size: give height and width")
    hr_h = 16 * s if height is None else int(height)
    hr_w = 16 * s if width is None else int(width)
    if hr_h <= 0 or hr_w <= 0 or hr_h % s or hr_w % s:
        raise ScaleError(f"the export size {hr_h}×{hr_w} must be positive multiples of the scale {s}")
    if dynamic and (hr_h // s < 2 or hr_w // s < 2):
        raise ScaleError(f"a dynamic export traces at least {2 * s}×{2 * s} (sizes of 1 would be fixed)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    down_path, up_path = onnx_paths(out, name)

    c = net.in_channels
    zc = net.out_channels - c
    param = next(net.parameters())
    batch = 2 if dynamic else 1  # a traced size of 1 would be specialised
    x = torch.rand(batch, c, hr_h, hr_w, dtype=param.dtype, device=param.device)
    lr = torch.rand(batch, c, hr_h // s, hr_w // s, dtype=param.dtype, device=param.device)
    z = torch.randn(batch, zc, hr_h // s, hr_w // s, dtype=param.dtype, device=param.device)
    meta = {META_MODEL: name, META_SCALE: str(s), META_VERSION: __version__, META_IN_CHANNELS: str(c)}
    meta[META_Z_CHANNELS] = str(zc)

    down_dyn: dict[str, Any] | None = None
    up_dyn: dict[str, Any] | None = None
    if dynamic:
        dim = torch.export.Dim
        b, h, w = dim("batch", min=1), dim("height", min=1), dim("width", min=1)
        down_dyn = {"x": {0: b, 2: s * h, 3: s * w}}
        up_dyn = {"lr": {0: b, 2: h, 3: w}, "z": {0: b, 2: h, 3: w}}
    was_training = net.training
    net.eval()
    try:
        _export_one(
            _Down(net).eval(),
            (x,),
            down_path,
            input_names=["x"],
            output_names=["out", "lr"],
            dynamic_shapes=down_dyn,
            opset=opset,
            metadata={**meta, META_DIRECTION: "down"},
        )
        _export_one(
            _Up(net).eval(),
            (lr, z),
            up_path,
            input_names=["lr", "z"],
            output_names=["hr"],
            dynamic_shapes=up_dyn,
            opset=opset,
            metadata={**meta, META_DIRECTION: "up"},
        )
    finally:
        net.train(was_training)
    return down_path, up_path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict (``invrestore.model``, ``invrestore.scale``, ...)."""
    onnx = ensure_installed("onnx", "reading ONNX metadata")
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def _session(path: Path, threads: int | None) -> Any:
    ort = ensure_installed("onnxruntime", "checking an ONNX export")
    if not Path(path).is_file():
        raise ConfigError(f"ONNX file '{path}' not found")
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def check_onnx(
    net: IRN,
    paths: Sequence[str | Path],
    *,
    sizes: Sequence[tuple[int, int]],
    atol: float = 1e-4,
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, float]:
    """Run both graphs in onnxruntime (CPU) and the torch model eagerly on the same inputs; return the largest
    absolute differences over all ``sizes`` (HR ``(H, W)`` pairs, multiples of the scale).

    Inputs: ``x ~ U[0, 1)``; the up graph gets torch's own quantised LR and ``z ~ N(0, I)`` (the upscaling inputs
    of real use). Returned keys: ``down`` (``out``), ``up`` (``hr``), ``lr_levels`` (the 8-bit LR's largest
    difference in levels: 0, or 1 where a value of ``out`` sits within float noise of a rounding boundary).

    Raises:
        ConfigError: onnxruntime (or onnx) is not installed, or a file is missing.
        ExportCheckError: ``down`` or ``up`` above ``atol``, or ``lr_levels`` above 1.
    """
    if not isinstance(net, IRN):
        raise ConfigError(f"check_onnx needs the IRN the graphs were exported from, not {type(net).__name__}")
    if len(paths) != 2:
        raise ConfigError(f"check_onnx takes the (down, up) pair of paths, got {len(paths)} paths")
    down_s, up_s = (_session(Path(p), threads) for p in paths)
    s, c = net.scale, net.in_channels
    gen = torch.Generator().manual_seed(seed)
    worst = {"down": 0.0, "up": 0.0, "lr_levels": 0.0}
    was_training = net.training
    net.eval()
    try:
        for h, w in sizes:
            if h <= 0 or w <= 0 or h % s or w % s:
                raise ScaleError(f"check size {h}×{w} is not a positive multiple of the scale {s}")
            x = torch.rand(1, c, h, w, generator=gen)
            with torch.no_grad():
                param = next(net.parameters())
                out_t, _ = net(x.to(param))
                out_t = out_t.float().cpu()
                lr_t = torch.round(out_t[:, :c].clamp(0, 1) * 255.0) / 255.0
                z = torch.randn(1, out_t.shape[1] - c, h // s, w // s, generator=gen)
                hr_t, _ = net.inverse(torch.cat([lr_t, z], 1).to(param))
                hr_t = hr_t.float().cpu()
            out_o, lr_o = down_s.run(["out", "lr"], {"x": x.numpy()})
            (hr_o,) = up_s.run(["hr"], {"lr": lr_t.numpy(), "z": z.numpy()})
            worst["down"] = max(worst["down"], (torch.from_numpy(out_o) - out_t).abs().max().item())
            levels = (torch.from_numpy(lr_o) - lr_t).abs().max().item() * 255.0
            worst["lr_levels"] = max(worst["lr_levels"], round(levels))
            worst["up"] = max(worst["up"], (torch.from_numpy(hr_o) - hr_t).abs().max().item())
    finally:
        net.train(was_training)
    bad = [f"{k} {v:.3g}" for k, v in worst.items() if k != "lr_levels" and v > atol]
    if worst["lr_levels"] > 1:
        bad.append(f"lr differs by {worst['lr_levels']:.0f} levels")
    if bad:
        raise ExportCheckError(f"the ONNX graphs differ from torch beyond atol={atol:g}: {', '.join(bad)}")
    return worst
