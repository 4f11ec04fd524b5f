"""Measuring what autograd keeps for the backward pass."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

import torch
from torch import Tensor

__all__ = ["SavedTensorCounter"]


def _storage_key(t: Tensor) -> tuple[int, int]:
    try:
        st = t.untyped_storage()
        return st.data_ptr(), st.nbytes()
    except (RuntimeError, NotImplementedError):  # tensors without a plain storage
        return id(t), t.nelement() * t.element_size()


class SavedTensorCounter:
    """Counts the bytes of the tensors autograd saves for backward inside a ``with`` block.

    Uses :func:`torch.autograd.graph.saved_tensors_hooks`. Each underlying storage is counted once (views of
    one tensor, or a tensor saved by several ops, do not add up), and storages of the tensors in ``exclude``
    (typically the model parameters, which exist anyway) are not counted, so ``bytes`` measures activation
    memory.

    Example::

        with SavedTensorCounter(exclude=model.parameters()) as counter:
            y, logdet = model(x)
        print(counter.bytes)

    Args:
        exclude: tensors whose storages are not counted.
    """

    def __init__(self, exclude: Iterable[Tensor] = ()) -> None:
        self._exclude = {_storage_key(t)[0] for t in exclude}
        self._seen: set[int] = set()
        self.bytes = 0
        self.tensors = 0
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, t: Tensor) -> Tensor:
        self.tensors += 1
        key, nbytes = _storage_key(t)
        if key not in self._exclude and key not in self._seen:
            self._seen.add(key)
            self.bytes += nbytes
        return t

    @staticmethod
    def _unpack(t: Tensor) -> Tensor:
        return t

    def __enter__(self) -> SavedTensorCounter:
        self._hooks.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._hooks.__exit__(exc_type, exc, tb)
