//! Criterion benchmarks of the factorization engine.
//!
//! * `iteration/<algorithm>/synthetic-1m`: one iteration of each algorithm at k = 20 on the
//!   ratings crate's MovieLens-1M-shaped synthetic instance (`SyntheticParams::ml1m()`:
//!   6040 users, 3706 items, 1,000,209 ratings), generated deterministically.
//! * `iteration/<algorithm>/ml-100k`: the same on MovieLens 100K when `CNMF_DATA` points to
//!   the data directory (skipped with a message otherwise).
//! * `rank/ignore-missing/k`: one ignore-missing iteration at k = 10, 20, 50, 100.
//! * `isa/<algorithm>/<instruction set>`: ignore-missing and replace-corrupt-nointerp at
//!   k = 20 on the synthetic set with the passes forced to the portable (baseline SSE2)
//!   kernels, AVX2 and AVX-512F (the engine picks the widest the CPU has; one it lacks falls
//!   back to portable, so compare with the `iteration` group).
//! * `precision/<algorithm>/<f64|f32>`: ignore-missing and ignore-corrupt at k = 20 on the
//!   synthetic set with the iterations in `f64` and in `f32` (`Precision`).
//!
//! "One iteration" is measured from the engine's own trace: a fit of `1 + iters` iterations
//! runs and the time between the end of iteration 1 and the end of iteration `1 + iters` is
//! reported, so set-up (initialisation, buffers) and the final statistics pass are excluded.
//! Threads: rayon's global pool (all cores).
//!
//! Run: `cargo bench -p cnmf-benches --bench engine -- --warm-up-time 1 --measurement-time 3`

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use cnmf_engine::numeric::Isa;
use cnmf_engine::{Algorithm, FitOptions, NmfParams, Precision};
use cnmf_ratings::{load, LoadOptions, Ratings, SyntheticParams};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The ratings crate's ML-1M-shaped synthetic data (6040 users, 3706 items, 1,000,209
/// ratings, power-law users and items, low-rank truth plus noise).
fn synthetic_1m() -> Ratings {
    SyntheticParams::ml1m()
        .seed(20_240_601)
        .check()
        .expect("valid synthetic parameters")
        .generate()
}

/// MovieLens 100K from `$CNMF_DATA/ml-100k/u.data`, or `None` (with a message) when unset.
fn ml100k() -> Option<Ratings> {
    let Some(dir) = std::env::var_os("CNMF_DATA") else {
        eprintln!("CNMF_DATA is not set: skipping the MovieLens 100K engine benches");
        return None;
    };
    let path = PathBuf::from(dir).join("ml-100k").join("u.data");
    match load(&path, &LoadOptions::default()) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!(
                "cannot load {}: {e}; skipping the MovieLens 100K benches",
                path.display()
            );
            None
        }
    }
}

/// Time of `iters` iterations, from the fit's trace (see the module docs), on the widest
/// instruction set the CPU has (`isa = None`) or on `isa`.
fn time_iterations_on(
    data: &Ratings,
    k: usize,
    algorithm: Algorithm,
    iters: u64,
    isa: Option<Isa>,
) -> Duration {
    time_iterations_in(data, k, algorithm, iters, isa, Precision::F64)
}

/// [`time_iterations_on`] with the iterations in `precision`.
fn time_iterations_in(
    data: &Ratings,
    k: usize,
    algorithm: Algorithm,
    iters: u64,
    isa: Option<Isa>,
    precision: Precision,
) -> Duration {
    let options = match isa {
        Some(isa) => FitOptions::new().isa(isa),
        None => FitOptions::new(),
    };
    let model = NmfParams::new(k, algorithm)
        .lambda(1.0)
        .max_iters(1 + iters as usize)
        .seed(1)
        .precision(precision)
        .check()
        .expect("valid parameters")
        .fit_with(data, options)
        .expect("fit");
    let trace = model.trace();
    let secs = trace[trace.len() - 1].elapsed_secs - trace[1].elapsed_secs;
    Duration::from_secs_f64(secs)
}

/// [`time_iterations_on`] the widest instruction set.
fn time_iterations(data: &Ratings, k: usize, algorithm: Algorithm, iters: u64) -> Duration {
    time_iterations_on(data, k, algorithm, iters, None)
}

fn bench_algorithms(c: &mut Criterion) {
    let mut sets = vec![("synthetic-1m", synthetic_1m())];
    if let Some(r) = ml100k() {
        sets.push(("ml-100k", r));
    }
    let mut group = c.benchmark_group("iteration");
    group.sample_size(10);
    for (name, data) in &sets {
        group.throughput(Throughput::Elements(data.nnz() as u64));
        for alg in Algorithm::ALL {
            group.bench_function(BenchmarkId::new(alg.name(), name), |b| {
                b.iter_custom(|iters| time_iterations(data, 20, alg, iters))
            });
        }
    }
    group.finish();

    let data = &sets[0].1;
    let mut group = c.benchmark_group("rank/ignore-missing");
    group.sample_size(10);
    group.throughput(Throughput::Elements(data.nnz() as u64));
    for k in [10, 20, 50, 100] {
        group.bench_function(BenchmarkId::from_parameter(k), |b| {
            b.iter_custom(|iters| time_iterations(data, k, Algorithm::IgnoreMissing, iters))
        });
    }
    group.finish();

    eprintln!("widest instruction set of this CPU: {:?}", Isa::detect());
    for alg in [Algorithm::IgnoreMissing, Algorithm::ReplaceCorruptNoInterp] {
        let mut group = c.benchmark_group(format!("isa/{}", alg.name()));
        group.sample_size(10);
        group.throughput(Throughput::Elements(data.nnz() as u64));
        for (name, isa) in [
            ("portable", Isa::Portable),
            ("avx2", Isa::Avx2),
            ("avx512", Isa::Avx512),
        ] {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter_custom(|iters| time_iterations_on(data, 20, alg, iters, Some(isa)))
            });
        }
        group.finish();
    }

    for alg in [Algorithm::IgnoreMissing, Algorithm::IgnoreCorrupt] {
        let mut group = c.benchmark_group(format!("precision/{}", alg.name()));
        group.sample_size(10);
        group.throughput(Throughput::Elements(data.nnz() as u64));
        for precision in [Precision::F64, Precision::F32] {
            group.bench_function(BenchmarkId::from_parameter(precision), |b| {
                b.iter_custom(|iters| time_iterations_in(data, 20, alg, iters, None, precision))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_algorithms);
criterion_main!(benches);
