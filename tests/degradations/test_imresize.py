"""MATLAB-compatible imresize against the bicubic-pytorch oracle (which matches BasicSR's MATLAB port
exactly)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from bicubic_pytorch import imresize as oracle

from invrestore.color import ImageShapeError
from invrestore.degradations import imresize, imresize_output_size, resize_weights
from invrestore.errors import ConfigError, ScaleError

SCALES = [1 / 2, 1 / 3, 1 / 4, 1 / 8, 2, 3, 4, 0.37, 1.7]


def _rand(*shape: int, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("hw", [(48, 64), (37, 53), (31, 29)])
def test_imresize_matches_bicubic_pytorch_for_scale(scale: float, hw: tuple[int, int]) -> None:
    x = _rand(2, 3, *hw)
    ours = imresize(x, scale)
    ref = oracle(x, scale=scale)
    assert ours.shape == ref.shape == (2, 3, math.ceil(hw[0] * scale), math.ceil(hw[1] * scale))
    assert (ours - ref).abs().max().item() <= 1e-5


@pytest.mark.parametrize("size", [(24, 32), (10, 20), (37, 13), (100, 7), (5, 5), (48, 17), (96, 64)])
def test_imresize_matches_bicubic_pytorch_for_explicit_sizes(size: tuple[int, int]) -> None:
    x = _rand(1, 2, 48, 64)
    ours = imresize(x, size=size)
    ref = oracle(x, sizes=size)
    assert ours.shape == (1, 2, *size)
    assert (ours - ref).abs().max().item() <= 1e-5


def test_imresize_float64_keeps_dtype_and_matches_the_oracle() -> None:
    x = _rand(3, 40, 30, dtype=torch.float64)
    ours = imresize(x, 0.25)
    assert ours.dtype == torch.float64
    # The oracle always computes in float32.
    assert (ours - oracle(x, scale=0.25)).abs().max().item() <= 1e-5


def test_imresize_accepts_chw_and_hw_and_matches_batched() -> None:
    x = _rand(3, 21, 19)
    batched = imresize(x[None], 1 / 3)[0]
    assert torch.equal(imresize(x, 1 / 3), batched)
    assert torch.equal(imresize(x[0], 1 / 3), batched[0])


def test_imresize_output_size_is_ceil_of_scaled_input() -> None:
    assert imresize(_rand(1, 1, 10, 11), 0.37).shape[-2:] == (math.ceil(10 * 0.37), math.ceil(11 * 0.37))
    assert imresize_output_size((321, 481), 0.5)[0] == (161, 241)
    assert imresize_output_size((10, 20), size=(5, 40))[1] == (0.5, 2.0)
    x = _rand(1, 2, 10, 12)
    assert torch.equal(imresize(x, (0.5, 2.0)), imresize(x, size=(5, 24)))


def test_imresize_preserves_constants_at_any_scale_including_tiny_images() -> None:
    # 3x3 -> 1x1 at 1/8 needs more mirror padding than the image has pixels.
    for hw, scale in [((3, 3), 1 / 8), ((1, 5), 0.37), ((2, 2), 3.0), ((7, 4), 1.7)]:
        x = torch.full((1, 1, *hw), 0.3, dtype=torch.float64)
        y = imresize(x, scale)
        assert torch.allclose(y, torch.full_like(y, 0.3), atol=1e-12)


def test_resize_weights_rows_sum_to_one_and_indices_stay_in_range() -> None:
    for n_in, n_out, s in [(10, 5, 0.5), (5, 17, 17 / 5), (3, 1, 1 / 8), (64, 8, 0.125)]:
        idx, w = resize_weights(n_in, n_out, s)
        assert idx.shape == w.shape and idx.shape[0] == n_out
        assert w.dtype == torch.float64
        assert torch.allclose(w.sum(1), torch.ones(n_out, dtype=torch.float64), atol=1e-12)
        assert idx.min().item() >= 0 and idx.max().item() < n_in


def test_imresize_scale_one_is_identity() -> None:
    x = _rand(1, 3, 9, 10)
    assert torch.equal(imresize(x, 1.0), x)
    assert torch.equal(imresize(x, size=(9, 10)), x)


def test_imresize_is_differentiable() -> None:
    x = _rand(1, 1, 7, 6, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: imresize(t, size=(4, 9)), (x,))


def test_linear_kernel_upsampling_matches_pytorch_bilinear() -> None:
    x = _rand(1, 2, 8, 11)
    ours = imresize(x, 2.0, kernel="linear")
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert (ours - ref).abs().max().item() <= 1e-6


def _oracle_uint8_pass(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return oracle(x, sizes=size).add(0.5).floor().clamp(0, 255)


def test_uint8_input_rounds_and_clips_after_each_pass_in_matlab_order() -> None:
    x8 = (_rand(1, 3, 30, 40) * 255).round().to(torch.uint8)
    # Equal scales: H first, then W.
    out = imresize(x8, 0.5)
    assert out.dtype == torch.uint8
    h_pass = _oracle_uint8_pass(x8.float(), (15, 40))
    expected = _oracle_uint8_pass(h_pass, (15, 20))
    assert torch.equal(out, expected.to(torch.uint8))
    # W has the smaller scale: MATLAB resizes W first.
    out = imresize(x8, size=(60, 10))
    w_pass = _oracle_uint8_pass(x8.float(), (30, 10))
    expected = _oracle_uint8_pass(w_pass, (60, 10))
    assert torch.equal(out, expected.to(torch.uint8))


def test_uint8_flag_on_float_input_gives_multiples_of_one_255th() -> None:
    x = _rand(1, 3, 30, 40, dtype=torch.float64)
    out = imresize(x, 0.5, uint8=True)
    assert out.dtype == torch.float64
    codes = out * 255
    assert torch.allclose(codes, codes.round(), atol=1e-9)
    # Same numbers as a uint8 input (both computed in float64).
    x8 = (x * 255).add(0.5).floor().to(torch.uint8)
    assert torch.allclose(codes, imresize(x8, 0.5).double(), atol=1e-9)
    assert imresize(x.float(), 0.5, uint8=True).dtype == torch.float32


def test_imresize_rejects_bad_arguments() -> None:
    x = _rand(1, 1, 8, 8)
    with pytest.raises(ScaleError):
        imresize(x)
    with pytest.raises(ScaleError):
        imresize(x, 0.5, size=(4, 4))
    with pytest.raises(ScaleError):
        imresize(x, -2.0)
    with pytest.raises(ScaleError):
        imresize(x, size=(0, 4))
    with pytest.raises(ConfigError):
        imresize(x, 0.5, kernel="lanczos")  # type: ignore[arg-type]
    with pytest.raises(ImageShapeError):
        imresize(torch.rand(8), 0.5)
    with pytest.raises(ImageShapeError):
        imresize(torch.zeros(8, 8, dtype=torch.int32), 0.5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_imresize_on_gpu_matches_cpu() -> None:
    x = _rand(2, 3, 33, 47)
    gpu = imresize(x.cuda(), 0.25).cpu()
    assert (gpu - imresize(x, 0.25)).abs().max().item() <= 1e-5
