//! Criterion benchmarks of the attack generators and the attack-impact metrics on made-up data
//! of MovieLens 1M's shape (6040 users, 3706 items, about 1M ratings).
//!
//! Run: `cargo bench -p cnmf-benches --bench attacks -- --warm-up-time 1 --measurement-time 3`

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use cnmf_attacks::{AttackSize, AttackSpec, TargetChoice};
use cnmf_metrics::{hit_ratio, prediction_shift};
use cnmf_ratings::{DuplicatePolicy, IdMap, RatingScale, Ratings, Triple};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const USERS: usize = 6040;
const ITEMS: usize = 3706;
const RANK: usize = 20;

/// SplitMix64: a tiny deterministic generator, enough for made-up benchmark data.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// About 1M ratings: each user rates a skewed random set of items (popular items more often).
fn made_up_ml1m() -> Ratings {
    let mut s = 42u64;
    let mut triples = Vec::with_capacity(1_000_000);
    for u in 0..USERS as u32 {
        let len = 20 + (splitmix(&mut s) % 312) as usize; // mean about 165 ratings per user
        let mut items: Vec<u32> = (0..len)
            .map(|_| {
                // The square of a uniform skews towards low indices: a long tail of popularity.
                let x = (splitmix(&mut s) % 1_000_000) as f64 / 1_000_000.0;
                (x * x * ITEMS as f64) as u32
            })
            .collect();
        items.sort_unstable();
        items.dedup();
        for i in items {
            triples.push(Triple::new(u, i, (1 + splitmix(&mut s) % 5) as f64));
        }
    }
    Ratings::from_triples(
        Arc::new(IdMap::sequential(USERS)),
        Arc::new(IdMap::sequential(ITEMS)),
        RatingScale::MOVIELENS,
        &triples,
        DuplicatePolicy::Error,
    )
    .expect("made-up data is valid")
}

fn generators(c: &mut Criterion) {
    let data = made_up_ml1m();
    eprintln!(
        "made-up data: {} users, {} items, {} ratings",
        data.n_users(),
        data.n_items(),
        data.nnz()
    );
    let mut group = c.benchmark_group("attacks/ml1m-shape");
    group.sample_size(10);
    let specs = [
        ("random-noise", AttackSpec::random_noise(0.1)),
        ("low-knowledge", AttackSpec::low_knowledge()),
        ("informed", AttackSpec::informed()),
        ("average", AttackSpec::average()),
        ("bandwagon", AttackSpec::bandwagon(5)),
    ];
    for (name, spec) in specs {
        let spec = spec.seed(1).check().expect("valid spec");
        group.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |_| black_box(spec.generate(&data).expect("generates")),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn impact_metrics(c: &mut Criterion) {
    let data = made_up_ml1m();
    let out = AttackSpec::low_knowledge()
        .size(AttackSize::Fraction(0.05))
        .targets(TargetChoice::Drawn {
            count: 1,
            min_ratings: 100,
        })
        .seed(3)
        .check()
        .and_then(|s| s.generate(&data))
        .expect("attack");
    let target = out.truth.targets()[0];
    let genuine = out.truth.genuine_users();
    // Rank-20 factors, users and items contiguous, as a factor model would hold them.
    let mut s = 7u64;
    let mut factor = |n: usize| -> Vec<f64> {
        (0..n * RANK)
            .map(|_| (splitmix(&mut s) % 1000) as f64 / 2000.0)
            .collect()
    };
    let (w, h, w2) = (
        factor(out.ratings.n_users()),
        factor(ITEMS),
        factor(out.ratings.n_users()),
    );
    let dot = |w: &[f64], u: u32, i: u32| -> f64 {
        let wu = &w[u as usize * RANK..(u as usize + 1) * RANK];
        let hi = &h[i as usize * RANK..(i as usize + 1) * RANK];
        wu.iter().zip(hi).map(|(a, b)| a * b).sum()
    };
    let clean = |u: u32, i: u32| dot(&w, u, i);
    let attacked = |u: u32, i: u32| dot(&w2, u, i);

    let mut group = c.benchmark_group("metrics/ml1m-shape");
    group.sample_size(10);
    group.bench_function("prediction-shift-all-genuine", |b| {
        b.iter(|| black_box(prediction_shift(&clean, &attacked, &data, &genuine, target).unwrap()))
    });
    let sample = cnmf_metrics::sample_users(&genuine, 500, 1);
    group.bench_function("hit-ratio-at-10-500-users", |b| {
        b.iter(|| black_box(hit_ratio(&clean, &attacked, &data, &sample, &[target], 10).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, generators, impact_metrics);
criterion_main!(benches);
