"""Published numbers (Y-channel PSNR/SSIM) printed beside ours by ``invrestore eval``.

Source: the IRN paper (IJCV 2022), Tables 1–2 (the Bicubic & Bicubic rows were produced by the ``vdsr`` (×2–×4) and
``lapsrn`` (×8) MATLAB protocols, see ``docs/evaluation.md``).
"""

from __future__ import annotations

__all__ = ["PAPER_RESULTS", "paper_result"]

_SETS = ("Set5", "Set14", "BSD100", "Urban100", "DIV2K-valid")


def _row(*cells: tuple[float, float]) -> dict[str, tuple[float, float]]:
    return dict(zip(_SETS, cells))


#: ``(method, scale) -> {dataset: (psnr_y, ssim_y)}``
PAPER_RESULTS: dict[tuple[str, int], dict[str, tuple[float, float]]] = {
    ("bicubic", 2): _row((33.66, 0.9299), (30.24, 0.8688), (29.56, 0.8431), (26.88, 0.8403), (31.01, 0.9393)),
    ("bicubic", 3): _row((30.39, 0.8682), (27.55, 0.7742), (27.21, 0.7385), (24.46, 0.7349), (26.95, 0.8556)),
    ("bicubic", 4): _row((28.42, 0.8104), (26.00, 0.7027), (25.96, 0.6675), (23.14, 0.6577), (26.66, 0.8521)),
    ("bicubic", 8): _row((24.40, 0.6580), (23.10, 0.5660), (23.67, 0.5480), (20.74, 0.5160), (23.70, 0.6387)),
    ("irn", 2): _row((43.99, 0.9871), (40.79, 0.9778), (41.32, 0.9876), (39.92, 0.9865), (44.32, 0.9908)),
    ("irn", 3): _row((37.94, 0.9586), (34.64, 0.9313), (33.80, 0.9306), (33.45, 0.9470), (37.33, 0.9586)),
    ("irn", 4): _row((36.19, 0.9451), (32.67, 0.9015), (31.64, 0.8826), (31.41, 0.9157), (35.07, 0.9318)),
    ("irn", 8): _row((31.20, 0.8736), (28.40, 0.7698), (27.49, 0.7239), (26.67, 0.7947), (30.29, 0.8280)),
}


def paper_result(method: str, scale: int, dataset: str) -> tuple[float, float] | None:
    """The paper's (PSNR-Y, SSIM-Y) for ``method`` (``bicubic`` or ``irn``) at ``scale`` on ``dataset``."""
    family = "irn" if method.startswith("irn") else method
    return PAPER_RESULTS.get((family, int(scale)), {}).get(dataset)
