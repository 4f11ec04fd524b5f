"""IRAE training recipe: configs, the pure step, the data pipeline and a few steps through the generic loop."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invrestore.errors import ConfigError
from invrestore.models.irae import IRAE, IRAEConfig, irae_config, l1_loss
from invrestore.models.irae.steps import CenterCropResize, IRAETask, degrade_batch, dequantize, training_losses
from invrestore.train.config import config_to_yaml, merge_config
from invrestore.train.loop import fit


def test_presets_convert_the_epoch_schedule_to_loop_steps() -> None:
    paper = irae_config("denoise")
    assert paper.train.optim.lr == 1e-3 and paper.train.optim.weight_decay == 0
    assert paper.train.optim.milestones == (50 * 1627,) and paper.train.optim.gamma == pytest.approx(0.2)
    assert paper.train.optim.grad_clip == 50 and paper.train.batch_size == 100 and paper.train.steps == 150 * 1627
    official = irae_config("denoise", rule="official")
    assert official.train.optim.gamma == pytest.approx(0.1)
    jpeg = irae_config("jpeg", quality=10)
    assert jpeg.data.crop_size == 64 and jpeg.data.dequantize_bits == 0 and jpeg.data.quality == 10
    inpaint = irae_config("inpaint")
    assert inpaint.train.batch_size == 18 and inpaint.train.optim.lr == 1e-4 and inpaint.data.resize == 256
    assert IRAEConfig() == irae_config()


def test_config_round_trips_through_yaml_and_rejects_bad_values() -> None:
    cfg = irae_config("denoise", sigma_range=(1, 55), integer_sigma=True)
    assert merge_config(IRAEConfig, config_to_yaml(cfg)) == cfg
    with pytest.raises(ConfigError):
        merge_config(IRAEConfig, overrides=["data.task=deblur"])
    with pytest.raises(ConfigError):
        merge_config(IRAEConfig, overrides=["schedule.rule=cosine"])


def test_l1_loss_reductions() -> None:
    a, b = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert float(l1_loss(a, b)) == pytest.approx(0.5)
    assert float(l1_loss(a, b, "sum")) == pytest.approx(0.5 * 48)


def test_dequantize_is_5_bit_plus_uniform_noise() -> None:
    x = torch.arange(256, dtype=torch.float32).view(1, 1, 16, 16) / 255
    d = dequantize(x, 5, torch.Generator().manual_seed(0))
    bins = torch.floor(torch.arange(256, dtype=torch.float32) / 8).view(1, 1, 16, 16) / 32
    assert torch.all(d >= bins) and torch.all(d < bins + 1 / 32)


def test_degrade_batch_per_task() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 16, 16, generator=g)
    base = irae_config().data
    y, m = degrade_batch(x, base, g)
    assert m is None and float((y - x).std()) == pytest.approx(25 / 255, rel=0.15)
    y, m = degrade_batch(x, dataclasses.replace(base, task="jpeg"), g)
    assert m is None and y.shape == x.shape
    y, m = degrade_batch(x, dataclasses.replace(base, task="inpaint"), g)
    assert m is not None and m.shape == (2, 1, 16, 16) and torch.equal(y, x * (1 - m) + m)


def test_center_crop_resize_matches_the_celeba_pipeline(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (218, 178, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    img = CenterCropResize(tmp_path, 148, 64).load(0)
    assert img.shape == (3, 64, 64)
    ref = Image.fromarray(arr).crop((15, 35, 163, 183)).resize((64, 64), Image.Resampling.BILINEAR)
    assert torch.equal(img, torch.from_numpy(np.asarray(ref).copy()).permute(2, 0, 1).float() / 255)


def tiny_config(tmp_path: Path, task: str = "denoise") -> IRAEConfig:
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (20, 18, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    cfg = irae_config(task, steps_per_epoch=2, train_sets=(), train_folders=(str(folder),), val_folders=(str(folder),))
    data = dataclasses.replace(cfg.data, center_crop=16, resize=None, val_limit=2)
    model = dataclasses.replace(cfg.model, width=4, depth=1)
    train = dataclasses.replace(cfg.train, batch_size=2, steps=3, log_every=1, val_every=3, ckpt_every=3, device="cpu")
    return dataclasses.replace(cfg, data=data, model=model, train=train)


def test_training_step_is_pure_and_finite(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path)
    task = IRAETask(cfg)
    torch.manual_seed(0)
    model = task.build_model()
    assert isinstance(model, IRAE)
    ds = task.train_dataset()
    batch = {k: torch.stack([ds[0][k], ds[1][k]]) for k in ("x", "x_lq")}
    l1, m1 = training_losses(model, batch, cfg, torch.Generator().manual_seed(1))
    l2, _ = training_losses(model, batch, cfg, torch.Generator().manual_seed(1))
    assert (
        torch.isfinite(l1) and float(l1.detach()) == pytest.approx(float(l2.detach())) and set(m1) == {"loss", "psnr"}
    )
    # no host sync in the step: detached tensor metrics; the task's step is the same computation
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in m1.values())
    l3, _ = task.training_step(model, batch, torch.Generator().manual_seed(1))
    assert float(l3.detach()) == pytest.approx(float(l1.detach()))


def test_model_config_is_the_constructors_arguments_and_bad_values_fail_at_load_time() -> None:
    import inspect

    from invrestore.models.irae import IRAEModelConfig
    from invrestore.models.registry import MODELS

    fields = {f.name for f in dataclasses.fields(IRAEModelConfig)} - {"name"}
    assert fields == set(inspect.signature(IRAE).parameters)
    assert MODELS["irae"].trainer == "irae" and MODELS["irae"].params == 1_301_504
    for override in ("model.levels=0", "model.width=0", "loss.reduction=max", "schedule.epochs=0"):
        with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
            merge_config(IRAEConfig, overrides=[override])


@pytest.mark.parametrize("task", ["denoise", "inpaint"])
def test_a_few_steps_through_the_generic_loop(tmp_path: Path, task: str) -> None:
    cfg = tiny_config(tmp_path, task)
    result = fit(IRAETask(cfg), tmp_path / "run", progress=False)
    assert result.step == 3
    records = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3]
    val = [r for r in records if r["kind"] == "val"][-1]
    assert np.isfinite(val["psnr"]) and 0 < val["ssim"] <= 1
