"""The IRN training step (pure) and the :class:`~invrestore.train.loop.Task` that plugs IRN into the loop."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.models.irn.color import IRNColor, color_metrics
from invrestore.models.irn.config import IRNConfig, IRNLossConfig
from invrestore.models.irn.losses import charbonnier_sum, latent_loss, squared_error_sum
from invrestore.models.irn.model import IRN, quantize_ste

__all__ = ["IRNTask", "training_losses"]


def _unwrap(model: nn.Module) -> IRN | IRNColor:
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if not isinstance(inner, (IRN, IRNColor)):
        raise TypeError(f"expected an IRN model, got {type(inner).__name__}")
    return inner


def training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: IRNLossConfig, generator: torch.Generator
) -> tuple[Tensor, dict[str, float]]:
    """One IRN step's loss (``docs/irn-extensions.md``). Pure: no optimiser, no device moves, no logging.

    ``batch["x"]`` is the HR crop ``(B,3,H,W)`` and ``batch["x_lq"]`` the bicubic LR guide ``(B,3,H/s,W/s)``.
    ``model`` may be wrapped in DDP: the forward pass goes through the wrapper and the inverse through the IRN.
    """
    x, y_bic = batch["x"], batch["x_lq"].detach()
    irn = _unwrap(model)
    c = irn.split  # channels of y: 3 (the LR image) or 1 (IRN_color's gray image)
    out, _ = model(x)
    y, z = out[:, :c], out[:, c:]
    if cfg.guide_loss == "l2":
        l_guide = squared_error_sum(y, y_bic)
    elif cfg.guide_loss == "l1":
        l_guide = charbonnier_sum(y, y_bic, cfg.eps)
    else:
        raise ValueError(f"guide_loss must be 'l2' or 'l1', not {cfg.guide_loss!r}")
    l_ce = latent_loss(z)
    y_q = quantize_ste(y)
    if cfg.y_noise_prob > 0 and float(torch.rand((), generator=generator, device=x.device)) < cfg.y_noise_prob:
        y_q = y_q + cfg.y_noise_sigma * torch.randn(y_q.shape, generator=generator, device=x.device, dtype=x.dtype)
    z_hat = cfg.gaussian_scale * torch.randn(z.shape, generator=generator, device=x.device, dtype=x.dtype)
    x_hat, _ = irn.inverse(torch.cat([y_q, z_hat], dim=1))
    l_rec = charbonnier_sum(x, x_hat, cfg.eps)
    loss = cfg.lambda_fit * l_guide + cfg.lambda_rec * l_rec + cfg.lambda_ce * l_ce
    metrics = {
        "loss": float(loss.detach()),
        "l_guide": float(l_guide.detach()),
        "l_rec": float(l_rec.detach()),
        "l_ce": float(l_ce.detach()),
    }
    return loss, metrics


class IRNTask:
    """Trains an IRN variant with the official recipe (see :class:`~invrestore.models.irn.config.IRNConfig`)."""

    def __init__(self, cfg: IRNConfig) -> None:
        self.cfg = cfg
        self.train = cfg.train
        self.name = cfg.model.name
        self.best_metric = "psnr_rgb" if cfg.data.guide == "luma" else "psnr_y"  # paper: colour in RGB

    def config(self) -> Any:
        return self.cfg

    def build_model(self) -> nn.Module:
        from invrestore.models.registry import create_model

        model = create_model(self.cfg.model.name, memory_efficient=self.cfg.model.memory_efficient)
        if self.cfg.model.init_weights:
            from invrestore.models.irn.model import load_official_checkpoint

            init = load_official_checkpoint(self.cfg.model.init_weights, self.cfg.model.name)
            model.load_state_dict(init.state_dict())
        return model

    @property
    def scale(self) -> int:
        from invrestore.models.registry import create_model

        m = create_model(self.cfg.model.name)
        assert isinstance(m, (IRN, IRNColor))
        return m.scale

    def train_dataset(self) -> Dataset[Any]:
        from invrestore.data import ImageFolder, PairedDataset, training_files
        from invrestore.degradations.imresize import imresize

        d = self.cfg.data
        s = self.scale
        files = training_files(d.train_sets, d.train_folders, d.root, min_size=d.crop_size)

        def bicubic_guide(x: Tensor, g: torch.Generator) -> Tensor:
            # the official LR guide: MATLAB bicubic of the whole (mod-cropped) image, float, not rounded
            return imresize(x, size=(x.shape[-2] // s, x.shape[-1] // s))

        images = ImageFolder(files, mode="rgb", cache=True)
        if d.guide == "luma":
            from invrestore.color import rgb_to_luma_bt601

            def luma_guide(x: Tensor, g: torch.Generator) -> Tensor:
                return rgb_to_luma_bt601(x)  # IRN_color: cv2 BGR2GRAY of the float crop

            return PairedDataset(
                images, d.crop_size, luma_guide, where="crop", seed=self.cfg.train.seed, repeat=d.repeat
            )
        if d.guide != "bicubic":
            raise ValueError(f"data.guide must be 'bicubic' or 'luma', not {d.guide!r}")
        ds = PairedDataset(
            images,
            d.crop_size,
            bicubic_guide,
            scale=s,
            where="whole",
            seed=self.cfg.train.seed,
            repeat=d.repeat,
        )
        return ds

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float]]:
        return training_losses(model, batch, self.cfg.loss, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        from invrestore.data import ImageFolder, resolve_dataset
        from invrestore.evaluation import evaluate_dataset
        from invrestore.models.irn.rescaler import IRNRescaler

        d = self.cfg.data
        if d.val_set is None:
            return {}
        files = list(resolve_dataset(d.val_set, d.root).files)
        if d.val_limit:
            files = files[: d.val_limit]
        images = ImageFolder(files, mode="rgb")
        irn = _unwrap(model)
        if isinstance(irn, IRNColor):
            rows = [color_metrics(irn, images.load(i).unsqueeze(0).to(device)) for i in range(len(images))]
            return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        method = IRNRescaler(irn, seed=0)
        res = evaluate_dataset(
            ((images.files[i].stem, images.load(i)) for i in range(len(images))),
            method,
            irn.scale,
            "irn",
            device=device,
        )
        return {k: float(v) for k, v in res.means.items() if v is not None}
