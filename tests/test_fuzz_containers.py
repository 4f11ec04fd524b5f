"""Seeded fuzzing of the containers invrestore reads (``.irc``, ``.irn``, LR PNGs): 300 mutations of each run
in-process through the decode paths of ``benchmarks/fuzz.py``; none may crash (a non-InvRestoreError exception),
hang, or decode although it was built to be invalid."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

_FUZZ = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("invrestore_fuzz", _FUZZ)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


fuzz = _load()


@pytest.mark.parametrize("name", ["irc", "irn", "png"])
def test_300_mutations_are_rejected_cleanly(name: str, tmp_path: Path) -> None:
    (target,) = fuzz.build_targets(tmp_path, [name])
    report = fuzz.fuzz(target, cases=300, seed=19, timeout=20.0)
    o = report.outcomes
    assert report.cases == 300
    assert (o["crash"], o["hang"], o["silent"]) == (0, 0, 0), report.problems[:5]
    # the corpus really exercises the validation: most cases are refused, every forged header among them
    assert o["rejected"] >= 200
    assert report.kinds["forge"] > 0 and report.kinds["bitflip"] > 0 and report.kinds["truncate"] > 0


def test_forged_headers_are_all_refused(tmp_path: Path) -> None:
    import numpy as np

    from invrestore.errors import InvRestoreError

    for target in fuzz.build_targets(tmp_path, ["irc", "irn", "png"]):
        target.decode(target.seed)  # the seed itself is valid
        forged = target.forge(np.random.default_rng(0))
        assert len(forged) >= 10
        for case in forged:
            with pytest.raises(InvRestoreError):
                target.decode(case.data)


def test_a_pack_naming_a_path_never_opens_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    (target,) = fuzz.build_targets(tmp_path, ["irn"])
    opened: list[str] = []
    real_open = builtins.open

    def spy(file: object, *args: object, **kwargs: object) -> object:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    forged = [c for c in target.forge(__import__("numpy").random.default_rng(0)) if "passwd" in c.kind]
    assert forged
    monkeypatch.setattr(builtins, "open", spy)
    for case in forged:
        with pytest.raises(fuzz.InvRestoreError):
            target.decode(case.data)
    assert not any("passwd" in f for f in opened)
