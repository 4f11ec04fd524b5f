"""IRN training: the official losses, and a resumed run repeating the uninterrupted one exactly."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from invrestore.models.irn.config import IRNConfig, IRNDataConfig, IRNLossConfig, IRNModelConfig
from invrestore.models.irn.losses import charbonnier_sum, latent_loss, squared_error_sum
from invrestore.models.irn.steps import IRNTask, training_losses
from invrestore.models.registry import create_model
from invrestore.train import OptimConfig, TrainConfig, fit


def test_losses_are_summed_over_pixels_and_averaged_over_the_batch() -> None:
    a = torch.zeros(2, 3, 4, 4)
    b = torch.ones(2, 3, 4, 4)
    assert squared_error_sum(a, b) == 48
    assert torch.isclose(charbonnier_sum(a, b, eps=1e-6), torch.tensor(48 * (1 + 1e-6) ** 0.5))
    assert latent_loss(torch.ones(2, 9, 2, 2)) == 36


def test_at_initialisation_the_guide_loss_is_the_box_mean_against_bicubic() -> None:
    torch.manual_seed(0)
    model = create_model("irn-x2")
    x = torch.rand(2, 3, 16, 16)
    y_bic = torch.rand(2, 3, 8, 8)
    cfg = IRNLossConfig(lambda_fit=4, lambda_ce=1, gaussian_scale=0.0)
    _, m = training_losses(model, {"x": x, "x_lq": y_bic}, cfg, torch.Generator().manual_seed(0))
    box = torch.nn.functional.avg_pool2d(x, 2)
    assert abs(m["l_guide"] - float(((box - y_bic) ** 2).sum() / 2)) < 1e-3


def _losses(run: Path) -> list[float]:
    return [json.loads(ln)["loss"] for ln in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_resumed_irn_run_repeats_the_uninterrupted_losses_exactly(data_root: Path, tmp_path: Path) -> None:
    cfg = IRNConfig(
        model=IRNModelConfig(name="irn-x2"),
        loss=IRNLossConfig(lambda_fit=4),
        data=IRNDataConfig(
            train_sets=(), train_folders=(str(data_root / "eval" / "Set5"),), crop_size=16, val_set=None
        ),
        train=TrainConfig(steps=4, batch_size=2, log_every=1, val_every=0, ckpt_every=2, optim=OptimConfig()),
    )
    fit(IRNTask(cfg), tmp_path / "a", progress=False)
    fit(IRNTask(cfg), tmp_path / "b", progress=False, max_steps=2)
    fit(IRNTask(cfg), tmp_path / "b", progress=False)
    assert len(_losses(tmp_path / "a")) == 4
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
