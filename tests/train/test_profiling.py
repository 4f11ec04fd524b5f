"""``invrestore train --profile``: a profile of real loop steps that changes nothing about the run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from invrestore.cli.main import cli
from invrestore.train import fit
from invrestore.train.profiling import busy_time_us, parse_profile_spec, summarize_events

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import ToyTask


def test_busy_time_counts_overlapping_intervals_once() -> None:
    assert busy_time_us([]) == 0.0
    assert busy_time_us([(0, 10), (20, 25)]) == 15.0  # disjoint
    assert busy_time_us([(0, 10), (5, 12), (2, 3)]) == 12.0  # overlapping and nested (two streams)
    assert busy_time_us([(30, 40), (0, 10), (10, 20)]) == 30.0  # unsorted, touching


def test_summary_gives_the_busy_share_and_ranks_kernels_by_time() -> None:
    events = [("gemm", 0.0, 6.0), ("relu", 6.0, 7.0), ("gemm", 10.0, 16.0), ("copy", 16.0, 17.0)]
    s = summarize_events(events, wall_us=20.0, steps=2)
    assert s["device_busy_share"] == pytest.approx(14 / 20)
    assert s["kernels_per_step"] == 2.0
    assert s["kernel_time_ms_per_step"] == pytest.approx(14 / 1e3 / 2)
    top = s["top_kernels"]
    assert top[0]["name"] == "gemm" and top[0]["calls_per_step"] == 1.0
    assert top[0]["share_of_kernel_time"] == pytest.approx(12 / 14)


@pytest.mark.parametrize("spec, want", [("7", (None, 7)), ("100:5", (100, 5))])
def test_profile_spec_parses(spec: str, want: tuple[int | None, int]) -> None:
    assert parse_profile_spec(spec) == want


@pytest.mark.parametrize("spec", ["", "x", "3:", "0", "-1:4", "5:0"])
def test_a_bad_profile_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="--profile"):
        parse_profile_spec(spec)


def _losses(run: Path) -> list[float]:
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in recs if r["kind"] == "train"]


def test_profiling_writes_a_summary_and_leaves_the_run_unchanged(tmp_path: Path) -> None:
    fit(ToyTask(), tmp_path / "plain", progress=False)
    fit(ToyTask(), tmp_path / "prof", progress=False, profile=(2, 3))
    assert _losses(tmp_path / "prof") == _losses(tmp_path / "plain")
    summary = json.loads((tmp_path / "prof" / "profile.json").read_text())
    assert summary["first_step"] == 2 and summary["steps"] == 3 and summary["device"] == "cpu"
    assert summary["wall_ms_per_step"] > 0
    names = " ".join(op["name"] for op in summary["top_ops"])
    assert "conv" in names  # the toy model's convolutions are among the top operators
    assert "Self CPU" in (tmp_path / "prof" / "profile.txt").read_text()
    assert not (tmp_path / "plain" / "profile.json").exists()


def test_a_run_cut_short_inside_the_profile_still_writes_it(tmp_path: Path) -> None:
    fit(ToyTask(), tmp_path / "r", progress=False, max_steps=4, profile=(2, 10))
    assert json.loads((tmp_path / "r" / "profile.json").read_text())["steps"] == 2


def test_the_cli_refuses_a_bad_profile_spec_in_one_line(tmp_path: Path) -> None:
    preset = Path(__file__).resolve().parents[2] / "configs" / "irn" / "cpu_x2.yaml"
    res = CliRunner().invoke(cli, ["train", str(preset), "--run-dir", str(tmp_path / "r"), "--profile", "x"])
    assert res.exit_code != 0
    assert "--profile takes N or START:N" in res.output
    assert not (tmp_path / "r").exists()
