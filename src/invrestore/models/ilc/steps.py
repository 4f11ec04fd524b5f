"""Training steps (pure) and the training tasks of ILC (``family: ilc``) and its bls2017 teacher (``family: bls2017``).

Both tasks train with :func:`invrestore.train.fit`. The entropy models' quantile (aux) loss is added to the main
loss with a small weight (it reaches only ``quantiles``; see :class:`~invrestore.models.ilc.config.BLS2017LossConfig`);
the coding tables are built after training with ``model.eval().update()`` (:meth:`_CodecTask.finalize`), then the
weights are saved — the loop's checkpoints hold no tables. The steps return their metrics as detached tensors, so
they never wait for the device.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.entropy.codec import LearnedCodec, centered_padding, estimated_bpp, pad_centered
from invrestore.errors import CheckpointError, ConfigError
from invrestore.models.ilc.bls2017 import BLS2017
from invrestore.models.ilc.config import BLS2017Config, BLS2017LossConfig, CodecDataConfig, ILCConfig, ILCLossConfig
from invrestore.models.ilc.loading import create_codec, load_state
from invrestore.models.ilc.losses import distillation_loss, distortion_loss, latent_loss, rate_bpp
from invrestore.models.ilc.model import ILC, init_from_teacher
from invrestore.models.registry import build_model, register_task
from invrestore.train.config import OptimConfig
from invrestore.train.task import BaseTask, unwrap

__all__ = ["BLS2017Task", "ILCTask", "codec_dataset", "ilc_training_losses", "teacher_training_losses"]

C = TypeVar("C", BLS2017Config, ILCConfig)


def _psnr(mse: Tensor) -> Tensor:
    """``10·log10(1 / mse)`` of images in [0, 1] (``inf`` for ``mse = 0``), as a tensor."""
    return -10.0 * torch.log10(mse)


def _psnr_value(mse: Tensor) -> float:
    """The same as a Python float (validation)."""
    value = float(mse)
    return 10.0 * math.log10(1.0 / value) if value > 0 else float("inf")


def teacher_training_losses(
    model: nn.Module, batch: dict[str, Tensor], cfg: BLS2017LossConfig, generator: torch.Generator
) -> tuple[Tensor, dict[str, Tensor]]:
    """The bls2017 loss ``λ·255²·MSE + bpp`` (+ ``aux_weight ·`` aux loss) and its terms as detached tensors.
    Pure; ``model`` may be DDP-wrapped."""
    x = batch["x"]
    codec = unwrap(model)
    assert isinstance(codec, LearnedCodec)
    out = model(x, generator=generator)
    bpp = rate_bpp(out.likelihoods, x.shape[-2], x.shape[-1])
    mse = torch.mean((out.x_hat - x) ** 2)
    dist = distortion_loss(x, out.x_hat, cfg.lmbda)
    loss = dist + bpp
    aux = codec.aux_loss()
    if cfg.aux_weight > 0:
        loss = loss + cfg.aux_weight * aux
    metrics = {
        "loss": loss.detach(),
        "bpp": bpp.detach(),
        "distortion": dist.detach(),
        "psnr": _psnr(mse.detach()),
        "aux": aux.detach(),
    }
    return loss, metrics


def ilc_training_losses(
    model: nn.Module,
    teacher: BLS2017,
    batch: dict[str, Tensor],
    cfg: ILCLossConfig,
    generator: torch.Generator,
) -> tuple[Tensor, dict[str, Tensor]]:
    """ILC's Eq. 7 (see :class:`~invrestore.models.ilc.config.ILCLossConfig`) and its terms as detached tensors.
    Pure; ``model`` may be DDP-wrapped.

    ``teacher`` must be frozen, in eval mode and on ``batch["x"]``'s device; its analysis transform gives the
    distillation target.
    """
    x = batch["x"]
    ilc = unwrap(model)
    assert isinstance(ilc, ILC)
    h, w = x.shape[-2:]
    out = model(x, generator=generator)
    bpp = rate_bpp(out.likelihoods, h, w)
    mse = torch.mean((out.x_hat - x) ** 2)
    dist = distortion_loss(x, out.x_hat, cfg.teacher_lmbda)
    lat = latent_loss(out.z)
    with torch.no_grad():
        y_teacher = teacher.g_a(pad_centered(x, centered_padding(h, w, teacher.downsampling_factor)))
    if y_teacher.shape != out.y.shape:
        raise ConfigError(f"teacher latent {tuple(y_teacher.shape)} does not match ILC's y {tuple(out.y.shape)}")
    kd = distillation_loss(out.y, y_teacher)
    loss = cfg.lambda_distortion * dist + cfg.lambda_rate * bpp + cfg.lambda_latent * lat + cfg.lambda_distill * kd
    aux = ilc.aux_loss()
    if cfg.aux_weight > 0:
        loss = loss + cfg.aux_weight * aux
    metrics = {
        "loss": loss.detach(),
        "bpp": bpp.detach(),
        "distortion": dist.detach(),
        "psnr": _psnr(mse.detach()),
        "latent": lat.detach(),
        "distill": kd.detach(),
        "aux": aux.detach(),
    }
    return loss, metrics


def _no_degradation(x: Tensor, g: torch.Generator) -> Tensor:
    return x.new_zeros(0)


def codec_dataset(d: CodecDataConfig, seed: int) -> Dataset[Any]:
    """Random ``crop_size²`` RGB crops (with flips/transposes) of the configured images, as ``{"x": (3, c, c)}``.

    Raises:
        DatasetNotFoundError: no images, or none at least ``crop_size`` on each side.
    """
    from invrestore.data import ImageFolder, PairedDataset, training_files

    files = training_files(d.train_sets, d.train_folders, d.root, min_size=d.crop_size)
    images = ImageFolder(files, mode="rgb", cache=True)
    return PairedDataset(images, d.crop_size, _no_degradation, where="crop", seed=seed, repeat=d.repeat)


def _validate_codec(model: nn.Module, d: CodecDataConfig, lmbda: float, device: torch.device) -> dict[str, float]:
    """Mean 8-bit PSNR-RGB, estimated bpp and ``rd_score = −(λ·255²·MSE + bpp)`` of eval-mode ``forward``."""
    from invrestore.data import ImageFolder, resolve_dataset

    files = list(resolve_dataset(d.val_set, d.root).files) if d.val_set else []
    for folder in d.val_folders:
        files += ImageFolder(folder).files
    if d.val_limit:
        files = files[: d.val_limit]
    if not files:
        return {}
    codec = unwrap(model)
    images = ImageFolder(files, mode="rgb")
    psnrs, bpps, losses, nq = [], [], [], []
    for i in range(len(images)):
        x = images.load(i).unsqueeze(0).to(device)
        out = codec(x)
        x_hat = torch.round(out.x_hat.clamp(0, 1) * 255) / 255
        mse = torch.mean((x_hat - torch.round(x * 255) / 255) ** 2)
        bpp = float(estimated_bpp(out.likelihoods, x.shape[-2], x.shape[-1])[0])
        psnrs.append(_psnr_value(mse))
        bpps.append(bpp)
        losses.append(lmbda * 255.0**2 * float(mse) + bpp)
        if isinstance(codec, ILC):
            x_nq = torch.round(codec.reconstruct_unquantized(x) * 255) / 255
            nq.append(_psnr_value(torch.mean((x_nq - torch.round(x * 255) / 255) ** 2)))
    n = len(psnrs)
    res = {"psnr": sum(psnrs) / n, "bpp": sum(bpps) / n, "rd_score": -sum(losses) / n}
    if nq:
        res["psnr_nq"] = sum(nq) / n
    return res


def _split_groups(model: nn.Module, em_optim: OptimConfig | None) -> dict[str, list[nn.Parameter]]:
    params = [p for p in model.parameters() if p.requires_grad]
    if em_optim is None:
        return {"main": params}
    assert isinstance(model, LearnedCodec)
    em = {id(p) for eb in model.entropy_bottlenecks() for p in eb.parameters()}
    return {"main": [p for p in params if id(p) not in em], "em": [p for p in params if id(p) in em]}


class _CodecTask(BaseTask[C]):
    """What the teacher and ILC tasks share: the two optimiser groups, the training set, validation by
    rate–distortion score, and :meth:`finalize` (coding tables + deployable weights)."""

    best_metric = "rd_score"

    def param_groups(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        """``{"main": …}``, or ``{"main": transforms / IEM, "em": entropy model}`` when ``em_optim`` is set
        (the paper's two learning rates)."""
        return _split_groups(unwrap(model), self.cfg.em_optim)

    def optim_configs(self) -> dict[str, OptimConfig]:
        out = {"main": self.train.optim}
        if self.cfg.em_optim is not None:
            out["em"] = self.cfg.em_optim
        return out

    def train_dataset(self) -> Dataset[Any]:
        return codec_dataset(self.cfg.data, self.train.seed)

    def finalize(self, run_dir: Path) -> Path:
        """Codec weights from the run's last checkpoint: quantiles fitted, coding tables built
        (:func:`~invrestore.models.ilc.loading.finalize_codec_weights`), saved as ``run_dir/<model name>.safetensors``
        for ``invrestore compress --weights``. ``invrestore train`` calls this when training stops.

        Raises:
            CheckpointError: the run has no ``last/model.safetensors``.
        """
        from invrestore.models.ilc.loading import finalize_codec_weights

        run = Path(run_dir)
        trained = run / "last" / "model.safetensors"
        if not trained.is_file():
            raise CheckpointError(f"'{run}' has no checkpoint to finalize (expected {trained})")
        out = run / f"{self.cfg.model.name}.safetensors"
        finalize_codec_weights(self.cfg.model.name, trained, out)
        return out


@register_task("bls2017", BLS2017Config)
class BLS2017Task(_CodecTask[BLS2017Config]):
    """Trains a bls2017 teacher (see :class:`~invrestore.models.ilc.config.BLS2017Config`)."""

    def build_model(self) -> nn.Module:
        model = build_model(self.cfg.model)
        if self.cfg.init_weights:
            load_state(model, self.cfg.init_weights, what=f"'{self.name}'")
        return model

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return teacher_training_losses(model, batch, self.cfg.loss, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        return _validate_codec(model, self.cfg.data, self.cfg.loss.lmbda, device)


@register_task("ilc", ILCConfig)
class ILCTask(_CodecTask[ILCConfig]):
    """Trains an ILC from a frozen, trained bls2017 teacher (see :class:`~invrestore.models.ilc.config.ILCConfig`).

    The teacher is loaded in :meth:`build_model` (and kept out of the model, so checkpoints hold only the ILC);
    the ILC's entropy model starts from the teacher's unless ``teacher.init_entropy_model`` is false.
    """

    def __init__(self, cfg: ILCConfig) -> None:
        super().__init__(cfg)
        self._teacher: BLS2017 | None = None

    def build_teacher(self) -> BLS2017:
        """The frozen teacher in eval mode.

        Raises:
            ConfigError: no ``teacher.weights``.
            CheckpointError: the weights do not fit.
        """
        t = self.cfg.teacher
        if not t.weights:
            raise ConfigError("ILC training needs a trained teacher: set teacher.weights")
        if Path(t.weights).suffix != ".safetensors" and Path(t.weights).is_file():
            from invrestore.models.ilc.compressai import detect_compressai, load_compressai_teacher

            try:
                obj = torch.load(t.weights, map_location="cpu", weights_only=True)
            except Exception as e:
                raise CheckpointError(f"cannot read the teacher weights '{t.weights}': {e}") from e
            state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
            if isinstance(state, dict) and detect_compressai(state):  # a CompressAI bmshj2018-factorized file
                return load_compressai_teacher(state).eval().requires_grad_(False)
        teacher = create_codec(t.name)
        assert isinstance(teacher, BLS2017)  # ILCTeacherConfig checked the name
        load_state(teacher, t.weights, what=f"the teacher '{t.name}'")
        teacher.eval().requires_grad_(False)
        return teacher

    def build_model(self) -> nn.Module:
        model = build_model(self.cfg.model)
        assert isinstance(model, ILC)  # ILCModelConfig checked the name
        self._teacher = self.build_teacher()
        if model.latent_channels != self._teacher.latent_channels:
            raise ConfigError(
                f"the teacher '{self.cfg.teacher.name}' has {self._teacher.latent_channels} latent channels; "
                f"'{self.name}' codes {model.latent_channels}"
            )
        if self.cfg.teacher.init_entropy_model:
            init_from_teacher(model, self._teacher)
        if self.cfg.init_weights:
            load_state(model, self.cfg.init_weights, what=f"'{self.name}'")
        return model

    def teacher(self, device: torch.device) -> BLS2017:
        """The frozen teacher on ``device`` (built on first use)."""
        if self._teacher is None:
            self._teacher = self.build_teacher()
        self._teacher.to(device)
        return self._teacher

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, Tensor]]:
        teacher = self.teacher(batch["x"].device)
        return ilc_training_losses(model, teacher, batch, self.cfg.loss, generator)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        return _validate_codec(model, self.cfg.data, self.cfg.loss.teacher_lmbda, device)
