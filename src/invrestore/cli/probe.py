"""``invrestore probe``: how much information does an architecture throw away? (Table III protocol)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("probe")
@click.option("--model", required=True, help="Registered model name (any family), e.g. pix2pix-unet-5 or irn-x2.")
@click.option("--dataset", default="Set5", show_default=True, help="Registered dataset to train the autoencoder on.")
@click.option("--eval-dataset", default=None, help="Dataset to score on (default: the training dataset).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="Data root (else $INVRESTORE_DATA).")
@click.option("--steps", type=int, default=1000, show_default=True, help="Autoencoder training steps.")
@click.option("--crop", type=int, default=256, show_default=True, help="Training crop size.")
@click.option("--lr", type=float, default=2e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the result as JSON.")
@click.option("--set", "overrides", multiple=True, help="Model constructor argument KEY=VALUE, e.g. ngf=16.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True, help="Training batch.")
@click.option("--limit", type=int, default=0, show_default=True, help="Use the first N images of each set (0 = all).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def probe(
    model: str,
    dataset: str,
    eval_dataset: str | None,
    data_root: str | None,
    steps: int,
    crop: int,
    lr: float,
    seed: int,
    json_out: str | None,
    overrides: tuple[str, ...],
    batch_size: int,
    limit: int,
    no_progress: bool,
) -> None:
    """Train MODEL as an autoencoder on clean images and report its reconstruction PSNR/SSIM.

    Invertible models are not trained: they reconstruct exactly (expect >= 60 dB in float32).
    """
    import yaml

    from invrestore.data import ImageFolder, resolve_dataset
    from invrestore.errors import ConfigError
    from invrestore.io import atomic_write
    from invrestore.models.pix2pix import probe as run_probe
    from invrestore.models.registry import create_model

    kwargs = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set takes KEY=VALUE, got {item!r}")
        kwargs[key] = yaml.safe_load(value)
    files = list(resolve_dataset(dataset, data_root).files)[: limit or None]
    train_imgs = ImageFolder(files, mode="rgb")
    images = [train_imgs.load(i) for i in range(len(train_imgs))]
    eval_images = None
    if eval_dataset:
        ev = ImageFolder(list(resolve_dataset(eval_dataset, data_root).files)[: limit or None], mode="rgb")
        eval_images = [ev.load(i) for i in range(len(ev))]
    try:
        net = create_model(model, **kwargs)
    except TypeError as e:
        raise ConfigError(f"--set does not fit '{model}': {e}") from e
    params = sum(p.numel() for p in net.parameters())
    smallest = min(min(im.shape[-2:]) for im in images)
    if crop is not None and crop > smallest:
        if click.get_current_context().get_parameter_source("crop") != click.core.ParameterSource.DEFAULT:
            raise ConfigError(f"--crop {crop} is larger than the smallest training image ({smallest} px): pass less")
        m = int(getattr(net, "multiple", getattr(net, "scale", 1)))
        crop = smallest // m * m
        click.echo(f"note: the smallest image of {dataset} is {smallest} px: training on {crop}² crops", err=True)
    res = run_probe(
        net,
        images,
        steps=steps,
        eval_images=eval_images,
        crop_size=crop,
        lr=lr,
        seed=seed,
        batch_size=batch_size,
        progress=not no_progress,
    )
    click.echo(
        f"{model}: reconstruction PSNR {res['psnr']:.2f} dB, SSIM {res['ssim']:.4f} ({int(res['steps'])} steps, "
        f"{params:,} parameters)"
    )
    if json_out:
        record = {"model": model, "overrides": kwargs, "parameters": params, "dataset": dataset, **res}
        with atomic_write(Path(json_out)) as fh:
            fh.write(json.dumps(record, indent=2).encode())
