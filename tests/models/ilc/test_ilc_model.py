"""ILC codec: invertible encoding module, quantizer consistency, real coding, teacher initialisation, sizes."""

from __future__ import annotations

import pytest
import torch
from ilc_helpers import sample_image

from invrestore.entropy import Bitstream, estimated_bpp
from invrestore.errors import CheckpointError, ConfigError, InvalidBitstream
from invrestore.models import create_model, list_models
from invrestore.models.ilc import BLS2017, ILC, PAPER_STAGES, IEMStage, init_from_teacher
from invrestore.nn import AffineCoupling, HaarDownsampling, InvConv1x1


def perturbed_tiny(seed: int = 0) -> ILC:
    """``ilc-tiny`` moved away from its identity initialisation (every subnet weight and the 1×1 convs)."""
    torch.manual_seed(seed)
    model = create_model("ilc-tiny")
    assert isinstance(model, ILC)
    with torch.no_grad():
        for block in model.iem:
            if isinstance(block, InvConv1x1):
                c = block.channels
                block.weight.add_(0.2 * torch.randn(c, c) / c**0.5)
            else:
                for p in block.parameters():
                    if p.requires_grad:
                        p.add_(0.05 * torch.randn_like(p))
    return model


def test_registry_has_the_paper_quality_points_and_cpu_presets() -> None:
    names = set(list_models("ilc"))
    assert {f"ilc-q{q}" for q in range(1, 6)} | {"ilc-small", "ilc-tiny"} <= names


def test_iem_layout_follows_table_i() -> None:
    with torch.device("meta"):
        model = create_model("ilc-q3")
    assert isinstance(model, ILC)
    assert model.total_channels == 768 and model.latent_channels == 256 and model.downsampling_factor == 16
    couplings = [b for b in model.iem if isinstance(b, AffineCoupling)]
    # (channels, subnet width, kernel) per stage, 2 couplings × 2 half-steps each
    seen = [(c.channels, c.subnet.scale.conv2.in_channels, c.subnet.scale.conv1.kernel_size[0]) for c in couplings]
    assert seen == [(48, 128, 5)] * 4 + [(192, 256, 3)] * 4 + [(768, 1024, 3)] * 4
    assert all(c.split == c.channels // 3 for c in couplings)
    assert [c.reverse for c in couplings[:2]] == [True, False]  # h1 from h2, then h2 from h1 (Eq. 1)
    assert sum(isinstance(b, HaarDownsampling) for b in model.iem) == 4
    assert sum(isinstance(b, InvConv1x1) for b in model.iem) == 3


def _trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_parameter_counts() -> None:
    """71.1 M trainable for the paper size with (2, 2, 2) couplings (the spec's prototype: 35.9 M / 71 M / 142 M
    for 1 / 2 / 4 couplings per stage), against 6.96 M for the bls2017-256 teacher."""
    with torch.device("meta"):
        q = create_model("ilc-q1")
        small = create_model("ilc-small")
        tiny = create_model("ilc-tiny")
        per_stage = {
            k: _trainable(ILC(256, [IEMStage(s.haar_levels, s.hidden, s.kernel_size, k) for s in PAPER_STAGES]).iem)
            for k in (1, 2, 4)
        }
    assert _trainable(q) == 71_105_984  # IEM 71,090,368 + entropy model 15,616
    assert per_stage == {1: 35_859_680, 2: 71_090_368, 4: 141_551_744}
    assert _trainable(small) == 4_861_536
    assert _trainable(tiny) == 1_144_776


def test_fresh_iem_is_the_haar_transform() -> None:
    model = create_model("ilc-tiny")
    assert isinstance(model, ILC)
    x = torch.rand(1, 3, 32, 32)
    y, z = model.analysis(x)
    assert y.shape == (1, 8, 2, 2) and z.shape == (1, 760, 2, 2)
    # the first channels are the 4-level Haar low-pass: 16×16 block means of R, G, B
    assert torch.allclose(y[:, :3], torch.nn.functional.avg_pool2d(x, 16), atol=1e-6)


@pytest.mark.parametrize("size", [(32, 48), (16, 16)])
def test_iem_is_exactly_invertible_at_a_perturbed_init(size: tuple[int, int]) -> None:
    model = perturbed_tiny()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        h, _ = model.iem(x)
        x_back, _ = model.iem.inverse(h)
        y, z = model.analysis(x)
        x_yz = model.synthesis(y, z)
    assert h.std() > 0.05  # far from the identity transform
    assert (x_back - x).abs().max() <= 1e-4
    assert (x_yz - x).abs().max() <= 1e-4


def test_forward_uses_the_coding_quantizer_with_a_straight_through_gradient() -> None:
    model = perturbed_tiny()
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    out = model(x)
    assert out.x_hat.shape == x.shape and out.likelihoods["y"].shape == out.y.shape
    with torch.no_grad():
        y_hat = model.entropy_bottleneck.quantize(out.y, "dequantize")
        assert torch.allclose(out.x_hat, model.synthesis(y_hat), atol=1e-6)
    out.x_hat.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.iem.parameters() if p.requires_grad)


def test_train_mode_rate_uses_seeded_uniform_noise() -> None:
    model = perturbed_tiny().train()
    x = torch.rand(1, 3, 32, 32)
    a = model(x, generator=torch.Generator().manual_seed(1)).likelihoods["y"]
    b = model(x, generator=torch.Generator().manual_seed(1)).likelihoods["y"]
    c = model(x, generator=torch.Generator().manual_seed(2)).likelihoods["y"]
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("size", [(64, 64), (37, 50)])
def test_round_trip_reproduces_symbols_and_equals_eval_forward(size: tuple[int, int]) -> None:
    model = perturbed_tiny().eval()
    model.update()
    x = sample_image(*size)
    bits = Bitstream.from_bytes(model.compress(x).to_bytes())
    assert bits.model == "ilc-tiny" and bits.image_size == size
    symbols = model.decompress_latent(bits)
    with torch.no_grad():
        out = model(x)
        padding = bits.padding
        y, _ = model.analysis(torch.nn.functional.pad(x, (padding[2], padding[3], padding[0], padding[1]), "replicate"))
    assert torch.equal(symbols, model.entropy_bottleneck.quantize(y, "symbols"))
    x_hat = model.decompress(bits)
    assert x_hat.shape == x.shape
    assert torch.allclose(x_hat, out.x_hat.clamp(0, 1), atol=1e-6)
    est = float(estimated_bpp(out.likelihoods, *size)[0]) * size[0] * size[1]
    assert 8 * bits.payload_bytes <= 1.01 * est + 64


def test_saved_weights_decode_in_a_fresh_model(tmp_path: object) -> None:
    model = perturbed_tiny().eval()
    model.update()
    x = sample_image(32, 32)
    data = model.compress(x).to_bytes()
    other = create_model("ilc-tiny").eval()
    other.load_state_dict(model.state_dict())
    assert torch.equal(other.decompress(Bitstream.from_bytes(data)), model.decompress(Bitstream.from_bytes(data)))
    # untrained tables / other weights are refused
    fresh = create_model("ilc-tiny").eval()
    with pytest.raises(InvalidBitstream, match="other weights"):
        fresh.decompress(Bitstream.from_bytes(data))
    with pytest.raises(CheckpointError, match="update"):
        fresh.compress(x)


def test_no_quantisation_diagnostic_decodes_the_unrounded_y_with_z_zero() -> None:
    model = perturbed_tiny().eval()
    x = sample_image(32, 32)
    with torch.no_grad():
        y, _ = model.analysis(x)
        expected = model.synthesis(y).clamp(0, 1)
        quantized = model(x).x_hat.clamp(0, 1)
    nq = model.reconstruct_unquantized(x)
    assert torch.equal(nq, expected)
    assert not torch.equal(nq, quantized)


def test_init_from_teacher_copies_the_density_but_not_the_tables(tiny_codec: BLS2017) -> None:
    model = create_model("ilc-tiny")
    assert isinstance(model, ILC)
    assert tiny_codec.entropy_bottleneck.has_tables
    init_from_teacher(model, tiny_codec)
    src, dst = tiny_codec.entropy_bottleneck, model.entropy_bottleneck
    for (name, a), (_, b) in zip(src.named_parameters(), dst.named_parameters()):
        assert torch.equal(a, b), name
    assert not dst.has_tables
    assert dst.update()  # tables are rebuilt for the ILC, not inherited
    y = torch.randn(1, 8, 3, 3) * 3
    assert torch.equal(src.likelihood(y), dst.likelihood(y))


def test_init_from_teacher_refuses_a_teacher_of_another_size() -> None:
    with pytest.raises(ConfigError, match="channels"):
        init_from_teacher(create_model("ilc-tiny"), BLS2017(N=16))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no entropy_bottleneck"):
        init_from_teacher(create_model("ilc-tiny"), torch.nn.Linear(1, 1))  # type: ignore[arg-type]


def test_invalid_construction() -> None:
    with pytest.raises(ValueError, match="latent_channels"):
        ILC(latent_channels=768)
    with pytest.raises(ValueError, match="at least one stage"):
        ILC(stages=())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_an_ilc_file_encoded_on_cpu_decodes_to_the_same_symbols_on_gpu() -> None:
    model = perturbed_tiny().eval()
    model.update()
    x = sample_image(45, 60)
    bits = Bitstream.from_bytes(model.compress(x).to_bytes())
    gpu = create_model("ilc-tiny").eval().cuda()
    gpu.load_state_dict(model.state_dict())
    assert isinstance(gpu, ILC)
    assert torch.equal(gpu.decompress_latent(bits), model.decompress_latent(bits))
    gpu_pixels = gpu.decompress(bits)
    assert gpu_pixels.is_cuda
    torch.testing.assert_close(gpu_pixels.cpu(), model.decompress(bits), rtol=0, atol=1e-4)
    gpu_bits = Bitstream.from_bytes(gpu.compress(x.cuda()).to_bytes())
    assert torch.equal(model.decompress_latent(gpu_bits), gpu.decompress_latent(gpu_bits))
