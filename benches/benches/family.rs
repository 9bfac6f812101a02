//! Criterion benchmarks of the NMF family (crate `cnmf-family`) at k = 20 on a
//! MovieLens-1M-sized synthetic set (6040 users x 3706 items, 1,000,209 ratings, from
//! `cnmf_ratings::synthetic`, seed 1):
//!
//! * `family-iteration/<method>`: one iteration (epoch) of
//!   - `lee-seung-frobenius-sparse`, `lee-seung-kl-sparse`: zeros-are-data Lee–Seung on the
//!     ratings' CSR as a count matrix (W normalisation on),
//!   - `lee-seung-kl-ignore-missing`, `lee-seung-frobenius-ignore-missing`: on the ratings,
//!   - `biased-nmf`: one full-batch projected Adam epoch,
//!   - `adversarial-mf`: one adversarial epoch (epsilon 0.3, alpha 1).
//!
//!   Measured from the fit's observer: a fit of `1 + iters` iterations runs and the time
//!   between the observer's calls for iterate 1 and iterate `1 + iters` is reported, so
//!   set-up (input checks, CSC copy, initialisation) and the first iteration are excluded.
//! * `family-query/similar-items-10`: top 10 cosine neighbours of one item among 3706;
//!   `rank-weighted-estimate-20`: the slides' estimate from 20 neighbours among a user's
//!   rated items; `fold-in`: folding in a user with 200 ratings.
//!
//! Threads: rayon's global pool (all cores).
//!
//! Run: `cargo bench -p cnmf-benches --bench family -- --warm-up-time 1 --measurement-time 3`

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use cnmf_family::{
    AdversarialParams, BiasedNmfModel, BiasedNmfParams, FitOptions, ItemNeighbours, IterationStats,
    LeeSeungParams, MissingRating, NeighbourParams, Objective, Observer,
};
use cnmf_ratings::synthetic::SyntheticParams;
use cnmf_ratings::Ratings;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const K: usize = 20;

fn synthetic_1m() -> Ratings {
    SyntheticParams::ml1m()
        .seed(1)
        .check()
        .expect("valid synthetic parameters")
        .generate()
}

/// Records when each iterate is reported.
struct Clock(Vec<Instant>);

impl Observer for Clock {
    fn on_iteration(&mut self, _stats: &IterationStats) -> ControlFlow<()> {
        self.0.push(Instant::now());
        ControlFlow::Continue(())
    }
}

/// Time of `iters` iterations: from the report of iterate 1 to that of iterate `1 + iters`
/// in a fit of `1 + iters` iterations run by `fit`.
fn timed(iters: u64, fit: impl FnOnce(usize, &mut Clock)) -> Duration {
    let n = iters as usize;
    let mut clock = Clock(Vec::with_capacity(n + 2));
    fit(n + 1, &mut clock);
    // The observer hears iterations 1..=n+1: entries 0..=n.
    clock.0[n] - clock.0[0]
}

fn iterations(c: &mut Criterion) {
    let data = synthetic_1m();
    let counts = data.csr().clone();
    let mut g = c.benchmark_group("family-iteration");
    g.sample_size(10)
        .throughput(Throughput::Elements(data.nnz() as u64));

    for (name, objective) in [
        ("lee-seung-frobenius-sparse", Objective::Frobenius),
        ("lee-seung-kl-sparse", Objective::KullbackLeibler),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed(iters, |its, clock| {
                    LeeSeungParams::new(K)
                        .objective(objective)
                        .normalize_w(true)
                        .max_iters(its)
                        .check()
                        .unwrap()
                        .fit_with(&counts, FitOptions::new().observer(clock))
                        .unwrap();
                })
            })
        });
    }
    for (name, objective) in [
        ("lee-seung-frobenius-ignore-missing", Objective::Frobenius),
        ("lee-seung-kl-ignore-missing", Objective::KullbackLeibler),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed(iters, |its, clock| {
                    LeeSeungParams::new(K)
                        .objective(objective)
                        .max_iters(its)
                        .check()
                        .unwrap()
                        .fit_with(&data, FitOptions::new().observer(clock))
                        .unwrap();
                })
            })
        });
    }
    g.bench_function("biased-nmf", |b| {
        b.iter_custom(|iters| {
            timed(iters, |its, clock| {
                BiasedNmfParams::new(K)
                    .max_iters(its)
                    .check()
                    .unwrap()
                    .fit_with(&data, FitOptions::new().observer(clock))
                    .unwrap();
            })
        })
    });
    g.bench_function("adversarial-mf", |b| {
        b.iter_custom(|iters| {
            timed(iters, |its, clock| {
                AdversarialParams::new(K)
                    .max_iters(its)
                    .check()
                    .unwrap()
                    .fit_with(&data, FitOptions::new().observer(clock))
                    .unwrap();
            })
        })
    });
    g.finish();
}

fn queries(c: &mut Criterion) {
    let data = synthetic_1m();
    let model: BiasedNmfModel = BiasedNmfParams::new(K)
        .max_iters(20)
        .check()
        .unwrap()
        .fit(&data)
        .unwrap();
    let nb = ItemNeighbours::from_item_major(model.item_factor_matrix(), K).unwrap();
    // A user with at least 200 ratings and an item they did not rate.
    let user = (0..data.n_users() as u32)
        .find(|&u| data.user_count(u) >= 200)
        .expect("an active user");
    let (items, values) = data.user(user);
    let target = (0..data.n_items() as u32)
        .find(|i| items.binary_search(i).is_err())
        .unwrap();
    let pairs: Vec<(u32, f64)> = items
        .iter()
        .copied()
        .zip(values.iter().copied())
        .take(200)
        .collect();
    let params = NeighbourParams::new(20)
        .missing(MissingRating::RatedOnly)
        .check()
        .unwrap();

    let mut g = c.benchmark_group("family-query");
    g.bench_function("similar-items-10", |b| {
        b.iter(|| nb.similar_items(std::hint::black_box(target), 10).unwrap())
    });
    g.bench_function("rank-weighted-estimate-20", |b| {
        b.iter(|| {
            nb.estimate(&params, std::hint::black_box(target), items, values)
                .unwrap()
        })
    });
    g.bench_function("fold-in-200", |b| {
        b.iter(|| model.fold_in(std::hint::black_box(&pairs)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, iterations, queries);
criterion_main!(benches);
