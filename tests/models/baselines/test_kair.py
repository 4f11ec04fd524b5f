"""KAIR's published DnCNN/FFDNet files load and compute what KAIR's networks compute.

The peer layouts are rebuilt here from KAIR's published description (``models/network_dncnn.py``,
``network_ffdnet.py``, ``basicblock.py``, ``utils/utils_bnorm.py``): a flat ``nn.Sequential`` named ``model`` of
biased 3×3 convs with BatchNorm (eps 1e-4) + ReLU in the middle layers, trained that way, then released with the
BatchNorm folded into the convs. The reference networks below are written independently of the library.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import CheckpointError, ImageShapeError
from invrestore.models import create_model, list_models
from invrestore.models.baselines import FFDNet, KAIRDnCNN, KAIRFFDNet, detect_kair, load_kair, parameter_count
from invrestore.models.baselines.kair import _VARIANTS
from invrestore.models.registry import MODELS

EPS = 1e-4  # KAIR's BatchNorm eps


def kair_bn_stack(c_in: int, c_out: int, depth: int, width: int, seed: int) -> nn.Sequential:
    """KAIR's ``act_mode="BR"`` stack: conv+ReLU, (conv+BN+ReLU)×(depth−2), conv; random trained-looking BN."""
    g = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = [nn.Conv2d(c_in, width, 3, padding=1), nn.ReLU()]
    for _ in range(depth - 2):
        bn = nn.BatchNorm2d(width, eps=EPS)
        with torch.no_grad():
            bn.running_mean.copy_(0.1 * torch.randn(width, generator=g))
            bn.running_var.copy_(0.5 + torch.rand(width, generator=g))
            bn.weight.copy_(0.5 + 0.5 * torch.rand(width, generator=g))
            bn.bias.copy_(0.05 * torch.randn(width, generator=g))
        layers += [nn.Conv2d(width, width, 3, padding=1), bn, nn.ReLU()]
    layers.append(nn.Conv2d(width, c_out, 3, padding=1))
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (1.0 / (9 * m.in_channels)) ** 0.5)
                m.bias.copy_(0.01 * torch.randn(m.bias.shape, generator=g))
    return net.eval()


def released_state(stack: nn.Sequential) -> dict[str, Tensor]:
    """What KAIR's ``merge_bn`` + ``tidy_sequential`` publish: BN folded into the previous conv, BN modules removed,
    keys ``model.{i}`` renumbered over the remaining modules (conv, ReLU, conv, ReLU, ...)."""
    modules = list(stack)
    kept: list[nn.Module] = []
    for i, m in enumerate(modules):
        if isinstance(m, nn.BatchNorm2d):
            continue
        if isinstance(m, nn.Conv2d):
            w, b = m.weight.detach().clone(), m.bias.detach().clone()
            nxt = modules[i + 1] if i + 1 < len(modules) else None
            if isinstance(nxt, nn.BatchNorm2d):
                inv = (nxt.running_var + nxt.eps) ** -0.5
                w = w * (inv * nxt.weight).view(-1, 1, 1, 1)
                b = (b - nxt.running_mean) * inv * nxt.weight + nxt.bias
            conv = nn.Conv2d(m.in_channels, m.out_channels, 3, padding=1)
            conv.weight.data, conv.bias.data = w, b
            kept.append(conv)
        else:
            kept.append(m)
    return {f"model.{k}": v.detach() for k, v in nn.Sequential(*kept).state_dict().items()}


def training_state(stack: nn.Sequential) -> dict[str, Tensor]:
    """A KAIR training checkpoint (BN still separate): the ``act_mode="BR"`` module's own state dict."""
    return {f"model.{k}": v for k, v in stack.state_dict().items()}


def kair_unshuffle(x: Tensor) -> Tensor:
    """KAIR's ``basicblock.pixel_unshuffle`` by its published formula (view + permute)."""
    b, c, h, w = x.shape
    v = x.contiguous().view(b, c, h // 2, 2, w // 2, 2)
    return v.permute(0, 1, 3, 5, 2, 4).contiguous().view(b, 4 * c, h // 2, w // 2)


def kair_ffdnet(stack: nn.Sequential, x: Tensor, sigma: Tensor) -> Tensor:
    """KAIR's ``FFDNet.forward``: replicate-pad to even, unshuffle, concat σ (B,1,1,1) repeated, stack, shuffle."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    x = kair_unshuffle(x)
    m = sigma.repeat(1, 1, x.shape[-2], x.shape[-1])
    out = F.pixel_shuffle(stack(torch.cat([x, m], dim=1)), 2)
    return out[..., :h, :w]


def save_pth(state: dict[str, Tensor], path: Path) -> Path:
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    ("name", "channels", "depth"),
    [("dncnn-kair-17-gray", 1, 17), ("dncnn-kair-20-gray", 1, 20), ("dncnn-kair-20-color", 3, 20)],
)
def test_released_dncnn_file_loads_and_matches_the_unmerged_kair_network(
    name: str, channels: int, depth: int, tmp_path: Path
) -> None:
    stack = kair_bn_stack(channels, channels, depth, 64, seed=depth + channels)
    path = save_pth(released_state(stack), tmp_path / "dncnn.pth")
    state = torch.load(path, weights_only=True)
    assert not any("running" in k for k in state) and "model.2.weight" in state and "model.1.weight" not in state
    assert detect_kair(state) == name
    net = load_kair(path)
    assert isinstance(net, KAIRDnCNN) and not net.training
    y = torch.rand(2, channels, 19, 23)
    with torch.no_grad():
        ref = y - stack(y)  # DnCNN is residual: it predicts the noise
        out = net(y)
    assert out.shape == y.shape
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # the CLI path (create_model + load_state_dict of the file) gives the same network
    cli_net = create_model(name)
    cli_net.load_state_dict(torch.load(path, weights_only=True))
    with torch.no_grad():
        torch.testing.assert_close(cli_net.eval()(y), out, atol=0, rtol=0)


@pytest.mark.parametrize(
    ("name", "channels", "depth", "width"), [("ffdnet-kair-gray", 1, 15, 64), ("ffdnet-kair-color", 3, 12, 96)]
)
def test_released_ffdnet_file_loads_and_matches_kair_with_its_one_channel_noise_map(
    name: str, channels: int, depth: int, width: int, tmp_path: Path
) -> None:
    stack = kair_bn_stack(4 * channels + 1, 4 * channels, depth, width, seed=width)
    with torch.no_grad():
        stack[0].weight[:, -1] *= 30  # a trained FFDNet leans on its noise map; make the random one do so too
    path = save_pth(released_state(stack), tmp_path / "ffdnet.pth")
    assert detect_kair(torch.load(path, weights_only=True)) == name
    net = load_kair(path, name=name)
    assert isinstance(net, KAIRFFDNet) and isinstance(net, FFDNet)  # the restore CLI's FFDNet call applies
    y = torch.rand(2, channels, 17, 14)  # odd height: replicate padding as in KAIR
    sig = torch.tensor([15.0, 50.0]) / 255
    with torch.no_grad():
        ref = kair_ffdnet(stack, y, sig.view(2, 1, 1, 1))
        torch.testing.assert_close(net(y, sig), ref, atol=1e-5, rtol=0)
        # a number, (B, 1) and a constant full-resolution map mean the same σ
        one = kair_ffdnet(stack, y, torch.full((2, 1, 1, 1), 25 / 255))
        for s in (25 / 255, torch.full((2, 1), 25 / 255), torch.full((2, 1, 17, 14), 25 / 255)):
            torch.testing.assert_close(net(y, s), one, atol=1e-5, rtol=0)
        # σ matters (the map is an input, not ignored)
        assert (net(y, 5 / 255) - net(y, 50 / 255)).abs().max() > 20 * 1e-5  # far beyond the tolerance


def test_training_checkpoints_with_separate_batch_norm_are_merged_on_load() -> None:
    stack = kair_bn_stack(1, 1, 6, 16, seed=3)
    state = training_state(stack)
    assert "model.3.running_var" in state  # conv, BN, ReLU at 2, 3, 4
    net = load_kair(state)
    y = torch.rand(1, 1, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(net(y), y - stack(y), atol=1e-5, rtol=0)
    assert detect_kair(state) is None  # depth 6, width 16: loads, but is no registered variant
    ff = kair_bn_stack(13, 12, 4, 8, seed=4)
    fnet = load_kair({f"module.{k}": v for k, v in training_state(ff).items()})  # DataParallel prefix too
    x = torch.rand(1, 3, 8, 10)
    with torch.no_grad():
        torch.testing.assert_close(fnet(x, 0.1), kair_ffdnet(ff, x, torch.full((1, 1, 1, 1), 0.1)), atol=1e-5, rtol=0)


def test_registered_variants_state_their_parameter_counts_and_kairs_key_layout() -> None:
    names = [n for n in list_models("baselines") if "kair" in n]
    assert sorted(names) == [
        "dncnn-kair-17-gray",
        "dncnn-kair-20-color",
        "dncnn-kair-20-gray",
        "ffdnet-kair-color",
        "ffdnet-kair-gray",
    ]
    for name in names:
        net = create_model(name)
        assert parameter_count(net) == MODELS[name].params, name  # the documented count the entry declares
        kind, channels, depth, width = _VARIANTS[name]  # detect_kair's table agrees with the registration
        assert type(net) is (KAIRDnCNN if kind == "dncnn" else KAIRFFDNet), name
        assert dict(MODELS[name].kwargs) == {"in_channels": channels, "depth": depth, "width": width}, name
        keys = list(net.state_dict())
        assert keys[:3] == ["model.0.weight", "model.0.bias", "model.2.weight"], name
    # closed form of the 17-layer gray DnCNN: head, 15 middle, tail, all with biases
    assert parameter_count(create_model("dncnn-kair-17-gray")) == (9 * 64 + 64) + 15 * (9 * 64 * 64 + 64) + (9 * 64 + 1)


def test_gray_models_take_gray_images_read_as_rgb_and_refuse_colour() -> None:
    from invrestore.inference.restorer import restore_image

    net = create_model("dncnn-kair-17-gray").eval()
    ffd = create_model("ffdnet-kair-gray").eval()
    g = torch.rand(1, 1, 10, 9)
    rgb = g.expand(1, 3, 10, 9).clone()
    with torch.no_grad():
        torch.testing.assert_close(net(rgb), net(g).expand(1, 3, 10, 9))
        torch.testing.assert_close(ffd(rgb, 0.1), ffd(g, 0.1).expand(1, 3, 10, 9))
        out = restore_image(ffd, rgb[0], sigma=25.0)
    assert out.shape == (3, 10, 9)
    with pytest.raises(ImageShapeError, match="grayscale"):
        net(torch.rand(1, 3, 8, 8))


def test_files_that_are_not_kair_or_do_not_fit_the_requested_variant_get_one_clear_line(tmp_path: Path) -> None:
    ours = create_model("dncnn-s-denoise25").state_dict()
    assert detect_kair(ours) is None
    with pytest.raises(CheckpointError, match=r"not a KAIR DnCNN/FFDNet state dict.*'dncnn\.0\.weight'"):
        load_kair(ours)
    released = released_state(kair_bn_stack(1, 1, 17, 64, seed=0))
    with pytest.raises(CheckpointError, match=r"DnCNN, 17 convolutions, 1 -> 1.*'ffdnet-kair-color' is FFDNet"):
        load_kair(save_pth(released, tmp_path / "dncnn_25.pth"), name="ffdnet-kair-color")
    fdncnn = released_state(kair_bn_stack(2, 1, 5, 8, seed=1))  # KAIR's FDnCNN: image + map, no unshuffle
    with pytest.raises(CheckpointError, match="FDnCNN"):
        load_kair(fdncnn)
    ircnn = released_state(kair_bn_stack(1, 1, 7, 64, seed=2))  # dilations do not show in a state dict
    with pytest.raises(CheckpointError, match="IRCNN"):
        load_kair(ircnn)
    with pytest.raises(CheckpointError, match="IRCNN"):
        load_kair(save_pth({"0": ircnn, "1": ircnn}, tmp_path / "ircnn_gray.pth"))  # one model per σ
    no_bias = {k: v for k, v in released.items() if not k.endswith("bias")}
    with pytest.raises(CheckpointError, match="no bias"):
        load_kair(no_bias)
    with pytest.raises(CheckpointError, match="not found"):
        load_kair(tmp_path / "missing.pth")
