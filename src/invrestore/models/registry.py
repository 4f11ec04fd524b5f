"""Model registry: ``@register_model("name")`` on a factory, ``create_model("name", **overrides)`` to build.

The registry doubles as the list of things the tests cover (every registered model is built and checked). Which
models have shipped weights is decided by the weights manifest (:mod:`invrestore.zoo`): after the families are
imported, every entry's ``pretrained``/``task`` is filled from it, so a file adopted with
:func:`invrestore.zoo.update_manifest_entry` loads without touching the model's decorator.
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
#: What each decorator declared as ``pretrained`` (checked against the manifest by the tests).
DECLARED_PRETRAINED: dict[str, str | None] = {}


def register_model(
    name: str, family: str, description: str = "", pretrained: str | None = None, task: str | None = None
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a factory ``(**overrides) -> nn.Module`` under ``name`` (``pretrained``: the file name of its
    shipped weights in ``invrestore/weights``; ``task``: what those weights restore)."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        DECLARED_PRETRAINED[name] = pretrained
        MODELS[name] = ModelEntry(
            name, fn, family, description or (fn.__doc__ or "").strip().split("\n")[0], pretrained, task
        )
        return fn

    return deco


#: The model families, imported explicitly by name (no discovery by scanning files).
FAMILIES: tuple[str, ...] = ("irn", "ilc", "irae", "baselines", "pix2pix", "selfvae")


_synced: list[object] = [None]


def _ensure_loaded() -> None:
    import importlib

    for family in FAMILIES:
        importlib.import_module(f"invrestore.models.{family}")
    _sync_manifest()


def _sync_manifest() -> None:
    """Fill each entry's ``pretrained`` (file name) and ``task`` from the weights manifest; entries the manifest
    does not list have no shipped weights."""
    import dataclasses

    from invrestore.zoo import load_manifest

    manifest = load_manifest()
    key = tuple(sorted((n, e.file, e.task) for n, e in manifest.items())), len(MODELS)
    if _synced[0] == key:
        return
    for name, entry in list(MODELS.items()):
        shipped = manifest.get(name)
        file = shipped.file if shipped is not None else None
        task = entry.task if entry.task is not None or shipped is None else shipped.task
        if entry.pretrained != file or entry.task != task:
            MODELS[name] = dataclasses.replace(entry, pretrained=file, task=task)
    _synced[0] = key


def list_models(family: str | None = None) -> list[str]:
    """Names of the registered models (optionally of one family)."""
    _ensure_loaded()
    return [n for n, e in MODELS.items() if family is None or e.family == family]


def create_model(name: str, pretrained: bool = False, **overrides: Any) -> nn.Module:
    """Build a registered model; ``pretrained=True`` loads its shipped weights and returns it in **eval mode**
    (call ``.train()`` to fine-tune it). The file is found by :func:`invrestore.zoo.resolve_weights`
    (``$INVRESTORE_WEIGHTS``, then the user cache, then the package) and its sha256 checked against the manifest.

    Raises:
        ConfigError: unknown model name.
        CheckpointError: ``pretrained`` but no weights ship with this model, or the file found is corrupt.
    """
    _ensure_loaded()
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; available: {', '.join(MODELS)}")
    entry = MODELS[name]
    model = entry.factory(**overrides)
    if pretrained:
        from invrestore.train.checkpoint import load_weights
        from invrestore.zoo import resolve_weights

        path = resolve_weights(name)
        try:
            model.load_state_dict(load_weights(path))
        except RuntimeError as e:
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
            raise CheckpointError(f"'{path}' does not fit model '{name}': {detail[:200]}") from e
        model.eval()
    return model
