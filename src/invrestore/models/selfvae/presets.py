"""The registered selfVAE-family models (``create_model("selfvae-downscale")`` etc.): one entry per preset of
:data:`~invrestore.models.selfvae.config.PRESETS` (the constructor's arguments), trained by
:class:`~invrestore.models.selfvae.steps.SelfVAETask` (``family: selfvae``)."""

from __future__ import annotations

from invrestore.models.registry import register_model
from invrestore.models.selfvae.config import PRESETS
from invrestore.models.selfvae.model import VAE, SelfVAE, SelfVAE3Level

__all__: list[str] = []

# -- official srVAE CIFAR-10 networks, and the proposals for the 64×64 models without code (docs/selfvae.md) -------
register_model(
    "vae", VAE, family="selfvae", trainer="selfvae", kwargs=PRESETS["vae"], params=34_276_364,
    description="VAE + RealNVP prior, CIFAR-10 32² (official srVAE networks)",
)  # fmt: skip
register_model(
    "vae-64", VAE, family="selfvae", trainer="selfvae", kwargs=PRESETS["vae-64"], params=39_269_818,
    description="VAE + RealNVP prior, 64² (CelebA/Imagenette64; our proposal)",
)  # fmt: skip
register_model(
    "selfvae-downscale", SelfVAE, family="selfvae", trainer="selfvae", kwargs=PRESETS["selfvae-downscale"],
    params=39_272_570, description="selfVAE-downscale, one level, CIFAR-10 32² (official srVAE networks)",
)  # fmt: skip
register_model(
    "selfvae-sketch", SelfVAE, family="selfvae", trainer="selfvae", kwargs=PRESETS["selfvae-sketch"],
    params=38_193_956, description="selfVAE-sketch, one level, 64² (our proposal)",
)  # fmt: skip
register_model(
    "selfvae-downscale-3lvl", SelfVAE3Level, family="selfvae", trainer="selfvae",
    kwargs=PRESETS["selfvae-downscale-3lvl"], params=40_519_112,
    description="selfVAE-downscale, 3 levels (eq. 21–23), 64² (our proposal)",
)  # fmt: skip
# -- tiny networks for CPU tests -------------------------------------------------------------------------------------
register_model(
    "vae-small", VAE, family="selfvae", trainer="selfvae", kwargs=PRESETS["vae-small"], params=82_164,
    description="tiny VAE for CPU tests (32²)",
)  # fmt: skip
register_model(
    "vae-64-small", VAE, family="selfvae", trainer="selfvae", kwargs=PRESETS["vae-64-small"], params=205_231,
    description="tiny VAE for CPU tests on 64² data (CelebA, Imagenette64)",
)  # fmt: skip
register_model(
    "selfvae-downscale-small", SelfVAE, family="selfvae", trainer="selfvae",
    kwargs=PRESETS["selfvae-downscale-small"], params=118_264,
    description="tiny selfVAE-downscale for CPU tests (32²)",
)  # fmt: skip
register_model(
    "selfvae-sketch-small", SelfVAE, family="selfvae", trainer="selfvae", kwargs=PRESETS["selfvae-sketch-small"],
    params=483_320, description="tiny selfVAE-sketch for CPU tests (32²)",
)  # fmt: skip
register_model(
    "selfvae-downscale-3lvl-small", SelfVAE3Level, family="selfvae", trainer="selfvae",
    kwargs=PRESETS["selfvae-downscale-3lvl-small"], params=322_133,
    description="tiny 3-level selfVAE-downscale for CPU tests (32²)",
)  # fmt: skip
