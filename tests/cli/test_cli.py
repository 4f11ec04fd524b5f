"""The command line: results on disk, one-line errors with a non-zero exit, nothing half-written."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from invrestore.cli.main import cli


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return res.exit_code, res.output


def test_eval_bicubic_writes_json_and_csv_with_the_documented_keys(data_env: Path, tmp_path: Path) -> None:
    code, out = run(
        "eval", "--method", "bicubic", "--scale", "4", "--dataset", "Set5",
        "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"),
    )  # fmt: skip
    assert code == 0, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert {"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "per_image"} <= set(report)
    assert len(report["per_image"]) == 5
    assert abs(report["psnr_y"] - 28.42) < 0.015
    assert (tmp_path / "r.csv").read_text().count("\n") == 6
    assert "28.42/0.8104" in out  # the paper's row printed beside ours


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "Set6"], "unknown dataset 'Set6'"),
        (["--dataset", "Set5", "--data-root", "/nonexistent/dir"], "does not exist"),
        (["--dataset", "Set5", "--scale", "600"], "too small for scale 600"),
        (["--dataset", "Set5", "--method", "lanczos"], "unknown method"),
    ],
)
def test_eval_errors_are_one_line_with_a_non_zero_exit(
    data_env: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    base = {"--method": "bicubic", "--scale": "4"}
    for k in ("--method", "--scale"):
        if k in args:
            base.pop(k)
    flat = [x for kv in base.items() for x in kv]
    code, out = run("eval", *flat, *args, "--json", str(tmp_path / "r.json"))
    assert code == 1
    assert message in out and "Traceback" not in out
    assert not (tmp_path / "r.json").exists()


def test_missing_weights_give_a_clear_error_not_a_traceback(data_env: Path, tmp_path: Path) -> None:
    code, out = run("eval", "--model", "irn-x4", "--scale", "4", "--dataset", "Set5", "--weights", str(tmp_path / "x"))
    assert code == 1 and "not found" in out


def test_data_list_shows_found_and_missing_sets(data_env: Path) -> None:
    code, out = run("data", "list")
    assert code == 0
    assert "Set5" in out and "found" in out and "Urban100" in out and "missing" in out


def test_train_runs_and_resumes_a_tiny_irn(data_root: Path, tmp_path: Path) -> None:
    cfg = Path(__file__).resolve().parents[2] / "configs" / "irn" / "tiny.yaml"
    folder = str(data_root / "eval" / "Set5")
    common = [
        "train",
        str(cfg),
        "--set",
        f"data.train_folders=[{folder}]",
        "--run-dir",
        str(tmp_path),
        "--no-progress",
    ]
    code, out = run(*common, "--max-steps", "2")
    assert code == 0, out
    code, out = run(*common)
    assert code == 0, out
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    assert (tmp_path / "last" / "model.safetensors").is_file()


def test_train_stops_at_its_time_limit_with_a_resumable_checkpoint(data_root: Path, tmp_path: Path) -> None:
    cfg = Path(__file__).resolve().parents[2] / "configs" / "irn" / "tiny.yaml"
    folder = str(data_root / "eval" / "Set5")
    code, out = run(
        "train",
        str(cfg),
        "--set",
        f"data.train_folders=[{folder}]",
        "--set",
        "train.steps=100000",
        "--run-dir",
        str(tmp_path),
        "--no-progress",
        "--time-limit",
        "0.001",
    )
    assert code == 0, out
    assert "stopped at step 1;" in out
    records = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["kind"] == "stop" and "time limit" in records[-1]["reason"]
    assert json.loads((tmp_path / "last" / "meta.json").read_text())["step"] == 1


def test_train_rejects_unknown_config_keys(tmp_path: Path) -> None:
    cfg = Path(__file__).resolve().parents[2] / "configs" / "irn" / "tiny.yaml"
    code, out = run("train", str(cfg), "--set", "loss.lambda_typo=3", "--run-dir", str(tmp_path))
    assert code == 1 and "lambda_typo" in out


def test_demo_writes_a_side_by_side_comparison(tmp_path: Path) -> None:
    code, out = run("demo", "-o", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "comparison.png").is_file()
    assert "mean PSNR-Y" in out


def test_the_console_script_prints_no_traceback_on_bad_input(tmp_path: Path) -> None:
    (tmp_path / "Set5").mkdir()
    (tmp_path / "Set5" / "bad.png").write_bytes(b"not an image")
    res = subprocess.run(
        [sys.executable, "-m", "invrestore", "eval", "--method", "bicubic", "--scale", "2", "--dataset", "Set5",
         "--data-root", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().startswith("invrestore: error: cannot read image") and "Traceback" not in res.stderr
    assert "bad.png" in res.stderr


def _tiny_irn_weights(tmp_path: Path) -> Path:
    import torch

    from invrestore.models import create_model
    from invrestore.train import save_weights

    torch.manual_seed(0)
    m = create_model("irn-x2")
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    save_weights(m.state_dict(), tmp_path / "w.safetensors")
    return tmp_path / "w.safetensors"


def test_downscale_then_upscale_restores_any_size_gray_and_rgba(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from invrestore.io import read_image_uint, read_png_text

    w = _tiny_irn_weights(tmp_path)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (37, 21), dtype=np.uint8)).save(tmp_path / "gray.png")
    Image.fromarray(rng.integers(0, 256, (15, 18, 4), dtype=np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (1, 1, 3), dtype=np.uint8)).save(tmp_path / "tiny.png")
    srcs = [str(tmp_path / f"{n}.png") for n in ("gray", "rgba", "tiny")]
    code, out = run("downscale", *srcs, "--model", "irn-x2", "--weights", str(w), "-o", str(tmp_path / "lr"))
    assert code == 0, out
    meta = read_png_text(tmp_path / "lr" / "gray.png")
    assert meta["invrestore.model"] == "irn-x2" and meta["invrestore.size"] == "37x21"
    assert read_image_uint(tmp_path / "lr" / "gray.png").shape[:2] == (19, 11)
    lrs = [str(tmp_path / "lr" / f"{n}.png") for n in ("gray", "rgba", "tiny")]
    code, out = run("upscale", *lrs, "--weights", str(w), "-o", str(tmp_path / "hr"))
    assert code == 0, out
    assert read_image_uint(tmp_path / "hr" / "gray.png").shape == (37, 21)
    assert read_image_uint(tmp_path / "hr" / "rgba.png").shape == (15, 18, 3)
    assert read_image_uint(tmp_path / "hr" / "tiny.png").shape == (1, 1, 3)


def test_upscale_refuses_lr_images_of_another_model_unless_forced(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    w = _tiny_irn_weights(tmp_path)
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    run("downscale", str(tmp_path / "a.png"), "--model", "irn-x2", "--weights", str(w), "-o", str(tmp_path / "lr"))
    code, out = run("upscale", str(tmp_path / "lr" / "a.png"), "--model", "irn-x4", "-o", str(tmp_path / "hr"))
    assert code == 1 and "downscaled by irn-x2, not irn-x4" in out
    code, out = run("upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "hr"))
    assert code == 1 and "no invrestore metadata" in out
    assert not (tmp_path / "hr").exists()


def test_eval_of_a_model_reports_lr_similarity_to_bicubic(data_env: Path, tmp_path: Path) -> None:
    w = _tiny_irn_weights(tmp_path)
    code, out = run(
        "eval", "--model", "irn-x2", "--weights", str(w), "--scale", "2", "--dataset", "Set5",
        "--json", str(tmp_path / "r.json"), "--z", "zero",
    )  # fmt: skip
    assert code == 0, out
    report = json.loads((tmp_path / "r.json").read_text())
    # near-identity IRN: its LR is close to the 2×2 box mean, i.e. close to (but not equal to) bicubic
    assert 30 < report["lr_psnr_y"] < 60 and 0.9 < report["lr_ssim_y"] <= 1
    assert report["paper_psnr_y"] == 43.99
    assert {"lr_psnr_rgb", "lr_ssim_rgb"} <= set(report["per_image"][0])


@pytest.mark.slow
def test_torchrun_with_two_cpu_processes_trains_irn_with_ddp(data_root: Path, tmp_path: Path) -> None:
    import os

    cfg = Path(__file__).resolve().parents[2] / "configs" / "irn" / "tiny.yaml"
    folder = str(data_root / "eval" / "Set5")
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "invrestore",
         "train", str(cfg), "--set", f"data.train_folders=[{folder}]", "--run-dir", str(tmp_path), "--no-progress"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "parameters identical on all 2 ranks" in res.stdout
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 4


def test_images_above_the_pixel_limit_are_refused_before_any_write(tmp_path: Path) -> None:
    # large images are tiled now (no memory refusal); --max-pixels remains a safety limit on untrusted inputs
    import numpy as np
    from PIL import Image

    w = _tiny_irn_weights(tmp_path)
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(tmp_path / "big.png")
    code, out = run(
        "downscale", str(tmp_path / "big.png"), "--model", "irn-x2", "--weights", str(w),
        "-o", str(tmp_path / "lr"), "--max-pixels", "1000",
    )  # fmt: skip
    assert code == 1 and "limit" in out and "4096" in out
    assert not (tmp_path / "lr" / "big.png").exists()


def test_probe_reports_exact_reconstruction_for_an_invertible_model(tmp_path: Path) -> None:
    import numpy as np

    from invrestore.io import write_image

    (tmp_path / "Set5").mkdir()
    for i in range(2):
        write_image(tmp_path / "Set5" / f"{i}.png", np.random.default_rng(i).integers(0, 256, (24, 20, 3), np.uint8))
    code, out = run(
        "probe", "--model", "irn-x2", "--data-root", str(tmp_path), "--json", str(tmp_path / "p.json")
    )  # fmt: skip
    assert code == 0, out
    assert json.loads((tmp_path / "p.json").read_text())["psnr"] >= 60


@pytest.mark.slow
def test_torchrun_with_two_cpu_processes_trains_a_pix2pix_gan_in_sync(data_root: Path, tmp_path: Path) -> None:
    import os

    cfg = tmp_path / "p2p.yaml"
    cfg.write_text(
        "family: pix2pix\n"
        "generator: {arch: unet, depth: 3, ngf: 8}\n"
        "discriminator: {ndf: 8, n_layers: 1}\n"
        "crop_size: 16\n"
        f"data: {{train_sets: [], train_folders: [{data_root / 'eval' / 'Set5'}], task: derain, val_set: null}}\n"
        "train: {steps: 4, batch_size: 4, log_every: 1, val_every: 0, ckpt_every: 4}\n"
    )

    run_dir = tmp_path / "run"

    def launch() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "invrestore",
             "train", str(cfg), "--run-dir", str(run_dir), "--no-progress"],
            capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip

    res = launch()
    for attempt in range(2):
        if res.returncode == 0 or "terminate called without an active exception" not in res.stderr:
            break
        # an abort of a gloo thread at process exit on the loaded 2-core machine (after training finished; seen a
        # few times in many runs, twice in a row once under a full parallel suite): run again from scratch, up to
        # two more times; any other failure, or three aborts, fails the test
        run_dir = tmp_path / f"run-retry{attempt}"
        res = launch()
    assert res.returncode == 0, res.stderr[-3000:]
    assert "parameters identical on all 2 ranks" in res.stdout
    recs = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(recs) == 4 and all(math.isfinite(r["d"]) and math.isfinite(r["g"]) for r in recs)  # D and G logged


def test_probe_default_crop_shrinks_to_the_smallest_image_and_an_explicit_one_is_checked(tmp_path: Path) -> None:
    import numpy as np

    from invrestore.io import write_image

    (tmp_path / "Set5").mkdir()
    for i, (h, w) in enumerate([(48, 40), (36, 52)]):
        write_image(tmp_path / "Set5" / f"{i}.png", np.random.default_rng(i).integers(0, 256, (h, w, 3), np.uint8))
    args = ["probe", "--model", "pix2pix-unet-5", "--set", "ngf=4", "--steps", "1", "--data-root", str(tmp_path)]
    code, out = run(*args, "--no-progress")
    assert code == 0, out
    assert "32² crops" in out  # the smallest side, 36, floored to the U-Net's multiple 2^5
    code, out = run(*args, "--no-progress", "--crop", "64")
    assert code == 1 and "--crop 64 is larger than the smallest training image (36 px)" in out
