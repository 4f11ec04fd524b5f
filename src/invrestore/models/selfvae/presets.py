"""Registered selfVAE-family models (``create_model("selfvae-downscale")`` etc.); sizes in :mod:`.config`."""

from __future__ import annotations

from typing import Any

from torch import nn

from invrestore.models.registry import register_model
from invrestore.models.selfvae.config import PRESETS
from invrestore.models.selfvae.model import VAE, SelfVAE, SelfVAE3Level

__all__: list[str] = []


def _build(name: str, overrides: dict[str, Any]) -> nn.Module:
    kwargs = {**PRESETS[name], **overrides}
    if name.startswith("vae"):
        return VAE(**kwargs)
    if "3lvl" in name:
        return SelfVAE3Level(**kwargs)
    return SelfVAE(**kwargs)


def _register(name: str, description: str) -> None:
    def factory(**overrides: Any) -> nn.Module:
        return _build(name, overrides)

    factory.__name__ = name.replace("-", "_")
    register_model(name, "selfvae", description)(factory)


_register("vae", "VAE + RealNVP prior, CIFAR-10 32² (official srVAE networks)")
_register("vae-64", "VAE + RealNVP prior, 64² (CelebA/Imagenette64; spec proposal)")
_register("selfvae-downscale", "selfVAE-downscale, one level, CIFAR-10 32² (official srVAE networks)")
_register("selfvae-sketch", "selfVAE-sketch, one level, 64² (spec proposal)")
_register("selfvae-downscale-3lvl", "selfVAE-downscale, 3 levels (eq. 21–23), 64² (spec proposal)")
_register("vae-small", "tiny VAE for CPU tests (32²)")
_register("vae-64-small", "tiny VAE for CPU tests on 64² data (CelebA, Imagenette64)")
_register("selfvae-downscale-small", "tiny selfVAE-downscale for CPU tests (32²)")
_register("selfvae-sketch-small", "tiny selfVAE-sketch for CPU tests (32²)")
_register("selfvae-downscale-3lvl-small", "tiny 3-level selfVAE-downscale for CPU tests (32²)")
