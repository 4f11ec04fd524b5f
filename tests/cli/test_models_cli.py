"""``invrestore models`` (table, --json, --family, --pretrained, show) and ``invrestore weights verify/path``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from invrestore import zoo
from invrestore.cli.main import cli
from invrestore.models.registry import MODELS, list_models

MANIFEST = zoo.load_manifest()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def listing() -> list[dict[str, object]]:
    code, out, _ = run("models", "--json")
    assert code == 0
    rows: list[dict[str, object]] = json.loads(out)
    return rows


def test_models_json_lists_every_registered_model_with_its_shipped_weights(listing: list[dict[str, object]]) -> None:
    assert [r["name"] for r in listing] == list_models()
    for r in listing:
        name = str(r["name"])
        e = MANIFEST.get(name)
        assert r["shipped"] is (e is not None) and r["family"] == MODELS[name].family
        if e is not None:
            assert (r["tag"], r["file"], r["sha256"], r["size"], r["card"]) == (e.tag, e.file, e.sha256, e.size, e.card)
            assert r["claims"] == e.claims and r["task"] == e.task
        assert isinstance(r["params"], int) and int(r["params"]) > 0
    irn_x4 = next(r for r in listing if r["name"] == "irn-x4")
    assert irn_x4["params"] == 4_355_376  # the number its description states


def test_models_table_and_filters() -> None:
    code, out, _ = run("models", "--pretrained", "--family", "irn")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "family", "task", "params", "weights", "tag", "size", "sha256", "card"]
    names = [ln.split()[0] for ln in lines[1:-1]]
    assert names == [n for n in list_models("irn") if n in MANIFEST]
    assert MANIFEST["irn-x4"].sha256[:12] in out and "irn-x4.md" in out
    code, out, err = run("models", "--family", "nope")
    assert code == 1 and "unknown family 'nope'" in err and len(err.strip().splitlines()) == 1


def test_models_show_prints_the_card_and_how_to_reproduce_it() -> None:
    code, out, _ = run("models", "show", "irn-x4")
    assert code == 0
    assert MANIFEST["irn-x4"].sha256 in out and MANIFEST["irn-x4"].tag in out
    repro = out.split("reproduce:")[1].split("--- card")[0]
    assert "invrestore train configs/irn/cpu_x4.yaml" in repro
    assert zoo.card_text("irn-x4").strip() in out
    code, out, _ = run("models", "show", "irn-x8")
    assert code == 0 and "shipped weights: none" in out
    code, _, err = run("models", "show", "nope")
    assert code == 1 and err.strip().splitlines() == [
        "invrestore: error: unknown model 'nope'; `invrestore models` lists them"
    ]


def test_weights_verify_passes_on_the_package_and_fails_on_a_corrupt_copy(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    code, out, err = run("weights", "verify", env=env)
    assert code == 0, err
    assert f"all {len(MANIFEST)} weights files verified" in out
    name = min(MANIFEST.values(), key=lambda e: e.size).name
    e = MANIFEST[name]
    folder = tmp_path / "override"
    folder.mkdir()
    data = bytearray((zoo.package_weights_dir() / e.file).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / e.file).write_bytes(bytes(data))
    code, out, err = run("weights", "verify", env={**env, "INVRESTORE_WEIGHTS": str(folder)})
    assert code == 1
    bad = [ln for ln in err.splitlines() if ln.startswith("invrestore: error:")]
    assert len(bad) == 1 and str(folder / e.file) in bad[0] and e.sha256 in bad[0]
    assert out.count("\nok ") + out.startswith("ok ") == len(MANIFEST) - 1
    # path: the override folder wins once its copy is intact
    shutil.copyfile(zoo.package_weights_dir() / e.file, folder / e.file)
    code, out, _ = run("weights", "path", name, env={**env, "INVRESTORE_WEIGHTS": str(folder)})
    assert code == 0 and out.strip() == str(folder / e.file)
    code, out, _ = run("weights", "path", name, env=env)
    assert code == 0 and out.strip() == str(zoo.package_weights_dir() / e.file)
    code, _, err = run("weights", "path", "irn-x8", env=env)
    assert code == 1 and "no pretrained weights ship with 'irn-x8'" in err
