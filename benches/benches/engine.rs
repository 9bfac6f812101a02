//! Criterion benchmarks of the factorization engine.
//!
//! * `iteration/<algorithm>/synthetic-1m`: one iteration of each algorithm at k = 20 on a
//!   MovieLens-1M-sized synthetic instance (6040 users, 3706 items, 1,000,209 ratings,
//!   power-law item popularity, ratings 1..5), generated here deterministically.
//! * `iteration/<algorithm>/ml-100k`: the same on MovieLens 100K when `CNMF_DATA` points to
//!   the data directory (skipped with a message otherwise).
//! * `rank/ignore-missing/k`: one ignore-missing iteration at k = 10, 20, 50, 100.
//!
//! "One iteration" is measured from the engine's own trace: a fit of `1 + iters` iterations
//! runs and the time between the end of iteration 1 and the end of iteration `1 + iters` is
//! reported, so set-up (initialisation, buffers) and the final statistics pass are excluded.
//! Threads: rayon's global pool (all cores).
//!
//! Run: `cargo bench -p cnmf-benches --bench engine -- --warm-up-time 1 --measurement-time 3`

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use cnmf_engine::{Algorithm, NmfParams};
use cnmf_ratings::{RatingScale, Ratings};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// SplitMix64: a tiny deterministic generator (the benches crate has no rand dependency).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// ML-1M-sized synthetic ratings: uniform users, Zipf-like items (weight `1 / (rank + 10)`),
/// ratings 1..5 with an item-dependent mean. Deterministic.
fn synthetic_1m() -> Ratings {
    const USERS: usize = 6040;
    const ITEMS: usize = 3706;
    const RATINGS: usize = 1_000_209;
    let mut rng = SplitMix(20_240_601);
    let mut cumulative = Vec::with_capacity(ITEMS);
    let mut total = 0.0;
    for r in 0..ITEMS {
        total += 1.0 / (r as f64 + 10.0);
        cumulative.push(total);
    }
    let mut seen = HashSet::with_capacity(RATINGS);
    let mut triples = Vec::with_capacity(RATINGS);
    let users: Vec<String> = (0..USERS).map(|u| u.to_string()).collect();
    let items: Vec<String> = (0..ITEMS).map(|i| i.to_string()).collect();
    while triples.len() < RATINGS {
        let u = (rng.next() % USERS as u64) as usize;
        let x = rng.unit() * total;
        let i = cumulative.partition_point(|&c| c < x).min(ITEMS - 1);
        if !seen.insert((u, i)) {
            continue;
        }
        let base = 1.0 + 4.0 * ((i * 7919 % 97) as f64 / 96.0);
        let r = (base + 2.0 * rng.unit() - 1.0).round().clamp(1.0, 5.0);
        triples.push((u, i, r));
    }
    Ratings::from_external(
        triples
            .iter()
            .map(|&(u, i, r)| (users[u].as_str(), items[i].as_str(), r)),
        RatingScale::MOVIELENS,
    )
    .expect("valid synthetic ratings")
}

/// MovieLens 100K from `$CNMF_DATA/ml-100k/u.data`, or `None` (with a message) when unset.
fn ml100k() -> Option<Ratings> {
    let Some(dir) = std::env::var_os("CNMF_DATA") else {
        eprintln!("CNMF_DATA is not set: skipping the MovieLens 100K engine benches");
        return None;
    };
    let path = PathBuf::from(dir).join("ml-100k").join("u.data");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "cannot read {}: {e}; skipping the MovieLens 100K benches",
                path.display()
            );
            return None;
        }
    };
    let rows: Vec<(&str, &str, f64)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let u = f.next().expect("user");
            let i = f.next().expect("item");
            let r: f64 = f.next().expect("rating").parse().expect("numeric rating");
            (u, i, r)
        })
        .collect();
    Some(Ratings::from_external(rows, RatingScale::MOVIELENS).expect("valid u.data"))
}

/// Time of `iters` iterations, from the fit's trace (see the module docs).
fn time_iterations(data: &Ratings, k: usize, algorithm: Algorithm, iters: u64) -> Duration {
    let model = NmfParams::new(k, algorithm)
        .lambda(1.0)
        .max_iters(1 + iters as usize)
        .seed(1)
        .check()
        .expect("valid parameters")
        .fit(data)
        .expect("fit");
    let trace = model.trace();
    let secs = trace[trace.len() - 1].elapsed_secs - trace[1].elapsed_secs;
    Duration::from_secs_f64(secs)
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
}

criterion_group!(benches, bench_algorithms);
criterion_main!(benches);
