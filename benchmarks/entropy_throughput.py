"""Throughput of the entropy coder (``invrestore.entropy.SymbolCoder``: constriction ANS from 16-bit tables).

Workloads (one torch/numpy thread; best and median of ``--repeats`` timed runs after a warm-up):

- ``latent``: a Kodak-sized factorized latent, ``C × H/16 × W/16 = 192 × 32 × 48`` (294,912 symbols), channel
  ``c`` Laplace-distributed with scale ``0.3 + 0.05 c`` (so rates range from ~0.5 to ~5 bits/symbol), tables
  built by an ``EntropyBottleneck`` density fitted to it, 0.01 % of the symbols pushed out of range (escapes);
- ``iid256``: 4M i.i.d. symbols of one 256-bin table (the raw coder speed, 1-byte symbols).

Reported: symbols per second, MB/s of symbols counted as 1 byte each, MB/s of compressed output, the coded size
against the ideal size under the tables, and for ``latent`` the whole ``EntropyBottleneck.compress`` /
``decompress`` (quantization, table checks and model construction included).

Usage::

    python benchmarks/entropy_throughput.py                # both workloads, 5 repeats
    python benchmarks/entropy_throughput.py --repeats 3 --json results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np
import torch

from invrestore.entropy import EntropyBottleneck, SymbolCoder, effective_cdf, pmf_to_quantized_cdf


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), out


def _ideal_bits(coder: SymbolCoder, symbols: np.ndarray) -> float:
    bits = 0.0
    for c in range(coder.channels):
        freq = np.diff(effective_cdf(coder.cdfs[c])).astype(np.float64)
        q = symbols[c].astype(np.int64) - coder.offset[c]
        idx = np.where((q < 0) | (q >= coder.num_regular[c]), coder.num_regular[c], q)
        bits += float(-np.log2(freq[idx] / 2.0**24).sum())
    return bits


def _report(name: str, coder: SymbolCoder, symbols: np.ndarray, repeats: int) -> dict[str, Any]:
    n = symbols.size
    enc_best, enc_med, data = _time(lambda: coder.encode(symbols), repeats)
    dec_best, dec_med, decoded = _time(lambda: coder.decode(data, symbols.shape[1]), repeats)
    assert np.array_equal(decoded, symbols), "round trip failed"
    ideal = _ideal_bits(coder, symbols)
    row = {
        "workload": name,
        "symbols": n,
        "bytes": len(data),
        "bits_per_symbol": 8 * len(data) / n,
        "overhead_vs_ideal_pct": 100 * (8 * len(data) / ideal - 1),
        "encode_s": enc_best,
        "decode_s": dec_best,
        "encode_median_s": enc_med,
        "decode_median_s": dec_med,
        "encode_Msym_s": n / enc_best / 1e6,
        "decode_Msym_s": n / dec_best / 1e6,
        "encode_out_MB_s": len(data) / enc_best / 1e6,
        "decode_in_MB_s": len(data) / dec_best / 1e6,
    }
    print(
        f"{name:>14}: {n:>9,} symbols -> {len(data):>9,} B ({row['bits_per_symbol']:.3f} bit/sym, "
        f"{row['overhead_vs_ideal_pct']:+.3f} % vs ideal); encode {enc_best * 1e3:7.1f} ms "
        f"({row['encode_Msym_s']:.1f} Msym/s = MB/s of 1-byte symbols, {row['encode_out_MB_s']:.2f} MB/s out), "
        f"decode {dec_best * 1e3:7.1f} ms ({row['decode_Msym_s']:.1f} Msym/s, {row['decode_in_MB_s']:.2f} MB/s in)"
    )
    return row


def latent_workload(repeats: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    c, h, w = 192, 32, 48
    scales = 0.3 + 0.05 * np.arange(c)
    y = torch.from_numpy(rng.laplace(0.0, scales[:, None, None], size=(c, h, w))).float()[None]
    eb = EntropyBottleneck(c)
    opt = torch.optim.Adam([p for n, p in eb.named_parameters() if n != "quantiles"], lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        _, lik = eb(y, training=True)
        (-torch.log2(lik).mean()).backward()
        opt.step()
    eb.eval().update()
    flat = y.reshape(-1)
    idx = rng.choice(flat.numel(), size=max(1, flat.numel() // 10_000), replace=False)
    flat[idx] = torch.from_numpy(rng.choice([-1.0, 1.0], size=idx.size) * 1000.0).float()
    symbols = eb.quantize(y, "symbols")[0].reshape(c, -1).numpy()
    rows = [_report("latent", eb.coder(), symbols, repeats)]
    _, lik = eb(y)
    estimate = -torch.log2(lik).sum().item()
    enc_best, _, strings = _time(lambda: eb.compress(y), repeats)
    dec_best, _, y_hat = _time(lambda: eb.decompress(strings, (h, w)), repeats)
    assert torch.equal(y_hat, eb(y)[0])
    real = 8 * len(strings[0])
    print(
        f"{'bottleneck':>14}: compress {enc_best * 1e3:.1f} ms, decompress {dec_best * 1e3:.1f} ms "
        f"({symbols.size / enc_best / 1e6:.1f} / {symbols.size / dec_best / 1e6:.1f} Msym/s); "
        f"real {real} bits vs estimate {estimate:.0f} ({100 * (real / estimate - 1):+.3f} %)"
    )
    rows.append(
        {
            "workload": "bottleneck",
            "compress_s": enc_best,
            "decompress_s": dec_best,
            "real_bits": real,
            "estimated_bits": estimate,
        }
    )
    return rows


def iid_workload(repeats: int, n: int = 4_000_000, seed: int = 1) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    pmf = np.exp(-np.abs(np.arange(256) - 128) / 20.0)
    cdf = pmf_to_quantized_cdf(np.append(pmf, 1e-9))
    coder = SymbolCoder(cdf[None], np.array([cdf.size]), np.array([0]))
    symbols = rng.choice(256, size=(1, n), p=pmf / pmf.sum()).astype(np.int32)
    return [_report("iid256", coder, symbols, repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workload", choices=["all", "latent", "iid256"], default="all")
    parser.add_argument("--json", help="write the measurements to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"python {platform.python_version()}, torch {torch.__version__}, constriction {version('constriction')}")
    print(f"cpu: {platform.processor() or platform.machine()}, 1 thread")
    rows: list[dict[str, Any]] = []
    if args.workload in ("all", "latent"):
        rows += latent_workload(args.repeats)
    if args.workload in ("all", "iid256"):
        rows += iid_workload(args.repeats)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"python": platform.python_version(), "torch": torch.__version__, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
