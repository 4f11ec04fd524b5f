"""``invrestore demo``: rescale the bundled sample images and write a side-by-side comparison.

Any integer scale works: the samples are cropped (bottom/right) to a multiple of the scale, as the evaluation
protocols do. Bicubic always runs; IRN runs when shipped weights exist for ``irn-x<scale>``. The table reports the
Y-PSNR/SSIM of the ``irn`` protocol and the RGB PSNR beside it (a colour shift, such as reds drifting toward orange,
leaves Y-PSNR almost unchanged but lowers RGB PSNR). The comparison grid shows, per sample: the HR, the bicubic LR
and each model's own LR (nearest-neighbour enlarged), then each method's reconstruction.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import click
import torch


def sample_images() -> list[Path]:
    """The sample images bundled with the package (256×256 crops of Kodak images)."""
    folder = resources.files("invrestore") / "assets" / "samples"
    return sorted(Path(str(p)) for p in folder.iterdir() if str(p).endswith(".png"))


def _quantize(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x.clamp(0, 1) * 255 + 0.5) / 255


class _Recorder:
    """Passes a rescaling method through and keeps the LR and SR it produced, so that each image is run once."""

    def __init__(self, method: Any) -> None:
        self.method = method
        self.lr = torch.empty(0)
        self.sr = torch.empty(0)

    def downscale(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        with torch.no_grad():
            self.lr = self.method.downscale(x, scale)
        return self.lr

    def upscale(self, y: torch.Tensor, scale: int) -> torch.Tensor:
        with torch.no_grad():
            self.sr = self.method.upscale(y, scale)
        if hasattr(self.method, "reset"):
            self.method.reset()
        return self.sr


@click.command("demo")
@click.option("-o", "--output", type=click.Path(file_okay=False), default="demo_out", help="Output folder.")
@click.option("--scale", type=click.IntRange(2, 8), default=4, show_default=True, help="Rescaling factor (2..8).")
def demo(output: str, scale: int) -> None:
    """Downscale and upscale the bundled samples (bicubic, and IRN when weights ship) and compare."""
    from invrestore.batch import progress, progress_enabled
    from invrestore.data import modcrop
    from invrestore.errors import CheckpointError, ConfigError
    from invrestore.evaluation import BicubicMethod, get_protocol
    from invrestore.io import read_image, write_image
    from invrestore.models.registry import MODELS, list_models

    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output '{out}' exists and is not a folder")
    methods: list[tuple[str, Any]] = [("bicubic", BicubicMethod())]
    name = f"irn-x{scale}"
    list_models()  # fill the registry (and the shipped-weights manifest)
    entry = MODELS.get(name)
    if entry is not None and entry.pretrained is not None:
        from invrestore.api import load_rescaler
        from invrestore.models.irn.rescaler import IRNRescaler

        try:
            net = load_rescaler(name).model
            methods.append((name, IRNRescaler(net, seed=0)))
        except CheckpointError as e:
            click.echo(f"(no {name}: {e})")
    else:
        shipped = sorted(n for n, e in MODELS.items() if n.startswith("irn-x") and e.pretrained)
        click.echo(f"(no shipped {name} weights: bicubic only; IRN ships for {', '.join(shipped) or 'no scale'})")
    files = sample_images()
    proto = get_protocol("irn")
    click.echo(f"×{scale} rescaling of {len(files)} samples, protocol irn (Y-PSNR/SSIM, shave {scale}) and RGB PSNR")
    if len(methods) > 1:
        click.echo("(IRN takes tens of seconds per sample on a CPU; a line is printed as each one finishes)")
    click.echo(f"{'image':<18}" + "".join(f"{m + ' Y/SSIM/RGB':>30}" for m, _ in methods))
    totals = {m: [0.0, 0.0] for m, _ in methods}
    rows = []
    written: list[Path] = []
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        for f in progress(files, f"demo ×{scale}", enabled=progress_enabled(None)):
            hr = modcrop(read_image(f, mode="rgb"), scale)
            line = f"{f.stem:<18}"
            lr_panels: list[torch.Tensor] = []
            sr_panels: list[torch.Tensor] = []
            for mname, method in methods:
                rec = _Recorder(method)
                r = proto.evaluate(hr, rec, scale, name=f.stem)  # type: ignore[arg-type]
                totals[mname][0] += r.psnr_y
                totals[mname][1] += r.psnr_rgb if r.psnr_rgb is not None else float("nan")
                rgb = f"{r.psnr_rgb:.2f}" if r.psnr_rgb is not None else "-"
                line += f"{r.psnr_y:>15.2f}/{r.ssim_y:.4f}/{rgb:>6}"
                # the images the scores were computed from (the protocol's own LR and reconstruction)
                lr = _quantize(rec.lr.float())
                sr = rec.sr[0].clamp(0, 1).float()
                lr_big = torch.nn.functional.interpolate(lr.float(), scale_factor=scale, mode="nearest")[0]
                lr_panels.append(lr_big.clamp(0, 1))
                for path, img in (
                    (out / f"{f.stem}_lr_{mname}.png", lr[0].float()),
                    (out / f"{f.stem}_{mname}.png", sr),
                ):
                    write_image(path, img)
                    written.append(path)
                sr_panels.append(sr)
            click.echo(line)
            rows.append(torch.cat([hr, *lr_panels, *sr_panels], dim=2))
        n = len(files)
        click.echo(
            f"{'mean PSNR-Y/RGB':<18}"
            + "".join(f"{totals[m][0] / n:>15.2f}/{'':6}/{totals[m][1] / n:>6.2f}" for m, _ in methods)
        )
        grid = torch.cat(rows, dim=1)
        write_image(out / "comparison.png", grid)
    except BaseException:
        for path in written:  # a failed demo leaves no partial set of files
            path.unlink(missing_ok=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    lrs = " | ".join(f"{m} LR" for m, _ in methods)
    srs = " | ".join(f"{m} ×{scale}" for m, _ in methods)
    click.echo(f"wrote {out / 'comparison.png'} (columns: HR | {lrs} (nearest ×{scale}) | {srs})")
