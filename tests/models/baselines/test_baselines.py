"""Restoration baselines: the papers' parameter counts and forward shapes (odd sizes included)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from invrestore.models import create_model, list_models
from invrestore.models.baselines import ARCNN, MODEL_CONFIGS, DnCNN, FFDNet, UNet, parameter_count
from invrestore.models.registry import MODELS

EXPECTED = {
    "dncnn": 1_483_136,  # IRAE paper: 1.48M (colour, 40 conv+BN+ReLU layers)
    "unet": 7_699_011,  # IRAE paper: 7.70M (depth 4, width 64)
    "arcnn": 117_734,  # the IRAE repo's AR-CNN (spec count)
    "ffdnet": 854_688,  # FFDNet colour preset (12 layers, width 96, no biases); no count in the papers
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registered_baselines_have_the_papers_parameter_counts(name: str) -> None:
    assert name in list_models("baselines")
    assert parameter_count(create_model(name)) == EXPECTED[name] == MODELS[name].params
    assert MODELS[name].trainer == "baselines" and MODELS[name].builder is type(create_model(name))


def test_each_trainable_baseline_config_is_its_constructors_keyword_arguments() -> None:
    import dataclasses
    import inspect

    for name, cls in MODEL_CONFIGS.items():
        fields = {f.name for f in dataclasses.fields(cls)} - {"name"}
        params = set(inspect.signature(MODELS[name].builder).parameters)
        assert fields == params, name
        assert cls().name == name


def test_parameter_counts_follow_the_closed_forms() -> None:
    c, w = 3, 64
    assert parameter_count(DnCNN()) == 9 * c * w + 40 * (9 * w * w + 2 * w) + 9 * w * c
    assert parameter_count(DnCNN(middle_layers=15)) == 9 * c * w + 15 * (9 * w * w + 2 * w) + 9 * w * c
    w = 96
    assert parameter_count(FFDNet()) == 9 * 5 * c * w + 10 * (9 * w * w + 2 * w) + 9 * w * 4 * c
    assert parameter_count(UNet(last_kernel=1)) == EXPECTED["unet"] - 1_536  # the plain 1×1 head
    assert parameter_count(ARCNN()) == (3 * 64 * 81 + 64) + (64 * 32 * 49 + 32) + (32 * 16 + 16) + (16 * 3 * 25 + 3) + 3


@pytest.mark.parametrize("size", [(16, 16), (13, 11), (9, 6)])
def test_forward_keeps_the_shape_for_any_size(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, *size)
    small = {
        "dncnn": DnCNN(middle_layers=2, width=8).eval(),
        "unet": UNet(depth=4, width=4).eval(),
        "arcnn": ARCNN().eval(),
    }
    with torch.no_grad():
        for model in small.values():
            assert model(x).shape == x.shape
        ffd = FFDNet(num_layers=3, width=8).eval()
        for sigma in (25 / 255, torch.rand(2), torch.rand(2, 3), torch.rand(2, 1, *size)):
            assert ffd(x, sigma).shape == x.shape


def test_unet_pads_to_a_multiple_and_crops_back_without_changing_aligned_inputs() -> None:
    torch.manual_seed(1)
    net = UNet(depth=3, width=4).eval()
    x = torch.rand(1, 3, 12, 16)
    with torch.no_grad():
        full = net(x)
        # a crop that needs padding gives the same interior as padding it by hand
        part = net(x[..., :10, :14])
        manual = net(F.pad(x[..., :10, :14], (0, 2, 0, 2), mode="reflect"))[..., :10, :14]
    assert full.shape == x.shape
    assert torch.allclose(part, manual)


def test_ffdnet_uses_the_noise_map() -> None:
    torch.manual_seed(2)
    net = FFDNet(num_layers=3, width=8).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        a, b = net(x, 10 / 255), net(x, 50 / 255)
        c = net(x, torch.full((1, 1, 8, 8), 10 / 255))
    assert not torch.allclose(a, b)
    assert torch.allclose(a, c)  # a constant map equals the scalar σ
    first = net.body[0]
    assert isinstance(first, torch.nn.Conv2d) and first.in_channels == 15 and first.bias is None


def test_dncnn_residual_mode_subtracts_the_predicted_noise() -> None:
    torch.manual_seed(3)
    plain = DnCNN(middle_layers=1, width=4).eval()
    res = DnCNN(middle_layers=1, width=4, residual=True).eval()
    res.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        assert torch.allclose(res(x), x - plain(x))


def test_arcnn_init_and_layers() -> None:
    torch.manual_seed(4)
    net = ARCNN()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.kernel_size[0] for m in convs] == [9, 7, 1, 5]
    assert [m.out_channels for m in convs] == [64, 32, 16, 3]
    assert float(convs[1].weight.detach().std()) == pytest.approx(1e-3, rel=0.05)
    assert all(float(m.bias.detach().abs().max()) == 0 for m in convs if m.bias is not None)


def test_inputs_with_the_wrong_channel_count_are_rejected() -> None:
    with pytest.raises(ValueError):
        DnCNN(middle_layers=1, width=4)(torch.rand(1, 1, 8, 8))
