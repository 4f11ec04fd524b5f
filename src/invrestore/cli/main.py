"""Entry point of the ``invrestore`` command.

Every subcommand lives in its own module with a ``click`` command; this module wires them into one group and turns
library errors (:class:`~invrestore.errors.InvRestoreError`) into one line on stderr and exit status 1, never a
traceback. ``INVRESTORE_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from invrestore import __version__
from invrestore.errors import InvRestoreError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvRestoreError as e:
            if os.environ.get("INVRESTORE_DEBUG"):
                raise
            click.echo(f"invrestore: error: {e}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("invrestore: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="invrestore")
def cli() -> None:
    """invrestore: image degradation and restoration that models the information the degradation loses."""


def _register() -> None:
    from invrestore.cli.codec import bench, pack, unpack
    from invrestore.cli.compress import compress, decompress
    from invrestore.cli.data import data
    from invrestore.cli.demo import demo
    from invrestore.cli.eval import eval_cmd
    from invrestore.cli.fid import fid
    from invrestore.cli.models import models
    from invrestore.cli.probe import probe
    from invrestore.cli.rescale import colorize, decolorize, downscale, upscale
    from invrestore.cli.restore import restore
    from invrestore.cli.train import train
    from invrestore.cli.vae import eval_bpd, sample
    from invrestore.cli.weights import weights

    cli.add_command(data)
    cli.add_command(eval_cmd)
    cli.add_command(demo)
    cli.add_command(train)
    cli.add_command(downscale)
    cli.add_command(upscale)
    cli.add_command(decolorize)
    cli.add_command(colorize)
    cli.add_command(compress)
    cli.add_command(decompress)
    cli.add_command(probe)
    cli.add_command(eval_bpd)
    cli.add_command(sample)
    cli.add_command(restore)
    cli.add_command(models)
    cli.add_command(weights)
    for cmd in (pack, unpack, bench, fid):
        cli.add_command(cmd)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (used by the ``invrestore`` console script and ``python -m invrestore``)."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="invrestore")


if __name__ == "__main__":  # pragma: no cover
    main()
