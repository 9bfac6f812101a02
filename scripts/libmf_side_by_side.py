#!/usr/bin/env python3
"""LIBMF's NMF against the engine, per iteration, on the same ratings.dat files.

LIBMF comes from the `libmf` PyPI package (python bindings to LIBMF through ctypes): its
`MF(fun=0, do_nmf=True, ...)` is LIBMF's real-valued matrix factorisation with squared loss and
non-negative factors (`mf-train -f 0 --nmf`), trained by parallel SGD. The engine is
`cnmf fit --algo ignore-missing` (multiplicative updates), timed from its `--json` output
(`fit_seconds / iterations`).

LIBMF's binding has no per-iteration timer, so each LIBMF figure comes from two fits, with N and
2N iterations: (t(2N) - t(N)) / N is the time per iteration without the set-up (copying the data
into LIBMF, building its grid of blocks), and t(N) / N is also printed. The engine's
fit_seconds covers its set-up (initial factors) as well, so its figure is, if anything, high.

    python3 -m venv .venv && .venv/bin/pip install libmf numpy
    cargo build --release -p cnmf-cli
    cargo xtask bench-scale --sizes 1m,10m --no-cli --keep-data --data-dir bench-data
    .venv/bin/python scripts/libmf_side_by_side.py bench-data/bench-1m/ratings.dat \
        bench-data/bench-10m/ratings.dat --iters 10 --threads 2

Any ratings.dat (user::item::rating::timestamp) works, e.g. MovieLens 1M or 10M.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def read_ratings(path):
    """(n, 3) float32 array of dense 0-based user index, item index, rating."""
    with open(path, "rb") as f:
        text = f.read().replace(b"::", b" ")
    a = np.array(text.split(), dtype=np.float64).reshape(-1, 4)
    _, users = np.unique(a[:, 0], return_inverse=True)
    _, items = np.unique(a[:, 1], return_inverse=True)
    return np.column_stack((users, items, a[:, 2])).astype(np.float32)


def libmf_fit_secs(mf_module, data, k, iters, threads):
    model = mf_module.MF(
        fun=0, k=k, nr_threads=threads, nr_iters=iters, do_nmf=True, quiet=True
    )
    start = time.perf_counter()
    model.fit(data)
    return time.perf_counter() - start


def engine(cnmf, path, algo, k, iters, threads):
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(
            [cnmf, "fit", "--data", path, "--algo", algo, "--k", str(k),
             "--iters", str(iters), "--threads", str(threads),
             "-o", os.path.join(d, "model"), "--json", "--quiet"],
            check=True, capture_output=True, text=True,
        )
    r = json.loads(out.stdout)
    return r["fit_seconds"], r["iterations"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+", help="ratings.dat files")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--algo", default="ignore-missing", help="the engine's algorithm")
    p.add_argument("--cnmf", default="target/release/cnmf")
    a = p.parse_args()
    if a.iters < 1 or a.k < 1 or a.threads < 1:
        sys.exit("--iters, --k and --threads must be at least 1")
    if not os.path.isfile(a.cnmf):
        sys.exit(f"{a.cnmf} not found: cargo build --release -p cnmf-cli, or pass --cnmf")
    from libmf import mf as libmf  # prints which compiled LIBMF it loaded

    print(f"k = {a.k}, {a.iters} iterations, {a.threads} threads, engine --algo {a.algo}")
    print("| file | ratings | LIBMF NMF ms/iter (without set-up) | LIBMF t(N)/N | "
          "engine ms/iter | LIBMF / engine |")
    print("|---|---|---|---|---|---|")
    for path in a.files:
        data = read_ratings(path)
        t1 = libmf_fit_secs(libmf, data, a.k, a.iters, a.threads)
        t2 = libmf_fit_secs(libmf, data, a.k, 2 * a.iters, a.threads)
        libmf_ms = (t2 - t1) / a.iters * 1e3
        secs, n = engine(a.cnmf, path, a.algo, a.k, a.iters, a.threads)
        engine_ms = secs / n * 1e3
        print(f"| {path} | {len(data)} | {libmf_ms:.1f} | {t1 / a.iters * 1e3:.1f} | "
              f"{engine_ms:.1f} | {libmf_ms / engine_ms:.2f} |", flush=True)


if __name__ == "__main__":
    main()
