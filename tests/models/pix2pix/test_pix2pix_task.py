"""pix2pix through the generic loop: two named optimisers, both networks trained, exact resumption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from invrestore.io import write_image
from invrestore.models.pix2pix.config import GeneratorConfig, Pix2PixConfig, Pix2PixDataConfig
from invrestore.models.pix2pix.steps import Pix2PixTask
from invrestore.train import TrainConfig, fit, load_checkpoint


def _cfg(folder: Path) -> Pix2PixConfig:
    return Pix2PixConfig(
        generator=GeneratorConfig(depth=2, ngf=8),
        crop_size=32,
        data=Pix2PixDataConfig(train_sets=(), train_folders=(str(folder),), task="denoise", val_set=None),
        train=TrainConfig(steps=4, batch_size=2, log_every=1, val_every=0, ckpt_every=2),
    )


def _images(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"{i}.png", np.random.default_rng(i).integers(0, 256, (40, 40, 3), np.uint8))
    return folder


def test_gan_training_steps_both_networks_with_their_own_optimisers(tmp_path: Path) -> None:
    cfg = _cfg(_images(tmp_path))
    init = Pix2PixTask(cfg).build_model().state_dict()
    fit(Pix2PixTask(cfg), tmp_path / "run", progress=False)
    w, state, _ = load_checkpoint(tmp_path / "run" / "last")
    assert set(state["optimizers"]) == {"g", "d"}
    changed = {k.split(".")[0] for k in w if w[k].is_floating_point() and not torch.equal(w[k], init[k])}
    assert changed == {"generator", "discriminator"}
    rec = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert {"g", "d", "g_l1", "lr_g", "lr_d"} <= set(rec)


def test_gan_training_resumes_exactly(tmp_path: Path) -> None:
    cfg = _cfg(_images(tmp_path))
    fit(Pix2PixTask(cfg), tmp_path / "a", progress=False)
    fit(Pix2PixTask(cfg), tmp_path / "b", progress=False, max_steps=2)
    fit(Pix2PixTask(cfg), tmp_path / "b", progress=False)

    def losses(run: Path) -> list[float]:
        return [json.loads(ln)["g"] for ln in (run / "metrics.jsonl").read_text().splitlines()]

    assert losses(tmp_path / "a") == losses(tmp_path / "b")
