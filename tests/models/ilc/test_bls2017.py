"""bls2017-N: shapes and padding, real vs estimated rate, exact latent round trip, files across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ilc_helpers import full_sample, sample_image

from invrestore.entropy import Bitstream, centered_padding, pad_centered
from invrestore.entropy.coder import MAX_FLUSH_BYTES
from invrestore.errors import CheckpointError, InvalidBitstream
from invrestore.io import atomic_write, to_uint8
from invrestore.models import create_model, list_models
from invrestore.models.ilc import BLS2017
from invrestore.train.checkpoint import load_weights, save_weights


def test_registry_builds_the_tfc_and_ilc_teacher_sizes() -> None:
    assert {"bls2017-128", "bls2017-256"} <= set(list_models("ilc"))
    model = create_model("bls2017-256")
    assert isinstance(model, BLS2017) and model.name == "bls2017-256"
    # 6.96 M parameters: the teacher size quoted for ILC (specs/compression.md §4)
    assert sum(p.numel() for p in model.parameters()) == 6_957_827


def test_latent_is_sixteen_times_smaller_and_the_output_has_the_input_size() -> None:
    model = BLS2017(N=4)
    x = torch.rand(2, 3, 64, 48)
    out = model(x)
    assert out.x_hat.shape == x.shape
    assert out.likelihoods["y"].shape == (2, 4, 4, 3)
    assert model.g_a(x).shape == (2, 4, 4, 3)


def test_odd_sizes_are_padded_centred_with_the_extra_pixel_bottom_right_and_cropped_back() -> None:
    assert centered_padding(37, 50, 16) == (5, 6, 7, 7)
    assert centered_padding(32, 16, 16) == (0, 0, 0, 0)
    model = BLS2017(N=4).eval()
    model.update()
    x = torch.rand(1, 3, 37, 50)
    bits = model.compress(x)
    assert bits.image_size == (37, 50) and bits.padding == (5, 6, 7, 7)
    assert bits.shapes == ((4, 3, 4),)
    assert model.decompress(bits).shape == (1, 3, 37, 50)
    assert model(x).x_hat.shape == (1, 3, 37, 50)


def test_compress_before_update_raises_a_clear_error() -> None:
    with pytest.raises(CheckpointError, match="update"):
        BLS2017(N=4).compress(torch.rand(3, 16, 16))


@pytest.mark.parametrize("fitted", [True, False], ids=["fitted", "random"])
def test_real_bpp_is_at_most_the_estimate_plus_one_percent_plus_the_container_header(
    tiny_codec: BLS2017, fitted: bool
) -> None:
    if not fitted:
        torch.manual_seed(1)
        tiny_codec = BLS2017(N=8).eval()
        tiny_codec.update()
    x = full_sample("kodim23")
    h, w = x.shape[-2:]
    estimated = (-torch.log2(tiny_codec(x).likelihoods["y"]).sum() / (h * w)).item()
    bits = tiny_codec.compress(x)
    real = 8 * len(bits.to_bytes()) / (h * w)
    assert real == pytest.approx(bits.bpp())
    assert real <= 1.01 * estimated + 8 * bits.header_bytes / (h * w)


def test_on_tiny_images_the_only_extra_cost_is_the_coder_flush(tiny_codec: BLS2017) -> None:
    # the ANS coder ends by writing its final state (< 64 bits); on a 64×64 image that is more than 1 %
    for h, w in [(64, 64), (45, 60), (16, 16)]:
        x = sample_image(h, w)
        estimated_bits = (-torch.log2(tiny_codec(x).likelihoods["y"]).sum()).item()
        bits = tiny_codec.compress(x)
        assert 8 * bits.payload_bytes <= 1.01 * estimated_bits + 8 * MAX_FLUSH_BYTES


def test_encode_then_decode_reproduces_the_latent_symbols_exactly(tiny_codec: BLS2017) -> None:
    x = sample_image(45, 60)
    padding = centered_padding(45, 60, 16)
    y = tiny_codec.g_a(pad_centered(x, padding))
    symbols = tiny_codec.entropy_bottleneck.quantize(y, "symbols")
    bits = Bitstream.from_bytes(tiny_codec.compress(x).to_bytes())
    assert torch.equal(tiny_codec.decompress_latent(bits), symbols)
    # the decoded image is the eval-mode forward pass (same quantizer), clamped
    torch.testing.assert_close(tiny_codec.decompress(bits), tiny_codec(x).x_hat.clamp(0, 1), rtol=0, atol=1e-6)


_DECODE_SCRIPT = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from invrestore.entropy import Bitstream
from invrestore.io import to_uint8
from invrestore.models.ilc import BLS2017
from invrestore.train.checkpoint import load_weights, save_weights
torch.manual_seed(12345)  # a different random init: everything must come from the checkpoint
model = BLS2017(N=8).eval()
model.load_state_dict(torch.load(sys.argv[1]))
with open(sys.argv[2], "rb") as fh:
    bits = Bitstream.from_bytes(fh.read())
np.save(sys.argv[3], to_uint8(model.decompress(bits)[0]))
"""


def test_a_file_decoded_in_a_fresh_process_gives_bit_identical_pixels(tiny_codec: BLS2017, tmp_path: Path) -> None:
    x = sample_image(45, 60)
    torch.save(tiny_codec.state_dict(), tmp_path / "model.pt")
    with atomic_write(tmp_path / "img.irc") as fh:
        fh.write(tiny_codec.compress(x).to_bytes())
    here = to_uint8(tiny_codec.decompress(Bitstream.from_bytes((tmp_path / "img.irc").read_bytes()))[0])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-c", _DECODE_SCRIPT, "model.pt", "img.irc", "out.npy"],
        cwd=tmp_path,
        env=env,
        check=True,
        timeout=120,
    )
    there = np.load(tmp_path / "out.npy")
    assert there.shape == (45, 60, 3)
    np.testing.assert_array_equal(there, here)


def test_a_safetensors_checkpoint_saved_after_update_decodes_in_a_fresh_model(
    tiny_codec: BLS2017, tmp_path: Path
) -> None:
    save_weights(tiny_codec.state_dict(), tmp_path / "model.safetensors")
    fresh = BLS2017(N=8).eval()
    assert not fresh.entropy_bottleneck.has_tables
    fresh.load_state_dict(load_weights(tmp_path / "model.safetensors"))
    bits = tiny_codec.compress(sample_image(32, 32))
    assert torch.equal(fresh.decompress(bits), tiny_codec.decompress(bits))


def test_a_checkpoint_saved_before_update_loads_but_refuses_to_code(tmp_path: Path) -> None:
    save_weights(BLS2017(N=4).state_dict(), tmp_path / "untrained.safetensors")
    model = BLS2017(N=4).eval()
    model.load_state_dict(load_weights(tmp_path / "untrained.safetensors"))
    with pytest.raises(CheckpointError, match="update"):
        model.compress(sample_image(16, 16))


def test_decompress_rejects_files_of_another_model_other_weights_or_inconsistent_headers(
    tiny_codec: BLS2017,
) -> None:
    bits = tiny_codec.compress(sample_image(32, 32))
    other = BLS2017(N=8).eval()
    other.update()
    with pytest.raises(InvalidBitstream, match="other weights"):
        other.decompress(bits)
    with pytest.raises(InvalidBitstream, match="bls2017-4"):
        small = BLS2017(N=4).eval()
        small.update()
        tiny_codec.decompress(small.compress(sample_image(32, 32)))
    fields = {f: getattr(bits, f) for f in ("model", "config_hash", "image_size", "padding", "shapes", "strings")}
    with pytest.raises(InvalidBitstream, match="padding"):
        tiny_codec.decompress(Bitstream(**{**fields, "padding": (1, 0, 0, 0)}))
    with pytest.raises(InvalidBitstream, match="latent shapes"):
        tiny_codec.decompress(Bitstream(**{**fields, "shapes": ((8, 2, 3),)}))
    with pytest.raises(InvalidBitstream, match="decoder limit"):
        tiny_codec.decompress(bits, max_pixels=1000)
    with pytest.raises(InvalidBitstream):
        tiny_codec.decompress(Bitstream(**{**fields, "strings": (b"\x07" * 12,)}))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_file_encoded_on_cpu_decodes_to_the_same_symbols_on_gpu(tiny_codec: BLS2017) -> None:
    x = sample_image(45, 60)
    bits = Bitstream.from_bytes(tiny_codec.compress(x).to_bytes())
    cpu_symbols = tiny_codec.decompress_latent(bits)
    cpu_pixels = tiny_codec.decompress(bits)
    gpu = BLS2017(N=8).eval().cuda()
    gpu.load_state_dict(tiny_codec.state_dict())
    assert torch.equal(gpu.decompress_latent(bits), cpu_symbols)
    gpu_pixels = gpu.decompress(bits)
    assert gpu_pixels.is_cuda
    torch.testing.assert_close(gpu_pixels.cpu(), cpu_pixels, rtol=0, atol=1e-4)  # transforms differ only by rounding
    # and a file written on the GPU decodes on the CPU to the symbols the GPU coded
    gpu_bits = Bitstream.from_bytes(gpu.compress(x.cuda()).to_bytes())
    assert torch.equal(tiny_codec.decompress_latent(gpu_bits), gpu.decompress_latent(gpu_bits))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_update_runs_on_gpu_and_its_tables_decode_on_cpu() -> None:
    torch.manual_seed(3)
    model = BLS2017(N=4).eval().cuda()
    model.update()
    bits = Bitstream.from_bytes(model.compress(sample_image(32, 32).cuda()).to_bytes())
    cpu = BLS2017(N=4).eval()
    cpu.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    assert torch.equal(cpu.decompress_latent(bits), model.decompress_latent(bits))
