"""pix2pix family: parameter counts of the spec's table, shapes of UNet-N / En/Decoder-N, InfoAccum, SubPixUpsamp,
PatchGAN, the pix2pix key layout, and full-image restoration with padding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from invrestore.errors import ConfigError
from invrestore.models import create_model, list_models
from invrestore.models.pix2pix import (
    EncoderDecoderGenerator,
    InfoAccum,
    PatchDiscriminator,
    UNetGenerator,
    count_parameters,
    pad_to_multiple,
    pix2pix_test_mode,
    restore,
)

# specs/restoration_vae.md, parameter-count table (counted from the official definitions)
SPEC_COUNTS = {
    "pix2pix-unet-8": 54_413_955,
    "pix2pix-unet-5": 16_659_075,
    "pix2pix-unet-5-subpix": 16_666_764,
    "pix2pix-unet-5-ia15-subpix": 17_000_034,
    "pix2pix-patchgan": 2_768_705,
}


@pytest.mark.parametrize("name", sorted(SPEC_COUNTS))
def test_reference_configurations_have_the_spec_parameter_counts(name: str) -> None:
    assert count_parameters(create_model(name)) == SPEC_COUNTS[name]


def test_infoaccum_15_with_growth_4_has_148950_parameters_and_183_output_channels() -> None:
    ia = InfoAccum(3, layers=15, growth=4)
    assert count_parameters(ia) == 148_950
    assert ia.out_channels == 183


def test_every_registered_pix2pix_model_matches_its_documented_count() -> None:
    names = list_models("pix2pix")
    assert {f"pix2pix-unet-{n}" for n in range(1, 9)} <= set(names)
    assert {f"pix2pix-encdec-{n}" for n in range(1, 9)} <= set(names)
    from invrestore.models.registry import MODELS

    for name in names:
        # every generator is trained by the pix2pix task as its model:, the PatchGAN only as its discriminator
        trainer = None if name == "pix2pix-patchgan" else "pix2pix"
        assert MODELS[name].params is not None and MODELS[name].trainer == trainer, name
        with torch.device("meta"):
            assert count_parameters(create_model(name)) == MODELS[name].params, name


@pytest.mark.parametrize("depth", range(1, 9))
def test_unet_n_keeps_the_image_size_at_multiples_of_2_to_the_n(depth: int) -> None:
    g = UNetGenerator(depth, ngf=4, max_channels=32)
    x = torch.rand(2, 3, 2**depth, 2 ** (depth + 1)) * 2 - 1
    y = g(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1.0  # Tanh


@pytest.mark.parametrize("depth", range(1, 9))
def test_encdec_n_keeps_the_image_size(depth: int) -> None:
    g = EncoderDecoderGenerator(depth, ngf=4, max_channels=32)
    x = torch.rand(2, 3, 2**depth, 2**depth)
    assert g(x).shape == x.shape


@pytest.mark.parametrize(("depth", "dropouts"), [(5, 0), (6, 1), (7, 2), (8, 3)])
def test_dropout_sits_in_the_512_to_512_levels_as_in_pix2pix(depth: int, dropouts: int) -> None:
    g = UNetGenerator(depth, ngf=8, max_channels=64)  # same rule with a smaller cap
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == dropouts
    assert not any(
        isinstance(m, nn.Dropout) for m in UNetGenerator(depth, ngf=8, max_channels=64, dropout=False).modules()
    )


def test_reduced_width_generators_keep_pix2pix_cap_of_eight_times_ngf() -> None:
    from invrestore.models.pix2pix.model import level_channels

    assert level_channels(8, 16) == [16, 32, 64, 128, 128, 128, 128, 128]
    assert level_channels(8) == [64, 128, 256, 512, 512, 512, 512, 512]
    g = UNetGenerator(8, ngf=16)
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == 3  # as unet_256 at ngf = 64
    assert count_parameters(g) == 3_404_451  # ≈ 54,413,955 / 16


def test_generator_rejects_sizes_that_are_not_multiples_of_2_to_the_n() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        UNetGenerator(3, ngf=4)(torch.rand(1, 3, 12, 16))


def test_pix2pix_unet_256_state_dict_keys_follow_the_reference_layout() -> None:
    sd = UNetGenerator(8, ngf=2, max_channels=16).state_dict()
    inner = "model." + "model.1." + "model.3." * 6  # outermost -> 6 middle levels -> innermost
    expected = {
        "model.model.0.weight",  # outermost down conv (no bias under BatchNorm)
        "model.model.3.weight",  # outermost ConvT
        "model.model.3.bias",
        "model.model.1.model.1.weight",  # level 2 down conv
        "model.model.1.model.2.running_mean",  # level 2 down BN
        "model.model.1.model.5.weight",  # level 2 ConvT
        "model.model.1.model.6.weight",  # level 2 up BN
        inner + "model.1.weight",  # innermost down conv
        inner + "model.3.weight",  # innermost ConvT
        inner + "model.4.weight",  # innermost up BN
    }
    assert expected <= set(sd)
    assert "model.model.0.bias" not in sd
    d = PatchDiscriminator(ndf=4).state_dict()
    assert {"model.0.weight", "model.0.bias", "model.2.weight", "model.3.running_var", "model.11.bias"} <= set(d)
    assert "model.2.bias" not in d


def test_pix2pix_initialisation_is_normal_0_002_with_batchnorm_weights_around_one() -> None:
    torch.manual_seed(0)
    g = UNetGenerator(5)
    w = g.model.model[0].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002
    bn = g.model.model[1].model[2]
    assert isinstance(bn, nn.BatchNorm2d)
    with torch.no_grad():
        assert abs(float(bn.weight.mean()) - 1.0) < 0.01 and float(bn.bias.abs().max()) == 0.0
        assert float(g.model.model[3].bias.abs().max()) == 0.0


def test_subpix_top_replaces_the_outermost_transposed_conv_by_conv_and_pixelshuffle() -> None:
    g = UNetGenerator(2, ngf=4, subpix_top=True)
    assert any(isinstance(m, nn.PixelShuffle) for m in g.modules())
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in g.modules()) == 1  # only the inner level keeps ConvT
    x = torch.rand(1, 3, 8, 8)
    assert g(x).shape == x.shape


def test_icnr_makes_the_subpixel_layer_start_as_nearest_upsampling() -> None:
    g = UNetGenerator(1, ngf=4, subpix_top=True, icnr=True).eval()
    y = g(torch.rand(1, 3, 8, 8))
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        torch.testing.assert_close(y[..., 0::2, 0::2], y[..., dy::2, dx::2])


def test_infoaccum_passes_its_input_through_and_adds_growth_times_three_channels_per_layer() -> None:
    ia = InfoAccum(3, layers=2, growth=2)
    x = torch.rand(2, 3, 9, 9)
    y = ia(x)
    assert y.shape == (2, 3 + 2 * 6, 9, 9)
    assert torch.equal(y[:, :3], x)


def test_infoaccum_can_sit_before_any_encoder_level() -> None:
    g = UNetGenerator(4, ngf=4, info_accum_layers=2, info_accum_growth=1, info_accum_positions=(1, 2, 4))
    assert sum(isinstance(m, InfoAccum) for m in g.modules()) == 3
    x = torch.rand(2, 3, 16, 16)
    assert g(x).shape == x.shape
    with pytest.raises(ConfigError):
        UNetGenerator(4, ngf=4, info_accum_layers=2, info_accum_positions=(5,))


def test_patchgan_gives_30x30_logits_on_256_and_2x2_on_32() -> None:
    d = PatchDiscriminator(ndf=4)
    assert d(torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert d(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)).shape == (2, 1, 2, 2)


def test_pad_to_multiple_reflects_and_the_crop_gives_back_the_image() -> None:
    x = torch.rand(1, 3, 37, 45)
    p = pad_to_multiple(x, 16)
    assert p.shape == (1, 3, 48, 48)
    assert torch.equal(p[..., :37, :45], x)
    assert torch.equal(p[..., 37, :45], x[..., 35, :])  # reflect: row 37 mirrors row 35
    tiny = pad_to_multiple(torch.rand(1, 3, 5, 6), 32)  # pad ≥ side: replicate
    assert tiny.shape == (1, 3, 32, 32)


@pytest.mark.parametrize("shape", [(3, 37, 45), (2, 3, 19, 8)])
def test_restore_handles_odd_sizes_and_returns_images_in_0_1(shape: tuple[int, ...]) -> None:
    g = UNetGenerator(3, ngf=4)
    x = torch.rand(shape)
    y = restore(g, x)
    assert y.shape == x.shape
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_train_mode_inference_leaves_batchnorm_statistics_and_the_mode_untouched() -> None:
    torch.manual_seed(0)
    g = UNetGenerator(3, ngf=4).eval()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    x = torch.rand(1, 3, 16, 16)
    y_train = restore(g, x)  # pix2pix default: batch statistics
    y_eval = restore(g, x, eval_mode=True)
    assert not g.training
    for k, v in g.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not torch.allclose(y_train, y_eval)
    with pix2pix_test_mode(g) as m:
        assert m.training and not torch.is_grad_enabled()
    assert not g.training


def test_state_dicts_hold_each_parameter_once() -> None:
    g = UNetGenerator(2, ngf=4, subpix_top=True, icnr=True, info_accum_layers=1, info_accum_growth=1)
    assert len(g.state_dict(keep_vars=True)) == len(list(g.parameters())) + len(list(g.buffers()))
