"""What needs both the registry and the weights manifest: the names ``restore`` accepts, the names an IRNPACK file
may carry, and adopting new shipped weights (registry-checked; :mod:`invrestore.zoo` itself knows no models)."""

from __future__ import annotations

from pathlib import Path

from invrestore.entropy.irnpack import PackNames
from invrestore.errors import ConfigError
from invrestore.models.irn.crm import SHIPPED_CRMS
from invrestore.models.registry import MODELS, list_models
from invrestore.zoo import load_manifest, update_manifest_entry

__all__ = ["RESTORATION_BASES", "adopt_weights", "pack_names", "restoration_models", "shipped_restoration_models"]

#: The restoration architectures by their base names (each family also registers named variants).
RESTORATION_BASES = ("irae", "dncnn", "ffdnet", "unet", "arcnn")


def pack_names() -> PackNames:
    """The names an IRNPACK file may name: the registered IRN rescaling models and the shipped CRMs
    (:class:`~invrestore.entropy.irnpack.PackNames`, for ``read_pack(..., names=pack_names())``)."""
    models = tuple(n for n in list_models("irn") if n not in SHIPPED_CRMS and not n.startswith("crm"))
    return PackNames(models=models, crms=tuple(SHIPPED_CRMS))


def restoration_models() -> tuple[str, ...]:
    """Names ``invrestore restore`` accepts: IRAE, the baselines (also their shipped-weights and KAIR variants) and
    the pix2pix generators (not the discriminator)."""
    list_models()  # import every family
    extra = tuple(n for n, e in MODELS.items() if e.family in ("irae", "baselines") and n not in RESTORATION_BASES)
    gens = tuple(n for n, e in MODELS.items() if e.family == "pix2pix" and n != "pix2pix-patchgan")
    return RESTORATION_BASES + extra + gens


def shipped_restoration_models() -> tuple[str, ...]:
    """Restoration models whose weights ship with invrestore (in the manifest; usable without ``--weights``)."""
    shipped = load_manifest()
    return tuple(n for n in restoration_models() if n in shipped)


def adopt_weights(
    name: str,
    file: Path,
    *,
    tag: str,
    claims: dict[str, float | str],
    card: str | None = None,
    task: str | None = None,
) -> None:
    """Adopt ``file`` as the shipped weights of the registered model ``name`` (see
    :func:`invrestore.zoo.update_manifest_entry`): its family from the registry, its task from ``task``, else the
    registry's, else the existing entry's or the family default.

    Raises:
        ConfigError: unknown model (and what :func:`~invrestore.zoo.update_manifest_entry` raises).
    """
    list_models()
    if name not in MODELS:
        raise ConfigError(f"cannot add weights for unknown model '{name}'")
    entry = MODELS[name]
    update_manifest_entry(name, file, tag=tag, claims=claims, card=card, task=task or entry.task, family=entry.family)
