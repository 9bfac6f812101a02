//! Fixtures shared by the tests.

use std::path::{Path, PathBuf};

use cnmf_engine::{Algorithm, NmfModel, NmfParams, ValidNmfParams};
use cnmf_ratings::{RatingScale, Ratings};

/// A small deterministic data set: 60 users, 40 items, about a third of the pairs rated with
/// 1..5 from a rank-2 pattern, a few ratings flipped to the other end of the scale (so the
/// corrupt variants flag something), and one item rated by a single user.
pub fn fixture() -> Ratings {
    from_rows(&fixture_rows())
}

/// The rows of [`fixture`].
fn fixture_rows() -> Vec<(String, String, f64)> {
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
    rows
}

fn from_rows(rows: &[(String, String, f64)]) -> Ratings {
    Ratings::from_external(
        rows.iter().map(|(u, i, v)| (u.as_str(), i.as_str(), *v)),
        RatingScale::MOVIELENS,
    )
    .expect("valid fixture")
}

/// Seconds since the epoch of the fixtures' first rating.
const T0: i64 = 874_965_758;

/// [`fixture`] with timestamps spread over a year, a review bomb and a niche user, for
/// `guarded`'s screens: 12 new users `b0..b11` rate item `i0` 5 within one hour (a dense,
/// shifted burst: the burst screen holds it), and user `niche` rates three items nobody else
/// rates (its popularity score is far below everyone's: the profile screen screens it).
pub fn guarded_fixture() -> Ratings {
    let mut rows = fixture_rows();
    for b in 0..12 {
        rows.push((format!("b{b}"), "i0".into(), 5.0));
    }
    for r in 0..3 {
        rows.push(("niche".into(), format!("rare{r}"), 2.0 + r as f64));
    }
    let data = from_rows(&rows);
    let mut times = Vec::with_capacity(data.nnz());
    for u in 0..data.n_users() as u32 {
        let name = data.users().external(u).to_string();
        for &i in data.user(u).0 {
            let t = if let Some(b) = name.strip_prefix('b') {
                T0 + 200 * 86_400 + 60 * b.parse::<i64>().expect("bomber number")
            } else {
                // Spread over a year, one rating at a time.
                let p = times.len() as i64;
                T0 + (p * 7919) % 365 * 86_400 + p + i64::from(i)
            };
            times.push(t);
        }
    }
    data.with_times(times).expect("one time per rating")
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

/// [`guarded_fixture`] as a MovieLens u.data file with its timestamps (ids are the indices
/// plus one, lines in CSR order). Used by the `mpirun` tests only.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub fn write_guarded_fixture(dir: &Path) -> PathBuf {
    let data = guarded_fixture();
    let times = data.times().expect("timestamps");
    let mut text = String::new();
    for (t, time) in data.iter().zip(times) {
        text.push_str(&format!(
            "{}\t{}\t{}\t{time}\n",
            t.user + 1,
            t.item + 1,
            t.value
        ));
    }
    let path = dir.join("u.data");
    std::fs::write(&path, text).unwrap();
    path
}
