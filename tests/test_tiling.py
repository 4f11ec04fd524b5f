"""Tiled inference: tiled results equal whole-image ones, one window shape per image, the deterministic z field,
memory budgets and argument errors."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from torch import Tensor, nn

from invrestore.errors import ConfigError, ImageShapeError, ScaleError
from invrestore.models.irn.model import IRN
from invrestore.tiling import (
    TILE_BUCKETS,
    ZField,
    auto_tile,
    available_memory,
    check_tileable,
    default_overlap,
    estimate_memory,
    irn_downscale,
    irn_upscale,
    parse_memory,
    plan_tiles,
    tileable,
    tiled_map,
    tiled_restore,
)


def small_irn(scale: int) -> IRN:
    """A random IRN with one InvBlock per level and non-trivial subnets (the default init zeroes conv5)."""
    torch.manual_seed(scale)
    net = IRN(scale=scale, blocks=[1] * (scale.bit_length() - 1), gc=8).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "haar" not in name:
                p.normal_(0.0, 0.05)
    return net


class TinyRestorer(nn.Module):
    """Three 3×3 convs (receptive radius 3) with a padding multiple, like the restoration baselines."""

    multiple = 4

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 3, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2] % self.multiple or x.shape[-1] % self.multiple:
            raise AssertionError("input not padded to the multiple")
        out: Tensor = x + self.body(x)
        return out


# -- the plan ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("h", "w", "tile", "overlap", "align"),
    [(100, 76, 16, 8, 4), (64, 64, 64, 0, 1), (37, 250, 20, 10, 1), (96, 40, 8, 16, 8)],
)
def test_plan_cores_partition_the_image_and_keep_overlap_from_cuts(
    h: int, w: int, tile: int, overlap: int, align: int
) -> None:
    plan = plan_tiles(h, w, tile=tile, overlap=overlap, align=align)
    covered = torch.zeros(h, w, dtype=torch.int32)
    shapes = set()
    for (t, l, wh, ww), (ct, cl, ch, cw) in plan:
        shapes.add((wh, ww))
        assert t >= 0 and t + wh <= h and l >= 0 and l + ww <= w
        assert t <= ct and ct + ch <= t + wh and l <= cl and cl + cw <= l + ww
        assert ct % align == 0 and cl % align == 0 and ch % align == 0 and cw % align == 0
        covered[ct : ct + ch, cl : cl + cw] += 1
        # every kept pixel is at least `overlap` away from a window edge that is not the image border
        for edge, dist in ((t, ct - t), (l, cl - l)):
            assert edge == 0 or dist >= overlap
        assert t + wh == h or t + wh - (ct + ch) >= overlap
        assert l + ww == w or l + ww - (cl + cw) >= overlap
    assert bool((covered == 1).all())
    assert len(shapes) == 1
    assert shapes == {(min(h, tile + 2 * overlap), min(w, tile + 2 * overlap))}


def test_bad_tile_arguments_raise_config_errors() -> None:
    x = torch.rand(1, 3, 32, 32)
    for kw in (
        {"tile": 0, "overlap": 4},
        {"tile": 16, "overlap": -1},
        {"tile": 10, "overlap": 4, "align": 4},
        {"tile": 16, "overlap": 6, "align": 4},
    ):
        with pytest.raises(ConfigError):
            tiled_map(lambda t, b: t, x, **kw)  # type: ignore[arg-type]
    with pytest.raises(ScaleError):
        tiled_map(lambda t, b: t, torch.rand(1, 3, 30, 32), tile=16, overlap=4, align=4)
    with pytest.raises(ImageShapeError):  # fn returns the wrong size
        tiled_map(lambda t, b: t[..., :-1], x, tile=16, overlap=4)
    with pytest.raises(ConfigError):
        irn_downscale(small_irn(2), torch.rand(1, 3, 32, 32), tile=0)
    with pytest.raises(ScaleError):
        irn_downscale(small_irn(2), torch.rand(1, 3, 31, 32))
    with pytest.raises(ConfigError):  # a ×2 IRN has 9 latent channels
        irn_upscale(small_irn(2), torch.rand(1, 3, 16, 16), ZField(45))


# -- exactness --------------------------------------------------------------------------------------------------
def test_tiled_map_equals_whole_and_sees_one_window_shape() -> None:
    net = TinyRestorer().eval()
    x = torch.rand(1, 3, 60, 84)
    shapes: list[tuple[int, ...]] = []

    def fn(t: Tensor, box: tuple[int, int, int, int]) -> Tensor:
        shapes.append(tuple(t.shape))
        top, left, h, w = box
        assert torch.equal(t, x[:, :, top : top + h, left : left + w])
        return net(t)

    with torch.no_grad():
        whole = net(x)
        tiled = tiled_map(fn, x, tile=12, overlap=4, align=4, progress=True)
    assert len(shapes) > 4 and len(set(shapes)) == 1
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    with torch.no_grad():  # too little overlap (2 < receptive radius 3) does change the result
        short = tiled_map(lambda t, b: net(t), x, tile=12, overlap=2, align=1)
    assert float((short - whole).abs().max()) > 1e-4


@pytest.mark.parametrize(("scale", "overlap"), [(2, 24), (4, 64)])
def test_irn_tiled_downscale_equals_whole(scale: int, overlap: int) -> None:
    # receptive radius: 10 px (2 dense blocks of 5 convs) per InvBlock at its level's resolution
    net = small_irn(scale)
    x = torch.rand(1, 3, 192, 208)
    with torch.no_grad():
        ref = net(x)[0][:, :3]
        raw = tiled_map(
            lambda t, b: net(t)[0][:, :3], x, tile=8 * scale, overlap=overlap, align=scale, scale=Fraction(1, scale)
        )
    torch.testing.assert_close(raw, ref, atol=1e-5, rtol=0)
    whole = irn_downscale(net, x)
    tiled = irn_downscale(net, x, tile=8 * scale, overlap=overlap)
    assert whole.shape == tiled.shape == (1, 3, 192 // scale, 208 // scale)
    levels = (tiled - whole).abs() * 255
    assert float((levels < 0.5).float().mean()) >= 0.999 and float(levels.max()) <= 1.0 + 1e-4
    assert torch.allclose(whole * 255, torch.round(whole * 255), atol=1e-4)  # 8-bit values


@pytest.mark.parametrize(("scale", "overlap"), [(2, 12), (4, 16)])
def test_irn_tiled_upscale_equals_whole_with_the_same_zfield(scale: int, overlap: int) -> None:
    net = small_irn(scale)
    y = torch.round(torch.rand(1, 3, 40, 52) * 255) / 255
    zf = ZField(3 * scale * scale - 3, seed=7)
    whole = irn_upscale(net, y, zf)
    calls: list[tuple[int, ...]] = []

    def inverse(t: Tensor) -> Tensor:
        calls.append(tuple(t.shape))
        return net.inverse(t)[0]

    tiled = irn_upscale(net, y, zf, tile=8, overlap=overlap, inverse=inverse)
    assert whole.shape == tiled.shape == (1, 3, 40 * scale, 52 * scale)
    assert len(set(calls)) == 1 and len(calls) > 1
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    # the whole-image path is IRN's own upscale with z = the field
    with torch.no_grad():
        direct = net.upscale(y, zf.full(40, 52))
    torch.testing.assert_close(whole, direct, atol=1e-6, rtol=0)


def test_tiled_restore_matches_restore_image_padding_and_crop() -> None:
    from invrestore.inference.restorer import restore_image

    net = TinyRestorer().eval()
    x = torch.rand(1, 3, 45, 70)  # not multiples of 4: reflect-padded, cropped back
    ref = restore_image(net, x[0])
    whole = tiled_restore(net, x, multiple=4)
    tiled = tiled_restore(net, x, multiple=4, tile=10, overlap=3)  # rounded up to 12 and 4
    assert whole.shape == tiled.shape == (1, 3, 45, 70)
    torch.testing.assert_close(whole[0].clamp(0, 1), ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)


def test_train_mode_batchnorm_models_refuse_tiling() -> None:
    from invrestore.models.pix2pix.restorer import Pix2PixRestorer

    gen = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, 3, 1), nn.Tanh())
    train_mode = Pix2PixRestorer(gen, eval_mode=False).eval()
    assert not tileable(train_mode) and tileable(Pix2PixRestorer(gen, eval_mode=True).eval())
    x = torch.rand(1, 3, 32, 32)
    assert tiled_restore(train_mode, x).shape == (1, 3, 32, 32)  # whole image: fine
    with pytest.raises(ConfigError, match="statistics"):
        tiled_restore(train_mode, x, tile=16, overlap=4)
    with pytest.raises(ConfigError):
        check_tileable(gen.train())
    check_tileable(gen.eval())


# -- the latent field -------------------------------------------------------------------------------------------
def test_zfield_crops_agree_across_chunks_and_seeds_differ() -> None:
    zf = ZField(5, seed=3, chunk=16)
    full = zf.full(50, 70)
    assert full.shape == (1, 5, 50, 70)
    for top, left, h, w in [(0, 0, 50, 70), (7, 13, 20, 33), (16, 16, 16, 16), (31, 47, 19, 23), (49, 69, 1, 1)]:
        assert torch.equal(zf.crop(top, left, h, w), full[:, :, top : top + h, left : left + w])
    assert torch.equal(ZField(5, seed=3, chunk=16).crop(0, 0, 50, 70), full)  # reproducible
    assert not torch.equal(ZField(5, seed=4, chunk=16).full(50, 70), full)
    # distinct chunks are independent draws, the field is ~ N(0, 1)
    assert not torch.equal(full[:, :, :16, :16], full[:, :, :16, 16:32])
    big = ZField(4, seed=0).full(128, 128)
    assert abs(float(big.mean())) < 0.02 and abs(float(big.std()) - 1.0) < 0.02
    torch.testing.assert_close(ZField(5, seed=3, chunk=16, temperature=0.5).full(50, 70), 0.5 * full)
    assert not ZField(5, mode="zero").crop(3, 4, 10, 11).any()
    with pytest.raises(ConfigError):
        ZField(5, mode="gauss")  # type: ignore[arg-type]


# -- memory and defaults ----------------------------------------------------------------------------------------
def test_parse_memory() -> None:
    assert parse_memory("2GB") == 2 * 10**9
    assert parse_memory("512MiB") == 512 * 2**20
    assert parse_memory("1.5G") == 1_500_000_000
    assert parse_memory(" 800 mb ") == 800 * 10**6
    assert parse_memory("4096") == 4096
    assert parse_memory("1gib") == 2**30
    for bad in ("auto", "", "2 GBs", "-1G", "0", "1.2.3G", "GB"):
        with pytest.raises(ConfigError):
            parse_memory(bad)


def test_auto_tile_whole_for_small_images_and_a_fitting_bucket_for_huge_ones() -> None:
    gib = 2**30
    assert auto_tile("irn-x4-down", 512, 768, max_memory=gib, align=4) is None
    t = auto_tile("irn-x4-down", 4000, 6000, max_memory=gib, align=4)
    assert t is not None and t % 4 == 0 and t in TILE_BUCKETS
    ov = default_overlap("irn-x4-down")
    assert estimate_memory("irn-x4-down", (t + 2 * ov) ** 2) <= gib
    bigger = [b for b in TILE_BUCKETS if b > t]
    assert all(estimate_memory("irn-x4-down", (b + 2 * ov) ** 2) > gib for b in bigger)
    up = auto_tile("irn-x4-up", 1000, 1500, max_memory=gib, align=1)
    assert up is not None and up < t  # upscaling costs more per input (LR) pixel
    assert auto_tile("restore-dncnn", 4000, 6000, max_memory=None, align=1) is not None  # default budget
    assert auto_tile("irn-x4-down", 100, 100, max_memory=1, align=4) == TILE_BUCKETS[-1]  # nothing fits: smallest
    with pytest.raises(ConfigError):
        auto_tile("irn-x4-down", 100, 100, max_memory=0, align=4)
    assert estimate_memory("irn-x4-down", 2000, dtype_bytes=2) * 2 == pytest.approx(
        estimate_memory("irn-x4-down", 2000), abs=2
    )
    assert available_memory(torch.device("cpu")) > 0


def test_default_overlap_kinds() -> None:
    for kind, align in (("irn-x2-down", 2), ("irn-x4-down", 4), ("irn-x8-down", 8), ("irn-x4-up", 1)):
        ov = default_overlap(kind)
        assert ov > 0 and ov % align == 0
    assert default_overlap("irn-x8-down") >= default_overlap("irn-x4-down")
    assert default_overlap("irn-down") == default_overlap("irn-x4-down")
    assert default_overlap("restore-dncnn-s-denoise25") == default_overlap("restore-dncnn")
    assert default_overlap("restore-something-new") > 0
    with pytest.raises(ConfigError, match="unknown"):
        default_overlap("bogus")
