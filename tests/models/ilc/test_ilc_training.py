"""ILC and teacher training: the losses, the presets, and a few steps of each task through the generic loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from invrestore.entropy import Bitstream
from invrestore.errors import ConfigError
from invrestore.io import write_image
from invrestore.models.ilc import BLS2017, ILC
from invrestore.models.ilc.config import (
    BLS2017Config,
    BLS2017LossConfig,
    BLS2017ModelConfig,
    CodecDataConfig,
    ILCConfig,
    ILCLossConfig,
    ILCModelConfig,
    ILCTeacherConfig,
)
from invrestore.models.ilc.loading import finalize_codec_weights, load_codec
from invrestore.models.ilc.losses import distillation_loss, distortion_loss, latent_loss, rate_bpp
from invrestore.models.ilc.steps import BLS2017Task, ILCTask, ilc_training_losses
from invrestore.train import OptimConfig, TrainConfig, fit, load_checkpoint, load_config, save_weights

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "ilc"


def test_losses() -> None:
    lik = {"y": torch.full((2, 4, 2, 2), 0.5)}
    assert torch.isclose(rate_bpp(lik, 4, 4), torch.tensor(16 / 16))  # 16 one-bit symbols per 16-pixel image
    x, x_hat = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.1)
    assert torch.isclose(distortion_loss(x, x_hat, 0.01), torch.tensor(0.01 * 255**2 * 0.01))
    assert latent_loss(torch.full((2, 3, 2, 2), 2.0)) == 2.0
    y = torch.ones(1, 2, 2, 2, requires_grad=True)
    t = torch.zeros(1, 2, 2, 2, requires_grad=True)
    distillation_loss(y, t).backward()
    assert t.grad is None and y.grad is not None


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_presets_load(path: Path) -> None:
    family = path.read_text().split("family:")[1].split()[0]
    schema = {"ilc": ILCConfig, "bls2017": BLS2017Config}[family]
    cfg = load_config(schema, path)
    if isinstance(cfg, ILCConfig) and cfg.model.name.startswith("ilc-q"):
        assert cfg.loss.lambda_rate == 1 and cfg.loss.lambda_distill == 0.01
        assert cfg.train.optim.lr == 1e-4 and cfg.em_optim is not None and cfg.em_optim.lr == 1e-3
        assert cfg.train.optim.betas == (0.9, 0.999)


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(3):
        base = torch.rand(3, 5, 6, generator=g)
        img = torch.nn.functional.interpolate(base[None], size=(40, 48), mode="bilinear")[0]
        write_image(folder / f"im{i}.png", img.clamp(0, 1))
    return folder


def _train_cfg() -> TrainConfig:
    return TrainConfig(
        steps=3,
        batch_size=2,
        log_every=1,
        val_every=3,
        ckpt_every=3,
        optim=OptimConfig(lr=1e-3, weight_decay=0.0, milestones=(), grad_clip=1.0),
    )


def _records(run: Path, kind: str) -> list[dict[str, float]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def test_teacher_task_trains_three_steps(image_folder: Path, tmp_path: Path) -> None:
    data = CodecDataConfig(train_folders=(str(image_folder),), crop_size=32, val_folders=(str(image_folder),))
    cfg = BLS2017Config(
        model=BLS2017ModelConfig(name="bls2017-8"), loss=BLS2017LossConfig(lmbda=0.01), data=data, train=_train_cfg()
    )
    res = fit(BLS2017Task(cfg), tmp_path / "run", progress=False)
    assert res.step == 3
    train = _records(tmp_path / "run", "train")
    assert len(train) == 3 and all(r["bpp"] > 0 and r["psnr"] > 0 for r in train)
    (val,) = _records(tmp_path / "run", "val")
    assert {"psnr", "bpp", "rd_score"} <= set(val)


def _teacher_file(teacher: BLS2017, tmp_path: Path) -> Path:
    path = tmp_path / "teacher.safetensors"
    save_weights(teacher.state_dict(), path)
    return path


def _ilc_cfg(
    teacher_weights: Path | None, folder: Path, name: str = "ilc-tiny", teacher: str = "bls2017-8"
) -> ILCConfig:
    return ILCConfig(
        model=ILCModelConfig(name=name),
        teacher=ILCTeacherConfig(name=teacher, weights=str(teacher_weights) if teacher_weights else None),
        loss=ILCLossConfig(teacher_lmbda=0.01),
        data=CodecDataConfig(train_folders=(str(folder),), crop_size=32, val_folders=(str(folder),), val_limit=1),
        train=_train_cfg(),
    )


def test_ilc_task_trains_three_steps_then_codes(tiny_codec: BLS2017, image_folder: Path, tmp_path: Path) -> None:
    teacher_before = {k: v.clone() for k, v in tiny_codec.state_dict().items()}
    task = ILCTask(_ilc_cfg(_teacher_file(tiny_codec, tmp_path), image_folder))
    res = fit(task, tmp_path / "run", progress=False)
    assert res.step == 3
    train = _records(tmp_path / "run", "train")
    assert len(train) == 3
    assert all({"bpp", "distortion", "latent", "distill", "aux", "psnr"} <= set(r) for r in train)
    (val,) = _records(tmp_path / "run", "val")
    assert {"psnr", "bpp", "rd_score", "psnr_nq"} <= set(val)
    # the checkpoint holds only the ILC; the teacher did not move
    state, _, _ = load_checkpoint(tmp_path / "run" / "last")
    assert not any(k.startswith("teacher") or k.startswith("g_a") for k in state)
    loaded_teacher = task.teacher(torch.device("cpu"))
    for k, v in loaded_teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), k
    # trained weights + update() -> a working codec
    model = finalize_codec_weights(
        "ilc-tiny", tmp_path / "run" / "last" / "model.safetensors", tmp_path / "w.safetensors"
    )
    assert isinstance(model, ILC) and model.entropy_bottleneck.has_tables
    reloaded = load_codec("ilc-tiny", tmp_path / "w.safetensors")
    assert reloaded.config_hash() == model.config_hash()
    x = torch.rand(1, 3, 32, 32)
    x_hat = model.decompress(Bitstream.from_bytes(model.compress(x).to_bytes()))
    assert torch.allclose(x_hat, model(x).x_hat.clamp(0, 1), atol=1e-6)


def test_ilc_starts_from_the_teacher_entropy_model(tiny_codec: BLS2017, image_folder: Path, tmp_path: Path) -> None:
    model = ILCTask(_ilc_cfg(_teacher_file(tiny_codec, tmp_path), image_folder)).build_model()
    assert isinstance(model, ILC)
    assert torch.equal(model.entropy_bottleneck.quantiles, tiny_codec.entropy_bottleneck.quantiles)
    assert not model.entropy_bottleneck.has_tables


def test_ilc_step_is_pure_and_uses_the_teacher_latent(tiny_codec: BLS2017, image_folder: Path, tmp_path: Path) -> None:
    task = ILCTask(_ilc_cfg(_teacher_file(tiny_codec, tmp_path), image_folder))
    model = task.build_model()
    x = torch.rand(2, 3, 32, 32)
    cfg = ILCLossConfig(teacher_lmbda=0.01, lambda_distill=1.0, aux_weight=0.0)
    loss, m = ilc_training_losses(model, task.teacher(x.device), {"x": x}, cfg, torch.Generator().manual_seed(0))
    with torch.no_grad():
        y, _ = model.analysis(x)  # type: ignore[operator]
        assert abs(m["distill"] - float(torch.mean((y - tiny_codec.g_a(x)) ** 2))) < 1e-5
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in m.values())  # no host sync per step
    total = m["distortion"] + m["bpp"] + m["latent"] + m["distill"]
    assert abs(float(loss.detach()) - total) < 1e-3 * max(1.0, total)


def test_em_optim_splits_the_entropy_model_into_its_own_group(
    tiny_codec: BLS2017, image_folder: Path, tmp_path: Path
) -> None:
    base = _ilc_cfg(_teacher_file(tiny_codec, tmp_path), image_folder)
    task = ILCTask(
        ILCConfig(
            model=base.model,
            teacher=base.teacher,
            loss=base.loss,
            data=base.data,
            train=base.train,
            em_optim=OptimConfig(),
        )
    )
    model = task.build_model()
    groups = task.param_groups(model)
    assert set(groups) == set(task.optim_configs()) == {"main", "em"}
    eb = {id(p) for p in model.entropy_bottleneck.parameters()}  # type: ignore[union-attr]
    assert {id(p) for p in groups["em"]} == eb
    assert not eb & {id(p) for p in groups["main"]}
    single = ILCTask(base)
    assert set(single.param_groups(model)) == {"main"}


def test_ilc_task_errors(tiny_codec: BLS2017, image_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"teacher\.weights"):
        ILCTask(_ilc_cfg(None, image_folder)).build_model()
    wrong = BLS2017(N=16)
    with pytest.raises(ConfigError, match="latent channels"):
        ILCTask(_ilc_cfg(_teacher_file(wrong, tmp_path), image_folder, teacher="bls2017-16")).build_model()


def test_configs_are_checked_when_loaded_and_old_keys_say_where_they_moved() -> None:
    tiny = CONFIGS / "tiny_ilc.yaml"
    for old, new in (
        ("model.teacher_weights=w.safetensors", r"teacher\.weights"),
        ("model.teacher=bls2017-8", r"teacher\.name"),
        ("model.init_entropy_from_teacher=false", r"teacher\.init_entropy_model"),
        ("model.init_weights=w.safetensors", r"top-level key now: init_weights"),
    ):
        with pytest.raises(ConfigError, match=new):
            load_config(ILCConfig, tiny, [old])
    with pytest.raises(ConfigError, match=r"top-level key now: init_weights"):
        load_config(BLS2017Config, CONFIGS / "tiny_teacher.yaml", ["model.init_weights=w.safetensors"])
    with pytest.raises(ConfigError, match=r"model\.name='bls2017-8' is not an ILC; allowed: .*ilc-tiny"):
        load_config(ILCConfig, tiny, ["model.name=bls2017-8"])
    with pytest.raises(ConfigError, match=r"model\.name='ilc-tiny' is not a bls2017"):
        load_config(BLS2017Config, CONFIGS / "tiny_teacher.yaml", ["model.name=ilc-tiny"])
    with pytest.raises(ConfigError, match=r"teacher\.name='ilc-tiny'"):
        load_config(ILCConfig, tiny, ["teacher.name=ilc-tiny"])
    with pytest.raises(ConfigError, match=r"data\.crop_size=0"):
        load_config(ILCConfig, tiny, ["data.crop_size=0"])
    with pytest.raises(ConfigError, match=r"loss\.lambda_latent=-1"):
        load_config(ILCConfig, tiny, ["loss.lambda_latent=-1"])
    cfg = load_config(ILCConfig, tiny, ["teacher.name=bls2017-16", "model.memory_efficient=true"])
    assert cfg.teacher.name == "bls2017-16" and cfg.model.memory_efficient  # any bls2017-N may teach


def test_memory_efficient_is_a_constructor_argument(tiny_codec: BLS2017, image_folder: Path, tmp_path: Path) -> None:
    base = _ilc_cfg(_teacher_file(tiny_codec, tmp_path), image_folder)
    cfg = ILCConfig(model=ILCModelConfig(name="ilc-tiny", memory_efficient=True), teacher=base.teacher)
    model = ILCTask(cfg).build_model()
    assert isinstance(model, ILC) and model.iem.memory_efficient
