//! Parameters, errors, guards, determinism, stopping rules, fold-in and serialisation.

use crate::common;

use std::ops::ControlFlow;
use std::time::Duration;

use cnmf_engine::{
    init_factors, lambda_from_noise_model, Algorithm, EngineError, Factors, FitOptions,
    IterationStats, NmfParams, StopReason,
};
use cnmf_metrics::accuracy_of;
use cnmf_ratings::{Ratings, Triple};
use common::{random_instance, ratings};

#[test]
fn lambda_from_noise_model_matches_hand_computed_values() {
    // sigma = 1, p = 0.1: a = -ln(sqrt(2 pi)) = -0.918938533204673, ln p = -2.302585092994046,
    // lambda = 2 (a - ln p) = 2.767293119578746.
    let l = lambda_from_noise_model(1.0, 0.1).unwrap();
    assert!((l - 2.767_293_119_578_746).abs() < 1e-12, "{l}");
    // sigma = 0.5, p = 0.01: a = -ln(1.2533141373155) = -0.2257913526447274,
    // -ln p = 4.605170185988091, lambda = 2 * 0.25 * 4.379378833343364 = 2.189689416671682.
    let l = lambda_from_noise_model(0.5, 0.01).unwrap();
    assert!((l - 2.189_689_416_671_682).abs() < 1e-12, "{l}");
    // sigma = 1, p = 0.5: a - ln p = -0.2258 < 0, so lambda would be negative.
    let e = lambda_from_noise_model(1.0, 0.5).unwrap_err();
    assert!(e.to_string().contains("not positive"), "{e}");
    assert!(lambda_from_noise_model(-1.0, 0.1).is_err());
    assert!(lambda_from_noise_model(1.0, 1.0).is_err());
    // The builder resolves the noise model to the same number.
    let p = NmfParams::new(3, Algorithm::IgnoreCorrupt)
        .noise_model(1.0, 0.1)
        .check()
        .unwrap();
    assert_eq!(p.lambda(), Some(lambda_from_noise_model(1.0, 0.1).unwrap()));
}

fn rejected(params: NmfParams, name: &str) {
    match params.check() {
        Err(EngineError::InvalidParameter { name: got, reason }) => {
            assert_eq!(got, name, "wrong parameter named ({reason})");
            let msg = EngineError::InvalidParameter { name: got, reason }.to_string();
            assert!(msg.contains(name), "{msg}");
        }
        other => panic!("{name}: expected a rejection, got {other:?}"),
    }
}

#[test]
fn every_bad_parameter_is_rejected_by_name() {
    use Algorithm::*;
    let base = || NmfParams::new(3, IgnoreCorrupt).lambda(1.0);
    rejected(NmfParams::new(0, IgnoreMissing), "rank");
    rejected(base().lambda(0.0), "lambda");
    rejected(base().lambda(-2.0), "lambda");
    rejected(base().lambda(f64::NAN), "lambda");
    rejected(base().lambda(f64::INFINITY), "lambda");
    for alg in [IgnoreCorrupt, ReplaceCorrupt, ReplaceCorruptNoInterp] {
        rejected(NmfParams::new(3, alg), "lambda");
    }
    rejected(base().noise_model(-1.0, 0.1), "sigma");
    rejected(base().noise_model(1.0, 0.0), "p");
    rejected(base().noise_model(1.0, 0.9), "noise_model");
    rejected(base().decay(0.0), "decay");
    rejected(base().decay(1.5), "decay");
    rejected(base().decay(f64::NAN), "decay");
    rejected(base().max_iters(0), "max_iters");
    rejected(base().time_budget(Duration::ZERO), "time_budget");
    rejected(base().tolerance(0.0), "tolerance");
    rejected(base().tolerance(f64::NAN), "tolerance");
    rejected(base().l2_w(-1.0), "l2_w");
    rejected(base().l2_h(f64::INFINITY), "l2_h");
    rejected(base().early_stopping(0), "early_stopping");
    rejected(base().max_iters(5).warmup_iters(5), "warmup_iters");
    // The missing variants need no lambda, and accept the defaults.
    assert!(NmfParams::new(3, IgnoreMissing).check().is_ok());
    assert!(NmfParams::new(3, ReplaceMissing).check().is_ok());
}

#[test]
fn bad_fit_inputs_are_rejected_before_any_work() {
    let data = random_instance(6, 5, 0.6, 1);
    let p = NmfParams::new(2, Algorithm::IgnoreMissing).check().unwrap();
    // Warm start of the wrong shape.
    let wrong = init_factors(6, 4, 2, 3.0, 0).unwrap();
    let e = p
        .fit_with(&data, FitOptions::new().initial(&wrong))
        .unwrap_err();
    assert!(matches!(e, EngineError::ShapeMismatch { .. }), "{e}");
    // Validation triples outside the data.
    let val = [Triple::new(9, 0, 3.0)];
    let e = p
        .fit_with(&data, FitOptions::new().validation(&val))
        .unwrap_err();
    assert!(e.to_string().contains("validation"), "{e}");
    // Early stopping without validation.
    let es = NmfParams::new(2, Algorithm::IgnoreMissing)
        .early_stopping(3)
        .check()
        .unwrap();
    let e = es.fit(&data).unwrap_err();
    assert!(e.to_string().contains("early_stopping"), "{e}");
    // Negative ratings are impossible for NMF.
    let scale = cnmf_ratings::RatingScale::new(-1.0, 1.0).unwrap();
    let neg = ratings(
        2,
        2,
        &[Triple::new(0, 0, -0.5), Triple::new(1, 1, 0.5)],
        scale,
    );
    let e = p.fit(&neg).unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");
}

#[test]
fn warm_start_factors_with_nan_or_negative_entries_are_rejected() {
    let e = Factors::new(2, 1, 1, vec![1.0, f64::NAN], vec![1.0]).unwrap_err();
    assert!(e.to_string().contains("not finite"), "{e}");
    let e = Factors::new(1, 2, 1, vec![1.0], vec![1.0, f64::INFINITY]).unwrap_err();
    assert!(e.to_string().contains("not finite"), "{e}");
    let e = Factors::new(1, 1, 1, vec![-0.1], vec![1.0]).unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");
    let e = Factors::new(2, 2, 2, vec![1.0; 3], vec![1.0; 4]).unwrap_err();
    assert!(matches!(e, EngineError::ShapeMismatch { .. }), "{e}");
    // Deserialising goes through the same checks.
    let json = r#"{"rank":1,"n_users":1,"n_items":1,"w":[-1.0],"h":[1.0]}"#;
    assert!(serde_json::from_str::<Factors>(json).is_err());
}

#[test]
fn init_factors_is_seeded_and_rejects_bad_means() {
    let a = init_factors(50, 40, 7, 3.6, 9).unwrap();
    assert_eq!(a, init_factors(50, 40, 7, 3.6, 9).unwrap());
    assert_ne!(a, init_factors(50, 40, 7, 3.6, 10).unwrap());
    // mean(W H) is about the mean rating.
    let mean: f64 = (0..50u32)
        .flat_map(|u| (0..40u32).map(move |i| (u, i)))
        .map(|(u, i)| a.predict(u, i))
        .sum::<f64>()
        / 2000.0;
    assert!((mean - 3.6).abs() < 0.4, "{mean}");
    assert!(init_factors(2, 2, 2, 0.0, 1).is_err());
    assert!(init_factors(2, 2, 2, f64::NAN, 1).is_err());
    assert!(init_factors(2, 2, 0, 3.0, 1).is_err());
}

#[test]
fn fully_flagged_rows_and_columns_keep_their_factors() {
    // With a tiny lambda every entry is flagged at the end of iteration 1; from then on every
    // row and column has no active entry and must keep its factors exactly.
    let data = random_instance(10, 8, 0.5, 3);
    for alg in [Algorithm::IgnoreCorrupt, Algorithm::ReplaceCorruptNoInterp] {
        let fit = |iters| {
            NmfParams::new(3, alg)
                .lambda(1e-300)
                .max_iters(iters)
                .check()
                .unwrap()
                .fit(&data)
                .unwrap()
        };
        let one = fit(1);
        assert_eq!(one.corrupt_entries().len(), data.nnz(), "{alg}");
        let five = fit(5);
        assert_eq!(one.factors(), five.factors(), "{alg}: flagged rows moved");
        assert!(five.corrupt_counts_per_user().iter().sum::<u32>() as usize == data.nnz());
        // Every user with a rating has a flagged one, so every such user is suspected.
        let raters: Vec<u32> = (0..10u32).filter(|&u| !data.user(u).0.is_empty()).collect();
        assert_eq!(five.suspected_users(), raters, "{alg}");
    }
    // replace-corrupt still gives corrupt entries the weight decay^t, so they keep moving.
    let fit = |iters| {
        NmfParams::new(3, Algorithm::ReplaceCorrupt)
            .lambda(1e-300)
            .max_iters(iters)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap()
    };
    assert_ne!(fit(1).factors(), fit(5).factors());
}

#[test]
fn same_bits_with_one_and_four_threads() {
    // Large enough for many parallel chunks in every pass.
    let data = random_instance(2500, 400, 0.05, 5);
    assert!(data.nnz() > 40_000);
    for (alg, k) in Algorithm::ALL.into_iter().flat_map(|a| [(a, 6), (a, 20)]) {
        let fit = |threads| {
            NmfParams::new(k, alg)
                .lambda(1.5)
                .max_iters(6)
                .threads(threads)
                .seed(17)
                .check()
                .unwrap()
                .fit(&data)
                .unwrap()
        };
        let (a, b) = (fit(1), fit(4));
        assert!(a.factors().w() == b.factors().w(), "{alg}: W differs");
        assert!(a.factors().h() == b.factors().h(), "{alg}: H differs");
        assert_eq!(a.corrupt_entries(), b.corrupt_entries(), "{alg}");
        let losses = |m: &cnmf_engine::NmfModel| -> Vec<(u64, usize)> {
            m.trace()
                .iter()
                .map(|s| (s.objective.to_bits(), s.flagged))
                .collect()
        };
        assert_eq!(losses(&a), losses(&b), "{alg}: trace differs");
    }
}

/// 90/10 split of random-ish structured data for validation tests.
fn split(data: &Ratings, every: usize) -> (Ratings, Vec<Triple>) {
    let all = data.triples();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (p, t) in all.into_iter().enumerate() {
        if p % every == 0 {
            test.push(t);
        } else {
            train.push(t);
        }
    }
    let train = data
        .with_triples(&train, cnmf_ratings::DuplicatePolicy::Error)
        .unwrap();
    (train, test)
}

#[test]
fn early_stopping_keeps_the_best_factors() {
    // Unstructured ratings and a large rank: the validation error soon rises (overfitting).
    let data = random_instance(40, 40, 0.5, 8);
    let (train, val) = split(&data, 5);
    let model = NmfParams::new(12, Algorithm::IgnoreMissing)
        .max_iters(500)
        .early_stopping(5)
        .check()
        .unwrap()
        .fit_with(&train, FitOptions::new().validation(&val))
        .unwrap();
    let trace = model.trace();
    let nmae: Vec<f64> = trace.iter().map(|s| s.validation_nmae.unwrap()).collect();
    let best = (0..nmae.len())
        .min_by(|&a, &b| nmae[a].total_cmp(&nmae[b]))
        .unwrap();
    assert_eq!(
        model.stop_reason(),
        StopReason::EarlyStopped {
            best_iteration: best
        }
    );
    assert_eq!(model.iterations(), best);
    assert_eq!(
        trace.len(),
        best + 5 + 1,
        "stopped after 5 iterations without improvement"
    );
    let acc = accuracy_of(&model, &val, train.scale()).unwrap();
    assert!(
        (acc.nmae - nmae[best]).abs() < 1e-12,
        "kept factors give {} but the best iteration had {}",
        acc.nmae,
        nmae[best]
    );
    assert!(nmae.last().unwrap() > &nmae[best]);
}

#[test]
fn observer_tolerance_and_time_budget_stop_the_fit() {
    let data = random_instance(20, 15, 0.5, 2);
    let p = NmfParams::new(3, Algorithm::IgnoreCorrupt).lambda(1.0);
    let mut seen = Vec::new();
    let mut observer = |s: &IterationStats| {
        seen.push(s.iteration);
        if s.iteration == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let model = p
        .clone()
        .max_iters(50)
        .check()
        .unwrap()
        .fit_with(&data, FitOptions::new().observer(&mut observer))
        .unwrap();
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(model.stop_reason(), StopReason::Observer);
    assert_eq!(model.iterations(), 3);
    // The model holds iteration 3's factors: the same as a 3-iteration fit.
    let three = p.clone().max_iters(3).check().unwrap().fit(&data).unwrap();
    assert_eq!(model.factors(), three.factors());
    assert_eq!(model.corrupt_entries(), three.corrupt_entries());

    let conv = p
        .clone()
        .max_iters(100_000)
        .tolerance(1e-6)
        .check()
        .unwrap()
        .fit(&data)
        .unwrap();
    assert_eq!(conv.stop_reason(), StopReason::Converged);
    let tr = conv.trace();
    let (a, b) = (tr[tr.len() - 2].objective, tr[tr.len() - 1].objective);
    assert!((a - b).abs() <= 1e-6 * a);

    let timed = p
        .max_iters(1_000_000)
        .time_budget(Duration::from_nanos(1))
        .check()
        .unwrap()
        .fit(&data)
        .unwrap();
    assert_eq!(timed.stop_reason(), StopReason::TimeBudget);
    assert_eq!(timed.trace().len(), 2);
}

#[test]
fn fold_in_of_an_existing_user_is_close_to_the_fitted_row() {
    let (n, m) = (60, 50);
    let truth = init_factors(n, m, 2, 3.0, 4).unwrap();
    let mut t = Vec::new();
    for u in 0..n as u32 {
        for i in 0..m as u32 {
            if (u * 7 + i * 3) % 5 != 0 {
                t.push(Triple::new(u, i, truth.predict(u, i).clamp(1.0, 5.0)));
            }
        }
    }
    let data = ratings(n, m, &t, cnmf_ratings::RatingScale::MOVIELENS);
    for alg in [Algorithm::IgnoreMissing, Algorithm::ReplaceMissing] {
        let model = NmfParams::new(2, alg)
            .max_iters(400)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap();
        let u = 11u32;
        let (items, values) = data.user(u);
        let mine: Vec<(u32, f64)> = items.iter().copied().zip(values.iter().copied()).collect();
        let row = model.fold_in(&mine).unwrap();
        let f = model.factors();
        for i in 0..m as u32 {
            let folded: f64 = row.iter().zip(f.h_col(i)).map(|(a, b)| a * b).sum();
            let fitted = model.predict_raw(u, i);
            assert!(
                (folded - fitted).abs() < 0.05,
                "{alg}: item {i}: folded-in {folded} vs fitted {fitted}"
            );
        }
    }
    let model = NmfParams::new(2, Algorithm::IgnoreCorrupt)
        .lambda(1.0)
        .max_iters(5)
        .check()
        .unwrap()
        .fit(&data)
        .unwrap();
    assert!(model.fold_in(&[]).is_err());
    assert!(model.fold_in(&[(999, 3.0)]).is_err());
    assert!(model.fold_in(&[(1, 3.0), (1, 4.0)]).is_err());
    assert!(model.fold_in(&[(1, f64::NAN)]).is_err());
    assert!(model.fold_in(&[(1, 9.0)]).is_err());
    assert_eq!(model.fold_in(&[(1, 3.0), (2, 4.0)]).unwrap().len(), 2);
}

#[test]
fn models_and_params_round_trip_through_serde() {
    let data = random_instance(12, 9, 0.5, 6);
    let model = NmfParams::new(3, Algorithm::ReplaceCorrupt)
        .noise_model(0.6, 0.05)
        .max_iters(8)
        .check()
        .unwrap()
        .fit(&data)
        .unwrap();
    let json = serde_json::to_string(&model).unwrap();
    let back: cnmf_engine::NmfModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    assert!(json.contains("\"replace-corrupt\""), "{json}");
    // Invalid parameters in a file are rejected on load.
    let bad = json.replace("\"decay\":0.99", "\"decay\":7.0");
    assert_ne!(bad, json);
    assert!(serde_json::from_str::<cnmf_engine::NmfModel>(&bad).is_err());
    // Model indices and helpers.
    assert!(model.try_predict(99, 0).is_err());
    let p = model.predict_many(&[(0, 0), (1, 2)]);
    assert_eq!(p, vec![model.predict(0, 0), model.predict(1, 2)]);
    assert_eq!(
        model.corrupt_mask().iter().filter(|&&f| f).count(),
        model.corrupt_entries().len()
    );
}

#[test]
fn algorithm_names_parse_print_and_serialise() {
    for alg in Algorithm::ALL {
        assert_eq!(alg.name().parse::<Algorithm>().unwrap(), alg);
        assert_eq!(alg.to_string(), alg.name());
        assert_eq!(
            serde_json::to_string(&alg).unwrap(),
            format!("\"{}\"", alg.name())
        );
    }
    let e = "replace".parse::<Algorithm>().unwrap_err();
    assert!(e.to_string().contains("ignore-missing"), "{e}");
}
