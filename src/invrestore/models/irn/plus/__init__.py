"""IRN+ (the GAN stage of IRN, ``docs/irn.md``, ``docs/irn-extensions.md``).

IRN+ fine-tunes a trained IRN (``init_weights``, e.g. the official ``IRN_x4.pth``) with a VGG-128 discriminator D,
a VGG19 conv5_4 perceptual term and **no** latent (CE) term. The VGG19 weights are the user's local copy of
torchvision's ``vgg19-dcbb9e9d.pth`` (``loss.vgg19_weights``); they are loaded when the task is built and never
saved in checkpoints.

The package, by concern:

- :mod:`~invrestore.models.irn.plus.model` — :class:`IRNPlus` (G, D, step counter), the ``irn-x4-plus`` entry,
  :func:`export_generator`;
- :mod:`~invrestore.models.irn.plus.discriminator` — :class:`DiscriminatorVGG128`;
- :mod:`~invrestore.models.irn.plus.config` — the training config (family ``irn-plus``);
- :mod:`~invrestore.models.irn.plus.steps` — the pure step :func:`irnplus_losses` and :class:`IRNPlusTask`.

The VGG19 feature extractor is shared with LPIPS: :class:`invrestore.metrics.backbones.VGG19Features`.
"""

from invrestore.models.irn.plus.config import IRNPlusConfig, IRNPlusDiscriminatorConfig, IRNPlusLossConfig
from invrestore.models.irn.plus.discriminator import DiscriminatorVGG128
from invrestore.models.irn.plus.model import IRNPlus, export_generator, generator_state_dict
from invrestore.models.irn.plus.steps import IRNPlusTask, irnplus_losses

__all__ = [
    "DiscriminatorVGG128",
    "IRNPlus",
    "IRNPlusConfig",
    "IRNPlusDiscriminatorConfig",
    "IRNPlusLossConfig",
    "IRNPlusTask",
    "export_generator",
    "generator_state_dict",
    "irnplus_losses",
]
