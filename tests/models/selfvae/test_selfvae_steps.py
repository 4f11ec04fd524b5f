"""selfVAE training recipe: the official-schedule config, the CIFAR dataset, bpd evaluation and a few steps through the
generic loop (with an exact resume)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from invrestore.errors import ConfigError
from invrestore.models import create_model
from invrestore.models.registry import load_task
from invrestore.models.selfvae import (
    CifarImages,
    SelfVAEConfig,
    SelfVAETask,
    evaluate_bpd,
    exponential_staircase,
    load_split,
)
from invrestore.models.selfvae.steps import shift_flip
from invrestore.train import TrainConfig, config_to_yaml, fit, merge_config

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "selfvae"


def write_npz(path: Path, n_train: int = 12, n_test: int = 4, seed: int = 0) -> Path:
    """A tiny CIFAR-layout ``.npz`` (uint8 NHWC, like the shared ``cifar10_partial.npz``)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(n_train + n_test, 4, 4, 3))
    imgs = np.kron(base, np.ones((1, 8, 8, 1))).astype(np.uint8)  # smooth-ish 32² images
    np.savez(
        path,
        x_train=imgs[:n_train],
        y_train=np.arange(n_train, dtype=np.uint8) % 10,
        x_test=imgs[n_train:],
        y_test=np.arange(n_test, dtype=np.uint8) % 10,
    )
    return path


def test_defaults_are_the_official_adamax_recipe() -> None:
    cfg = SelfVAEConfig()
    o = cfg.train.optim
    assert (o.optimizer, o.lr, o.betas, o.weight_decay, o.grad_clip) == ("adamax", 2e-3, (0.9, 0.999), 0.0, 0.0)
    assert cfg.train.batch_size == 32 and cfg.train.steps == 2000 * (42_500 // 32) and cfg.train.val_every == 1328
    assert cfg.data.val_fraction == 0.15 and cfg.model.name == "selfvae-downscale"
    # the multistep stairs follow 2e-3 · 0.999999^t within 1% and never go below the 1e-4 floor
    assert o.schedule == "multistep" and o.gamma == pytest.approx(0.999999**10_000)
    for t in (0, 9_999, 10_000, 1_234_567, 2_656_000):
        stair = 2e-3 * o.gamma ** sum(m <= t for m in o.milestones)
        assert stair == pytest.approx(max(1e-4, 2e-3 * 0.999999**t), rel=0.011)
    assert 2e-3 * o.gamma ** len(o.milestones) >= 1e-4 > 2e-3 * o.gamma ** (len(o.milestones) + 1)
    assert exponential_staircase(gamma=1.0) == ((), 1.0)


def test_config_round_trips_and_rejects_bad_values() -> None:
    cfg = merge_config(SelfVAEConfig, {"model": {"name": "vae-small", "mixtures": 5}})
    assert merge_config(SelfVAEConfig, config_to_yaml(cfg)) == cfg
    with pytest.raises(ConfigError):
        merge_config(SelfVAEConfig, overrides=["data.bogus=1"])
    with pytest.raises(ConfigError):
        SelfVAETask(merge_config(SelfVAEConfig, overrides=["data.val_split=train"]))
    with pytest.raises(ConfigError, match="32×32"):
        SelfVAETask(merge_config(SelfVAEConfig, overrides=["model.name=vae-64"])).build_model()
    with pytest.raises(ConfigError, match="selfVAE"):
        SelfVAETask(merge_config(SelfVAEConfig, overrides=["model.name=irn-x4"])).build_model()


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_presets_load_and_name_cifar_models(path: Path) -> None:
    task = load_task(path)
    assert isinstance(task, SelfVAETask) and task.train.optim.optimizer == "adamax"
    small = path.stem.startswith("cpu_")
    assert task.cfg.model.name.endswith("-small") == small
    big = "CelebA" if path.stem.startswith("celeba_") else "CIFAR-10"  # the CelebA preset trains a 64² model
    assert task.cfg.data.dataset == ("CIFAR-10-partial" if small else big)


def test_splits_and_dataset_items(tmp_path: Path) -> None:
    npz = write_npz(tmp_path / "c.npz", n_train=20, n_test=4)
    train, val, test = (load_split(str(npz), s) for s in ("train", "val", "test"))
    assert (train.shape[0], val.shape[0], test.shape[0]) == (17, 3, 4) and train.dtype == torch.uint8
    everything = torch.cat([train, val]).flatten(1)
    full = load_split(str(npz), "train-full").flatten(1)
    assert sorted(map(tuple, everything.tolist())) == sorted(map(tuple, full.tolist()))
    plain = CifarImages(train)
    item = plain[3]["x"]
    assert item.shape == (3, 32, 32) and item.dtype == torch.float32
    assert torch.equal(item * 255, train[3].float())
    aug = CifarImages(train, augment=True, seed=1)
    x = aug[20]["x"]
    assert torch.equal(x, aug[20]["x"]) and torch.allclose(x * 255, (x * 255).round(), atol=1e-4)
    assert any(not torch.equal(aug[i + 17]["x"], plain[i]["x"]) for i in range(5))  # virtual index → new draw
    with pytest.raises(ConfigError):
        load_split(str(npz), "validation")


def test_shift_flip_replicates_edges() -> None:
    x = torch.arange(16, dtype=torch.uint8).reshape(1, 4, 4)
    y = shift_flip(x, False, 1, -2)
    assert torch.equal(y[0, 0], torch.tensor([2, 3, 3, 3], dtype=torch.uint8))
    assert torch.equal(y[0, 1:], x[0, :3, [2, 3, 3, 3]])
    assert torch.equal(shift_flip(x, True, 0, 0), x.flip(-1))


def test_evaluate_bpd_iw_is_below_elbo_and_seeded(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("vae-small")
    images = load_split(str(write_npz(tmp_path / "c.npz")), "test")
    a = evaluate_bpd(model, images, iw_samples=6, batch_size=3, chunk=4, seed=1, legacy=True)
    b = evaluate_bpd(model, images, iw_samples=6, batch_size=3, chunk=4, seed=1, legacy=True)
    assert a == b and a.num_images == 4 and a.iw_samples == 6
    assert a.legacy_bpd is not None and a.iw_bpd <= a.elbo_bpd <= a.legacy_bpd
    one = evaluate_bpd(model, images, iw_samples=1, seed=1)
    assert one.iw_bpd == pytest.approx(one.elbo_bpd)


def tiny_config(tmp_path: Path, steps: int = 3) -> SelfVAEConfig:
    npz = write_npz(tmp_path / "cifar.npz", n_train=12, n_test=4)
    base = SelfVAEConfig()
    cfg = merge_config(
        SelfVAEConfig,
        {
            "model": {"name": "selfvae-downscale-small"},
            "data": {"dataset": str(npz), "val_fraction": 0.25, "val_limit": 2},
            "loss": {"val_iw_samples": 2, "val_batch_size": 2},
        },
    )
    train = TrainConfig(
        steps=steps, batch_size=4, seed=3, log_every=1, val_every=3, ckpt_every=1, device="cpu", optim=base.train.optim
    )
    return SelfVAEConfig(model=cfg.model, data=cfg.data, loss=cfg.loss, train=train)


def test_three_steps_through_fit_and_an_exact_resume(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path)
    result = fit(SelfVAETask(cfg), tmp_path / "run", progress=False)
    assert result.step == 3
    records = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3]
    assert all(math.isfinite(r["nelbo"]) and r["lr"] == 2e-3 for r in train)
    assert {"log_px", "log_py", "log_pz", "log_pu", "log_qz", "log_qu"} <= set(train[0])
    val = [r for r in records if r["kind"] == "val"][-1]
    assert val["neg_bpd"] == -val["bpd"] and val["iw_bpd"] > 0 and result.best == val["neg_bpd"]
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()

    # stop after 2 steps, then resume to 3: the same losses as the uninterrupted run
    fit(SelfVAETask(cfg), tmp_path / "split", progress=False, max_steps=2)
    fit(SelfVAETask(cfg), tmp_path / "split", progress=False)
    again = [json.loads(ln) for ln in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert [r["nelbo"] for r in again if r["kind"] == "train"] == [r["nelbo"] for r in train]
    assert [r for r in again if r["kind"] == "val"][-1]["bpd"] == val["bpd"]


def test_the_model_config_holds_constructor_arguments_and_unset_ones_keep_the_preset() -> None:
    cfg = merge_config(SelfVAEConfig, overrides=["model.name=vae-small", "model.mixtures=5"])
    model = SelfVAETask(cfg).build_model()
    reference = create_model("vae-small", mixtures=5)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }
    plain = SelfVAETask(merge_config(SelfVAEConfig, overrides=["model.name=vae-small"])).build_model()
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in create_model("vae-small").parameters())
    with pytest.raises(ConfigError, match=r"model\.overrides.*model\.mixtures"):
        merge_config(SelfVAEConfig, {"model": {"name": "vae-small", "overrides": {"mixtures": 5}}})
    with pytest.raises(ConfigError, match=r"model\.prior_steps=0.*>= 1"):
        merge_config(SelfVAEConfig, overrides=["model.prior_steps=0"])
    with pytest.raises(ConfigError, match=r"loss\.val_batch_size"):
        merge_config(SelfVAEConfig, overrides=["loss.val_batch_size=0"])
