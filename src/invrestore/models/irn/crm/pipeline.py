"""The test pipelines of IRN + JPEG (+ CRM) and bicubic + JPEG (+ CRM), IJCV 2022 Fig. 9 (``docs/irn-extensions.md``).

.. code-block:: none

    IRN:      x̂ = G⁻¹(cat(Quant(R(JPEG_q(y_q))), z)),  y_q = Quant(G(x)[:, :3]),  z ~ N(0, I)
    bicubic:  x̂ = bicubic↑(Quant(R(JPEG_q(bicubic↓₈(x)))))
    bpp     = 8·|JPEG bytes of the LR| / (H_HR·W_HR)

JPEG is Pillow (libjpeg-turbo, IJG quality scale) with **explicit** chroma subsampling, default 4:2:0 — the official
code uses cv2's ``imencode`` defaults, which are also 4:2:0 and give byte-identical files. ``R`` is a
:class:`~invrestore.models.irn.crm.model.CRM`, or None for plain JPEG.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from invrestore.degradations.jpeg import jpeg_decode, jpeg_encode
from invrestore.degradations.rescaling import BicubicMethod
from invrestore.models.irn.model import IRN, quantize_ste

__all__ = ["JPEGStore", "bicubic_jpeg_crm", "bicubic_lr", "irn_jpeg_crm", "jpeg_crm"]

#: Called with ``(index in the batch, JPEG bytes)``; returns the bytes to decode (e.g. written and read back).
JPEGStore = Callable[[int, bytes], bytes]


def bicubic_lr(x: Tensor, scale: int) -> Tensor:
    """The 8-bit MATLAB-bicubic LR of ``x`` ``(B, C, H, W)`` (H, W multiples of ``scale``): ``k / 255`` values.

    MATLAB ``imresize(·, 1/s, 'bicubic')`` with antialiasing
    (:class:`~invrestore.degradations.rescaling.BicubicMethod`), then round half up to 8 bits as
    :func:`invrestore.io.to_uint8` (the LR file ``bench codecs`` encodes). Same dtype.
    """
    lr = BicubicMethod().downscale(x, scale)
    return (torch.floor(lr.to(torch.float64).clamp(0, 1) * 255.0 + 0.5) / 255.0).to(x.dtype)


def jpeg_crm(
    crm: nn.Module | None,
    y_q: Tensor,
    quality: int,
    subsampling: str = "4:2:0",
    store: JPEGStore | None = None,
) -> tuple[Tensor, int]:
    """The coded part of every test pipeline: each 8-bit LR of ``y_q`` → JPEG → decode → ``R`` → ``Quant``.

    ``y_q`` is ``(B, C, h, w)`` in [0, 1]; each image is encoded alone (Pillow, ``quality``, ``subsampling``), the
    bytes go through ``store`` (e.g. written to a file and read back) and are counted, then decoded. ``R`` and the
    8-bit quantisation are skipped when ``crm`` is None (plain JPEG). Runs under no_grad.

    Returns:
        ``(restored LR (B, C, h, w) on y_q's device and dtype, total bytes)``.
    """
    with torch.no_grad():
        outs, total = [], 0
        for i, yi in enumerate(y_q):
            data = jpeg_encode(yi, quality, subsampling)  # type: ignore[arg-type]
            if store is not None:
                data = store(i, data)
            total += len(data)
            outs.append(jpeg_decode(data, channels=yi.shape[0]).to(y_q))
        j = torch.stack(outs)
        r = quantize_ste(crm(j)) if crm is not None else j
    return r, total


def irn_jpeg_crm(
    irn: IRN,
    crm: nn.Module | None,
    x: Tensor,
    quality: int,
    subsampling: str = "4:2:0",
    generator: torch.Generator | None = None,
    z_mode: str = "random",
    store: JPEGStore | None = None,
) -> tuple[Tensor, int]:
    """The test pipeline of IRN + JPEG (+ CRM) for one batch: ``(x̂, total JPEG bytes)``.

    ``y_q = Quant(G(x)[:, :3])`` → JPEG bytes (counted) → decode → ``R`` (skipped when ``crm`` is None) →
    ``Quant`` → ``G⁻¹(cat(·, z))`` with ``z ~ N(0, I)`` from ``generator`` (or zeros for ``z_mode="zero"``).
    bpp is ``8 · bytes / (H·W)`` of the HR image (per image when B = 1). ``store``: see :func:`jpeg_crm`.
    """
    with torch.no_grad():
        y_q, _ = irn.downscale(x)
        r, total = jpeg_crm(crm, y_q, quality, subsampling, store)
        x_hat = irn.upscale(r, z_mode=z_mode, generator=generator)  # type: ignore[arg-type]
    return x_hat, total


def bicubic_jpeg_crm(
    crm: nn.Module | None,
    x: Tensor,
    scale: int,
    quality: int,
    subsampling: str = "4:2:0",
    store: JPEGStore | None = None,
) -> tuple[Tensor, int]:
    """The test pipeline of bicubic + JPEG (+ CRM) for one batch: ``(x̂, total JPEG bytes)``.

    The 8-bit MATLAB-bicubic LR (:func:`bicubic_lr`) → JPEG → decode → ``R`` → ``Quant`` (:func:`jpeg_crm`; no
    ``R`` when ``crm`` is None) → MATLAB bicubic up by ``scale``.
    """
    with torch.no_grad():
        r, total = jpeg_crm(crm, bicubic_lr(x, scale), quality, subsampling, store)
        x_hat = BicubicMethod().upscale(r, scale)
    return x_hat, total
