"""pix2pix family and "Rethinking generative restoration" variants (see ``README.md`` in this folder). Importing it
registers the models (:mod:`invrestore.models.pix2pix.zoo`) and the ``pix2pix`` training task."""

from invrestore.models.pix2pix import zoo as zoo
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
from invrestore.models.pix2pix.steps import Pix2PixTask

__all__ = [
    "EncoderDecoderGenerator",
    "InfoAccum",
    "PatchDiscriminator",
    "Pix2Pix",
    "Pix2PixTask",
    "UNetGenerator",
    "count_parameters",
    "pad_to_multiple",
    "pix2pix_test_mode",
    "probe",
    "restore",
]
