"""pix2pix family and "Rethinking generative restoration" variants (see ``README.md`` in this folder)."""

from invrestore.models.pix2pix.model import (
    EncoderDecoderGenerator,
    InfoAccum,
    PatchDiscriminator,
    Pix2Pix,
    UNetGenerator,
    count_parameters,
    pad_to_multiple,
    pix2pix_test_mode,
    restore,
)
from invrestore.models.pix2pix.probe import probe

__all__ = [
    "EncoderDecoderGenerator",
    "InfoAccum",
    "PatchDiscriminator",
    "Pix2Pix",
    "UNetGenerator",
    "count_parameters",
    "pad_to_multiple",
    "pix2pix_test_mode",
    "probe",
    "restore",
]
