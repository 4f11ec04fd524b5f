"""Model registry: ``@register_model("name")`` on a factory, ``create_model("name", **overrides)`` to build.

The registry doubles as the list of things the tests cover (every registered model is built and checked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from invrestore.errors import CheckpointError, ConfigError

__all__ = ["MODELS", "ModelEntry", "create_model", "list_models", "register_model"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Callable[..., nn.Module]
    family: str
    description: str
    pretrained: str | None = None  # resource name of shipped weights inside the package, if any
    task: str | None = None  # restoration models: the task the shipped weights were trained for (e.g. "denoise")


MODELS: dict[str, ModelEntry] = {}


def register_model(
    name: str, family: str, description: str = "", pretrained: str | None = None, task: str | None = None
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a factory ``(**overrides) -> nn.Module`` under ``name`` (``pretrained``: the file name of its
    shipped weights in ``invrestore/weights``; ``task``: what those weights restore)."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        MODELS[name] = ModelEntry(
            name, fn, family, description or (fn.__doc__ or "").strip().split("\n")[0], pretrained, task
        )
        return fn

    return deco


#: The model families, imported explicitly by name (no discovery by scanning files).
FAMILIES: tuple[str, ...] = ("irn", "ilc", "irae", "baselines", "pix2pix", "selfvae")


def _ensure_loaded() -> None:
    import importlib

    for family in FAMILIES:
        importlib.import_module(f"invrestore.models.{family}")


def list_models(family: str | None = None) -> list[str]:
    """Names of the registered models (optionally of one family)."""
    _ensure_loaded()
    return [n for n, e in MODELS.items() if family is None or e.family == family]


def create_model(name: str, pretrained: bool = False, **overrides: Any) -> nn.Module:
    """Build a registered model; ``pretrained=True`` loads the weights shipped inside the package.

    Raises:
        ConfigError: unknown model name.
        CheckpointError: ``pretrained`` but no weights ship with this model.
    """
    _ensure_loaded()
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; available: {', '.join(MODELS)}")
    entry = MODELS[name]
    model = entry.factory(**overrides)
    if pretrained:
        from importlib import resources

        from invrestore.train.checkpoint import load_weights

        res = resources.files("invrestore") / "weights" / entry.pretrained if entry.pretrained else None
        if res is None or not res.is_file():
            raise CheckpointError(
                f"no pretrained weights ship with '{name}' in this version of invrestore; pass --weights PATH "
                "(a checkpoint of ours, or the official release file for IRN models)"
            )
        with resources.as_file(res) as path:
            model.load_state_dict(load_weights(path))
    return model
