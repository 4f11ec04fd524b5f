"""Every command survives bad input: a generated corpus of broken, odd and hostile files run through every command
of the click group.

For bad input a command must exit non-zero with exactly one line on stderr, no traceback, and leave no output behind
(the output folder empty or absent); for good-but-odd input (1×1, 7×5, palette, RGBA, LA, 16-bit, CMYK) it must
succeed and write its output. Commands are found by iterating ``cli.commands``, so a new command fails
:func:`test_every_command_is_classified` until it is added to a table here.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from invrestore.cli.main import cli, describe_exception

# -- the corpus -------------------------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(w: int, h: int) -> bytes:
    """A valid PNG signature and IHDR claiming ``w``×``h`` with (almost) no pixel data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")
    )


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


BAD_IMAGES: dict[str, Callable[[np.random.Generator], bytes] | None] = {
    "bomb.png": lambda rng: _png_claiming(30000, 30000),
    "empty.png": lambda rng: b"",
    "truncated.png": lambda rng: (d := _encoded(_noise(rng, 40, 48), "PNG"))[: len(d) // 2],
    "truncated.jpg": lambda rng: (d := _encoded(_noise(rng, 40, 48), "JPEG"))[: len(d) // 2],
    "random.png": lambda rng: rng.bytes(700),
    "text.png": lambda rng: b"this is not an image\n" * 5,
    "float.tiff": lambda rng: _encoded(Image.fromarray(np.zeros((8, 8), np.float32)), "TIFF"),
    "missing.png": None,
}


def _noise(rng: np.random.Generator, h: int, w: int, c: int = 3) -> Image.Image:
    shape = (h, w, c) if c > 1 else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


ODD_IMAGES: dict[str, Callable[[np.random.Generator], bytes]] = {
    "one.png": lambda rng: _encoded(_noise(rng, 1, 1), "PNG"),
    "odd.png": lambda rng: _encoded(_noise(rng, 5, 7), "PNG"),
    "palette.png": lambda rng: _encoded(_noise(rng, 12, 10).convert("P"), "PNG"),
    "rgba.png": lambda rng: _encoded(_noise(rng, 12, 10, 4), "PNG"),
    "la.png": lambda rng: _encoded(_noise(rng, 12, 10).convert("LA"), "PNG"),
    "gray16.png": lambda rng: _encoded(Image.fromarray(rng.integers(0, 65536, (12, 10)).astype(np.uint16)), "PNG"),
    "cmyk.jpg": lambda rng: _encoded(_noise(rng, 16, 16).convert("CMYK"), "JPEG"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(19)
    for name, make in {**BAD_IMAGES, **ODD_IMAGES}.items():
        if make is not None:
            (folder / name).write_bytes(make(rng))
    # weights files
    (folder / "corrupt.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    (folder / "random.pth").write_bytes(rng.bytes(3000))
    (folder / "text.safetensors").write_text("hello")
    from invrestore.models.registry import create_model
    from invrestore.train import save_weights

    dn = create_model("dncnn-s-denoise25")
    save_weights(dn.state_dict(), folder / "dncnn.safetensors")  # other-model weights
    good = (folder / "dncnn.safetensors").read_bytes()
    (folder / "truncated.safetensors").write_bytes(good[: len(good) // 3])
    (folder / "afile").write_text("a file, not a folder")
    # containers
    (folder / "random.irn").write_bytes(rng.bytes(400))
    (folder / "random.irc").write_bytes(rng.bytes(400))
    (folder / "empty.irn").write_bytes(b"")
    (folder / "empty.irc").write_bytes(b"")
    return folder


# -- the commands -----------------------------------------------------------------------------------------------------

#: Commands that read image files: the minimal arguments, given the input image and an output folder.
IMAGE_COMMANDS: dict[str, Callable[[str, Path], list[str]]] = {
    "downscale": lambda img, out: [img, "--model", "irn-x2", "-o", str(out)],
    "upscale": lambda img, out: [img, "--model", "irn-x2", "-o", str(out)],
    "decolorize": lambda img, out: [img, "-o", str(out)],
    "colorize": lambda img, out: [img, "--model", "irn-color", "--force", "-o", str(out)],
    "compress": lambda img, out: [img, "--model", "ilc-small-q1", "-o", str(out)],
    "restore": lambda img, out: [img, "--task", "denoise", "--model", "dncnn-s-denoise25", "-o", str(out)],
    "pack": lambda img, out: [img, "--model", "irn-x2", "-o", str(out / "x.irn")],
}
#: Commands that read our containers.
CONTAINER_COMMANDS: dict[str, tuple[str, Callable[[str, Path], list[str]]]] = {
    "unpack": (".irn", lambda f, out: [f, "-o", str(out / "x.png")]),
    "decompress": (".irc", lambda f, out: [f, "-o", str(out)]),
}
#: Commands with --weights: (arguments for an input image, weights file).
WEIGHTS_COMMANDS: dict[str, Callable[[str, str, Path], list[str]]] = {
    "downscale": lambda img, w, out: [img, "--model", "irn-x2", "--weights", w, "-o", str(out)],
    "upscale": lambda img, w, out: [img, "--model", "irn-x2", "--weights", w, "-o", str(out)],
    "decolorize": lambda img, w, out: [img, "--weights", w, "-o", str(out)],
    "restore": lambda img, w, out: [img, "--task", "denoise", "--model", "irae", "--weights", w, "-o", str(out)],
    "pack": lambda img, w, out: [img, "--model", "irn-x2", "--weights", w, "-o", str(out / "x.irn")],
    "compress": lambda img, w, out: [img, "--model", "ilc-small-q1", "--weights", w, "-o", str(out)],
}
#: Commands that read no user image or container (data, training, evaluation on registered datasets, ...): they get
#: the usage-error and unknown-model checks only.
OTHER_COMMANDS = {
    *("data", "eval", "demo", "train", "probe", "eval-bpd", "sample", "bench", "fid", "models", "export", "weights")
}

#: Cases a command owned elsewhere still fails: (command, case) -> reason. Each is an xfail(strict=True).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _run(args: list[str]) -> click.testing.Result:
    """Run ``invrestore ARGS`` in-process (``args[0]`` is the command)."""
    env = {"INVRESTORE_DEBUG": "", "INVRESTORE_MAX_PIXELS": ""}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=True)


def _stderr_lines(res: click.testing.Result) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.strip() and "\r" not in ln and "it/s]" not in ln]


def _assert_clean_failure(res: click.testing.Result, out: Path) -> None:
    shown = f"exit {res.exit_code}\nstdout: {res.stdout!r}\nstderr: {res.stderr!r}\nexc: {res.exception!r}"
    assert res.exit_code not in (0, None), shown
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), shown
    assert "Traceback" not in res.output, shown
    lines = _stderr_lines(res)
    assert len(lines) == 1, shown
    left = sorted(p.name for p in out.rglob("*")) if out.exists() else []
    assert left == [], f"left behind: {left}\n{shown}"


def _case(cmd: str, case: str) -> object:
    reason = KNOWN_FAILURES.get((cmd, case))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(cmd, case, marks=marks, id=f"{cmd}-{case}")


def test_every_command_is_classified() -> None:
    known = set(IMAGE_COMMANDS) | set(CONTAINER_COMMANDS) | OTHER_COMMANDS
    assert set(cli.commands) <= known, f"classify the new command(s): {sorted(set(cli.commands) - known)}"
    assert set(IMAGE_COMMANDS) | set(CONTAINER_COMMANDS) <= set(cli.commands)


@pytest.mark.parametrize("cmd,case", [_case(c, b) for c in IMAGE_COMMANDS for b in BAD_IMAGES])
def test_bad_images_fail_with_one_line(cmd: str, case: str, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    if cmd == "pack":
        out.mkdir()
    _assert_clean_failure(_run([cmd, *IMAGE_COMMANDS[cmd](str(corpus / case), out)]), out)


#: Odd inputs a command refuses by design (one line, nothing written), with the reason.
REFUSED = {
    ("decolorize", "la.png"): "already grayscale",
    ("decolorize", "gray16.png"): "already grayscale",
}


@pytest.mark.parametrize("cmd,case", [_case(c, o) for c in IMAGE_COMMANDS for o in ODD_IMAGES])
def test_odd_but_good_images_work(cmd: str, case: str, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    if cmd == "pack":
        out.mkdir()
    res = _run([cmd, *IMAGE_COMMANDS[cmd](str(corpus / case), out)])
    if (cmd, case) in REFUSED:
        _assert_clean_failure(res, out)
        assert REFUSED[cmd, case] in res.stderr
        return
    assert res.exit_code == 0, f"{res.output}\n{res.exception!r}"
    assert "Traceback" not in res.output
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and all(p.stat().st_size > 0 for p in written)
    assert not [p for p in written if ".tmp" in p.name]


WEIGHT_CASES = ("corrupt.safetensors", "truncated.safetensors", "random.pth", "text.safetensors", "dncnn.safetensors")


@pytest.mark.parametrize("cmd,case", [_case(c, w) for c in WEIGHTS_COMMANDS for w in WEIGHT_CASES])
def test_bad_weights_fail_with_one_line(cmd: str, case: str, corpus: Path, tmp_path: Path) -> None:
    if cmd == "restore" and case == "dncnn.safetensors":
        pytest.skip("dncnn weights are the right kind for restore (as --model dncnn); covered by the other cases")
    out = tmp_path / "out"
    if cmd == "pack":
        out.mkdir()
    res = _run([cmd, *WEIGHTS_COMMANDS[cmd](str(corpus / "odd.png"), str(corpus / case), out)])
    _assert_clean_failure(res, out)
    assert "IndexError" not in res.output and "pop from empty list" not in res.output


CONTAINER_CASES = ("random", "empty", "text.png", "odd.png", "missing")


@pytest.mark.parametrize("cmd,case", [_case(c, k) for c in CONTAINER_COMMANDS for k in CONTAINER_CASES])
def test_bad_containers_fail_with_one_line(cmd: str, case: str, corpus: Path, tmp_path: Path) -> None:
    ext, args = CONTAINER_COMMANDS[cmd]
    name = case if "." in case else case + ext
    out = tmp_path / "out"
    if cmd == "unpack":
        out.mkdir()
    _assert_clean_failure(_run([cmd, *args(str(corpus / name), out)]), out)


@pytest.mark.parametrize("cmd", [c for c in IMAGE_COMMANDS if c != "pack"])
@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
def test_unusable_output_folder_fails_with_one_line(cmd: str, where: str, corpus: Path, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = afile / "sub" if where == "under-a-file" else afile
    res = _run([cmd, *IMAGE_COMMANDS[cmd](str(corpus / "odd.png"), out)])
    assert res.exit_code not in (0, None) and "Traceback" not in res.output, res.output
    lines = _stderr_lines(res)
    if res.exit_code == 2:  # refused by click's path check: its usage format, the error on the last line
        assert lines[-1].startswith("Error:") and "is a file" in lines[-1], res.stderr
    else:
        assert res.exit_code == 1 and len(lines) == 1, res.stderr
    assert afile.read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
@pytest.mark.parametrize("cmd", list(IMAGE_COMMANDS))
def test_unwritable_output_folder_fails_with_one_line(cmd: str, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        _assert_clean_failure(_run([cmd, *IMAGE_COMMANDS[cmd](str(corpus / "odd.png"), out)]), out)
    finally:
        out.chmod(0o755)


@pytest.mark.parametrize("device", ["banana", "cuda:7"])
@pytest.mark.parametrize("cmd", ["downscale", "restore", "compress"])
def test_bad_device_names_the_available_ones(cmd: str, device: str, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = _run([cmd, *IMAGE_COMMANDS[cmd](str(corpus / "odd.png"), out), "--device", device])
    _assert_clean_failure(res, out)
    assert "cpu" in res.stderr


@pytest.mark.parametrize("cmd", list(IMAGE_COMMANDS))
def test_unknown_model_fails_with_one_line(cmd: str, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    if cmd == "pack":
        out.mkdir()
    args = IMAGE_COMMANDS[cmd](str(corpus / "odd.png"), out)
    if "--model" in args:
        args[args.index("--model") + 1] = "no-such-model"
    else:
        args += ["--model", "no-such-model"]
    res = _run([cmd, *args])
    _assert_clean_failure(res, out)
    assert "no-such-model" in res.stderr


def _all_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, cmd in cli.commands.items():
        found.append((name, cmd))
        if isinstance(cmd, click.Group):
            found += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
    return found


@pytest.mark.parametrize("name", [n for n, _ in _all_commands()])
def test_usage_errors_exit_2_without_traceback(name: str) -> None:
    res = _run([*name.split(), "--no-such-option-at-all"])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert "No such option" in res.stderr


def test_unexpected_exceptions_become_one_internal_error_line() -> None:
    line = describe_exception(ZeroDivisionError("boom\nsecond line"))
    assert line.startswith("internal error: ZeroDivisionError: boom second line") and "INVRESTORE_DEBUG=1" in line
    assert "\n" not in line
    assert "out of memory" in describe_exception(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert "--tile 256" in describe_exception(MemoryError())
    err = FileNotFoundError(2, "No such file or directory", "/nope/x.png")
    assert describe_exception(err) == "error: No such file or directory: '/nope/x.png'"
    assert "INVRESTORE_MAX_PIXELS" in describe_exception(Image.DecompressionBombError("too big"))


@pytest.mark.parametrize(
    "exc,expect",
    [
        (MemoryError(), "out of memory"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"), "--tile 256"),
        (OSError(28, "No space left on device", "out/x.png"), "disk is full"),
        (PermissionError(13, "Permission denied", "out/x.png"), "permission"),
        (KeyError("surprise"), "internal error: KeyError"),
    ],
)
def test_failures_inside_a_command_are_one_line(
    exc: BaseException, expect: str, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import invrestore.cli.rescale as rescale

    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(rescale, "load_rescaler", boom)
    out = tmp_path / "out"
    res = _run(["downscale", *IMAGE_COMMANDS["downscale"](str(corpus / "odd.png"), out)])
    _assert_clean_failure(res, out)
    assert expect in res.stderr
    assert res.exit_code == 1


def test_debug_mode_shows_the_traceback(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import invrestore.cli.rescale as rescale

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(rescale, "load_rescaler", boom)
    res = CliRunner().invoke(
        cli, ["downscale", str(corpus / "odd.png"), "-o", str(tmp_path / "o")], env={"INVRESTORE_DEBUG": "1"}
    )
    assert isinstance(res.exception, KeyError)


#: Bad arguments for the commands that read no image: (arguments, a word the one error line must contain).
OTHER_BAD = [
    ("eval --method bicubic --scale 2 --dataset Set5 --data-root {missing}", "data root"),
    ("probe --model no-such --dataset Set5 --data-root {missing}", "data root"),
    ("data list --data-root {missing}", "data root"),
    ("train {missing}.yaml", "not found"),
    ("train {text}", "config"),
    ("sample --model no-such -o {out}", "no-such"),
    ("eval-bpd --model no-such --dataset CIFAR-10-partial", "no-such"),
    ("bench codecs --dataset Kodak24 --data-root {missing} --csv {out}.csv", "data root"),
]


@pytest.mark.parametrize("template,word", OTHER_BAD, ids=[t.split()[0] + "-" + w for t, w in OTHER_BAD])
def test_other_commands_refuse_bad_arguments_with_one_line(template: str, word: str, tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("a: [unclosed\n")
    out = tmp_path / "out"
    args = template.format(missing=tmp_path / "missing", text=tmp_path / "t.yaml", out=out).split()
    res = _run(args)
    _assert_clean_failure(res, out)
    assert res.exit_code == 1 and word in res.stderr
