"""``invrestore models``: the model zoo as a table (or JSON), and ``invrestore models show NAME``."""

from __future__ import annotations

import json
from typing import Any

import click

from invrestore.errors import ConfigError

__all__ = ["model_rows", "models"]


def _param_count(name: str) -> int | None:
    """Parameters of a registered model, counted on the meta device (nothing allocated)."""
    import torch

    from invrestore.models.registry import MODELS

    try:
        with torch.device("meta"):
            m = MODELS[name].factory()
    except Exception:
        try:
            m = MODELS[name].factory()
        except Exception:
            return None
    return sum(p.numel() for p in m.parameters())


def model_rows(family: str | None = None, pretrained: bool = False) -> list[dict[str, Any]]:
    """One dict per registered model: name, family, task, description, params, shipped, tag, file, size, sha256,
    card and claims (the last six None/empty when no weights ship with it)."""
    from invrestore.models.registry import FAMILIES, MODELS, list_models
    from invrestore.zoo import FAMILY_TASKS, load_manifest

    names = list_models()
    if family is not None:
        known = sorted({MODELS[n].family for n in names} | set(FAMILIES))
        if family not in known:
            raise ConfigError(f"unknown family '{family}'; choose from {', '.join(known)}")
    manifest = load_manifest()
    rows = []
    for name in names:
        entry = MODELS[name]
        if family is not None and entry.family != family:
            continue
        w = manifest.get(name)
        if pretrained and w is None:
            continue
        rows.append(
            {
                "name": name,
                "family": entry.family,
                "task": w.task if w is not None else (entry.task or FAMILY_TASKS.get(entry.family)),
                "description": entry.description,
                "params": _param_count(name),
                "shipped": w is not None,
                "tag": w.tag if w else None,
                "file": w.file if w else None,
                "size": w.size if w else None,
                "sha256": w.sha256 if w else None,
                "card": w.card if w else None,
                "claims": dict(w.claims) if w else {},
            }
        )
    return rows


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f} MB"


def _params(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n:,}"


@click.group("models", invoke_without_command=True)
@click.option("--pretrained", is_flag=True, help="Only models with shipped weights.")
@click.option("--family", default=None, help="Only this family (irn, ilc, irae, baselines, pix2pix, selfvae).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per model) instead of a table.")
@click.pass_context
def models(ctx: click.Context, pretrained: bool, family: str | None, as_json: bool) -> None:
    """List the registered models: family, task, parameters, shipped weights (tag, size, sha256) and card.

    `invrestore models show NAME` prints one model's card and the command lines that reproduce its numbers.
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = model_rows(family, pretrained)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    head = ("name", "family", "task", "params", "weights", "tag", "size", "sha256", "card")
    table = [
        (
            r["name"],
            r["family"],
            (r["task"] or "-")[:28],
            _params(r["params"]),
            "yes" if r["shipped"] else "no",
            r["tag"] or "-",
            _mb(r["size"]),
            (r["sha256"] or "-")[:12],
            r["card"] or "-",
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in [head, *table]) for i in range(len(head))]
    for row in [head, *table]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    shipped = sum(r["shipped"] for r in rows)
    click.echo(f"{len(rows)} models, {shipped} with shipped weights (invrestore models show NAME for a card)")


@models.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print model NAME: description, weights (tag, file, sha256, claims), its card and how to reproduce it."""
    from invrestore.models.registry import MODELS, list_models
    from invrestore.zoo import card_commands, card_text, load_manifest, locate_weights

    list_models()
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; `invrestore models` lists them")
    entry = MODELS[name]
    click.echo(f"{name} ({entry.family}): {entry.description}")
    click.echo(f"parameters: {_params(_param_count(name))}")
    w = load_manifest().get(name)
    if w is None:
        click.echo("shipped weights: none (train one, e.g. with a preset in configs/, or pass --weights PATH)")
        return
    origin, path = locate_weights(name)
    click.echo(f"shipped weights: {w.versioned_name} — {w.file}, {_mb(w.size)}, sha256 {w.sha256}")
    click.echo(f"loaded from: {path} ({origin})")
    click.echo(f"task: {w.task}")
    if w.claims:
        click.echo("claims: " + ", ".join(f"{k} {v}" for k, v in w.claims.items()))
    text = card_text(name)
    cmds = card_commands(text)
    if cmds:
        click.echo("reproduce:")
        for c in cmds:
            click.echo(f"  {c}")
    if text:
        click.echo(f"\n--- card: {w.card} ---\n")
        click.echo(text.rstrip())
