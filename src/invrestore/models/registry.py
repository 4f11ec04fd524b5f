"""The registries: models (``create_model``) and training tasks (``load_task``), one registration style each.

A model is registered declaratively, once, by the module that defines its class:

.. code-block:: python

    register_model("irn-x4", IRN, family="irn", trainer="irn", kwargs={"scale": 4, "blocks": [8, 8]},
                   params=4_355_376, description="IRN ×4: 2×(Haar + 8 InvBlocks)")

``create_model("irn-x4", **overrides)`` calls ``IRN(**{**kwargs, **overrides})``; an override the builder does not
accept is a :class:`~invrestore.errors.ConfigError` naming the allowed keys. ``params`` is the documented parameter
count (the registry-driven tests build every entry and check it). ``trainer`` is the key of the training task that
trains this model (a preset's ``family:``), registered with :func:`register_task` on the task class together with
its config class. A family's model config (``cfg.model``) has the model's name plus fields that are exactly the
builder's keyword arguments, so :func:`build_model` turns any of them into a model the same way.

Which models have shipped weights is decided by the weights manifest (:mod:`invrestore.zoo`): after the families are
imported, every entry's ``pretrained``/``task`` is filled from it, so a file adopted with
:func:`invrestore.models.catalog.adopt_weights` loads without touching the registration.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from invrestore.errors import CheckpointError, ConfigError

__all__ = [
    "MODELS",
    "TASKS",
    "ModelEntry",
    "TaskEntry",
    "build_model",
    "create_model",
    "entry_model_config",
    "list_models",
    "list_tasks",
    "load_task",
    "register_model",
    "register_task",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ModelEntry:
    """One registered model.

    Attributes:
        name: the registry name (``irn-x4``).
        builder: the class (or function) that builds it.
        family: the folder under ``models/`` it belongs to (``irn``).
        description: one line for ``invrestore models``.
        kwargs: the builder's keyword arguments for this entry (overrides are merged on top).
        params: the documented parameter count (checked by the tests), or None.
        trainer: the training task key that trains it (``register_task``), or None.
        pretrained: file name of its shipped weights (filled from the manifest).
        task: restoration models: what the shipped weights restore (``denoise``), from the manifest.
    """

    name: str
    builder: Callable[..., nn.Module]
    family: str
    description: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    params: int | None = None
    trainer: str | None = None
    pretrained: str | None = None
    task: str | None = None

    def factory(self, **overrides: Any) -> nn.Module:
        """Build the model: ``builder(**{**kwargs, **overrides})`` (overrides checked first)."""
        check_kwargs(self.name, self.builder, overrides)
        return self.builder(**{**dict(self.kwargs), **overrides})


@dataclass(frozen=True)
class TaskEntry:
    """One registered training task: a preset's ``family:`` key, its config dataclass and its task class."""

    key: str
    config: type
    task: type


MODELS: dict[str, ModelEntry] = {}
#: What each registration declared as ``pretrained`` (checked against the manifest by the tests).
DECLARED_PRETRAINED: dict[str, str | None] = {}


TASKS: dict[str, TaskEntry] = {}


def _allowed_kwargs(builder: Callable[..., Any]) -> tuple[list[str], bool]:
    """The keyword arguments ``builder`` accepts, and whether it takes ``**kwargs`` (then anything goes)."""
    target: Any = builder.__init__ if isinstance(builder, type) else builder  # type: ignore[misc]
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return [], True
    names, var = [], False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
            names.append(p.name)
    return names, var


def check_kwargs(name: str, builder: Callable[..., Any], kwargs: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` when ``kwargs`` has a key that ``builder`` does not accept."""
    allowed, var = _allowed_kwargs(builder)
    if var:
        return
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(
            f"model '{name}' has no setting {', '.join(repr(k) for k in unknown)}; allowed: {', '.join(allowed)}"
        )


def register_model(
    name: str,
    builder: Callable[..., nn.Module],
    *,
    family: str,
    description: str = "",
    kwargs: Mapping[str, Any] | None = None,
    params: int | None = None,
    trainer: str | None = None,
    pretrained: str | None = None,
    task: str | None = None,
) -> ModelEntry:
    """Register ``name`` as ``builder(**kwargs)`` (see the module docstring); returns the entry.

    ``pretrained``/``task`` are what the model's author declares about shipped weights; the weights manifest is
    the authority at run time and the tests check that the two agree.
    """
    if name in MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    kw = dict(kwargs or {})
    check_kwargs(name, builder, kw)
    entry = ModelEntry(name, builder, family, description, kw, params, trainer, pretrained, task)
    DECLARED_PRETRAINED[name] = pretrained
    MODELS[name] = entry
    return entry


def register_task(key: str, config: type) -> Callable[[type[T]], type[T]]:
    """Class decorator: register a task class (a :class:`~invrestore.train.task.BaseTask`) as the trainer of
    presets with ``family: key``, built from the config dataclass ``config``."""

    def deco(cls: type[T]) -> type[T]:
        if key in TASKS:
            raise ValueError(f"task {key!r} is registered twice")
        cls.family = key  # type: ignore[attr-defined]
        cls.config_class = config  # type: ignore[attr-defined]
        TASKS[key] = TaskEntry(key, config, cls)
        return cls

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


def build_model(model_cfg: Any, **extra: Any) -> nn.Module:
    """Build ``create_model(model_cfg.name, **fields)`` from a family's model config, whose fields other than
    ``name`` are the builder's keyword arguments (``extra`` are merged on top)."""
    if not dataclasses.is_dataclass(model_cfg) or not hasattr(model_cfg, "name"):
        raise TypeError("build_model expects a model config dataclass with a `name` field")
    kwargs = {f.name: getattr(model_cfg, f.name) for f in dataclasses.fields(model_cfg) if f.name != "name"}
    return create_model(model_cfg.name, **{**kwargs, **extra})


def entry_model_config(cls: type[T], name: str, settings: Mapping[str, Any]) -> T:
    """The model config ``cls`` (fields: ``name`` + the builder's keyword arguments) of the registered entry
    ``name`` with ``settings`` on top of the entry's own ``kwargs`` (then the dataclass defaults).

    Raises:
        ConfigError: a setting ``cls`` does not have, or a value of the wrong type (with the model's name).
    """
    from invrestore.train.config import merge_config

    allowed = [f.name for f in dataclasses.fields(cls) if f.name != "name"]  # type: ignore[arg-type]
    bad = sorted(set(settings) - set(allowed))
    if bad:
        raise ConfigError(f"model.{bad[0]} does not apply to {name} (it takes {', '.join(allowed)})")
    try:
        return merge_config(cls, {**dict(MODELS[name].kwargs), **settings, "name": name})
    except ConfigError as e:
        raise ConfigError(f"model ({name}): {e}") from e


def list_tasks() -> list[str]:
    """The registered training task keys (a preset's ``family:``)."""
    _ensure_loaded()
    return sorted(TASKS)


def load_task(config: str | Path, overrides: tuple[str, ...] | list[str] = (), fast: bool = False) -> Any:
    """Read a YAML preset, apply ``key=value`` overrides, validate it, and build its family's task.

    ``fast=True`` puts the family's recommended fast-path settings (its task's ``fast_settings``: bf16 autocast with
    float32 flows, channels-last, foreach/fused Adam, device-resident data, a host sync every 10 steps) before
    ``overrides``, which therefore still win.

    Everything a config can get wrong is reported here, before any training starts, as one
    :class:`~invrestore.errors.ConfigError` naming the key: unknown keys and types (the frozen dataclasses), values
    the family's ``__post_init__`` checks refuse, an unregistered ``model.name`` and model settings the builder does
    not accept.
    """
    from omegaconf import OmegaConf

    from invrestore.train.config import load_config

    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found (presets live in configs/<family>/)")
    try:
        raw = OmegaConf.load(path)
        family = raw.get("family") if OmegaConf.is_dict(raw) else None  # type: ignore[union-attr,arg-type]
    except Exception as e:
        raise ConfigError(f"cannot parse config '{path}': {e}") from e
    _ensure_loaded()
    if family not in TASKS:
        raise ConfigError(f"config '{path}' has family={family!r}; known families: {', '.join(sorted(TASKS))}")
    entry = TASKS[family]
    if fast:
        overrides = (*getattr(entry.task, "fast_settings", ()), *overrides)
    try:
        cfg: Any = load_config(entry.config, path, overrides)
    except (ValueError, TypeError) as e:  # a family check that is not yet a ConfigError
        raise ConfigError(f"config '{path}': {e}") from e
    check_model_config(cfg)
    return entry.task(cfg)


def check_model_config(cfg: Any) -> None:
    """Check ``cfg.model`` (when the config has one) against the registry: a registered name, trained by the
    config's family (the entry's ``trainer``, when it declares one), whose builder accepts every model field.
    Raises :class:`ConfigError`."""
    model_cfg = getattr(cfg, "model", None)
    name = getattr(model_cfg, "name", None)
    if model_cfg is None or not isinstance(name, str):
        return
    _ensure_loaded()
    if name not in MODELS:
        raise ConfigError(f"model.name={name!r} is not a registered model; see `invrestore models`")
    family = getattr(cfg, "family", None)
    trainer = MODELS[name].trainer
    if trainer is not None and isinstance(family, str) and trainer != family:
        ours = [n for n, e in MODELS.items() if e.trainer == family]
        raise ConfigError(
            f"model.name={name!r} is trained by family {trainer!r}, not {family!r} (set family: {trainer})"
            + (f"; family {family!r} trains: {', '.join(ours)}" if ours else "")
        )
    if dataclasses.is_dataclass(model_cfg):
        kwargs = {f.name: None for f in dataclasses.fields(model_cfg) if f.name != "name"}
        entry = MODELS[name]
        try:
            check_kwargs(name, entry.builder, kwargs)
        except ConfigError as e:
            raise ConfigError(f"model config: {e}") from e
