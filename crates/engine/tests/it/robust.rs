//! The robust-loss baselines (`huber`, `l1`, `trimmed`): their limits equal `ignore-missing`,
//! `trimmed` drops exactly its share, their parameters are checked, fold-in runs them.

use crate::common;

use cnmf_engine::{init_factors, Algorithm, EngineError, FitOptions, NmfModel, NmfParams};
use cnmf_ratings::Ratings;
use common::random_instance;

fn fit(data: &Ratings, params: NmfParams) -> NmfModel {
    params.check().unwrap().fit(data).unwrap()
}

#[test]
fn huber_with_a_huge_lambda_is_ignore_missing_bit_for_bit() {
    // Every squared residual is below lambda: every weight is exactly 1.
    let data = random_instance(300, 120, 0.1, 4);
    for (k, l2) in [(5, 0.0), (7, 0.2)] {
        let base = NmfParams::new(k, Algorithm::IgnoreMissing)
            .lambda(1e6)
            .l2_w(l2)
            .l2_h(l2)
            .max_iters(12)
            .seed(3);
        let im = fit(&data, base.clone());
        let hu = fit(&data, base.algorithm(Algorithm::Huber));
        assert!(im.factors() == hu.factors(), "k = {k}: factors differ");
        assert!(hu.corrupt_entries().is_empty());
        for (a, b) in im.trace().iter().zip(hu.trace()) {
            // Inside delta, rho(r) = r^2: the Huber objective is the squared one.
            assert_eq!(a.objective.to_bits(), b.objective.to_bits());
            assert_eq!(a.loss.to_bits(), b.loss.to_bits());
        }
    }
}

#[test]
fn trimmed_with_nothing_to_trim_is_ignore_missing_bit_for_bit() {
    let data = random_instance(300, 120, 0.1, 6);
    let base = NmfParams::new(6, Algorithm::IgnoreMissing)
        .max_iters(10)
        .l2_h(0.1)
        .seed(5);
    let im = fit(&data, base.clone());
    let tr = fit(&data, base.algorithm(Algorithm::Trimmed).trim_fraction(0.0));
    assert!(im.factors() == tr.factors());
    assert!(tr.corrupt_entries().is_empty());
    for (a, b) in im.trace().iter().zip(tr.trace()) {
        assert_eq!(a.loss.to_bits(), b.loss.to_bits());
        // The trimmed loss of nothing trimmed is the loss (summed in other blocks).
        assert!((a.objective - b.objective).abs() <= 1e-12 * a.objective);
    }
}

#[test]
fn trimmed_drops_exactly_its_share_of_the_largest_residuals() {
    let data = random_instance(400, 90, 0.12, 8);
    let nnz = data.nnz();
    for q in [0.01, 0.05, 0.3, 0.77] {
        let model = fit(
            &data,
            NmfParams::new(4, Algorithm::Trimmed)
                .trim_fraction(q)
                .warmup_iters(2)
                .max_iters(8)
                .seed(2),
        );
        let drop = (q * nnz as f64).floor() as usize;
        assert_eq!(model.corrupt_entries().len(), drop, "q = {q}");
        // Flags are set from the end of iteration warmup + 1 = 3 on.
        for s in model.trace() {
            let want = if s.iteration > 2 { drop } else { 0 };
            assert_eq!(s.flagged, want, "q = {q}, iteration {}", s.iteration);
        }
        // The dropped entries are the largest squared residuals of the final factors.
        let f = model.factors();
        let mask = model.corrupt_mask();
        let sq: Vec<f64> = data
            .iter()
            .map(|t| (t.value - f.predict(t.user, t.item)).powi(2))
            .collect();
        let min_dropped = sq
            .iter()
            .zip(&mask)
            .filter(|(_, &d)| d)
            .map(|(e, _)| *e)
            .fold(f64::INFINITY, f64::min);
        let max_kept = sq
            .iter()
            .zip(&mask)
            .filter(|(_, &d)| !d)
            .map(|(e, _)| *e)
            .fold(0.0, f64::max);
        assert!(
            min_dropped >= max_kept,
            "q = {q}: {min_dropped} < {max_kept}"
        );
        // The objective is the sum of the kept squared residuals.
        let kept: f64 = sq
            .iter()
            .zip(&mask)
            .filter(|(_, &d)| !d)
            .map(|(e, _)| e)
            .sum();
        let last = model.trace().last().unwrap();
        assert!((last.objective - kept).abs() <= 1e-9 * kept, "q = {q}");
        assert_eq!(last.objective, last.loss);
    }
}

#[test]
fn huber_flags_the_entries_beyond_delta_and_reports_its_objective() {
    let data = random_instance(200, 60, 0.2, 9);
    let lambda = 0.8;
    let model = fit(
        &data,
        NmfParams::new(3, Algorithm::Huber)
            .lambda(lambda)
            .max_iters(15)
            .seed(1),
    );
    let f = model.factors();
    let delta = f64::sqrt(lambda);
    let (mut huber, mut flagged) = (0.0, Vec::new());
    for (p, t) in data.iter().enumerate() {
        let r: f64 = t.value - f.predict(t.user, t.item);
        if r * r > lambda {
            huber += 2.0 * delta * r.abs() - lambda;
            flagged.push(p as u32);
        } else {
            huber += r * r;
        }
    }
    assert!(!flagged.is_empty());
    assert_eq!(model.corrupt_positions(), &flagged[..]);
    let last = model.trace().last().unwrap();
    assert!((last.objective - huber).abs() <= 1e-9 * huber);
    assert_eq!(last.flagged, flagged.len());
}

#[test]
fn l1_reports_the_smoothed_absolute_loss_and_flags_nothing() {
    let data = random_instance(200, 60, 0.2, 10);
    let model = fit(
        &data,
        NmfParams::new(3, Algorithm::L1).max_iters(15).seed(4),
    );
    assert!(model.corrupt_entries().is_empty());
    let f = model.factors();
    let e2 = cnmf_engine::L1_SMOOTHING.powi(2);
    let l1: f64 = data
        .iter()
        .map(|t| ((t.value - f.predict(t.user, t.item)).powi(2) + e2).sqrt())
        .sum();
    let last = model.trace().last().unwrap();
    assert!((last.objective - l1).abs() <= 1e-9 * l1);
    assert_eq!(last.flagged, 0);
}

#[test]
fn robust_baselines_resist_a_planted_outlier_better_than_ignore_missing() {
    // Rank-1 data with one wild rating: the robust fits stay closer to the truth elsewhere.
    let (n, m) = (30, 20);
    let mut triples = Vec::new();
    for u in 0..n as u32 {
        for i in 0..m as u32 {
            if (u + 2 * i) % 3 != 0 {
                let v = 1.0 + 4.0 * (u as f64 / n as f64) * (i as f64 / m as f64);
                triples.push(cnmf_ratings::Triple::new(u, i, v));
            }
        }
    }
    let truth: Vec<f64> = triples.iter().map(|t| t.value).collect();
    for t in triples.iter_mut().take(40).step_by(4) {
        t.value = if t.value > 3.0 { 1.0 } else { 5.0 };
    }
    let data = common::ratings(n, m, &triples, cnmf_ratings::RatingScale::MOVIELENS);
    let err = |alg: Algorithm| {
        let model = fit(
            &data,
            NmfParams::new(2, alg)
                .lambda(0.25)
                .trim_fraction(0.03)
                .warmup_iters(20)
                .max_iters(300)
                .seed(1),
        );
        let f = model.factors();
        triples
            .iter()
            .zip(&truth)
            .map(|(t, v)| (v - f.predict(t.user, t.item)).abs())
            .sum::<f64>()
            / truth.len() as f64
    };
    let base = err(Algorithm::IgnoreMissing);
    for alg in [Algorithm::Huber, Algorithm::L1, Algorithm::Trimmed] {
        let e = err(alg);
        assert!(
            e < base,
            "{alg}: mean error against the truth {e} vs {base}"
        );
    }
}

#[test]
fn robust_parameters_are_checked() {
    let bad = |p: NmfParams, name: &str| match p.check() {
        Err(EngineError::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
        other => panic!("{name}: expected a rejection, got {other:?}"),
    };
    for q in [f64::NAN, -0.1, 1.0, 1.5, f64::INFINITY, f64::NEG_INFINITY] {
        bad(
            NmfParams::new(3, Algorithm::Trimmed).trim_fraction(q),
            "trim_fraction",
        );
    }
    bad(NmfParams::new(3, Algorithm::Huber), "lambda");
    bad(
        NmfParams::new(3, Algorithm::Huber).lambda(f64::NAN),
        "lambda",
    );
    bad(NmfParams::new(3, Algorithm::Huber).lambda(-1.0), "lambda");
    for alg in [Algorithm::Huber, Algorithm::L1, Algorithm::Trimmed] {
        bad(
            NmfParams::new(3, alg)
                .lambda(1.0)
                .max_iters(4)
                .warmup_iters(4),
            "warmup_iters",
        );
    }
    // l1 and trimmed need no lambda; q = 0 and q just below 1 are allowed.
    assert!(NmfParams::new(3, Algorithm::L1).check().is_ok());
    let p = NmfParams::new(3, Algorithm::Trimmed).check().unwrap();
    assert_eq!(p.trim_fraction(), cnmf_engine::DEFAULT_TRIM_FRACTION);
    assert!(NmfParams::new(3, Algorithm::Trimmed)
        .trim_fraction(0.0)
        .check()
        .is_ok());
    assert!(NmfParams::new(3, Algorithm::Trimmed)
        .trim_fraction(0.999)
        .check()
        .is_ok());
}

#[test]
fn robust_fold_in_of_an_existing_user_is_close_to_the_fitted_row() {
    let data = random_instance(60, 40, 0.5, 12);
    let k = 3;
    let init = init_factors(data.n_users(), data.n_items(), k, data.mean(), 1).unwrap();
    for alg in [Algorithm::Huber, Algorithm::L1, Algorithm::Trimmed] {
        let model = NmfParams::new(k, alg)
            .lambda(1.0)
            .trim_fraction(0.1)
            .max_iters(200)
            .check()
            .unwrap()
            .fit_with(&data, FitOptions::new().initial(&init))
            .unwrap();
        let (items, values) = data.user(5);
        let ratings: Vec<(u32, f64)> = items.iter().copied().zip(values.iter().copied()).collect();
        let row = model.fold_in(&ratings).unwrap();
        assert!(row.iter().all(|x| x.is_finite() && *x >= 0.0), "{alg}");
        // The folded-in predictions fit the user's ratings about as well as the fitted row.
        let h = model.factors().h();
        let err = |w: &[f64]| -> f64 {
            ratings
                .iter()
                .map(|&(i, v)| {
                    let x: f64 = (0..k).map(|a| w[a] * h[i as usize * k + a]).sum();
                    (v - x).abs()
                })
                .sum::<f64>()
                / ratings.len() as f64
        };
        let fitted = &model.factors().w()[5 * k..6 * k];
        assert!(
            err(&row) <= err(fitted) + 0.1,
            "{alg}: folded-in {} vs fitted {}",
            err(&row),
            err(fitted)
        );
    }
}
