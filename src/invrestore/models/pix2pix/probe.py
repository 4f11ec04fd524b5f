"""Information-loss probe ("Rethinking generative restoration", Table III): how much of a clean image survives a
generator used as an autoencoder.

Protocol (``docs/generative.md``): train the generator *alone* (no discriminator) to reproduce clean
images (Rain800 ground truths in the paper) with an MSE loss, then report PSNR/SSIM between input and output. An
invertible model (anything with ``.inverse``) needs no training: ``x̂ = f⁻¹(f(x))`` is exact up to float error.

Paper values (PSNR/SSIM): En/Decoder 24.06/.7194, UNet-8 34.20/.9802, UNet-5 34.28/.9811, +InfoAccum-15
42.58/.9967, +SubPixUpsamp 49.41/.9987.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invrestore.errors import ConfigError
from invrestore.metrics import psnr, ssim
from invrestore.models.pix2pix.model import pad_to_multiple, restore

__all__ = ["probe"]


def _as_list(images: Tensor | Sequence[Tensor]) -> list[Tensor]:
    if isinstance(images, Tensor):
        if images.ndim == 3:
            return [images]
        if images.ndim == 4:
            return list(images)
        raise ConfigError(f"images must be (C,H,W), (N,C,H,W) or a list of (C,H,W), got {tuple(images.shape)}")
    out = list(images)
    if not out or any(t.ndim != 3 for t in out):
        raise ConfigError("images must be a non-empty list of (C,H,W) tensors")
    return out


def _first(out: Tensor | tuple[Tensor, ...]) -> Tensor:
    return out[0] if isinstance(out, tuple) else out


def _multiple(model: nn.Module) -> int:
    return int(getattr(model, "multiple", getattr(model, "scale", 1)))


def _score(x_hat: Tensor, x: Tensor, quantize: bool) -> tuple[float, float]:
    x_hat = x_hat.clamp(0, 1)
    return float(psnr(x_hat, x, quantize=quantize)), float(ssim(x_hat, x, quantize=quantize))


def probe(
    model: nn.Module | Callable[[], nn.Module],
    images: Tensor | Sequence[Tensor],
    steps: int = 1000,
    *,
    eval_images: Tensor | Sequence[Tensor] | None = None,
    crop_size: int | None = 256,
    batch_size: int = 1,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
    eval_mode: bool = False,
    quantize: bool = False,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Reconstruction PSNR/SSIM of an architecture trained as an autoencoder (Table III protocol).

    **Invertible models** (with an ``inverse`` method, e.g. ``create_model("irn-x2")``): no training;
    ``x̂ = inverse(forward(x))`` (tuple outputs such as ``(y, logdet)`` take their first element), images
    padded to ``model.multiple``/``model.scale`` and cropped back. Expect ≥ 60 dB in float32.

    **Other models**: trained for ``steps`` Adam steps (pix2pix's lr 2e-4, β = (0.5, 0.999)) on the MSE between
    output and input in the model's range (``model.input_range``; (0, 1) when absent — pix2pix generators use
    (−1, 1)), on seeded random ``crop_size`` crops (batch ``batch_size``, no augmentation), then evaluated on full
    images with :func:`~invrestore.models.pix2pix.model.restore` (padding to ``2^N``; pix2pix train-mode inference
    unless ``eval_mode``). Everything random (initialisation when ``model`` is a factory, crops, dropout) is
    drawn under ``torch.manual_seed(seed)`` in a forked RNG, so a probe is reproducible and leaves the global RNG
    untouched. The module passed in is trained in place.

    Args:
        model: a module, or a zero-argument factory (``lambda: create_model("pix2pix-unet-5")``).
        images: clean training images in [0, 1]: ``(N,C,H,W)`` or a list of ``(C,H,W)`` (sizes may differ).
        steps: training steps (ignored for invertible models).
        eval_images: images to score (default: ``images``, as in the paper's reconstruction experiment).
        crop_size: training crop side (a multiple of ``2^N``); ``None`` trains on whole images (all one size).
        batch_size: crops per step.
        lr, betas: Adam settings.
        seed: seed of every random draw.
        eval_mode: score with running BatchNorm statistics and no dropout (pix2pix ``--eval``).
        quantize: round both images to 8 bits before scoring (default off: the probe measures information loss,
            which 8-bit rounding would floor near 59 dB).
        device: where to run (default: the model's device).
        progress: show tqdm bars (training steps with the last MSE, then the scored images) on stderr.

    Returns:
        ``{"psnr": mean dB, "ssim": mean SSIM, "steps": steps trained, "train_mse": last training MSE (nan if
        untrained)}``; PSNR/SSIM are RGB, float64, averaged over the scored images (SSIM: Wang et al., 11×11
        Gaussian σ = 1.5, 'valid' window, so images must be at least 11×11).
    """
    train_set = _as_list(images)
    score_set = _as_list(eval_images) if eval_images is not None else train_set
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = model if isinstance(model, nn.Module) else model()
        if device is None:
            first = next(iter(net.parameters()), None)
            dev = first.device if first is not None else torch.device("cpu")
        else:
            dev = torch.device(device)
            net = net.to(dev)
        m = _multiple(net)
        if callable(getattr(net, "inverse", None)):
            return _probe_invertible(net, score_set, m, dev, quantize)
        lo, hi = getattr(net, "input_range", (0.0, 1.0))
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
        net.train()
        last = float("nan")
        from tqdm import tqdm

        bar = tqdm(range(steps), desc="probe: training", unit="step", disable=not progress, dynamic_ncols=True)
        for step in bar:
            x = _sample_batch(train_set, batch_size, crop_size, m, g).to(dev)
            x = x * (hi - lo) + lo
            loss = F.mse_loss(_first(net(x)), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            last = float(loss.detach())
            if step % 10 == 0:
                bar.set_postfix(mse=f"{last:.4g}")
        values = [
            _score(restore(net, x.to(dev), eval_mode=eval_mode, multiple=m, value_range=(lo, hi)), x.to(dev), quantize)
            for x in tqdm(score_set, desc="probe: scoring", unit="image", disable=not progress, dynamic_ncols=True)
        ]
    n = len(values)
    return {
        "psnr": sum(v[0] for v in values) / n,
        "ssim": sum(v[1] for v in values) / n,
        "steps": float(steps),
        "train_mse": last,
    }


def _probe_invertible(
    net: nn.Module, images: list[Tensor], multiple: int, dev: torch.device, quantize: bool
) -> dict[str, float]:
    was_training = net.training
    net.eval()
    values = []
    with torch.no_grad():
        for x in images:
            x = x.to(dev)
            h, w = x.shape[-2:]
            xp = pad_to_multiple(x.unsqueeze(0), multiple)
            inverse: Callable[[Tensor], Tensor | tuple[Tensor, ...]] = net.inverse  # type: ignore[assignment]
            x_hat = _first(inverse(_first(net(xp))))[0, :, :h, :w]
            values.append(_score(x_hat, x, quantize))
    net.train(was_training)
    n = len(values)
    return {
        "psnr": sum(v[0] for v in values) / n,
        "ssim": sum(v[1] for v in values) / n,
        "steps": 0.0,
        "train_mse": float("nan"),
    }


def _sample_batch(
    images: list[Tensor], batch_size: int, crop_size: int | None, multiple: int, g: torch.Generator
) -> Tensor:
    idx = torch.randint(len(images), (batch_size,), generator=g).tolist()
    if crop_size is None:
        batch = torch.stack([images[i] for i in idx])
        return pad_to_multiple(batch, multiple)
    if crop_size % multiple:
        raise ConfigError(f"crop_size {crop_size} is not a multiple of the model's {multiple}")
    crops = []
    for i in idx:
        img = images[i]
        h, w = img.shape[-2:]
        if h < crop_size or w < crop_size:
            raise ConfigError(f"image {i} is {h}×{w}, smaller than crop_size {crop_size}")
        top = int(torch.randint(h - crop_size + 1, (1,), generator=g))
        left = int(torch.randint(w - crop_size + 1, (1,), generator=g))
        crops.append(img[:, top : top + crop_size, left : left + crop_size])
    return torch.stack(crops)
