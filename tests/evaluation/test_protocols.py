"""Evaluation protocols on synthetic images: what each stage hands to the method, and how it scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from skimage import data

from invrestore.color import ImageShapeError, rgb_to_y_matlab
from invrestore.degradations import imresize
from invrestore.errors import ConfigError, DatasetNotFoundError, ScaleError
from invrestore.evaluation import (
    METRIC_KEYS,
    PROTOCOLS,
    BicubicMethod,
    EvaluationProtocol,
    RescalingMethod,
    evaluate_dataset,
    get_protocol,
    modcrop,
)
from invrestore.metrics import psnr, quantize_8bit, ssim


@pytest.fixture(scope="module")
def hr() -> torch.Tensor:
    """A 67×83 RGB crop with 8-bit values (sizes not multiples of 2, 3 or 4)."""
    return torch.from_numpy(data.astronaut()[40:107, 180:263].copy()).permute(2, 0, 1).float() / 255.0


@dataclass
class SpyMethod:
    """Bicubic, recording what the protocol hands over."""

    calls: list[tuple[str, torch.dtype, tuple[int, ...], bool]] = field(default_factory=list)

    def _record(self, stage: str, x: torch.Tensor) -> None:
        on_grid = bool(torch.allclose(x * 255, (x * 255).round(), atol=1e-4))
        self.calls.append((stage, x.dtype, tuple(x.shape), on_grid))

    def downscale(self, hr: torch.Tensor, scale: int) -> torch.Tensor:
        self._record("down", hr)
        return BicubicMethod().downscale(hr, scale)

    def upscale(self, lr: torch.Tensor, scale: int) -> torch.Tensor:
        self._record("up", lr)
        return BicubicMethod().upscale(lr, scale)


def test_registry_holds_the_three_named_protocols() -> None:
    assert set(PROTOCOLS) == {"irn", "vdsr", "lapsrn"}
    for name, proto in PROTOCOLS.items():
        assert get_protocol(name) is proto and proto.name == name and proto.description
    with pytest.raises(ConfigError):
        get_protocol("basicsr")
    with pytest.raises(TypeError):
        PROTOCOLS["mine"] = PROTOCOLS["irn"]  # type: ignore[index]


def test_bicubic_method_is_a_rescaling_method_and_needs_multiples_of_the_scale() -> None:
    method = BicubicMethod()
    assert isinstance(method, RescalingMethod)
    x = torch.rand(2, 3, 12, 16)
    assert method.downscale(x, 4).shape == (2, 3, 3, 4)
    assert method.upscale(method.downscale(x, 4), 4).shape == x.shape
    with pytest.raises(ScaleError):
        method.downscale(torch.rand(1, 3, 13, 16), 4)


def test_modcrop_cuts_bottom_and_right_to_multiples_of_the_scale(hr: torch.Tensor) -> None:
    assert modcrop(hr, 4).shape == (3, 64, 80)
    assert torch.equal(modcrop(hr, 4), hr[:, :64, :80])
    assert torch.equal(modcrop(hr, 1), hr)


def test_irn_protocol_hands_float32_rgb_and_an_8bit_lr(hr: torch.Tensor) -> None:
    spy = SpyMethod()
    get_protocol("irn").evaluate(hr, spy, 3)
    assert spy.calls == [
        ("down", torch.float32, (1, 3, 66, 81), True),
        ("up", torch.float32, (1, 3, 22, 27), True),
    ]


def test_vdsr_protocol_hands_the_rounded_y_channel_in_float64_and_keeps_the_lr_unrounded(
    hr: torch.Tensor,
) -> None:
    spy = SpyMethod()
    result = get_protocol("vdsr").evaluate(hr, spy, 4)
    assert spy.calls == [
        ("down", torch.float64, (1, 1, 64, 80), True),
        ("up", torch.float64, (1, 1, 16, 20), False),
    ]
    assert result.psnr_rgb is None and result.ssim_rgb is None


def test_lapsrn_protocol_hands_float64_rgb_and_keeps_the_lr_unrounded(hr: torch.Tensor) -> None:
    spy = SpyMethod()
    get_protocol("lapsrn").evaluate(hr, spy, 2)
    assert spy.calls == [
        ("down", torch.float64, (1, 3, 66, 82), True),
        ("up", torch.float64, (1, 3, 33, 41), False),
    ]


def test_irn_protocol_equals_the_pipeline_written_out(hr: torch.Tensor) -> None:
    s = 2
    x = modcrop(hr, s)[None]
    lr = quantize_8bit(imresize(x, size=(x.shape[-2] // s, x.shape[-1] // s))) / 255
    sr = quantize_8bit(imresize(lr, s)) / 255
    result = get_protocol("irn").evaluate(hr, BicubicMethod(), s, name="crop")
    assert result.name == "crop"
    assert result.psnr_y == pytest.approx(psnr(sr, x, s, "y").item(), abs=1e-9)
    assert result.ssim_y == pytest.approx(ssim(sr, x, s, "y").item(), abs=1e-9)
    assert result.psnr_rgb == pytest.approx(psnr(sr, x, s, "rgb").item(), abs=1e-9)
    assert result.ssim_rgb == pytest.approx(ssim(sr, x, s, "rgb").item(), abs=1e-9)


def test_vdsr_protocol_rounds_y_first_and_only_rounds_again_at_the_end(hr: torch.Tensor) -> None:
    s = 3
    y = quantize_8bit(rgb_to_y_matlab(modcrop(hr, s).double()[None])) / 255
    lr = imresize(y, size=(y.shape[-2] // s, y.shape[-1] // s))
    sr = quantize_8bit(imresize(lr, s)) / 255
    result = get_protocol("vdsr").evaluate(hr, BicubicMethod(), s)
    assert result.psnr_y == pytest.approx(psnr(sr, y, s).item(), abs=1e-9)
    assert result.ssim_y == pytest.approx(ssim(sr, y, s).item(), abs=1e-9)


def test_lapsrn_protocol_uses_matlab_ssim_with_same_size_maps(hr: torch.Tensor) -> None:
    s = 4
    x = modcrop(hr, s).double()[None]
    sr = quantize_8bit(imresize(imresize(x, 1 / s), s)) / 255
    result = get_protocol("lapsrn").evaluate(hr, BicubicMethod(), s)
    assert result.psnr_y == pytest.approx(psnr(sr, x, s, "y").item(), abs=1e-9)
    assert result.ssim_y == pytest.approx(ssim(sr, x, s, "y", variant="matlab").item(), abs=1e-9)
    assert result.ssim_rgb == pytest.approx(ssim(sr, x, s, "rgb", variant="matlab").item(), abs=1e-9)


@pytest.mark.parametrize("name", ["irn", "lapsrn"])
def test_grayscale_images_are_scored_as_y_and_their_rgb_scores_equal_the_y_scores(hr: torch.Tensor, name: str) -> None:
    gray = hr[1:2]
    result = get_protocol(name).evaluate(gray, BicubicMethod(), 2)
    assert result.psnr_rgb == result.psnr_y and result.ssim_rgb == result.ssim_y
    x = modcrop(gray, 2)[None].double()
    lr = imresize(x, 0.5)
    if name == "irn":
        lr = quantize_8bit(lr) / 255
    sr = quantize_8bit(imresize(lr, 2.0)) / 255
    assert result.psnr_y == pytest.approx(psnr(sr, x, 2).item(), abs=1e-6)


def test_grayscale_as_rgb_scores_the_replicated_image_through_matlab_y(hr: torch.Tensor) -> None:
    # Y = 16 + 219/255 * gray shrinks every error by 219/255: +20 log10(255/219) dB.
    gray = hr[1:2]
    as_y = get_protocol("lapsrn").evaluate(gray, BicubicMethod(), 2)
    as_rgb = get_protocol("lapsrn").with_options(grayscale_as_rgb=True).evaluate(gray, BicubicMethod(), 2)
    assert as_rgb.psnr_y - as_y.psnr_y == pytest.approx(1.3222, abs=2e-3)
    assert as_rgb.psnr_rgb == pytest.approx(as_y.psnr_rgb, abs=1e-9)


def test_protocols_reject_bad_scales_shapes_and_method_outputs(hr: torch.Tensor) -> None:
    proto = get_protocol("irn")
    with pytest.raises(ScaleError):
        proto.evaluate(hr, BicubicMethod(), 2.5)  # type: ignore[arg-type]
    with pytest.raises(ScaleError):
        proto.evaluate(hr[:, :5, :5], BicubicMethod(), 4)
    with pytest.raises(ImageShapeError):
        proto.evaluate(hr[None], BicubicMethod(), 2)

    class Broken:
        def downscale(self, hr: torch.Tensor, scale: int) -> torch.Tensor:
            return hr

        def upscale(self, lr: torch.Tensor, scale: int) -> torch.Tensor:
            return lr

    with pytest.raises(ImageShapeError, match="downscale"):
        proto.evaluate(hr, Broken(), 2)


def test_evaluate_dataset_averages_per_image_rows(hr: torch.Tensor) -> None:
    images = [("a", hr), ("b", hr[:, 3:, 5:]), ("gray", hr[2:3])]
    result = evaluate_dataset(iter(images), BicubicMethod(), 2, "irn")
    assert result.protocol == "irn" and result.scale == 2
    rows = result.rows()
    assert [r["name"] for r in rows] == ["a", "b", "gray"]
    assert set(rows[0]) == {"name", *METRIC_KEYS}
    for key in METRIC_KEYS:
        assert result.means[key] == pytest.approx(sum(r[key] for r in rows) / 3, abs=1e-12)
    vdsr = evaluate_dataset(images, BicubicMethod(), 2, get_protocol("vdsr"))
    assert vdsr.means["psnr_rgb"] is None and vdsr.means["psnr_y"] is not None
    with pytest.raises(DatasetNotFoundError):
        evaluate_dataset([], BicubicMethod(), 2, "irn")


def test_protocols_are_frozen_and_copied_with_options() -> None:
    irn = get_protocol("irn")
    custom = irn.with_options(name="irn-rgb-gray", grayscale_as_rgb=True)
    assert isinstance(custom, EvaluationProtocol) and custom.grayscale_as_rgb and not irn.grayscale_as_rgb
    with pytest.raises(AttributeError):
        irn.name = "x"  # type: ignore[misc]


def test_lr_scoring_compares_the_method_lr_with_the_bicubic_lr() -> None:
    from invrestore.evaluation import BicubicMethod, get_protocol

    g = torch.Generator().manual_seed(0)
    hr = torch.round(torch.rand(3, 24, 24, generator=g) * 255) / 255
    r = get_protocol("irn").with_options(score_lr=True).evaluate(hr, BicubicMethod(), 2)
    assert r.lr_psnr_y == float("inf") and r.lr_ssim_y is not None and abs(r.lr_ssim_y - 1) < 1e-12
    assert "lr_psnr_y" not in get_protocol("irn").evaluate(hr, BicubicMethod(), 2).as_dict()
