"""The CRM training step (pure) and its task (family ``irn-crm``), ``docs/irn-extensions.md``.

.. code-block:: none

    training (G frozen):  y_q = Quant(G(x)[:, :3]);  J = JPEG_q(y_q);  L = Σ_CHW (y_q − R(J))² / B   (only R learns)

With ``source.lr_source: bicubic`` the LR is the 8-bit MATLAB bicubic of the crop instead (the bicubic + JPEG + CRM
baseline of Fig. 9) and no IRN is run. Validation runs the test pipelines of :mod:`invrestore.models.irn.crm.pipeline`.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.degradations.jpeg import jpeg_compress
from invrestore.errors import ConfigError
from invrestore.metrics import psnr
from invrestore.models.irn.crm.config import LR_SOURCES, CRMConfig
from invrestore.models.irn.crm.pipeline import bicubic_jpeg_crm, bicubic_lr, irn_jpeg_crm
from invrestore.models.irn.losses import squared_error_sum
from invrestore.models.irn.model import IRN
from invrestore.models.registry import build_model, register_task
from invrestore.train.task import BaseTask

__all__ = ["CRMTask", "crm_loss", "registered_irn_scale"]


def _check_lr_source(lr_source: str) -> str:
    if lr_source not in LR_SOURCES:
        raise ConfigError(f"lr_source must be one of {', '.join(LR_SOURCES)}, got {lr_source!r}")
    return lr_source


def crm_loss(
    crm: nn.Module,
    irn: IRN | None,
    x: Tensor,
    quality: int = 90,
    subsampling: str = "4:2:0",
    *,
    lr_source: str = "irn",
    scale: int | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """One CRM training step's loss. Pure: no optimiser, no device moves, no logging, no host sync.

    ``y_q = Quant(G(x)[:, :3])`` with the IRN ``G`` frozen (no_grad), ``J = JPEG_quality(y_q)`` (Pillow,
    ``subsampling``), and the loss is ``Σ_CHW (y_q − R(J))² / B``; only ``crm`` (R) receives gradients.
    With ``lr_source="bicubic"`` the LR is the 8-bit MATLAB bicubic :func:`bicubic_lr` of ``x`` instead (the
    bicubic + JPEG + CRM baseline); ``irn`` may then be None.

    Args:
        crm: the restoration network R (may be wrapped in DDP).
        irn: the frozen IRN (its parameters are not touched); only needed for ``lr_source="irn"``.
        x: HR batch ``(B, 3, H, W)``; H and W multiples of the scale.
        quality: JPEG quality in 1..100.
        subsampling: JPEG chroma subsampling (``"4:2:0"`` as the official cv2 default).
        lr_source: ``"irn"`` or ``"bicubic"``.
        scale: the bicubic scale (default: ``irn.scale``).

    Returns:
        ``(loss, metrics)`` with the loss and the LR PSNRs of JPEG and of R(JPEG) (8-bit, RGB), as detached 0-d
        tensors (the loop reads them on the host every ``train.sync_every`` steps).

    Raises:
        ConfigError: unknown ``lr_source``, or a missing IRN / scale.
    """
    if _check_lr_source(lr_source) == "irn" and irn is None:
        raise ConfigError("lr_source 'irn' needs the IRN")
    with torch.no_grad():
        if lr_source == "irn":
            assert irn is not None
            y_q, _ = irn.downscale(x)
        else:
            s = scale if scale is not None else (irn.scale if irn is not None else None)
            if s is None:
                raise ConfigError("lr_source 'bicubic' needs a scale (or an IRN to take it from)")
            y_q = bicubic_lr(x, s)
        j = jpeg_compress(y_q, quality, subsampling)  # type: ignore[arg-type]
    restored = crm(j)
    loss = squared_error_sum(restored, y_q)
    with torch.no_grad():
        metrics = {
            "loss": loss.detach(),
            "psnr_lr_jpeg": psnr(j, y_q).mean(),
            "psnr_lr_crm": psnr(restored.detach(), y_q).mean(),
        }
    return loss, metrics


def registered_irn_scale(name: str, key: str = "source.irn") -> int:
    """The scale of the registered IRN ``name``, read from its registry entry (no model is built).

    Raises:
        ConfigError: ``name`` is not registered, or is not an IRN rescaling model (``key`` names the setting).
    """
    from invrestore.models.registry import MODELS, list_models

    list_models()  # imports the families
    entry = MODELS.get(name)
    if entry is None:
        raise ConfigError(f"{key}={name!r} is not a registered model; see `invrestore models`")
    if not (isinstance(entry.builder, type) and issubclass(entry.builder, IRN)):
        raise ConfigError(f"{key} '{name}' is not an IRN rescaling model")
    scale = entry.kwargs.get("scale", inspect.signature(IRN).parameters["scale"].default)
    return int(scale)


def _identity(x: Tensor, g: torch.Generator) -> Tensor:
    return x


@register_task("irn-crm", CRMConfig)
class CRMTask(BaseTask[CRMConfig]):
    """Trains a CRM for one JPEG quality with the official recipe (:class:`CRMConfig`) in the generic loop.

    The run is named ``<model>[-bicubic]-q<quality>``. The scale and the crop size are checked when the task is
    built (the registered IRN's scale is read from the registry; no network is built for it).
    """

    best_metric = "psnr_hr"

    def __init__(self, cfg: CRMConfig) -> None:
        super().__init__(cfg)
        src = cfg.source
        suffix = "-bicubic" if src.lr_source == "bicubic" else ""
        self.name = f"{cfg.model.name}{suffix}-q{cfg.jpeg.quality}"
        self._irn: IRN | None = None
        self._scale: int = src.scale if src.scale is not None else registered_irn_scale(src.irn)
        if cfg.data.crop_size % self._scale:
            raise ConfigError(
                f"data.crop_size {cfg.data.crop_size} must be a multiple of the "
                f"{'' if self.bicubic else 'IRN '}scale {self._scale}"
            )

    @property
    def bicubic(self) -> bool:
        """Whether the CRM is trained on the bicubic LR (``source.lr_source: bicubic``)."""
        return self.cfg.source.lr_source == "bicubic"

    @property
    def scale(self) -> int:
        """The rescaling factor: the IRN's, or ``source.scale`` (else the registered IRN's) for bicubic."""
        return self._scale

    def irn(self, device: torch.device | str = "cpu") -> IRN:
        """The frozen IRN (built on first use, moved to ``device``)."""
        if self._irn is None:
            from invrestore.models.irn.model import load_official_checkpoint
            from invrestore.models.registry import create_model

            src = self.cfg.source
            net = (
                load_official_checkpoint(src.irn_weights, src.irn)
                if src.irn_weights
                else create_model(src.irn, pretrained=True)
            )
            if not isinstance(net, IRN):
                raise ConfigError(f"source.irn '{src.irn}' is not an IRN rescaling model")
            net.eval().requires_grad_(False)
            self._irn = net
        if next(self._irn.parameters()).device != torch.device(device):
            self._irn = self._irn.to(device)
        return self._irn

    def build_model(self) -> nn.Module:
        model = build_model(self.cfg.model)
        if self.cfg.init_weights:
            from invrestore.models.irn.model import load_into
            from invrestore.train.checkpoint import load_weights

            load_into(model, load_weights(self.cfg.init_weights), source=self.cfg.init_weights)
        return model

    def train_dataset(self) -> Dataset[Any]:
        from invrestore.data import ImageFolder, PairedDataset, training_files

        d = self.cfg.data
        files = training_files(d.train_sets, d.train_folders, d.root, min_size=d.crop_size)
        images = ImageFolder(files, mode="rgb", cache=True)
        return PairedDataset(images, d.crop_size, _identity, where="crop", seed=self.cfg.train.seed, repeat=d.repeat)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch["x"]
        q, sub = self.cfg.jpeg.quality, self.cfg.jpeg.subsampling
        if self.bicubic:
            return crm_loss(model, None, x, q, sub, lr_source="bicubic", scale=self.scale)
        return crm_loss(model, self.irn(x.device), x, q, sub)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        from invrestore.data import ImageFolder, resolve_dataset
        from invrestore.data.datasets import modcrop

        d = self.cfg.data
        if d.val_set is None:
            return {}
        files = list(resolve_dataset(d.val_set, d.root).files)
        if d.val_limit:
            files = files[: d.val_limit]
        images = ImageFolder(files, mode="rgb")
        irn = None if self.bicubic else self.irn(device)
        s = self.scale if irn is None else irn.scale
        q, sub = self.cfg.jpeg.quality, self.cfg.jpeg.subsampling
        crm = self.unwrap(model)
        was_training = crm.training
        crm.eval()
        rows: list[dict[str, float]] = []
        for i in range(len(images)):
            x = modcrop(images.load(i), s).unsqueeze(0).to(device)
            if irn is None:
                x_hat, nbytes = bicubic_jpeg_crm(crm, x, s, q, sub)
            else:
                g = torch.Generator(device=device).manual_seed(0)
                x_hat, nbytes = irn_jpeg_crm(irn, crm, x, q, sub, g)
            rows.append({"psnr_hr": float(psnr(x_hat, x).mean()), "bpp": 8.0 * nbytes / (x.shape[-2] * x.shape[-1])})
        crm.train(was_training)
        return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
