#!/usr/bin/env python3
"""The Python package measured: against Surprise's NMF on MovieLens 100K, its overhead over
the engine on an ML-1M-shaped file, and the conversion of a large SciPy matrix.

A benchmark script, not a test: it prints Markdown tables; docs/PERFORMANCE.md records them.

    python -m venv .venv && .venv/bin/pip install ./python pandas scikit-surprise
    cargo build --release -p cnmf-cli --bin cnmf --example fit_arrays
    CNMF_DATA=<folder holding ml-100k/> .venv/bin/python python/benchmarks/side_by_side.py surprise
    cargo xtask bench-scale --sizes 1m,25m --algos ignore-corrupt --iters 1 --no-cli --keep-data --data-dir bench-data
    .venv/bin/python python/benchmarks/side_by_side.py overhead bench-data/bench-1m/ratings.dat
    .venv/bin/python python/benchmarks/side_by_side.py convert bench-data/bench-25m/ratings.dat

``surprise``: a seeded 90/10 split of ML-100K; Surprise's ``NMF(n_factors=20, n_epochs=E,
biased=False)`` (its defaults but the epochs) against ``CorrectiveNMF(rank=20, max_iter=E,
early_stopping=False)`` with ``l2=0`` and with its default L2 (0.1 per rating; Surprise
regularises by default too) for ignore-missing, ignore-corrupt and guarded, the same E, and
against ``CorrectiveNMF``'s defaults (early stopping and refit, L2 0.1 per rating); fit wall
time and test NMAE
(Surprise predicts the global mean for an unknown user or item, ``CorrectiveNMF`` its
``unknown="mean"`` fallback).

``overhead``: ``CorrectiveNMF.fit`` (wall, from the three arrays of the file) against the
same work done in Rust without Python (``cargo build --release -p cnmf-cli --example
fit_arrays``: id maps, the ratings builder, the fit and the model file from the same arrays;
one run of each in turn, ``--repeats`` times, best and median), against the engine's own time
for the same fit (its trace), and against ``cnmf fit``'s ``fit_seconds`` on the file for the
same fit (``--no-early-stopping --l2 0``); and Python's own work, from the fit's ``timings_``
(everything but the builder, the fit and the model file, which the Rust run does too).

``timings``: the same fit ``--repeats`` times, its ``timings_`` split into phases (median and
best of each).

``convert``: the file as a ``scipy.sparse.csr_matrix``, fitted with one iteration
``--repeats`` times; the conversion into the engine's storage is ``timings_``'s ``prepare``
(Python: checks, ids) plus ``convert`` (Rust: id maps, copies, checks, CSR and CSC).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import cnmf
from cnmf import CorrectiveNMF
from cnmf.metrics import accuracy


def read_dat(path):
    """(users, items, ratings) of a ``user::item::rating::time`` file."""
    with open(path, "rb") as f:
        text = f.read().replace(b"::", b" ")
    a = np.array(text.split(), dtype=np.int64).reshape(-1, 4)
    return a[:, 0], a[:, 1], a[:, 2].astype(np.float64)


def engine_seconds(model):
    return model.trace_[-1]["elapsed_secs"]


def surprise(args):
    import pandas as pd
    from surprise import NMF, Dataset, Reader

    df = cnmf.datasets.load_movielens("ml-100k")
    rng = np.random.default_rng(args.seed)
    test_mask = rng.random(len(df)) < 0.1
    train, test = df[~test_mask], df[test_mask]
    truth = test["rating"].to_numpy()
    rows = []

    def best(make, fit):
        """The last fitted object and the best wall time of --repeats fits (after one
        untimed fit, so that neither side pays first-call costs)."""
        fit(make())
        times = []
        for _ in range(args.repeats):
            obj = make()
            start = time.perf_counter()
            fit(obj)
            times.append(time.perf_counter() - start)
        return obj, min(times)

    reader = Reader(rating_scale=(1, 5))
    trainset = Dataset.load_from_df(train[["user", "item", "rating"]], reader).build_full_trainset()
    algo, secs = best(
        lambda: NMF(n_factors=20, n_epochs=args.epochs, biased=False, random_state=args.seed),
        lambda a: a.fit(trainset),
    )
    est = np.array([algo.predict(u, i).est for u, i in zip(test["user"], test["item"])])
    rows.append(("Surprise NMF (biased=False)", secs, accuracy(truth, est)["nmae"]))

    configs = [
        (f"CorrectiveNMF {alg}, {args.epochs} iterations, no L2", alg,
         dict(max_iter=args.epochs, early_stopping=False, l2=0.0))
        for alg in ("ignore-missing", "ignore-corrupt", "guarded")
    ] + [
        # Both sides regularised by their defaults (Surprise's reg_pu = reg_qi = 0.06), the
        # same number of iterations: the like-for-like comparison.
        (f"CorrectiveNMF {alg}, {args.epochs} iterations, default L2 (0.1 per rating)", alg,
         dict(max_iter=args.epochs, early_stopping=False))
        for alg in ("ignore-missing", "ignore-corrupt", "guarded")
    ] + [
        (f"CorrectiveNMF {alg}, defaults (early stopping, refit, L2 0.1 per rating)", alg, {})
        for alg in ("ignore-corrupt", "guarded")
    ]
    for name, alg, extra in configs:
        model, secs = best(
            lambda: CorrectiveNMF(rank=20, algorithm=alg, random_state=args.seed, **extra),
            lambda m: m.fit(train),
        )
        pred = model.predict(test["user"].to_numpy(), test["item"].to_numpy(), unknown="mean")
        rows.append((name, secs, accuracy(truth, pred)["nmae"]))

    base = rows[0][1]
    print(f"ML-100K 90/10 (seed {args.seed}), k = 20, {args.epochs} epochs/iterations, "
          f"best of {args.repeats} fits after one untimed, {os.cpu_count()} cores")
    print("| method | fit s | test NMAE | faster than Surprise |")
    print("|---|---|---|---|")
    for name, secs, nmae in rows:
        print(f"| {name} | {secs:.3f} | {nmae:.4f} | {base / secs:.1f}x |")


def overhead(args):
    users, items, ratings = read_dat(args.file)
    walls, inside, rust, own = [], [], [], []
    for _ in range(args.repeats):
        # One Python fit, then one run of the same work in Rust: alternated, so that both see
        # the same load on a shared machine.
        model = CorrectiveNMF(
            rank=20, max_iter=args.iters, algorithm=args.algo, early_stopping=False, l2=0.0
        )
        start = time.perf_counter()
        model.fit(users, items, ratings)
        walls.append(time.perf_counter() - start)
        inside.append(engine_seconds(model))
        t = model.timings_
        # Python's own work: everything but the builder, the fit and the model file, which
        # the Rust reference does too (its id maps and builder are `convert` less `intern`).
        own.append(t["total"] - t["convert"] - t["fit"] - t["package"] + t.get("intern", 0.0))
        rust.append(json.loads(subprocess.run(
            [args.fit_arrays, args.file, str(args.iters), args.algo, "1"],
            check=True, capture_output=True, text=True,
        ).stdout)["wall"])
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [args.cnmf, "fit", "--data", args.file, "--algo", args.algo, "--k", "20",
             "--iters", str(args.iters), "--no-early-stopping", "--l2", "0",
             "-o", os.path.join(tmp, "overhead.cnmf"), "--json"],
            check=True, capture_output=True, text=True,
        )
    cli = json.loads(out.stdout)["fit_seconds"]
    wall, eng, ref = min(walls), min(inside), min(rust)
    med_wall, med_ref = float(np.median(walls)), float(np.median(rust))
    print(f"{args.file}: {len(ratings)} ratings, {args.algo}, k = 20, {args.iters} iterations, "
          f"best of {args.repeats} (Python and Rust alternated); load average "
          f"{os.getloadavg()[0]:.2f}")
    print("| Python fit wall s | the same in Rust s | engine time inside s | cnmf fit fit_seconds "
          "| Python over Rust | Python over the engine | Python over cnmf fit |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {wall:.3f} | {ref:.3f} | {eng:.3f} | {cli:.3f} "
          f"| {100 * (wall / ref - 1):+.1f}% | {100 * (wall / eng - 1):+.1f}% "
          f"| {100 * (wall / cli - 1):+.1f}% |")
    print(f"medians: Python {med_wall:.3f} s, Rust {med_ref:.3f} s, Python over Rust "
          f"{100 * (med_wall / med_ref - 1):+.1f}%; Python's own work (timings_: prepare, "
          f"intern and the hand-over) best {1000 * min(own):.1f} ms, median "
          f"{1000 * float(np.median(own)):.1f} ms, {100 * float(np.median(own)) / med_ref:.1f}% "
          f"of the median Rust run")


def timings(args):
    users, items, ratings = read_dat(args.file)
    cols = ("prepare", "intern", "rest of convert", "fit", "package",
            "hand-over and attributes", "Python's own work")
    rows = []
    for _ in range(args.repeats):
        model = CorrectiveNMF(
            rank=20, max_iter=args.iters, algorithm=args.algo, early_stopping=False, l2=0.0
        )
        model.fit(users, items, ratings)
        t = model.timings_
        intern = t.get("intern", 0.0)  # packages before `intern` interned in `prepare`
        rest = t["total"] - t["prepare"] - t["convert"] - t["fit"] - t["package"]
        rows.append((t["prepare"], intern, t["convert"] - intern, t["fit"], t["package"], rest,
                     t["prepare"] + intern + rest))
    a = 1000 * np.array(rows)
    print(f"{args.file}: timings_ of {args.repeats} fits ({args.algo}, k = 20, {args.iters} "
          f"iterations), ms, median / best; load average {os.getloadavg()[0]:.2f}")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    print("| " + " | ".join(f"{m:.1f} / {b:.1f}" for m, b in zip(np.median(a, 0), a.min(0)))
          + " |")


def convert(args):
    import scipy.sparse as sp

    users, items, ratings = read_dat(args.file)
    m = sp.csr_matrix((ratings, (users, items)))
    del users, items, ratings
    print(f"{args.file}: csr_matrix {m.shape}, {m.nnz} ratings, {args.repeats} fits")
    print("| fit wall s (1 iteration) | prepare s (Python) | convert s (engine storage) "
          "| conversion s | fit s | package s |")
    print("|---|---|---|---|---|---|")
    for _ in range(args.repeats):
        model = CorrectiveNMF(rank=20, max_iter=1, algorithm="ignore-missing",
                              early_stopping=False)
        model.fit(m)
        t = model.timings_
        print(f"| {t['total']:.2f} | {t['prepare']:.3f} | {t['convert']:.3f} "
              f"| **{t['prepare'] + t['convert']:.3f}** | {t['fit']:.2f} | {t['package']:.2f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("surprise")
    s.add_argument("--epochs", type=int, default=50)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--repeats", type=int, default=3)
    o = sub.add_parser("overhead")
    o.add_argument("file")
    o.add_argument("--iters", type=int, default=20)
    o.add_argument("--algo", default="ignore-corrupt")
    o.add_argument("--repeats", type=int, default=3)
    o.add_argument("--cnmf", default="target/release/cnmf")
    o.add_argument("--fit-arrays", default="target/release/examples/fit_arrays")
    t = sub.add_parser("timings")
    t.add_argument("file")
    t.add_argument("--iters", type=int, default=20)
    t.add_argument("--algo", default="ignore-corrupt")
    t.add_argument("--repeats", type=int, default=7)
    c = sub.add_parser("convert")
    c.add_argument("file")
    c.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    {"surprise": surprise, "overhead": overhead, "timings": timings, "convert": convert}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
