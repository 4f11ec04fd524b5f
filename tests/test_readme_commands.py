"""Every README command line that needs no external file runs as written and exits 0.

The rule: the fenced ``bash`` blocks of README.md are split into commands (lines, then ``&&``; comments dropped).
A command is run when it is an ``invrestore`` command whose every argument that names a file or folder to read
exists, either in the repository or because an earlier command of the same line created it, and that names no
placeholder (an all-caps word such as ``DIR``, ``W``, ``RUN``) and no dataset (``--dataset``/``--data-root``: the
benchmark data is external). Nothing is substituted. Environment set-up lines (``make``, ``pip``, ``python -m venv``)
are not run here. Each runs in-process in a temporary working folder (where its outputs land), into which the
repository files it reads are linked, as if it ran from the repository root.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from invrestore.cli.main import cli

_README = Path(__file__).resolve().parents[1] / "README.md"
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")
#: Options whose value is an output (written, not read).
_OUTPUT_OPTIONS = {"-o", "--output", "--csv", "--json", "--out", "--plot", "--per-image-csv"}


def readme_commands() -> list[list[str]]:
    """The README's command lines, each as a list of ``&&``-chained commands (argument lists)."""
    text = _README.read_text(encoding="utf-8")
    lines: list[list[str]] = []
    for block in re.findall(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, flags=re.M | re.S):
        for raw in block.splitlines():
            line = raw.split(" #", 1)[0].strip() if " #" in raw else raw.strip()
            if not line or line.startswith("#"):
                continue
            lines.append([shlex.join(shlex.split(part)) for part in line.split("&&")])  # normalised
    return [[*map(str, chain)] for chain in lines]


def _reads(args: list[str]) -> list[str]:
    """Arguments that may name something read: positional arguments and option values, except outputs."""
    out: list[str] = []
    after_output = False
    for a in args[1:]:
        if after_output:
            after_output = False
        elif a in _OUTPUT_OPTIONS:
            after_output = True
        elif not a.startswith("-"):
            out.append(a)
    return out


#: Commands that read the benchmark datasets (external data) or train on them.
_DATA_COMMANDS = {"train", "eval", "probe", "data", "bench", "eval-bpd", "fid"}


def runnable(chain: list[str], root: Path) -> bool:
    """Whether a README line can run without external files (see the module docstring)."""
    created: set[str] = set()
    for cmd in chain:
        args = shlex.split(cmd)
        if not args or args[0] != "invrestore":
            return False
        if any(_PLACEHOLDER.match(a.split("=")[-1]) or "*" in a for a in args[1:]):
            return False
        if "--dataset" in args or "--data-root" in args or (len(args) > 1 and args[1] in _DATA_COMMANDS):
            return False
        for a in _reads(args):
            if not _is_name(a) and not (root / a).exists() and not any(a.startswith(c) for c in created):
                return False
        for opt in ("-o", "--output"):
            if opt in args:
                created.add(args[args.index(opt) + 1])
    return True


def _is_name(a: str) -> bool:
    """A registered name or a plain value (``irn-x2``, ``crm-q90``, ``4``, ``train.batch_size=8``), not a path."""
    return "/" not in a and not re.search(r"\.(png|jpe?g|webp|irn|irc|pth|safetensors|ya?ml|json|csv)$", a, re.I)


def _cases() -> list[object]:
    root = _README.parent
    return [pytest.param(chain, id=" && ".join(chain)[:60]) for chain in readme_commands() if runnable(chain, root)]


def test_the_rule_selects_lines_and_skips_placeholders() -> None:
    root = _README.parent
    chains = readme_commands()
    assert chains, "README.md has no fenced bash commands"
    assert runnable(["invrestore demo -o demo_out"], root)
    assert not runnable(["invrestore data list --data-root DIR"], root)
    assert not runnable(["invrestore downscale photo.png --model irn-x4 -o lr/"], root)
    assert not runnable(["invrestore restore noisy/*.png --task denoise -o clean/"], root)
    assert not runnable(["make demo"], root)
    assert not runnable(["invrestore train configs/irn/x4.yaml"], root)  # trains on external data
    chain = ["invrestore compress photo.png -o photo.irc", "invrestore decompress photo.irc -o out.png"]
    assert not runnable(chain, root)


@pytest.mark.parametrize("chain", _cases())
def test_readme_command_runs(chain: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # outputs land here; repository inputs resolve as from the repository root
    root = _README.parent
    for cmd in chain:
        for a in _reads(shlex.split(cmd)):
            top = Path(a).parts[0] if Path(a).parts else ""
            if top and not Path(a).is_absolute() and (root / a).exists() and not (tmp_path / top).exists():
                (tmp_path / top).symlink_to(root / top)
    for cmd in chain:
        args = shlex.split(cmd)[1:]
        res = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert res.exit_code == 0, f"`{cmd}` exited {res.exit_code}:\n{res.output}"
