"""``invrestore compress`` / ``invrestore decompress``: learned image codecs (ILC, bls2017) on files.

``compress`` writes the CRC-checked container of :mod:`invrestore.entropy.bitstream` (``.irc``); ``decompress``
reads the model id from the container, builds that model with the given weights and refuses a file whose config
hash (architecture + coding tables) does not match them. Every write is atomic, and a malformed, truncated or
foreign file is reported on one line (exit status 1) without creating an output file.

Both take many inputs (files, folders, globs; ``--resume``; ``torchrun`` shards), with the batch semantics of
:mod:`invrestore.batch`. The codec codes one latent for the whole image, so it does not tile: every input's memory
estimate (:func:`invrestore.memory.codec_memory`) is checked against ``--max-memory`` before anything is
written. The codec runs through its :class:`~invrestore.api.Codec` (:func:`invrestore.api.load_codec`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from invrestore.batch import IMAGE_EXTS, Inference, Job, Plan, plan_batch, progress_enabled
from invrestore.cli.rescale import BATCH_HELP, batch_options, run_plan
from invrestore.entropy.codec import MAX_DECODE_PIXELS
from invrestore.errors import ConfigError, InvalidBitstream
from invrestore.memory import codec_memory

if TYPE_CHECKING:
    from invrestore.inference.codec import ImageCodec

#: Largest container the decoder reads (a 65535² image at 24 bpp plus headers is far below this).
MAX_FILE_BYTES = 1 << 30


def _codec(model: str, weights: str | None, inf: Inference) -> ImageCodec:
    """The codec ``model`` (shipped weights unless ``weights``; they must hold coding tables) on ``inf.device``."""
    from invrestore.api import load_codec

    return load_codec(model, weights, device=inf.device)


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


def _single_file(images: tuple[str, ...], output: str, exts: tuple[str, ...]) -> bool:
    """Whether ``-o`` names one output file (one input file, ``-o`` with one of ``exts``) rather than a folder."""
    return len(images) == 1 and Path(images[0]).is_file() and Path(output).suffix.lower() in exts


def _plan(images: tuple[str, ...], output: str, kw: dict[str, Any], desc: str, *, exts: tuple[str, ...],
          suffix: str, out_exts: tuple[str, ...], is_image: bool) -> Plan:  # fmt: skip
    """The batch plan; ``-o FILE`` for a single input keeps the one-file form of earlier versions."""
    if _single_file(images, output, out_exts):
        out = Path(output)
        plan = plan_batch(images, out.parent, desc=desc, exts=exts, suffix=suffix, resume=kw["resume"],
                          images=is_image, max_pixels=kw.get("max_pixels"))  # fmt: skip
        jobs = [Job(j.src, out, j.size) for j in plan.jobs]
        skipped = [Job(j.src, out, j.size) for j in plan.skipped]
        if kw["resume"] and out.is_file() and out.stat().st_size > 0:
            jobs, skipped = [], jobs + skipped
        plan.jobs, plan.skipped, plan.report.skipped = jobs, skipped, len(skipped)
        plan.all_jobs = [Job(j.src, out, j.size) for j in plan.all_jobs]
        return plan
    return plan_batch(images, output, desc=desc, exts=exts, suffix=suffix, resume=kw["resume"],
                      recursive=kw["recursive"], images=is_image, max_pixels=kw.get("max_pixels"))  # fmt: skip


@click.command("compress", epilog=BATCH_HELP)
@click.argument("images", nargs=-1, required=True)
@click.option(
    "-o", "--output", required=True, help="Compressed file (.irc) for one image, else an output folder (NAME.irc)."
)
@click.option(
    "--model",
    required=True,
    help="Codec: shipped ilc-small-q1/-q4 and bls2017-128-q1/-q4 (CPU-trained), or ilc-q1…ilc-q5, ilc-small, "
    "ilc-tiny, bls2017-N with --weights.",
)
@click.option(
    "--weights", type=click.Path(dir_okay=False), default=None, help="Trained weights (with tables); default: shipped."
)
@batch_options
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="auto, cpu, cuda, cuda:1. Decode on the same kind of device as the encoder: the entropy model's rounding "
    "may differ between devices.",
)
@click.option(
    "--max-memory",
    default="auto",
    show_default=True,
    help="Refuse images whose coding would need more memory (e.g. 8GB; auto: half the free memory). The codec codes "
    "one latent for the whole image and does not tile.",
)
def compress(images: tuple[str, ...], output: str, model: str, weights: str | None, **kw: Any) -> None:
    """Compress IMAGES (RGB; gray is expanded, alpha dropped) into .irc files and print the real bpp."""
    from invrestore.entropy.bitstream import Bitstream
    from invrestore.io import atomic_write, read_image

    inf = _inference(kw)
    plan = _plan(images, output, kw, "compress", exts=IMAGE_EXTS, suffix=".irc", out_exts=(".irc",), is_image=True)
    for job in plan.all_jobs:  # sizes and memory of every input before anything is written
        w, h = job.size
        if max(h, w) > 65535:
            raise ConfigError(f"{job.src} is {w}×{h}; the container stores sides up to 65535")
        inf.check_memory(f"compressing {job.src} ({w}×{h})", codec_memory(w, h))
    codec = _codec(model, weights, inf)

    def work(job: Job) -> str:
        x = read_image(job.src, mode="rgb")
        h, w = x.shape[-2:]
        data = codec.compress(x)
        est_bpp = codec.estimated_bpp(x)
        with atomic_write(job.dst) as fh:
            fh.write(data)
        bpp = 8.0 * len(data) / (h * w)
        return (
            f"{job.src} ({w}×{h}) -> {job.dst}: {len(data)} bytes, {bpp:.4f} bpp "
            f"(estimated {est_bpp:.4f} bpp + {Bitstream.from_bytes(data).header_bytes} bytes of header)"
        )

    run_plan(plan, work, inf)


def _inference(kw: dict[str, Any]) -> Inference:
    from invrestore.devices import resolve_device
    from invrestore.tiling import parse_memory

    mm = kw["max_memory"]
    budget = None if mm.strip().lower() == "auto" else parse_memory(mm)
    return Inference(resolve_device(kw["device"]), None, None, budget, show_progress=progress_enabled(kw["progress"]))


@click.command("decompress", epilog=BATCH_HELP)
@click.argument("files", nargs=-1, required=True)
@click.option(
    "-o", "--output", required=True, help="Decoded image (.png, ...) for one file, else an output folder (NAME.png)."
)
@click.option(
    "--weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="Weights of the model in the file (default: its shipped weights).",
)
@batch_options
@click.option(
    "--device", default="cpu", show_default=True, help="auto, cpu, cuda, cuda:1 (the device the file was written on)."
)
@click.option(
    "--max-memory",
    default="auto",
    show_default=True,
    help="Refuse files whose decoding would need more memory (e.g. 8GB; auto: half the free memory).",
)
def decompress(files: tuple[str, ...], output: str, weights: str | None, **kw: Any) -> None:
    """Decode FILES (written by `invrestore compress`) into 8-bit images; the model is read from each file."""
    from invrestore.entropy.bitstream import Bitstream
    from invrestore.io import write_image

    out = Path(output)
    single = _single_file(files, output, IMAGE_EXTS)
    if len(files) == 1 and Path(files[0]).is_file() and out.suffix and not single:
        raise ConfigError(f"cannot write '{out}': unknown image extension '{out.suffix}' (use .png)")
    inf = _inference(kw)
    plan = _plan(files, output, kw, "decompress", exts=(".irc",), suffix=".png", out_exts=IMAGE_EXTS, is_image=False)
    max_pixels = kw.get("max_pixels") or MAX_DECODE_PIXELS
    parsed: dict[Path, tuple[bytes, Bitstream]] = {}
    for job in plan.all_jobs:  # every container parsed and checked before anything is written
        data = _read_container(job.src)
        bits = Bitstream.from_bytes(data)
        h, w = bits.image_size
        if h * w > max_pixels:
            raise InvalidBitstream(f"'{job.src}' declares a {w}×{h} image, above the limit of {max_pixels} pixels "
                                   "(--max-pixels)")  # fmt: skip
        inf.check_memory(f"decoding {job.src} ({w}×{h})", codec_memory(w, h))
        parsed[job.src] = (data, bits)
    codecs: dict[str, ImageCodec] = {}

    def work(job: Job) -> str:
        data, bits = parsed[job.src]
        if bits.model not in codecs:
            try:
                codecs[bits.model] = _codec(bits.model, weights, inf)
            except ConfigError as e:
                raise InvalidBitstream(
                    f"'{job.src}' was written by model '{bits.model}', which is not available: {e}"
                ) from e
        codec = codecs[bits.model]
        if bits.config_hash != codec.config_hash():
            raise InvalidBitstream(
                f"'{job.src}' was written by '{bits.model}' with other weights or coding tables than "
                f"{weights or 'the shipped ones'} (config hash {bits.config_hash.hex()} ≠ {codec.config_hash().hex()})"
            )
        write_image(job.dst, codec.decompress(data, max_pixels=max_pixels))
        h, w = bits.image_size
        return f"{job.src} ({len(data)} bytes, {8.0 * len(data) / (h * w):.4f} bpp) -> {job.dst} ({w}×{h})"

    run_plan(plan, work, inf)
