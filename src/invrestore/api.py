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

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from invrestore.errors import CheckpointError, ConfigError
from invrestore.inference.codec import ImageCodec
from invrestore.inference.images import Kind, from_tensor, to_tensor
from invrestore.inference.rescaler import ImageRescaler
from invrestore.inference.restorer import ImageRestorer

__all__ = [
    "Codec",
    "ImageCodec",
    "ImageRescaler",
    "ImageRestorer",
    "Kind",
    "Rescaler",
    "Restorer",
    "from_tensor",
    "load",
    "load_codec",
    "load_rescaler",
    "load_restorer",
    "load_vae",
    "to_tensor",
    "wrap",
]


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
        kair_name = name is None or name.startswith(("dncnn-kair", "ffdnet-kair"))
        variant = detect_kair(state) if kair_name else None
        is_kair = variant is not None
        if not is_kair and kair_name:
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
    """A training run folder (or a weights file inside one): the model built from its config, the weights of its
    best/last checkpoint. This is the one place that turns a run into a model (``invrestore.zoo.run_config`` and
    ``weights_file`` find the files)."""
    from invrestore.models.registry import load_task
    from invrestore.zoo import run_config, weights_file

    file = weights_file(folder)
    cfg_path = run_config(folder)
    if cfg_path is None:
        if name is None:
            net, label = _load_file(file, None)
            return net, label, None, None
        net, label = _load_file(file, name)
        return net, label, None, None
    task = load_task(cfg_path)
    cfg = task.config()
    from invrestore.train.checkpoint import load_weights

    state = load_weights(file)
    if getattr(cfg, "family", None) == "pix2pix":
        if name is not None and not name.startswith("pix2pix"):
            raise ConfigError(f"'{folder}' is a pix2pix run ({cfg_path}), not '{name}'")
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
        from invrestore.zoo import run_config

        if src.is_dir() or run_config(src) is not None:  # a run folder, or a checkpoint file inside one
            net, label, task, p2p_eval = _load_run(src, name)
        else:
            net, label = _load_file(src, name)
    if label.startswith("pix2pix") and p2p_eval is None and label != "pix2pix-patchgan":
        p2p_eval = False  # pix2pix's own default: train-mode inference
    return wrap(net.to(dev), label, task=task, pix2pix_eval_mode=p2p_eval)


# -- loading for one protocol (what the commands use) --------------------------------------------------------------
def load_rescaler(
    name: str, weights: str | Path | None = None, *, device: str | torch.device = "cpu", color: bool = False
) -> ImageRescaler:
    """:func:`load` for a model that must be an IRN rescaler (``color=True``: the IRN_color decolorization model).

    Raises:
        ConfigError: ``name`` is another kind of model (checked after loading, so a wrong file reports first).
        CheckpointError: as :func:`load`.
    """
    from invrestore.models.irn.color import IRNColor

    m = load(name, weights, device=device)
    if color:
        if not isinstance(m, ImageRescaler) or not isinstance(m.model, IRNColor):
            raise ConfigError(f"'{name}' is not a decolorization model (use irn-color)")
    elif not isinstance(m, ImageRescaler) or not m.is_irn:
        raise ConfigError(f"'{name}' is not an IRN rescaling model")
    return m


def load_restorer(
    name: str | None, weights: str | Path | None = None, *, device: str | torch.device = "cpu"
) -> ImageRestorer:
    """:func:`load` for a restoration model (IRAE, a baseline or a pix2pix generator; see
    :func:`invrestore.models.catalog.restoration_models`): by name (shipped weights unless ``weights``), or from
    ``weights`` alone when it is a training run (its ``config.yaml`` names the model).

    Raises:
        ConfigError: neither given; ``weights`` of a run trained as another model; not a restoration model.
        CheckpointError: as :func:`load`.
    """
    from invrestore.models.catalog import restoration_models

    if name is None and weights is None:
        raise ConfigError("give a restoration model name or its weights")
    m = load(name, weights, device=device) if name is not None else load(str(weights), device=device)
    allowed = restoration_models()
    label = getattr(m, "name", name)
    if not isinstance(m, ImageRestorer) or (label not in allowed and label != "pix2pix"):
        raise ConfigError(f"'{label}' is not a restoration model; choose from {', '.join(allowed)}")
    return m


def load_codec(name: str, weights: str | Path | None = None, *, device: str | torch.device = "cpu") -> ImageCodec:
    """A learned codec as a :class:`Codec`: a registered one (its shipped weights unless ``weights``) or any
    ``bls2017-N`` with ``weights``; the weights must hold coding tables.

    Raises:
        ConfigError: unknown codec name or device.
        CheckpointError: no weights ship with it; unreadable or mismatched weights; no coding tables.
    """
    from invrestore.models.ilc.loading import load_codec as build_and_load

    dev = _device(device)
    net = build_and_load(name, weights)
    return ImageCodec(net, str(getattr(net, "name", name))).to(dev)


def load_vae(name: str, weights: str | Path | None = None, *, device: str | torch.device = "cpu") -> nn.Module:
    """:func:`load` for a model of the selfVAE family (a VAE/selfVAE network, in eval mode).

    Raises:
        ConfigError: ``name`` is not a selfVAE-family model.
        CheckpointError: as :func:`load` (none ship yet: pass ``weights``).
    """
    from invrestore.models.registry import list_models

    known = list_models("selfvae")
    if name not in known:
        raise ConfigError(f"'{name}' is not a selfVAE-family model; available: {', '.join(known)}")
    net: nn.Module = load(name, weights, device=device)
    return net
