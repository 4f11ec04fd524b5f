"""Inference on images, below the CLI: what ``invrestore.load`` returns and what the commands call.

- :mod:`invrestore.inference.images` — tensors, numpy arrays and PIL images in and out; grey/alpha; padding.
- :mod:`invrestore.inference.settings` — device, tiling, memory budget and fast path of a wrapper.
- :mod:`invrestore.inference.rescaler` — :class:`~invrestore.inference.rescaler.ImageRescaler` (IRN, IRN_color).
- :mod:`invrestore.inference.restorer` — :class:`~invrestore.inference.restorer.ImageRestorer` (IRAE, baselines,
  pix2pix generators, KAIR models, CRMs) and :func:`~invrestore.inference.restorer.restore_image`.
- :mod:`invrestore.inference.codec` — :class:`~invrestore.inference.codec.ImageCodec` (ILC, bls2017).
- :mod:`invrestore.inference.lr_meta` — the PNG text fields of the LR images ``invrestore downscale`` writes.

The protocols these wrappers implement are defined in :mod:`invrestore.api` (see docs/api.md). This package
imports nothing on import. The memory model the wrappers and :mod:`invrestore.tiling` share is
:mod:`invrestore.memory` (below both).
"""
