"""Device selection for inference: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.

:func:`resolve_device` turns a user's ``--device`` text into a :class:`torch.device` that exists on this machine,
or raises one :class:`~invrestore.errors.ConfigError` line listing the devices that do. ``"auto"`` picks the GPU
when there is one (under ``torchrun``, the GPU of the process's ``LOCAL_RANK``), else the CPU.
"""

from __future__ import annotations

import os
import re

import torch

from invrestore.errors import ConfigError

__all__ = ["available_devices", "resolve_device"]

_SPEC = re.compile(r"^(cpu|cuda|mps)(?::(\d+))?$")


def _cuda_count() -> int:
    try:
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except (RuntimeError, AssertionError):  # a CUDA build without a usable driver
        return 0


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """The device names usable here, e.g. ``["cpu", "cuda", "cuda:0", "cuda:1"]``."""
    names = ["cpu"]
    n = _cuda_count()
    if n:
        names += ["cuda"] + [f"cuda:{i}" for i in range(n)]
    if _mps_available():
        names.append("mps")
    return names


def _local_rank() -> int | None:
    text = os.environ.get("LOCAL_RANK")
    if text is None or not text.strip().isdigit():
        return None
    return int(text)


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The :class:`torch.device` named by ``spec``, checked to exist on this machine.

    ``"auto"`` (or ``None``): ``cuda:LOCAL_RANK`` under ``torchrun`` with GPUs (modulo the GPU count), else
    ``cuda`` when a GPU is available, else ``mps`` when available, else ``cpu``.

    Raises:
        ConfigError: an unknown name (``"banana"``) or a device this machine does not have (``"cuda"`` on a CPU
            build, ``"cuda:3"`` with two GPUs), naming the available ones.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = (spec or "auto").strip().lower()
    n_cuda = _cuda_count()
    if text == "auto":
        if n_cuda:
            rank = _local_rank()
            return torch.device("cuda", (rank or 0) % n_cuda) if rank is not None else torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    listing = ", ".join(["auto", *available_devices()])
    m = _SPEC.match(text)
    if m is None:
        raise ConfigError(f"unknown device '{spec}'; available here: {listing}")
    kind, index = m.group(1), m.group(2)
    if kind == "cpu":
        if index not in (None, "0"):
            raise ConfigError(f"device '{spec}' does not exist; available here: {listing}")
        return torch.device("cpu")
    if kind == "cuda":
        if not n_cuda:
            why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ConfigError(f"device '{spec}' is not available ({why}); available here: {listing}")
        if index is not None and int(index) >= n_cuda:
            raise ConfigError(f"device '{spec}' does not exist ({n_cuda} CUDA GPU(s)); available here: {listing}")
        return torch.device("cuda", int(index)) if index is not None else torch.device("cuda")
    if not _mps_available() or index not in (None, "0"):
        raise ConfigError(f"device '{spec}' is not available; available here: {listing}")
    return torch.device("mps")
