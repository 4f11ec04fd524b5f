"""IRN models: official parameter counts and key layout, exact inverse, official checkpoint loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from invrestore.errors import CheckpointError, ScaleError
from invrestore.models import create_model, list_models
from invrestore.models.irn import IRN, load_official_checkpoint, quantize_ste

OFFICIAL_COUNTS = {
    "irn-x2": 1_668_000,
    "irn-x4": 4_355_376,
    "irn-x8": 11_120_256,
    "irn-x3": 3_139_029,
    "irn-x4e": 5_374_608,
}


def _official_keys(levels: list[tuple[str, int, int]]) -> list[str]:
    """State-dict keys of the official ``InvRescaleNet`` written from specs/irn.md §1.4 (ModuleList order)."""
    keys: list[str] = []
    i = 0
    for kind, _channels, blocks in levels:
        if kind == "haar":
            keys.append(f"operations.{i}.haar_weights")
            i += 1
        elif kind == "learnable":
            keys.append(f"operations.{i}.conv_weights")
            i += 1
        for _ in range(blocks):
            for sub in "FGH":
                for conv in range(1, 6):
                    keys += [
                        f"operations.{i}.{sub}.conv{conv}.weight",
                        f"operations.{i}.{sub}.conv{conv}.bias",
                    ]
            i += 1
    return keys


OFFICIAL_LAYOUT = {
    "irn-x2": [("haar", 3, 8)],
    "irn-x4": [("haar", 3, 8), ("haar", 12, 8)],
    "irn-x8": [("haar", 3, 8), ("haar", 12, 8), ("haar", 48, 8)],
    "irn-x3": [("learnable", 3, 12)],
    "irn-x4e": [("haar", 3, 0), ("haar", 12, 16)],
}


def _perturbed(name: str, seed: int = 0) -> IRN:
    torch.manual_seed(seed)
    m = create_model(name)
    assert isinstance(m, IRN)
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    return m.eval()


def test_every_irn_variant_is_registered() -> None:
    assert set(OFFICIAL_COUNTS) <= set(list_models("irn"))


@pytest.mark.parametrize(("name", "count"), sorted(OFFICIAL_COUNTS.items()))
def test_parameter_counts_equal_the_official_code(name: str, count: int) -> None:
    assert sum(p.numel() for p in create_model(name).parameters()) == count


@pytest.mark.parametrize("name", sorted(OFFICIAL_LAYOUT))
def test_state_dict_keys_follow_the_official_layout(name: str) -> None:
    assert list(create_model(name).state_dict()) == _official_keys(OFFICIAL_LAYOUT[name])


@pytest.mark.parametrize("name", sorted(OFFICIAL_COUNTS))
def test_inverse_recovers_the_input_at_a_random_perturbed_init(name: str) -> None:
    m = _perturbed(name)
    s = m.scale
    x = torch.rand(2, 3, 4 * s, 2 * s)
    with torch.no_grad():
        out, logdet = m(x)
        x_rec, logdet_inv = m.inverse(out)
    assert out.shape == (2, 3 * s * s, 4, 2)
    assert (x_rec - x).abs().max() <= 1e-4
    assert torch.allclose(logdet, -logdet_inv, rtol=1e-4, atol=1e-3)


def test_at_initialisation_the_lr_image_is_the_box_mean() -> None:
    m = create_model("irn-x4")
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        y, _ = m.downscale(x, quantize=False)
    assert torch.allclose(y, torch.nn.functional.avg_pool2d(x, 4), atol=1e-6)


def test_quantisation_rounds_to_8_bits_with_a_straight_through_gradient() -> None:
    y = torch.tensor([-0.2, 0.31, 1.4, 0.4 / 255], requires_grad=True)
    q = quantize_ste(y)
    assert torch.allclose(q * 255, torch.tensor([0.0, 79.0, 255.0, 0.0]), atol=1e-4)
    q.sum().backward()
    assert torch.equal(y.grad, torch.ones(4))


def test_sizes_not_divisible_by_the_scale_are_refused_clearly() -> None:
    with pytest.raises(ScaleError, match="multiple of the scale 4"):
        create_model("irn-x4")(torch.rand(1, 3, 10, 12))


def test_official_checkpoint_loads_plain_prefixed_and_wrapped(tmp_path: Path) -> None:
    ref = _perturbed("irn-x2", seed=1)
    sd = ref.state_dict()
    variants = {
        "plain.pth": sd,
        "module.pth": {f"module.{k}": v for k, v in sd.items()},
        "wrapped.pth": {"state_dict": sd, "iter": 5},
    }
    for fname, obj in variants.items():
        torch.save(obj, tmp_path / fname)
        m = load_official_checkpoint(tmp_path / fname, "irn-x2")
        assert all(torch.equal(m.state_dict()[k], sd[k]) for k in sd), fname


def test_a_checkpoint_of_another_scale_is_refused_with_the_mismatch(tmp_path: Path) -> None:
    torch.save(create_model("irn-x2").state_dict(), tmp_path / "x2.pth")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_official_checkpoint(tmp_path / "x2.pth", "irn-x4")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04garbage"])
def test_a_corrupt_checkpoint_is_refused_clearly(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.pth").write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_official_checkpoint(tmp_path / "bad.pth", "irn-x2")


def test_fractional_scales_rescale_around_the_next_integer_model() -> None:
    from invrestore.models.irn import FractionalIRN

    frac = FractionalIRN(_perturbed("irn-x2"), 1.5)
    x = torch.rand(1, 3, 30, 45)
    with torch.no_grad():
        y, z = frac.downscale(x)
        x_hat = frac.upscale(y, size=(30, 45), z=z)
    assert y.shape[-2:] == (20, 30)
    assert x_hat.shape == x.shape
    # resizing is not invertible, but with the true z the round trip stays close
    assert (x_hat - x).abs().mean() < 0.1


def test_fractional_scale_outside_the_model_range_is_refused() -> None:
    from invrestore.models.irn import FractionalIRN

    with pytest.raises(ScaleError, match="serves scales in"):
        FractionalIRN(_perturbed("irn-x4"), 2.5)
