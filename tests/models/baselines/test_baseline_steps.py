"""Baseline training: configs, the pure step, and a few (resumable) steps through the generic loop."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invrestore.errors import ConfigError
from invrestore.models.baselines import (
    BaselineConfig,
    DnCNN,
    DnCNNConfig,
    FFDNet,
    baseline_model_config,
    trainable_models,
)
from invrestore.models.baselines.steps import BaselineTask, pixel_loss, restore_batch, training_losses
from invrestore.models.registry import build_model, load_task
from invrestore.train.config import config_to_yaml, merge_config
from invrestore.train.loop import fit

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_are_the_irae_comparison_recipe_and_bad_values_are_refused() -> None:
    cfg = BaselineConfig()
    assert cfg.family == "baselines" and cfg.model.name == "dncnn" and cfg.loss.kind == "l1"
    assert cfg.train.optim.lr == 1e-3 and cfg.train.batch_size == 100 and cfg.data.dequantize_bits == 5
    assert merge_config(BaselineConfig, config_to_yaml(cfg)) == cfg
    with pytest.raises(ConfigError):
        merge_config(BaselineConfig, overrides=["model.name=ffdnet", "data.task=dejpeg"])
    with pytest.raises(ConfigError):
        merge_config(BaselineConfig, overrides=["loss.kind=ssim"])
    with pytest.raises(ConfigError):
        baseline_model_config(name="unet", middle_layers=3)
    with pytest.raises(ConfigError, match=r"model\.middle_layers does not apply to unet"):
        merge_config(BaselineConfig, overrides=["model.name=unet", "model.middle_layers=3"])
    with pytest.raises(ConfigError, match="width"):
        merge_config(BaselineConfig, overrides=["model.width=wide"])
    with pytest.raises(ConfigError, match=r"model\.name must be one of"):
        merge_config(BaselineConfig, overrides=["model.name=resnet"])
    # the model config is the constructor's keyword arguments: DnCNN-S is middle_layers=15
    assert baseline_model_config(name="dncnn", middle_layers=15) == DnCNNConfig(middle_layers=15)
    assert sum(p.numel() for p in build_model(DnCNNConfig(middle_layers=15)).parameters()) == 558_336
    # configs saved by older versions list every baseline's settings, null for the other models'
    old = {"name": "dncnn", "width": None, "middle_layers": 15, "num_layers": None, "depth": None}
    assert BaselineConfig(model=old).model == DnCNNConfig(middle_layers=15)
    # a trainable variant starts from its entry's settings (fine-tuning the shipped DnCNN-S)
    shipped = merge_config(BaselineConfig, overrides=["model.name=dncnn-s-denoise25"]).model
    assert shipped == DnCNNConfig(name="dncnn-s-denoise25", middle_layers=15)
    assert "dncnn-s-denoise25" in trainable_models() and "dncnn-kair-17-gray" not in trainable_models()


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "baselines").glob("*.yaml")), ids=lambda p: p.stem)
def test_presets_load(path: Path) -> None:
    task = load_task(path)
    assert isinstance(task, BaselineTask)


def test_pixel_losses() -> None:
    a, b = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert float(pixel_loss(a, b)) == pytest.approx(0.5)
    assert float(pixel_loss(a, b, "l1", "sum")) == pytest.approx(0.5 * 48)
    assert float(pixel_loss(a, b, "mse")) == pytest.approx(0.25)
    assert float(pixel_loss(a, b, "mse", "sum")) == pytest.approx(0.5 * 0.25 * 48)  # DnCNN: 1/(2N) Σ ‖·‖²


def test_ffdnet_gets_the_drawn_sigma() -> None:
    torch.manual_seed(0)
    net = FFDNet(num_layers=3, width=8).eval()
    y = torch.rand(2, 3, 7, 9)
    out = restore_batch(net, y, torch.tensor([10.0, 30.0]))
    assert torch.allclose(out, net(y, torch.tensor([10.0, 30.0]) / 255))
    with pytest.raises(ValueError):
        restore_batch(net, y)
    assert restore_batch(DnCNN(middle_layers=1, width=4), y).shape == y.shape


def tiny_config(tmp_path: Path, name: str) -> BaselineConfig:
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (20, 18, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    small = {"dncnn": {"middle_layers": 2, "width": 8}, "ffdnet": {"num_layers": 3, "width": 8}}[name]
    cfg = BaselineConfig()
    data = dataclasses.replace(
        cfg.data,
        train_sets=(),
        train_folders=(str(folder),),
        val_folders=(str(folder),),
        center_crop=16,
        resize=None,
        crop_size=12,
        sigma_range=(5, 50),
        val_limit=2,
    )
    train = dataclasses.replace(cfg.train, batch_size=2, steps=3, log_every=1, val_every=3, ckpt_every=1, device="cpu")
    return dataclasses.replace(cfg, model=baseline_model_config(name=name, **small), data=data, train=train)


def _train_losses(run: Path) -> list[float]:
    records = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if r["kind"] == "train"]


def test_training_step_is_pure(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, "ffdnet")
    task = BaselineTask(cfg)
    model = task.build_model()
    ds = task.train_dataset()
    batch = {"x": torch.stack([ds[0]["x"], ds[1]["x"]])}
    l1, m1 = training_losses(model.eval(), batch, cfg, torch.Generator().manual_seed(1))
    l2, _ = training_losses(model, batch, cfg, torch.Generator().manual_seed(1))
    assert float(l1.detach()) == float(l2.detach()) and set(m1) == {"loss", "psnr"}
    # no host sync in the step: the metrics are detached tensors, and the task's step is the same function
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in m1.values())
    l3, m3 = task.training_step(model, batch, torch.Generator().manual_seed(1))
    assert float(l3.detach()) == float(l1.detach()) and torch.equal(m3["psnr"], m1["psnr"])


@pytest.mark.parametrize("name", ["dncnn", "ffdnet"])
def test_three_steps_through_fit_and_an_exact_resume(tmp_path: Path, name: str) -> None:
    cfg = tiny_config(tmp_path, name)
    full = fit(BaselineTask(cfg), tmp_path / "full", progress=False)
    assert full.step == 3 and full.best is not None and np.isfinite(full.best)
    val = [json.loads(ln) for ln in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()][-1]
    assert val["kind"] == "val" and -1 <= val["ssim"] <= 1  # random images, untrained net
    fit(BaselineTask(cfg), tmp_path / "split", progress=False, max_steps=2)
    fit(BaselineTask(cfg), tmp_path / "split", progress=False)
    losses = _train_losses(tmp_path / "full")
    assert len(losses) == 3 and losses == _train_losses(tmp_path / "split")
