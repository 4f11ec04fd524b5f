"""Broken configs fail at load time through ``invrestore train``: exit 1, ONE line ``invrestore: error: ...`` naming
the key, no traceback, and nothing written to the run folder.

Each case takes a representative preset of one training family (a preset's ``family:``) and breaks it with
``--set``: an unknown key, a value of the wrong type, an unregistered ``model.name``, a model whose builder does not
accept the family's model settings, and a bad value of one of the family's own settings (:data:`BAD_VALUES`). The
shared loop settings (:class:`~invrestore.train.config.TrainConfig`) are broken once, on the IRN preset.

A bad value that is only noticed once training starts (or that ends as an ``internal error``, i.e. a ``ValueError``
rather than a :class:`~invrestore.errors.ConfigError`) fails here: the run would have started, and the run folder,
``--max-steps 1`` and an empty data root keep such a failure cheap.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click.testing
import pytest
from click.testing import CliRunner
from omegaconf import DictConfig, OmegaConf

from invrestore.cli.main import cli
from invrestore.errors import ConfigError
from invrestore.models import MODELS
from invrestore.models.registry import TASKS, check_kwargs, list_tasks

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _family(path: Path) -> str:
    raw = OmegaConf.load(path)
    assert isinstance(raw, DictConfig), f"{path}: a preset is a mapping"
    return str(raw.get("family"))


def _representative_presets() -> dict[str, Path]:
    """One preset per ``family:`` key: a CPU-sized one (``cpu_*``, ``tiny*``) where there is one."""
    by_family: dict[str, list[Path]] = {}
    for p in sorted(CONFIGS.glob("**/*.yaml")):
        by_family.setdefault(_family(p), []).append(p)
    return {
        fam: sorted(paths, key=lambda p: (not p.stem.startswith(("cpu_", "tiny")), str(p)))[0]
        for fam, paths in sorted(by_family.items())
    }


PRESETS = _representative_presets()
FAMILIES = sorted(PRESETS)

#: A bad value of a setting each family checks itself: (``key=value``, what the message must name).
BAD_VALUES: dict[str, tuple[str, str]] = {
    "baselines": ("loss.kind=nope", "kind"),
    "bls2017": ("loss.lmbda=-1", "lmbda"),
    "ilc": ("teacher.name=nope", "teacher.name"),
    "irae": ("schedule.rule=nope", "rule"),
    "irn": ("loss.guide_loss=nope", "guide_loss"),
    "irn-color": ("loss.guide_loss=nope", "guide_loss"),
    "irn-crm": ("jpeg.subsampling=nope", "subsampling"),
    "irn-plus": ("loss.lambda_fit=-1", "lambda_fit"),
    "pix2pix": ("loss.gan_mode=nope", "gan_mode"),
    "selfvae": ("data.val_split=nope", "val_split"),
}

#: Bad values of the shared loop settings (checked on the IRN preset).
BAD_TRAIN_VALUES: list[tuple[str, str]] = [
    ("train.precision=float8", "precision"),
    ("train.nan_policy=ignore", "nan_policy"),
    ("train.compile=fastest", "compile"),
    ("train.optim.optimizer=sgd", "optimizer"),
    ("train.optim.schedule=cosine", "schedule"),
    ("train.batch_size=0", "batch_size"),
]


def _train(preset: Path, tmp_path: Path, *sets: str) -> tuple[click.testing.Result, Path]:
    run = tmp_path / "run"
    args = ["train", str(preset), "--run-dir", str(run), "--max-steps", "1", "--no-progress"]
    for s in sets:
        args += ["--set", s]
    env = {"INVRESTORE_DEBUG": None, "INVRESTORE_DATA": str(tmp_path / "no-data")}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=True), run


def _assert_one_config_line(res: click.testing.Result, run: Path, *words: str) -> None:
    shown = f"exit {res.exit_code}\nstdout: {res.stdout!r}\nstderr: {res.stderr!r}\nexc: {res.exception!r}"
    assert res.exit_code == 1, shown
    assert res.exception is None or isinstance(res.exception, SystemExit), shown
    assert "Traceback" not in res.output, shown
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, shown
    assert lines[0].startswith("invrestore: error: "), shown
    for w in words:
        assert w in lines[0], f"the message does not name {w!r}\n{shown}"
    left = sorted(str(p.relative_to(run)) for p in run.rglob("*")) if run.exists() else []
    assert left == [], f"the run folder was written: {left}\n{shown}"


def test_every_preset_family_has_a_bad_value_case() -> None:
    assert set(FAMILIES) <= set(BAD_VALUES), f"add a case to BAD_VALUES for {sorted(set(FAMILIES) - set(BAD_VALUES))}"


def test_every_preset_family_is_a_registered_task() -> None:
    missing = sorted(set(FAMILIES) - set(list_tasks()))
    assert not missing, f"presets name families no task is registered for: {missing}"


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_key(family: str, tmp_path: Path) -> None:
    res, run = _train(PRESETS[family], tmp_path, "train.no_such_key=1")
    _assert_one_config_line(res, run, "no_such_key")


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_section(family: str, tmp_path: Path) -> None:
    res, run = _train(PRESETS[family], tmp_path, "no_such_section.key=1")
    _assert_one_config_line(res, run, "no_such_section")


@pytest.mark.parametrize("family", FAMILIES)
def test_wrong_type(family: str, tmp_path: Path) -> None:
    res, run = _train(PRESETS[family], tmp_path, "train.steps=many")
    _assert_one_config_line(res, run, "steps")


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_value_of_a_family_setting(family: str, tmp_path: Path) -> None:
    override, key = BAD_VALUES[family]
    res, run = _train(PRESETS[family], tmp_path, override)
    _assert_one_config_line(res, run, key)


@pytest.mark.parametrize(("override", "key"), BAD_TRAIN_VALUES, ids=[o for o, _ in BAD_TRAIN_VALUES])
def test_bad_value_of_a_loop_setting(override: str, key: str, tmp_path: Path) -> None:
    res, run = _train(PRESETS["irn"], tmp_path, override)
    _assert_one_config_line(res, run, key)


def _model_config(family: str) -> Any:
    if family not in list_tasks():
        pytest.fail(f"family '{family}' is not a registered task yet")
    model = getattr(TASKS[family].config(), "model", None)
    if not (dataclasses.is_dataclass(model) and hasattr(model, "name")):
        pytest.fail(f"family '{family}': its config has no model section with a name (the family contract)")
    return model


@pytest.mark.parametrize("family", FAMILIES)
def test_unregistered_model_name(family: str, tmp_path: Path) -> None:
    _model_config(family)
    res, run = _train(PRESETS[family], tmp_path, "model.name=no-such-model")
    _assert_one_config_line(res, run, "no-such-model")


def _model_rejecting(fields: list[str], family: str) -> str | None:
    """A registered model of another family whose builder does not accept one of ``fields``."""
    folder = TASKS[family].task.__module__.split(".")[2]  # invrestore.models.<folder>...
    for name, entry in MODELS.items():
        if entry.family == folder:
            continue
        try:
            check_kwargs(name, entry.builder, dict.fromkeys(fields))
        except ConfigError:
            return name
    return None


@pytest.mark.parametrize("family", FAMILIES)
def test_model_settings_the_builder_does_not_accept(family: str, tmp_path: Path) -> None:
    model = _model_config(family)
    fields = [f.name for f in dataclasses.fields(model) if f.name != "name"]
    if not fields:
        pytest.skip(f"family '{family}': the model config holds only the name (no setting to refuse)")
    other = _model_rejecting(fields, family)
    assert other is not None, f"every registered model accepts {fields}"
    res, run = _train(PRESETS[family], tmp_path, f"model.name={other}")
    _assert_one_config_line(res, run, other)
