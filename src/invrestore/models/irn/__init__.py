"""IRN family: invertible rescaling (see ``README.md`` in this folder and ``docs/irn.md``).

Importing the package registers its models (``irn-x2`` ... ``irn-color``, the CRM, IRN+) and its training tasks
(``family: irn``, ``irn-color``, ``irn-crm``, ``irn-plus``).
"""

from invrestore.models.irn import color_steps, steps  # noqa: F401  (register the irn and irn-color tasks)
from invrestore.models.irn.color import ColorMatrix, IRNColor, color_metrics
from invrestore.models.irn.crm import CRM  # also registers crm-rrdb8
from invrestore.models.irn.model import IRN, FractionalIRN, load_into, load_official_checkpoint, quantize_ste
from invrestore.models.irn.plus import IRNPlus  # also registers irn-x4-plus

__all__ = [
    "CRM",
    "IRN",
    "ColorMatrix",
    "FractionalIRN",
    "IRNColor",
    "IRNPlus",
    "color_metrics",
    "load_into",
    "load_official_checkpoint",
    "quantize_ste",
]
