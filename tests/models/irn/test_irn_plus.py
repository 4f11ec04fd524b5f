"""IRN+ (docs/irn-extensions.md): VGG19 features, the VGG-128 discriminator, the step and its Task.

All networks have random weights; the VGG19 "ImageNet" file is a random VGG19 saved in torchvision's layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from invrestore.errors import CheckpointError, ConfigError
from invrestore.io import write_image
from invrestore.metrics.backbones import VGG19Features
from invrestore.models.irn import IRN, load_official_checkpoint
from invrestore.models.irn.config import IRNDataConfig, IRNModelConfig
from invrestore.models.irn.losses import charbonnier_sum, squared_error_sum
from invrestore.models.irn.model import quantize_ste
from invrestore.models.irn.plus import (
    DiscriminatorVGG128,
    IRNPlus,
    IRNPlusConfig,
    IRNPlusDiscriminatorConfig,
    IRNPlusLossConfig,
    IRNPlusTask,
    export_generator,
    generator_state_dict,
    irnplus_losses,
)
from invrestore.models.registry import create_model, load_task
from invrestore.train import OptimConfig, TrainConfig, fit, load_weights

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "irn"
# torchvision vgg19().features: the indices of the 16 convs (features[:35] ends with conv5_4 at 34)
VGG19_CONVS = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random VGG19 in torchvision's file layout (features.* plus a classifier key that must be ignored)."""
    torch.manual_seed(0)
    sd = dict(VGG19Features(normalize_input=False).state_dict())
    sd["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path_factory.mktemp("weights") / "vgg19-dcbb9e9d.pth"
    torch.save(sd, path)
    return path


# -- VGG19 features -------------------------------------------------------------------------------------------------
def test_vgg19_keys_follow_torchvision_and_end_at_conv5_4() -> None:
    m = VGG19Features()
    expected = [f"features.{i}.{p}" for i in VGG19_CONVS for p in ("weight", "bias")]
    assert list(m.state_dict()) == expected  # mean/std are non-persistent
    assert sum(p.numel() for p in m.parameters()) == 20_024_384
    assert len(m.features) == 35 and isinstance(m.features[34], torch.nn.Conv2d)


def test_vgg19_from_file_loads_freezes_and_outputs_pre_relu_features(vgg19_file: Path) -> None:
    m = VGG19Features.from_file(vgg19_file)
    sd = torch.load(vgg19_file, weights_only=True)
    assert torch.equal(m.features[34].weight, sd["features.34.weight"])
    assert not any(p.requires_grad for p in m.parameters()) and not m.training
    x = torch.rand(1, 3, 32, 32)
    f = m(x)
    assert f.shape == (1, 512, 2, 2) and (f < 0).any()  # before the ReLU
    # ImageNet normalisation happens inside
    raw = VGG19Features(normalize_input=False)
    raw.load_state_dict(m.state_dict())
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(raw((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)), f)


def test_vgg19_missing_file_names_the_expected_torchvision_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"vgg19-dcbb9e9d\.pth.*not found"):
        VGG19Features.from_file(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match=r"vgg19-dcbb9e9d\.pth"):
        VGG19Features.from_file(None)
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError, match="is not a file of the VGG19"):
        VGG19Features.from_file(bad)


# -- discriminator --------------------------------------------------------------------------------------------------
def test_discriminator_has_the_official_parameter_count_and_names() -> None:
    d = DiscriminatorVGG128()
    assert sum(p.numel() for p in d.parameters()) == 14_499_401
    assert sum(p.numel() for p in DiscriminatorVGG128(input_size=144).parameters()) == 14_499_401
    keys = list(d.state_dict())
    assert keys[:6] == [
        "conv0_0.weight",
        "conv0_0.bias",
        "conv0_1.weight",
        "bn0_1.weight",
        "bn0_1.bias",
        "bn0_1.running_mean",
    ]
    assert "conv1_0.bias" not in keys and "bn0_0.weight" not in keys
    assert d.linear1.in_features == 512 * 4 * 4 and d.linear2.out_features == 1


@pytest.mark.parametrize("size", [128, 144])
def test_discriminator_gives_one_logit_per_image_at_128_and_144(size: int) -> None:
    torch.manual_seed(0)
    d = DiscriminatorVGG128(input_size=size).eval()
    with torch.no_grad():
        assert d(torch.rand(1, 3, size, size)).shape == (1, 1)


def test_a_32_pixel_discriminator_is_the_official_vgg_32() -> None:
    d = DiscriminatorVGG128(nf=64, input_size=32)
    assert d.linear1.in_features == 512
    with pytest.raises(ValueError, match="at least 32"):
        DiscriminatorVGG128(input_size=16)


# -- the step -------------------------------------------------------------------------------------------------------
def _small_plus(seed: int = 0) -> IRNPlus:
    torch.manual_seed(seed)
    g = create_model("irn-x2")
    assert isinstance(g, IRN)
    with torch.no_grad():  # move away from the identity initialisation so every term has gradients
        for p in g.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    return IRNPlus(g, DiscriminatorVGG128(nf=4, input_size=32))


def _batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"x": torch.rand(2, 3, 32, 32, generator=g), "x_lq": torch.rand(2, 3, 16, 16, generator=g)}


def test_the_generator_loss_is_the_official_sum_and_each_loss_reaches_only_its_network(vgg19_file: Path) -> None:
    vgg = VGG19Features.from_file(vgg19_file)
    plus, batch = _small_plus(), _batch()
    cfg = IRNPlusLossConfig(d_init_iters=0)
    losses, m = irnplus_losses(plus, batch, cfg, vgg, torch.Generator().manual_seed(5))
    assert set(losses) == {"g", "d"} and int(plus.iteration) == 1

    # recompute L_G by hand with the same ẑ and a frozen copy of D (train mode, batch statistics)
    x, y_bic = batch["x"], batch["x_lq"]
    with torch.no_grad():
        out, _ = plus.generator(x)
        y = out[:, :3]
        z_hat = torch.randn(out[:, 3:].shape, generator=torch.Generator().manual_seed(5))
        x_hat, _ = plus.generator.inverse(torch.cat([quantize_ste(y), z_hat], 1))
        logit = plus.discriminator(x_hat)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        expected = (
            16 * squared_error_sum(y, y_bic)
            + 0.01 * charbonnier_sum(x, x_hat)
            + 0.01 * charbonnier_sum(vgg(x), vgg(x_hat))
            + bce
        )
    assert abs(float(losses["g"].detach()) - float(expected)) < 1e-4 * float(expected)
    assert "l_ce" not in m and {"l_fit", "l_rec", "l_fea", "l_gan", "d_real", "d_fake"} <= set(m)

    losses["g"].backward(retain_graph=True)
    assert all(p.grad is None for p in plus.discriminator.parameters())
    assert all(p.grad is not None for p in plus.param_groups()["g"])
    assert all(p.grad is None for p in vgg.parameters())
    plus.zero_grad(set_to_none=True)
    losses["d"].backward()
    assert all(p.grad is None for p in plus.generator.parameters())
    assert all(p.grad is not None for p in plus.discriminator.parameters())


def test_during_the_warm_up_only_the_discriminator_has_a_loss() -> None:
    plus, batch = _small_plus(), _batch()
    cfg = IRNPlusLossConfig(d_init_iters=2, lambda_percep=0.0)
    for step in (1, 2, 3):
        losses, m = irnplus_losses(plus, batch, cfg, None, torch.Generator().manual_seed(step))
        assert set(losses) == ({"d"} if step <= 2 else {"g", "d"}), step
        assert ("g" in m) == (step > 2)
    assert int(plus.iteration) == 3


# -- the task through the generic loop ------------------------------------------------------------------------------
def _images(folder: Path, n: int = 4, size: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for i in range(n):
        smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 5, 5, generator=g), size=size, mode="bilinear")
        write_image(folder / f"{i}.png", smooth[0].clamp(0, 1))
    return folder


def _cfg(images: Path, vgg: Path | None, d_init_iters: int = 1, steps: int = 3) -> IRNPlusConfig:
    return IRNPlusConfig(
        model=IRNModelConfig(name="irn-x4-plus"),
        loss=IRNPlusLossConfig(d_init_iters=d_init_iters, vgg19_weights=str(vgg) if vgg else None),
        discriminator=IRNPlusDiscriminatorConfig(nf=8),
        data=IRNDataConfig(train_sets=(), train_folders=(str(images),), crop_size=32, val_set=None),
        train=TrainConfig(
            steps=steps,
            batch_size=2,
            log_every=1,
            val_every=0,
            ckpt_every=1,
            optim=OptimConfig(lr=1e-4, milestones=(50_000,)),
        ),
    )


def _split(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    g = {k: v for k, v in sd.items() if k.startswith("generator.")}
    d = {k: v for k, v in sd.items() if k.startswith("discriminator.") and v.is_floating_point()}
    return g, d


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_fit_trains_d_alone_during_the_warm_up_then_both(vgg19_file: Path, tmp_path: Path) -> None:
    cfg = _cfg(_images(tmp_path / "img"), vgg19_file, d_init_iters=1, steps=3)
    task = IRNPlusTask(cfg)
    torch.manual_seed(cfg.train.seed)  # fit seeds like this before build_model: the same initial weights
    g0, d0 = _split(task.build_model().state_dict())
    run = tmp_path / "run"

    fit(task, run, progress=False, max_steps=1)
    g1, d1 = _split(load_weights(run / "last" / "model.safetensors"))
    assert _same(g0, g1), "G must not change during the D-only warm-up"
    assert not _same(d0, d1), "D is updated at step 1"

    fit(task, run, progress=False, max_steps=2)
    g2, d2 = _split(load_weights(run / "last" / "model.safetensors"))
    assert not _same(g1, g2) and not _same(d1, d2)

    fit(task, run, progress=False)
    sd3 = load_weights(run / "last" / "model.safetensors")
    assert int(sd3["iteration"]) == 3
    assert torch.equal(sd3["generator.operations.0.haar_weights"], g0["generator.operations.0.haar_weights"])
    recs = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3]
    assert "g" not in recs[0] and "grad_norm_d" not in recs[0]  # D is not clipped
    assert {"g", "l_fea", "l_gan", "d", "lr_g", "lr_d"} <= set(recs[1])
    assert recs[0]["grad_norm_g"] == 0.0  # G got no gradient during the warm-up

    out = export_generator(run / "last", tmp_path / "irn_plus_x4.safetensors")
    irn = load_official_checkpoint(out, "irn-x4-plus")
    assert _same({f"generator.{k}": v for k, v in irn.state_dict().items()}, _split(sd3)[0])


def test_missing_vgg_weights_fail_when_the_task_builds_its_model(tmp_path: Path) -> None:
    images = _images(tmp_path / "img", n=2)
    with pytest.raises(ConfigError, match=r"loss\.vgg19_weights.*vgg19-dcbb9e9d\.pth"):
        IRNPlusTask(_cfg(images, None)).build_model()
    with pytest.raises(ConfigError, match="vgg19_weights"):
        fit(IRNPlusTask(_cfg(images, None)), tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match=r"vgg19-dcbb9e9d\.pth.*not found at"):
        IRNPlusTask(_cfg(images, tmp_path / "missing.pth")).build_model()
    # without the perceptual term no VGG is needed
    no_fea = IRNPlusConfig(loss=IRNPlusLossConfig(lambda_percep=0.0))
    assert isinstance(IRNPlusTask(no_fea).build_model(), IRNPlus)


def test_generator_state_dict_needs_an_irn_plus_checkpoint() -> None:
    with pytest.raises(CheckpointError, match="generator"):
        generator_state_dict({"operations.0.haar_weights": torch.zeros(1)})


# -- registry and presets -------------------------------------------------------------------------------------------
def test_irn_x4_plus_is_the_irn_x4_architecture() -> None:
    m = create_model("irn-x4-plus")
    assert isinstance(m, IRN) and m.scale == 4
    assert list(m.state_dict()) == list(create_model("irn-x4").state_dict())
    assert sum(p.numel() for p in m.parameters()) == 4_355_376


@pytest.mark.parametrize(
    ("preset", "steps", "milestones"),
    [
        ("x4_plus.yaml", 400_000, (50_000, 100_000, 200_000, 300_000)),
        ("x4_plus_paper.yaml", 200_000, (50_000, 100_000)),
    ],
)
def test_presets_follow_the_official_and_the_paper_schedules(
    preset: str, steps: int, milestones: tuple[int, ...]
) -> None:
    task = load_task(CONFIGS / preset)
    assert isinstance(task, IRNPlusTask)
    c = task.cfg
    assert c.family == "irn-plus" and c.model.name == "irn-x4-plus"
    assert (c.loss.lambda_fit, c.loss.lambda_rec, c.loss.lambda_percep, c.loss.lambda_gan) == (16, 0.01, 0.01, 1)
    assert c.loss.d_init_iters == 5000 and c.data.crop_size == 144
    assert c.train.steps == steps and c.train.batch_size == 16
    o = task.optim_configs()
    assert o["g"].lr == 1e-4 and o["g"].betas == (0.9, 0.999) and o["g"].weight_decay == 1e-5
    assert o["g"].grad_clip == 10 and o["g"].milestones == milestones and o["g"].gamma == 0.5
    assert o["d"].lr == 1e-4 and o["d"].betas == (0.9, 0.99) and o["d"].weight_decay == 0
    assert o["d"].grad_clip == 0 and o["d"].milestones == milestones


def test_validation_is_irns_on_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    from invrestore.models.irn.steps import IRNTask

    seen: list[torch.nn.Module] = []

    def fake_validate(self: IRNTask, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        seen.append(model)
        return {"psnr_y": 1.0}

    monkeypatch.setattr(IRNTask, "validate", fake_validate)
    task = IRNPlusTask(IRNPlusConfig(loss=IRNPlusLossConfig(lambda_percep=0.0)))
    plus = task.build_model()
    assert task.validate(plus, torch.device("cpu")) == {"psnr_y": 1.0}
    assert isinstance(plus, IRNPlus) and seen == [plus.generator]


def test_the_step_returns_detached_tensor_metrics_and_counts_on_the_host() -> None:
    plus, batch = _small_plus(), _batch()
    cfg = IRNPlusLossConfig(d_init_iters=1, lambda_percep=0.0)
    for _ in range(2):
        _, m = irnplus_losses(plus, batch, cfg, None, torch.Generator().manual_seed(0))
        assert all(isinstance(v, torch.Tensor) and v.ndim == 0 and not v.requires_grad for v in m.values())
    assert int(plus.iteration) == 2 and plus._steps == 2
    # a loaded state dict (resume, rollback) sets the counter: the host mirror is read again from the buffer
    sd = plus.state_dict()
    sd["iteration"] = torch.tensor(7)
    plus.load_state_dict(sd)
    assert plus._steps is None and plus.advance() == 8 and int(plus.iteration) == 8


def test_config_values_and_old_keys_fail_when_the_preset_is_loaded() -> None:
    with pytest.raises(ConfigError, match=r"loss\.lambda_gan"):
        IRNPlusLossConfig(lambda_gan=-1.0)
    with pytest.raises(ConfigError, match=r"discriminator\.betas"):
        IRNPlusDiscriminatorConfig(betas=(0.9, 1.5))
    with pytest.raises(ConfigError, match=r"data\.crop_size=16 is too small"):
        IRNPlusConfig(data=IRNDataConfig(crop_size=16))
    with pytest.raises(ConfigError, match="top-level key now: init_weights"):
        load_task(CONFIGS / "x4_plus.yaml", ["model.init_weights=IRN_x4.pth"])
    task = load_task(CONFIGS / "x4_plus.yaml", ["init_weights=IRN_x4.pth"])
    assert isinstance(task, IRNPlusTask) and task.cfg.init_weights == "IRN_x4.pth"
