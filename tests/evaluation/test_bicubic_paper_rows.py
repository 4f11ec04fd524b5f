"""Acceptance: Bicubic & Bicubic reproduces the IRN paper's printed rows on Set5 / Set14 / BSD100.

The printed rows (IRN, IJCV 2022, Tables 1–2) were copied from older papers: ×2/×3/×4 come from VDSR's MATLAB
script (protocol ``vdsr``), ×8 from LapSRN's (protocol ``lapsrn``); see ``/work/shared/data/README.md``. The
printed numbers are rounded to 2 (PSNR) / 4 (SSIM) decimals, so a cell passes when
|ours − printed| ≤ tolerance + half a printed unit.

IRN's own code path (protocol ``irn``) is also compared for ×2–×4 with 0.015 dB (+ rounding). It misses on
Set5 ×2: we measure 33.6818 dB (+0.0218). Neither 8-bit rounding ties, float32 vs float64 resizing nor an
unrounded LR move it by more than 0.005 dB, so that cell is an expected failure and its measured value is
pinned instead.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invrestore.evaluation import BicubicMethod, evaluate_dataset

pytestmark = pytest.mark.slow

# (dataset, scale) -> (PSNR_Y, SSIM_Y) as printed.
PAPER: dict[tuple[str, int], tuple[float, float]] = {
    ("Set5", 2): (33.66, 0.9299),
    ("Set5", 3): (30.39, 0.8682),
    ("Set5", 4): (28.42, 0.8104),
    ("Set5", 8): (24.40, 0.6580),
    ("Set14", 2): (30.24, 0.8688),
    ("Set14", 3): (27.55, 0.7742),
    ("Set14", 4): (26.00, 0.7027),
    ("Set14", 8): (23.10, 0.5660),
    ("BSD100", 2): (29.56, 0.8431),
    ("BSD100", 3): (27.21, 0.7385),
    ("BSD100", 4): (25.96, 0.6675),
    ("BSD100", 8): (23.67, 0.5480),
}
PSNR_ROUNDING, SSIM_ROUNDING = 0.005, 0.00005


@cache
def _load(root: str, dataset: str) -> tuple[tuple[str, torch.Tensor], ...]:
    """All PNGs of a set as (name, (C, H, W) float in [0, 1]); single-channel images keep one channel."""
    paths = sorted((Path(root) / "eval" / dataset).glob("*.png"))
    images = []
    for p in paths:
        with Image.open(p) as im:
            arr = np.asarray(im)
        t = torch.from_numpy(arr.copy()).float() / 255.0
        images.append((p.stem, t[None] if t.ndim == 2 else t.permute(2, 0, 1)))
    return tuple(images)


def _images(data_root: Path, dataset: str) -> tuple[tuple[str, torch.Tensor], ...]:
    images = _load(str(data_root), dataset)
    if not images:
        pytest.skip(f"no PNG images in {data_root / 'eval' / dataset}")
    return images


MATLAB_CELLS = [(ds, s, "vdsr" if s < 8 else "lapsrn") for (ds, s) in PAPER]


@pytest.mark.parametrize(
    ("dataset", "scale", "protocol"), MATLAB_CELLS, ids=[f"{d}-x{s}-{p}" for d, s, p in MATLAB_CELLS]
)
def test_bicubic_reproduces_the_printed_row_under_the_matlab_protocols(
    data_root: Path, dataset: str, scale: int, protocol: str
) -> None:
    result = evaluate_dataset(_images(data_root, dataset), BicubicMethod(), scale, protocol)
    psnr_y, ssim_y = result.means["psnr_y"], result.means["ssim_y"]
    assert psnr_y is not None and ssim_y is not None
    printed_psnr, printed_ssim = PAPER[(dataset, scale)]
    assert abs(psnr_y - printed_psnr) <= 0.01 + PSNR_ROUNDING, f"PSNR {psnr_y:.4f} vs printed {printed_psnr}"
    assert abs(ssim_y - printed_ssim) <= 0.001 + SSIM_ROUNDING, f"SSIM {ssim_y:.5f} vs printed {printed_ssim}"


_SET5_X2_REASON = "IRN code path gives 33.6818 dB on Set5 x2, 0.0218 dB above the printed 33.66 (see module docstring)"
IRN_CELLS = [
    pytest.param(ds, s, marks=pytest.mark.xfail(strict=True, reason=_SET5_X2_REASON) if (ds, s) == ("Set5", 2) else ())
    for (ds, s) in PAPER
    if s < 8
]


@pytest.mark.parametrize(("dataset", "scale"), IRN_CELLS)
def test_bicubic_under_the_irn_code_path_lands_near_the_printed_row(data_root: Path, dataset: str, scale: int) -> None:
    result = evaluate_dataset(_images(data_root, dataset), BicubicMethod(), scale, "irn")
    psnr_y, ssim_y = result.means["psnr_y"], result.means["ssim_y"]
    assert psnr_y is not None and ssim_y is not None
    printed_psnr, printed_ssim = PAPER[(dataset, scale)]
    # Measured SSIM deltas are +0.0004 .. +0.0009 (8-bit LR, unrounded Y).
    assert abs(ssim_y - printed_ssim) <= 0.001 + SSIM_ROUNDING, f"SSIM {ssim_y:.5f} vs printed {printed_ssim}"
    assert abs(psnr_y - printed_psnr) <= 0.015 + PSNR_ROUNDING, f"PSNR {psnr_y:.4f} vs printed {printed_psnr}"


def test_irn_code_path_on_set5_x2_gives_the_measured_33_682_db(data_root: Path) -> None:
    result = evaluate_dataset(_images(data_root, "Set5"), BicubicMethod(), 2, "irn")
    assert result.means["psnr_y"] == pytest.approx(33.6818, abs=1e-3)
    assert result.means["psnr_rgb"] is not None and result.means["ssim_rgb"] is not None


def test_set14_bridge_is_single_channel_and_scored_as_y(data_root: Path) -> None:
    images = dict(_images(data_root, "Set14"))
    assert images["bridge"].shape[0] == 1
    result = evaluate_dataset([("bridge", images["bridge"])], BicubicMethod(), 4, "vdsr")
    as_rgb = evaluate_dataset([("bridge", images["bridge"])], BicubicMethod(), 4, "irn")
    assert result.per_image[0].psnr_y == pytest.approx(23.146, abs=2e-3)
    assert as_rgb.per_image[0].psnr_rgb == as_rgb.per_image[0].psnr_y
