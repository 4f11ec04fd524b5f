"""IRN + JPEG: the compression-restoration module (CRM) that undoes JPEG artefacts on IRN's LR image.

Paper: Xiao et al., "Invertible Rescaling Network and Its Extensions", IJCV 2022, §3.5/§4.4 (Fig. 9). Official code:
``RRDB.py`` + ``IRN_model_CRM.py`` with ``only_jpeg_reconstruction: True`` (``docs/irn-extensions.md``).

.. code-block:: none

    training (G frozen):  y_q = Quant(G(x)[:, :3]);  J = JPEG_q(y_q);  L = Σ_CHW (y_q − R(J))² / B   (only R learns)
    test:                 x̂ = G⁻¹(cat(Quant(R(JPEG_q(y_q))), z)),  z ~ N(0, I);
                          bpp = 8·|JPEG bytes of y_q| / (H_HR·W_HR)

``R`` is :class:`CRM`, ESRGAN's RRDBNet without upsampling: ``RRDBNet(in 3, out 3, nf 64, nb 8, gc 32)``,
5,795,843 parameters. One CRM is trained per JPEG quality (q90 in the official yml). Registered: ``crm-rrdb8``
and ``crm-q90`` (shipped weights), family ``irn``, trained by the task ``irn-crm``. For the "Bicubic + JPEG + CRM"
baseline of Fig. 9 the same network is trained on the 8-bit MATLAB-bicubic LR instead of IRN's
(``source.lr_source: bicubic``); :func:`bicubic_jpeg_crm` is its test pipeline.

The package, by concern:

- :mod:`~invrestore.models.irn.crm.model` — the network, its registry entries, :func:`load_crm`;
- :mod:`~invrestore.models.irn.crm.pipeline` — the JPEG test pipelines (also used by ``bench jpeg-rd``);
- :mod:`~invrestore.models.irn.crm.config` — the training config (family ``irn-crm``);
- :mod:`~invrestore.models.irn.crm.steps` — the pure training step :func:`crm_loss` and :class:`CRMTask`.
"""

from invrestore.models.irn.crm.config import (
    LR_SOURCES,
    CRMConfig,
    CRMJPEGConfig,
    CRMModelConfig,
    CRMSourceConfig,
)
from invrestore.models.irn.crm.model import CRM, RRDB, SHIPPED_CRMS, ResidualDenseBlock, load_crm
from invrestore.models.irn.crm.pipeline import JPEGStore, bicubic_jpeg_crm, bicubic_lr, irn_jpeg_crm, jpeg_crm
from invrestore.models.irn.crm.steps import CRMTask, crm_loss

__all__ = [
    "CRM",
    "LR_SOURCES",
    "RRDB",
    "SHIPPED_CRMS",
    "CRMConfig",
    "CRMJPEGConfig",
    "CRMModelConfig",
    "CRMSourceConfig",
    "CRMTask",
    "JPEGStore",
    "ResidualDenseBlock",
    "bicubic_jpeg_crm",
    "bicubic_lr",
    "crm_loss",
    "irn_jpeg_crm",
    "jpeg_crm",
    "load_crm",
]
