"""pix2pix training step (pure), its optimisers and LR schedule, and a reference two-optimiser iteration.

What this family needs from the generic loop (``train/loop.py``), which :class:`Pix2PixTask` declares through its
``param_groups``/``optim_configs`` hooks:

1. Two optimisers named ``"g"`` and ``"d"`` over :meth:`Pix2Pix.param_groups` (:func:`make_optimizers`), each
   with its own scheduler (:func:`make_schedulers`; the policy is per *epoch*: call ``step()`` once per epoch,
   or use ``linear_decay_factor(step // steps_per_epoch, ...)`` with a step-based loop).
2. pix2pix's update order within one iteration: one G forward ``x̂ = G(x_lq)``; D step on
   ``discriminator_loss(D, x_lq, x, x̂.detach())``; then G step on ``generator_loss(D, x_lq, x, x̂)`` with the
   *updated* D. :func:`train_iteration` is the reference of exactly that.
3. Alternatively :func:`training_losses` returns ``{"g": …, "d": …}`` from one forward with *disjoint* gradients
   (``"d"`` reaches only D, ``"g"`` only G), so ``(g + d).backward()`` followed by stepping both optimisers is a
   valid *simultaneous* update (it differs from pix2pix only in that G's adversarial term sees D before D's step).
4. No gradient clipping, no weight decay, no EMA (pix2pix has none); batch 1 by default.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from invrestore.models.pix2pix.config import GANLossConfig, Pix2PixConfig, Pix2PixOptimConfig
from invrestore.models.pix2pix.losses import discriminator_loss, generator_loss
from invrestore.models.pix2pix.model import Pix2Pix
from invrestore.models.registry import build_model, register_task
from invrestore.train.config import FAST_SETTINGS, OptimConfig
from invrestore.train.task import BaseTask, unwrap

__all__ = [
    "Pix2PixTask",
    "build_pix2pix",
    "linear_decay_factor",
    "make_optimizers",
    "make_schedulers",
    "to_model_range",
    "train_iteration",
    "training_losses",
]


def to_model_range(x: Tensor) -> Tensor:
    """[0, 1] -> [−1, 1] (pix2pix's ``Normalize(0.5, 0.5)``)."""
    return x * 2.0 - 1.0


def build_pix2pix(cfg: Pix2PixConfig) -> Pix2Pix:
    """Generator + PatchGAN discriminator through the registry (``build_model(cfg.model)``,
    ``build_model(cfg.discriminator)``), both with pix2pix initialisation."""
    return Pix2Pix(build_model(cfg.model), build_model(cfg.discriminator))


def _pix2pix(model: nn.Module) -> Pix2Pix:
    """The :class:`Pix2Pix` pair inside DDP/compile wrappers."""
    inner = unwrap(model)
    if not isinstance(inner, Pix2Pix):
        raise TypeError(f"expected a Pix2Pix model, got {type(inner).__name__}")
    return inner


def training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: GANLossConfig
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """One pix2pix step's named losses from a single G forward. Pure: no optimiser, no device moves, no logging,
    no host sync (the metrics are detached tensors).

    ``batch["x_lq"]`` (condition) and ``batch["x"]`` (target) are ``(B,C,H,W)`` in [0, 1] with sides multiples of
    ``2^N``; both are mapped to [−1, 1] here.

    Returns:
        ``({"g": L_G, "d": L_D}, metrics)``; ``"d"`` has gradients only in D, ``"g"`` only in G (see module doc).
    """
    p2p = _pix2pix(model)
    cond, x = to_model_range(batch["x_lq"]), to_model_range(batch["x"])
    x_hat = p2p.generator(cond)
    d_loss, d_metrics = discriminator_loss(p2p.discriminator, cond, x, x_hat, cfg.gan_mode)
    g_loss, g_metrics = generator_loss(p2p.discriminator, cond, x, x_hat, cfg.gan_mode, cfg.lambda_l1)
    return {"g": g_loss, "d": d_loss}, {**d_metrics, **g_metrics}


def make_optimizers(model: nn.Module, cfg: Pix2PixOptimConfig) -> dict[str, torch.optim.Optimizer]:
    """``{"g": Adam(G), "d": Adam(D)}`` with pix2pix's lr 2e-4, β = (0.5, 0.999), no weight decay."""
    groups = _pix2pix(model).param_groups()
    return {
        name: torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        for name, params in groups.items()
    }


def linear_decay_factor(epoch: int, n_epochs: int = 100, n_epochs_decay: int = 100, epoch_count: int = 1) -> float:
    """pix2pix's ``linear`` LR policy as a multiplier of the base LR.

    ``factor(e) = 1 − max(0, e + epoch_count − n_epochs) / (n_epochs_decay + 1)`` where ``e`` is the number of
    scheduler steps taken (``LambdaLR``'s 0-based epoch). With the defaults: epochs ``e = 0..99`` train at the
    full LR, then ``e = 100`` at 100/101, …, ``e = 199`` at 1/101 (the last of the 200 epochs; it reaches 0 only at
    ``e = 200``, after training). ``epoch_count`` is pix2pix's starting epoch (for resumed runs).
    """
    return 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1)


def make_schedulers(optimizers: dict[str, torch.optim.Optimizer], cfg: Pix2PixOptimConfig) -> dict[str, LambdaLR]:
    """One :class:`LambdaLR` per optimiser with :func:`linear_decay_factor`; ``step()`` once per epoch."""

    def factor(e: int) -> float:
        return linear_decay_factor(e, cfg.n_epochs, cfg.n_epochs_decay, cfg.epoch_count)

    return {name: LambdaLR(opt, factor) for name, opt in optimizers.items()}


def train_iteration(
    model: nn.Module,
    batch: dict[str, Tensor],
    cfg: GANLossConfig,
    optimizers: dict[str, torch.optim.Optimizer],
) -> dict[str, float]:
    """Reference of one pix2pix iteration (``optimize_parameters``): G forward, D step, then G step with the
    updated D. Not pure (it steps the optimisers); it documents what a two-optimiser loop must do.

    Returns:
        the metrics of both losses (``d_real``, ``d_fake``, ``d``, ``g_gan``, ``g_l1``, ``g``).
    """
    p2p = _pix2pix(model)
    cond, x = to_model_range(batch["x_lq"]), to_model_range(batch["x"])
    x_hat = p2p.generator(cond)
    optimizers["d"].zero_grad(set_to_none=True)
    d_loss, d_metrics = discriminator_loss(p2p.discriminator, cond, x, x_hat, cfg.gan_mode)
    d_loss.backward()
    optimizers["d"].step()
    optimizers["g"].zero_grad(set_to_none=True)
    g_loss, g_metrics = generator_loss(p2p.discriminator, cond, x, x_hat, cfg.gan_mode, cfg.lambda_l1)
    g_loss.backward()
    optimizers["g"].step()
    return {k: float(v) for k, v in {**d_metrics, **g_metrics}.items()}


@register_task("pix2pix", Pix2PixConfig)
class Pix2PixTask(BaseTask[Pix2PixConfig]):
    """Trains a pix2pix-family model through :func:`invrestore.train.loop.fit` with two named optimisers.

    The loop back-propagates ``L_G + L_D`` once: each loss only reaches its own network (see
    :func:`training_losses`), so this is a simultaneous D/G update from one generator pass (pix2pix itself updates D
    first and then G against the updated D; :func:`train_iteration` keeps that order for reference). Both optimisers
    use Adam(lr, β = (0.5, 0.999)), no weight decay, no clipping, constant then linear decay to 0 over the last
    ``n_epochs_decay / (n_epochs + n_epochs_decay)`` of ``train.steps``. The run is named after its generator
    (``pix2pix-unet-5``).
    """

    best_metric = "psnr"
    sync_gradients = "allreduce"  # the step calls G and D directly: the loop all-reduces gradients, no DDP wrapper
    # --fast: no device-resident data, which needs a PairedDataset (real paired sets such as Rain800 are not one)
    fast_settings = tuple(s for s in FAST_SETTINGS if not s.startswith("train.device_resident"))

    def __init__(self, cfg: Pix2PixConfig) -> None:
        super().__init__(cfg)
        self.name = f"pix2pix-{cfg.model.arch}-{cfg.model.depth}"

    def build_model(self) -> nn.Module:
        return build_pix2pix(self.cfg)

    def param_groups(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        return {k: list(v) for k, v in _pix2pix(model).param_groups().items()}

    def optim_configs(self) -> dict[str, OptimConfig]:
        o = self.cfg.optim
        decay_start = self.train.steps * o.n_epochs // max(1, o.n_epochs + o.n_epochs_decay)
        oc = OptimConfig(
            lr=o.lr,
            betas=o.betas,
            weight_decay=o.weight_decay,
            grad_clip=0.0,
            schedule="linear",
            decay_start=decay_start,
        )
        return {"g": oc, "d": oc}

    def degradation(self) -> Any:
        d = self.cfg.data
        if d.task == "derain":
            from invrestore.degradations.rain import Rain

            return Rain()
        if d.task == "dehaze":
            from invrestore.degradations.haze import Haze

            return Haze()
        from invrestore.degradations.noise import GaussianNoise  # data.task == "denoise" (checked by the config)

        noise = GaussianNoise(d.sigma)
        return lambda x, g: noise(x, g).clamp(0, 1)

    def paired_split(self, split: str, train: bool) -> Any:
        """The real paired dataset of ``data.paired`` for ``split`` (``None`` for ``folders`` without validation
        folders); training sets get random ``crop_size`` crops and (``data.flip``) horizontal flips."""
        from invrestore.data import PairedFolders, paired_dataset, resolve_data_root

        d = self.cfg.data
        opts: dict[str, Any] = {"seed": self.train.seed}
        if train:
            opts.update(crop_size=self.cfg.crop_size, flip=d.flip)
        if d.paired == "folders":
            dirs = (d.degraded_dir, d.clean_dir) if split == "train" else (d.val_degraded_dir, d.val_clean_dir)
            if not dirs[0] or not dirs[1]:
                return None
            match: Any = d.match
            return PairedFolders(dirs[0], dirs[1], match=match, name="paired folders", split=split, **opts)
        assert d.paired is not None
        if d.paired in ("rain800", "rain1200") and d.degraded_half is not None:
            opts["degraded_half"] = d.degraded_half
        if d.paired == "outdoorrain":
            opts["split_seed"] = d.split_seed
        root = d.paired_root if d.paired_root is not None else resolve_data_root(d.root)
        return paired_dataset(d.paired, root, split, **opts)

    def train_dataset(self) -> Any:
        from invrestore.data import ImageFolder, PairedDataset, training_files

        d = self.cfg.data
        if d.paired is not None:
            return self.paired_split("train", train=True)
        files = training_files(d.train_sets, d.train_folders, d.root, min_size=self.cfg.crop_size)
        images = ImageFolder(files, mode="rgb", cache=True)
        return PairedDataset(images, self.cfg.crop_size, self.degradation(), where="crop", seed=self.train.seed)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        return training_losses(model, batch, self.cfg.loss)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        from invrestore.data import ImageFolder, resolve_dataset
        from invrestore.metrics import psnr, ssim
        from invrestore.models.pix2pix.model import restore

        d = self.cfg.data
        if d.paired is not None:
            return self._validate_paired(model, device)
        if d.val_set is None:
            return {}
        files = list(resolve_dataset(d.val_set, d.root).files)[: d.val_limit or None]
        images = ImageFolder(files, mode="rgb")
        degrade = self.degradation()
        p, s, p_in = [], [], []
        for i in range(len(images)):
            x = images.load(i).to(device)
            x_lq = degrade(x, torch.Generator(device=device).manual_seed(i))
            x_hat = restore(_pix2pix(model).generator, x_lq, eval_mode=self.cfg.eval_mode).clamp(0, 1)
            p.append(float(psnr(x_hat, x)))
            s.append(float(ssim(x_hat, x)))
            p_in.append(float(psnr(x_lq.clamp(0, 1), x)))
        return {"psnr": sum(p) / len(p), "ssim": sum(s) / len(s), "psnr_in": sum(p_in) / len(p_in)}

    def _validate_paired(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Mean PSNR/SSIM of the restored full images of the paired test split (first ``val_limit``)."""
        from invrestore.metrics import psnr, ssim
        from invrestore.models.pix2pix.model import restore

        ds = self.paired_split("test", train=False)
        if ds is None:
            return {}
        n = min(ds.num_pairs(), self.cfg.data.val_limit) if self.cfg.data.val_limit else ds.num_pairs()
        p, s, p_in = [], [], []
        for i in range(n):
            item = ds[i]
            x, x_lq = item["x"].to(device), item["x_lq"].to(device)
            x_hat = restore(_pix2pix(model).generator, x_lq, eval_mode=self.cfg.eval_mode).clamp(0, 1)
            p.append(float(psnr(x_hat, x)))
            s.append(float(ssim(x_hat, x)))
            p_in.append(float(psnr(x_lq.clamp(0, 1), x)))
        return {"psnr": sum(p) / len(p), "ssim": sum(s) / len(s), "psnr_in": sum(p_in) / len(p_in)} if p else {}
