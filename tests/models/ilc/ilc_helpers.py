"""Helpers of the ILC-family tests: a small natural test image and a tiny, briefly fitted bls2017 codec."""

from __future__ import annotations

from importlib import resources

import torch

from invrestore.io import read_image
from invrestore.models.ilc import BLS2017


def full_sample(name: str = "kodim23") -> torch.Tensor:
    """A shipped 256×256 Kodak crop as ``(1, 3, 256, 256)``."""
    path = resources.files("invrestore") / "assets" / "samples" / f"{name}_crop256.png"
    with resources.as_file(path) as p:
        return read_image(p, mode="rgb")[None]


def sample_image(height: int, width: int) -> torch.Tensor:
    """A ``(1, 3, H, W)`` crop of a shipped Kodak sample (natural content, so the rate is meaningful)."""
    return full_sample()[:, :, 60 : 60 + height, 80 : 80 + width].contiguous()


def fit_tiny_codec(n: int = 8, steps: int = 150, seed: int = 0) -> BLS2017:
    """``BLS2017(N=n)`` trained for a few Adam steps on one 64×64 crop (λ = 0.01; ≈ 26 dB, 0.12 bpp on that crop),
    then ``update()``-d. About 1–3 s on one CPU thread."""
    torch.manual_seed(seed)
    model = BLS2017(N=n)
    opt = torch.optim.Adam(model.main_parameters(), lr=1e-3)
    x = sample_image(64, 64)
    for _ in range(steps):
        opt.zero_grad()
        out = model(x)
        bpp = -torch.log2(out.likelihoods["y"]).sum() / (64 * 64)
        loss = 0.01 * 255**2 * torch.mean((out.x_hat - x) ** 2) + bpp
        loss.backward()
        opt.step()
    model.eval()
    model.update()
    return model
