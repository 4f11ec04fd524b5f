"""The GPU campaign's CPU side: lossless data packing, weight export/join, the adoption rule, and the GPU window's
rate and loss-curve arithmetic."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from invrestore.io import read_image_uint, write_image
from invrestore.train import load_weights, save_weights

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import campaign_adopt  # noqa: E402
import gpu_campaign  # noqa: E402
import gpu_window  # noqa: E402
import pack_training_data  # noqa: E402


def test_packing_round_trips_the_files_and_pixels_exactly(tmp_path: Path) -> None:
    root = tmp_path / "data"
    g = torch.Generator().manual_seed(0)
    for s, n in (("T91", 3), ("BSDS200", 2)):
        (root / "train" / s).mkdir(parents=True)
        for i in range(n):
            write_image(root / "train" / s / f"{s}_{i}.png", torch.rand(3, 9 + i, 7, generator=g))
    info = pack_training_data.pack(root, tmp_path / "p.npz")
    assert info["files"] == 5
    with np.load(tmp_path / "p.npz") as z:
        assert z["blob"].dtype == np.uint8 and len(z["offsets"]) == 6
    paths = pack_training_data.unpack(tmp_path / "p.npz", tmp_path / "out", verify=True)
    for p in paths:
        orig = root / p.relative_to(tmp_path / "out")
        assert p.read_bytes() == orig.read_bytes()
        assert np.array_equal(read_image_uint(p), read_image_uint(orig))


def test_a_corrupted_pack_fails_verification(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for s in ("T91", "BSDS200"):
        (root / "train" / s).mkdir(parents=True)
        write_image(root / "train" / s / "a.png", torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(1)))
    pack_training_data.pack(root, tmp_path / "p.npz")
    z = dict(np.load(tmp_path / "p.npz"))
    z["pixel_sha256"] = np.array(["0" * 64, z["pixel_sha256"][1]])
    np.savez(tmp_path / "bad.npz", **z)
    with pytest.raises(SystemExit, match="differ"):
        pack_training_data.unpack(tmp_path / "bad.npz", tmp_path / "out", verify=True)


def _run_dir(tmp_path: Path, sd: dict[str, torch.Tensor]) -> Path:
    run = tmp_path / "run"
    (run / "last").mkdir(parents=True)
    save_weights(sd, run / "last" / "model.safetensors")
    (run / "last" / "meta.json").write_text(json.dumps({"step": 42}))
    return run


def test_large_weights_are_exported_in_parts_that_join_to_the_same_state_dict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sd = {f"w{i}": torch.randn(400, 400) for i in range(4)}  # 2.56 MB
    monkeypatch.setattr(gpu_campaign, "SPLIT_BYTES", 2**20 + 500_000)  # parts of at most ~0.5 MB + one tensor
    out = tmp_path / "out"
    out.mkdir()
    files, picked, step = gpu_campaign.export(_run_dir(tmp_path, sd), out, "irn-x4", half=False)
    assert len(files) == 4 and picked == "last" and step == 42
    assert all((out / f).stat().st_size <= gpu_campaign.SPLIT_BYTES for f in files)
    campaign_adopt.join_weights(out, files, tmp_path / "joined.safetensors")
    joined = load_weights(tmp_path / "joined.safetensors")
    assert set(joined) == set(sd) and all(torch.equal(joined[k], sd[k]) for k in sd)


def _fake_campaign(tmp_path: Path, value: float) -> tuple[Path, Path]:
    """A result dir whose irn-x2 weights hold ``value``, and a weights dir whose shipped ones hold 1.0."""
    wdir, res = tmp_path / "weights", tmp_path / "result"
    wdir.mkdir(parents=True)
    res.mkdir(parents=True)
    save_weights({"w": torch.full((4,), 1.0)}, wdir / "irn-x2.safetensors")
    (wdir / "irn-x2.md").write_text("# Model card: irn-x2\n\n## Training\n\nCPU.\n\n## Evaluation\n\nTable.\n")
    save_weights({"w": torch.full((4,), value)}, res / "irn-x2.safetensors")
    rec = {
        "target": "irn-x2",
        "files": ["irn-x2.safetensors"],
        "config": "configs/irn/campaign_x2.yaml",
        "steps": 1000,
        "gpu_seconds": 120.0,
        "picked": "best",
        "picked_step": 900,
        "schedule": {"milestones": [500, 750]},
    }
    failed = {"target": "irn-x4", "error": "RuntimeError: out of memory"}
    (res / "campaign.json").write_text(json.dumps({"device": "GPU", "torch": "2.11", "results": [rec, failed]}))
    return res, wdir


def _score(name: str, weights: Path, dataset: str, limit: int) -> float:
    """A fake held-out score: 30 dB + the weights' value (+ a per-set offset)."""
    return 30.0 + float(load_weights(weights)["w"].mean()) + {"Set14": 0.0, "BSD100": 1.0, "Kodak24": 2.0}[dataset]


def test_better_weights_are_adopted_with_history_and_card(tmp_path: Path) -> None:
    res, wdir = _fake_campaign(tmp_path, 1.5)
    assert campaign_adopt.adopt(res, wdir, score=_score) == {"irn-x2": True}
    assert torch.equal(load_weights(wdir / "irn-x2.safetensors")["w"], torch.full((4,), 1.5))
    history = json.loads((wdir / "irn-x2.campaign.json").read_text())
    assert len(history) == 1 and history[0]["held_out_new"]["BSD100"] == pytest.approx(32.5)
    card = (wdir / "irn-x2.md").read_text()
    assert "## Campaign\n" in card and "1,000 (2.0 device-minutes)" in card and "31.00 → 31.50" in card
    assert card.index("## Evaluation") < card.index("## Campaign")  # the rest of the card is kept
    # a second window accumulates, and the section is replaced, not duplicated
    res2, _ = _fake_campaign(tmp_path / "again", 2.0)
    assert campaign_adopt.adopt(res2, wdir, score=_score) == {"irn-x2": True}
    card = (wdir / "irn-x2.md").read_text()
    assert card.count("## Campaign") == 1 and "2,000 (4.0 device-minutes)" in card


def test_a_card_with_the_old_section_heading_gets_it_replaced_not_duplicated(tmp_path: Path) -> None:
    card = tmp_path / "m.md"
    card.write_text("# Model card\n\n## GPU campaign\n\nold table\n\n## Notes\n\nkept\n")
    campaign_adopt.write_card(card, "## Campaign\n\nnew table\n")
    text = card.read_text()
    assert "GPU campaign" not in text and "old table" not in text
    assert text.count("## Campaign") == 1 and "new table" in text and text.endswith("## Notes\n\nkept\n")


@pytest.mark.parametrize("value", [0.9, 1.01])  # worse; better by less than --min-gain (0.02 dB)
def test_worse_or_barely_better_weights_are_refused_and_nothing_changes(tmp_path: Path, value: float) -> None:
    res, wdir = _fake_campaign(tmp_path, value)
    before = (wdir / "irn-x2.safetensors").read_bytes()
    assert campaign_adopt.adopt(res, wdir, score=_score) == {"irn-x2": False}
    assert (wdir / "irn-x2.safetensors").read_bytes() == before
    assert not (wdir / "irn-x2.campaign.json").exists() and "## Campaign" not in (wdir / "irn-x2.md").read_text()


def _per_image_score(broken: float) -> campaign_adopt.Scorer:
    """Per-image scores: the new weights (w = 1.5) gain 1 dB on every image but the third of Kodak24, which loses
    ``broken`` dB; the shipped ones (w = 1.0) score 30 dB everywhere."""

    def score(name: str, weights: Path, dataset: str, limit: int) -> list[float]:
        new = float(load_weights(weights)["w"].mean()) > 1.0
        scores = [31.0 if new else 30.0] * 5
        if new and dataset == "Kodak24":
            scores[2] = 30.0 - broken
        return scores

    return score


def test_one_image_breaking_refuses_though_every_mean_gains(tmp_path: Path) -> None:
    res, wdir = _fake_campaign(tmp_path, 1.5)
    before = (wdir / "irn-x2.safetensors").read_bytes()
    assert campaign_adopt.adopt(res, wdir, score=_per_image_score(3.0)) == {"irn-x2": False}  # Kodak24 mean +0.2
    assert (wdir / "irn-x2.safetensors").read_bytes() == before
    res, wdir = _fake_campaign(tmp_path / "small", 1.5)
    assert campaign_adopt.adopt(res, wdir, score=_per_image_score(0.5)) == {"irn-x2": True}
    history = json.loads((wdir / "irn-x2.campaign.json").read_text())
    assert history[0]["held_out_new"]["Kodak24"] == pytest.approx((4 * 31.0 + 29.5) / 5)


def test_the_per_image_scores_average_to_the_tasks_validation(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invrestore.models.registry import create_model, load_task

    monkeypatch.setenv("INVRESTORE_DATA", str(data_root))
    torch.manual_seed(0)
    save_weights(create_model("irn-x2").state_dict(), tmp_path / "w.safetensors")
    per_image = campaign_adopt.validation_score("irn-x2", tmp_path / "w.safetensors", "Set5", 2)
    assert isinstance(per_image, list) and len(per_image) == 2
    sets = (f"init_weights={tmp_path / 'w.safetensors'}", "data.val_set=Set5", "data.val_limit=2")
    task = load_task(str(BENCH.parent / "configs/irn/campaign_x2.yaml"), sets)
    with torch.no_grad():
        mean = task.validate(task.build_model().eval(), torch.device("cpu"))["psnr_y"]
    assert sum(per_image) / 2 == pytest.approx(mean, abs=1e-9)


def test_a_codec_is_exported_finalized_with_coding_tables_and_fp16_kernels(tmp_path: Path) -> None:
    from invrestore.models.ilc.loading import load_codec
    from invrestore.models.registry import create_model

    torch.manual_seed(0)
    trained = create_model("bls2017-128").state_dict()  # a training checkpoint: no coding tables yet
    out = tmp_path / "out"
    out.mkdir()
    files, _, _ = gpu_campaign.export(
        _run_dir(tmp_path, trained), out, "bls2017-128-q1", half=True, codec="bls2017-128"
    )
    sd = load_weights(out / files[0])
    kernels = [k for k, v in sd.items() if v.dim() == 4 and "entropy_bottleneck" not in k]
    assert kernels and all(sd[k].dtype == torch.float16 for k in kernels)
    codec = load_codec("bls2017-128-q1", str(out / files[0]))
    assert all(eb.has_tables for eb in codec.entropy_bottlenecks())
    x = torch.rand(1, 3, 64, 64)
    from invrestore.entropy.bitstream import Bitstream

    with torch.no_grad():
        y = codec.decompress(Bitstream.from_bytes(codec.compress(x).to_bytes()))
    assert y.shape == x.shape


def _fake_codec_campaign(tmp_path: Path, value: float) -> tuple[Path, Path]:
    """A result dir whose bls2017-128-q1 weights hold ``value``; the shipped ones hold 1.0."""
    wdir, res = tmp_path / "weights", tmp_path / "result"
    wdir.mkdir(parents=True)
    res.mkdir(parents=True)
    save_weights({"w": torch.full((4,), 1.0)}, wdir / "bls2017-128-q1.safetensors")
    table = (
        "| dataset | bpp (real file) | bpp (estimated) | PSNR-RGB | MS-SSIM | PSNR NQ |\n|---|---|---|---|---|---|\n"
    )
    card = f"# Model card\n\n## Evaluation\n\n{table}| Kodak24 | 0.3617 | 0.3600 | 25.90 | 0.9077 | 27.07 |\n"
    (wdir / "bls2017-128-q1.md").write_text(card)
    save_weights({"w": torch.full((4,), value)}, res / "bls2017-128-q1.safetensors")
    rec = {
        "target": "bls2017-128-q1",
        "files": ["bls2017-128-q1.safetensors"],
        "config": "configs/ilc/campaign_teacher_q1.yaml",
        "steps": 5000,
        "gpu_seconds": 600.0,
        "picked": "best",
        "picked_step": 4800,
        "schedule": {"milestones": [3000, 4000]},
    }
    (res / "campaign.json").write_text(json.dumps({"device": "cpu", "torch": "2.13", "results": [rec]}))
    return res, wdir


def _rd_score(name: str, weights: Path, dataset: str, limit: int) -> float:
    """A fake rate–distortion score −(λ·255²·MSE + bpp): the weights' value lowers the loss from 2.0."""
    return -(2.0 - 0.1 * float(load_weights(weights)["w"].mean()))


def test_a_codec_is_adopted_on_its_rd_score_with_real_file_claims_in_the_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = {"bpp": 0.35, "bpp_est": 0.349, "psnr_rgb": 27.5, "ms_ssim": 0.93, "psnr_nq": 28.1}
    seen: list[Path] = []
    monkeypatch.setattr(campaign_adopt, "real_file_scores", lambda n, w, d, lim: seen.append(w) or real)
    res, wdir = _fake_codec_campaign(tmp_path, 1.5)  # RD loss 1.90 → 1.85 on every set
    assert campaign_adopt.adopt(res, wdir, score=_rd_score) == {"bls2017-128-q1": True}
    assert seen == [wdir / "bls2017-128-q1.safetensors"]  # measured on the adopted file
    card = (wdir / "bls2017-128-q1.md").read_text()
    assert "| Kodak24 | 0.3500 | 0.3490 | 27.50 | 0.9300 | 28.10 |" in card and "25.90" not in card
    assert "Kodak24 RD loss before → after" in card and "1.9000 → 1.8500" in card


@pytest.mark.parametrize("value", [0.9, 1.02])  # worse; better by less than CODEC_MIN_GAIN (0.005)
def test_a_codec_not_better_by_its_rd_score_is_refused(tmp_path: Path, value: float) -> None:
    res, wdir = _fake_codec_campaign(tmp_path, value)
    before = (wdir / "bls2017-128-q1.safetensors").read_bytes()
    assert campaign_adopt.adopt(res, wdir, score=_rd_score) == {"bls2017-128-q1": False}
    assert (wdir / "bls2017-128-q1.safetensors").read_bytes() == before
    assert "25.90" in (wdir / "bls2017-128-q1.md").read_text()


def test_the_codec_score_is_the_tasks_rd_score(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVRESTORE_DATA", str(data_root))
    shipped = BENCH.parent / "src" / "invrestore" / "weights" / "bls2017-128-q1.safetensors"
    score = campaign_adopt.validation_score("bls2017-128-q1", shipped, "Set5", 1)
    assert isinstance(score, float) and -3.0 < score < -0.5  # −(λ·255²·MSE + bpp) at λ = 0.0067


def test_one_held_out_set_losing_too_much_refuses() -> None:
    ok, why = campaign_adopt.decide({"a": 31.0, "b": 29.9}, {"a": 30.0, "b": 30.0}, 0.02, 0.05)
    assert not ok and "b loses 0.100 dB" in why
    assert campaign_adopt.decide({"a": 30.5, "b": 30.0}, {"a": 30.0, "b": 30.0}, 0.02, 0.05)[0]


def _metrics(run: Path, recs: list[tuple[int, float, float]]) -> Path:
    run.mkdir(parents=True)
    lines = [json.dumps({"kind": "train", "step": s, "time": t, "loss": v}) for s, t, v in recs]
    (run / "metrics.jsonl").write_text("\n".join([*lines, json.dumps({"kind": "stop", "step": 0})]) + "\n")
    return run


def test_the_window_rate_skips_the_first_interval_and_the_profiled_span(tmp_path: Path) -> None:
    # 10 steps per log; the first interval holds start-up (20 s), then 2 s per interval until step 40, and the
    # profiled steps 40..50 are slow (10 s)
    run = _metrics(
        tmp_path / "r", [(10, 20.0, 1.0), (20, 22.0, 1.0), (30, 24.0, 1.0), (40, 26.0, 1.0), (50, 36.0, 1.0)]
    )
    assert gpu_window.rate_of(run, None) == pytest.approx(30 / 14)
    assert gpu_window.rate_of(run, "40:10") == pytest.approx(5.0)  # steps 20..40 in 4 s
    assert gpu_window.rate_of(run, "20:10") == pytest.approx(20 / 12)  # the intervals after the profile count too
    assert gpu_window.rate_of(_metrics(tmp_path / "short", [(10, 1.0, 1.0), (20, 2.0, 1.0)]), None) is None


def test_a_resumed_segment_is_timed_on_its_own_clock(tmp_path: Path) -> None:
    # stage A: 10 steps per 2 s; stage B resumes at step 40 with its clock back at 0: 10 steps per 1 s
    recs = [(10, 20.0, 1.0), (20, 22.0, 1.0), (30, 24.0, 1.0), (40, 26.0, 1.0)]
    recs += [(50, 5.0, 1.0), (60, 6.0, 1.0), (70, 7.0, 1.0), (80, 8.0, 1.0)]
    run = _metrics(tmp_path / "r", recs)
    assert gpu_campaign.step_rate(run, after_step=40) == pytest.approx(10.0)


def test_the_window_compares_loss_curves_at_the_steps_both_logged() -> None:
    a = [(50, 10.0), (100, 8.0), (150, 7.0)]
    b = [(50, 11.0), (100, 8.5), (200, 1.0)]
    gap = gpu_window.curve_gap(a, b)
    assert gap == {"mean_abs_diff": 0.75, "mean_abs_diff_last_third": 0.5, "points": 2}
    assert gpu_window.curve_gap(a, []) is None
