"""Atomic file writes: a temporary file beside the target, moved into place only when the write succeeds.

The temporary file is ``.<name>.tmp-<pid>`` in the same folder, then ``os.replace``, so a failed or interrupted
write never leaves a half-written file; it is removed on any exception (``KeyboardInterrupt`` included). Only
``kill -9`` can leave one behind: :func:`clean_stale_tmps` (run by every writer once per folder) removes those whose
process is gone. Any ``OSError`` while writing becomes :class:`~invrestore.errors.ImageWriteError` with one line
naming the path. :mod:`invrestore.io` re-exports these names.
"""

from __future__ import annotations

import errno
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from invrestore.errors import ImageWriteError

__all__ = ["atomic_write", "clean_stale_tmps", "default_file_mode"]


def default_file_mode(directory: bool = False) -> int:
    """``0o666`` (``0o777`` for a folder) less the process umask: the mode a plainly created file would get."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


_TMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")
_cleaned: set[str] = set()
_cleaned_lock = threading.Lock()


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but not ours (or unknown): leave it
    return True


def clean_stale_tmps(folder: str | Path) -> list[Path]:
    """Remove the temporary files ``.<name>.tmp-<pid>`` left in ``folder`` by writers that were killed (their
    process no longer exists). Returns the removed paths. Files of running processes are kept."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if m is None or not entry.is_file(follow_symlinks=False) or _pid_alive(int(m.group("pid"))):
            continue
        with suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _write_error(path: Path, e: OSError) -> ImageWriteError:
    reason = e.strerror or str(e) or type(e).__name__
    hint = {
        errno.ENOSPC: " (the disk is full: free space or write elsewhere)",
        errno.EACCES: " (no write permission: choose another output folder)",
        errno.EPERM: " (no write permission: choose another output folder)",
        errno.EROFS: " (read-only file system: choose another output folder)",
        errno.ENOTDIR: " (a part of the path is a file, not a folder)",
        errno.EISDIR: " (a folder of that name exists)",
    }.get(e.errno or 0, "")
    return ImageWriteError(f"cannot write '{path}': {reason}{hint}")


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[bytes]]:
    """Open a temporary file ``.<name>.tmp-<pid>`` beside ``path`` and move it into place only if the block
    succeeds; on any exception (``KeyboardInterrupt`` included) the temporary file is removed.

    Raises:
        ImageWriteError: the folder does not exist, is not a folder or is not writable, or writing failed (disk
            full, ...).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ImageWriteError(f"cannot write '{path}': folder '{folder}' {what}")
    if path.is_dir():
        raise ImageWriteError(f"cannot write '{path}': a folder of that name exists")
    key = str(folder.resolve())
    with _cleaned_lock:
        first = key not in _cleaned
        _cleaned.add(key)
    if first:
        clean_stale_tmps(folder)
    tmp = _tmp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), default_file_mode())
    except OSError as e:
        raise _write_error(path, e) from e
    try:
        try:
            with os.fdopen(fd, mode) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as e:
            raise _write_error(path, e) from e
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
