"""Exceptions raised by invrestore.

Every error a user can cause (bad file, bad argument, missing data) derives from :class:`InvRestoreError`; the CLI
prints its message on one line and exits with a non-zero status instead of showing a traceback.
"""

from __future__ import annotations

from pathlib import Path


class InvRestoreError(Exception):
    """Base class of all user-facing errors."""


class ImageReadError(InvRestoreError):
    """An image file could not be read (missing, empty, truncated, corrupt or not an image)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image '{path}': {reason}")


class ImageWriteError(InvRestoreError):
    """An image could not be written."""


class DatasetNotFoundError(InvRestoreError):
    """A dataset or data root is missing or incomplete."""


class ConfigError(InvRestoreError):
    """A configuration value is invalid (unknown key, bad type, impossible combination)."""


class ScaleError(InvRestoreError):
    """A scale factor does not fit the image or the method."""


class CheckpointError(InvRestoreError):
    """A checkpoint is missing, corrupt or does not match the model."""


class ImageShapeError(InvRestoreError, ValueError):
    """An image tensor has the wrong number of dimensions or channels, or two images do not match."""


class InvalidBitstream(InvRestoreError):
    """A compressed file or payload is malformed, truncated, corrupt, or was written by another model or format."""


class ImageTooLargeError(ImageReadError):
    """An image (or the size its header claims) is above the pixel limit (``$INVRESTORE_MAX_PIXELS``)."""
