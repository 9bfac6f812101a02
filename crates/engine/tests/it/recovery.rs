//! Recovery of a planted nonnegative low-rank matrix, with missing entries and gross outliers.

use crate::common;

use std::collections::HashSet;

use cnmf_engine::{init_factors, Algorithm, NmfModel, NmfParams};
use cnmf_ratings::{RatingScale, Triple};
use common::ratings;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 150;
const M: usize = 120;
const RANK: usize = 3;

struct Planted {
    train: Vec<Triple>,
    held_out: Vec<Triple>,
    outliers: HashSet<(u32, u32)>,
}

/// `V = W H` with entries of `W`, `H` in `s U(0.5, 1.5)` (the engine's own initialisation law,
/// drawn with another seed), 30% of the entries held out, and a fraction of the observed ones
/// replaced by gross outliers (the far end of the scale).
fn planted(outlier_fraction: f64) -> Planted {
    let truth = init_factors(N, M, RANK, 2.0, 1234).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut p = Planted {
        train: Vec::new(),
        held_out: Vec::new(),
        outliers: HashSet::new(),
    };
    for u in 0..N as u32 {
        for i in 0..M as u32 {
            let v = truth.predict(u, i);
            assert!((0.0..=5.0).contains(&v));
            if rng.random_bool(0.3) {
                p.held_out.push(Triple::new(u, i, v));
            } else if rng.random_bool(outlier_fraction) {
                let bad = if v < 2.0 { 5.0 } else { 0.0 };
                p.outliers.insert((u, i));
                p.train.push(Triple::new(u, i, bad));
            } else {
                p.train.push(Triple::new(u, i, v));
            }
        }
    }
    p
}

fn rmse(model: &NmfModel, test: &[Triple]) -> f64 {
    let s: f64 = test
        .iter()
        .map(|t| (t.value - model.predict(t.user, t.item)).powi(2))
        .sum();
    (s / test.len() as f64).sqrt()
}

fn scale() -> RatingScale {
    RatingScale::new(0.0, 5.0).unwrap()
}

#[test]
fn ignore_missing_recovers_the_missing_entries() {
    let p = planted(0.0);
    let data = ratings(N, M, &p.train, scale());
    let model = NmfParams::new(RANK, Algorithm::IgnoreMissing)
        .max_iters(400)
        .seed(3)
        .check()
        .unwrap()
        .fit(&data)
        .unwrap();
    let err = rmse(&model, &p.held_out);
    eprintln!("ignore-missing held-out RMSE {err:.4}");
    // The planted values spread over about [0.5, 4.5]; predicting them to 0.05 is recovery.
    assert!(err < 0.05, "held-out RMSE {err}");
}

#[test]
fn ignore_corrupt_flags_outliers_and_beats_ignore_missing() {
    let p = planted(0.05);
    assert!(p.outliers.len() > 200);
    let data = ratings(N, M, &p.train, scale());
    let fit = |alg| {
        NmfParams::new(RANK, alg)
            .lambda(1.0)
            .max_iters(300)
            .seed(3)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap()
    };
    let robust = fit(Algorithm::IgnoreCorrupt);
    let plain = fit(Algorithm::IgnoreMissing);
    let flagged: HashSet<(u32, u32)> = robust.corrupt_entries().iter().copied().collect();
    let hits = flagged.intersection(&p.outliers).count() as f64;
    let precision = hits / flagged.len().max(1) as f64;
    let recall = hits / p.outliers.len() as f64;
    assert!(
        precision > 0.9,
        "precision {precision} ({} flagged)",
        flagged.len()
    );
    assert!(recall > 0.9, "recall {recall}");
    let (r, q) = (rmse(&robust, &p.held_out), rmse(&plain, &p.held_out));
    eprintln!(
        "outliers: precision {precision:.3}, recall {recall:.3}; held-out RMSE ignore-corrupt \
         {r:.4}, ignore-missing {q:.4}"
    );
    assert!(
        r < 0.5 * q,
        "ignore-corrupt held-out RMSE {r} vs ignore-missing {q}"
    );
    assert!(r < 0.1, "ignore-corrupt held-out RMSE {r}");
}
