"""The weights manifest and resolver: the manifest agrees with the registry and the files, the resolution order
($INVRESTORE_WEIGHTS > user cache > package; an explicit path first), sha256 checks, eval mode, adoption."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from invrestore import zoo
from invrestore.errors import CheckpointError, ConfigError
from invrestore.models.catalog import adopt_weights
from invrestore.models.registry import DECLARED_PRETRAINED, MODELS, create_model, list_models

MANIFEST = zoo.load_manifest()
SMALL = min(MANIFEST.values(), key=lambda e: e.size).name  # the smallest shipped file, for copies


def test_manifest_and_registry_agree() -> None:
    names = set(list_models())
    assert set(MANIFEST) <= names, "every manifest entry must be a registered model"
    for name, declared in DECLARED_PRETRAINED.items():
        if declared is not None:  # a decorator's pretrained= must be the manifest's file
            assert name in MANIFEST and MANIFEST[name].file == declared, name
    for name in names:  # after loading, the registry's shipped flags are exactly the manifest's
        want = MANIFEST[name].file if name in MANIFEST else None
        assert MODELS[name].pretrained == want, name
    for e in MANIFEST.values():
        assert e.family == MODELS[e.name].family and e.task and e.tag and e.claims, e.name


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_shipped_file_has_the_manifest_sha256_size_and_card(name: str) -> None:
    e = MANIFEST[name]
    path = zoo.package_weights_dir() / e.file
    assert path.stat().st_size == e.size
    assert zoo.file_sha256(path) == e.sha256
    assert e.card is not None and (zoo.package_weights_dir() / e.card).is_file()
    assert all(isinstance(v, (int, float, str)) for v in e.claims.values())


def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    env, cache = tmp_path / "env", tmp_path / "xdg" / "invrestore" / "weights"
    env.mkdir()
    cache.mkdir(parents=True)
    monkeypatch.setenv("INVRESTORE_WEIGHTS", str(env))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return env, cache


def test_resolution_order_explicit_env_cache_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env, cache = _isolate(monkeypatch, tmp_path)
    e = MANIFEST[SMALL]
    package = zoo.package_weights_dir() / e.file
    assert zoo.resolve_weights(SMALL) == package  # neither folder has it
    shutil.copyfile(package, cache / e.file)
    assert zoo.resolve_weights(SMALL) == cache / e.file
    shutil.copyfile(package, env / e.file)
    assert zoo.resolve_weights(SMALL) == env / e.file
    mine = tmp_path / "mine.safetensors"
    mine.write_bytes(b"anything: an explicit file is the user's own")
    assert zoo.resolve_weights(SMALL, mine) == mine
    with pytest.raises(CheckpointError, match="not found"):
        zoo.resolve_weights(SMALL, tmp_path / "missing.safetensors")
    (env / e.file).unlink()
    assert zoo.resolve_weights(SMALL) == cache / e.file
    assert [o for o, _ in zoo.search_path()] == ["$INVRESTORE_WEIGHTS", "cache", "package"]


def test_a_corrupt_copy_is_refused_naming_file_hashes_and_verify(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env, _ = _isolate(monkeypatch, tmp_path)
    e = MANIFEST[SMALL]
    data = bytearray((zoo.package_weights_dir() / e.file).read_bytes())
    data[-1] ^= 0xFF  # one flipped byte in a tensor
    (env / e.file).write_bytes(bytes(data))
    actual = zoo.file_sha256(env / e.file)
    with pytest.raises(CheckpointError) as info:
        create_model(SMALL, pretrained=True)
    msg = str(info.value)
    assert str(env / e.file) in msg and e.sha256 in msg and actual in msg and "invrestore weights verify" in msg
    assert "\n" not in msg


def test_unknown_and_unshipped_names() -> None:
    with pytest.raises(CheckpointError, match="no pretrained weights ship with 'irn-x8'"):
        zoo.resolve_weights("irn-x8")
    with pytest.raises(CheckpointError, match="no pretrained weights"):
        create_model("irn-x8", pretrained=True)
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("no-such-model", pretrained=True)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_pretrained_models_come_back_in_eval_mode(name: str) -> None:
    net = create_model(name, pretrained=True)
    assert not any(m.training for m in net.modules()), f"{name} has modules in training mode"


def test_batch_norm_model_output_does_not_depend_on_the_batch() -> None:
    # in training mode BatchNorm normalises with the batch's statistics: the #19 bug (11.89 dB instead of 25.63)
    net = create_model("dncnn-s-denoise25", pretrained=True)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 16, 16, generator=g)
    other = torch.rand(1, 3, 16, 16, generator=g) * 0.2
    with torch.no_grad():
        alone = net(x)
        batched = net(torch.cat([x, other]))[:1]
    torch.testing.assert_close(alone, batched, rtol=0, atol=1e-5)  # train mode: differences of ~0.1


def test_update_manifest_entry_recomputes_hash_and_size(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pkg = tmp_path / "weights"
    pkg.mkdir()
    shutil.copyfile(zoo.manifest_path(), pkg / "manifest.json")
    shutil.copyfile(zoo.package_weights_dir() / "irn-x2.md", pkg / "irn-x2.md")
    monkeypatch.setattr(zoo, "package_weights_dir", lambda: pkg)
    new = tmp_path / "campaign" / "irn-x2.safetensors"
    new.parent.mkdir()
    m = create_model("irn-x2")
    from invrestore.train.checkpoint import save_weights

    save_weights(m.state_dict(), new)
    adopt_weights("irn-x2", new, tag="h100-s9", claims={"Set5_Y_PSNR": 41.0})
    e = zoo.weights_entry("irn-x2")
    assert (pkg / "irn-x2.safetensors").read_bytes() == new.read_bytes()  # copied in
    assert e.tag == "h100-s9" and e.claims == {"Set5_Y_PSNR": 41.0} and e.card == "irn-x2.md"
    assert e.sha256 == zoo.file_sha256(new) and e.size == new.stat().st_size and e.task == "rescale x2"
    assert len(zoo.load_manifest()) == len(MANIFEST)  # the others are kept
    raw = json.loads((pkg / "manifest.json").read_text())
    assert [w["name"] for w in raw["weights"]] == sorted(MANIFEST)
    with pytest.raises(ConfigError, match="unknown model"):
        adopt_weights("no-such", new, tag="x", claims={})
    with pytest.raises(ConfigError, match="tag"):
        adopt_weights("irn-x2", new, tag="", claims={})


def test_card_commands_are_the_cards_command_lines() -> None:
    cmds = zoo.card_commands(zoo.card_text("irn-x4"))
    assert any(c.endswith("invrestore train configs/irn/cpu_x4.yaml --run-dir runs/irn_cpu_x4") for c in cmds)
    assert all(
        c.split()[0] in ("invrestore", "python", "make", "torchrun", "bash") or "=" in c.split()[0] for c in cmds
    )


def test_run_folder_helpers(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "last").mkdir(parents=True)
    (run / "config.yaml").write_text("family: irn\n")
    (run / "last" / "model.safetensors").write_bytes(b"x")
    assert zoo.weights_file(run) == run / "last" / "model.safetensors"
    (run / "best").mkdir()
    (run / "best" / "model.safetensors").write_bytes(b"x")
    assert zoo.weights_file(run) == run / "best" / "model.safetensors"
    assert zoo.run_config(run / "best") == run / "config.yaml" == zoo.run_config(run)
    with pytest.raises(CheckpointError, match=r"holds no model\.safetensors"):
        zoo.weights_file(tmp_path)
