#!/usr/bin/env python3
"""Stage the working tree for one GPU call (device tool ``run``), and put it back afterwards.

The device tool sends the working tree (tracked files and untracked files git does not ignore), at most 64 MiB.
The shipped weights alone are ≈ 84 MB, so a GPU call carries only the weights it trains.

``stage --keep irn-x4``:

1. packs T91 + BSDS200 into ``.devdata/train291.npz`` (lossless, verified; ``benchmarks/pack_training_data.py``)
   and copies ``eval/Set5`` to ``.devdata/eval/Set5``, unless they are there already;
2. downloads the omegaconf wheel into ``.whl/`` (the GPU image lacks it), unless it is there;
3. deletes from the working tree every ``src/invrestore/weights/*.safetensors`` not named in ``--keep`` (they are
   tracked files: ``restore`` gets them back from git, nothing is lost);
4. prints the size that would travel and refuses (exit 1, with what to drop) if it is over 64 MiB.

``restore``: ``git checkout`` of the deleted weights (a weights file that was *modified*, e.g. adopted by
``campaign_adopt.py``, is left alone). ``size``: only step 4.

Usage::

    python benchmarks/gpu_stage.py stage --keep irn-x4 --data-root ../shared/data
    # device tool run: see docs/training.md ("The GPU campaign")
    python benchmarks/gpu_stage.py restore
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "src" / "invrestore" / "weights"
LIMIT = 64 * 2**20
OMEGACONF = "omegaconf==2.4.0"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def travelling_bytes() -> tuple[int, list[tuple[int, str]]]:
    """Bytes the device tool would send (tracked + untracked-not-ignored files that exist), and the largest ones."""
    names = git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    sizes = []
    for n in names:
        p = REPO / n
        if n and p.is_file() and not p.is_symlink():
            sizes.append((p.stat().st_size, n))
    sizes.sort(reverse=True)
    return sum(s for s, _ in sizes), sizes[:8]


def report_size() -> bool:
    total, largest = travelling_bytes()
    print(f"working tree that travels: {total / 2**20:.1f} MiB (limit 64 MiB)")
    if total <= LIMIT:
        return True
    print("over the limit; the largest files:", file=sys.stderr)
    for s, n in largest:
        print(f"  {s / 2**20:6.1f} MiB  {n}", file=sys.stderr)
    return False


def stage(keep: list[str], data_root: Path) -> int:
    known = sorted(p.stem for p in WEIGHTS.glob("*.safetensors"))
    missing = [k for k in keep if k not in known]
    if missing:
        print(f"--keep: no shipped weights named {', '.join(missing)} (have: {', '.join(known)})", file=sys.stderr)
        return 2
    dev = REPO / ".devdata"
    pack = dev / "train291.npz"
    if not pack.is_file():
        if not (data_root / "train" / "T91").is_dir():
            print(f"no {data_root}/train/T91: pass --data-root (the folder holding train/ and eval/)", file=sys.stderr)
            return 2
        subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "pack_training_data.py"), "pack", "--data-root",
             str(data_root), "--out", str(pack), "--verify"],
            check=True,
        )  # fmt: skip
    set5 = dev / "eval" / "Set5"
    if not set5.is_dir():
        shutil.copytree(data_root / "eval" / "Set5", set5)
    whl = REPO / ".whl"
    if not list(whl.glob("omegaconf-*.whl")):
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", OMEGACONF, "-d", str(whl)]
        if subprocess.run(cmd).returncode != 0:
            print(f"could not download {OMEGACONF}; the GPU image lacks it (docs/development.md)", file=sys.stderr)
            return 1
    dropped = []
    for p in sorted(WEIGHTS.glob("*.safetensors")):
        if p.stem not in keep:
            p.unlink()
            dropped.append(p.stem)
    print(f"kept weights: {', '.join(keep) or 'none'}; removed from the tree (git restores them): {len(dropped)}")
    return 0 if report_size() else 1


def restore() -> int:
    deleted = [n for n in git("ls-files", "--deleted", "--", str(WEIGHTS)).splitlines() if n]
    if deleted:
        git("checkout", "--", *deleted)
    print(f"restored {len(deleted)} weights file(s) from git")
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stage", help="Pack the data, fetch the wheel, keep only some weights, check the size.")
    s.add_argument("--keep", default="", help="Comma-separated weights to keep in the tree (e.g. irn-x4).")
    s.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    sub.add_parser("restore", help="Put the removed weights back (git checkout).")
    sub.add_parser("size", help="Print what would travel.")
    args = ap.parse_args()
    if args.cmd == "stage":
        raise SystemExit(stage([k for k in args.keep.split(",") if k], args.data_root))
    if args.cmd == "restore":
        raise SystemExit(restore())
    raise SystemExit(0 if report_size() else 1)


if __name__ == "__main__":
    main()
