"""The Python API: one loading function and three inference protocols.

>>> import invrestore
>>> m = invrestore.load("irn-x4")          # shipped weights, sha256-checked, eval mode
>>> lr, z = m.downscale(img)               # img: a torch tensor, a numpy array or a PIL image
>>> hr = m.upscale(lr)                     # the same kind as img

:func:`load` accepts a registered model name (with its shipped weights, or ``weights=``), our safetensors files,
training run folders (``run/``, ``run/best``, ``run/last``), official IRN release files, official pix2pix generators,
KAIR's DnCNN/FFDNet releases and CompressAI ``bmshj2018-factorized`` checkpoints, and returns a
:class:`Rescaler` (IRN), a :class:`Restorer` (IRAE, the baselines, pix2pix generators, KAIR models, CRMs) or a
:class:`Codec` (ILC, bls2017, CompressAI teachers). Other models (selfVAEs, discriminators) come back as the plain
``nn.Module`` in eval mode. See docs/api.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from invrestore.errors import CheckpointError, ConfigError, ImageShapeError, InvalidBitstream

__all__ = [
    "Codec",
    "ImageCodec",
    "ImageRescaler",
    "ImageRestorer",
    "Rescaler",
    "Restorer",
    "from_tensor",
    "load",
    "to_tensor",
]

Kind = Literal["tensor", "numpy", "pil"]


# -- the protocols -------------------------------------------------------------------------------------------------
@runtime_checkable
class Rescaler(Protocol):
    """Downscale an image into an LR image and a latent, and back (IRN)."""

    scale: int

    def downscale(self, x: Any) -> tuple[Any, Tensor | None]:
        """``x`` (HR image) -> ``(y, z)``: the 8-bit LR image (same kind as ``x``) and the latent tensor."""
        ...

    def upscale(
        self,
        y: Any,
        z: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ) -> Any:
        """``y`` (LR image) -> the HR image (same kind); without ``z`` it is drawn from N(0, I)."""
        ...


@runtime_checkable
class Restorer(Protocol):
    """Restore a degraded image (denoise, dejpeg, derain, ...)."""

    def restore(self, y: Any, *, task: str | None = None, sigma: float | None = None) -> Any:
        """``y`` (degraded image) -> the restored image (same kind)."""
        ...


@runtime_checkable
class Codec(Protocol):
    """Compress an image into bytes and back."""

    def compress(self, x: Any) -> bytes: ...

    def decompress(self, data: bytes) -> Any: ...


# -- images in and out ---------------------------------------------------------------------------------------------
class _Like:
    """How an input image was given, so that outputs come back the same way."""

    def __init__(self, kind: Kind, batched: bool, dtype: Any, device: torch.device | None, mode: str | None) -> None:
        self.kind, self.batched, self.dtype, self.device, self.mode = kind, batched, dtype, device, mode


def to_tensor(img: Any) -> tuple[Tensor, _Like]:
    """An image as a float32 ``(B, C, H, W)`` tensor in [0, 1], and how to give results back in its kind.

    Accepts a tensor ``(C, H, W)``/``(B, C, H, W)`` (float in [0, 1] or uint8), a numpy array ``(H, W)``/
    ``(H, W, C)`` (uint8, uint16 or float in [0, 1]) or a PIL image (alpha dropped, palette/CMYK/16-bit converted).

    Raises:
        ImageShapeError: not an image of 1, 3 or 4 channels.
        ConfigError: an unsupported type or dtype.
    """
    if isinstance(img, Tensor):
        if img.ndim not in (3, 4):
            raise ImageShapeError(f"expected a (C, H, W) or (B, C, H, W) tensor, got shape {tuple(img.shape)}")
        x = img if img.ndim == 4 else img.unsqueeze(0)
        like = _Like("tensor", img.ndim == 4, img.dtype, img.device, None)
        if img.dtype == torch.uint8:
            x = x.float() / 255.0
        elif not img.is_floating_point():
            raise ConfigError(f"image tensors must be float in [0, 1] or uint8, got {img.dtype}")
        x = x.float()
    elif isinstance(img, np.ndarray):
        arr = img
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ImageShapeError(f"expected an (H, W) or (H, W, C) array, got shape {img.shape}")
        like = _Like("numpy", False, img.dtype, None, None)
        if arr.dtype == np.uint8:
            x = torch.from_numpy(np.ascontiguousarray(arr)).float() / 255.0
        elif arr.dtype == np.uint16:
            x = torch.from_numpy(arr.astype(np.float32) / 65535.0)
        elif np.issubdtype(arr.dtype, np.floating):
            x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        else:
            raise ConfigError(f"image arrays must be uint8, uint16 or float in [0, 1], got {arr.dtype}")
        x = x.permute(2, 0, 1).unsqueeze(0)
    else:
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover - Pillow is a dependency
            Image = None  # type: ignore[assignment]
        if Image is None or not isinstance(img, Image.Image):
            raise ConfigError(f"expected a torch tensor, a numpy array or a PIL image, got {type(img).__name__}")
        mode = "L" if img.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"
        conv = img
        if img.mode in ("I", "I;16", "F"):
            a = np.asarray(img, dtype=np.float32)
            a = a / (65535.0 if a.max(initial=0) > 255 else 255.0)
            x = torch.from_numpy(a.clip(0, 1))[None, None]
            return x, _Like("pil", False, None, None, mode)
        conv = img.convert(mode)
        x = torch.from_numpy(np.asarray(conv, dtype=np.uint8).copy()).float() / 255.0
        x = x[None, None] if mode == "L" else x.permute(2, 0, 1).unsqueeze(0)
        like = _Like("pil", False, None, None, mode)
    c = x.shape[1]
    if c == 4:
        x = x[:, :3]
    elif c not in (1, 3):
        raise ImageShapeError(f"expected an image with 1, 3 or 4 channels, got {c}")
    if not x.shape[-2] or not x.shape[-1]:
        raise ImageShapeError(f"the image is empty ({x.shape[-2]}×{x.shape[-1]})")
    return x, like


def from_tensor(x: Tensor, like: _Like) -> Any:
    """Give ``x`` (``(B, C, H, W)`` in [0, 1]) back in the kind of the input described by ``like``."""
    x = x.detach()
    if like.kind == "tensor":
        out = x if like.batched else x[0]
        if like.dtype == torch.uint8:
            out = (out.clamp(0, 1) * 255.0).round().to(torch.uint8)
        else:
            out = out.to(like.dtype)
        return out.to(like.device) if like.device is not None else out
    if x.shape[0] != 1:
        raise ImageShapeError(f"a numpy or PIL result holds one image, got a batch of {x.shape[0]}")
    hwc = x[0].permute(1, 2, 0).float().cpu().numpy()
    if like.kind == "numpy":
        if like.dtype == np.uint8:
            return (hwc.clip(0, 1) * 255.0).round().astype(np.uint8)
        if like.dtype == np.uint16:
            return (hwc.clip(0, 1) * 65535.0).round().astype(np.uint16)
        return hwc.astype(like.dtype)
    from PIL import Image

    u8 = (hwc.clip(0, 1) * 255.0).round().astype(np.uint8)
    return Image.fromarray(u8[:, :, 0], "L") if u8.shape[2] == 1 else Image.fromarray(u8, "RGB")


def _pad(x: Tensor, multiple: int) -> Tensor:
    from invrestore.imageops import pad_to_multiple

    return pad_to_multiple(x, multiple) if multiple > 1 else x


def _model_device(net: nn.Module) -> torch.device:
    p = next(iter(net.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


_TILING_API = ("auto_tile", "irn_downscale", "irn_upscale", "irn_kind", "ZField", "tiled_restore", "restore_kind")


def _tiling() -> Any:
    """The tiling module when it is installed (large images in bounded memory), else None (whole images)."""
    try:
        import invrestore.tiling as tiling
    except ImportError:
        return None
    return tiling if all(hasattr(tiling, n) for n in _TILING_API) else None


def _tile_for(owner: Any, kind: str, h: int, w: int, align: int) -> int | None:
    """The tile size for an ``h × w`` input of ``kind``: ``owner.tile`` when it is a number, else (``"auto"``)
    the tiling layer's choice for ``owner.max_memory`` (None: the whole image fits, or no tiling layer)."""
    tiling = _tiling()
    if tiling is None or owner.tile is None:
        return None
    if owner.tile != "auto":
        return int(owner.tile)
    tile: int | None = tiling.auto_tile(
        kind, h, w, max_memory=owner.max_memory, align=align, device=_model_device(owner.model)
    )
    return tile


# -- the wrappers --------------------------------------------------------------------------------------------------
class ImageRescaler:
    """A :class:`Rescaler` over an IRN (or IRN_color, ``scale`` 1): any size (reflect-padded to the scale, cropped
    back by ``upscale(..., size=)``), single-channel inputs run as RGB, outputs in the input's kind.

    Attributes:
        model: the network, in eval mode.
        name: its registry name (or the file it came from).
        scale: the downscaling factor.
    """

    def __init__(self, model: nn.Module, name: str = "irn") -> None:
        self.model: Any = model.eval()
        self.name = name
        self.scale = int(getattr(model, "scale", 1))
        #: ``"auto"``: tile an image only when its estimated memory exceeds ``max_memory``; an int: always tile
        #: with that tile size (HR pixels for downscale, LR for upscale); None: always whole.
        self.tile: int | str | None = "auto"
        #: Memory budget in bytes for ``tile="auto"`` (None: the tiling layer's default).
        self.max_memory: int | None = None

    def __repr__(self) -> str:
        return f"ImageRescaler({self.name!r}, scale={self.scale})"

    @property
    def device(self) -> torch.device:
        return _model_device(self.model)

    def downscale(self, x: Any) -> tuple[Any, Tensor | None]:
        """HR image -> ``(y, z)``: the 8-bit-quantised LR image (same kind as ``x``; ``ceil(H/s)×ceil(W/s)``) and
        the latent ``z`` (a tensor ``(B, C_z, h, w)``; None when the image was too large and went through tiles).
        Single-channel inputs are run as RGB: ``y`` is RGB."""
        t, like = to_tensor(x)
        if t.shape[1] == 1:
            t = t.expand(-1, 3, -1, -1)
        if like.kind == "pil" and like.mode == "L":
            like.mode = "RGB"
        tp = _pad(t, self.scale)
        tile = self._tile("down", tp)
        if tile is not None:  # too large for memory at once: the LR in tiles; z is not kept (upscale draws one)
            y = _tiling().irn_downscale(self.model, tp, tile=tile, device=self.device)
            return from_tensor(y, like), None
        with torch.no_grad():
            y, z = self.model.downscale(tp.to(self.device))
        return from_tensor(y, like), z

    def _tile(self, direction: str, t: Tensor) -> int | None:
        from invrestore.models.irn.model import IRN

        if t.shape[0] != 1 or not isinstance(self.model, IRN) or _tiling() is None:
            return None
        kind = _tiling().irn_kind(self.model, direction)
        return _tile_for(self, kind, int(t.shape[-2]), int(t.shape[-1]), self.scale if direction == "down" else 1)

    def upscale(
        self,
        y: Any,
        z: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
        size: tuple[int, int] | None = None,
    ) -> Any:
        """LR image -> HR image (same kind as ``y``). Without ``z``, z ~ ``temperature`` · N(0, I) from
        ``generator`` (or a generator seeded with ``seed``; else torch's global RNG); ``temperature=0`` is z = 0.
        ``size=(H, W)`` crops the result to the original HR size (of an input that was padded to the scale)."""
        t, like = to_tensor(y)
        from invrestore.models.irn.model import IRN

        if t.shape[1] == 1 and isinstance(self.model, IRN):  # IRN's LR is RGB; IRN_color's is grey
            t = t.expand(-1, 3, -1, -1)
        if not math.isfinite(temperature) or temperature < 0:
            raise ConfigError(f"temperature must be a finite number ≥ 0, got {temperature}")
        t = t.to(self.device)
        if generator is None and seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(int(seed))
        tile = self._tile("up", t) if z is None else None
        if tile is not None:  # in tiles, z from the tiling layer's seeded field (the same for any tiling)
            tiling = _tiling()
            if seed is None:
                seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            field = tiling.ZField(
                int(self.model.out_channels) - int(self.model.in_channels),
                seed=int(seed),
                temperature=temperature,
                mode="zero" if temperature == 0 else "random",
            )
            out = tiling.irn_upscale(self.model, t, field, tile=tile, device=self.device)
            if size is not None:
                out = out[..., : int(size[0]), : int(size[1])]
            return from_tensor(out.clamp(0, 1), like)
        with torch.no_grad():
            if z is not None:
                out = self.model.upscale(t, z.to(self.device, t.dtype))
            elif temperature == 0:
                out = self.model.upscale(t, t.new_zeros(self.model.z_shape(t)))
            else:
                shape = self.model.z_shape(t)
                zz = temperature * torch.randn(shape, generator=generator, device=t.device, dtype=t.dtype)
                out = self.model.upscale(t, zz)
        if size is not None:
            out = out[..., : int(size[0]), : int(size[1])]
        return from_tensor(out.clamp(0, 1), like)


class ImageRestorer:
    """A :class:`Restorer` over an image-to-image network: any size (reflect-padded to the model's multiple and
    cropped back), FFDNet's σ map built from ``sigma``, pix2pix generators run with pix2pix's test-time mode,
    single-channel inputs run as RGB and returned single-channel, output clamped to [0, 1].

    Attributes:
        model: the network (eval mode).
        name: its registry name (or the file it came from).
        task: what it was trained for, when known (``denoise``, ``derain``, ...).
    """

    def __init__(
        self,
        model: nn.Module,
        name: str = "restorer",
        task: str | None = None,
        *,
        pix2pix_eval_mode: bool | None = None,
    ) -> None:
        self.model: Any = model.eval()
        self.name = name
        self.task = task
        self.pix2pix_eval_mode = pix2pix_eval_mode  # None: not a pix2pix generator
        #: ``"auto"``: tile only images whose estimated memory exceeds ``max_memory``; an int: always tile with
        #: that size; None: always whole. Models normalising with whole-image statistics always run whole.
        self.tile: int | str | None = "auto"
        self.max_memory: int | None = None

    def __repr__(self) -> str:
        return f"ImageRestorer({self.name!r}, task={self.task!r})"

    @property
    def device(self) -> torch.device:
        return _model_device(self.model)

    @property
    def needs_sigma(self) -> bool:
        from invrestore.models.baselines.model import FFDNet

        return isinstance(self.model, FFDNet)

    def restore_tensor(self, y: Tensor, sigma: float | None = None) -> Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> restored ``(B, 3, H, W)`` in [0, 1] (the eager path the CLI uses)."""
        from invrestore.models.pix2pix.model import restore as pix2pix_restore

        h, w = y.shape[-2:]
        if self.needs_sigma and sigma is None:
            raise ConfigError(f"{self.name} needs the noise level of the input: pass sigma= (0–255 scale)")
        tiled = self._tiled(y, sigma)
        if tiled is not None:
            return tiled
        y = y.to(self.device)
        with torch.no_grad():
            if self.pix2pix_eval_mode is not None:
                return pix2pix_restore(self.model, y, eval_mode=self.pix2pix_eval_mode).clamp(0, 1)
            yp = _pad(y, int(getattr(self.model, "multiple", 1)))
            if self.needs_sigma:
                if sigma is None:
                    raise ConfigError(f"{self.name} needs the noise level of the input: pass sigma= (0–255 scale)")
                out = self.model(yp, sigma / 255.0)
            else:
                out = self.model(yp)
        result: Tensor = out[..., :h, :w].clamp(0, 1)
        return result

    def _tiled(self, y: Tensor, sigma: float | None) -> Tensor | None:
        """The tiled result when the tiling layer says this image needs tiles, else None."""
        tiling = _tiling()
        if tiling is None or y.shape[0] != 1 or self.pix2pix_eval_mode is False:
            return None  # pix2pix train-mode inference normalises with the whole image: never tiled
        multiple = int(getattr(self.model, "multiple", 1))
        kind = tiling.restore_kind(self.name)
        tile = _tile_for(self, kind, int(y.shape[-2]), int(y.shape[-1]), multiple)
        if tile is None:
            return None
        if self.pix2pix_eval_mode:
            from invrestore.models.pix2pix.model import restore as pix2pix_restore

            def fn(t: Tensor) -> Tensor:
                out: Tensor = pix2pix_restore(self.model, t, eval_mode=True)
                return out

        elif self.needs_sigma:
            assert sigma is not None

            def fn(t: Tensor) -> Tensor:
                out: Tensor = self.model(t, sigma / 255.0)
                return out

        else:
            fn = self.model
        out: Tensor = tiling.tiled_restore(fn, y, multiple=multiple, tile=tile, device=self.device, kind=kind)
        return out.clamp(0, 1)

    def restore(self, y: Any, *, task: str | None = None, sigma: float | None = None) -> Any:
        """Degraded image -> restored image (same kind as ``y``).

        Args:
            y: the degraded image.
            task: the task you expect (``denoise``, ``dejpeg``, ``derain``, ...); refused when the model was
                trained for another.
            sigma: noise σ on the 0–255 scale; required by FFDNet (its noise map), ignored by blind models.

        Raises:
            ConfigError: another task than the model's, a missing or negative ``sigma`` for FFDNet.
        """
        if task is not None and self.task is not None and task != self.task:
            raise ConfigError(f"'{self.name}' was trained to {self.task}, not to {task}")
        if sigma is not None and (not math.isfinite(sigma) or sigma < 0):
            raise ConfigError(f"sigma must be a finite number ≥ 0 (0–255 scale), got {sigma}")
        t, like = to_tensor(y)
        gray = t.shape[1] == 1
        if gray and getattr(self.model, "in_channels", 3) == 1:  # a grayscale model (KAIR's gray DnCNN/FFDNet)
            return from_tensor(self.restore_tensor(t, sigma), like)
        out = self.restore_tensor(t.expand(-1, 3, -1, -1) if gray else t, sigma)
        if gray:
            out = out.mean(1, keepdim=True)
        return from_tensor(out, like)


class ImageCodec:
    """A :class:`Codec` over a learned codec (ILC, bls2017): ``compress`` gives the bytes of our ``.irc``
    container, ``decompress`` checks that they were written by this model with these weights.

    Attributes:
        model: the codec (eval mode, with coding tables).
        name: its registry name (the model id written into the files).
    """

    def __init__(self, model: nn.Module, name: str | None = None) -> None:
        self.model: Any = model.eval()
        self.name = name or str(getattr(model, "name", "codec"))
        listing: Any = getattr(model, "entropy_bottlenecks", None)
        ebs: list[Any] = list(listing()) if callable(listing) else []
        if not all(bool(getattr(eb, "has_tables", False)) for eb in ebs):
            raise CheckpointError(
                f"the weights of '{self.name}' have no coding tables: call model.eval().update() after training "
                "and save the weights again"
            )

    def __repr__(self) -> str:
        return f"ImageCodec({self.name!r})"

    def compress(self, x: Any) -> bytes:
        """One RGB image (single-channel is expanded, alpha dropped) -> the bytes of an ``.irc`` file."""
        t, _ = to_tensor(x)
        if t.shape[0] != 1:
            raise ImageShapeError(f"compress takes one image, got a batch of {t.shape[0]}")
        if t.shape[1] == 1:
            t = t.expand(-1, 3, -1, -1)
        if max(t.shape[-2:]) > 65535:
            raise ConfigError(f"the image is {t.shape[-1]}×{t.shape[-2]}; the container stores sides up to 65535")
        bits = self.model.compress(t.to(_model_device(self.model)))
        data: bytes = bits.to_bytes()
        return data

    def decompress(self, data: bytes, *, kind: Kind = "tensor") -> Any:
        """The bytes of an ``.irc`` file -> the image: a ``(3, H, W)`` tensor, or ``kind="numpy"`` (uint8 HWC) or
        ``"pil"``.

        Raises:
            InvalidBitstream: malformed data, another model, or other weights than this codec's.
        """
        from invrestore.entropy.bitstream import Bitstream

        bits = Bitstream.from_bytes(data)
        if bits.model != self.name:
            raise InvalidBitstream(f"the data was written by model '{bits.model}', not '{self.name}'")
        if bits.config_hash != self.model.config_hash():
            raise InvalidBitstream(f"the data was written by '{bits.model}' with other weights or coding tables")
        x = self.model.decompress(bits)
        like = {
            "tensor": _Like("tensor", False, torch.float32, None, None),
            "numpy": _Like("numpy", False, np.uint8, None, None),
            "pil": _Like("pil", False, None, None, "RGB"),
        }.get(kind)
        if like is None:
            raise ConfigError(f"kind must be 'tensor', 'numpy' or 'pil', not {kind!r}")
        return from_tensor(x.cpu(), like)


# -- loading -------------------------------------------------------------------------------------------------------
def _device(device: str | torch.device) -> torch.device:
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} is not available in this torch build/machine; use cpu")
    return dev


def _restoration_family(name: str, net: nn.Module) -> bool:
    from invrestore.models.registry import MODELS

    entry = MODELS.get(name)
    fam = entry.family if entry is not None else None
    if fam in ("irae", "baselines"):
        return True
    from invrestore.models.irn.crm import CRM

    return isinstance(net, CRM)


def wrap(net: nn.Module, name: str, *, task: str | None = None, pix2pix_eval_mode: bool | None = None) -> Any:
    """The protocol wrapper of a loaded network: an :class:`ImageRescaler`, :class:`ImageRestorer` or
    :class:`ImageCodec`, or the network itself (eval mode) for other models."""
    from invrestore.entropy.codec import LearnedCodec
    from invrestore.models.registry import MODELS

    net = net.eval()
    entry = MODELS.get(name)
    if task is None and entry is not None:
        task = entry.task
    if isinstance(net, LearnedCodec):
        return ImageCodec(net, str(getattr(net, "name", name)))
    if all(hasattr(net, a) for a in ("downscale", "upscale", "z_shape")):
        return ImageRescaler(net, name)
    is_pix2pix = (entry is not None and entry.family == "pix2pix") or pix2pix_eval_mode is not None
    if is_pix2pix and name != "pix2pix-patchgan":
        return ImageRestorer(net, name, task, pix2pix_eval_mode=bool(pix2pix_eval_mode))
    if _restoration_family(name, net) or type(net).__name__.startswith("KAIR"):
        return ImageRestorer(net, name, task)
    return net


def _describe_state(state: Mapping[str, Any]) -> str:
    keys = list(state)
    few = ", ".join(f"'{k}'" for k in keys[:3])
    return f"a state dict with {len(keys)} keys like {few}{'...' if len(keys) > 3 else ''}"


_signatures: dict[str, dict[str, tuple[int, ...]]] = {}


def _registry_signatures() -> dict[str, dict[str, tuple[int, ...]]]:
    """Key -> shape of every registered model's state dict, built once on the meta device (no memory)."""
    if _signatures:
        return _signatures
    from invrestore.models.registry import MODELS, list_models

    list_models()
    for name, entry in MODELS.items():
        try:
            with torch.device("meta"):
                m = entry.factory()
            _signatures[name] = {k: tuple(v.shape) for k, v in m.state_dict().items()}
        except Exception:
            continue
    return _signatures


def match_registered(state: Mapping[str, Any]) -> list[str]:
    """Registered models whose state dict has exactly these keys and shapes (ours or official IRN/pix2pix)."""
    shapes = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, Tensor)}
    return [n for n, sig in _registry_signatures().items() if sig == shapes]


def _read_state(path: Path) -> dict[str, Any]:
    from invrestore.train.checkpoint import load_weights

    return dict(load_weights(path))  # safetensors or torch.load(weights_only=True), one-line errors


_WRAPPERS = ("state_dict", "params", "params_ema", "model", "netG", "network_G", "G")


def _unwrap(obj: Mapping[str, Any], path: Path) -> list[dict[str, Tensor]]:
    """The state dict inside a checkpoint, as stored and (when different) without a ``module.``/``netG.``/
    ``model.`` prefix common to every key: the candidates to recognise, in that order."""
    from invrestore.models.irn.model import _unwrap_state_dict

    plain: dict[str, Tensor] | None = None
    cur: Any = obj
    for _ in range(4):  # a wrapper holds the state dict, possibly wrapped again
        if isinstance(cur, Mapping) and cur and all(isinstance(v, Tensor) for v in cur.values()):
            plain = dict(cur)
            break
        inner = next((cur[k] for k in _WRAPPERS if isinstance(cur, Mapping) and isinstance(cur.get(k), Mapping)), None)
        if inner is None:
            break
        cur = inner
    try:
        stripped = _unwrap_state_dict(dict(obj))
    except CheckpointError as e:
        if plain is None:
            raise CheckpointError(f"'{path}': {e}") from e
        stripped = plain
    out = [plain] if plain is not None else []
    if plain is None or list(stripped) != list(plain):
        out.append(stripped)
    return out


def _load_state_into(net: nn.Module, state: Mapping[str, Tensor], source: str, name: str) -> None:
    try:
        net.load_state_dict(dict(state), strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise CheckpointError(f"'{source}' does not hold weights of '{name}': {detail[:200]}") from e


def _peer(state: Mapping[str, Any], path: Path, name: str | None) -> tuple[nn.Module, str] | None:
    """A KAIR DnCNN/FFDNet or CompressAI checkpoint as one of our models, or None when it is neither."""
    try:
        from invrestore.models.baselines.kair import detect_kair, kair_layout, load_kair
    except ImportError:  # pragma: no cover - the KAIR loader is optional
        pass
    else:
        variant = detect_kair(state)
        is_kair = variant is not None
        if not is_kair:
            try:
                kair_layout(state)
                is_kair = True
            except CheckpointError:
                is_kair = False
        if is_kair:
            wanted = name if name is not None and name.startswith(("dncnn-kair", "ffdnet-kair")) else None
            return load_kair(state, wanted), wanted or variant or f"kair:{path.stem}"
    try:
        from invrestore.models.ilc.compressai import detect_compressai, load_compressai_teacher
    except ImportError:  # pragma: no cover - the CompressAI converter is optional
        return None
    if detect_compressai(state):
        teacher = load_compressai_teacher(state)
        return teacher, str(getattr(teacher, "name", path.stem))
    return None


def _shipped_name(path: Path) -> str | None:
    """The model whose shipped file ``path`` is (same sha256 as a manifest entry), if any."""
    from invrestore.zoo import file_sha256, load_manifest

    manifest = load_manifest()
    size = path.stat().st_size
    candidates = [e for e in manifest.values() if e.size == size]
    if not candidates:
        return None
    digest = file_sha256(path)
    return next((e.name for e in candidates if e.sha256 == digest), None)


def _generator_only(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A pix2pix training checkpoint holds ``generator.*`` and ``discriminator.*``: keep the generator's."""
    if any(k.startswith("generator.") for k in state):
        return {k.removeprefix("generator."): v for k, v in state.items() if k.startswith("generator.")}
    return state


def _load_file(path: Path, name: str | None) -> tuple[nn.Module, str]:
    """A weights file (ours or a peer's) as a network, with ``name`` (registered) or detected."""
    from invrestore.models.registry import MODELS, create_model, list_models

    list_models()
    states = [_generator_only(s) for s in _unwrap(_read_state(path), path)]
    for state in states:
        peer = _peer(state, path, name)
        if peer is not None:
            return peer
    if name is None:
        name = _shipped_name(path)
    if name is not None:
        if name not in MODELS:
            raise ConfigError(f"unknown model '{name}'; see `invrestore models`")
        net = create_model(name)
        own = set(net.state_dict())
        state = next((s for s in states if set(s) == own), states[-1])
        _load_state_into(net, state, str(path), name)
        return net, name
    for state in states:
        matches = match_registered(state)
        if matches:
            # several names can share an architecture (a shipped variant and its base): prefer the base
            choice = min(matches, key=lambda n: (MODELS[n].pretrained is not None, len(n), n))
            net = create_model(choice)
            _load_state_into(net, state, str(path), choice)
            return net, choice
    raise CheckpointError(
        f"'{path}' is {_describe_state(states[0])}, which matches no known layout; expected one of our models "
        "(see `invrestore models`), an official IRN or pix2pix file, a KAIR DnCNN/FFDNet release or a "
        "CompressAI bmshj2018-factorized checkpoint (or pass the model name)"
    )


def _load_run(folder: Path, name: str | None) -> tuple[nn.Module, str, str | None, bool | None]:
    """A training run folder: the model built from its config, the weights of its best/last checkpoint."""
    from invrestore.zoo import load_run_task, run_config, weights_file

    file = weights_file(folder)
    cfg_path = run_config(folder)
    if cfg_path is None:
        if name is None:
            net, label = _load_file(file, None)
            return net, label, None, None
        net, label = _load_file(file, name)
        return net, label, None, None
    task = load_run_task(cfg_path)
    cfg = task.config()
    from invrestore.train.checkpoint import load_weights

    state = load_weights(file)
    if getattr(cfg, "family", None) == "pix2pix":
        net = task.build_model().generator
        state = {k.removeprefix("generator."): v for k, v in state.items() if k.startswith("generator.")} or state
        label = name or "pix2pix"
        _load_state_into(net, state, str(file), label)
        return net, label, str(cfg.data.task), bool(cfg.eval_mode)
    label = str(getattr(getattr(cfg, "model", None), "name", "") or folder.name)
    if name is not None and name != label:
        raise ConfigError(f"'{folder}' was trained as '{label}' ({cfg_path}), not '{name}'")
    net = task.build_model()
    _load_state_into(net, state, str(file), label)
    return net, label, None, None


def load(name_or_path: str | Path, weights: str | Path | None = None, *, device: str | torch.device = "cpu") -> Any:
    """Load a model for inference, in eval mode, wrapped in its protocol.

    Args:
        name_or_path: a registered model name (``irn-x4``; its shipped weights unless ``weights``), or a path:
            a weights file (our safetensors, an official IRN ``.pth``, an official pix2pix generator, a KAIR
            DnCNN/FFDNet release, a CompressAI ``bmshj2018-factorized`` checkpoint) or a training run folder
            (``run/``, ``run/best``, ``run/last``; built from its ``config.yaml``).
        weights: with a model name, the file or run folder to load instead of the shipped weights.
        device: ``cpu`` (default), ``cuda``, ``cuda:N`` or ``auto``.

    Returns:
        An :class:`ImageRescaler`, :class:`ImageRestorer` or :class:`ImageCodec` (each has ``.model``), or the
        network itself for models outside the three protocols.

    Raises:
        ConfigError: unknown model name or device.
        CheckpointError: missing, corrupt or unrecognised file (one line naming what it looks like).
    """
    from invrestore.models.registry import MODELS, create_model, list_models

    dev = _device(device)
    list_models()
    key = str(name_or_path)
    is_name = key in MODELS and not (isinstance(name_or_path, Path) and Path(key).exists())
    task: str | None = None
    p2p_eval: bool | None = None
    if is_name and weights is None:
        net = create_model(key, pretrained=True)
        label = key
    else:
        name = key if is_name else None
        src = Path(weights if is_name and weights is not None else name_or_path)
        if not is_name and weights is not None:
            raise ConfigError("pass weights= only with a registered model name")
        if not src.exists():
            if not is_name and "/" not in key and not key.endswith((".pth", ".pt", ".safetensors", ".tar")):
                raise ConfigError(f"unknown model '{key}' and no such file; see `invrestore models`")
            raise CheckpointError(f"weights '{src}' not found")
        if src.is_dir():
            net, label, task, p2p_eval = _load_run(src, name)
        else:
            net, label = _load_file(src, name)
    if label.startswith("pix2pix") and p2p_eval is None and label != "pix2pix-patchgan":
        p2p_eval = False  # pix2pix's own default: train-mode inference
    return wrap(net.to(dev), label, task=task, pix2pix_eval_mode=p2p_eval)
