"""IRN training: the official losses, and a resumed run repeating the uninterrupted one exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


def test_the_training_step_returns_detached_tensor_metrics_without_a_host_sync() -> None:
    torch.manual_seed(0)
    task = IRNTask(IRNConfig(model=IRNModelConfig(name="irn-x2"), data=IRNDataConfig(val_set=None)))
    batch = {"x": torch.rand(2, 3, 16, 16), "x_lq": torch.rand(2, 3, 8, 8)}
    loss, metrics = task.training_step(task.build_model(), batch, torch.Generator().manual_seed(0))
    assert loss.requires_grad
    assert set(metrics) == {"loss", "l_guide", "l_rec", "l_ce"}
    assert all(torch.is_tensor(v) and v.ndim == 0 and not v.requires_grad for v in metrics.values())


def test_the_task_reads_the_scale_from_the_registry_without_building_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from invrestore.models.irn import model as irn_model

    def no_build(*a: object, **k: object) -> None:
        raise AssertionError("IRNTask.scale built a model")

    monkeypatch.setattr(irn_model.IRN, "__init__", no_build)
    scales = {n: IRNTask(IRNConfig(model=IRNModelConfig(name=n))).scale for n in ("irn-x2", "irn-x3", "irn-x8")}
    assert scales == {"irn-x2": 2, "irn-x3": 3, "irn-x8": 8}


def test_validation_gives_the_numbers_of_the_irn_evaluation_protocol(data_root: Path) -> None:
    from invrestore.data import ImageFolder, resolve_dataset
    from invrestore.evaluation import evaluate_dataset
    from invrestore.models.irn.rescaler import IRNRescaler

    torch.manual_seed(0)
    model = create_model("irn-x2").eval()
    data = IRNDataConfig(root=str(data_root), val_set="Set5", val_limit=2)
    ours = IRNTask(IRNConfig(model=IRNModelConfig(name="irn-x2"), data=data)).validate(model, torch.device("cpu"))
    files = list(resolve_dataset("Set5", str(data_root)).files)[:2]
    images = ImageFolder(files, mode="rgb")
    ref = evaluate_dataset(
        ((images.files[i].stem, images.load(i)) for i in range(len(images))), IRNRescaler(model, seed=0), 2, "irn"
    )
    assert ours == {k: v for k, v in ref.means.items() if v is not None}


def test_validation_scores_a_grayscale_image_as_y_like_the_protocol(data_root: Path) -> None:
    """Set14's bridge.png is single-channel: validation must score it as the protocol does (gray as Y), or the
    checkpoint pick and the campaign's adoption check disagree with the model card."""
    from invrestore.data import ImageFolder, resolve_dataset
    from invrestore.evaluation import evaluate_dataset
    from invrestore.models.irn.rescaler import IRNRescaler

    files = [f for f in resolve_dataset("Set14", str(data_root)).files if f.stem in ("baboon", "bridge")]
    images = ImageFolder(files, mode="keep")
    assert [images.load(i).shape[0] for i in range(len(images))] == [3, 1]
    torch.manual_seed(0)
    model = create_model("irn-x2").eval()
    data = IRNDataConfig(root=str(data_root), val_set="Set14", val_limit=3)  # baboon, barbara, bridge
    ours = IRNTask(IRNConfig(model=IRNModelConfig(name="irn-x2"), data=data)).validate(model, torch.device("cpu"))
    first3 = list(resolve_dataset("Set14", str(data_root)).files)[:3]
    assert first3[2].stem == "bridge"
    keep = ImageFolder(first3, mode="keep")
    ref = evaluate_dataset(
        ((keep.files[i].stem, keep.load(i)) for i in range(len(keep))), IRNRescaler(model, seed=0), 2, "irn"
    )
    assert ours == {k: v for k, v in ref.means.items() if v is not None}


def test_the_irn_color_step_returns_detached_tensor_metrics_too() -> None:
    from invrestore.models.irn.color_config import IRNColorConfig
    from invrestore.models.irn.color_steps import IRNColorTask

    torch.manual_seed(0)
    task = IRNColorTask(IRNColorConfig())
    batch = {"x": torch.rand(2, 3, 8, 8), "x_lq": torch.rand(2, 1, 8, 8)}
    loss, metrics = task.training_step(task.build_model(), batch, torch.Generator().manual_seed(0))
    assert loss.requires_grad and set(metrics) == {"loss", "l_guide", "l_rec", "l_ce"}
    assert all(torch.is_tensor(v) and not v.requires_grad for v in metrics.values())


def test_irn_color_validation_skips_grayscale_images_like_its_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation images come single-channel for gray files (scored as Y by IRN) or as RGB with equal channels:
    IRN_color has no colour to hide in either, and its report and ``decolorize`` skip them too."""
    from invrestore.models.irn import color_steps
    from invrestore.models.irn.color import color_metrics
    from invrestore.models.irn.color_config import IRNColorConfig

    g = torch.Generator().manual_seed(0)
    colour = torch.rand(3, 24, 24, generator=g)
    gray = torch.rand(1, 24, 24, generator=g)
    images = [colour, gray, gray.expand(3, -1, -1).clone()]
    monkeypatch.setattr(color_steps, "validation_images", lambda d: iter(images))
    task = color_steps.IRNColorTask(IRNColorConfig())
    torch.manual_seed(0)
    model = task.build_model().eval()
    with torch.no_grad():
        ours = task.validate(model, torch.device("cpu"))
        assert ours == color_metrics(model, colour.unsqueeze(0))
    assert [color_steps.has_colour(x) for x in images] == [True, False, False]


def test_fit_on_the_cpu_x2_preset_logs_the_same_metric_keys(data_root: Path, tmp_path: Path) -> None:
    from invrestore.models.registry import load_task

    preset = Path(__file__).resolve().parents[3] / "configs" / "irn" / "cpu_x2.yaml"
    sets = (f"data.root={data_root}", "train.log_every=1", "train.val_every=3", "data.val_limit=1")
    fit(load_task(preset, sets), tmp_path, progress=False, max_steps=3)
    records = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert len(train) == 3
    assert all(set(r) == {"kind", "step", "time", "lr", "loss", "l_guide", "l_rec", "l_ce", "grad_norm"} for r in train)
    val = next(r for r in records if r["kind"] == "val")
    assert set(val) == {"kind", "step", "psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"}
