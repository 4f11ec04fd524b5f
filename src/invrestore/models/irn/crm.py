"""IRN + JPEG: the compression-restoration module (CRM) that undoes JPEG artefacts on IRN's LR image.

Paper: Xiao et al., "Invertible Rescaling Network and Its Extensions", IJCV 2022, §3.5/§4.4 (Fig. 9). Official code:
``RRDB.py`` + ``IRN_model_CRM.py`` with ``only_jpeg_reconstruction: True`` (``docs/irn.md``).

.. code-block:: none

    training (G frozen):  y_q = Quant(G(x)[:, :3]);  J = JPEG_q(y_q);  L = Σ_CHW (y_q − R(J))² / B   (only R learns)
    test:                 x̂ = G⁻¹(cat(Quant(R(JPEG_q(y_q))), z)),  z ~ N(0, I);
                          bpp = 8·|JPEG bytes of y_q| / (H_HR·W_HR)

``R`` is :class:`CRM`, ESRGAN's RRDBNet without upsampling: ``RRDBNet(in 3, out 3, nf 64, nb 8, gc 32)``,
5,795,843 parameters. JPEG here is Pillow (libjpeg-turbo, IJG quality scale) with **explicit** chroma subsampling,
default 4:2:0 — the official code uses cv2's ``imencode`` defaults, which are also 4:2:0 and give byte-identical
files. One CRM is trained per JPEG quality (q90 in the official yml). Register: ``crm-rrdb8`` (family ``irn``).

For the "Bicubic + JPEG + CRM" baseline of Fig. 9 the same network is trained on the 8-bit MATLAB-bicubic LR
instead of IRN's (``model.lr_source: bicubic``); :func:`bicubic_jpeg_crm` is its test pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from invrestore.errors import CheckpointError, ConfigError
from invrestore.models.irn.config import IRNDataConfig
from invrestore.models.irn.losses import squared_error_sum
from invrestore.models.irn.model import IRN
from invrestore.models.registry import register_model
from invrestore.nn.subnets import DenseBlock
from invrestore.train.config import OptimConfig, TrainConfig

__all__ = [
    "CRM",
    "LR_SOURCES",
    "RRDB",
    "CRMConfig",
    "CRMJPEGConfig",
    "CRMModelConfig",
    "CRMTask",
    "JPEGStore",
    "ResidualDenseBlock",
    "bicubic_jpeg_crm",
    "bicubic_lr",
    "crm_loss",
    "irn_jpeg_crm",
    "jpeg_crm",
    "load_crm",
]

#: Where the LR image that the CRM restores comes from: IRN's forward pass or MATLAB bicubic.
LR_SOURCES: tuple[str, ...] = ("irn", "bicubic")

#: Called with ``(index in the batch, JPEG bytes)``; returns the bytes to decode (e.g. written and read back).
JPEGStore = Callable[[int, bytes], bytes]


# -- architecture ---------------------------------------------------------------------------------------------------
class ResidualDenseBlock(nn.Module):
    """ESRGAN's ``ResidualDenseBlock_5C``: ``x + 0.2 · DenseBlock(x)`` with ``nf → nf`` channels.

    Official initialisation (``RRDB.py``): conv1–4 ``kaiming_normal_(fan_in) × 0.1`` with zero bias, conv5 zero.
    The convs keep the official names ``conv1`` … ``conv5`` so official state dicts load.

    Args:
        nf: feature channels.
        gc: growth channels.
    """

    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        body = DenseBlock(nf, nf, gc=gc)
        self.conv1, self.conv2, self.conv3, self.conv4, self.conv5 = (
            body.conv1,
            body.conv2,
            body.conv3,
            body.conv4,
            body.conv5,
        )
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            with torch.no_grad():
                conv.weight.mul_(0.1)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.conv5.weight)
        if self.conv5.bias is not None:
            nn.init.zeros_(self.conv5.bias)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three :class:`ResidualDenseBlock` then ``0.2 · out + x``."""

    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.RDB1 = ResidualDenseBlock(nf, gc)
        self.RDB2 = ResidualDenseBlock(nf, gc)
        self.RDB3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: Tensor) -> Tensor:
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class CRM(nn.Module):
    """The compression-restoration module: RRDBNet without upsampling, ``(B, 3, h, w) -> (B, 3, h, w)``.

    ``fea = conv_first(x); fea = fea + trunk_conv(RRDB×nb(fea)); out = conv_last(fea)``; no input-to-output skip.
    ``conv_first``, ``trunk_conv`` and ``conv_last`` keep PyTorch's default initialisation (as the official code).
    Parameter names follow the official ``RRDBNet`` (``conv_first``, ``RRDB_trunk.k.RDBj.convi``, ``trunk_conv``,
    ``conv_last``). With the defaults: 5,795,843 parameters.

    Args:
        in_nc: input channels.
        out_nc: output channels.
        nf: feature channels.
        nb: number of RRDBs.
        gc: growth channels.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 8, gc: int = 32) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1, bias=True)
        self.RRDB_trunk = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb)])
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv_last = nn.Conv2d(nf, out_nc, 3, 1, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.RRDB_trunk(fea))
        out: Tensor = self.conv_last(fea)
        return out


@register_model("crm-rrdb8", "irn", "IRN CRM: RRDBNet(3, 3, nf 64, nb 8, gc 32) JPEG restoration of the LR (5,795,843)")
def crm_rrdb8(**kw: Any) -> CRM:
    return CRM(**kw)


# the same architecture with shipped weights
register_model(
    "crm-q90",
    "irn",
    "CRM for JPEG q90 (4:2:0) of an IRN ×2 LR (trained behind irn-x2-noise, best with irn-x2; 5,795,843 parameters)",
    pretrained="crm-q90.safetensors",
    task="JPEG q90 of the irn-x2 / irn-x2-noise LR",
)(crm_rrdb8)


#: Each shipped CRM: its JPEG quality and the IRNs it was measured to help, the one it was trained behind first.
#: crm-q90 was trained behind irn-x2-noise but helps the plain irn-x2 more (Kodak24 q90: 28.59 → 29.16 dB, against
#: 27.76 → 28.25 behind irn-x2-noise; see its model card).
SHIPPED_CRMS: dict[str, tuple[int, tuple[str, ...]]] = {"crm-q90": (90, ("irn-x2-noise", "irn-x2"))}


def load_crm(path: str | Path) -> CRM:
    """A :class:`CRM` with the weights of ``path``, its size (``nf``, ``nb``, ``gc``, channels) read from the keys.

    ``path`` is a safetensors file or a torch ``.pth`` (official ``RRDBNet`` state dicts, ``module.``-prefixed or
    wrapped ones too), a training checkpoint folder holding ``model.safetensors``, or the name of a shipped CRM
    (``crm-q90``; a file of that name in the current folder wins). Returned in eval mode.

    Raises:
        CheckpointError: missing or unreadable file, or weights that are not those of a CRM (RRDBNet).
    """
    from invrestore.models.irn.model import _unwrap_state_dict, load_into
    from invrestore.train.checkpoint import load_weights

    src = Path(path)
    if not src.exists() and str(path) in SHIPPED_CRMS:
        from invrestore.models.registry import create_model

        shipped = create_model(str(path), pretrained=True)
        assert isinstance(shipped, CRM)
        return shipped.eval()
    if src.is_dir() and (src / "model.safetensors").is_file():
        src = src / "model.safetensors"
    sd = load_weights(src)
    if src.suffix != ".safetensors":
        try:
            sd = _unwrap_state_dict(sd)
        except CheckpointError as e:
            raise CheckpointError(f"'{path}': {e}") from e
    needed = ("conv_first.weight", "trunk_conv.weight", "conv_last.weight", "RRDB_trunk.0.RDB1.conv1.weight")
    if any(k not in sd or sd[k].ndim != 4 for k in needed):
        keys = ", ".join(list(sd)[:4]) or "none"
        raise CheckpointError(f"'{path}' does not hold CRM (RRDBNet) weights (first keys: {keys})")
    nb = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("RRDB_trunk.") and k.split(".")[1].isdigit())
    nf, in_nc = sd["conv_first.weight"].shape[:2]
    gc = sd["RRDB_trunk.0.RDB1.conv1.weight"].shape[0]
    out_nc = sd["conv_last.weight"].shape[0]
    crm = CRM(in_nc=int(in_nc), out_nc=int(out_nc), nf=int(nf), nb=nb, gc=int(gc))
    load_into(crm, sd, source=f"'{path}'")
    return crm.eval()


# -- loss and test pipeline -----------------------------------------------------------------------------------------
def _check_lr_source(lr_source: str) -> str:
    if lr_source not in LR_SOURCES:
        raise ConfigError(f"lr_source must be one of {', '.join(LR_SOURCES)}, got {lr_source!r}")
    return lr_source


def bicubic_lr(x: Tensor, scale: int) -> Tensor:
    """The 8-bit MATLAB-bicubic LR of ``x`` ``(B, C, H, W)`` (H, W multiples of ``scale``): ``k / 255`` values.

    MATLAB ``imresize(·, 1/s, 'bicubic')`` with antialiasing
    (:class:`~invrestore.degradations.rescaling.BicubicMethod`), then round half up to 8 bits as
    :func:`invrestore.io.to_uint8` (the LR file ``bench codecs`` encodes). Same dtype.
    """
    from invrestore.degradations.rescaling import BicubicMethod

    lr = BicubicMethod().downscale(x, scale)
    return (torch.floor(lr.to(torch.float64).clamp(0, 1) * 255.0 + 0.5) / 255.0).to(x.dtype)


def crm_loss(
    crm: nn.Module,
    irn: IRN | None,
    x: Tensor,
    quality: int = 90,
    subsampling: str = "4:2:0",
    *,
    lr_source: str = "irn",
    scale: int | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """One CRM training step's loss (``docs/irn-extensions.md``). Pure: no optimiser, no device moves, no logging.

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
        ``(loss, metrics)`` with the loss and the LR PSNRs of JPEG and of R(JPEG) (8-bit, RGB).

    Raises:
        ConfigError: unknown ``lr_source``, or a missing IRN / scale.
    """
    from invrestore.degradations.jpeg import jpeg_compress
    from invrestore.metrics import psnr

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
            "loss": float(loss.detach()),
            "psnr_lr_jpeg": float(psnr(j, y_q).mean()),
            "psnr_lr_crm": float(psnr(restored.detach(), y_q).mean()),
        }
    return loss, metrics


def jpeg_crm(
    crm: nn.Module | None,
    y_q: Tensor,
    quality: int,
    subsampling: str = "4:2:0",
    store: JPEGStore | None = None,
) -> tuple[Tensor, int]:
    """The coded part of every test pipeline: each 8-bit LR of ``y_q`` → JPEG → decode → ``R`` → ``Quant``.

    ``y_q`` is ``(B, C, h, w)`` in [0, 1]; each image is encoded alone (Pillow, ``quality``, ``subsampling``), the
    bytes go through ``store`` (e.g. written to a file and read back) and are counted, then decoded. ``R`` and the
    8-bit quantisation are skipped when ``crm`` is None (plain JPEG). Runs under no_grad.

    Returns:
        ``(restored LR (B, C, h, w) on y_q's device and dtype, total bytes)``.
    """
    from invrestore.degradations.jpeg import jpeg_decode, jpeg_encode
    from invrestore.models.irn.model import quantize_ste

    with torch.no_grad():
        outs, total = [], 0
        for i, yi in enumerate(y_q):
            data = jpeg_encode(yi, quality, subsampling)  # type: ignore[arg-type]
            if store is not None:
                data = store(i, data)
            total += len(data)
            outs.append(jpeg_decode(data, channels=yi.shape[0]).to(y_q))
        j = torch.stack(outs)
        r = quantize_ste(crm(j)) if crm is not None else j
    return r, total


def irn_jpeg_crm(
    irn: IRN,
    crm: nn.Module | None,
    x: Tensor,
    quality: int,
    subsampling: str = "4:2:0",
    generator: torch.Generator | None = None,
    z_mode: str = "random",
    store: JPEGStore | None = None,
) -> tuple[Tensor, int]:
    """The test pipeline of IRN + JPEG (+ CRM) for one batch: ``(x̂, total JPEG bytes)``.

    ``y_q = Quant(G(x)[:, :3])`` → JPEG bytes (counted) → decode → ``R`` (skipped when ``crm`` is None) →
    ``Quant`` → ``G⁻¹(cat(·, z))`` with ``z ~ N(0, I)`` from ``generator`` (or zeros for ``z_mode="zero"``).
    bpp is ``8 · bytes / (H·W)`` of the HR image (per image when B = 1). ``store``: see :func:`jpeg_crm`.
    """
    with torch.no_grad():
        y_q, _ = irn.downscale(x)
        r, total = jpeg_crm(crm, y_q, quality, subsampling, store)
        x_hat = irn.upscale(r, z_mode=z_mode, generator=generator)  # type: ignore[arg-type]
    return x_hat, total


def bicubic_jpeg_crm(
    crm: nn.Module | None,
    x: Tensor,
    scale: int,
    quality: int,
    subsampling: str = "4:2:0",
    store: JPEGStore | None = None,
) -> tuple[Tensor, int]:
    """The test pipeline of bicubic + JPEG (+ CRM) for one batch: ``(x̂, total JPEG bytes)``.

    The 8-bit MATLAB-bicubic LR (:func:`bicubic_lr`) → JPEG → decode → ``R`` → ``Quant`` (:func:`jpeg_crm`; no
    ``R`` when ``crm`` is None) → MATLAB bicubic up by ``scale``.
    """
    from invrestore.degradations.rescaling import BicubicMethod

    with torch.no_grad():
        r, total = jpeg_crm(crm, bicubic_lr(x, scale), quality, subsampling, store)
        x_hat = BicubicMethod().upscale(r, scale)
    return x_hat, total


# -- training config and task ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CRMModelConfig:
    """The frozen IRN and the CRM.

    Attributes:
        irn: registered IRN the CRM serves (the official one: the noise-fine-tuned IRN ×2).
        irn_weights: weights of that IRN (``None``: its shipped weights).
        name: registered CRM (``crm-rrdb8``).
        init_weights: start the CRM from these weights (e.g. the q90 CRM for another quality).
        lr_source: the LR the CRM restores: ``"irn"`` (IRN's 8-bit LR, the paper's CRM) or ``"bicubic"`` (the
            8-bit MATLAB-bicubic LR of the crop, for the bicubic + JPEG + CRM baseline; the IRN is not run).
        scale: the bicubic scale (``lr_source: bicubic`` only; ``None``: the scale of the registered ``irn``).
    """

    irn: str = "irn-x2"
    irn_weights: str | None = None
    name: str = "crm-rrdb8"
    init_weights: str | None = None
    lr_source: str = "irn"
    scale: int | None = None


@dataclass(frozen=True)
class CRMJPEGConfig:
    """The JPEG that the CRM undoes (Pillow, IJG quality scale)."""

    quality: int = 90
    subsampling: str = "4:2:0"


@dataclass(frozen=True)
class CRMConfig:
    """A whole CRM experiment (family ``irn-crm``)."""

    family: str = "irn-crm"
    model: CRMModelConfig = field(default_factory=CRMModelConfig)
    jpeg: CRMJPEGConfig = field(default_factory=CRMJPEGConfig)
    data: IRNDataConfig = field(default_factory=IRNDataConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=50_000,
            optim=OptimConfig(weight_decay=0.0, milestones=(10_000, 20_000, 30_000, 40_000)),
        )
    )


def _identity(x: Tensor, g: torch.Generator) -> Tensor:
    return x


class CRMTask:
    """Trains a CRM for one JPEG quality with the official recipe (:class:`CRMConfig`) in the generic loop."""

    def __init__(self, cfg: CRMConfig) -> None:
        if not 1 <= cfg.jpeg.quality <= 100:
            raise ConfigError(f"jpeg.quality must be in 1..100, got {cfg.jpeg.quality}")
        m = cfg.model
        if m.lr_source not in LR_SOURCES:
            raise ConfigError(f"model.lr_source must be one of {', '.join(LR_SOURCES)}, got {m.lr_source!r}")
        if m.scale is not None and m.lr_source != "bicubic":
            raise ConfigError("model.scale is only for lr_source: bicubic (the IRN sets its own scale); leave it null")
        if m.scale is not None and m.scale < 1:
            raise ConfigError(f"model.scale must be a positive integer, got {m.scale}")
        self.cfg = cfg
        self.train = cfg.train
        source = "-bicubic" if m.lr_source == "bicubic" else ""
        self.name = f"{m.name}{source}-q{cfg.jpeg.quality}"
        self.best_metric = "psnr_hr"
        self._irn: IRN | None = None
        self._scale: int | None = m.scale

    @property
    def bicubic(self) -> bool:
        """Whether the CRM is trained on the bicubic LR (``model.lr_source: bicubic``)."""
        return self.cfg.model.lr_source == "bicubic"

    @property
    def scale(self) -> int:
        """The rescaling factor: the IRN's, or ``model.scale`` (else the registered IRN's) for bicubic."""
        if not self.bicubic:
            return (self._irn if self._irn is not None else self.irn()).scale  # never moves the IRN
        if self._scale is None:
            from invrestore.models.registry import create_model

            net = create_model(self.cfg.model.irn)  # only its scale: no weights needed
            if not isinstance(net, IRN):
                raise ConfigError(f"model.irn '{self.cfg.model.irn}' is not an IRN rescaling model")
            self._scale = net.scale
        return self._scale

    def config(self) -> Any:
        return self.cfg

    def irn(self, device: torch.device | str = "cpu") -> IRN:
        """The frozen IRN (built on first use, moved to ``device``)."""
        if self._irn is None:
            from invrestore.models.irn.model import load_official_checkpoint
            from invrestore.models.registry import create_model

            m = self.cfg.model
            net = (
                load_official_checkpoint(m.irn_weights, m.irn)
                if m.irn_weights
                else create_model(m.irn, pretrained=True)
            )
            if not isinstance(net, IRN):
                raise ConfigError(f"model.irn '{m.irn}' is not an IRN rescaling model")
            net.eval().requires_grad_(False)
            self._irn = net
        if next(self._irn.parameters()).device != torch.device(device):
            self._irn = self._irn.to(device)
        return self._irn

    def build_model(self) -> nn.Module:
        from invrestore.models.registry import create_model

        model = create_model(self.cfg.model.name)
        if self.cfg.model.init_weights:
            from invrestore.models.irn.model import load_into
            from invrestore.train.checkpoint import load_weights

            load_into(model, load_weights(self.cfg.model.init_weights), source=self.cfg.model.init_weights)
        return model

    def train_dataset(self) -> Dataset[Any]:
        from invrestore.data import ImageFolder, PairedDataset, training_files

        d = self.cfg.data
        s = self.scale
        if d.crop_size % s:
            raise ConfigError(
                f"data.crop_size {d.crop_size} must be a multiple of the {'' if self.bicubic else 'IRN '}scale {s}"
            )
        files = training_files(d.train_sets, d.train_folders, d.root, min_size=d.crop_size)
        images = ImageFolder(files, mode="rgb", cache=True)
        return PairedDataset(images, d.crop_size, _identity, where="crop", seed=self.cfg.train.seed, repeat=d.repeat)

    def training_step(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float]]:
        x = batch["x"]
        if self.bicubic:
            return crm_loss(
                model, None, x, self.cfg.jpeg.quality, self.cfg.jpeg.subsampling, lr_source="bicubic", scale=self.scale
            )
        return crm_loss(model, self.irn(x.device), x, self.cfg.jpeg.quality, self.cfg.jpeg.subsampling)

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        from invrestore.data import ImageFolder, resolve_dataset
        from invrestore.data.datasets import modcrop
        from invrestore.metrics import psnr

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
        crm = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
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
