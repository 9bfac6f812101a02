//! Lee–Seung NMF: monotonicity (property tests), agreement between the dense, sparse and
//! ignore-missing paths, the normalisation's compensation, determinism, and errors.

// Index loops mirror the formulas being checked.
#![allow(clippy::needless_range_loop)]

use cnmf_family::CsMatI;
use cnmf_family::DMatrix;
use cnmf_family::{
    FamilyError, FitOptions, IterationStats, LeeSeungModel, LeeSeungParams, Objective,
};
use cnmf_ratings::{RatingScale, Ratings};
use proptest::prelude::*;
use sprs::TriMatI;
use std::ops::ControlFlow;

/// The sparse (CSR) copy of a dense matrix, zeros dropped.
fn to_csr(v: &DMatrix<f64>) -> CsMatI<f64, u32> {
    let mut t = TriMatI::<f64, u32>::new(v.shape());
    for j in 0..v.ncols() {
        for i in 0..v.nrows() {
            if v[(i, j)] != 0.0 {
                t.add_triplet(i, j, v[(i, j)]);
            }
        }
    }
    t.to_csr()
}

/// Ratings holding the entries of `v` where `mask` is true.
fn to_ratings(v: &DMatrix<f64>, mask: impl Fn(usize, usize) -> bool) -> Ratings {
    let names_u: Vec<String> = (0..v.nrows()).map(|i| format!("u{i}")).collect();
    let names_i: Vec<String> = (0..v.ncols()).map(|j| format!("i{j}")).collect();
    let mut triples = Vec::new();
    for i in 0..v.nrows() {
        for j in 0..v.ncols() {
            if mask(i, j) {
                triples.push((names_u[i].as_str(), names_i[j].as_str(), v[(i, j)]));
            }
        }
    }
    Ratings::from_external(triples, RatingScale::new(0.0, 10.0).unwrap()).unwrap()
}

/// Every step of the trace is a decrease, up to rounding relative to the start.
fn assert_monotone(trace: &[f64]) {
    let tol = 1e-9 * trace[0].abs().max(1.0);
    for (t, w) in trace.windows(2).enumerate() {
        assert!(
            w[1] <= w[0] + tol,
            "objective rose at iteration {}: {} -> {} (trace start {})",
            t + 1,
            w[0],
            w[1],
            trace[0]
        );
    }
}

fn objective_of(kl: bool) -> Objective {
    if kl {
        Objective::KullbackLeibler
    } else {
        Objective::Frobenius
    }
}

/// A random nonnegative matrix with some exact zeros and at least one positive entry.
fn matrix() -> impl Strategy<Value = DMatrix<f64>> {
    (2usize..7, 2usize..7).prop_flat_map(|(n, m)| {
        prop::collection::vec(prop_oneof![Just(0.0), 0.0..5.0f64], n * m).prop_map(move |mut d| {
            d[0] += 1.0;
            DMatrix::from_vec(n, m, d)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn dense_objective_never_increases(
        v in matrix(), rank in 1usize..4, kl: bool, normalize: bool, seed: u64,
    ) {
        let model = LeeSeungParams::new(rank)
            .objective(objective_of(kl))
            .normalize_w(normalize)
            .max_iters(60)
            .seed(seed)
            .check()
            .unwrap()
            .fit(&v)
            .unwrap();
        prop_assert_eq!(model.objective_trace().len(), 61);
        assert_monotone(model.objective_trace());
        prop_assert!(model.w().iter().chain(model.h().iter()).all(|&x| x >= 0.0));
    }

    #[test]
    fn sparse_objective_never_increases(
        v in matrix(), rank in 1usize..4, kl: bool, normalize: bool, seed: u64,
    ) {
        let model = LeeSeungParams::new(rank)
            .objective(objective_of(kl))
            .normalize_w(normalize)
            .max_iters(60)
            .seed(seed)
            .check()
            .unwrap()
            .fit(&to_csr(&v))
            .unwrap();
        assert_monotone(model.objective_trace());
    }

    #[test]
    fn ignore_missing_objective_never_increases(
        v in matrix(), mask_bits: u64, rank in 1usize..4, kl: bool, normalize: bool, seed: u64,
    ) {
        // Observed where the mask bit is set (entry (0, 0) always, so it is never empty).
        let m = v.ncols();
        let observed = |i: usize, j: usize| (i, j) == (0, 0) || (mask_bits >> ((i * m + j) % 64)) & 1 == 1;
        let r = to_ratings(&v, observed);
        prop_assume!(r.mean() > 0.0);
        // Frobenius on ratings is the engine's ignore-missing, which does not normalise.
        prop_assume!(kl || !normalize);
        let model = LeeSeungParams::new(rank)
            .objective(objective_of(kl))
            .normalize_w(normalize)
            .max_iters(60)
            .seed(seed)
            .check()
            .unwrap()
            .fit(&r)
            .unwrap();
        assert_monotone(model.factors().objective_trace());
    }
}

fn random_matrix(n: usize, m: usize, seed: u64) -> DMatrix<f64> {
    // A small deterministic generator (splitmix64), zeros on about a third of the entries.
    let mut s = seed;
    DMatrix::from_fn(n, m, |_, _| {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let u = (z ^ (z >> 31)) as f64 / u64::MAX as f64;
        if u < 0.33 {
            0.0
        } else {
            1.0 + 4.0 * u
        }
    })
}

fn assert_close(a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64, what: &str) {
    assert_eq!(a.shape(), b.shape());
    let scale = a.amax().max(1.0);
    let diff = (a - b).amax();
    assert!(
        diff <= tol * scale,
        "{what}: max difference {diff} (scale {scale})"
    );
}

#[test]
fn dense_and_sparse_follow_the_same_iterates() {
    let v = random_matrix(23, 17, 5);
    for kl in [false, true] {
        for normalize in [false, true] {
            let p = LeeSeungParams::new(3)
                .objective(objective_of(kl))
                .normalize_w(normalize)
                .max_iters(40)
                .seed(9)
                .check()
                .unwrap();
            let dense = p.fit(&v).unwrap();
            let sparse = p.fit(&to_csr(&v)).unwrap();
            let csc = p.fit(&to_csr(&v).to_csc()).unwrap();
            let what = format!("kl={kl} normalize={normalize}");
            assert_close(dense.w(), sparse.w(), 1e-9, &what);
            assert_close(dense.h(), sparse.h(), 1e-9, &what);
            assert_eq!(sparse, csc, "CSR and CSC input must give identical fits");
            for (a, b) in dense.objective_trace().iter().zip(sparse.objective_trace()) {
                assert!(
                    (a - b).abs() <= 1e-9 * a.max(1.0),
                    "{what}: traces {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn ignore_missing_with_everything_observed_is_the_complete_fit() {
    let v = random_matrix(12, 9, 11).map(|x| if x == 0.0 { 0.5 } else { x });
    let r = to_ratings(&v, |_, _| true);
    for kl in [false, true] {
        let p = LeeSeungParams::new(2)
            .objective(objective_of(kl))
            .max_iters(50)
            .seed(3)
            .check()
            .unwrap();
        let dense = p.fit(&v).unwrap();
        let masked = p.fit(&r).unwrap();
        assert_close(dense.w(), masked.factors().w(), 1e-9, "W");
        assert_close(dense.h(), masked.factors().h(), 1e-9, "H");
    }
}

/// Lee–Seung Frobenius on ratings delegates to the engine's ignore-missing: same factors and
/// objective trace, bit for bit, from the same seed (with part of the matrix missing, so the
/// mask matters). Together with the test above (all observed = the dense nalgebra fit to
/// 1e-9) this ties the engine's masked update to the textbook formula.
#[test]
fn frobenius_on_ratings_is_the_engines_ignore_missing() {
    use cnmf_engine::{Algorithm, NmfParams};
    let v = random_matrix(14, 10, 5).map(|x| x + 0.25);
    let r = to_ratings(&v, |i, j| (i * 7 + j * 3) % 5 != 0);
    let family = LeeSeungParams::new(3)
        .max_iters(40)
        .seed(9)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    let engine = NmfParams::new(3, Algorithm::IgnoreMissing)
        .max_iters(40)
        .seed(9)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    let trace: Vec<f64> = engine.trace().iter().map(|s| s.objective).collect();
    assert_eq!(family.factors().objective_trace(), &trace[..]);
    for u in 0..r.n_users() as u32 {
        for i in 0..r.n_items() as u32 {
            assert_eq!(
                cnmf_metrics::Predictor::predict_raw(&family, u, i),
                engine.predict_raw(u, i)
            );
        }
    }
    // Normalising W is not available on that path: an error, not a silent no-op.
    let err = LeeSeungParams::new(3)
        .normalize_w(true)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap_err();
    assert!(
        matches!(
            err,
            FamilyError::InvalidParameter {
                name: "normalize_w",
                ..
            }
        ),
        "{err}"
    );
}

/// Multiplicative updates are invariant to rescaling the columns of W against the rows of H,
/// so with the compensating scaling the normalised run has the same W H as the plain one; a
/// normalisation that forgot to scale H would change W H.
#[test]
fn normalisation_keeps_the_product_and_sums_columns_to_one() {
    let v = random_matrix(15, 11, 21);
    for kl in [false, true] {
        let fit = |normalize: bool| -> LeeSeungModel {
            LeeSeungParams::new(3)
                .objective(objective_of(kl))
                .normalize_w(normalize)
                .max_iters(30)
                .check()
                .unwrap()
                .fit(&to_csr(&v))
                .unwrap()
        };
        let (plain, normalised) = (fit(false), fit(true));
        assert_close(
            &(plain.w() * plain.h()),
            &(normalised.w() * normalised.h()),
            1e-9,
            "W H",
        );
        for a in 0..3 {
            let s = normalised.w().column(a).sum();
            // The last iteration's H update comes after the normalisation, W is untouched.
            assert!((s - 1.0).abs() < 1e-12, "column {a} sums to {s}");
        }
    }
}

#[test]
fn tolerance_stops_early_at_the_same_point_for_dense_and_sparse() {
    let v = random_matrix(20, 14, 2);
    let p = LeeSeungParams::new(2)
        .objective(Objective::KullbackLeibler)
        .max_iters(5000)
        .tolerance(1e-4)
        .check()
        .unwrap();
    let dense = p.fit(&v).unwrap();
    let sparse = p.fit(&to_csr(&v)).unwrap();
    assert!(dense.iterations() < 5000, "did not stop early");
    assert_eq!(dense.iterations(), sparse.iterations());
    let t = dense.objective_trace();
    let (prev, last) = (t[t.len() - 2], t[t.len() - 1]);
    assert!(prev - last <= 1e-4 * prev);
    assert!(t[..t.len() - 1]
        .windows(2)
        .all(|w| w[0] - w[1] > 1e-4 * w[0]));
    assert_close(dense.w(), sparse.w(), 1e-9, "W");
}

#[test]
fn sparse_fit_is_bit_identical_for_any_thread_count() {
    let v = to_csr(&random_matrix(600, 300, 8));
    for kl in [false, true] {
        let p = LeeSeungParams::new(4)
            .objective(objective_of(kl))
            .normalize_w(true)
            .max_iters(10)
            .check()
            .unwrap();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| p.fit(&v).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(3));
        assert_eq!(one, run(4));
    }
    // The ignore-missing path too (the same passes, with per-entry denominators).
    let dense = random_matrix(300, 200, 3);
    let r = to_ratings(&dense, |i, j| dense[(i, j)] > 0.0);
    let p = LeeSeungParams::new(4).max_iters(10).check().unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| p.fit(&r).unwrap())
    };
    assert_eq!(run(1), run(4));
}

#[test]
fn an_all_zero_row_of_count_data_gets_zero_factors() {
    // Zeros are data: a row of zeros is fitted exactly by a zero row of W.
    let mut v = random_matrix(8, 6, 4);
    v.row_mut(3).fill(0.0);
    let m = LeeSeungParams::new(2)
        .objective(Objective::KullbackLeibler)
        .max_iters(20)
        .check()
        .unwrap()
        .fit(&to_csr(&v))
        .unwrap();
    assert!(m.w().row(3).iter().all(|&x| x == 0.0));
}

#[test]
fn a_user_without_ratings_keeps_its_initial_factors() {
    let v = random_matrix(6, 5, 6).map(|x| x + 1.0);
    let full = to_ratings(&v, |_, _| true);
    // User 5 stays in the id maps but loses all its ratings.
    let kept: Vec<_> = full.triples().into_iter().filter(|t| t.user != 5).collect();
    let only = full
        .with_triples(&kept, cnmf_ratings::DuplicatePolicy::Error)
        .unwrap();
    assert_eq!((only.n_users(), only.user_count(5)), (6, 0));
    let fit = |iterations: usize| {
        LeeSeungParams::new(2)
            .max_iters(iterations)
            .check()
            .unwrap()
            .fit(&only)
            .unwrap()
    };
    let (one, many) = (fit(1), fit(25));
    assert_eq!(
        one.factors().w().row(5),
        many.factors().w().row(5),
        "an empty row must keep its factors"
    );
    assert!(many.factors().w().row(5).iter().all(|&x| x > 0.0));
}

#[test]
fn bad_parameters_are_named() {
    let name = |e: FamilyError| match e {
        FamilyError::InvalidParameter { name, .. } => name,
        other => panic!("unexpected {other}"),
    };
    assert_eq!(name(LeeSeungParams::new(0).check().unwrap_err()), "rank");
    assert_eq!(
        name(LeeSeungParams::new(2).max_iters(0).check().unwrap_err()),
        "max_iters"
    );
    assert_eq!(
        name(LeeSeungParams::new(2).tolerance(-1.0).check().unwrap_err()),
        "tolerance"
    );
    assert_eq!(
        name(
            LeeSeungParams::new(2)
                .tolerance(f64::NAN)
                .check()
                .unwrap_err()
        ),
        "tolerance"
    );
}

#[test]
fn bad_data_is_an_error_naming_the_entry() {
    let p = LeeSeungParams::new(1).check().unwrap();
    let mut v = DMatrix::from_element(2, 3, 1.0);
    v[(1, 2)] = -0.5;
    let e = p.fit(&v).unwrap_err().to_string();
    assert!(e.contains("(1, 2)") && e.contains("negative"), "{e}");
    let e = p.fit(&to_csr(&v)).unwrap_err().to_string();
    assert!(e.contains("(1, 2)") && e.contains("negative"), "{e}");
    v[(1, 2)] = f64::INFINITY;
    let e = p.fit(&v).unwrap_err().to_string();
    assert!(e.contains("not finite"), "{e}");
    let e = p.fit(&DMatrix::<f64>::zeros(2, 2)).unwrap_err().to_string();
    assert!(e.contains("no positive entry"), "{e}");
    let e = p.fit(&DMatrix::<f64>::zeros(0, 2)).unwrap_err().to_string();
    assert!(e.contains("0 x 2"), "{e}");
    // Ratings on a scale that allows negative values: NMF cannot use them.
    let r = Ratings::from_external(
        [("a", "x", -1.0), ("b", "x", 2.0)],
        RatingScale::new(-5.0, 5.0).unwrap(),
    )
    .unwrap();
    let e = p.fit(&r).unwrap_err().to_string();
    assert!(e.contains("negative"), "{e}");
}

#[test]
fn the_observer_sees_every_iterate() {
    let v = random_matrix(5, 4, 1);
    let mut seen = Vec::new();
    let m = LeeSeungParams::new(2)
        .max_iters(7)
        .check()
        .unwrap()
        .fit_with(
            &to_csr(&v),
            FitOptions::new().observer(&mut |s: &IterationStats| {
                seen.push((s.iteration, s.objective));
                ControlFlow::Continue(())
            }),
        )
        .unwrap();
    // Every iterate after the initial state (iteration 0 is in the trace only).
    let expected: Vec<(usize, f64)> = m
        .objective_trace()
        .iter()
        .copied()
        .enumerate()
        .skip(1)
        .collect();
    assert_eq!(seen, expected);
}
