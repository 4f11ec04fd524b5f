"""The fast training path: each switch is checked against the plain float32 eager loop."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import torch
from torch.utils.data import DataLoader

from invrestore.data.datasets import ImageFolder, PairedDataset
from invrestore.data.device import DeviceResidentData
from invrestore.degradations.imresize import imresize
from invrestore.errors import ConfigError
from invrestore.io import write_image
from invrestore.train import fit
from invrestore.train.loop import StepBatchSampler

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import ToyTask


def _images(folder: Path, n: int = 5) -> ImageFolder:
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    for i in range(n):
        h, w = 20 + 3 * i, 27 - 2 * i  # odd sizes: modcrop and the packed layout must cope
        write_image(folder / f"im{i}.png", torch.rand(3, h, w, generator=g))
    return ImageFolder(folder, mode="rgb", cache=True)


def _bicubic_x2(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return imresize(x, size=(x.shape[-2] // 2, x.shape[-1] // 2))


def _noise(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return x + 0.1 * torch.randn(x.shape, generator=g)


@pytest.mark.parametrize("where", ["whole", "crop"])
def test_device_resident_batches_equal_the_data_loaders_bit_for_bit(tmp_path: Path, where: str) -> None:
    images = _images(tmp_path / "im")
    degrade = _bicubic_x2 if where == "whole" else _noise
    ds = PairedDataset(images, 12, degrade, scale=2, where=where, seed=7, repeat=3)  # type: ignore[arg-type]
    sampler = StepBatchSampler(len(ds), 4, seed=1, start_step=0, steps=12, virtual=True)
    dev = DeviceResidentData.from_dataset(ds, torch.device("cpu"))
    for indices, ref in zip(sampler, DataLoader(ds, batch_sampler=sampler), strict=True):
        got = dev.batch(indices)
        assert set(got) == {"x", "x_lq"}
        for k in got:
            assert got[k].shape == ref[k].shape and torch.equal(got[k], ref[k]), k


def test_device_resident_rejects_other_datasets_with_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PairedDataset"):
        DeviceResidentData.from_dataset(list(range(4)), torch.device("cpu"))


class PairedToy(ToyTask):
    """The toy task on a PairedDataset (what IRN trains on): a conv net maps the LR guide up to the HR crop."""

    folder: Path = Path()

    def build_model(self) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 12, 3, padding=1),
            torch.nn.PixelShuffle(2),
        )  # fmt: skip

    def train_dataset(self) -> Any:
        return PairedDataset(_images(self.folder), 12, _bicubic_x2, scale=2, where="whole", seed=3, repeat=2)

    def training_step(
        self, model: torch.nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        loss = (model(batch["x_lq"]) - batch["x"]).abs().mean()
        return loss, {"loss": float(loss.detach())}

    def validate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        return {"score": 0.0}


def _task(folder: Path, **train: Any) -> PairedToy:
    t = PairedToy()
    t.folder = folder
    base: dict[str, Any] = {"steps": 12, "log_every": 1, "val_every": 0, "ckpt_every": 6}
    t.train = dataclasses.replace(t.train, **{**base, **train})
    return t


def _losses(run: Path) -> list[float]:
    recs = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in recs if r["kind"] == "train"]


def test_a_device_resident_run_repeats_the_data_loader_runs_losses_exactly(tmp_path: Path) -> None:
    fit(_task(tmp_path / "im"), tmp_path / "a", progress=False)
    fit(_task(tmp_path / "im", device_resident=True), tmp_path / "b", progress=False)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b") and len(_losses(tmp_path / "a")) == 12


def test_foreach_adam_channels_last_and_fewer_syncs_match_the_eager_loop(tmp_path: Path) -> None:
    fit(_task(tmp_path / "im"), tmp_path / "a", progress=False)
    fast = _task(tmp_path / "im", fused_optim=True, channels_last=True, sync_every=3, device_resident=True)
    fast.train = dataclasses.replace(fast.train, log_every=3)
    fit(fast, tmp_path / "b", progress=False)
    a, b = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    means = [sum(a[i : i + 3]) / 3 for i in range(0, 12, 3)]  # log_every=3 logs the mean of 3 steps
    assert b == pytest.approx(means, rel=1e-4)
    wa = torch.load(tmp_path / "a" / "last" / "state.pt", weights_only=False)["optimizers"]["main"]["state"]
    wb = torch.load(tmp_path / "b" / "last" / "state.pt", weights_only=False)["optimizers"]["main"]["state"]
    assert torch.allclose(wa[0]["exp_avg"], wb[0]["exp_avg"], rtol=1e-3, atol=1e-7)


def test_bf16_autocast_trains_close_to_float32(tmp_path: Path) -> None:
    fit(_task(tmp_path / "im"), tmp_path / "a", progress=False)
    fit(_task(tmp_path / "im", precision="bf16"), tmp_path / "b", progress=False)
    a, b = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert a != b  # autocast really ran in bfloat16
    assert b == pytest.approx(a, rel=3e-2)  # bfloat16 keeps 8 bits of mantissa: a few per mille per op


def test_fp16_with_the_gradient_scaler_trains_and_resumes(tmp_path: Path) -> None:
    fit(_task(tmp_path / "im", precision="fp16"), tmp_path / "a", progress=False)
    fit(_task(tmp_path / "im", precision="fp16"), tmp_path / "b", progress=False, max_steps=6)
    state = torch.load(tmp_path / "b" / "last" / "state.pt", weights_only=False)
    assert state["scaler"]["scale"] > 0
    fit(_task(tmp_path / "im", precision="fp16"), tmp_path / "b", progress=False)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    ref = _task(tmp_path / "im")
    fit(ref, tmp_path / "c", progress=False)
    assert _losses(tmp_path / "a") == pytest.approx(_losses(tmp_path / "c"), rel=3e-2)


def test_compiled_step_matches_the_eager_step(tmp_path: Path) -> None:
    fit(_task(tmp_path / "im", steps=4), tmp_path / "a", progress=False)
    fit(_task(tmp_path / "im", steps=4, compile="default"), tmp_path / "b", progress=False)
    assert _losses(tmp_path / "b") == pytest.approx(_losses(tmp_path / "a"), rel=1e-4)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [("precision", "fp8", "precision"), ("compile", "fast", "compile"), ("nan_policy", "skip", "nan_policy")],
)
def test_unknown_fast_settings_raise_config_errors(tmp_path: Path, key: str, value: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        fit(_task(tmp_path / "im", **{key: value}), tmp_path / "a", progress=False)


def test_bf16_keeps_an_invertible_networks_stream_in_float32() -> None:
    from invrestore.models.registry import create_model
    from invrestore.train.fast import keep_flows_in_float32

    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))

    def recon_error(net: torch.nn.Module) -> tuple[float, torch.dtype]:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            out, _ = net(x)
            back, _ = net.inverse(out)  # type: ignore[operator]
        return float((back.float() - x).abs().max()), out.dtype

    plain = create_model("irn-x4").eval()
    guarded = create_model("irn-x4").eval()
    guarded.load_state_dict(plain.state_dict())
    assert keep_flows_in_float32(guarded) == 18  # 16 InvBlocks + 2 Haar levels
    err_plain, dtype_plain = recon_error(plain)
    err_guarded, dtype_guarded = recon_error(guarded)
    assert dtype_plain == torch.bfloat16 and dtype_guarded == torch.float32
    assert err_guarded < 1e-3 < err_plain  # bf16 streams lose invertibility; the guarded one keeps it


def test_guarded_dense_subnets_concatenate_in_bf16_with_the_same_forward() -> None:
    """The subnet input is cast once on entry: the forward is bit-identical to letting each conv cast it, and no
    concatenation inside a DenseBlock is promoted to float32 (or laid out again in NCHW under channels-last)."""
    from invrestore.models.registry import create_model
    from invrestore.train import fast

    torch.manual_seed(0)
    net = create_model("irn-x2")
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))  # make the zero-initialised last convs matter
    x = torch.rand(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)

    def run(pre_cast: bool) -> tuple[torch.Tensor, list[tuple[torch.dtype, bool]]]:
        m = copy.deepcopy(net)
        hook = fast._low_precision_input
        if not pre_cast:
            fast._low_precision_input = lambda module, args: None  # type: ignore[assignment]
        try:
            fast.keep_flows_in_float32(m)
        finally:
            fast._low_precision_input = hook  # type: ignore[assignment]
        m = m.to(memory_format=torch.channels_last)
        cats: list[tuple[torch.dtype, bool]] = []
        real_cat = torch.cat

        def spy(tensors: Any, dim: int = 0) -> torch.Tensor:
            out = real_cat(tensors, dim)
            cats.append((out.dtype, out.is_contiguous(memory_format=torch.channels_last)))
            return out

        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16), mock.patch.object(torch, "cat", spy):
            out, _ = m(x)
        return out, cats

    ref, cats_ref = run(pre_cast=False)
    out, cats = run(pre_cast=True)
    assert torch.equal(out, ref) and out.dtype == torch.float32
    low = [cl for d, cl in cats if d == torch.bfloat16]
    assert len(low) == 4 * 24 and all(low)  # the 4 cats of each of the 24 DenseBlocks: bf16, channels-last
    stream = len(cats) - len(low)  # the float32 cats of the invertible stream itself
    assert sum(d == torch.float32 for d, _ in cats_ref) == stream + 4 * 24  # before: promoted to float32
