"""The pix2pix family's registry entries: one explicit ``register_model`` call per model (``docs/generative.md``).

- ``pix2pix-unet-N`` (N = 1..8) and ``pix2pix-encdec-N``: UNet-N / En/Decoder-N at pix2pix's width (ngf 64);
  ``pix2pix-unet-8`` is pix2pix's ``unet_256``.
- the paper's variants of UNet-5 (SubPixUpsamp, InfoAccum-15, both: the paper's final generator) and the 70×70
  PatchGAN discriminator;
- ``pix2pix-derain``: the paper's final generator at ngf 16 with shipped synthetic-deraining weights.

``trainer="pix2pix"``: the generators are what the ``pix2pix`` task trains as its ``model:``
(:class:`~invrestore.models.pix2pix.steps.Pix2PixTask`, a generator with the PatchGAN). The PatchGAN has
``trainer=None``: it is trained only as the task's discriminator (``discriminator:``), never as its ``model:``.
"""

from __future__ import annotations

from invrestore.models.pix2pix.model import (
    EncoderDecoderGenerator,
    PatchDiscriminator,
    UNetGenerator,
)
from invrestore.models.registry import register_model

__all__: list[str] = []


register_model(
    "pix2pix-unet-1",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 1},
    params=6_147,
    description="pix2pix UNet-1 generator",
)

register_model(
    "pix2pix-unet-2",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 2},
    params=271_491,
    description="pix2pix UNet-2 generator",
)

register_model(
    "pix2pix-unet-3",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 3},
    params=1_451_651,
    description="pix2pix UNet-3 generator",
)

register_model(
    "pix2pix-unet-4",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 4},
    params=6_171_267,
    description="pix2pix UNet-4 generator",
)

register_model(
    "pix2pix-unet-5",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 5},
    params=16_659_075,
    description="pix2pix UNet-5 generator",
)

register_model(
    "pix2pix-unet-6",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 6},
    params=29_244_035,
    description="pix2pix UNet-6 generator",
)

register_model(
    "pix2pix-unet-7",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 7},
    params=41_828_995,
    description="pix2pix UNet-7 generator",
)

register_model(
    "pix2pix-unet-8",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 8},
    params=54_413_955,
    description="pix2pix unet_256 = UNet-8",
)

register_model(
    "pix2pix-encdec-1",
    EncoderDecoderGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 1},
    params=3_587,
    description="En/Decoder-1 generator, no skips",
)

register_model(
    "pix2pix-encdec-2",
    EncoderDecoderGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 2},
    params=151_427,
    description="En/Decoder-2 generator, no skips",
)

register_model(
    "pix2pix-encdec-3",
    EncoderDecoderGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 3},
    params=742_019,
    description="En/Decoder-3 generator, no skips",
)

register_model(
    "pix2pix-encdec-4",
    EncoderDecoderGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 4},
    params=3_102_851,
    description="En/Decoder-4 generator, no skips",
)

register_model(
    "pix2pix-encdec-5",
    EncoderDecoderGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 5},
    params=7_823_491,
    description="En/Decoder-5 generator, no skips",
)

register_model(
    "pix2pix-encdec-6",
    EncoderDecoderGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 6},
    params=12_544_131,
    description="En/Decoder-6 generator, no skips",
)

register_model(
    "pix2pix-encdec-7",
    EncoderDecoderGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 7},
    params=17_264_771,
    description="En/Decoder-7 generator, no skips",
)

register_model(
    "pix2pix-encdec-8",
    EncoderDecoderGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 8},
    params=21_985_411,
    description="En/Decoder-8 generator, no skips",
)

register_model(
    "pix2pix-unet-5-subpix",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 5, "subpix_top": True},
    params=16_666_764,
    description="UNet-5 + SubPixUpsamp top layer",
)
register_model(
    "pix2pix-unet-5-ia15",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 5, "info_accum_layers": 15},
    params=16_992_345,
    description="InfoAccum-15 + UNet-5",
)
register_model(
    "pix2pix-unet-5-ia15-subpix",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 5, "info_accum_layers": 15, "subpix_top": True},
    params=17_000_034,
    description="InfoAccum-15 + UNet-5 + SubPixUpsamp, the paper's final G",
)
register_model(
    "pix2pix-patchgan",
    PatchDiscriminator,
    family="pix2pix",
    trainer=None,  # trained as the pix2pix task's discriminator, not as a model: of its own
    params=2_768_705,
    description="PatchGAN 70×70 conditional discriminator, 6-ch input",
)
# Runs with pix2pix's train-mode inference, as in its training run's validation (invrestore.load wraps it in
# invrestore.models.pix2pix.restorer.Pix2PixRestorer); see weights/pix2pix-derain.md.
register_model(
    "pix2pix-derain",
    UNetGenerator,
    family="pix2pix",
    trainer="pix2pix",
    kwargs={"depth": 5, "ngf": 16, "info_accum_layers": 15, "subpix_top": True},
    params=1_240_578,
    description="the paper's final G (InfoAccum-15 + UNet-5 + SubPixUpsamp) at ngf 16, trained here for synthetic "
    "deraining with LSGAN (CPU budget)",
    pretrained="pix2pix-derain.safetensors",
    task="derain",
)
