"""selfVAE on real CelebA images: train a tiny 64² VAE on the shared 32-image CelebA sample, then score it in bpd."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from invrestore.cli.main import cli


def _celeba_copy(data_root: Path, tmp_path: Path) -> Path:
    """The sample as a CelebA folder: img_align_celeba/ plus an official-format partition (28 train, 4 test)."""
    sample = data_root / "misc" / "CelebA_sample32"
    names = sorted(p.name for p in sample.glob("*.jpg"))
    assert len(names) == 32
    root = tmp_path / "celeba"
    root.mkdir()
    os.symlink(sample, root / "img_align_celeba")
    lines = [f"{n} {0 if i < 28 else 2}" for i, n in enumerate(names)]
    (root / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.filterwarnings("ignore:CelebA")  # the sample is an incomplete copy, by design
def test_a_64_pixel_vae_trains_on_real_celeba_images_and_reports_bpd(data_root: Path, tmp_path: Path) -> None:
    root = _celeba_copy(data_root, tmp_path)
    cfg = tmp_path / "celeba_vae.yaml"
    cfg.write_text(
        "family: selfvae\nmodel: {name: vae-64-small}\n"
        f"data: {{dataset: CelebA, root: {root}, val_split: val}}\n"
        "train: {steps: 3, batch_size: 4, log_every: 1, val_every: 3, ckpt_every: 3, device: cpu}\n"
    )
    run = CliRunner().invoke(cli, ["train", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"])
    assert run.exit_code == 0, run.output
    recs = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r["kind"] == "train"] == [1, 2, 3]
    out = tmp_path / "bpd.json"
    args = ["eval", "--model", "vae-64-small", "--weights", str(tmp_path / "run" / "last"), "--dataset", "CelebA"]
    res = CliRunner().invoke(cli, [*args, "--data-root", str(root), "--iw-samples", "4", "--json", str(out)])
    assert res.exit_code == 0, res.output
    bpd = json.loads(out.read_text())
    assert bpd["num_images"] == 4 and math.isfinite(bpd["iw_bpd"]) and 0 < bpd["iw_bpd"] <= bpd["elbo_bpd"]
