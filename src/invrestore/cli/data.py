"""``invrestore data``: what the data root holds."""

from __future__ import annotations

import click

from invrestore.data.registry import DATASETS, locate_dataset, resolve_data_root, resolve_dataset
from invrestore.errors import DatasetNotFoundError


@click.group()
def data() -> None:
    """Inspect the benchmark and training sets under the data root."""


@data.command("list")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Data root (else $INVRESTORE_DATA).")
def list_cmd(data_root: str | None) -> None:
    """Show every registered dataset: found (with its image count and location) or missing."""
    root = resolve_data_root(data_root)
    click.echo(f"data root: {root}")
    click.echo(f"{'dataset':<18} {'kind':<6} {'status':<9} {'images':>14}  location")
    for info in DATASETS.values():
        if info.splits and not info.candidates and info.ids_file is None:  # loaded by split (CelebA, SIDD, ...)
            try:
                path = locate_dataset(info.name, root)
                if path.resolve() == root.resolve():  # the root's own train/, test/ folders belong to other sets
                    raise DatasetNotFoundError(info.name)
            except DatasetNotFoundError:
                click.echo(f"{info.name:<18} {info.kind:<6} {'missing':<9} {'-':>14}  {info.description}")
                continue
            rel = path.relative_to(root) if path.is_relative_to(root) else path
            splits = "splits: " + ",".join(info.splits)
            click.echo(f"{info.name:<18} {info.kind:<6} {'found':<9} {splits:>14}  {rel}")
            continue
        try:
            r = resolve_dataset(info.name, root)
        except DatasetNotFoundError:
            click.echo(f"{info.name:<18} {info.kind:<6} {'missing':<9} {'-':>14}  {info.description}")
            continue
        if info.array:
            count = "(array)"
            status = "found"
        else:
            count = f"{len(r.files)}/{info.expected}"
            status = "found" if r.complete else "partial"
        rel = r.path.relative_to(root) if r.path.is_relative_to(root) else r.path
        click.echo(f"{info.name:<18} {info.kind:<6} {status:<9} {count:>14}  {rel}")
