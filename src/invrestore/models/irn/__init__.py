"""IRN family: invertible rescaling (see ``README.md`` in this folder and ``specs/irn.md``)."""

from invrestore.models.irn.model import IRN, FractionalIRN, load_into, load_official_checkpoint, quantize_ste

__all__ = ["IRN", "FractionalIRN", "load_into", "load_official_checkpoint", "quantize_ste"]
