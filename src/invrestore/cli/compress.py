"""``invrestore compress`` / ``invrestore decompress``: learned image codecs (ILC, bls2017) on files.

``compress`` writes the CRC-checked container of :mod:`invrestore.entropy.bitstream` (``.irc``); ``decompress``
reads the model id from the container, builds that model with the given weights and refuses a file whose config
hash (architecture + coding tables) does not match them. Every write is atomic, and a malformed, truncated or
foreign file is reported on one line (exit status 1) without creating an output file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import torch

from invrestore.entropy.codec import MAX_DECODE_PIXELS, LearnedCodec
from invrestore.errors import CheckpointError, ConfigError, InvalidBitstream

#: Largest container the decoder reads (a 65535² image at 24 bpp plus headers is far below this).
MAX_FILE_BYTES = 1 << 30


def _codec(model: str, weights: str | None) -> Any:
    from invrestore.models.ilc.loading import load_codec

    codec: LearnedCodec = load_codec(model, weights)
    if not all(eb.has_tables for eb in codec.entropy_bottlenecks()):
        raise CheckpointError(
            f"the weights of '{model}' have no coding tables: call model.eval().update() after training and save "
            "the weights again (invrestore.train.save_weights(model.state_dict(), path))"
        )
    return codec  # a LearnedCodec with compress()/decompress() (not declared by the base class)


def _read_container(path: Path) -> bytes:
    if not path.is_file():
        raise InvalidBitstream(f"cannot read '{path}': no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InvalidBitstream(f"'{path}' is {size} bytes, larger than any invrestore compressed file")
    try:
        return path.read_bytes()
    except OSError as e:
        raise InvalidBitstream(f"cannot read '{path}': {e.strerror}") from e


@click.command("compress")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Compressed file (.irc).")
@click.option(
    "--model",
    required=True,
    help="Codec: shipped ilc-small-q1/-q4 and bls2017-128-q1/-q4 (CPU-trained), or ilc-q1…ilc-q5, ilc-small, "
    "ilc-tiny, bls2017-N with --weights.",
)
@click.option(
    "--weights", type=click.Path(dir_okay=False), default=None, help="Trained weights (with tables); default: shipped."
)
def compress(image: str, output: str, model: str, weights: str | None) -> None:
    """Compress IMAGE (RGB; gray is expanded, alpha dropped) into a .irc file and print the real bpp."""
    from invrestore.io import atomic_write, read_image

    codec = _codec(model, weights)
    x = read_image(image, mode="rgb")
    h, w = x.shape[-2:]
    if max(h, w) > 65535:
        raise ConfigError(f"{image} is {h}×{w}; the container stores sides up to 65535")
    with torch.no_grad():
        bits = codec.compress(x.unsqueeze(0))
        est = codec(x.unsqueeze(0))
    data = bits.to_bytes()
    from invrestore.entropy.codec import estimated_bpp

    est_bpp = float(estimated_bpp(est.likelihoods, h, w)[0])
    with atomic_write(output) as fh:
        fh.write(data)
    bpp = 8.0 * len(data) / (h * w)
    click.echo(
        f"{image} ({h}×{w}) -> {output}: {len(data)} bytes, {bpp:.4f} bpp "
        f"(estimated {est_bpp:.4f} bpp + {bits.header_bytes} bytes of header)"
    )


@click.command("decompress")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Decoded image (.png, ...).")
@click.option(
    "--weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="Weights of the model in the file (default: its shipped weights).",
)
@click.option("--max-pixels", type=int, default=MAX_DECODE_PIXELS, show_default=True, help="Refuse larger images.")
def decompress(file: str, output: str, weights: str | None, max_pixels: int) -> None:
    """Decode FILE (written by `invrestore compress`) into an 8-bit image; the model is read from FILE."""
    from invrestore.entropy.bitstream import Bitstream
    from invrestore.io import write_image

    path = Path(file)
    out = Path(output)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"):
        raise ConfigError(f"cannot write '{out}': unknown image extension '{out.suffix}' (use .png)")
    data = _read_container(path)
    bits = Bitstream.from_bytes(data)
    try:
        codec = _codec(bits.model, weights)
    except ConfigError as e:
        raise InvalidBitstream(f"'{path}' was written by model '{bits.model}', which is not available: {e}") from e
    if bits.config_hash != codec.config_hash():
        raise InvalidBitstream(
            f"'{path}' was written by '{bits.model}' with other weights or coding tables than "
            f"{weights or 'the shipped ones'} (config hash {bits.config_hash.hex()} ≠ {codec.config_hash().hex()})"
        )
    x_hat = codec.decompress(bits, max_pixels=max_pixels)
    write_image(out, x_hat[0])
    h, w = bits.image_size
    click.echo(f"{path} ({len(data)} bytes, {8.0 * len(data) / (h * w):.4f} bpp) -> {out} ({h}×{w})")
