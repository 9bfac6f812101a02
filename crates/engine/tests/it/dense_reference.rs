//! The sparse updates of every algorithm equal the specification's dense formulas (and the
//! robust baselines' weighted ones).

use crate::common;

use cnmf_engine::{init_factors, Algorithm, FitOptions, NmfParams};
use common::{max_rel_diff, random_instance, Dense, DenseParams};

/// Runs `iters` iterations of the engine and of the dense reference from the same factors and
/// compares factors and flags.
fn compare(alg: Algorithm, seed: u64, iters: usize, lambda: f64, l2: f64, warmup: usize, k: usize) {
    compare_l2(alg, seed, iters, lambda, (l2, false), warmup, k);
}

/// [`compare`] with the L2 penalty `(value, per_rating)`.
fn compare_l2(
    alg: Algorithm,
    seed: u64,
    iters: usize,
    lambda: f64,
    (l2, per_rating): (f64, bool),
    warmup: usize,
    k: usize,
) {
    let (n, m) = (9, 13);
    let data = random_instance(n, m, 0.45, seed);
    let init = init_factors(n, m, k, data.mean(), seed ^ 7).unwrap();
    let model = NmfParams::new(k, alg)
        .lambda(lambda)
        .decay(0.9)
        .max_iters(iters)
        .l2_w(l2)
        .l2_h(l2 * 0.5)
        .l2_per_rating(per_rating)
        .warmup_iters(warmup)
        .check()
        .unwrap()
        .fit_with(&data, FitOptions::new().initial(&init))
        .unwrap();
    let mut dense = Dense::new(&data, k, init.w(), init.h());
    let p = DenseParams {
        algorithm: alg,
        lambda,
        decay: 0.9,
        l2_w: l2,
        l2_h: l2 * 0.5,
        l2_per_rating: per_rating,
        warmup,
        trim_fraction: cnmf_engine::DEFAULT_TRIM_FRACTION,
        user_scale: cnmf_engine::DEFAULT_USER_THRESHOLD_SCALE,
        item_scale: cnmf_engine::DEFAULT_ITEM_THRESHOLD_SCALE,
        screen: Some(cnmf_engine::DEFAULT_PROFILE_SCREEN),
    };
    for t in 1..=iters {
        dense.iterate(t, &p);
    }
    let dw = max_rel_diff(model.factors().w(), &dense.w);
    let dh = max_rel_diff(model.factors().h(), &dense.h_item_major());
    assert!(
        dw < 1e-9 && dh < 1e-9,
        "{alg} seed {seed}: W differs by {dw:e}, H by {dh:e}"
    );
    let mut dense_flags = Vec::new();
    for u in 0..n {
        for i in 0..m {
            if dense.v[u * m + i].is_some() && dense.z[u * m + i] {
                dense_flags.push((u as u32, i as u32));
            }
        }
    }
    assert_eq!(
        model.corrupt_entries(),
        &dense_flags[..],
        "{alg} seed {seed}: flags differ"
    );
    if alg.flags_corruption() {
        assert!(
            !dense_flags.is_empty(),
            "{alg} seed {seed}: the test needs some flags"
        );
    }
}

#[test]
fn every_algorithm_matches_the_dense_formulas() {
    for alg in Algorithm::ALL {
        for seed in 0..4 {
            compare(alg, seed, 6, 0.8, 0.0, 0, 3);
        }
    }
}

#[test]
fn dense_match_with_l2_and_warmup() {
    for alg in Algorithm::ALL {
        compare(alg, 11, 7, 0.5, 0.3, 2, 3);
    }
}

#[test]
fn dense_match_with_per_rating_l2() {
    for alg in Algorithm::ALL {
        for (seed, k) in [(12, 3), (13, 5)] {
            compare_l2(alg, seed, 7, 0.5, (0.15, true), 1, k);
        }
    }
}

/// Ranks the engine compiles as constants (5, 20: one and two register blocks) and ranks it
/// handles at run time (3 above, 13 here: blocks of 7 and 6) take the same numerics.
#[test]
fn dense_match_at_specialised_and_generic_ranks() {
    for alg in Algorithm::ALL {
        for k in [5, 13, 20] {
            compare(alg, 21, 5, 0.6, 0.0, 0, k);
        }
    }
}
