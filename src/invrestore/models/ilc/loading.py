"""Building learned codecs by name and loading their weights (shared by the training tasks and the CLI)."""

from __future__ import annotations

import re
from pathlib import Path

from torch import nn

from invrestore.entropy.codec import LearnedCodec
from invrestore.errors import CheckpointError, ConfigError
from invrestore.models.ilc.bls2017 import BLS2017

__all__ = ["create_codec", "finalize_codec_weights", "is_codec_name", "load_codec", "load_state"]

_BLS_RE = re.compile(r"bls2017-([1-9][0-9]{0,2})")
_MAX_UNREGISTERED_N = 512  # a name read from a file must not be able to demand a huge model


def is_codec_name(name: str, kind: str) -> bool:
    """Whether :func:`create_codec` builds ``name`` as a ``kind`` codec: ``"bls2017"`` (a registered
    :class:`~invrestore.models.ilc.BLS2017` entry or any ``bls2017-N``) or ``"ilc"`` (a registered ILC)."""
    from invrestore.models.ilc.model import ILC
    from invrestore.models.registry import MODELS

    entry = MODELS.get(name)
    if entry is not None:
        return entry.builder is (ILC if kind == "ilc" else BLS2017)
    m = _BLS_RE.fullmatch(name)
    return kind == "bls2017" and m is not None and int(m.group(1)) <= _MAX_UNREGISTERED_N


def create_codec(name: str) -> LearnedCodec:
    """A freshly initialised codec: a registered model (``ilc-q3``, ``bls2017-256``, …) or any ``bls2017-N``.

    Raises:
        ConfigError: unknown name, or the model is not a learned codec.
    """
    from invrestore.models.registry import MODELS, create_model, list_models

    list_models()  # load every family so MODELS is complete
    if name in MODELS:
        model = create_model(name)
    elif (m := _BLS_RE.fullmatch(name)) and int(m.group(1)) <= _MAX_UNREGISTERED_N:
        model = BLS2017(N=int(m.group(1)))
    else:
        codecs = list_models("ilc")
        raise ConfigError(
            f"unknown codec '{name}'; available: {', '.join(codecs)} (or bls2017-N, N ≤ {_MAX_UNREGISTERED_N})"
        )
    if not isinstance(model, LearnedCodec):
        raise ConfigError(f"'{name}' is not a learned image codec")
    return model


def load_state(model: nn.Module, path: str | Path, what: str = "model") -> None:
    """Load a safetensors/torch state dict into ``model`` (strict).

    Raises:
        CheckpointError: missing or unreadable file, or weights of another architecture.
    """
    from invrestore.train.checkpoint import load_weights

    state = load_weights(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise CheckpointError(f"the weights '{path}' do not fit {what}: {detail[:200]}") from e


def load_codec(name: str, weights: str | Path | None = None) -> LearnedCodec:
    """The codec ``name`` with ``weights`` (or its shipped weights), in eval mode.

    Raises:
        ConfigError: unknown name.
        CheckpointError: no weights given and none ship with the model, or the weights do not fit.
    """
    model = create_codec(name)
    if weights is None:
        from invrestore.models.registry import MODELS

        entry = MODELS.get(name)
        if entry is None or entry.pretrained is None:
            raise CheckpointError(f"no pretrained weights ship with '{name}'; pass --weights PATH")
        from invrestore.models.registry import create_model

        shipped = create_model(name, pretrained=True)
        model.load_state_dict(shipped.state_dict())
    else:
        load_state(model, weights, what=f"'{name}'")
    return model.eval()


def finalize_codec_weights(name: str, trained: str | Path, out: str | Path) -> LearnedCodec:
    """Turn trained weights (e.g. ``run/last/model.safetensors`` from :func:`invrestore.train.fit`, which holds no
    coding tables) into codec weights: load, fit the quantiles and build the tables (``update(force=True)``),
    save to ``out`` atomically. Returns the model, in eval mode.

    Raises:
        ConfigError: unknown name.
        CheckpointError: the weights do not fit or the density is degenerate.
    """
    from invrestore.train.checkpoint import save_weights

    model = create_codec(name)
    load_state(model, trained, what=f"'{name}'")
    model.eval().update(force=True)
    save_weights(model.state_dict(), out)
    return model
