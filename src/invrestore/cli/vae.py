"""``invrestore eval-bpd`` and ``invrestore sample``: likelihood evaluation and sampling of the selfVAE family."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
import torch
from torch import Tensor

from invrestore.errors import ConfigError


def image_grid(images: Tensor, nrow: int, pad: int = 2, value: float = 1.0) -> Tensor:
    """``(N, C, H, W)`` → one ``(C, rows·(H+pad)+pad, nrow·(W+pad)+pad)`` image, row-major, on a ``value`` border."""
    n, c, h, w = images.shape
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), value, dtype=images.dtype)
    for i in range(n):
        r, k = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[:, top : top + h, left : left + w] = images[i]
    return grid


@click.command("eval-bpd")
@click.option("--model", required=True, help="Registered selfVAE-family model, e.g. selfvae-downscale, vae-small.")
@click.option("--weights", type=click.Path(), default=None, help="Weights file or run checkpoint folder.")
@click.option(
    "--dataset",
    default="CIFAR-10",
    show_default=True,
    help="CIFAR-10, CIFAR-10-partial, or a path (cifar-10-batches-py folder or .npz).",
)
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Data root (else $INVRESTORE_DATA).")
@click.option(
    "--split",
    type=click.Choice(["test", "val", "train"]),
    default="test",
    show_default=True,
    help="test = official test split; val = the held-out random 15% of train; train = the remaining 85%.",
)
@click.option("--limit", type=int, default=0, show_default=True, help="Evaluate the first N images only (0 = all).")
@click.option("--iw-samples", type=click.IntRange(min=1), default=512, show_default=True, help="Samples K per image.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Images per batch.")
@click.option("--chunk", type=click.IntRange(min=1), default=32, show_default=True, help="Samples per forward pass.")
@click.option("--legacy", is_flag=True, help="Also report the official srVAE estimator (biased; comparison only).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the posterior samples.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Also write the results.")
def eval_bpd(
    model: str,
    weights: str | None,
    dataset: str,
    data_root: str | None,
    split: str,
    limit: int,
    iw_samples: int,
    batch_size: int,
    chunk: int,
    legacy: bool,
    seed: int,
    device: str,
    json_out: str | None,
) -> None:
    """Bits per dimension of a VAE/selfVAE on CIFAR-10: negative ELBO and importance-weighted NLL.

    Per image, K posterior samples give log-weights log w_k; the ELBO bpd is the mean of −log w_k and the IW-NLL
    is −(logsumexp_k log w_k − log K) (Burda et al.; ≤ the ELBO). Both in bits per dimension of x.
    """
    from invrestore.models.selfvae.steps import evaluate_bpd, load_split

    if limit < 0:
        raise ConfigError("--limit must be >= 0")
    from invrestore.api import load_vae
    from invrestore.devices import resolve_device

    dev = resolve_device(device)
    net = load_vae(model, weights, device=dev)
    images = load_split(dataset, split, data_root)
    if limit:
        images = images[:limit]
    size = getattr(net, "image_size", None)
    if images.shape[-1] != size:
        raise ConfigError(f"'{model}' models {size}×{size} images; {dataset} has {images.shape[-1]}×{images.shape[-2]}")
    torch.manual_seed(seed)
    res = evaluate_bpd(net, images, iw_samples, batch_size, chunk, seed, dev, legacy)
    click.echo(f"{model} on {dataset} [{split}], {res.num_images} images, K = {iw_samples}, seed {seed}")
    click.echo(f"  ELBO bpd        {res.elbo_bpd:.4f}")
    click.echo(f"  IW-NLL bpd      {res.iw_bpd:.4f}")
    if res.legacy_bpd is not None:
        click.echo(f"  legacy bpd      {res.legacy_bpd:.4f}  (official srVAE calculate_nll; not an IW bound)")
    if json_out:
        from invrestore.io import atomic_write

        record = {
            "model": model,
            "weights": weights,
            "dataset": dataset,
            "split": split,
            "num_images": res.num_images,
            "iw_samples": iw_samples,
            "seed": seed,
            "elbo_bpd": res.elbo_bpd,
            "iw_bpd": res.iw_bpd,
            "legacy_bpd": res.legacy_bpd,
            "estimator": "iw_bpd = mean_x -(logsumexp_k log w_k - log K) / (D ln 2); elbo_bpd = mean_x,k -log w_k",
        }
        with atomic_write(json_out) as fh:
            fh.write((json.dumps(record, indent=2) + "\n").encode())


@click.command("sample")
@click.option("--model", required=True, help="Registered selfVAE-family model, e.g. selfvae-downscale, vae-small.")
@click.option("--weights", type=click.Path(), default=None, help="Weights file or run checkpoint folder.")
@click.option("-n", "num", type=click.IntRange(min=1), default=16, show_default=True, help="Number of samples.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Grid image (e.g. grid.png).")
@click.option("--nrow", type=click.IntRange(min=1), default=None, help="Images per row (default ⌈√n⌉).")
@click.option(
    "--pixel-mode",
    type=click.Choice(["mean", "sample"]),
    default="mean",
    show_default=True,
    help="mean = the official argmax-component mean; sample = an exact draw of the pixel mixture.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option(
    "--images",
    "images_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write every sample as DIR/sample_00000.png (e.g. for `invrestore fid REAL DIR`).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Samples per forward.")
def sample(
    model: str,
    weights: str | None,
    num: int,
    output: str,
    nrow: int | None,
    pixel_mode: str,
    seed: int,
    device: str,
    images_dir: str | None,
    batch_size: int,
) -> None:
    """Draw N images from a VAE/selfVAE (mode G: u ~ p(u) → y → z → x) and write them as one image grid.

    For FID (the paper's sample quality metric), draw many samples into a folder with --images and compare them
    with the data: `invrestore fid REAL_DIR_OR_STATS.npz DIR --inception-weights PATH`.
    """
    from tqdm import tqdm

    from invrestore.api import load_vae
    from invrestore.devices import resolve_device
    from invrestore.io import write_image

    dev = resolve_device(device)
    net = load_vae(model, weights, device=dev)
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    chunks = []
    with torch.no_grad():
        for start in tqdm(range(0, num, batch_size), desc="sample", unit="batch", disable=num <= batch_size):
            out = net.generate(min(batch_size, num - start), pixel_mode=pixel_mode, generator=g)  # type: ignore[operator]
            chunks.append((out if isinstance(out, Tensor) else out.x_hat).detach().float().clamp(0, 1).cpu())
    x = torch.cat(chunks)
    meta = {"model": model, "seed": str(seed), "pixel_mode": pixel_mode}
    if images_dir is not None:
        folder = Path(images_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(x):
            write_image(folder / f"sample_{i:05d}.png", img, text=meta)
        click.echo(f"wrote {num} samples to {folder}/")
    grid = image_grid(x[: min(num, 256)], nrow or math.ceil(math.sqrt(min(num, 256))))
    path = write_image(output, grid, text=meta)
    click.echo(f"wrote {min(num, 256)} samples of {model} to {path}")
