"""pix2pix / "Rethinking generative restoration" configuration (frozen dataclasses; YAML only serializes them).

Defaults are pix2pix's (``docs/generative.md``): UNet-8 + 70×70 PatchGAN, vanilla GAN, λ_L1 = 100,
Adam(2e-4, β = (0.5, 0.999)), 100 epochs at constant LR then 100 epochs of linear decay, batch 1, train-mode
inference. :data:`PAPER_FINAL` is the paper's final model (InfoAccum-15 + UNet-5 + SubPixUpsamp + LSGAN).

The model is a pair. ``model`` is the generator, as in every family: ``name`` (a registered generator) plus exactly
its constructor's keyword arguments, built by ``build_model(cfg.model)``; ``discriminator`` holds the keyword
arguments of ``pix2pix-patchgan`` (its ``name`` is a class attribute, not a YAML key), built by
``build_model(cfg.discriminator)``. The older ``generator:`` section (``arch``, ``depth``, ...) still loads and is
folded into ``model``. Every value is checked when the config is built (:class:`ConfigError` naming the key).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from omegaconf import OmegaConf

from invrestore.errors import ConfigError
from invrestore.models.pix2pix import zoo as _zoo  # noqa: F401  (registers the generators model.name names)
from invrestore.models.pix2pix.losses import GAN_MODES
from invrestore.models.pix2pix.model import EncoderDecoderGenerator, UNetGenerator
from invrestore.models.registry import MODELS as REGISTRY
from invrestore.models.registry import entry_model_config
from invrestore.train.config import TrainConfig

__all__ = [
    "PAIRED_SETS",
    "PAPER_FINAL",
    "DiscriminatorConfig",
    "EncDecGeneratorConfig",
    "GANLossConfig",
    "GeneratorConfig",
    "GeneratorModelConfig",
    "Pix2PixConfig",
    "Pix2PixDataConfig",
    "Pix2PixOptimConfig",
    "UNetGeneratorConfig",
    "generator_config",
    "generator_names",
]


NORMS = ("batch", "instance")
ARCHS = ("unet", "encdec")


def _norm(key: str, norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"{key} must be one of {NORMS}, got {norm!r}")


def _check_generator(g: UNetGeneratorConfig | EncDecGeneratorConfig) -> None:
    _norm("model.norm", g.norm)
    for key in ("depth", "in_channels", "out_channels", "ngf", "info_accum_growth"):
        if getattr(g, key) < 1:
            raise ConfigError(f"model.{key} must be >= 1, got {getattr(g, key)}")
    if g.max_channels is not None and g.max_channels < 1:
        raise ConfigError(f"model.max_channels must be >= 1 or null (8·ngf), got {g.max_channels}")
    if g.info_accum_layers < 0:
        raise ConfigError(f"model.info_accum_layers must be >= 0 (0 = none), got {g.info_accum_layers}")


@dataclass(frozen=True)
class UNetGeneratorConfig:
    """A UNet-N generator (``pix2pix-unet-N`` and its variants): ``name`` plus exactly the keyword arguments of
    :class:`~invrestore.models.pix2pix.model.UNetGenerator`.

    Attributes:
        depth: number of down/up-sampling levels N.
        ngf: width of the first level (level k: ``min(ngf·2^k, max_channels)``; ``max_channels`` ``None`` = 8·ngf).
        norm: ``"batch"`` or ``"instance"``.
        dropout: pix2pix's Dropout(0.5) in the 512→512 decoder levels.
        subpix_top: SubPixUpsamp at the top decoder layer; ``icnr``: ICNR init of its conv.
        info_accum_layers: InfoAccum-L (0 = none); ``info_accum_growth``: growth per path and layer.
        info_accum_positions: 1 = before the generator; k = before encoder level k.
    """

    name: str = "pix2pix-unet-8"
    depth: int = 8
    in_channels: int = 3
    out_channels: int = 3
    ngf: int = 64
    max_channels: int | None = None
    norm: str = "batch"
    dropout: bool = True
    subpix_top: bool = False
    icnr: bool = False
    info_accum_layers: int = 0
    info_accum_growth: int = 4
    info_accum_positions: tuple[int, ...] = (1,)
    init_gain: float = 0.02

    arch: ClassVar[str] = "unet"

    def __post_init__(self) -> None:
        _check_generator(self)
        if self.info_accum_layers and any(q < 1 or q > self.depth for q in self.info_accum_positions):
            raise ConfigError(
                f"model.info_accum_positions must lie in 1..{self.depth} (model.depth), "
                f"got {list(self.info_accum_positions)}"
            )


@dataclass(frozen=True)
class EncDecGeneratorConfig:
    """An En/Decoder-N generator (``pix2pix-encdec-N``): ``name`` plus exactly the keyword arguments of
    :class:`~invrestore.models.pix2pix.model.EncoderDecoderGenerator` (no dropout, no ICNR; InfoAccum before it)."""

    name: str = "pix2pix-encdec-5"
    depth: int = 5
    in_channels: int = 3
    out_channels: int = 3
    ngf: int = 64
    max_channels: int | None = None
    norm: str = "batch"
    subpix_top: bool = False
    info_accum_layers: int = 0
    info_accum_growth: int = 4
    init_gain: float = 0.02

    arch: ClassVar[str] = "encdec"

    def __post_init__(self) -> None:
        _check_generator(self)


#: The generator config of each generator class.
_CONFIG_OF_BUILDER: dict[object, type] = {
    UNetGenerator: UNetGeneratorConfig,
    EncoderDecoderGenerator: EncDecGeneratorConfig,
}
GeneratorModelConfig = UNetGeneratorConfig | EncDecGeneratorConfig


def generator_names() -> tuple[str, ...]:
    """The registered generators that ``model.name`` accepts (every pix2pix entry but the discriminator)."""
    return tuple(n for n, e in REGISTRY.items() if e.family == "pix2pix" and e.builder in _CONFIG_OF_BUILDER)


def generator_config(name: str = "pix2pix-unet-8", **settings: Any) -> GeneratorModelConfig:
    """The model config of generator ``name`` with ``settings`` (its constructor's keyword arguments); the settings
    not given are the entry's (``pix2pix-unet-5``: ``depth=5``), then the constructor's defaults.

    Raises:
        ConfigError: an unknown generator, a setting it does not take, or a value of the wrong type.
    """
    entry = REGISTRY.get(name)
    cls = _CONFIG_OF_BUILDER.get(entry.builder) if entry is not None and entry.family == "pix2pix" else None
    if entry is None or cls is None:
        raise ConfigError(f"model.name must be a pix2pix generator, one of {generator_names()}; got {name!r}")
    cfg: GeneratorModelConfig = entry_model_config(cls, name, settings)
    return cfg


@dataclass(frozen=True)
class GeneratorConfig:
    """The older way to give the generator (``generator:``, as in configs saved before ``model:``): ``arch`` and
    the constructor's settings; unset (``null``) fields keep the ``model:`` entry's values. Turned into
    :attr:`Pix2PixConfig.model` when the config is built (``arch`` picks ``pix2pix-{arch}-N`` when no ``model:``
    is given, N = ``depth`` when registered; ``dropout``, ``icnr``, ``info_accum_positions`` are dropped for
    En/Decoder-N, which has none).
    """

    arch: str | None = None
    depth: int | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    ngf: int | None = None
    max_channels: int | None = None
    norm: str | None = None
    dropout: bool | None = None
    subpix_top: bool | None = None
    icnr: bool | None = None
    info_accum_layers: int | None = None
    info_accum_growth: int | None = None
    info_accum_positions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.arch is not None and self.arch not in ARCHS:
            raise ConfigError(f"generator.arch must be one of {ARCHS}, got {self.arch!r}")

    def settings(self) -> dict[str, Any]:
        """The fields that are set (``arch`` excluded)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "arch" and getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class DiscriminatorConfig:
    """PatchGAN: ``n_layers=3`` is the 70×70 ``basic`` discriminator; ``in_channels`` = condition + image. The
    fields are keyword arguments of the registry entry ``pix2pix-patchgan``
    (:class:`~invrestore.models.pix2pix.model.PatchDiscriminator`)."""

    in_channels: int = 6
    ndf: int = 64
    n_layers: int = 3
    norm: str = "batch"

    #: the registry entry this config builds (``build_model(cfg.discriminator)``)
    name: ClassVar[str] = "pix2pix-patchgan"

    def __post_init__(self) -> None:
        _norm("discriminator.norm", self.norm)
        if self.in_channels < 2 or self.ndf < 1 or self.n_layers < 0:
            raise ConfigError(
                "discriminator.in_channels must be >= 2 (condition + image), ndf >= 1 and n_layers >= 0, got "
                f"{self.in_channels}, {self.ndf}, {self.n_layers}"
            )


@dataclass(frozen=True)
class GANLossConfig:
    """``gan_mode``: ``"vanilla"`` (BCE with logits) or ``"lsgan"`` (MSE to targets 1/0, paper eq. 16–17).
    ``lambda_l1``: weight of the L1 term (100 in pix2pix; the paper keeps it unstated for LSGAN, upstream suggests
    10–25 there). The L1 is a mean over the [−1, 1]-scaled images, as in pix2pix."""

    gan_mode: str = "vanilla"
    lambda_l1: float = 100.0

    def __post_init__(self) -> None:
        if self.gan_mode not in GAN_MODES:
            raise ConfigError(f"loss.gan_mode must be one of {GAN_MODES}, got {self.gan_mode!r}")
        if self.lambda_l1 < 0:
            raise ConfigError(f"loss.lambda_l1 must be >= 0, got {self.lambda_l1}")


@dataclass(frozen=True)
class Pix2PixOptimConfig:
    """Adam for both nets and the ``linear`` LR policy: constant for ``n_epochs``, then linear decay over
    ``n_epochs_decay`` (see :func:`~invrestore.models.pix2pix.steps.linear_decay_factor`)."""

    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    n_epochs: int = 100
    n_epochs_decay: int = 100
    epoch_count: int = 1

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optim.lr must be > 0, got {self.lr}")
        if self.n_epochs < 0 or self.n_epochs_decay < 0 or self.epoch_count < 1:
            raise ConfigError(
                "optim.n_epochs and optim.n_epochs_decay must be >= 0 and optim.epoch_count >= 1, got "
                f"{self.n_epochs}, {self.n_epochs_decay}, {self.epoch_count}"
            )


#: Real paired datasets (``docs/generative.md`` Table IV) for ``data.paired``, plus ``"folders"``.
PAIRED_SETS = ("sidd", "reside", "rain800", "rain1200", "raincityscapes", "outdoorrain", "folders")
#: Synthetic degradations made on the fly from clean images (``data.task``).
SYNTHETIC_TASKS = ("derain", "dehaze", "denoise")


@dataclass(frozen=True)
class Pix2PixDataConfig:
    """Training/validation pairs: made on the fly from clean images (the paper's synthetic tasks), or a real paired
    dataset (``paired``).

    Attributes:
        root: data root (``None``: ``$INVRESTORE_DATA`` or the default).
        train_sets / train_folders: clean training images.
        task: ``"derain"`` (:class:`~invrestore.degradations.rain.Rain`), ``"dehaze"``
            (:class:`~invrestore.degradations.haze.Haze`) or ``"denoise"`` (AWGN at ``sigma``).
        sigma: AWGN level (0–255 scale) for ``denoise``.
        val_set / val_limit: registered dataset for validation (PSNR/SSIM of full restored images).
        paired: a real paired dataset of :data:`PAIRED_SETS` used *instead of* ``train_sets``/``train_folders``/
            ``task``/``val_set``: training on its train split (random ``crop_size`` crops at native resolution),
            validation on its test split (full images, first ``val_limit``). ``"folders"`` pairs ``degraded_dir``
            with ``clean_dir`` (validation: ``val_degraded_dir`` with ``val_clean_dir``, if given). See
            :mod:`invrestore.data.catalog` and ``docs/data.md`` for the expected layouts and splits.
        paired_root: the folder holding that dataset (``None``: the data root).
        degraded_dir, clean_dir, val_degraded_dir, val_clean_dir: the folders of ``paired="folders"``.
        match: how ``"folders"`` pairs files: ``"stem"`` (same name) or ``"prefix"`` (``1400_1`` → ``1400``).
        degraded_half: Rain800/Rain1200 only: which half of the side-by-side images is the rainy one
            (``None``: the dataset's, Rain800 ``"right"``, Rain1200 ``"left"``).
        flip: random horizontal flips of the training pairs (pix2pix's default).
        split_seed: OutdoorRain: seed of the 8:2 split of its 9,000 training images.
    """

    root: str | None = None
    train_sets: tuple[str, ...] = ("BSDS200",)
    train_folders: tuple[str, ...] = ()
    task: str = "derain"
    sigma: float = 25.0
    val_set: str | None = "Set5"
    val_limit: int = 0
    paired: str | None = None
    paired_root: str | None = None
    degraded_dir: str | None = None
    clean_dir: str | None = None
    val_degraded_dir: str | None = None
    val_clean_dir: str | None = None
    match: str = "stem"
    degraded_half: str | None = None
    flip: bool = True
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in SYNTHETIC_TASKS:
            raise ConfigError(f"data.task must be one of {SYNTHETIC_TASKS}, got {self.task!r}")
        if self.sigma < 0 or self.val_limit < 0:
            raise ConfigError(f"data.sigma and data.val_limit must be >= 0, got {self.sigma}, {self.val_limit}")
        if self.paired is None:
            return
        if self.paired not in PAIRED_SETS:
            raise ConfigError(f"data.paired must be one of {PAIRED_SETS}, got {self.paired!r}")
        if self.match not in ("stem", "prefix"):
            raise ConfigError(f"data.match must be 'stem' or 'prefix', got {self.match!r}")
        if self.degraded_half is not None:
            if self.paired not in ("rain800", "rain1200"):
                raise ConfigError("data.degraded_half applies to data.paired = rain800 or rain1200 only")
            if self.degraded_half not in ("left", "right"):
                raise ConfigError(f"data.degraded_half must be 'left' or 'right', got {self.degraded_half!r}")
        if self.paired == "folders":
            if not self.degraded_dir or not self.clean_dir:
                raise ConfigError("data.paired = folders needs data.degraded_dir and data.clean_dir")
            if bool(self.val_degraded_dir) != bool(self.val_clean_dir):
                raise ConfigError("data.val_degraded_dir and data.val_clean_dir go together")


_DEFAULT_MODEL = {"name": "pix2pix-unet-8"}


@dataclass(frozen=True)
class Pix2PixConfig:
    """A whole pix2pix-family experiment.

    Attributes:
        model: the generator: ``name`` (a registered generator, :func:`generator_names`) plus its constructor's
            settings (``model: {name: pix2pix-unet-5-ia15-subpix, ngf: 16}``); built into a
            :class:`UNetGeneratorConfig` / :class:`EncDecGeneratorConfig` here, so only that generator's settings
            are accepted, and the task builds it with ``build_model(cfg.model)``.
        generator: the older form of the same (:class:`GeneratorConfig`), folded into ``model`` (then ``null``).
        discriminator: the PatchGAN's settings (``build_model(cfg.discriminator)``).
        eval_mode: inference with running BatchNorm statistics and no dropout (pix2pix ``--eval``); the default
            ``False`` reproduces pix2pix's train-mode inference.
    """

    family: str = "pix2pix"
    model: Any = field(default_factory=lambda: dict(_DEFAULT_MODEL))  # a GeneratorModelConfig once built
    generator: GeneratorConfig | None = None
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: GANLossConfig = field(default_factory=GANLossConfig)
    optim: Pix2PixOptimConfig = field(default_factory=Pix2PixOptimConfig)
    crop_size: int = 256
    eval_mode: bool = False
    data: Pix2PixDataConfig = field(default_factory=Pix2PixDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=200_000, batch_size=1, seed=0))

    def __post_init__(self) -> None:
        if not isinstance(self.model, tuple(_CONFIG_OF_BUILDER.values())) or self.generator is not None:
            object.__setattr__(self, "model", _fold_generator(self.model, self.generator))
            object.__setattr__(self, "generator", None)
        depth, n = self.model.depth, self.discriminator.n_layers
        if self.crop_size % 2**depth or self.crop_size < 3 * 2**n:
            raise ConfigError(
                f"crop_size {self.crop_size} must be a multiple of 2^{depth} (model.depth) and at least "
                f"{3 * 2**n} (the PatchGAN with discriminator.n_layers={n} stride-2 layers)"
            )


def _fold_generator(model: Any, legacy: GeneratorConfig | None) -> GeneratorModelConfig:
    """``model`` (a mapping or a generator config) with the older ``generator:`` settings folded in."""
    if isinstance(model, UNetGeneratorConfig | EncDecGeneratorConfig):
        raw: Any = dataclasses.asdict(model)
    else:
        raw = OmegaConf.to_container(model) if OmegaConf.is_config(model) else model
    if not isinstance(raw, dict):
        raise ConfigError(f"model must be a mapping with a name (a pix2pix generator), got {raw!r}")
    raw = {str(k): v for k, v in raw.items()}
    if legacy is None:
        return generator_config(**raw)
    settings = legacy.settings()
    if legacy.arch is not None:
        if raw == _DEFAULT_MODEL:
            depth = legacy.depth if legacy.depth is not None and 1 <= legacy.depth <= 8 else 8
            raw = {"name": f"pix2pix-{legacy.arch}-{depth}"}
        else:
            entry = REGISTRY.get(str(raw.get("name")))
            kind = _CONFIG_OF_BUILDER.get(entry.builder) if entry is not None else None
            if kind is not None and str(getattr(kind, "arch", "")) != legacy.arch:
                raise ConfigError(f"generator.arch={legacy.arch} contradicts model.name={raw['name']}; drop one")
    name = str(raw.get("name", _DEFAULT_MODEL["name"]))
    entry = REGISTRY.get(name)
    if entry is not None and entry.builder is EncoderDecoderGenerator:
        for key in ("dropout", "icnr", "info_accum_positions"):  # UNet-only settings, ignored by En/Decoder-N
            settings.pop(key, None)
    return generator_config(**{**raw, **settings})


#: The paper's final model: InfoAccum-15 (growth 4/path) + UNet-5 + SubPixUpsamp, LSGAN, λ_L1 = 100.
PAPER_FINAL = Pix2PixConfig(
    model={"name": "pix2pix-unet-5-ia15-subpix"},
    loss=GANLossConfig(gan_mode="lsgan"),
)
