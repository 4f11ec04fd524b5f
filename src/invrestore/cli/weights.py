"""``invrestore weights``: check the shipped weights (``verify``) and say where a model's file is (``path``)."""

from __future__ import annotations

import click

from invrestore.errors import InvRestoreError

__all__ = ["verify_all", "weights"]


def verify_all() -> tuple[list[str], list[str]]:
    """Check every manifest entry: the file found first (``$INVRESTORE_WEIGHTS``, cache, package) has the
    manifest's sha256 and loads into its model. Returns ``(ok lines, error lines)``, one line per file."""
    from invrestore.api import load
    from invrestore.zoo import load_manifest, locate_weights, verify_file

    ok: list[str] = []
    bad: list[str] = []
    for name, entry in sorted(load_manifest().items()):
        try:
            origin, path = locate_weights(name)
            verify_file(name, path)
            load(name)  # strict load into the registered architecture
        except InvRestoreError as e:
            bad.append(f"{entry.versioned_name}: {e}")
            continue
        except Exception as e:
            bad.append(f"{entry.versioned_name}: cannot load: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            continue
        ok.append(f"ok  {entry.versioned_name:<32} {entry.sha256[:12]}  {path} ({origin})")
    return ok, bad


@click.group("weights")
def weights() -> None:
    """The shipped weights: `verify` checks them all, `path NAME` prints where a model's file is."""


@weights.command("verify")
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Check every shipped weights file (sha256 against the manifest, and a strict load into its model).

    Exit status 1 with one line per bad file on stderr.
    """
    ok, bad = verify_all()
    for line in ok:
        click.echo(line)
    for line in bad:
        click.echo(f"invrestore: error: {line}", err=True)
    if bad:
        click.echo(f"{len(bad)} of {len(ok) + len(bad)} weights files failed", err=True)
        ctx.exit(1)
    click.echo(f"all {len(ok)} weights files verified")


@weights.command("path")
@click.argument("name")
def path(name: str) -> None:
    """Print the (sha256-verified) weights file model NAME loads."""
    from invrestore.zoo import resolve_weights

    click.echo(str(resolve_weights(name)))
