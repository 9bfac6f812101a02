//! Biased gradient NMF and its fold-in.

// Index loops mirror the formulas being checked.
#![allow(clippy::needless_range_loop)]

use crate::common;

use cnmf_family::{BiasedNmfModel, BiasedNmfParams, FamilyError};
use cnmf_ratings::RatingScale;
use common::{mask, ratings_of, with_threads, Planted};

#[test]
fn fits_planted_data_and_generalises() {
    let (n, m) = (120, 80);
    let truth = Planted::new(n, m, 3, 1);
    let train = ratings_of(&truth, n, m, mask(7, 0.5));
    let params = BiasedNmfParams::new(3)
        .max_iters(400)
        .learning_rate(0.02)
        .regularization(0.1)
        .check()
        .unwrap();
    let model = params.fit(&train).unwrap();
    let trace = model.objective_trace();
    assert_eq!(trace.len(), 401);
    assert!(
        trace[400] < 0.05 * trace[0],
        "objective {} -> {}",
        trace[0],
        trace[400]
    );
    // Held-out entries (not in the mask) are predicted well: the truth is rank 3 + biases.
    let (mut se, mut se_mean) = (0.0, 0.0);
    let held = mask(7, 0.5);
    for u in 0..n {
        for i in 0..m {
            if !held(u, i) {
                let t = truth.rating(u, i);
                se += (model.predict(u as u32, i as u32) - t).powi(2);
                se_mean += (train.mean() - t).powi(2);
            }
        }
    }
    // Against predicting the training mean for everything.
    assert!(
        se < 0.05 * se_mean,
        "held-out SSE {se} vs the mean's {se_mean}"
    );
    assert!(model.user_factor_matrix().iter().all(|&x| x >= 0.0));
    assert!(model.item_factor_matrix().iter().all(|&x| x >= 0.0));
}

#[test]
fn same_seed_same_bits_for_any_thread_count() {
    let (n, m) = (700, 300);
    let truth = Planted::new(n, m, 4, 2);
    let train = ratings_of(&truth, n, m, mask(3, 0.1));
    let params = BiasedNmfParams::new(5)
        .max_iters(15)
        .seed(4)
        .check()
        .unwrap();
    let one = with_threads(1, || params.fit(&train).unwrap());
    assert_eq!(one, with_threads(3, || params.fit(&train).unwrap()));
    assert_eq!(one, with_threads(4, || params.fit(&train).unwrap()));
    let other_seed = BiasedNmfParams::new(5)
        .max_iters(15)
        .seed(5)
        .check()
        .unwrap();
    assert_ne!(one, other_seed.fit(&train).unwrap());
}

#[test]
fn predictions_are_clipped_and_unknown_indices_are_errors() {
    // Everyone loves item 0 (5) and hates item 1 (1): unregularised, the raw predictions
    // overshoot the scale for some pairs and must be clipped.
    let r = cnmf_ratings::Ratings::from_external(
        [
            ("a", "x", 5.0),
            ("a", "y", 1.0),
            ("b", "x", 5.0),
            ("b", "y", 1.0),
            ("c", "x", 5.0),
        ],
        RatingScale::MOVIELENS,
    )
    .unwrap();
    let model = BiasedNmfParams::new(2)
        .regularization(0.0)
        .max_iters(300)
        .learning_rate(0.05)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    for u in 0..3 {
        for i in 0..2 {
            let p = model.predict(u, i);
            assert!((1.0..=5.0).contains(&p), "prediction {p} outside the scale");
        }
    }
    assert!(matches!(
        model.try_predict(3, 0),
        Err(FamilyError::UnknownUser {
            user: 3,
            n_users: 3
        })
    ));
    assert!(matches!(
        model.try_predict(0, 2),
        Err(FamilyError::UnknownItem {
            item: 2,
            n_items: 2
        })
    ));
}

#[test]
#[should_panic(expected = "unknown user 9")]
fn predict_panics_on_an_unknown_user() {
    let m = BiasedNmfModel::from_parts(
        1,
        vec![0.5],
        vec![0.5],
        vec![0.0],
        vec![0.0],
        3.0,
        RatingScale::MOVIELENS,
        0.0,
    )
    .unwrap();
    m.predict(9, 0);
}

#[test]
fn a_user_without_ratings_gets_the_global_and_item_bias() {
    let (n, m) = (30, 20);
    let truth = Planted::new(n, m, 2, 5);
    // User 29 has no rating.
    let train = ratings_of(&truth, n, m, |u, i| u != 29 && mask(1, 0.6)(u, i));
    assert_eq!(train.user_count(29), 0);
    let model = BiasedNmfParams::new(2)
        .max_iters(50)
        .check()
        .unwrap()
        .fit(&train)
        .unwrap();
    assert!(model.user_factors(29).iter().all(|&x| x == 0.0));
    assert_eq!(model.user_biases()[29], 0.0);
    for i in 0..m as u32 {
        let expected =
            RatingScale::MOVIELENS.clip(model.global_bias() + model.item_biases()[i as usize]);
        assert_eq!(model.predict(29, i), expected);
    }
}

#[test]
fn bad_parameters_are_named() {
    let name = |e: FamilyError| match e {
        FamilyError::InvalidParameter { name, .. } => name,
        other => panic!("unexpected {other}"),
    };
    assert_eq!(name(BiasedNmfParams::new(0).check().unwrap_err()), "rank");
    assert_eq!(
        name(BiasedNmfParams::new(2).max_iters(0).check().unwrap_err()),
        "max_iters"
    );
    assert_eq!(
        name(
            BiasedNmfParams::new(2)
                .learning_rate(0.0)
                .check()
                .unwrap_err()
        ),
        "learning_rate"
    );
    assert_eq!(
        name(
            BiasedNmfParams::new(2)
                .learning_rate(f64::INFINITY)
                .check()
                .unwrap_err()
        ),
        "learning_rate"
    );
    assert_eq!(
        name(
            BiasedNmfParams::new(2)
                .regularization(-1.0)
                .check()
                .unwrap_err()
        ),
        "regularization"
    );
    assert_eq!(
        name(BiasedNmfParams::new(2).init_scale(0.0).check().unwrap_err()),
        "init_scale"
    );
}

#[test]
fn a_diverging_run_is_an_error_not_a_result() {
    let (n, m) = (40, 30);
    let truth = Planted::new(n, m, 2, 9);
    let train = ratings_of(&truth, n, m, mask(2, 0.5));
    // An absurd step size makes Adam's steps overflow the factors.
    let e = BiasedNmfParams::new(2)
        .learning_rate(1e300)
        .max_iters(20)
        .check()
        .unwrap()
        .fit(&train)
        .unwrap_err();
    assert!(matches!(e, FamilyError::NotFinite { .. }), "{e}");
}

// ---- fold-in ----

/// A model equal to the planted truth (so fold-in's answer is known).
fn planted_model(truth: &Planted, lambda: f64) -> BiasedNmfModel {
    BiasedNmfModel::from_parts(
        truth.k,
        truth.p.clone(),
        truth.q.clone(),
        truth.bu.clone(),
        truth.bi.clone(),
        truth.b,
        RatingScale::MOVIELENS,
        lambda,
    )
    .unwrap()
}

#[test]
fn fold_in_recovers_a_planted_user_exactly() {
    let (n, m, k) = (10, 40, 4);
    let mut truth = Planted::new(n, m, k, 11);
    // Give user 0 an exact zero factor, so the sign constraint is active at the answer.
    truth.p[2] = 0.0;
    let model = planted_model(&truth, 0.0);
    for u in 0..n {
        let ratings: Vec<(u32, f64)> = (0..m)
            .step_by(3)
            .map(|i| (i as u32, truth.rating(u, i)))
            .collect();
        let folded = model.fold_in(&ratings).unwrap();
        for a in 0..k {
            assert!(
                (folded.factors()[a] - truth.p[u * k + a]).abs() < 1e-8,
                "user {u} factor {a}: {} vs {}",
                folded.factors()[a],
                truth.p[u * k + a]
            );
        }
        assert!((folded.bias() - truth.bu[u]).abs() < 1e-8);
        // And it predicts the items it did not rate.
        for i in (1..m).step_by(3) {
            let p = model.predict_folded(&folded, i as u32).unwrap();
            assert!((p - truth.rating(u, i)).abs() < 1e-8);
        }
    }
}

/// With lambda > 0 the answer is shrunk; it must satisfy the optimality (KKT) conditions of
/// the regularised problem: zero gradient in the free coordinates, nonnegative gradient where
/// a factor sits at 0.
#[test]
fn regularised_fold_in_satisfies_the_optimality_conditions() {
    let (m, k, lambda) = (30, 5, 2.0);
    let truth = Planted::new(3, m, k, 12);
    let model = planted_model(&truth, lambda);
    let ratings: Vec<(u32, f64)> = (0..m)
        .step_by(2)
        .map(|i| (i as u32, truth.rating(1, i)))
        .collect();
    let f = model.fold_in(&ratings).unwrap();
    let (mut gp, mut gb) = (vec![0.0; k], 0.0);
    for &(i, r) in &ratings {
        let e = model.predict_folded(&f, i).unwrap() - r;
        for a in 0..k {
            gp[a] += 2.0 * e * model.item_factors(i)[a];
        }
        gb += 2.0 * e;
    }
    for a in 0..k {
        gp[a] += 2.0 * lambda * f.factors()[a];
        if f.factors()[a] > 0.0 {
            assert!(
                gp[a].abs() < 1e-8,
                "free coordinate {a} has gradient {}",
                gp[a]
            );
        } else {
            assert!(gp[a] > -1e-8, "bound coordinate {a} has gradient {}", gp[a]);
        }
    }
    gb += 2.0 * lambda * f.bias();
    assert!(gb.abs() < 1e-8);
    // Shrinkage: the regularised factors are smaller than the unregularised ones.
    let free = model.fold_in_with_regularization(&ratings, 0.0).unwrap();
    let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
    assert!(norm(f.factors()) < norm(free.factors()));
}

#[test]
fn fold_in_against_a_trained_model_predicts_the_new_user() {
    let (n, m) = (150, 60);
    let truth = Planted::new(n + 1, m, 3, 13);
    // Train without user n; then fold it in from half of its items.
    let train = ratings_of(&truth, n, m, mask(5, 0.6));
    let model = BiasedNmfParams::new(3)
        .max_iters(400)
        .learning_rate(0.02)
        .regularization(0.1)
        .check()
        .unwrap()
        .fit(&train)
        .unwrap();
    let rated: Vec<(u32, f64)> = (0..m)
        .step_by(2)
        .map(|i| (i as u32, truth.rating(n, i)))
        .collect();
    let folded = model.fold_in(&rated).unwrap();
    let (mut se, mut se_mean) = (0.0, 0.0);
    let mean = rated.iter().map(|r| r.1).sum::<f64>() / rated.len() as f64;
    for i in (1..m).step_by(2) {
        let t = truth.rating(n, i);
        se += (model.predict_folded(&folded, i as u32).unwrap() - t).powi(2);
        se_mean += (mean - t).powi(2);
    }
    assert!(
        se < 0.25 * se_mean,
        "fold-in SSE {se} vs the user's mean {se_mean}"
    );
}

#[test]
fn fold_in_rejects_bad_input() {
    let truth = Planted::new(2, 5, 2, 1);
    let model = planted_model(&truth, 0.1);
    let msg = |r: &[(u32, f64)]| model.fold_in(r).unwrap_err().to_string();
    assert!(msg(&[]).contains("no ratings"));
    assert!(msg(&[(7, 3.0)]).contains("unknown item 7"));
    assert!(msg(&[(1, 3.0), (1, 4.0)]).contains("item 1 is rated twice"));
    assert!(msg(&[(1, 6.0)]).contains("outside the scale"));
    assert!(msg(&[(1, f64::NAN)]).contains("outside the scale"));
    let e = model
        .fold_in_with_regularization(&[(1, 3.0)], -1.0)
        .unwrap_err();
    assert!(matches!(
        e,
        FamilyError::InvalidParameter {
            name: "regularization",
            ..
        }
    ));
}

#[test]
fn from_parts_checks_its_input() {
    let s = RatingScale::MOVIELENS;
    assert!(
        BiasedNmfModel::from_parts(2, vec![0.0; 3], vec![], vec![0.0], vec![], 3.0, s, 0.0)
            .is_err()
    );
    assert!(
        BiasedNmfModel::from_parts(1, vec![-1.0], vec![], vec![0.0], vec![], 3.0, s, 0.0).is_err()
    );
    assert!(
        BiasedNmfModel::from_parts(1, vec![1.0], vec![], vec![f64::NAN], vec![], 3.0, s, 0.0)
            .is_err()
    );
    assert!(
        BiasedNmfModel::from_parts(1, vec![1.0], vec![], vec![0.0], vec![], 3.0, s, -1.0).is_err()
    );
}
