"""``invrestore fid``: Fréchet Inception Distance between two image folders (or saved statistics)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("fid")
@click.argument("real", type=click.Path(exists=True))
@click.argument("fake", type=click.Path(exists=True), required=False)
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False),
    envvar="INVRESTORE_INCEPTION_WEIGHTS",
    default=None,
    help="pt_inception-2015-12-05-6726825d.pth (pytorch-fid's FID Inception; not downloadable here). "
    "Else $INVRESTORE_INCEPTION_WEIGHTS. Not needed when both inputs are .npz statistics.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=50, show_default=True, help="Images per pass.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda when available, else cpu).")
@click.option(
    "--save-stats",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write REAL's statistics (mu, sigma, count) to this .npz, to pass instead of REAL next time.",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr.")
def fid(
    real: str,
    fake: str | None,
    inception_weights: str | None,
    batch_size: int,
    device: str | None,
    save_stats: str | None,
    progress: bool,
) -> None:
    """FID between REAL and FAKE, each an image folder or a .npz of mu/sigma (pytorch-fid's layout).

    Images are read as RGB, resized to 299x299 (bilinear) and scored with the FID Inception's 2048-d pool3
    features, as pytorch-fid does. With only REAL, --save-stats writes its statistics and no FID is computed.
    """
    from invrestore.errors import ConfigError
    from invrestore.metrics.inception import fid_statistics, load_fid_inception, resolve_device, save_fid_stats
    from invrestore.metrics.perceptual import frechet_distance

    if fake is None and save_stats is None:
        raise ConfigError("give FAKE to compute an FID, or --save-stats OUT.npz to save REAL's statistics")
    sources = [s for s in (real, fake) if s is not None]
    needs_net = any(not (Path(s).suffix.lower() == ".npz" and Path(s).is_file()) for s in sources)
    dev = resolve_device(device)
    net = load_fid_inception(inception_weights, device=dev) if needs_net else None

    mu_r, sigma_r, n_r = fid_statistics(real, net, batch_size, dev, progress)
    if save_stats:
        written = save_fid_stats(save_stats, mu_r, sigma_r, n_r)
        click.echo(f"saved statistics of '{real}' ({n_r if n_r is not None else '?'} images) to {written}", err=True)
    if fake is None:
        return
    mu_f, sigma_f, n_f = fid_statistics(fake, net, batch_size, dev, progress)
    value = frechet_distance(mu_r, sigma_r, mu_f, sigma_f)
    scale = float(sigma_r.trace() + sigma_f.trace()) + 1.0
    if -1e-6 * scale < value < 0:  # eigenvalue round-off around an exact 0 (e.g. a set against itself)
        value = 0.0
    counts = [n for n in (n_r, n_f) if n is not None]
    if counts and min(counts) < 2048:
        click.echo(
            f"note: {min(counts)} images in a set (< 2048, the feature dimension): the covariance is rank-deficient "
            "and FID is biased upward; compare only numbers computed with the same image counts",
            err=True,
        )
    click.echo(f"FID: {value:.6f}")
