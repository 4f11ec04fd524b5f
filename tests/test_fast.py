"""The fast inference paths compute the eager function: fused DenseBlock, channels-last, compile, half precision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError
from invrestore.fast import FastOptions, blocked, compile_cache_dir, irn_functions, optimize, receptive_radius
from invrestore.models.baselines.model import DnCNN
from invrestore.models.irn.model import IRN
from invrestore.nn.subnets import DenseBlock

CPU = torch.device("cpu")


def _randomize(module: nn.Module, seed: int = 0, std: float = 0.05) -> nn.Module:
    # Fresh DenseBlocks end in a zero conv (identity couplings); random weights make every path do real work.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if not name.endswith("haar_weights"):  # the Haar filters are fixed in every IRN
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return module


def _tiny_irn() -> IRN:
    torch.manual_seed(0)
    net = IRN(scale=2, blocks=[1], gc=8)
    _randomize(net, std=0.1)
    return net.eval()


def _image(h: int = 16, w: int = 16, seed: int = 1) -> Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _eager_irn(net: IRN, x: Tensor) -> tuple[Tensor, Tensor]:
    with torch.inference_mode():
        out = net(x)[0]
        return out, net.inverse(out)[0]


# -- fused DenseBlock -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_dense_block_equals_eager(channels_last: bool) -> None:
    block = _randomize(DenseBlock(5, 7, gc=8))
    x = torch.randn(2, 5, 12, 10)
    if channels_last:
        block.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        ref = block(x)
        fused = block.forward_fused(x)
    assert fused.shape == ref.shape == (2, 7, 12, 10)
    torch.testing.assert_close(fused, ref, rtol=0, atol=1e-5)


def test_fused_dense_block_without_bias_and_state_dict_unchanged() -> None:
    block = _randomize(DenseBlock(4, 3, gc=6, bias=False))
    keys = list(block.state_dict())
    x = torch.randn(1, 4, 9, 9)
    with torch.inference_mode():
        torch.testing.assert_close(block.forward_fused(x), block(x), rtol=0, atol=1e-5)
    assert list(block.state_dict()) == keys  # the weight cache is not part of the model's state


def test_fused_weight_cache_follows_weight_changes() -> None:
    block = _randomize(DenseBlock(3, 4, gc=8))
    x = torch.randn(1, 3, 8, 8)
    with torch.inference_mode():
        before = block.forward_fused(x)
    with torch.no_grad():
        block.conv3.weight.mul_(-2.0)  # in place: the cached stacked weights are stale now
    with torch.inference_mode():
        after = block.forward_fused(x)
        ref = block(x)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, ref, rtol=0, atol=1e-5)
    block.load_state_dict(_randomize(DenseBlock(3, 4, gc=8), seed=5).state_dict())  # copied into the same storage
    with torch.inference_mode():
        torch.testing.assert_close(block.forward_fused(x), block(x), rtol=0, atol=1e-5)


def test_fused_dense_block_gradients_match_eager() -> None:
    block = _randomize(DenseBlock(3, 4, gc=8))
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    (gx_ref,) = torch.autograd.grad(block(x).square().sum(), x)
    (gx,) = torch.autograd.grad(block.forward_fused(x).square().sum(), x)
    torch.testing.assert_close(gx, gx_ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(("h", "w", "tile"), [(23, 17, 8), (40, 40, 16), (16, 33, 16), (12, 10, 16)])
def test_cache_blocked_dense_block_equals_the_whole_block(channels_last: bool, h: int, w: int, tile: int) -> None:
    # Tiles plus a halo of the block's receptive radius (5 for 5 chained 3x3 convs) give the untiled values.
    block = _randomize(DenseBlock(5, 7, gc=8))
    x = torch.randn(2, 5, h, w)
    if channels_last:
        block.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    assert receptive_radius(block) == 5
    with torch.inference_mode():
        ref = block.forward_fused(x)
        out = blocked(block.forward_fused, x, tile, receptive_radius(block))
    assert out.shape == ref.shape
    if round(max(h, w) / tile) > 1:  # tiled: the output is allocated in the input's layout
        assert out.is_contiguous(memory_format=torch.channels_last) == channels_last
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


def test_a_smaller_halo_than_the_receptive_radius_changes_the_result() -> None:
    # The check above can fail: cutting the halo short leaves seams.
    block = _randomize(DenseBlock(5, 7, gc=8))
    x = torch.randn(1, 5, 40, 40)
    with torch.inference_mode():
        ref = block.forward_fused(x)
        short = blocked(block.forward_fused, x, 16, 3)
    assert (short - ref).abs().max() > 1e-3


@pytest.mark.parametrize("bad", [-1, 8, True, 1.5])
def test_block_tile_is_validated(bad: object) -> None:
    with pytest.raises(ConfigError, match="block_tile"):
        FastOptions(fused=True, block_tile=bad)  # type: ignore[arg-type]
    assert FastOptions.parse("fused,block_tile=64").block_tile == 64


# -- IRN paths ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "opts",
    [
        FastOptions(),
        FastOptions(channels_last=True),
        FastOptions(fused=True),
        FastOptions(fused=True, channels_last=True),
        FastOptions(fused=True, channels_last=True, block_tile=16),
    ],
    ids=lambda o: o.describe(),
)
def test_irn_float32_paths_equal_eager(opts: FastOptions) -> None:
    net = _tiny_irn()
    x = _image()
    out_ref, x_ref = _eager_irn(net, x)
    forward, inverse = irn_functions(_tiny_irn(), opts, CPU)
    out = forward(x)
    assert out.shape == (1, 12, 8, 8) and out.dtype == torch.float32 and out.is_contiguous()
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-4)
    torch.testing.assert_close(inverse(out_ref), x_ref, rtol=0, atol=1e-4)


def test_irn_cache_blocked_path_equals_eager_when_it_tiles() -> None:
    # 64² input: the InvBlocks see 32², cut into 2×2 tiles of 16 (plus the 5-px halo) by block_tile=16.
    net = _tiny_irn()
    x = _image(64, 64)
    out_ref, x_ref = _eager_irn(net, x)
    forward, inverse = irn_functions(_tiny_irn(), FastOptions(fused=True, channels_last=True, block_tile=16), CPU)
    torch.testing.assert_close(forward(x), out_ref, rtol=0, atol=1e-4)
    torch.testing.assert_close(inverse(out_ref), x_ref, rtol=0, atol=1e-4)


def test_irn_channels_last_keeps_the_weights() -> None:
    net = _tiny_irn()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    irn_functions(net, FastOptions(channels_last=True), CPU)
    after = net.state_dict()
    assert list(after) == list(before)
    for k, v in before.items():
        assert torch.equal(after[k], v), k


@pytest.mark.parametrize("fused", [False, True])
def test_irn_bfloat16_within_stated_bound(fused: bool) -> None:
    # bf16 autocast runs the subnets' convolutions with 8-bit mantissas; the Haar transform and the coupling
    # arithmetic stay float32, so the result stays close to eager and the output is float32.
    net = _tiny_irn()
    x = _image()
    out_ref, x_ref = _eager_irn(net, x)
    forward, inverse = irn_functions(_tiny_irn(), FastOptions(dtype="bfloat16", fused=fused), CPU)
    out = forward(x)
    assert out.dtype == torch.float32
    assert (out - out_ref).abs().max().item() < 2e-2
    rec = inverse(out_ref)
    assert (rec - x_ref).abs().max().item() < 2e-2
    assert not torch.equal(out, out_ref)  # it did run in low precision


def test_irn_compiled_equals_eager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One compile (the forward direction, fused + channels-last + inductor with freezing) keeps this test short.
    monkeypatch.setenv("INVRESTORE_COMPILE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    net = _tiny_irn()
    x = _image()
    out_ref, _ = _eager_irn(net, x)
    forward, _ = irn_functions(_tiny_irn(), FastOptions(compile=True, channels_last=True, fused=True), CPU)
    out = forward(x)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-4)
    torch.testing.assert_close(forward(x), out, rtol=0, atol=0)  # a second call reuses the compiled graph
    assert Path(str(tmp_path / "cache")) == compile_cache_dir()
    assert (tmp_path / "cache").is_dir() and any((tmp_path / "cache").iterdir())  # artefacts were written there


# -- restore models through optimize() ---------------------------------------------------------------------------
def _tiny_dncnn() -> nn.Module:
    torch.manual_seed(0)
    return DnCNN(middle_layers=2, width=16, batch_norm=False, residual=True).eval()


@pytest.mark.parametrize("channels_last", [False, True])
def test_optimize_restore_model_float32(channels_last: bool) -> None:
    model = _tiny_dncnn()
    y = _image(20, 12)
    with torch.inference_mode():
        ref = model(y)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    fn: Callable[[Tensor], Tensor] = optimize(model, FastOptions(channels_last=channels_last), device=CPU)
    out = fn(y)
    assert out.is_contiguous() and out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-4)


def test_optimize_restore_model_bfloat16() -> None:
    model = _tiny_dncnn()
    y = _image(20, 12)
    with torch.inference_mode():
        ref = model(y)
    out = optimize(model, FastOptions(dtype="bfloat16", channels_last=True), device=CPU)(y)
    assert out.dtype == torch.float32  # returned in the input's dtype
    err = (out - ref).abs().max().item()
    assert 0 < err < 3e-2


# -- options -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [{"dtype": "int8"}, {"dtype": torch.float16}, {"compile": "yes"}, {"fused": 1}, {"cuda_graphs": True}],
)
def test_fast_options_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        FastOptions(**kwargs)  # type: ignore[arg-type]


def test_presets_and_parse() -> None:
    assert FastOptions.preset("exact", CPU) == FastOptions() and FastOptions().exact
    fast = FastOptions.preset("fast", CPU)
    assert fast.channels_last and fast.dtype == "float32" and not fast.cuda_graphs
    assert fast.fused and fast.block_tile == 128 and not fast.compile  # the fastest measured CPU path
    gpu = FastOptions.preset("fast", torch.device("cuda"))
    assert gpu.compile and gpu.cuda_graphs and gpu.channels_last
    with pytest.raises(ConfigError, match="unknown speed preset"):
        FastOptions.preset("fastest", CPU)  # type: ignore[arg-type]
    assert FastOptions.parse("compile, channels_last,bf16") == FastOptions(
        compile=True, channels_last=True, dtype="bfloat16"
    )
    assert FastOptions.parse("exact") == FastOptions()
    assert FastOptions.parse("fused,fp16").describe() == "fused+float16"
    with pytest.raises(ConfigError, match="unknown speed option 'turbo'"):
        FastOptions.parse("compile,turbo")


def test_compile_cache_dir_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("INVRESTORE_COMPILE_CACHE", raising=False)
    assert compile_cache_dir() == Path.home() / ".cache" / "invrestore" / "inductor"
    monkeypatch.setenv("INVRESTORE_COMPILE_CACHE", str(tmp_path))
    assert compile_cache_dir() == tmp_path


def test_unsupported_device_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not on meta"):
        optimize(lambda t: t, FastOptions(dtype="bfloat16"), device=torch.device("meta"))


def test_fast_haar_equals_the_module() -> None:
    from invrestore.fast import _haar_forward, _haar_inverse
    from invrestore.nn.haar import HaarDownsampling

    haar = HaarDownsampling(3)
    x = torch.rand(2, 3, 10, 14)
    with torch.inference_mode():
        y = haar(x)[0]
        torch.testing.assert_close(_haar_forward(x), y, rtol=0, atol=1e-7)
        torch.testing.assert_close(_haar_inverse(y), haar.inverse(y)[0], rtol=0, atol=1e-7)
        xc = x.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(_haar_forward(xc), y, rtol=0, atol=1e-7)


def test_irn_x4_two_haar_levels_channels_last() -> None:
    torch.manual_seed(0)
    net = _randomize(IRN(scale=4, blocks=[1, 1], gc=8), std=0.1).eval()
    x = _image(16, 24)
    out_ref, x_ref = _eager_irn(net, x)
    forward, inverse = irn_functions(net, FastOptions(channels_last=True, fused=True), CPU)
    torch.testing.assert_close(forward(x), out_ref, rtol=0, atol=1e-4)
    torch.testing.assert_close(inverse(out_ref), x_ref, rtol=0, atol=1e-4)


def test_irn_nonstandard_haar_filters_are_honoured() -> None:
    net = _tiny_irn()
    with torch.no_grad():
        net.operations[0].haar_weights.mul_(0.5)  # a (hypothetical) modified transform: the module itself runs
    x = _image()
    out_ref, x_ref = _eager_irn(net, x)
    forward, inverse = irn_functions(net, FastOptions(fused=True), CPU)
    torch.testing.assert_close(forward(x), out_ref, rtol=0, atol=1e-4)
    torch.testing.assert_close(inverse(out_ref), x_ref, rtol=0, atol=1e-4)
