"""Loading the DnCNN and FFDNet checkpoints published by KAIR (``cszn/KAIR``, the model zoo of the DnCNN/FFDNet
authors), the usual baselines of denoising papers.

KAIR's files are plain torch state dicts of a flat ``nn.Sequential`` called ``model``; convolutions have biases
and the batch normalisation of the middle layers is merged into them, so the keys are ``model.0.weight``,
``model.0.bias``, ``model.2.weight``, … (the odd indices are the parameter-free ReLUs). See ``docs/peers.md``.

==========================  ===================================================  =========================
registry name               layout (all 3×3, stride 1, "same" zero padding)       published files
==========================  ===================================================  =========================
``dncnn-kair-17-gray``      17 convs, 1 → 64 → … → 64 → 1, ReLU between;          ``dncnn_15.pth``,
                            output ``y − net(y)`` (residual)                      ``dncnn_25.pth``,
                                                                                  ``dncnn_50.pth``
``dncnn-kair-20-gray``      20 convs, 1 → 64 → 1, residual                        ``dncnn_gray_blind.pth``,
                                                                                  ``dncnn3.pth``
``dncnn-kair-20-color``     20 convs, 3 → 64 → 3, residual                        ``dncnn_color_blind.pth``
``ffdnet-kair-gray``        pixel-unshuffle ×2 (4 ch) + 1-channel σ map →         ``ffdnet_gray.pth``,
                            15 convs 5 → 64 → 4, pixel-shuffle ×2 (no residual)    ``ffdnet_gray_clip.pth``
``ffdnet-kair-color``       unshuffle (12 ch) + 1-channel σ map →                 ``ffdnet_color.pth``,
                            12 convs 13 → 96 → 12, shuffle                        ``ffdnet_color_clip.pth``
==========================  ===================================================  =========================

:func:`detect_kair` names the variant from the keys and shapes of a state dict, :func:`load_kair` builds it
and loads the weights (any depth and width of these two layouts loads, registered or not). Training
checkpoints of KAIR in which batch normalisation is still separate (conv → BN → ReLU, ``act_mode="BR"``)
load too: the BN layers are merged into the preceding convolutions with KAIR's ``eps = 1e-4``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import CheckpointError, ConfigError, ImageShapeError
from invrestore.imageops import pad_to_multiple
from invrestore.models.baselines.model import FFDNet, _noise_map
from invrestore.models.registry import register_model

__all__ = [
    "KAIR_BN_EPS",
    "KAIRDnCNN",
    "KAIRFFDNet",
    "KAIRLayout",
    "detect_kair",
    "kair_layout",
    "load_kair",
    "merge_batch_norm",
]

KAIR_BN_EPS = 1e-4
"""``eps`` of KAIR's BatchNorm layers (its ``basicblock.conv``); it is not stored in the checkpoints."""

Kind = Literal["dncnn", "ffdnet"]


@dataclass(frozen=True)
class KAIRLayout:
    """What a KAIR state dict holds: the network kind and its sizes.

    Attributes:
        kind: ``"dncnn"`` (residual, image in and out) or ``"ffdnet"`` (unshuffled image + noise map).
        channels: Image channels ``C`` (1 grayscale, 3 colour).
        depth: Number of convolutions (KAIR's ``nb``).
        width: Feature channels (KAIR's ``nc``).
        batch_norm: Whether separate BatchNorm layers are stored (a training checkpoint, not a release file).
    """

    kind: Kind
    channels: int
    depth: int
    width: int
    batch_norm: bool = False

    def describe(self) -> str:
        """One phrase, e.g. ``"DnCNN, 17 convolutions, 1 -> 1 channels, width 64"``."""
        if self.kind == "dncnn":
            io = f"{self.channels} -> {self.channels} channels"
        else:
            io = f"{4 * self.channels + 1} -> {4 * self.channels} channels (image of {self.channels})"
        bn = ", separate BatchNorm" if self.batch_norm else ""
        label = "DnCNN" if self.kind == "dncnn" else "FFDNet"
        return f"{label}, {self.depth} convolutions, {io}, width {self.width}{bn}"


def _conv_stack(c_in: int, c_out: int, depth: int, width: int) -> nn.Sequential:
    """KAIR's merged layout: conv(c_in→w) ReLU [conv(w→w) ReLU]×(depth−2) conv(w→c_out), biases everywhere."""
    if depth < 2:
        raise ConfigError(f"a KAIR DnCNN/FFDNet needs depth >= 2 convolutions, got {depth}")
    layers: list[nn.Module] = [nn.Conv2d(c_in, width, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(width, width, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(width, c_out, 3, padding=1, bias=True))
    return nn.Sequential(*layers)


def _gray_input(y: Tensor, channels: int) -> tuple[Tensor, bool]:
    """``y`` as the model's channels; a grayscale model also takes 3 identical channels (a gray image read as RGB).

    Returns ``(input, replicate_output)``.
    """
    if y.ndim != 4:
        raise ImageShapeError(f"expected (B, {channels}, H, W), got {tuple(y.shape)}")
    if y.shape[1] == channels:
        return y, False
    if channels == 1 and y.shape[1] == 3:
        if bool((y[:, 1:] == y[:, :1]).all()):
            return y[:, :1], True
        raise ImageShapeError(
            "this KAIR model is a grayscale denoiser but the image has colour: convert it to gray first "
            "or use the -color variant"
        )
    raise ImageShapeError(f"expected (B, {channels}, H, W), got {tuple(y.shape)}")


class KAIRDnCNN(nn.Module):
    """KAIR's DnCNN in its published (BN-merged) form. ``(B, C, H, W) -> (B, C, H, W)``, any size.

    .. code-block:: none

        y ─► conv3×3(C→w) ─► ReLU ─► [conv3×3(w→w) ─► ReLU] × (depth − 2) ─► conv3×3(w→C) ─► n;  x̂ = y − n

    All convolutions have biases (the merged BatchNorm). Parameters:
    ``(9·C·w + w) + (depth − 2)·(9w² + w) + (9·w·C + C)``. The state dict keys are KAIR's (``model.{i}.*``),
    so a release file loads with ``load_state_dict`` directly. A grayscale model (``C = 1``) also accepts a
    3-channel image whose channels are identical (a gray file read as RGB) and returns 3 channels.

    Args:
        in_channels: Image channels ``C``.
        depth: Number of convolutions (17 for ``dncnn_15/25/50``, 20 for the blind models).
        width: Feature channels ``w``.
    """

    multiple = 1

    def __init__(self, in_channels: int = 1, depth: int = 17, width: int = 64) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.depth = int(depth)
        self.width = int(width)
        self.model = _conv_stack(self.in_channels, self.in_channels, self.depth, self.width)

    def forward(self, y: Tensor) -> Tensor:
        x, replicate = _gray_input(y, self.in_channels)
        out: Tensor = x - self.model(x)
        return out.expand(-1, 3, -1, -1) if replicate else out


class KAIRFFDNet(FFDNet):
    """KAIR's FFDNet in its published form: a 1-channel noise map and biased convolutions without BatchNorm.

    .. code-block:: none

        y ─► replicate-pad to even (bottom/right) ─► unshuffle 2 (4C, H/2, W/2) ─┐
        σ ─► map (1, H/2, W/2) ──────────────────────────────────────────────────┴► cat (4C + 1)
            ─► conv3×3(4C+1→w) ─► ReLU ─► [conv3×3(w→w) ─► ReLU] × (depth − 2) ─► conv3×3(w→4C)
            ─► shuffle 2 ─► crop ─► x̂           (the clean image: no residual)

    A subclass of :class:`~invrestore.models.baselines.FFDNet` with the same call, ``net(y, sigma)`` with
    ``sigma`` on the [0, 1] scale (σ₂₅₅ / 255): a number, a tensor ``()`` / ``(B,)`` / ``(B, 1)``, or a
    full-resolution map ``(B, 1, H, W)`` (average-pooled 2×2). The unshuffle order is torch's
    ``pixel_unshuffle`` (channel ``c·4 + 2i + j`` holds pixel ``(2h + i, 2w + j)`` of channel ``c``), which is
    KAIR's. Odd sizes are padded by replicating the last row/column, as KAIR does (``pad_mode``), and cropped
    back. Parameters: ``(9·(4C+1)·w + w) + (depth − 2)·(9w² + w) + (9·w·4C + 4C)``.

    Args:
        in_channels: Image channels ``C``.
        depth: Number of convolutions (15 grayscale, 12 colour).
        width: Feature channels (64 grayscale, 96 colour).
    """

    multiple = 2
    pad_mode = "replicate"

    def __init__(self, in_channels: int = 3, depth: int = 12, width: int = 96) -> None:
        # FFDNet.__init__ builds our bias-free, BN, C-channel-map body; this layout replaces all of it.
        nn.Module.__init__(self)
        self.in_channels = int(in_channels)
        self.residual = False
        self.depth = int(depth)
        self.width = int(width)
        c4 = 4 * self.in_channels
        self.model = _conv_stack(c4 + 1, c4, self.depth, self.width)

    def forward(self, y: Tensor, sigma: float | Tensor) -> Tensor:
        x, replicate = _gray_input(y, self.in_channels)
        h, w = x.shape[-2:]
        xp = pad_to_multiple(x, 2, self.pad_mode)
        m = _noise_map(sigma, xp, 1)
        out = F.pixel_shuffle(self.model(torch.cat([F.pixel_unshuffle(xp, 2), m], dim=1)), 2)[..., :h, :w]
        return out.expand(-1, 3, -1, -1) if replicate else out


# -- state dict analysis --------------------------------------------------------------------------------------------

_KEY_RE = re.compile(r"model\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)")


def _strip_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
        return {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def _not_kair(state: Mapping[str, Any], why: str) -> CheckpointError:
    sample = ", ".join(f"'{k}'" for k in list(state)[:3]) or "no keys"
    return CheckpointError(
        f"not a KAIR DnCNN/FFDNet state dict ({why}; found {sample}); expected keys 'model.0.weight', "
        "'model.0.bias', 'model.2.weight', … of 3×3 convolutions"
    )


def kair_layout(state: Mapping[str, Any]) -> KAIRLayout:
    """The :class:`KAIRLayout` of a KAIR DnCNN/FFDNet state dict (``module.`` prefixes are ignored).

    Raises:
        CheckpointError: the keys or shapes fit neither layout (the message says what was found).
    """
    state = _strip_prefix(state)
    if not state:
        raise _not_kair(state, "empty")
    if all(isinstance(v, Mapping) for v in state.values()):
        raise CheckpointError(
            f"the file holds {len(state)} state dicts, not one (like KAIR's IRCNN files, one model per noise "
            "level); only DnCNN and FFDNet files load"
        )
    layers: dict[int, dict[str, Tensor]] = {}
    for key, value in state.items():
        m = _KEY_RE.fullmatch(key)
        if m is None or not isinstance(value, Tensor):
            raise _not_kair(state, f"unexpected key '{key}'")
        layers.setdefault(int(m.group(1)), {})[m.group(2)] = value
    convs: list[tuple[int, Tensor]] = []
    bns: list[int] = []
    for index in sorted(layers):
        p = layers[index]
        w = p.get("weight")
        if w is not None and w.ndim == 4:
            if "bias" not in p:
                raise _not_kair(state, f"convolution model.{index} has no bias (KAIR convolutions have biases)")
            if tuple(w.shape[-2:]) != (3, 3):
                raise _not_kair(state, f"convolution model.{index} is {w.shape[-2]}×{w.shape[-1]}, not 3×3")
            convs.append((index, w))
        elif "running_mean" in p and "running_var" in p:
            bns.append(index)
        else:
            raise _not_kair(state, f"model.{index} is neither a 3×3 convolution nor a BatchNorm layer")
    if len(convs) < 2:
        raise _not_kair(state, f"{len(convs)} convolution(s)")
    c_in, width = int(convs[0][1].shape[1]), int(convs[0][1].shape[0])
    c_out = int(convs[-1][1].shape[0])
    if c_in == c_out and c_in in (1, 3):
        kind: Kind = "dncnn"
        channels = c_in
    elif c_out in (4, 12) and c_in == c_out + 1:
        kind, channels = "ffdnet", c_out // 4
    elif c_out in (1, 3) and c_in == c_out + 1:
        raise CheckpointError(
            f"this looks like KAIR's FDnCNN ({c_in} -> {c_out} channels: image + noise map, no pixel-unshuffle), "
            "which invrestore does not provide; DnCNN (C -> C) and FFDNet (4C+1 -> 4C) files load"
        )
    else:
        raise _not_kair(state, f"{c_in} -> {c_out} channels fit neither DnCNN (C -> C) nor FFDNet (4C+1 -> 4C)")
    layout = KAIRLayout(kind, channels, len(convs), width, batch_norm=bool(bns))
    if kind == "dncnn" and layout.depth == 7 and width == 64 and not bns:
        # the state dict cannot show dilations: 7 biased 3×3 convs of width 64 is KAIR's IRCNN denoiser
        raise CheckpointError(
            "7 convolutions of width 64 without BatchNorm is KAIR's IRCNN (dilated convolutions), which "
            "invrestore does not provide; DnCNN (17 or 20 layers) and FFDNet files load"
        )
    expected = _expected_indices(layout)
    found = (tuple(i for i, _ in convs), tuple(bns))
    if found != expected:
        raise CheckpointError(
            f"the state dict looks like KAIR's {layout.describe()} but its layers sit at model indices "
            f"{found[0]} (convolutions) / {found[1]} (BatchNorm); that layout needs {expected[0]} / {expected[1]}"
        )
    return layout


def _expected_indices(layout: KAIRLayout) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sequential indices of the convolutions and BatchNorm layers of KAIR's ``act_mode="R"`` / ``"BR"`` nets."""
    convs, bns = [0], []
    i = 2  # head: conv, ReLU
    for _ in range(layout.depth - 2):
        convs.append(i)
        if layout.batch_norm:
            bns.append(i + 1)
            i += 3
        else:
            i += 2
    convs.append(i)
    return tuple(convs), tuple(bns)


def merge_batch_norm(state: Mapping[str, Tensor], eps: float = KAIR_BN_EPS) -> dict[str, Tensor]:
    """Fold every BatchNorm of a KAIR ``act_mode="BR"`` state dict into the convolution before it.

    ``w' = w · γ/√(v + ε)`` (per output channel), ``b' = (b − μ)·γ/√(v + ε) + β``; the result has the
    release files' keys (``model.0``, ``model.2``, …, renumbered as if the BN modules were removed).
    """
    layout = kair_layout(state)
    state = _strip_prefix(state)
    conv_idx, bn_idx = _expected_indices(layout)
    plain = _expected_indices(KAIRLayout(layout.kind, layout.channels, layout.depth, layout.width))[0]
    bn_after = {i - 1: i for i in bn_idx}
    out: dict[str, Tensor] = {}
    for src, dst in zip(conv_idx, plain, strict=True):
        w = state[f"model.{src}.weight"].double()
        b = state[f"model.{src}.bias"].double()
        if src in bn_after:
            j = bn_after[src]
            scale = torch.rsqrt(state[f"model.{j}.running_var"].double() + eps)
            if f"model.{j}.weight" in state:
                scale = scale * state[f"model.{j}.weight"].double()
            shift = state[f"model.{j}.bias"].double() if f"model.{j}.bias" in state else torch.zeros_like(b)
            w = w * scale.view(-1, 1, 1, 1)
            b = (b - state[f"model.{j}.running_mean"].double()) * scale + shift
        dtype = state[f"model.{src}.weight"].dtype
        out[f"model.{dst}.weight"] = w.to(dtype)
        out[f"model.{dst}.bias"] = b.to(dtype)
    return out


#: (kind, channels, depth, width) of each registered variant (the kwargs of its register_model call below; a test
#: checks that the two agree).
_VARIANTS: dict[str, tuple[Kind, int, int, int]] = {
    "dncnn-kair-17-gray": ("dncnn", 1, 17, 64),
    "dncnn-kair-20-gray": ("dncnn", 1, 20, 64),
    "dncnn-kair-20-color": ("dncnn", 3, 20, 64),
    "ffdnet-kair-gray": ("ffdnet", 1, 15, 64),
    "ffdnet-kair-color": ("ffdnet", 3, 12, 96),
}


def _build(layout: KAIRLayout) -> nn.Module:
    if layout.kind == "dncnn":
        return KAIRDnCNN(layout.channels, layout.depth, layout.width)
    return KAIRFFDNet(layout.channels, layout.depth, layout.width)


def detect_kair(state_dict: Mapping[str, Any]) -> str | None:
    """The registry name of the KAIR variant whose layout ``state_dict`` has, or ``None``.

    ``None`` for anything that is not a KAIR DnCNN/FFDNet state dict, and for KAIR layouts of other depths or
    widths (which :func:`load_kair` still loads).
    """
    try:
        layout = kair_layout(state_dict)
    except CheckpointError:
        return None
    key = (layout.kind, layout.channels, layout.depth, layout.width)
    return next((name for name, v in _VARIANTS.items() if v == key), None)


def _read_state(path_or_state: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(path_or_state, Mapping):
        return dict(path_or_state)
    from invrestore.train.checkpoint import load_weights  # torch.load(weights_only=True) for .pth files

    return load_weights(path_or_state)


def load_kair(path_or_state: str | Path | Mapping[str, Any], name: str | None = None) -> nn.Module:
    """Build the KAIR DnCNN/FFDNet that a checkpoint holds and load it, in eval mode.

    Args:
        path_or_state: A ``.pth`` file (read with ``torch.load(weights_only=True)``) or safetensors file, or a
            state dict.
        name: A registered variant (e.g. ``"dncnn-kair-17-gray"``) the file must match; default: detected.

    Returns:
        A :class:`KAIRDnCNN` (call ``net(y)``) or :class:`KAIRFFDNet` (call ``net(y, sigma / 255)``).

    Raises:
        CheckpointError: unreadable file, a state dict that is no KAIR DnCNN/FFDNet, or one that does not fit
            ``name`` (the message names what was found and what was expected).
    """
    state = _read_state(path_or_state)
    layout = kair_layout(state)
    if name is not None:
        if name not in _VARIANTS:
            raise CheckpointError(f"'{name}' is not a KAIR variant; choose from {', '.join(_VARIANTS)}")
        kind, channels, depth, width = _VARIANTS[name]
        want = KAIRLayout(kind, channels, depth, width)
        if (layout.kind, layout.channels, layout.depth, layout.width) != (kind, channels, depth, width):
            raise CheckpointError(f"the weights hold KAIR's {layout.describe()}; '{name}' is {want.describe()}")
    net = _build(layout)
    weights = merge_batch_norm(state) if layout.batch_norm else _strip_prefix(state)
    try:
        net.load_state_dict(weights, strict=True)
    except RuntimeError as e:  # shapes inside the stack differ (e.g. a middle conv of another width)
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise CheckpointError(f"the weights do not fit KAIR's {layout.describe()}: {detail[:200]}") from e
    if name is not None:
        net.name = name  # type: ignore[assignment]
    return net.eval()


# -- registry -------------------------------------------------------------------------------------------------------
# KAIR's published layouts, for their release files (no training task here: trainer=None).

register_model(
    "dncnn-kair-17-gray",
    KAIRDnCNN,
    family="baselines",
    kwargs={"in_channels": 1, "depth": 17, "width": 64},
    params=555_137,
    description="KAIR's DnCNN, gray, 17 biased convs, residual (dncnn_15/25/50.pth)",
    task="denoise",
)
# dncnn3.pth (same layout) also removes JPEG artefacts and bicubic blur: no task is implied
register_model(
    "dncnn-kair-20-gray",
    KAIRDnCNN,
    family="baselines",
    kwargs={"in_channels": 1, "depth": 20, "width": 64},
    params=665_921,
    description="KAIR's DnCNN, gray, 20 biased convs, residual (dncnn_gray_blind.pth, dncnn3.pth)",
)
register_model(
    "dncnn-kair-20-color",
    KAIRDnCNN,
    family="baselines",
    kwargs={"in_channels": 3, "depth": 20, "width": 64},
    params=668_227,
    description="KAIR's DnCNN, colour, 20 biased convs, residual (dncnn_color_blind.pth)",
    task="denoise",
)
register_model(
    "ffdnet-kair-gray",
    KAIRFFDNet,
    family="baselines",
    kwargs={"in_channels": 1, "depth": 15, "width": 64},
    params=485_316,
    description="KAIR's FFDNet, gray, 15 convs width 64, 1-channel σ map (ffdnet_gray[_clip].pth)",
    task="denoise",
)
register_model(
    "ffdnet-kair-color",
    KAIRFFDNet,
    family="baselines",
    kwargs={"in_channels": 3, "depth": 12, "width": 96},
    params=852_108,
    description="KAIR's FFDNet, colour, 12 convs width 96, 1-channel σ map (ffdnet_color[_clip].pth)",
    task="denoise",
)
