"""``invrestore demo``: rescale the bundled sample images and write a side-by-side comparison."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click
import torch


def sample_images() -> list[Path]:
    """The sample images bundled with the package (256×256 crops of Kodak images)."""
    folder = resources.files("invrestore") / "assets" / "samples"
    return sorted(Path(str(p)) for p in folder.iterdir() if str(p).endswith(".png"))


@click.command("demo")
@click.option("-o", "--output", type=click.Path(file_okay=False), default="demo_out", help="Output folder.")
@click.option("--scale", type=int, default=4, show_default=True)
def demo(output: str, scale: int) -> None:
    """Downscale and upscale the bundled samples (bicubic, and IRN when weights ship) and compare."""
    from invrestore.evaluation import BicubicMethod, get_protocol
    from invrestore.io import read_image, write_image
    from invrestore.models.registry import MODELS, create_model

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    methods: list[tuple[str, object]] = [("bicubic", BicubicMethod())]
    name = f"irn-x{scale}"
    entry = MODELS.get(name)
    if entry is not None and entry.pretrained is not None:
        from invrestore.errors import CheckpointError
        from invrestore.models.irn.rescaler import IRNRescaler

        try:
            net = create_model(name, pretrained=True).eval()
            methods.append((name, IRNRescaler(net, seed=0)))  # type: ignore[arg-type]
        except CheckpointError as e:
            click.echo(f"(no {name}: {e})")
    proto = get_protocol("irn")
    click.echo(f"×{scale} rescaling, protocol irn (Y-PSNR/SSIM, shave {scale})")
    header = f"{'image':<18}" + "".join(f"{m:>22}" for m, _ in methods)
    click.echo(header)
    totals = {m: 0.0 for m, _ in methods}
    rows = []
    files = sample_images()
    for f in files:
        hr = read_image(f, mode="rgb")
        line = f"{f.stem:<18}"
        panels = [hr]
        for mname, method in methods:
            r = proto.evaluate(hr, method, scale, name=f.stem)  # type: ignore[arg-type]
            totals[mname] += r.psnr_y
            line += f"{r.psnr_y:>13.2f}/{r.ssim_y:.4f}"
            with torch.no_grad():
                x = hr.unsqueeze(0).double()
                lr = method.downscale(x, scale)  # type: ignore[attr-defined]
                lr = torch.floor(lr.clamp(0, 1) * 255 + 0.5) / 255
                sr = method.upscale(lr, scale)[0].clamp(0, 1).float()  # type: ignore[attr-defined]
                if hasattr(method, "reset"):
                    method.reset()
            if mname == "bicubic":
                lr_big = torch.nn.functional.interpolate(lr.float(), scale_factor=scale, mode="nearest")[0]
                write_image(out / f"{f.stem}_lr_bicubic.png", lr[0].float())
                panels.insert(1, lr_big.clamp(0, 1))
            write_image(out / f"{f.stem}_{mname}.png", sr)
            panels.append(sr)
        click.echo(line)
        rows.append(torch.cat(panels, dim=2))
    click.echo(f"{'mean PSNR-Y':<18}" + "".join(f"{totals[m] / len(files):>13.2f}{'':>9}" for m, _ in methods))
    grid = torch.cat(rows, dim=1)
    write_image(out / "comparison.png", grid)
    cols = f"HR | bicubic LR (nearest ×{scale}) | " + " | ".join(f"{m} ×{scale}" for m, _ in methods)
    click.echo(f"wrote {out / 'comparison.png'} (columns: {cols})")
