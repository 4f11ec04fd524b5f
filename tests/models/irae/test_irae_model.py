"""IRAE: invertibility after ActNorm initialisation, the official Glow structure, parameter counts, quirks."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from invrestore.errors import ScaleError
from invrestore.models import create_model, list_models
from invrestore.models.irae import IRAE, FlowStep, IRAEGlow, flow_step_parameter_count
from invrestore.nn import ActNorm, data_initialize

OFFICIAL_COUNT = 1_308_128  # the official IRAE definition (K=16, L=2, width 64), incl. 6,624 dead parameters
OUR_COUNT = 1_301_504  # without the never-used Split.gaussianize modules
PAPER_COUNT = 1.33e6


def count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def tiny(**kw: object) -> IRAE:
    args: dict[str, object] = {"width": 8, "depth": 2, "levels": 2}
    args.update(kw)
    return IRAE(**args)  # type: ignore[arg-type]


def perturb(m: torch.nn.Module, scale: float = 0.05, seed: int = 0) -> None:
    """Noise relative to each parameter's magnitude (keeps ActNorm scales positive, un-zeroes zero-init convs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(scale * (float(p.abs().mean()) + 0.1) * torch.randn(p.shape, generator=g, dtype=p.dtype))


# -- parameter counts ----------------------------------------------------------------------------------------------


def test_paper_preset_parameter_count_and_the_official_one() -> None:
    torch.manual_seed(0)
    model = create_model("irae")
    assert isinstance(model, IRAE)
    assert count(model) == OUR_COUNT
    assert count(model.encoder) == count(model.decoder) == OUR_COUNT // 2
    assert count(IRAE(unused_gaussianize=True)) == OFFICIAL_COUNT
    # The paper's "1.33M" is matched by neither (documented in the model docstring).
    assert abs(OFFICIAL_COUNT / PAPER_COUNT - 1) < 0.02 and abs(OUR_COUNT / PAPER_COUNT - 1) < 0.025
    assert "irae" in list_models("irae")


@pytest.mark.parametrize(("channels", "width", "depth", "levels"), [(3, 64, 16, 2), (3, 8, 2, 3), (1, 16, 3, 2)])
def test_parameter_count_follows_the_closed_form(channels: int, width: int, depth: int, levels: int) -> None:
    glow = IRAEGlow(channels, width, depth, levels)
    expected = sum(depth * flow_step_parameter_count(4 * channels * 2**i, width) for i in range(levels))
    assert count(glow) == expected


# -- invertibility -------------------------------------------------------------------------------------------------


def test_paper_preset_is_invertible_after_actnorm_initialisation() -> None:
    torch.manual_seed(0)
    model = IRAE()  # K=16, L=2, width 64
    y = torch.rand(2, 3, 16, 16)
    data_initialize(model, y)
    with torch.no_grad():
        x_hat = model(y)
        assert float((model.inverse(x_hat) - y).abs().max()) <= 1e-4
        assert float((model.encoder.inverse(model.encoder(y)[0])[0] - y).abs().max()) <= 1e-4


@pytest.mark.parametrize("lu", [False, True])
def test_trained_looking_irae_is_invertible_in_float32_and_float64(lu: bool) -> None:
    torch.manual_seed(1)
    model = tiny(lu=lu)
    y = torch.rand(3, 3, 8, 12)
    model(y)  # training mode: data-dependent initialisation
    perturb(model)  # zero-initialised convs would otherwise hide mistakes
    with torch.no_grad():
        assert float((model.inverse(model(y)) - y).abs().max()) <= 1e-4
        x = torch.rand(3, 3, 8, 12)
        assert float((model(model.inverse(x)) - x).abs().max()) <= 1e-4
    model64 = model.double()
    y64 = y.double()
    with torch.no_grad():
        assert float((model64.inverse(model64(y64)) - y64).abs().max()) <= 1e-10


def test_restore_handles_sizes_that_are_not_multiples_of_four() -> None:
    torch.manual_seed(0)
    model = tiny().eval()
    y = torch.rand(2, 3, 13, 10)
    out = model.restore(y)
    assert out.shape == y.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    assert model.restore(y[0]).shape == (3, 13, 10)
    with pytest.raises(ScaleError):
        model(y)


# -- structure: the official Glow, written independently of FactorOut/Squeeze -------------------------------------


def official_glow_forward(glow: IRAEGlow, x: Tensor) -> list[Tensor]:
    """The official Glow's forward as ``specs/restoration_vae.md`` §1.1 describes it: x − 0.5, then per level a
    reshape/permute squeeze, K steps, ``chunk(2)`` split (second half out)."""
    steps = [m for m in glow.modules() if isinstance(m, FlowStep)]
    k = glow.depth
    h = x - 0.5
    zs = []
    for level in range(glow.levels):
        b, c, hh, ww = h.shape
        h = h.reshape(b, c, hh // 2, 2, ww // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, hh // 2, ww // 2)
        for step in steps[level * k : (level + 1) * k]:
            h, _ = step(h)
        h, z = h.chunk(2, dim=1)
        zs.append(z)
    return [*zs, h]


def test_glow_equals_the_official_multiscale_structure() -> None:
    torch.manual_seed(2)
    glow = IRAEGlow(3, width=8, depth=2, levels=3)
    x = torch.rand(2, 3, 16, 8)
    data_initialize(glow, x)
    perturb(glow)
    glow.eval()
    with torch.no_grad():
        z, _ = glow(x)
        ours = glow.latents(z)
        ref = official_glow_forward(glow, x)
    assert [tuple(t.shape) for t in ours] == [(2, 6, 8, 4), (2, 12, 4, 2), (2, 24, 2, 1), (2, 24, 2, 1)]
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert torch.equal(glow.pack_latents(ours), z)


def test_coupling_matches_the_official_definition() -> None:
    torch.manual_seed(3)
    step = FlowStep(12, width=8)
    perturb(step.coupling)
    c = step.coupling
    x = torch.randn(2, 12, 4, 4)
    x_a, x_b = x.chunk(2, dim=1)
    with torch.no_grad():
        h = c.subnet(x_b)
        t, s = h[:, 0::2], torch.sigmoid(h[:, 1::2] + 2.0)
        expected = torch.cat([s * x_a + t, x_b], dim=1)
        assert torch.allclose(c(x)[0], expected, atol=1e-6)
    # the subnet: 1×1 conv with padding 1 grows H, W by 2; the last 3×3 conv (padding 0) brings them back
    assert c.subnet.conv2.padding == (1, 1) and c.subnet.conv3.conv.padding == (0, 0)


# -- data-dependent initialisation quirks ----------------------------------------------------------------------------


def step_actnorms(glow: IRAEGlow) -> list[ActNorm]:
    return [m.actnorm for m in glow.modules() if isinstance(m, FlowStep)]


def inner_actnorms(glow: IRAEGlow) -> list[ActNorm]:
    outer = {id(a) for a in step_actnorms(glow)}
    return [m for m in glow.modules() if isinstance(m, ActNorm) and id(m) not in outer]


def test_first_training_call_initialises_exactly_the_official_actnorms() -> None:
    torch.manual_seed(4)
    model = tiny()
    model(torch.rand(2, 3, 8, 8))
    assert all(bool(a.initialized) for a in step_actnorms(model.encoder) + inner_actnorms(model.encoder))
    assert all(bool(a.initialized) for a in inner_actnorms(model.decoder))
    # the decoder's step ActNorms only run inverted: never data-initialised, identity until learned
    for a in step_actnorms(model.decoder):
        assert not bool(a.initialized)
        assert torch.equal(a.loc, torch.zeros_like(a.loc)) and torch.equal(a.scale, torch.ones_like(a.scale))
    model.inverse(torch.rand(2, 3, 8, 8))  # G₂ forward in training mode must not initialise them either
    assert not any(bool(a.initialized) for a in step_actnorms(model.decoder))


def test_encoder_output_is_whitened_at_initialisation() -> None:
    torch.manual_seed(5)
    model = tiny()
    y = torch.rand(16, 3, 16, 16)
    with torch.no_grad():
        model(y)
        zs = model.encoder.latents(model.encode(y))
    for z in zs:
        assert abs(float(z.mean())) < 0.3 and 0.5 < float(z.std()) < 1.5


# -- training --------------------------------------------------------------------------------------------------------


def test_gradients_reach_every_parameter_and_memory_efficient_agrees() -> None:
    torch.manual_seed(6)
    plain = tiny()
    mem = tiny(memory_efficient=True)
    y = torch.rand(2, 3, 8, 8)
    data_initialize(plain, y)
    perturb(plain)
    mem.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 8, 8)
    grads = []
    for m in (plain, mem):
        m.zero_grad()
        (m(y) - x).abs().mean().backward()
        grads.append({n: p.grad for n, p in m.named_parameters()})
    for name, g in grads[0].items():
        assert g is not None and g.abs().sum() > 0, name
        assert torch.allclose(g, grads[1][name], rtol=1e-3, atol=1e-6), name


def test_unused_gaussianize_parameters_are_never_used() -> None:
    torch.manual_seed(7)
    m = tiny(unused_gaussianize=True)
    (m(torch.rand(2, 3, 8, 8)) - 0.5).abs().mean().backward()
    dead = [n for n, p in m.named_parameters() if p.grad is None]
    assert dead and all("unused_gaussianize" in n for n in dead)
