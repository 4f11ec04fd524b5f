"""Entry point of the ``invrestore`` command.

Every subcommand lives in its own module with a ``click`` command; this module wires them into one group whose
``invoke`` is the single top-level error handler of the CLI: nothing a user feeds a command ends in a traceback.

=====================================================  ===========================================================
exception                                              what the user sees (stderr, one line)            exit status
=====================================================  ===========================================================
:class:`~invrestore.errors.InvRestoreError`            ``invrestore: error: <message>``                           1
``OSError`` (missing path, permission, disk full)      ``invrestore: error: <reason>: '<path>'`` (+ a hint)       1
``MemoryError``, out-of-memory ``RuntimeError``        ``invrestore: error: out of memory ...`` (what to try)     1
Pillow's decompression-bomb check                      the pixel-limit line (``$INVRESTORE_MAX_PIXELS``)          1
an unusable ``--device``                               the devices available here                                  1
``KeyboardInterrupt``                                  ``invrestore: interrupted``                              130
anything else (a bug)                                  ``invrestore: internal error: <Type>: <msg> ...``          1
usage errors (unknown option, bad value)               click's usage message                                       2
=====================================================  ===========================================================

``INVRESTORE_DEBUG=1`` re-raises instead, showing the traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import Any, NoReturn

import click

from invrestore import __version__
from invrestore.errors import InvRestoreError

#: Suggestions printed with an out-of-memory error.
OOM_HINT = "try --tile 256, --max-memory, a smaller image, or fewer images at once"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _is_oom(e: BaseException) -> bool:
    if isinstance(e, MemoryError):
        return True
    oom_type = getattr(__import__("torch"), "OutOfMemoryError", None) if "torch" in sys.modules else None
    if oom_type is not None and isinstance(e, oom_type):
        return True
    if isinstance(e, RuntimeError):
        low = str(e).lower()
        return "out of memory" in low or "can't allocate memory" in low or "not enough memory" in low
    return False


def _device_problem(e: BaseException) -> bool:
    low = str(e).lower()
    return (isinstance(e, AssertionError) and "not compiled with cuda" in low) or (
        isinstance(e, RuntimeError)
        and ("device type at start of device string" in low or "invalid device string" in low or "no cuda gpus" in low)
    )


def _os_message(e: OSError) -> str:
    reason = e.strerror or str(e) or type(e).__name__
    where = f": '{e.filename}'" if e.filename else ""
    if e.filename2:
        where += f" -> '{e.filename2}'"
    hint = {
        errno.ENOSPC: " (the disk is full: free space or write elsewhere)",
        errno.EACCES: " (check the permissions, or choose another path)",
        errno.EPERM: " (check the permissions, or choose another path)",
        errno.EROFS: " (read-only file system: choose another path)",
        errno.ENOTDIR: " (a part of the path is a file, not a folder)",
        errno.EEXIST: " (remove it or choose another path)",
    }.get(e.errno or 0, "")
    return f"{reason}{where}{hint}"


def describe_exception(e: BaseException) -> str:
    """The one line (without the ``invrestore: `` prefix) the CLI prints for an exception ``e``."""
    if isinstance(e, InvRestoreError):
        return f"error: {_one_line(str(e))}"
    if _is_oom(e):
        return f"error: out of memory ({_one_line(str(e))[:160] or type(e).__name__}); {OOM_HINT}"
    from PIL import Image

    if isinstance(e, Image.DecompressionBombError | Image.DecompressionBombWarning):
        from invrestore.io import MAX_PIXELS_ENV, get_max_pixels

        try:
            limit = f"{get_max_pixels() / 1e6:g} MP"
        except InvRestoreError:
            limit = "the limit"
        return f"error: an image is above the pixel limit of {limit}; raise it with {MAX_PIXELS_ENV}=<pixels>"
    if _device_problem(e):
        from invrestore.devices import available_devices

        return f"error: that device is not available here ({_one_line(str(e))}); available: " + ", ".join(
            ["auto", *available_devices()]
        )
    if isinstance(e, OSError):
        return f"error: {_one_line(_os_message(e))}"
    msg = _one_line(str(e))
    return (
        f"internal error: {type(e).__name__}: {msg[:300]}"
        " — rerun with INVRESTORE_DEBUG=1 for the traceback and report it"
    )


def _fail(ctx: click.Context, e: BaseException) -> NoReturn:
    click.echo(f"invrestore: {describe_exception(e)}", err=True)
    ctx.exit(1)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click prints usage errors itself (exit 2) and handles --help/--version
        except KeyboardInterrupt:
            if os.environ.get("INVRESTORE_DEBUG"):
                raise
            click.echo("invrestore: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # the reader of our stdout went away (`invrestore ... | head`): quiet exit, as other tools do
            with contextlib.suppress(Exception):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaced for the interpreter's final flush
            ctx.exit(1)
        except Exception as e:
            if os.environ.get("INVRESTORE_DEBUG"):
                raise
            _fail(ctx, e)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="invrestore")
def cli() -> None:
    """invrestore: image degradation and restoration that models the information the degradation loses."""


def _register() -> None:
    from invrestore.cli.bench import bench
    from invrestore.cli.codec import pack, unpack
    from invrestore.cli.compress import compress, decompress
    from invrestore.cli.data import data
    from invrestore.cli.demo import demo
    from invrestore.cli.eval import eval_cmd
    from invrestore.cli.export import export
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
    cli.add_command(export)
    for cmd in (pack, unpack, bench, fid):
        cli.add_command(cmd)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (used by the ``invrestore`` console script and ``python -m invrestore``)."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="invrestore")


if __name__ == "__main__":  # pragma: no cover
    main()
