"""IRN's compression-restoration module (CRM): architecture, parameter count, loss, pipeline, config, task."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from invrestore.models.irn.crm import CRM, CRMConfig, CRMTask, crm_loss, irn_jpeg_crm
from invrestore.models.irn.model import IRN
from invrestore.models.registry import create_model
from invrestore.train.config import load_config

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "irn" / "crm_q90.yaml"


def _irn() -> IRN:
    torch.manual_seed(0)
    net = create_model("irn-x2")
    assert isinstance(net, IRN)
    return net.eval()


def test_crm_parameter_count_and_registry() -> None:
    crm = create_model("crm-rrdb8")
    assert isinstance(crm, CRM)
    assert sum(p.numel() for p in crm.parameters()) == 5_795_843  # docs/irn-extensions.md


def test_crm_official_key_names_and_init() -> None:
    torch.manual_seed(0)
    crm = CRM(nb=2)
    keys = set(crm.state_dict())
    assert {"conv_first.weight", "trunk_conv.bias", "conv_last.weight", "RRDB_trunk.1.RDB3.conv5.weight"} <= keys
    rdb = crm.RRDB_trunk[0].RDB1  # type: ignore[union-attr]
    assert torch.count_nonzero(rdb.conv5.weight) == 0 and torch.count_nonzero(rdb.conv1.bias) == 0
    # kaiming fan_in × 0.1: std ≈ 0.1·sqrt(2 / fan_in)
    std = float(rdb.conv1.weight.detach().std())
    assert 0.5 * 0.1 * (2 / (64 * 9)) ** 0.5 < std < 1.5 * 0.1 * (2 / (64 * 9)) ** 0.5
    # zero conv5 makes every RDB an identity at init and every RRDB a ×1.2 (0.2·x + x): 2 RRDBs give 1.44·fea
    x = torch.rand(1, 3, 8, 8)
    fea = crm.conv_first(x)
    expected = crm.conv_last(fea + crm.trunk_conv(1.44 * fea))
    assert torch.allclose(crm(x), expected, atol=1e-6)


def test_crm_loss_gradients_reach_only_the_crm() -> None:
    irn = _irn()
    torch.manual_seed(1)
    crm = CRM(nb=1)
    x = torch.rand(2, 3, 16, 16)
    loss, metrics = crm_loss(crm, irn, x, quality=50)
    loss.backward()
    assert loss.ndim == 0 and set(metrics) == {"loss", "psnr_lr_jpeg", "psnr_lr_crm"}
    assert all(p.grad is None for p in irn.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in crm.parameters())
    # Σ(y_q − R(J))² / B by hand
    from invrestore.degradations.jpeg import jpeg_compress

    with torch.no_grad():
        y_q, _ = irn.downscale(x)
        manual = ((y_q - crm(jpeg_compress(y_q, 50, "4:2:0"))) ** 2).sum() / 2
    assert torch.allclose(loss.detach(), manual, rtol=1e-5)


def test_two_training_steps_lower_the_loss() -> None:
    irn = _irn()
    torch.manual_seed(2)
    crm = CRM(nb=1)
    opt = torch.optim.Adam(crm.parameters(), lr=1e-3)
    x = torch.rand(1, 3, 16, 16)
    losses = []
    for _ in range(3):
        loss, _ = crm_loss(crm, irn, x, quality=30)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_pipeline_counts_jpeg_bytes_and_restores_shape() -> None:
    irn = _irn()
    crm = CRM(nb=1).eval()
    x = torch.rand(2, 3, 16, 24)
    g = torch.Generator().manual_seed(0)
    x_hat, nbytes = irn_jpeg_crm(irn, crm, x, 75, generator=g)
    assert x_hat.shape == x.shape and nbytes > 0
    from invrestore.degradations.jpeg import jpeg_encode

    with torch.no_grad():
        y_q, _ = irn.downscale(x)
    assert nbytes == sum(len(jpeg_encode(y, 75)) for y in y_q)
    x_plain, same = irn_jpeg_crm(irn, None, x, 75, z_mode="zero")
    assert same == nbytes and x_plain.shape == x.shape


def test_config_preset_matches_the_official_recipe() -> None:
    cfg = load_config(CRMConfig, CONFIG)
    assert cfg.family == "irn-crm" and cfg.model.name == "crm-rrdb8" and cfg.source.irn == "irn-x2"
    assert cfg.jpeg.quality == 90 and cfg.jpeg.subsampling == "4:2:0"
    assert cfg.train.steps == 50_000 and cfg.train.batch_size == 16
    assert cfg.train.optim.lr == 2e-4 and cfg.train.optim.weight_decay == 0
    assert tuple(cfg.train.optim.milestones) == (10_000, 20_000, 30_000, 40_000)
    assert cfg.data.crop_size == 144


def test_task_training_step_and_validation(tmp_path: Path) -> None:
    from dataclasses import replace

    from invrestore.io import write_image
    from invrestore.models.irn.config import IRNDataConfig
    from invrestore.train import save_weights

    irn = _irn()
    w = tmp_path / "irn.safetensors"
    save_weights(irn.state_dict(), w)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"{i}.png", torch.rand(3, 20, 20))
    cfg = load_config(CRMConfig, CONFIG)
    cfg = replace(
        cfg,
        source=replace(cfg.source, irn_weights=str(w)),
        data=IRNDataConfig(train_sets=(), train_folders=(str(folder),), crop_size=16, val_set=None),
    )
    task = CRMTask(cfg)
    ds = task.train_dataset()
    batch = {"x": torch.stack([ds[0]["x"], ds[1]["x"]])}
    model = CRM(nb=1)
    loss, metrics = task.training_step(model, batch, torch.Generator())
    assert torch.isfinite(loss) and metrics["loss"] > 0
    assert task.validate(model, torch.device("cpu")) == {}


def test_bad_quality_is_refused() -> None:
    from dataclasses import replace

    from invrestore.errors import ConfigError

    cfg = CRMConfig()
    with pytest.raises(ConfigError):
        CRMTask(replace(cfg, jpeg=replace(cfg.jpeg, quality=0)))


def test_presets_load_through_the_registry_and_the_scale_builds_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from invrestore.models import registry
    from invrestore.models.irn.crm import CRMTask as Task

    built: list[str] = []
    real = registry.create_model

    def spy(name: str, *a: object, **kw: object) -> torch.nn.Module:
        built.append(name)
        return real(name, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(registry, "create_model", spy)
    for preset in ("crm_q90.yaml", "crm_bicubic_q90.yaml", "gpu_crm_q90.yaml", "campaign_crm_q90.yaml"):
        task = registry.load_task(CONFIG.parent / preset)
        assert isinstance(task, Task) and task.scale == 2 and task.family == "irn-crm"
    assert built == []  # neither the IRN nor the CRM is built to read the scale


def test_old_preset_keys_name_their_new_place(tmp_path: Path) -> None:
    from invrestore.errors import ConfigError
    from invrestore.models.registry import load_task

    for key, where in (("model.irn_weights=w", "source.irn_weights"), ("model.init_weights=w", "init_weights")):
        with pytest.raises(ConfigError, match=where):
            load_task(CONFIG, [key])


def test_bad_values_are_config_errors_when_the_config_is_built() -> None:
    from invrestore.errors import ConfigError
    from invrestore.models.irn.crm import CRMJPEGConfig, CRMSourceConfig

    with pytest.raises(ConfigError, match=r"jpeg\.subsampling"):
        CRMJPEGConfig(subsampling="4:1:1")
    with pytest.raises(ConfigError, match=r"source\.scale"):
        CRMSourceConfig(lr_source="bicubic", scale=0)
    with pytest.raises(ConfigError, match=r"data\.crop_size 15 must be a multiple"):
        cfg = CRMConfig()
        from dataclasses import replace

        CRMTask(replace(cfg, data=replace(cfg.data, crop_size=15)))
    with pytest.raises(ConfigError, match="not an IRN"):
        CRMTask(CRMConfig(source=CRMSourceConfig(irn="crm-rrdb8")))


def test_the_training_step_returns_detached_tensor_metrics() -> None:
    irn = _irn()
    crm = CRM(nb=1)
    _, metrics = crm_loss(crm, irn, torch.rand(1, 3, 16, 16), quality=50)
    assert all(isinstance(v, torch.Tensor) and v.ndim == 0 and not v.requires_grad for v in metrics.values())
