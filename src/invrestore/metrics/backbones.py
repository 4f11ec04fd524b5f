"""ImageNet feature extractors with torchvision-compatible state-dict keys (no torchvision).

The feature extractors rebuild ``torchvision.models.{vgg19,vgg16,alexnet}().features`` layer by layer, so the
indices, and therefore the keys (``features.0.weight``, ``features.2.bias``, …), are those of torchvision's ImageNet
weight files. Those files are **not** shipped and cannot be downloaded here: :meth:`TorchvisionFeatures.from_file`
loads a local copy (``vgg19-dcbb9e9d.pth``, ``vgg16-397923af.pth``, ``alexnet-owt-7be5be79.pth``, or any state dict
with the same ``features.*`` keys; ``classifier.*`` keys are ignored).

- :class:`VGG19Features` — ``features[:35]`` = conv5_4 **before** its ReLU (ESRGAN/IRN+ perceptual features,
  ``docs/irn.md``), with ImageNet normalisation of a [0, 1] input inside.
- :class:`VGG16Features`, :class:`AlexNetFeatures` — the LPIPS backbones (:mod:`invrestore.metrics.perceptual`).

They live with the metrics (below ``nn/`` and the model families) because both LPIPS and a model family's training
loss use them: IRN+'s perceptual term is :class:`VGG19Features`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn

from invrestore.errors import CheckpointError, ImageShapeError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AlexNetFeatures",
    "TorchvisionFeatures",
    "VGG16Features",
    "VGG19Features",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's VGG configurations ("M" = 2×2 max-pool); each conv is followed by a ReLU
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")

_FT = TypeVar("_FT", bound="TorchvisionFeatures")


def _vgg_layers(cfg: Sequence[int | str], n_layers: int) -> nn.Sequential:
    """The first ``n_layers`` modules of torchvision's ``vgg.features`` (same indices, so the same keys)."""
    layers: list[nn.Module] = []
    c = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(v, int)
            layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU()]
            c = v
    return nn.Sequential(*layers[:n_layers])


def _alexnet_layers() -> nn.Sequential:
    """torchvision's ``alexnet().features`` up to relu5 (indices 0–11)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(),
    )


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle/zip errors come in many types
        raise CheckpointError(f"cannot read weights '{path}': {type(e).__name__}: {e}") from e
    for key in ("state_dict", "model", "params"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"'{path}' does not hold a state dict")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


class TorchvisionFeatures(nn.Module):
    """A frozen slice of a torchvision ImageNet backbone's ``features``.

    Args:
        normalize_input: map a [0, 1] input with the ImageNet mean/std first (torchvision's preprocessing). The
            mean/std are non-persistent buffers, so ``state_dict()`` holds only ``features.*``.

    Subclasses set ``features`` and the class attributes ``expected_file`` (torchvision's file name, for error
    messages) and ``architecture``.
    """

    expected_file: ClassVar[str] = ""
    architecture: ClassVar[str] = ""
    features: nn.Sequential
    mean: Tensor
    std: Tensor

    def __init__(self, features: nn.Sequential, normalize_input: bool = True) -> None:
        super().__init__()
        self.features = features
        self.normalize_input = normalize_input
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _prepare(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ImageShapeError(f"expected RGB images (B, 3, H, W), got {tuple(x.shape)}")
        if self.normalize_input:
            x = (x - self.mean) / self.std
        return x

    def forward(self, x: Tensor) -> Tensor:
        """The output of the last layer of the slice."""
        out: Tensor = self.features(self._prepare(x))
        return out

    def taps(self, x: Tensor, indices: Sequence[int]) -> list[Tensor]:
        """The outputs of ``features[i]`` for each ``i`` in ``indices`` (increasing), in one pass."""
        h = self._prepare(x)
        wanted = set(indices)
        outs: list[Tensor] = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in wanted:
                outs.append(h)
            if len(outs) == len(wanted):
                break
        return outs

    def freeze(self: _FT) -> _FT:
        """No gradients into the weights; eval mode. Returns ``self``."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def load_weights(self, path: str | Path | None) -> None:
        """Load the ``features.*`` tensors of a torchvision-layout file (others, e.g. ``classifier.*``, ignored).

        Raises:
            CheckpointError: no path, a missing/unreadable file, or missing/mis-shaped keys.
        """
        what = f"{self.architecture} ImageNet weights (torchvision's {self.expected_file}, keys features.0.weight …)"
        if path is None or str(path) == "":
            raise CheckpointError(
                f"no path given for the {what}: they are not shipped and cannot be downloaded here; "
                "copy the file from a machine with internet and pass its path"
            )
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{what} not found at '{path}'")
        sd = _read_state_dict(path)
        own = self.state_dict()
        missing = [k for k in own if k not in sd]
        shapes = [k for k in own if k in sd and sd[k].shape != own[k].shape]
        if missing or shapes:
            detail = f"missing {missing[:3]}" if missing else f"shape mismatch {shapes[:3]}"
            raise CheckpointError(f"'{path}' is not a file of the {what}: {detail}")
        self.load_state_dict({k: sd[k] for k in own})

    @classmethod
    def from_file(cls: type[_FT], path: str | Path | None, **kwargs: Any) -> _FT:
        """Build, load ``path`` (see :meth:`load_weights`) and freeze. The global RNG is left untouched (the
        throw-away random initialisation runs on a forked generator), so loading does not shift later seeds."""
        with torch.random.fork_rng(devices=[]):
            m = cls(**kwargs)
        m.load_weights(path)
        return m.freeze()


class VGG19Features(TorchvisionFeatures):
    """VGG19 ``features[:35]``: conv5_4 before its ReLU, ``(B, 512, H/16, W/16)`` for a [0, 1] RGB input.

    The perceptual features of ESRGAN and IRN+ (``docs/irn.md``). 20,024,384 parameters (all 16 convs).
    """

    expected_file = "vgg19-dcbb9e9d.pth"
    architecture = "VGG19"
    num_features = 512

    def __init__(self, normalize_input: bool = True) -> None:
        super().__init__(_vgg_layers(_VGG19, 35), normalize_input)


class VGG16Features(TorchvisionFeatures):
    """VGG16 ``features[:30]`` (up to relu5_3); LPIPS taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3."""

    expected_file = "vgg16-397923af.pth"
    architecture = "VGG16"
    lpips_taps = (3, 8, 15, 22, 29)
    lpips_channels = (64, 128, 256, 512, 512)

    def __init__(self, normalize_input: bool = True) -> None:
        super().__init__(_vgg_layers(_VGG16, 30), normalize_input)


class AlexNetFeatures(TorchvisionFeatures):
    """AlexNet ``features[:12]`` (up to relu5); LPIPS taps relu1 … relu5."""

    expected_file = "alexnet-owt-7be5be79.pth"
    architecture = "AlexNet"
    lpips_taps = (1, 4, 7, 9, 11)
    lpips_channels = (64, 192, 384, 256, 256)

    def __init__(self, normalize_input: bool = True) -> None:
        super().__init__(_alexnet_layers(), normalize_input)
