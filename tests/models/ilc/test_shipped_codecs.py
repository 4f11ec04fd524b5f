"""The learned codecs shipped inside the package (two rate points of the CPU-trained bls2017-128 teacher and of the
ilc-small distilled from it): offline loading with coding tables, model cards, real files on natural images, and
the CLI without ``--weights``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from invrestore.cli.demo import sample_images
from invrestore.cli.main import cli
from invrestore.cli.rd import parse_model_specs
from invrestore.entropy import Bitstream
from invrestore.entropy.codec import estimated_bpp
from invrestore.errors import ConfigError
from invrestore.io import read_image
from invrestore.metrics import psnr
from invrestore.models.ilc.loading import load_codec
from invrestore.models.registry import MODELS, list_models
from invrestore.zoo import load_manifest

#: The shipped learned codecs, from the weights manifest.
SHIPPED = sorted(n for n, e in load_manifest().items() if e.family == "ilc")


def _weights_dir() -> Path:
    return Path(str(resources.files("invrestore") / "weights"))


def test_the_shipped_codecs_are_the_registered_codecs_with_weights() -> None:
    assert sorted(n for n in list_models("ilc") if MODELS[n].pretrained) == SHIPPED and len(SHIPPED) >= 4


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_codec_loads_offline_with_coding_tables_and_has_a_model_card(name: str) -> None:
    f = _weights_dir() / f"{name}.safetensors"
    assert f.is_file() and f.stat().st_size <= 12 * 2**20
    codec = load_codec(name)
    assert codec.name == name
    assert all(eb.has_tables for eb in codec.entropy_bottlenecks())
    card = (_weights_dir() / f"{name}.md").read_text()
    for needed in ("Command", "Iterations", "Wall time", "Kodak24", "PSNR-RGB", "Regenerate"):
        assert needed in card


def _crop(side: int = 128) -> torch.Tensor:
    return read_image(sample_images()[0], mode="rgb")[:, :side, :side]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_codec_codes_a_natural_image_within_its_estimate(name: str) -> None:
    codec = load_codec(name)
    x = _crop()[None]
    with torch.no_grad():
        bits = codec.compress(x)
        data = bits.to_bytes()
        x_hat = codec.decompress(Bitstream.from_bytes(data))
        est = float(estimated_bpp(codec(x).likelihoods, 128, 128)[0])
    payload_bpp = 8.0 * (len(data) - bits.header_bytes) / (128 * 128)
    assert payload_bpp <= est * 1.01 + 64 / (128 * 128)
    assert float(psnr(x_hat, x)[0]) > 22.0  # a trained codec (random weights give < 12 dB)


def test_a_larger_lambda_spends_more_bits_for_more_quality() -> None:
    x = _crop()[None]
    for family in ("bls2017-128", "ilc-small"):
        out = {}
        for q in ("q1", "q4"):
            codec = load_codec(f"{family}-{q}")
            with torch.no_grad():
                data = codec.compress(x).to_bytes()
                out[q] = (len(data), float(psnr(codec.decompress(Bitstream.from_bytes(data)), x)[0]))
        assert out["q1"][0] < out["q4"][0] and out["q1"][1] < out["q4"][1], (family, out)


def test_compress_and_decompress_use_the_shipped_weights_without_weights_option(tmp_path: Path) -> None:
    image = sample_images()[0]
    irc = tmp_path / "a.irc"
    res = CliRunner().invoke(cli, ["compress", str(image), "-o", str(irc), "--model", "ilc-small-q1"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["decompress", str(irc), "-o", str(tmp_path / "b.png")])
    assert res.exit_code == 0, res.output
    codec = load_codec("ilc-small-q1")
    with torch.no_grad():
        expected = codec.decompress(Bitstream.from_bytes(irc.read_bytes()))
    decoded = read_image(tmp_path / "b.png", mode="rgb")
    # write_image's quantisation: round-half-up in float64 (float32 can round a value just below .5 up to a tie)
    assert torch.equal(torch.round(decoded * 255).double(), torch.floor(expected[0].double().clamp(0, 1) * 255 + 0.5))


def test_bench_rd_takes_shipped_codecs_by_name() -> None:
    assert parse_model_specs(["ilc-small-q1, bls2017-128-q4=w.safetensors"]) == [
        ("ilc-small-q1", None),
        ("bls2017-128-q4", "w.safetensors"),
    ]
    with pytest.raises(ConfigError, match="no weights ship with 'ilc-tiny'"):
        parse_model_specs(["ilc-tiny"])
