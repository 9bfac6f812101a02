//! Adversarially trained biased NMF.

// Index loops mirror the formulas being checked.
#![allow(clippy::needless_range_loop)]

use crate::common;

use cnmf_family::{fgm_mse, AdversarialParams, BiasedNmfParams, FamilyError};
use common::{mask, ratings_of, with_threads, Planted};

fn data() -> cnmf_ratings::Ratings {
    let (n, m) = (200, 120);
    let truth = Planted::new(n, m, 4, 21);
    ratings_of(&truth, n, m, mask(9, 0.3))
}

/// alpha = 0 removes the adversarial term: the fit is plain biased NMF, bit for bit.
#[test]
fn alpha_zero_is_plain_training_exactly() {
    let r = data();
    let plain = BiasedNmfParams::new(4)
        .max_iters(60)
        .seed(3)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    let adv = AdversarialParams::new(4)
        .max_iters(60)
        .seed(3)
        .epsilon(0.5)
        .alpha(0.0)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    assert_eq!(plain, adv);
}

/// epsilon = 0 makes the perturbation vanish, so the objective is (1 + alpha) L + R: plain
/// training with lambda / (1 + alpha), whose gradient is the adversarial one divided by
/// (1 + alpha). Adam is invariant to that scale up to its eps = 1e-8, so the fits agree to
/// high precision, not bit for bit.
#[test]
fn epsilon_zero_is_plain_training_with_rescaled_regularisation() {
    let r = data();
    let (alpha, lambda) = (1.5, 2.0);
    let plain = BiasedNmfParams::new(4)
        .max_iters(80)
        .regularization(lambda / (1.0 + alpha))
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    let adv = AdversarialParams::new(4)
        .max_iters(80)
        .regularization(lambda)
        .epsilon(0.0)
        .alpha(alpha)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    let mut worst: f64 = 0.0;
    for t in r.iter() {
        worst = worst.max((plain.predict(t.user, t.item) - adv.predict(t.user, t.item)).abs());
    }
    assert!(worst < 1e-4, "predictions differ by up to {worst}");
    // The objectives differ by the factor (1 + alpha) exactly in definition.
    let (pt, at) = (plain.objective_trace(), adv.objective_trace());
    assert!((at[0] - (1.0 + alpha) * pt[0]).abs() < 1e-9 * at[0]);
    // And a non-zero epsilon does change the fit.
    let perturbed = AdversarialParams::new(4)
        .max_iters(80)
        .regularization(lambda)
        .epsilon(0.3)
        .alpha(alpha)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    assert_ne!(perturbed, adv);
}

/// What adversarial training is for: under the worst-case (fast-gradient) perturbation of
/// its factors, the adversarially trained model loses less than the plainly trained one.
#[test]
fn adversarial_training_resists_the_perturbation_it_was_trained_against() {
    let r = data();
    let eps = 0.3;
    let plain = BiasedNmfParams::new(4)
        .max_iters(200)
        .regularization(1.0)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    let adv = AdversarialParams::new(4)
        .max_iters(200)
        .regularization(1.0)
        .epsilon(eps)
        .alpha(1.0)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    let (plain_attacked, adv_attacked) = (
        fgm_mse(&plain, &r, eps).unwrap(),
        fgm_mse(&adv, &r, eps).unwrap(),
    );
    let (plain_clean, adv_clean) = (
        fgm_mse(&plain, &r, 0.0).unwrap(),
        fgm_mse(&adv, &r, 0.0).unwrap(),
    );
    assert!(
        adv_attacked < 0.8 * plain_attacked,
        "perturbed MSE: adversarial {adv_attacked} vs plain {plain_attacked} (clean {adv_clean} vs {plain_clean})"
    );
    // ... and robustness costs little accuracy on the clean factors.
    assert!(
        adv_clean < 1.25 * plain_clean,
        "clean MSE: adversarial {adv_clean} vs plain {plain_clean}"
    );
}

#[test]
fn fgm_mse_at_zero_is_the_training_mse() {
    let r = data();
    let m = BiasedNmfParams::new(4)
        .max_iters(30)
        .check()
        .unwrap()
        .fit(&r)
        .unwrap();
    let mse = r
        .iter()
        .map(|t| {
            let raw = m.global_bias()
                + m.user_biases()[t.user as usize]
                + m.item_biases()[t.item as usize]
                + m.user_factors(t.user)
                    .iter()
                    .zip(m.item_factors(t.item))
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            (raw - t.value).powi(2)
        })
        .sum::<f64>()
        / r.nnz() as f64;
    assert!((fgm_mse(&m, &r, 0.0).unwrap() - mse).abs() < 1e-12);
    assert!(fgm_mse(&m, &r, -1.0).is_err());
}

#[test]
fn deterministic_for_any_thread_count() {
    let r = data();
    let p = AdversarialParams::new(4)
        .max_iters(10)
        .seed(8)
        .check()
        .unwrap();
    let one = with_threads(1, || p.fit(&r).unwrap());
    assert_eq!(one, with_threads(4, || p.fit(&r).unwrap()));
}

#[test]
fn bad_parameters_are_named() {
    let name = |e: FamilyError| match e {
        FamilyError::InvalidParameter { name, .. } => name,
        other => panic!("unexpected {other}"),
    };
    assert_eq!(
        name(AdversarialParams::new(3).epsilon(-0.1).check().unwrap_err()),
        "epsilon"
    );
    assert_eq!(
        name(
            AdversarialParams::new(3)
                .epsilon(f64::NAN)
                .check()
                .unwrap_err()
        ),
        "epsilon"
    );
    assert_eq!(
        name(AdversarialParams::new(3).alpha(-1.0).check().unwrap_err()),
        "alpha"
    );
    assert_eq!(
        name(
            AdversarialParams::new(3)
                .learning_rate(-1.0)
                .check()
                .unwrap_err()
        ),
        "learning_rate"
    );
    assert_eq!(name(AdversarialParams::new(0).check().unwrap_err()), "rank");
}
