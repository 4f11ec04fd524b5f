"""The IRN training step (pure) and :class:`IRNTask`, the task that trains IRN with the generic loop.

``family: irn`` presets (``configs/irn/``) build an :class:`~invrestore.models.irn.config.IRNConfig` and this task
(:func:`invrestore.models.registry.load_task`). IRN_color reuses :func:`training_losses` in its own task
(:mod:`invrestore.models.irn.color_steps`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.errors import ConfigError
from invrestore.models.irn.color import IRNColor
from invrestore.models.irn.config import IRNConfig, IRNDataConfig, IRNLossConfig
from invrestore.models.irn.losses import charbonnier_sum, latent_loss, squared_error_sum
from invrestore.models.irn.model import IRN, load_into, quantize_ste, read_state_dict
from invrestore.models.registry import MODELS, build_model, register_task
from invrestore.train.task import BaseTask, unwrap

__all__ = ["IRNTask", "bicubic_pairs", "init_from", "registered_scale", "training_losses", "validation_images"]


def _inner(model: nn.Module) -> IRN | IRNColor:
    inner = unwrap(model)
    if not isinstance(inner, (IRN, IRNColor)):
        raise TypeError(f"expected an IRN model, got {type(inner).__name__}")
    return inner


def training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: IRNLossConfig, generator: torch.Generator
) -> tuple[Tensor, dict[str, Tensor]]:
    """One IRN step's loss (``docs/irn-extensions.md``). Pure: no optimiser, no device moves, no logging.

    ``batch["x"]`` is the HR crop ``(B,3,H,W)`` and ``batch["x_lq"]`` the LR guide ``(B,c,H/s,W/s)`` (``c`` = 3,
    or 1 for IRN_color's gray image). ``model`` may be wrapped (DDP, ``torch.compile``): the forward pass goes
    through the wrapper and the inverse through the network. The metrics are detached tensors (no host sync).
    With ``cfg.y_noise_prob`` in (0, 1) the per-batch coin is read on the host (one sync per step, only in the
    noise fine-tune), so that the random stream is the one the shipped fine-tune was trained with.
    """
    x, y_bic = batch["x"], batch["x_lq"].detach()
    irn = _inner(model)
    c = irn.split  # channels of y: 3 (the LR image) or 1 (IRN_color's gray image)
    out, _ = model(x)
    y, z = out[:, :c], out[:, c:]
    if cfg.guide_loss == "l1":
        l_guide = charbonnier_sum(y, y_bic, cfg.eps)
    else:  # "l2" (IRNLossConfig admits no other value)
        l_guide = squared_error_sum(y, y_bic)
    l_ce = latent_loss(z)
    y_q = quantize_ste(y)
    if cfg.y_noise_prob > 0 and float(torch.rand((), generator=generator, device=x.device)) < cfg.y_noise_prob:
        y_q = y_q + cfg.y_noise_sigma * torch.randn(y_q.shape, generator=generator, device=x.device, dtype=x.dtype)
    z_hat = cfg.gaussian_scale * torch.randn(z.shape, generator=generator, device=x.device, dtype=x.dtype)
    x_hat, _ = irn.inverse(torch.cat([y_q, z_hat], dim=1))
    l_rec = charbonnier_sum(x, x_hat, cfg.eps)
    loss = cfg.lambda_fit * l_guide + cfg.lambda_rec * l_rec + cfg.lambda_ce * l_ce
    metrics = {"loss": loss.detach(), "l_guide": l_guide.detach(), "l_rec": l_rec.detach(), "l_ce": l_ce.detach()}
    return loss, metrics


def registered_scale(name: str) -> int:
    """The scale of the registered IRN ``name``, read from its registry entry (no model is built).

    Raises:
        ConfigError: ``name`` is not a registered IRN.
    """
    entry = MODELS.get(name)
    if entry is None or "scale" not in entry.kwargs:
        irns = [n for n, e in MODELS.items() if e.builder is IRN]
        raise ConfigError(f"model.name={name!r} is not a registered IRN; allowed: {', '.join(irns)}")
    return int(entry.kwargs["scale"])


def init_from(model: nn.Module, path: str | None) -> nn.Module:
    """Load ``path`` (our safetensors or an official release file) into ``model`` when given; returns ``model``.

    Raises:
        CheckpointError: unreadable file, or keys/shapes that do not match the model (the message lists them).
    """
    if path:
        load_into(unwrap(model), read_state_dict(path), source=str(path))
    return model


def bicubic_pairs(d: IRNDataConfig, scale: int, seed: int) -> Dataset[Any]:
    """IRN's training pairs: HR crops ``x`` and the official LR guide ``x_lq``, the MATLAB bicubic ×1/s of the
    whole (mod-cropped) image, float, not rounded, cut at the crop's place."""
    from invrestore.data import ImageFolder, PairedDataset, training_files
    from invrestore.degradations.imresize import imresize

    files = training_files(d.train_sets, d.train_folders, d.root, min_size=d.crop_size)

    def bicubic_guide(x: Tensor, g: torch.Generator) -> Tensor:
        return imresize(x, size=(x.shape[-2] // scale, x.shape[-1] // scale))

    images = ImageFolder(files, mode="rgb", cache=True)
    return PairedDataset(images, d.crop_size, bicubic_guide, scale=scale, where="whole", seed=seed, repeat=d.repeat)


def validation_images(d: IRNDataConfig) -> Iterator[Tensor]:
    """The first ``d.val_limit`` (0: all) images of ``d.val_set`` as ``(C, H, W)`` floats, read one at a time;
    grayscale files stay single-channel, so they are scored as Y like the ``irn`` protocol does (not as RGB)."""
    from invrestore.data import ImageFolder, resolve_dataset

    if d.val_set is None:
        return
    files = list(resolve_dataset(d.val_set, d.root).files)
    if d.val_limit:
        files = files[: d.val_limit]
    images = ImageFolder(files, mode="keep")
    for i in range(len(images)):
        yield images.load(i)


@register_task("irn", IRNConfig)
class IRNTask(BaseTask[IRNConfig]):
    """Trains an IRN variant with the official recipe (see :class:`~invrestore.models.irn.config.IRNConfig`);
    validation: the ``irn`` protocol's mean Y-PSNR on ``data.val_set``."""

    best_metric = "psnr_y"

    @property
    def scale(self) -> int:
        """The model's scale, from its registry entry."""
        return registered_scale(self.cfg.model.name)

    def build_model(self) -> nn.Module:
        return init_from(build_model(self.cfg.model), self.cfg.init_weights)

    def train_dataset(self) -> Dataset[Any]:
        return bicubic_pairs(self.cfg.data, self.scale, self.cfg.train.seed)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return training_losses(model, batch, self.cfg.loss, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        from invrestore.models.irn.validation import mean_scores

        rows = self.validate_per_image(model, device)
        return mean_scores(rows) if rows else {}

    def validate_per_image(self, model: nn.Module, device: torch.device) -> list[dict[str, float]]:
        """The scores of :meth:`validate` for each image of ``data.val_set``, in order (their means are
        :meth:`validate`'s; one z generator runs across the images, so the draws are the same); ``[]`` without a
        validation set."""
        from invrestore.models.irn.rescaler import IRNRescaler
        from invrestore.models.irn.validation import rescaling_image_scores

        if self.cfg.data.val_set is None:
            return []
        irn = _inner(model)
        if not isinstance(irn, IRN):
            raise ConfigError(f"family irn validates IRN models, not {type(irn).__name__} (use family: irn-color)")
        method = IRNRescaler(irn, seed=0)
        return rescaling_image_scores(validation_images(self.cfg.data), method, irn.scale, device=device)
