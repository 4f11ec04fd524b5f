"""Fuzz the containers invrestore reads: ``.irc`` (ILC), ``.irn`` (IRNPACK) and LR PNGs with ``invrestore.*`` text.

Each container starts from a valid seed file made here (tiny image, shipped models). Every case is a mutation of
it: bit flips, byte overwrites, truncation, extension, splices of two parts, random bytes, and forged headers whose
checksums are recomputed so that only the field validation stands between the forgery and the decoder. Each case
runs in-process through the library decode path, under a per-case timeout (SIGALRM), and is classified:

- ``rejected``: an :class:`~invrestore.errors.InvRestoreError` (the expected outcome);
- ``accepted``: decoded, for a mutation that cannot be told from a valid file (a forged header with valid values is
  not generated; an unchanged result counts here too);
- ``crash``: any other exception (a bug: a traceback would reach the user);
- ``hang``: over the timeout;
- ``silent``: decoded although the case was built to be invalid (a forged invalid field, or damaged bytes whose
  checksum was not recomputed) and the output is not identical to the seed's.

The goal is 0 crashes, 0 hangs and 0 silent successes. ``--cli-sample N`` also runs N cases of each container
through the real command (``unpack``, ``decompress``, ``upscale``) in a subprocess and checks one stderr line.

    python benchmarks/fuzz.py --cases 10000 --seed 0 --json fuzz.json
"""

from __future__ import annotations

import argparse
import json
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from invrestore.errors import InvRestoreError


class CaseTimeout(Exception):
    """A case ran past its time limit."""


@dataclass
class Case:
    kind: str
    data: bytes
    must_fail: bool


@dataclass
class Target:
    name: str
    ext: str
    seed: bytes
    decode: Callable[[bytes], Any]
    forge: Callable[[np.random.Generator], list[Case]]
    cli: Callable[[Path, Path], list[str]]


@dataclass
class Report:
    target: str
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "cases": self.cases,
            "outcomes": dict(self.outcomes),
            "kinds": dict(self.kinds),
            "problems": self.problems[:50],
            "seconds": round(self.seconds, 2),
        }


# -- seeds ------------------------------------------------------------------------------------------------------------
def _seed_image(h: int = 12, w: int = 10) -> torch.Tensor:
    g = torch.Generator().manual_seed(19)
    base = torch.rand(1, 3, 3, 3, generator=g)
    return torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)[0]


def irn_target() -> Target:
    from invrestore.codecs import encode_jpeg
    from invrestore.entropy.irnpack import decode_payload, read_pack, write_pack
    from invrestore.io import to_uint8
    from invrestore.models.catalog import pack_names

    lr = to_uint8(_seed_image(6, 5))
    header = {"model": "irn-x2", "scale": 2, "size": [12, 10], "lr_size": [6, 5], "channels": 3, "codec": "jpeg"}
    header |= {"quality": 90, "subsampling": "4:2:0", "crm": "crm-q90"}
    payload = encode_jpeg(lr, 90, "4:2:0")
    seed = write_pack(header, payload)

    def decode(data: bytes) -> Any:
        head, pay = read_pack(data, "fuzz.irn", names=pack_names())  # as unpack reads it
        y = decode_payload(pay, head["codec"], "fuzz.irn")
        lh, lw = head["lr_size"]
        if tuple(y.shape) != (3, lh, lw):
            raise InvalidShape("LR shape does not match the header")
        return head, y

    bad_values: list[tuple[str, Any]] = [
        ("quality", 0), ("quality", 101), ("quality", "90"), ("quality", 90.5), ("quality", True), ("quality", None),
        ("subsampling", "9:9:9"), ("subsampling", 420), ("scale", "2"), ("scale", 2.0), ("scale", 0), ("scale", -2),
        ("scale", 1), ("scale", 10**30), ("size", [12.5, 10]), ("size", [12, 10, 1]), ("size", [-12, 10]),
        ("size", [0, 0]), ("size", "12x10"), ("size", [70000, 10]), ("lr_size", [5, 5]), ("lr_size", [6]),
        ("channels", 2), ("channels", "3"), ("codec", "gif"), ("codec", None), ("model", "/etc/passwd"),
        ("model", "../irn-x2"), ("model", "no-such-irn"), ("model", "crm-q90"), ("model", 7), ("crm", "/etc/passwd"),
        ("crm", "../../x.safetensors"), ("crm", "no-such-crm"), ("crm", 5), ("extra", 1), ("payload_bytes", -1),
    ]  # fmt: skip

    def forge(rng: np.random.Generator) -> list[Case]:
        cases = []
        for key, value in bad_values:
            h = dict(header)
            h[key] = value
            cases.append(Case(f"forge:{key}={value!r}"[:60], _forged_pack(h, payload), True))
        for key in [*header, "payload_bytes", "crc32"]:
            h = {k: v for k, v in header.items() if k != key}
            cases.append(Case(f"forge:-{key}", _forged_pack(h, payload, drop=key), True))
        cases.append(Case("forge:v1", b"IRNPACK\x01" + seed[8:], True))
        return cases

    return Target("irn", ".irn", seed, decode, forge, lambda f, out: ["unpack", str(f), "-o", str(out / "x.png")])


class InvalidShape(InvRestoreError):
    """The fuzz decoder's own shape check (as in ``unpack``)."""


def _forged_pack(header: dict[str, Any], payload: bytes, drop: str | None = None) -> bytes:
    """A pack file with ``header`` exactly as given and both checksums valid."""
    from invrestore.entropy.irnpack import FORMAT_VERSION, MAGIC

    head = dict(header)
    head.setdefault("payload_bytes", len(payload))
    head.setdefault("crc32", zlib.crc32(payload))
    if drop in ("payload_bytes", "crc32"):
        head.pop(drop)
    blob = json.dumps(head, sort_keys=True).encode()
    prefix = MAGIC + bytes([FORMAT_VERSION]) + struct.pack(">I", len(blob)) + blob
    return prefix + struct.pack(">I", zlib.crc32(prefix)) + payload


def irc_target() -> Target:
    from invrestore.entropy.bitstream import Bitstream
    from invrestore.entropy.codec import MAX_DECODE_PIXELS
    from invrestore.models.ilc.loading import load_codec

    codec: Any = load_codec("ilc-small-q1", None)
    with torch.no_grad():
        bits = codec.compress(_seed_image(16, 16).unsqueeze(0))
    seed = bits.to_bytes()

    def decode(data: bytes) -> Any:
        b = Bitstream.from_bytes(data)
        if b.model != bits.model or b.config_hash != codec.config_hash():
            raise InvalidShape("another model or config hash: decompress refuses it")
        with torch.no_grad():
            return codec.decompress(b, max_pixels=MAX_DECODE_PIXELS)

    def forge(rng: np.random.Generator) -> list[Case]:
        body = seed[:-4]
        k = body[6]
        cases = []
        fields = {"h": 15 + k, "w": 19 + k}
        for name, off in fields.items():
            for v in (0, 1, 7, 17, 65535, 0xFFFFFFFF):
                b = bytearray(body)
                b[off : off + 4] = struct.pack("<I", v)
                if bytes(b) != body:
                    cases.append(Case(f"forge:{name}={v}", _with_crc(bytes(b)), True))
        # latent dims and payload length
        lat = 32 + k
        for j in range(4):
            for v in (0, 1, 3, 65535, 1 << 20):
                b = bytearray(body)
                b[lat + 1 + 4 * j : lat + 5 + 4 * j] = struct.pack("<I", v)
                if bytes(b) != body:
                    cases.append(Case(f"forge:dim{j}={v}", _with_crc(bytes(b)), True))
        for v in (0, 9, 255):
            b = bytearray(body)
            b[31 + k] = v
            cases.append(Case(f"forge:n={v}", _with_crc(bytes(b)), True))
            b = bytearray(body)
            b[lat] = v
            cases.append(Case(f"forge:ndim={v}", _with_crc(bytes(b)), True))
        for v in (0, 2, 255):
            b = bytearray(body)
            b[4] = v
            cases.append(Case(f"forge:version={v}", _with_crc(bytes(b)), True))
        b = bytearray(body)
        b[7 + k] ^= 0xFF  # config hash
        cases.append(Case("forge:config-hash", _with_crc(bytes(b)), True))
        b = bytearray(body)
        b[7] = ord("/")
        cases.append(Case("forge:model-id", _with_crc(bytes(b)), True))
        return cases

    return Target("irc", ".irc", seed, decode, forge, lambda f, out: ["decompress", str(f), "-o", str(out)])


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def _png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    parts = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        parts.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(parts)


def png_target(workdir: Path) -> Target:
    from invrestore.inference.lr_meta import parse_lr_meta
    from invrestore.io import read_image, read_png_text, write_image

    meta = {"invrestore.model": "irn-x2", "invrestore.scale": "2", "invrestore.size": "12x10"}
    meta["invrestore.channels"] = "3"
    seed_path = workdir / "seed.png"
    write_image(seed_path, _seed_image(6, 5), text=meta)
    seed = seed_path.read_bytes()
    case_path = workdir / "case.png"

    def decode(data: bytes) -> Any:
        case_path.write_bytes(data)
        x = read_image(case_path)
        text = {k: v for k, v in read_png_text(case_path).items() if k.startswith("invrestore.")}
        fields = parse_lr_meta(case_path, text, (int(x.shape[-2]), int(x.shape[-1])))
        missing = {"model", "scale", "size", "channels"} - set(fields)
        if missing:
            raise InvalidShape(f"metadata incomplete: {sorted(missing)} (upscale needs --model then)")
        return fields, x

    bad = [
        ("invrestore.size", "abc"), ("invrestore.size", "12.5x10"), ("invrestore.size", "-12x10"),
        ("invrestore.size", "0x0"), ("invrestore.size", "99999999x1"), ("invrestore.size", "20x10"),
        ("invrestore.scale", "0"), ("invrestore.scale", "two"), ("invrestore.scale", "-2"), ("invrestore.scale", "3"),
        ("invrestore.scale", "2.0"), ("invrestore.model", "/etc/passwd"), ("invrestore.model", "no-such"),
        ("invrestore.model", "dncnn-s-denoise25"), ("invrestore.channels", "2"), ("invrestore.channels", "x"),
    ]  # fmt: skip

    def forge(rng: np.random.Generator) -> list[Case]:
        cases = []
        chunks = _png_chunks(seed)
        for key, value in bad:
            new = []
            for kind, body in chunks:
                if kind == b"tEXt" and body.split(b"\0", 1)[0] == key.encode():
                    body = key.encode() + b"\0" + value.encode()
                new.append((kind, body))
            cases.append(Case(f"forge:{key}={value}", _png_from_chunks(new), True))
        return cases

    return Target("png", ".png", seed, decode, forge, lambda f, out: ["upscale", str(f), "-o", str(out)])


# -- mutations --------------------------------------------------------------------------------------------------------
def mutate(rng: np.random.Generator, seed: bytes, forged: list[Case]) -> Case:
    """One random mutation of ``seed`` (or one of the forged headers, sometimes further damaged)."""
    r = rng.random()
    b = bytearray(seed)
    n = len(b)
    if r < 0.25:
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, n))
            b[i] ^= 1 << int(rng.integers(0, 8))
        return Case("bitflip", bytes(b), True)
    if r < 0.40:
        i = int(rng.integers(0, n))
        k = int(rng.integers(1, 9))
        b[i : i + k] = rng.bytes(min(k, n - i))
        return Case("overwrite", bytes(b), True)
    if r < 0.55:
        return Case("truncate", bytes(b[: int(rng.integers(0, n))]), True)
    if r < 0.62:
        return Case("extend", bytes(b) + rng.bytes(int(rng.integers(1, 64))), True)
    if r < 0.75:
        i, j = sorted(int(v) for v in rng.integers(0, n, 2))
        k = int(rng.integers(0, n))
        return Case("splice", bytes(b[:i] + b[k : k + (j - i)] + b[j:]), True)
    if r < 0.82:
        prefix = bytes(b[: int(rng.integers(0, min(n, 16)))])
        return Case("random", prefix + rng.bytes(int(rng.integers(0, 2 * n))), True)
    case = forged[int(rng.integers(0, len(forged)))]
    if rng.random() < 0.3:
        d = bytearray(case.data)
        d[int(rng.integers(0, len(d)))] ^= 1 << int(rng.integers(0, 8))
        return Case(case.kind + "+bitflip", bytes(d), True)
    return case


def _alarm(_signum: int, _frame: object) -> None:
    raise CaseTimeout


def _same_output(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return all(_same_output(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def fuzz(target: Target, cases: int, seed: int, timeout: float) -> Report:
    """Run ``cases`` mutations of ``target`` in-process and classify them (see the module docstring)."""
    rng = np.random.default_rng(seed)
    reference = target.decode(target.seed)
    forged = target.forge(rng)
    report = Report(target.name)
    old = signal.signal(signal.SIGALRM, _alarm)
    t0 = time.perf_counter()
    try:
        for i in range(cases):
            case = forged[i] if i < len(forged) else mutate(rng, target.seed, forged)
            report.cases += 1
            report.kinds[case.kind.split(":")[0].split("+")[0]] += 1
            if case.data == target.seed:
                report.outcomes["unchanged"] += 1
                continue
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                out = target.decode(case.data)
                outcome = "accepted" if _same_output(out, reference) or not case.must_fail else "silent"
            except InvRestoreError:
                outcome = "rejected"
            except CaseTimeout:
                outcome = "hang"
            except Exception as e:
                outcome = "crash"
                report.problems.append({"case": i, "kind": case.kind, "error": f"{type(e).__name__}: {e}"[:200]})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            report.outcomes[outcome] += 1
            if outcome in ("silent", "hang"):
                report.problems.append({"case": i, "kind": case.kind, "outcome": outcome})
    finally:
        signal.signal(signal.SIGALRM, old)
    report.seconds = time.perf_counter() - t0
    return report


def cli_sample(target: Target, n: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Run ``n`` mutations through the real command in a subprocess: exit 1, one stderr line, no traceback."""
    rng = np.random.default_rng(seed + 1)
    forged = target.forge(rng)
    bad: list[dict[str, Any]] = []
    for i in range(n):
        case = mutate(rng, target.seed, forged)
        f = workdir / f"cli{i}{target.ext}"
        f.write_bytes(case.data)
        out = workdir / f"out{i}"
        out.mkdir()
        cmd = [sys.executable, "-m", "invrestore", *target.cli(f, out)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        if case.data != target.seed and (res.returncode != 1 or len(lines) != 1 or "Traceback" in res.stderr):
            bad.append({"case": i, "kind": case.kind, "rc": res.returncode, "stderr": res.stderr[-300:]})
    return {"target": target.name, "cases": n, "problems": bad}


def build_targets(workdir: Path, names: list[str]) -> list[Target]:
    makers: dict[str, Callable[[], Target]] = {
        "irc": irc_target,
        "irn": irn_target,
        "png": lambda: png_target(workdir),
    }
    return [makers[n]() for n in names]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=10_000, help="Mutations per container.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0, help="Seconds per case.")
    p.add_argument("--targets", default="irc,irn,png")
    p.add_argument("--cli-sample", type=int, default=0, help="Also run N cases per container through the CLI.")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results: dict[str, Any] = {"torch": torch.__version__, "cases": args.cases, "seed": args.seed, "fuzz": []}
    with tempfile.TemporaryDirectory() as tmp:
        for target in build_targets(Path(tmp), args.targets.split(",")):
            rep = fuzz(target, args.cases, args.seed, args.timeout)
            results["fuzz"].append(rep.as_dict())
            o = rep.outcomes
            print(
                f"{target.name}: {rep.cases} cases in {rep.seconds:.1f} s: rejected {o['rejected']}, accepted "
                f"{o['accepted']}, unchanged {o['unchanged']}, crash {o['crash']}, hang {o['hang']}, silent "
                f"{o['silent']}",
                flush=True,
            )
            for prob in rep.problems[:10]:
                print(f"  {prob}")
            if args.cli_sample:
                d = Path(tmp) / f"cli-{target.name}"
                d.mkdir()
                cs = cli_sample(target, args.cli_sample, args.seed, d)
                results.setdefault("cli", []).append(cs)
                print(f"  CLI sample: {cs['cases']} cases, {len(cs['problems'])} problems", flush=True)
                for prob in cs["problems"][:5]:
                    print(f"    {prob}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    bad = sum(r["outcomes"].get(k, 0) for r in results["fuzz"] for k in ("crash", "hang", "silent"))
    bad += sum(len(c["problems"]) for c in results.get("cli", []))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
