"""`invrestore restore`: any size in and out, --degrade with PSNR, one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from invrestore.cli.main import cli
from invrestore.cli.restore import restore
from invrestore.io import read_image, write_image
from invrestore.models import create_model
from invrestore.train import save_weights

if "restore" not in cli.commands:  # until cli/main.py registers it
    cli.add_command(restore)


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


@pytest.fixture()
def images(tmp_path: Path) -> list[Path]:
    g = torch.Generator().manual_seed(0)
    paths = []
    for name, shape in (("a", (3, 13, 11)), ("b", (1, 9, 14))):  # odd sizes, one greyscale
        p = tmp_path / f"{name}.png"
        write_image(p, torch.rand(*shape, generator=g))
        paths.append(p)
    return paths


def _weights(tmp_path: Path, name: str) -> Path:
    torch.manual_seed(0)
    path = tmp_path / f"{name}.safetensors"
    save_weights(create_model(name).state_dict(), path)
    return path


@pytest.mark.parametrize(
    ("name", "extra"),
    [("dncnn", ()), ("ffdnet", ("--sigma", "25")), ("unet", ()), ("arcnn", ()), ("irae", ())],
)
def test_output_sizes_equal_input_sizes(tmp_path: Path, images: list[Path], name: str, extra: tuple[str, ...]) -> None:
    w = _weights(tmp_path, name)
    out = tmp_path / "out"
    code, text = run("restore", *map(str, images), "--task", "denoise", *extra, "--model", name, "--weights", str(w),
                     "-o", str(out))  # fmt: skip
    assert code == 0, text
    for p in images:
        assert read_image(out / p.name).shape == read_image(p).shape


@pytest.mark.parametrize(
    ("task", "extra"), [("denoise", ("--sigma", "25")), ("dejpeg", ("--quality", "20")), ("inpaint", ())]
)
def test_degrade_writes_the_degraded_image_and_prints_psnr(
    tmp_path: Path, images: list[Path], task: str, extra: tuple[str, ...]
) -> None:
    w = _weights(tmp_path, "arcnn")
    out = tmp_path / "out"
    args = ("restore", str(images[0]), "--task", task, *extra, "--model", "arcnn", "--weights", str(w))
    code, text = run(*args, "-o", str(out), "--degrade")
    assert code == 0, text
    assert "PSNR" in text and "dB" in text
    assert read_image(out / "a_degraded.png").shape == (3, 13, 11)
    assert read_image(out / "a.png").shape == (3, 13, 11)
    if task == "inpaint":  # known pixels kept: the composite
        m = read_image(out / "a_mask.png")[0] > 0.5
        assert torch.equal(read_image(out / "a.png")[:, ~m], read_image(images[0])[:, ~m])
    code2, text2 = run(*args, "-o", str(tmp_path / "again"), "--degrade")
    assert code2 == 0, text2
    assert text2.split("PSNR")[1] == text.split("PSNR")[1]  # seeded


def test_inpaint_with_a_mask_keeps_the_known_pixels(tmp_path: Path, images: list[Path]) -> None:
    w = _weights(tmp_path, "dncnn")
    mask = torch.zeros(1, 13, 11)
    mask[:, 3:8, 2:6] = 1
    write_image(tmp_path / "m.png", mask)
    code, text = run("restore", str(images[0]), "--task", "inpaint", "--mask", str(tmp_path / "m.png"),
                     "--model", "dncnn", "--weights", str(w), "-o", str(tmp_path / "out"))  # fmt: skip
    assert code == 0, text
    got, src = read_image(tmp_path / "out" / "a.png"), read_image(images[0])
    assert torch.equal(got[:, mask[0] == 0], src[:, mask[0] == 0])


def test_ffdnet_without_sigma_is_a_one_line_error(tmp_path: Path, images: list[Path]) -> None:
    w = _weights(tmp_path, "ffdnet")
    code, text = run("restore", str(images[0]), "--task", "denoise", "--model", "ffdnet", "--weights", str(w),
                     "-o", str(tmp_path / "out"))  # fmt: skip
    assert code == 1 and "--sigma" in text and len(text.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_missing_or_wrong_weights_are_clear_errors(tmp_path: Path, images: list[Path]) -> None:
    base = ("restore", str(images[0]), "--task", "denoise", "-o", str(tmp_path / "out"))
    code, text = run(*base, "--model", "dncnn")
    assert code == 1 and "--weights" in text and len(text.strip().splitlines()) == 1
    code, text = run(*base, "--model", "dncnn", "--weights", str(tmp_path / "nope.safetensors"))
    assert code == 1 and "not found" in text and len(text.strip().splitlines()) == 1
    code, text = run(*base, "--model", "unet", "--weights", str(_weights(tmp_path, "arcnn")))
    assert code == 1 and "does not hold weights" in text and len(text.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_weights_from_a_training_run_use_its_config(tmp_path: Path, images: list[Path]) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "best").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("family: baselines\nmodel:\n  name: dncnn\n  middle_layers: 1\n  width: 4\n")
    torch.manual_seed(0)
    save_weights(create_model("dncnn", middle_layers=1, width=4).state_dict(), run_dir / "best" / "model.safetensors")
    code, text = run(
        "restore", str(images[1]), "--task", "denoise", "--weights", str(run_dir), "-o", str(tmp_path / "o")
    )
    assert code == 0, text
    assert read_image(tmp_path / "o" / "b.png").shape == (1, 9, 14)


def _pix2pix_run(tmp_path: Path, task: str = "derain") -> Path:
    """A tiny pix2pix training run folder: config.yaml + last/model.safetensors (random G and D)."""
    from invrestore.models.registry import load_task

    run_dir = tmp_path / f"p2p_{task}"
    (run_dir / "last").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(
        "family: pix2pix\n"
        "generator: {arch: unet, depth: 3, ngf: 8}\n"
        "discriminator: {ndf: 8, n_layers: 1}\n"
        "crop_size: 16\n"
        f"data: {{task: {task}}}\n"
    )
    torch.manual_seed(0)
    net = load_task(run_dir / "config.yaml").build_model()
    save_weights(net.state_dict(), run_dir / "last" / "model.safetensors")
    return run_dir


def test_a_pix2pix_run_derains_images_of_any_size_reproducibly(tmp_path: Path, images: list[Path]) -> None:
    run_dir = _pix2pix_run(tmp_path)
    args = ("restore", *map(str, images), "--task", "derain", "--weights", str(run_dir), "--degrade")
    code, text = run(*args, "-o", str(tmp_path / "out"))
    assert code == 0, text
    assert "PSNR" in text
    for p in images:
        assert read_image(tmp_path / "out" / p.name).shape == read_image(p).shape
        assert read_image(tmp_path / "out" / f"{p.stem}_degraded.png").shape == read_image(p).shape
    code2, text2 = run(*args, "-o", str(tmp_path / "again"))
    assert code2 == 0, text2
    assert torch.equal(read_image(tmp_path / "out" / "a.png"), read_image(tmp_path / "again" / "a.png"))


def test_a_pix2pix_training_checkpoint_loads_by_generator_name(tmp_path: Path, images: list[Path]) -> None:
    run_dir = _pix2pix_run(tmp_path, "dehaze")
    ckpt = tmp_path / "copy.safetensors"  # no config.yaml beside it: the name picks the architecture
    ckpt.write_bytes((run_dir / "last" / "model.safetensors").read_bytes())
    code, text = run("restore", str(images[0]), "--task", "dehaze", "--model", "pix2pix-unet-3", "--weights",
                     str(ckpt), "-o", str(tmp_path / "out"))  # fmt: skip
    assert code != 0  # pix2pix-unet-3 is the paper-width (ngf 64) generator: the tiny checkpoint does not fit
    assert "does not hold weights" in text
    torch.manual_seed(0)
    gen = create_model("pix2pix-unet-3")
    save_weights({f"generator.{k}": v for k, v in gen.state_dict().items()}, ckpt)
    code, text = run("restore", str(images[0]), "--task", "dehaze", "--model", "pix2pix-unet-3", "--weights",
                     str(ckpt), "-o", str(tmp_path / "out"))  # fmt: skip
    assert code == 0, text
    assert read_image(tmp_path / "out" / "a.png").shape == (3, 13, 11)


def test_a_model_trained_for_another_task_is_refused(tmp_path: Path, images: list[Path]) -> None:
    run_dir = _pix2pix_run(tmp_path, "derain")
    code, text = run("restore", str(images[0]), "--task", "dehaze", "--weights", str(run_dir), "-o", str(tmp_path))
    assert code != 0
    assert "trained to derain" in text and "--task derain" in text
    w = _weights(tmp_path, "dncnn")
    code, text = run("restore", str(images[0]), "--task", "derain", "--model", "dncnn", "--weights", str(w), "-o",
                     str(tmp_path / "o2"))  # fmt: skip
    assert code != 0
    assert "needs a pix2pix model" in text
    assert not (tmp_path / "o2").exists() or not any((tmp_path / "o2").iterdir())


def test_eval_scores_a_restoration_model_on_seeded_degraded_benchmark_images(data_root: Path, tmp_path: Path) -> None:
    import json

    w = _weights(tmp_path, "arcnn")
    args = ["eval", "--model", "arcnn", "--weights", str(w), "--task", "denoise", "--sigma", "25", "--dataset",
            "Set5", "--data-root", str(data_root), "--limit", "2", "--legacy-ssim"]  # fmt: skip
    code, text = run(*args, "--json", str(tmp_path / "a.json"), "--csv", str(tmp_path / "a.csv"))
    assert code == 0, text
    rep = json.loads((tmp_path / "a.json").read_text())["datasets"]["Set5"]
    assert rep["num_images"] == 2 and {"psnr", "ssim", "psnr_in", "legacy_ssim"} <= set(rep)
    assert 14 < rep["psnr_in"] < 24  # σ = 25 AWGN: ≈ 20 dB
    assert len((tmp_path / "a.csv").read_text().splitlines()) == 3
    code, _ = run(*args, "--json", str(tmp_path / "b.json"))
    assert json.loads((tmp_path / "b.json").read_text())["datasets"]["Set5"]["psnr"] == rep["psnr"]  # seeded
    code, text = run("eval", "--model", "arcnn", "--weights", str(w), "--task", "denoise", "--dataset", "Set5",
                     "--data-root", str(data_root))  # fmt: skip
    assert code != 0 and "--sigma" in text
