"""The FID Inception-v3 (pool3 features), loaded from a local weight file.

FID is only comparable between papers when it is computed with one particular network: the TensorFlow Inception
graph of 2015-12-05 that the original TTUR code used, ported to PyTorch by pytorch-fid as
``pt_inception-2015-12-05-6726825d.pth`` (torch-fidelity ships the same conversion under the same name). That
network is torchvision's Inception-v3 layout with the TF graph's differences:

- the pool branches of the A, C and first E blocks (``Mixed_5b–5d``, ``Mixed_6b–6e``, ``Mixed_7b``) average over
  the valid pixels only (3×3, stride 1, ``count_include_pad=False``, as TF's ``avg_pool`` with SAME padding);
- the pool branch of the last E block (``Mixed_7c``) is a 3×3 **max** pool (stride 1, padding 1);
- a 1008-class classifier ``fc`` (2048 → 1008, with bias) and no auxiliary head.

:class:`FIDInceptionV3` rebuilds it (our own code; no torchvision) with the checkpoint's state-dict keys
(``Conv2d_1a_3x3.conv.weight``, ``Conv2d_1a_3x3.bn.running_mean``, ``Mixed_5b.branch1x1.conv.weight`` …,
``fc.weight``, ``fc.bias``): 94 conv+BN units, 472 keys. The weights are **not** shipped and cannot be downloaded
here: :func:`load_fid_inception` reads a local copy given by path (CLI ``--inception-weights PATH``) or by
``$INVRESTORE_INCEPTION_WEIGHTS``.

Preprocessing follows pytorch-fid: an RGB batch in [0, 1] is resized to 299×299 (bilinear, ``align_corners=False``;
an identity at 299²), then mapped to [−1, 1] by ``2x − 1``; the features are the 2048-d global average of
``Mixed_7c`` (pool3). With the real weights and the same batches, pytorch-fid's features are reproduced up to
floating-point summation order (same layers, same ops).

The FID statistics over image folders are in :mod:`invrestore.metrics.inception`, which re-exports this
module's public names (import them from there).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import CheckpointError, ConfigError, ImageShapeError

__all__ = [
    "INPUT_SIZE",
    "WEIGHTS_ENV",
    "WEIGHTS_FILE",
    "WEIGHTS_URL",
    "FIDInceptionV3",
    "load_fid_inception",
    "resolve_device",
]

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
WEIGHTS_ENV = "INVRESTORE_INCEPTION_WEIGHTS"
INPUT_SIZE = 299
_BN_EPS = 1e-3


# -- architecture ---------------------------------------------------------------------------------------------------
class FrozenBatchNorm2d(nn.Module):
    """Batch normalisation that always uses its running statistics (``eps`` = 0.001, TF's value).

    The same arithmetic as ``nn.BatchNorm2d`` in eval mode (it calls ``F.batch_norm(training=False)``), with the
    state-dict keys ``weight``, ``bias``, ``running_mean``, ``running_var`` of the converted TF checkpoint and no
    ``num_batches_tracked`` counter: this network is a fixed feature extractor, never trained, so train/eval mode
    changes nothing.
    """

    running_mean: Tensor
    running_var: Tensor

    def __init__(self, channels: int, eps: float = _BN_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}"


class BasicConv2d(nn.Module):
    """Convolution without bias → batch norm (eps 0.001) → ReLU; keys ``conv.weight`` and ``bn.*``."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = FrozenBatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: Tensor) -> Tensor:
    """TF's 3×3/1 SAME average pool: the mean over the pixels inside the image (padding not counted)."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _max3(x: Tensor) -> Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


def _chain(x: Tensor, *units: nn.Module) -> Tensor:
    for u in units:
        x = u(x)
    return x


class InceptionA(nn.Module):
    """35×35 block (``Mixed_5b–5d``): 1×1 (64) | 1×1→5×5 (64) | 1×1→3×3→3×3 (96) | avg-pool→1×1 (``pool_ch``)."""

    def __init__(self, cin: int, pool_ch: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                _chain(x, self.branch5x5_1, self.branch5x5_2),
                _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                self.branch_pool(_avg3(x)),
            ],
            dim=1,
        )


class InceptionB(nn.Module):
    """Grid reduction 35→17 (``Mixed_6a``): 3×3/2 (384) | 1×1→3×3→3×3/2 (96) | max-pool 3×3/2 (input channels)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                F.max_pool2d(x, 3, stride=2),
            ],
            dim=1,
        )


class InceptionC(nn.Module):
    """17×17 block (``Mixed_6b–6e``) with factorised 7×7 convolutions of width ``c7``; four 192-channel branches."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))  # (kernel, padding) of a 1×7 and a 7×1 convolution
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = BasicConv2d(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, row[0], padding=row[1])
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        dbl = (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5)
        return torch.cat(
            [
                self.branch1x1(x),
                _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
                _chain(x, *dbl),
                self.branch_pool(_avg3(x)),
            ],
            dim=1,
        )


class InceptionD(nn.Module):
    """Grid reduction 17→8 (``Mixed_7a``): 1×1→3×3/2 (320) | 1×1→1×7→7×1→3×3/2 (192) | max-pool 3×3/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                _chain(x, self.branch3x3_1, self.branch3x3_2),
                _chain(x, self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4),
                F.max_pool2d(x, 3, stride=2),
            ],
            dim=1,
        )


class InceptionE(nn.Module):
    """8×8 block (``Mixed_7b``, ``Mixed_7c``): 1×1 (320) | 1×1→[1×3, 3×1] (768) | 1×1→3×3→[1×3, 3×1] (768) |
    pool→1×1 (192) = 2048 channels. ``pool`` is ``"avg"`` (``Mixed_7b``) or ``"max"`` (``Mixed_7c``, the TF graph's
    quirk)."""

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ConfigError(f"pool must be 'avg' or 'max', not {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        t = self.branch3x3_1(x)
        d = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        pooled = _max3(x) if self.pool == "max" else _avg3(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(t),
                self.branch3x3_2b(t),
                self.branch3x3dbl_3a(d),
                self.branch3x3dbl_3b(d),
                self.branch_pool(pooled),
            ],
            dim=1,
        )


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3 (TF graph 2015-12-05): images → 2048-d pool3 features.

    23,850,960 parameters: 21,785,568 in the 94 conv+BN units (the feature extractor, which is what pytorch-fid
    runs) and 2,065,392 in the 1008-class ``fc``, plus 34,432 running-statistics buffer values (17,216 BN
    channels). That is torchvision's ``inception_v3`` without its auxiliary head (23,834,568 with 1000 classes;
    27,161,264 with the head) plus 8 × 2049 for the 8 extra classes. 472 state-dict keys (94 × ``conv.weight``,
    94 × ``bn.{weight,bias,running_mean,running_var}``, ``fc.weight``, ``fc.bias``).

    Args:
        resize_input: resize every input to 299×299 (bilinear, ``align_corners=False``) as pytorch-fid does.
        normalize_input: map [0, 1] to [−1, 1] (``2x − 1``). ``False``: the input is already in [−1, 1].

    ``forward(x)`` takes RGB ``(B, 3, H, W)`` float in [0, 1] (or uint8 in 0–255, divided by 255) and returns
    ``(B, 2048)``; :meth:`forward_with_logits` also returns the ``(B, 1008)`` logits. ``num_features = 2048``, so
    an instance plugs into :class:`~invrestore.metrics.perceptual.FeatureStats` (and torchmetrics'
    ``FrechetInceptionDistance(feature=...)``). A fresh instance has random weights (He-normal convolutions,
    identity batch norms): only useful for tests; use :func:`load_fid_inception` for FID.
    """

    num_features = 2048
    num_classes = 1008
    expected_file = WEIGHTS_FILE

    def __init__(self, resize_input: bool = True, normalize_input: bool = True) -> None:
        super().__init__()
        self.resize_input = resize_input
        self.normalize_input = normalize_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_ch=32)  # → 256
        self.Mixed_5c = InceptionA(256, pool_ch=64)  # → 288
        self.Mixed_5d = InceptionA(288, pool_ch=64)  # → 288
        self.Mixed_6a = InceptionB(288)  # → 768, 17×17
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)
        self.Mixed_7a = InceptionD(768)  # → 1280, 8×8
        self.Mixed_7b = InceptionE(1280, pool="avg")  # → 2048
        self.Mixed_7c = InceptionE(2048, pool="max")  # → 2048
        self.fc = nn.Linear(2048, self.num_classes)
        self._init_random()

    def _init_random(self) -> None:
        """He-normal convolutions and identity batch norms keep random-weight activations O(1) through all 94 units
        (the default init shrinks them towards 0), so tests with random weights see non-degenerate features."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def preprocess(self, x: Tensor) -> Tensor:
        """pytorch-fid's input pipeline: uint8 → [0, 1]; bilinear resize to 299² (``align_corners=False``);
        ``2x − 1``."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ImageShapeError(f"the FID Inception expects RGB images (B, 3, H, W), got {tuple(x.shape)}")
        if x.dtype == torch.uint8:
            x = x.float() / 255
        elif not x.is_floating_point():
            raise ImageShapeError(f"expected float images in [0, 1] or uint8, got {x.dtype}")
        x = x.to(self.fc.weight.dtype)
        if self.resize_input:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        if self.normalize_input:
            x = 2 * x - 1
        return x

    def pool3(self, x: Tensor) -> Tensor:
        """The 2048-d pool3 features of an already preprocessed batch (``(B, 3, H, W)`` in [−1, 1])."""
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = F.max_pool2d(x, 3, stride=2)
        x = _chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = F.max_pool2d(x, 3, stride=2)
        x = _chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a)
        x = _chain(x, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e)
        x = _chain(x, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c)
        return x.mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        """Pool3 features ``(B, 2048)`` of RGB images ``(B, 3, H, W)`` in [0, 1]."""
        return self.pool3(self.preprocess(x))

    def forward_with_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(features (B, 2048), logits (B, 1008))``; softmax of the logits gives the Inception Score classes."""
        f = self.forward(x)
        return f, self.fc(f)


# -- weights --------------------------------------------------------------------------------------------------------
def _how_to_supply() -> str:
    return (
        f"they are not shipped and cannot be downloaded here: copy {WEIGHTS_FILE} (pytorch-fid's TF-ported "
        f"Inception, {WEIGHTS_URL}) from a machine with internet and pass --inception-weights PATH "
        f"(or set {WEIGHTS_ENV}=PATH)"
    )


def _read_weights(path: Path) -> dict[str, Tensor]:
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle/zip errors come in many types
        raise CheckpointError(f"cannot read FID Inception weights '{path}': {type(e).__name__}: {e}") from e
    for key in ("state_dict", "model", "params", "net"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"'{path}' does not hold a state dict of tensors")
    sd: dict[str, Tensor] = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    # torchvision-built copies carry BatchNorm step counters; they do not affect the network
    return {k: v for k, v in sd.items() if not k.endswith(".num_batches_tracked")}


def _few(keys: Sequence[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    return f"{shown}, … ({len(keys)} in all)" if len(keys) > n else shown


def load_fid_inception(
    path: str | Path | None = None, device: str | torch.device | None = None, **kwargs: Any
) -> FIDInceptionV3:
    """Build :class:`FIDInceptionV3`, load ``pt_inception-2015-12-05-6726825d.pth`` from a local path, freeze it.

    Args:
        path: the weight file; ``None`` or ``""``: ``$INVRESTORE_INCEPTION_WEIGHTS``. A plain state dict, one
            wrapped under ``state_dict``/``model``/``params``/``net``, or ``module.``-prefixed (DataParallel) keys;
            ``num_batches_tracked`` counters are ignored. Every other key must match by name and shape.
        device: where to put the network (default CPU).
        kwargs: passed to :class:`FIDInceptionV3` (``resize_input``, ``normalize_input``).

    The random initialisation runs on a forked RNG, so loading does not shift later seeds.

    Raises:
        CheckpointError: no path (the message says which file is needed and how to pass it), a missing or
            unreadable file, or missing / unexpected / mis-shaped keys (named in the message).
    """
    if path is None or str(path) == "":
        path = os.environ.get(WEIGHTS_ENV) or None
    if path is None:
        raise CheckpointError(f"no FID Inception weights given: {_how_to_supply()}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"FID Inception weights not found at '{path}': {_how_to_supply()}")
    sd = _read_weights(path)
    with torch.random.fork_rng(devices=[]):
        net = FIDInceptionV3(**kwargs)
    own = net.state_dict()
    fc = sd.get("fc.weight")
    if fc is not None and tuple(fc.shape) == (1000, 2048):
        raise CheckpointError(
            f"'{path}' looks like torchvision's ImageNet Inception-v3 (1000 classes), not the FID Inception: "
            f"FID needs {WEIGHTS_FILE} (1008 classes, TF graph weights)"
        )
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_few(unexpected)}")
        raise CheckpointError(f"'{path}' is not the FID Inception ({WEIGHTS_FILE} layout): " + "; ".join(parts))
    bad = [f"{k} {tuple(sd[k].shape)} (expected {tuple(v.shape)})" for k, v in own.items() if sd[k].shape != v.shape]
    if bad:
        raise CheckpointError(f"'{path}' is not the FID Inception: shape mismatch in {_few(bad, 2)}")
    net.load_state_dict(sd)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval().to(resolve_device(device) if device is not None else "cpu")


# -- devices ---------------------------------------------------------------------------------------------------------
def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` → ``cuda`` when available, else ``cpu``; a string is checked (``ConfigError`` if invalid)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise ConfigError(f"invalid device {device!r}: {e}") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but CUDA is not available")
    return dev
