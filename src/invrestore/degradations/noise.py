"""Additive white Gaussian noise (AWGN), fixed-σ and blind, seeded through an explicit ``torch.Generator``.

Definition (IRAE, DnCNN, FFDNet): for a clean image ``x`` in [0, 1] and a noise level ``σ`` given on the
0–255 scale,

.. math::

    y = x + \\frac{\\sigma}{255}\\, n, \\qquad n \\sim \\mathcal{N}(0, I)\\ \\text{i.i.d. over } C, H, W.

* **Clipping.** The noisy image is **not clipped** by default (``clip=False``): the official IRAE code adds the
  noise in the dataset's ``__getitem__`` and feeds ``y`` unclipped to the network, and the DnCNN/FFDNet training
  code does the same (``docs/restoration.md``). ``clip=True`` clamps ``y`` to [0, 1] (what one gets
  after saving a noisy image to an 8-bit file, apart from the rounding).
* **Blind denoising.** ``sigma=(lo, hi)`` draws one σ per image. ``integer_sigma=False`` (default) draws
  ``σ ~ U[lo, hi)``; ``integer_sigma=True`` draws an integer ``σ ∈ {lo, …, hi − 1}`` uniformly, which is the
  official IRAE code's ``randint(1, 55)`` when ``sigma=(1, 55)`` (see :data:`IRAE_BLIND_SIGMA`). The paper says
  "random noise levels between 0 to 55".
* **Randomness.** Every draw (σ, then the noise) comes from the ``generator`` argument, so the same generator
  state gives the same noisy image. Draws are made on the generator's device and moved to the image's device.

Shapes: ``(C, H, W)`` (one image, the :class:`~invrestore.data.PairedDataset` convention) or ``(B, C, H, W)``
(one σ per batch element when blind).
"""

from __future__ import annotations

import torch
from torch import Tensor

from invrestore.errors import ConfigError

__all__ = ["IRAE_BLIND_SIGMA", "GaussianNoise", "add_gaussian_noise"]

#: The official IRAE blind-denoising range: ``randint(1, 55)``, an integer σ in 1..54 (``integer_sigma=True``).
IRAE_BLIND_SIGMA: tuple[float, float] = (1.0, 55.0)


def _gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _noise_dtype(x: Tensor) -> torch.dtype:
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


def add_gaussian_noise(
    x: Tensor, sigma: float | Tensor, generator: torch.Generator | None, clip: bool = False
) -> Tensor:
    """``y = x + (σ/255)·n`` with ``n ~ N(0, I)`` drawn from ``generator``.

    Args:
        x: clean image(s) in [0, 1], ``(C, H, W)`` or ``(B, C, H, W)``.
        sigma: noise level on the 0–255 scale; a number, or a tensor of shape ``(B,)`` for a batch.
        generator: the source of randomness (``None``: the global RNG).
        clip: clamp the result to [0, 1].

    Returns:
        The noisy image, same shape and dtype as ``x``.
    """
    if not x.is_floating_point():
        raise TypeError(f"expected a float image in [0, 1], got dtype {x.dtype}")
    dtype = _noise_dtype(x)
    n = torch.randn(x.shape, generator=generator, device=_gen_device(generator), dtype=dtype).to(x.device)
    if isinstance(sigma, Tensor):
        s = sigma.to(device=x.device, dtype=dtype)
        if s.ndim == 1 and x.ndim == 4:
            s = s.view(-1, 1, 1, 1)
    else:
        s = torch.tensor(float(sigma), dtype=dtype, device=x.device)
    y = x + (s / 255.0) * n
    if clip:
        y = y.clamp(0.0, 1.0)
    return y.to(x.dtype)


class GaussianNoise:
    """AWGN degradation ``x -> x + (σ/255)·N(0, I)``, usable as a ``PairedDataset`` ``degrade``.

    Paper: Zhang et al., "Beyond a Gaussian Denoiser" (DnCNN), TIP 2017; the IRAE paper's §5.2 (σ ∈ {15, 25, 50}
    and blind). See the module docstring for the definition, the clipping policy and the blind σ draw.

    Example::

        degrade = GaussianNoise(25)                                   # σ = 25 (0–255 scale)
        blind = GaussianNoise((0, 55))                                # σ ~ U[0, 55) per image
        irae_blind = GaussianNoise(IRAE_BLIND_SIGMA, integer_sigma=True)  # the official randint(1, 55)
        y = degrade(x, torch.Generator().manual_seed(0))

    Args:
        sigma: a fixed σ, or a range ``(lo, hi)`` for blind noise (one σ per image).
        clip: clamp the noisy image to [0, 1] (default: no clipping, as in IRAE and DnCNN).
        integer_sigma: draw integer σ in ``lo..hi−1`` instead of ``U[lo, hi)``.
    """

    def __init__(
        self, sigma: float | tuple[float, float] = 25.0, clip: bool = False, integer_sigma: bool = False
    ) -> None:
        if isinstance(sigma, (tuple, list)):
            lo, hi = (float(v) for v in sigma)
            if not 0 <= lo < hi:
                raise ConfigError(f"the blind noise range must satisfy 0 <= lo < hi, got {sigma}")
            if integer_sigma and (lo != int(lo) or hi != int(hi)):
                raise ConfigError(f"integer_sigma needs integer bounds, got {sigma}")
            self.sigma: float | tuple[float, float] = (lo, hi)
        else:
            if sigma < 0:
                raise ConfigError(f"sigma must be >= 0, got {sigma}")
            self.sigma = float(sigma)
        self.clip = clip
        self.integer_sigma = integer_sigma

    @property
    def blind(self) -> bool:
        """Whether σ is drawn per image."""
        return isinstance(self.sigma, tuple)

    def __repr__(self) -> str:
        return f"GaussianNoise(sigma={self.sigma}, clip={self.clip}, integer_sigma={self.integer_sigma})"

    def sample_sigma(self, generator: torch.Generator | None, n: int = 1) -> Tensor:
        """Draw ``n`` noise levels (0–255 scale) as a float64 tensor ``(n,)`` on the CPU.

        For a fixed σ nothing is drawn (the generator is left untouched).
        """
        if not isinstance(self.sigma, tuple):
            return torch.full((n,), self.sigma, dtype=torch.float64)
        lo, hi = self.sigma
        dev = _gen_device(generator)
        if self.integer_sigma:
            s = torch.randint(int(lo), int(hi), (n,), generator=generator, device=dev).to(torch.float64)
        else:
            s = lo + (hi - lo) * torch.rand((n,), generator=generator, device=dev, dtype=torch.float64)
        return s.cpu()

    def with_sigma(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Degrade ``x`` and also return the σ used (0–255 scale): ``(y, sigma)``.

        ``sigma`` has shape ``()`` for a ``(C, H, W)`` image and ``(B,)`` for a batch. FFDNet needs it as its
        noise-level map input (divide by 255).
        """
        if x.ndim not in (3, 4):
            raise ValueError(f"expected (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")
        n = x.shape[0] if x.ndim == 4 else 1
        sigma = self.sample_sigma(generator, n)
        y = add_gaussian_noise(x, sigma if x.ndim == 4 else sigma[0], generator, clip=self.clip)
        return y, (sigma if x.ndim == 4 else sigma[0])

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``(C, H, W)`` or ``(B, C, H, W)`` in [0, 1] ``->`` the noisy image (same shape)."""
        return self.with_sigma(x, generator)[0]
