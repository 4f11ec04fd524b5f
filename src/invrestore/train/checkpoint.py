"""Checkpoints: weights as safetensors, training state as a torch file, written atomically as one folder.

Layout of a run directory::

    run/
      config.yaml            resolved config of the run
      metrics.jsonl          one JSON object per logged step / validation
      last/                  the newest checkpoint (model.safetensors, state.pt, meta.json)
      best/                  the best checkpoint by the validation metric (same files)

A checkpoint folder is written under a temporary name and swapped in with renames, so an interrupted write leaves
the previous checkpoint intact (``last.old`` is used when ``last`` is missing after a crash mid-swap).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from invrestore.errors import CheckpointError
from invrestore.io import default_file_mode

__all__ = ["find_checkpoint", "load_checkpoint", "load_weights", "save_checkpoint", "save_weights"]


def save_weights(state_dict: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Save a state dict as safetensors, atomically. Shared storage between tensors is copied apart."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _unreadable(path: Path, e: Exception) -> str:
    """One line for a weights file that cannot be read (torch's own text is long and, for ``weights_only``
    refusals, suggests unpickling untrusted code, which we never do)."""
    text = str(e)
    if "Weights only load failed" in text or type(e).__name__ == "UnpicklingError":
        return (
            f"cannot read checkpoint '{path}': not a PyTorch weights file we can open safely (corrupt, truncated, "
            "or it pickles objects other than tensors, which invrestore never unpickles)"
        )
    first = text.splitlines()[0][:200] if text else ""
    return f"cannot read checkpoint '{path}': {type(e).__name__}" + (f": {first}" if first else "")


def load_weights(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file or a torch ``.pth``/``.pt`` state dict (weights only).

    Raises:
        CheckpointError: missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' not found")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path), device=str(map_location))
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # safetensors, zip and pickle errors of many kinds on corrupt files
        raise CheckpointError(_unreadable(path, e)) from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint '{path}' does not hold a state dict (found {type(obj).__name__})")
    return obj


def save_checkpoint(
    folder: str | Path,
    model_state: dict[str, torch.Tensor],
    train_state: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Write ``folder`` (``model.safetensors``, ``state.pt``, ``meta.json``) atomically by renaming a temp folder."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        os.chmod(tmp, default_file_mode(directory=True))
        save_weights(model_state, tmp / "model.safetensors")
        torch.save(train_state, tmp / "state.pt")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        for f in tmp.iterdir():  # on disk before the rename publishes them (a power cut, not only a kill)
            _fsync(f)
        old = folder.with_name(folder.name + ".old")
        if not folder.exists() and find_checkpoint(old) is not None:
            os.replace(old, folder)  # a crash mid-swap left the only complete checkpoint in .old: put it back first
        if old.exists():
            shutil.rmtree(old)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def find_checkpoint(folder: str | Path) -> Path | None:
    """The checkpoint folder to resume from (``folder`` or its ``.old`` twin after a crash mid-swap)."""
    folder = Path(folder)
    for cand in (folder, folder.with_name(folder.name + ".old")):
        if (cand / "model.safetensors").is_file() and (cand / "state.pt").is_file():
            return cand
    return None


def load_checkpoint(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """Read ``(model_state, train_state, meta)`` from a checkpoint folder written by :func:`save_checkpoint`."""
    found = find_checkpoint(folder)
    if found is None:
        raise CheckpointError(f"no checkpoint in '{folder}' (expected model.safetensors and state.pt)")
    model_state = load_weights(found / "model.safetensors")
    try:
        train_state = torch.load(found / "state.pt", map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read training state '{found / 'state.pt'}': {e}") from e
    meta_path = found / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return model_state, train_state, meta
