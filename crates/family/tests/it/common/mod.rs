//! Planted data shared by the integration tests.

#![allow(dead_code)]

use std::sync::Arc;

use cnmf_ratings::{DuplicatePolicy, IdMap, RatingScale, Ratings, Triple};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A planted biased NMF truth: row-major `P` (n x k), `Q` (m x k) and biases.
pub struct Planted {
    pub k: usize,
    pub p: Vec<f64>,
    pub q: Vec<f64>,
    pub bu: Vec<f64>,
    pub bi: Vec<f64>,
    pub b: f64,
}

impl Planted {
    pub fn new(n: usize, m: usize, k: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut draw = |len: usize, lo: f64, hi: f64| -> Vec<f64> {
            (0..len).map(|_| rng.random_range(lo..hi)).collect()
        };
        // Factor entries up to sqrt(1.1 / k): the dot products stay in [0, 1.1] and the ratings
        // in [2.2, 4.9], inside the 1..5 scale.
        let hi = (1.1 / k as f64).sqrt();
        Planted {
            k,
            p: draw(n * k, 0.0, hi),
            q: draw(m * k, 0.0, hi),
            bu: draw(n, -0.4, 0.4),
            bi: draw(m, -0.4, 0.4),
            b: 3.0,
        }
    }

    /// The noise-free rating (inside 1..5 for the ranges above and small k).
    pub fn rating(&self, u: usize, i: usize) -> f64 {
        let k = self.k;
        let dot: f64 = (0..k).map(|a| self.p[u * k + a] * self.q[i * k + a]).sum();
        dot + self.bu[u] + self.bi[i] + self.b
    }
}

/// Ratings of every (u, i) for which `observed(u, i)` holds, exact planted values.
pub fn ratings_of(
    truth: &Planted,
    n: usize,
    m: usize,
    observed: impl Fn(usize, usize) -> bool,
) -> Ratings {
    let mut t = Vec::new();
    for u in 0..n {
        for i in 0..m {
            if observed(u, i) {
                t.push(Triple::new(u as u32, i as u32, truth.rating(u, i)));
            }
        }
    }
    Ratings::from_triples(
        Arc::new(IdMap::sequential(n)),
        Arc::new(IdMap::sequential(m)),
        RatingScale::MOVIELENS,
        &t,
        DuplicatePolicy::Error,
    )
    .expect("planted ratings lie in 1..5")
}

/// A deterministic pseudo-random mask with about `density` of the entries.
pub fn mask(seed: u64, density: f64) -> impl Fn(usize, usize) -> bool {
    move |u, i| {
        let mut z = seed ^ ((u as u64) << 32 | i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z as f64 / u64::MAX as f64) < density
    }
}

/// Runs `f` on a rayon pool with `threads` threads.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}
