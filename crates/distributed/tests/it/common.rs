//! Fixtures shared by the tests.

use std::path::{Path, PathBuf};

use cnmf_engine::{Algorithm, NmfModel, NmfParams, ValidNmfParams};
use cnmf_ratings::{RatingScale, Ratings};

/// A small deterministic data set: 60 users, 40 items, about a third of the pairs rated with
/// 1..5 from a rank-2 pattern, a few ratings flipped to the other end of the scale (so the
/// corrupt variants flag something), and one item rated by a single user.
pub fn fixture() -> Ratings {
    let mut rows: Vec<(String, String, f64)> = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for u in 0..60u64 {
        for i in 0..40u64 {
            if next() % 3 != 0 {
                continue;
            }
            let base = 1.0
                + ((u % 5) as f64 * 0.6 + (i % 4) as f64 * 0.5)
                    .round()
                    .min(4.0);
            let v = if next() % 17 == 0 { 6.0 - base } else { base };
            rows.push((format!("u{u}"), format!("i{i}"), v));
        }
    }
    rows.push(("u7".into(), "lonely".into(), 4.0));
    Ratings::from_external(
        rows.iter().map(|(u, i, v)| (u.as_str(), i.as_str(), *v)),
        RatingScale::MOVIELENS,
    )
    .expect("valid fixture")
}

/// Parameters for `alg` with the given rank and iterations (λ = 2 where it is used, a warm-up
/// of 3, a constant L2 of 0.01, seed 7).
pub fn params(alg: Algorithm, k: usize, iters: usize) -> ValidNmfParams {
    let mut p = NmfParams::new(k, alg)
        .max_iters(iters)
        .seed(7)
        .threads(1)
        .l2_w(0.01)
        .l2_h(0.01);
    if alg.needs_lambda() {
        p = p.lambda(2.0).warmup_iters(3);
    }
    p.check().expect("valid parameters")
}

/// The largest relative difference between the two models' raw predictions on every observed
/// rating of `data`.
pub fn max_rel_diff(data: &Ratings, a: &NmfModel, b: &NmfModel) -> f64 {
    let mut worst = 0.0f64;
    for t in data.iter() {
        let (x, y) = (a.predict_raw(t.user, t.item), b.predict_raw(t.user, t.item));
        let rel = (x - y).abs() / x.abs().max(y.abs()).max(1e-300);
        assert!(x.is_finite() && y.is_finite(), "non-finite prediction");
        worst = worst.max(rel);
    }
    worst
}

/// The fixture as a MovieLens u.data file (user, item, rating, timestamp; tabs; ids are the
/// fixture's indices plus one).
pub fn write_fixture(dir: &Path) -> PathBuf {
    let data = fixture();
    let mut text = String::new();
    for t in data.iter() {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            t.user + 1,
            t.item + 1,
            t.value,
            874_965_758
        ));
    }
    let path = dir.join("u.data");
    std::fs::write(&path, text).unwrap();
    path
}
