"""CompressAI ``bmshj2018-factorized`` checkpoints load as ILC teachers and compute what CompressAI computes.

The peer's state dict is built here from CompressAI's published description (``models/google.py``
``FactorizedPrior``, ``layers/gdn.py``, ``ops/parametrizers.py``, ``entropy_models/entropy_models.py``), and its
forward pass is re-implemented functionally below, independently of invrestore's GDN and entropy model.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from invrestore.errors import CheckpointError
from invrestore.models import create_model
from invrestore.models.ilc import BLS2017, ILC, TINY_STAGES, detect_compressai, init_from_teacher
from invrestore.models.ilc.compressai import compressai_config, load_compressai_teacher

N, M = 8, 12
FILTERS = (3, 3, 3, 3)
OFFSET = 2.0**-18  # CompressAI's reparam_offset
TAIL = 1e-9


# -- CompressAI's layout, from its published description ----------------------------------------------------------
def compressai_state(n: int = N, m: int = M, seed: int = 0, offset: float = OFFSET) -> dict[str, Tensor]:
    """A random trained-looking ``FactorizedPrior(N, M)`` state dict with CompressAI's key names and buffers."""
    g = torch.Generator().manual_seed(seed)
    s: dict[str, Tensor] = {}
    ped = offset**2

    def gdn(prefix: str, c: int) -> None:
        beta = 0.5 + torch.rand(c, generator=g)
        gamma = 0.1 * torch.eye(c) + 0.02 * torch.rand(c, c, generator=g)
        p_beta = torch.sqrt(beta + ped)
        p_gamma = torch.sqrt(gamma + ped)
        p_gamma[0, 1] = -0.3  # below the bound: the effective γ is clamped to 0
        s[f"{prefix}.beta"], s[f"{prefix}.gamma"] = p_beta, p_gamma
        for name, minimum in (("beta", 1e-6), ("gamma", 0.0)):
            s[f"{prefix}.{name}_reparam.pedestal"] = torch.tensor([ped])
            s[f"{prefix}.{name}_reparam.lower_bound.bound"] = torch.tensor([(minimum + ped) ** 0.5])

    chans_a = [(3, n), (n, n), (n, n), (n, m)]
    for k, (ci, co) in enumerate(chans_a):
        s[f"g_a.{2 * k}.weight"] = torch.randn(co, ci, 5, 5, generator=g) / (25 * ci) ** 0.5
        s[f"g_a.{2 * k}.bias"] = 0.05 * torch.randn(co, generator=g)
        if k < 3:
            gdn(f"g_a.{2 * k + 1}", co)
    chans_s = [(m, n), (n, n), (n, n), (n, 3)]
    for k, (ci, co) in enumerate(chans_s):
        s[f"g_s.{2 * k}.weight"] = torch.randn(ci, co, 5, 5, generator=g) / (25 * ci / 4) ** 0.5  # (in, out, k, k)
        s[f"g_s.{2 * k}.bias"] = 0.05 * torch.randn(co, generator=g)
        if k < 3:
            gdn(f"g_s.{2 * k + 1}", co)
    dims = (1, *FILTERS, 1)
    for i in range(len(FILTERS) + 1):
        s[f"entropy_bottleneck._matrix{i}"] = 0.3 * torch.randn(m, dims[i + 1], dims[i], generator=g)
        s[f"entropy_bottleneck._bias{i}"] = torch.empty(m, dims[i + 1], 1).uniform_(-1, 1, generator=g)
        if i < len(FILTERS):
            s[f"entropy_bottleneck._factor{i}"] = 0.5 * torch.randn(m, dims[i + 1], 1, generator=g)
    med = torch.round(64 * torch.empty(m).uniform_(-0.5, 0.5, generator=g)) / 64  # med ± 30 exact in float32
    s["entropy_bottleneck.quantiles"] = torch.stack([med - 30, med, med + 30], dim=1).unsqueeze(1)
    t = math.log(2 / TAIL - 1)
    s["entropy_bottleneck.target"] = torch.tensor([-t, 0.0, t])
    s["entropy_bottleneck.likelihood_lower_bound.bound"] = torch.tensor([1e-9])
    # tables as CompressAI's update() lays them out (values are not used by invrestore)
    minima = torch.ceil(med - s["entropy_bottleneck.quantiles"][:, 0, 0]).int()
    maxima = torch.ceil(s["entropy_bottleneck.quantiles"][:, 0, 2] - med).int()
    s["entropy_bottleneck._offset"] = -minima
    s["entropy_bottleneck._cdf_length"] = minima + maxima + 1 + 2
    s["entropy_bottleneck._quantized_cdf"] = torch.zeros(m, int((minima + maxima + 1).max()) + 2, dtype=torch.int32)
    return s


def _reparam(s: dict[str, Tensor], prefix: str, name: str) -> Tensor:
    """CompressAI's NonNegativeParametrizer forward: ``max(p, bound)² − pedestal``."""
    p = s[f"{prefix}.{name}"]
    bound = s[f"{prefix}.{name}_reparam.lower_bound.bound"]
    return torch.max(p, bound) ** 2 - s[f"{prefix}.{name}_reparam.pedestal"]


def _gdn(s: dict[str, Tensor], prefix: str, x: Tensor, inverse: bool) -> Tensor:
    c = x.shape[1]
    norm = F.conv2d(x**2, _reparam(s, prefix, "gamma").reshape(c, c, 1, 1), _reparam(s, prefix, "beta"))
    return x * torch.sqrt(norm) if inverse else x * torch.rsqrt(norm)


def ref_g_a(s: dict[str, Tensor], x: Tensor) -> Tensor:
    for k in range(4):
        x = F.conv2d(x, s[f"g_a.{2 * k}.weight"], s[f"g_a.{2 * k}.bias"], stride=2, padding=2)
        if k < 3:
            x = _gdn(s, f"g_a.{2 * k + 1}", x, inverse=False)
    return x


def ref_g_s(s: dict[str, Tensor], y: Tensor) -> Tensor:
    for k in range(4):
        w, b = s[f"g_s.{2 * k}.weight"], s[f"g_s.{2 * k}.bias"]
        y = F.conv_transpose2d(y, w, b, stride=2, padding=2, output_padding=1)
        if k < 3:
            y = _gdn(s, f"g_s.{2 * k + 1}", y, inverse=True)
    return y


def ref_entropy(s: dict[str, Tensor], y: Tensor) -> tuple[Tensor, Tensor]:
    """CompressAI's EntropyBottleneck.forward in eval mode: median rounding and ``σ(upper) − σ(lower)``."""
    c = y.shape[1]
    med = s["entropy_bottleneck.quantiles"][:, 0, 1].view(1, c, 1, 1)
    y_hat = torch.round(y - med) + med
    v = y_hat.transpose(0, 1).reshape(c, 1, -1)

    def logits(x: Tensor) -> Tensor:
        for i in range(len(FILTERS) + 1):
            x = torch.matmul(F.softplus(s[f"entropy_bottleneck._matrix{i}"]), x) + s[f"entropy_bottleneck._bias{i}"]
            if i < len(FILTERS):
                x = x + torch.tanh(s[f"entropy_bottleneck._factor{i}"]) * torch.tanh(x)
        return x

    lik = torch.sigmoid(logits(v + 0.5)) - torch.sigmoid(logits(v - 0.5))
    lik = torch.clamp(lik, min=1e-9).reshape(c, y.shape[0], *y.shape[2:]).transpose(0, 1)
    return y_hat, lik


# -- the inverse mapping: our teacher written with CompressAI's names ----------------------------------------------
def to_compressai(model: BLS2017) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in model.state_dict().items():
        if key.startswith("entropy_bottleneck."):
            rest = key[len("entropy_bottleneck.") :]
            head, _, idx = rest.partition(".")
            names = {"matrices": "_matrix", "biases": "_bias", "factors": "_factor"}
            if head in names:
                out[f"entropy_bottleneck.{names[head]}{idx}"] = value
            elif head == "quantiles":
                out[key] = value
            continue  # tables: rebuilt by the loader
        out[key] = value
        if key.endswith(".beta") or key.endswith(".gamma"):
            name = key.rsplit(".", 1)[1]
            minimum = 1e-6 if name == "beta" else 0.0
            out[key.replace(f".{name}", f".{name}_reparam.pedestal")] = torch.tensor([OFFSET**2])
            out[key.replace(f".{name}", f".{name}_reparam.lower_bound.bound")] = torch.tensor(
                [(minimum + OFFSET**2) ** 0.5]
            )
    return out


def test_checkpoint_loads_and_matches_the_independent_compressai_forward() -> None:
    s = compressai_state()
    assert detect_compressai(s) and compressai_config(s) == (N, M, FILTERS)
    teacher = load_compressai_teacher(s)
    assert isinstance(teacher, BLS2017) and not teacher.training
    assert teacher.topology == "bmshj2018-factorized" and teacher.latent_channels == M and teacher.N == N
    assert teacher.entropy_bottleneck.has_tables
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        y_ref = ref_g_a(s, x)
        y_hat_ref, lik_ref = ref_entropy(s, y_ref)
        x_ref = ref_g_s(s, y_hat_ref)
        torch.testing.assert_close(teacher.g_a(x), y_ref, atol=1e-5, rtol=0)
        out = teacher(x)
        torch.testing.assert_close(out.likelihoods["y"], lik_ref, atol=1e-5, rtol=0)
        torch.testing.assert_close(out.x_hat, x_ref, atol=1e-5, rtol=0)
    # the rate: CompressAI's σ(upper) − σ(lower) cancels in float32 far in the tails, so the reference is float64
    s64 = {k: v.double() if v.is_floating_point() else v for k, v in s.items()}
    _, lik64 = ref_entropy(s64, y_ref.double())
    bits_ref, bits = -torch.log2(lik64).sum(), -torch.log2(out.likelihoods["y"].double()).sum()
    assert abs(float(bits - bits_ref)) <= 1e-4 * float(bits_ref)
    # the tables keep CompressAI's per-channel offsets and lengths (same layout, rebuilt values)
    eb = teacher.entropy_bottleneck
    assert torch.equal(eb.offset, s["entropy_bottleneck._offset"])
    assert torch.equal(eb.cdf_length, s["entropy_bottleneck._cdf_length"])


def test_inverse_mapping_of_our_teacher_round_trips_exactly() -> None:
    torch.manual_seed(1)
    ours = BLS2017(N, M=M, topology="bmshj2018-factorized")
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(0.05 * torch.randn_like(p).abs())
    ours.update(force=True)
    loaded = load_compressai_teacher(to_compressai(ours))
    for key, value in ours.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.rand(1, 3, 48, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(x).x_hat, ours.eval()(x).x_hat, atol=0, rtol=0)


def test_old_key_names_prefixes_and_training_checkpoints_load_the_same(tmp_path: Path) -> None:
    s = compressai_state(seed=2)
    old = {}
    for k, v in s.items():
        for theirs, before in (("_matrix", "_matrices."), ("_bias", "_biases."), ("_factor", "_factors.")):
            if k.startswith(f"entropy_bottleneck.{theirs}") and k[-1].isdigit():
                k = f"entropy_bottleneck.{before}{k[-1]}"
        old[f"module.{k}"] = v
    path = tmp_path / "bmshj2018-factorized-prior-3.pth.tar"
    torch.save({"epoch": 3, "state_dict": old, "loss": torch.tensor(0.5)}, path)
    a, b = load_compressai_teacher(s), load_compressai_teacher(path)
    x = torch.rand(1, 3, 16, 32)
    with torch.no_grad():
        torch.testing.assert_close(a(x).x_hat, b(x).x_hat, atol=0, rtol=0)


def test_another_reparametrisation_offset_is_converted_through_the_effective_values() -> None:
    s = compressai_state(seed=3, offset=2.0**-10)
    teacher = load_compressai_teacher(s)
    gdn = teacher.g_a[1]
    torch.testing.assert_close(gdn.effective_gamma, _reparam(s, "g_a.1", "gamma"), atol=1e-6, rtol=0)
    torch.testing.assert_close(gdn.effective_beta, _reparam(s, "g_a.1", "beta"), atol=1e-6, rtol=0)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(teacher.g_a(x), ref_g_a(s, x), atol=1e-5, rtol=0)


def test_loaded_teacher_compresses_and_decompresses_what_its_forward_predicts() -> None:
    teacher = load_compressai_teacher(compressai_state(seed=4))
    x = torch.rand(1, 3, 40, 56)  # not a multiple of 16: padded centred, cropped back
    bits = teacher.compress(x)
    x_dec = teacher.decompress(bits)
    with torch.no_grad():
        out = teacher(x)
    assert x_dec.shape == x.shape
    torch.testing.assert_close(x_dec, out.x_hat.clamp(0, 1), atol=1e-5, rtol=0)
    real = 8 * len(bits.strings[0])
    estimated = float(-torch.log2(out.likelihoods["y"]).sum())
    assert real <= 1.1 * estimated + 64  # our coder reaches the density's rate


def test_ilc_distils_from_the_loaded_teacher() -> None:
    from invrestore.models.ilc.config import ILCLossConfig
    from invrestore.models.ilc.steps import ilc_training_losses

    teacher = load_compressai_teacher(compressai_state(seed=5)).requires_grad_(False)
    ilc = ILC(latent_channels=teacher.latent_channels, stages=TINY_STAGES, name="ilc-from-compressai")
    init_from_teacher(ilc, teacher)
    torch.testing.assert_close(ilc.entropy_bottleneck.quantiles, teacher.entropy_bottleneck.quantiles)
    batch = {"x": torch.rand(2, 3, 32, 32)}
    loss, _ = ilc_training_losses(ilc, teacher, batch, ILCLossConfig(), torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and loss.requires_grad


def test_paper_sizes_are_detected_and_match_the_registered_topologies() -> None:
    for (n, m), name in (((128, 192), "bmshj2018-factorized-128-192"), ((192, 320), "bmshj2018-factorized-192-320")):
        with torch.device("meta"):
            model = create_model(name)
        assert isinstance(model, BLS2017) and (model.N, model.latent_channels) == (n, m)
        shapes = {k: torch.empty(v.shape, device="meta") for k, v in to_compressai(model).items()}
        assert compressai_config(shapes) == (n, m, FILTERS)


def test_the_default_topology_is_unchanged_and_refuses_a_separate_m() -> None:
    ours = BLS2017(8)
    assert ours.topology == "bls2017" and ours.latent_channels == ours.M == 8
    assert ours.codec_config() == {"name": "bls2017-8", "family": "bls2017", "N": 8}
    assert ours.g_a[0].kernel_size == (9, 9) and ours.g_a[4].bias is None
    with pytest.raises(ValueError, match="bmshj2018-factorized"):
        BLS2017(8, M=12)
    other = BLS2017(8, M=12, topology="bmshj2018-factorized")
    assert other.name == "bmshj2018-factorized-8-12" and other.latent_shape(40, 56) == (12, 3, 4)
    assert other.codec_config()["M"] == 12


def test_other_checkpoints_get_one_line_naming_what_they_are() -> None:
    s = compressai_state()
    hyper = {**s, "h_a.0.weight": torch.zeros(N, M, 3, 3)}
    assert not detect_compressai(hyper)
    with pytest.raises(CheckpointError, match="hyperprior"):
        load_compressai_teacher(hyper)
    kair = {"model.0.weight": torch.zeros(64, 1, 3, 3), "model.0.bias": torch.zeros(64)}
    assert not detect_compressai(kair)
    with pytest.raises(CheckpointError, match=r"not a CompressAI bmshj2018-factorized checkpoint.*'model\.0\.weight'"):
        load_compressai_teacher(kair)
    ours = create_model("bls2017-128").state_dict()  # our own teacher layout is not CompressAI's
    assert not detect_compressai(ours)
    bad = {**s, "g_s.6.weight": torch.zeros(N, 1, 5, 5)}
    with pytest.raises(CheckpointError, match=r"'g_s\.6\.weight' has shape \(8, 1, 5, 5\)"):
        load_compressai_teacher(bad)
    extra = {**s, "entropy_bottleneck.surprise": torch.zeros(1)}
    with pytest.raises(CheckpointError, match="surprise"):
        load_compressai_teacher(extra)


def test_an_ilc_training_config_accepts_a_compressai_teacher_file(tmp_path: Path) -> None:
    from invrestore.models.ilc.config import (
        CodecDataConfig,
        ILCConfig,
        ILCLossConfig,
        ILCModelConfig,
        ILCTeacherConfig,
    )
    from invrestore.models.ilc.steps import ILCTask

    latent = create_model("ilc-tiny").latent_channels  # type: ignore[union-attr]
    path = tmp_path / "bmshj2018-factorized.pth.tar"
    torch.save({"state_dict": compressai_state(n=4, m=int(latent))}, path)
    cfg = ILCConfig(
        model=ILCModelConfig(name="ilc-tiny"),
        teacher=ILCTeacherConfig(name="bls2017-8", weights=str(path)),
        loss=ILCLossConfig(teacher_lmbda=0.01),
        data=CodecDataConfig(train_folders=(str(tmp_path),), crop_size=32),
    )
    task = ILCTask(cfg)
    model = task.build_model()
    teacher = task.teacher(torch.device("cpu"))
    assert isinstance(model, ILC) and teacher.latent_channels == latent and not teacher.training
    assert torch.equal(model.entropy_bottleneck.quantiles, teacher.entropy_bottleneck.quantiles)
