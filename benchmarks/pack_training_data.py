#!/usr/bin/env python3
"""Pack the T91 + BSDS200 training images into ONE uint8 array file, losslessly, to carry them to a GPU machine.

The file is an uncompressed ``.npz`` holding ``blob`` (uint8: the image files' own bytes, end to end: PNG for T91,
lossless WebP for BSDS200, which are already compact), ``offsets`` (int64, n+1), ``names`` (``SET/file``),
``shapes`` (int64 ``(n, 3)``: the decoded H, W, C) and ``pixel_sha256`` (the SHA-256 of each decoded uint8 pixel
array). Unpacking writes the very same files back, so training from the unpacked folder is bit-identical to
training from the originals; ``--verify`` decodes every unpacked image and checks its pixels against the hashes.
T91 + BSDS200 come to about 43 MB.

Usage::

    python benchmarks/pack_training_data.py pack --data-root ../shared/data --out .devdata/train291.npz --verify
    python benchmarks/pack_training_data.py unpack .devdata/train291.npz --dest /tmp/data   # -> /tmp/data/train/...
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

import numpy as np

SETS = ("T91", "BSDS200")


def _pixel_hash(path: Path) -> tuple[str, tuple[int, int, int]]:
    from invrestore.io import read_image_uint

    arr = np.ascontiguousarray(read_image_uint(path, mode="keep"))
    shape = (arr.shape[0], arr.shape[1], 1 if arr.ndim == 2 else arr.shape[2])
    return hashlib.sha256(arr.tobytes()).hexdigest(), shape


def pack(data_root: Path, out: Path, sets: tuple[str, ...] = SETS) -> dict[str, int]:
    """Pack ``data_root/train/<set>/*`` into ``out``; returns ``{"files": n, "bytes": size of out}``."""
    from invrestore.io import list_images

    files: list[tuple[str, Path]] = []
    for s in sets:
        folder = data_root / "train" / s
        found = list_images(folder)
        if not found:
            raise SystemExit(f"no images in {folder} (is --data-root the folder holding train/{s}?)")
        files += [(f"{s}/{p.name}", p) for p in found]
    chunks = [np.frombuffer(p.read_bytes(), dtype=np.uint8) for _, p in files]
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(c) for c in chunks])
    hashes, shapes = zip(*(_pixel_hash(p) for _, p in files), strict=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        np.savez(
            fh,
            blob=np.concatenate(chunks),
            offsets=offsets,
            names=np.array([n for n, _ in files]),
            shapes=np.array(shapes, dtype=np.int64),
            pixel_sha256=np.array(hashes),
        )
    return {"files": len(files), "bytes": out.stat().st_size}


def unpack(packed: Path, dest: Path, verify: bool = False) -> list[Path]:
    """Write the packed files under ``dest/train/<set>/`` (a data root for ``INVRESTORE_DATA``); with ``verify``,
    decode each one and compare its pixels with the hash recorded at packing time."""
    with np.load(packed) as z:
        blob, offsets, names = z["blob"], z["offsets"], [str(n) for n in z["names"]]
        hashes = [str(h) for h in z["pixel_sha256"]]
    paths = []
    for i, name in enumerate(names):
        p = dest / "train" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(blob[offsets[i] : offsets[i + 1]].tobytes())
        if verify and _pixel_hash(p)[0] != hashes[i]:
            raise SystemExit(f"{name}: unpacked pixels differ from the packed image")
        paths.append(p)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data-root", type=Path, required=True, help="Folder holding train/T91 and train/BSDS200.")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--verify", action="store_true", help="Unpack into a temp folder and check every pixel.")
    u = sub.add_parser("unpack")
    u.add_argument("packed", type=Path)
    u.add_argument("--dest", type=Path, required=True)
    u.add_argument("--verify", action="store_true")
    args = ap.parse_args()
    if args.cmd == "pack":
        info = pack(args.data_root, args.out)
        print(f"packed {info['files']} images into {args.out} ({info['bytes'] / 2**20:.1f} MiB)")
        if args.verify:
            with tempfile.TemporaryDirectory() as tmp:
                paths = unpack(args.out, Path(tmp), verify=True)
                for q in paths:  # the bytes too, not only the pixels
                    rel = q.relative_to(Path(tmp))
                    if q.read_bytes() != (args.data_root / rel).read_bytes():
                        raise SystemExit(f"{rel}: unpacked bytes differ from the original file")
            print(f"verified: {len(paths)} images unpack to the original bytes and pixels")
    else:
        paths = unpack(args.packed, args.dest, verify=args.verify)
        print(f"unpacked {len(paths)} images under {args.dest / 'train'}")


if __name__ == "__main__":
    main()
