//! Property tests on random small instances: monotonicity of the objectives the updates
//! descend, and nonnegative finite factors for every algorithm.

use crate::common;

use cnmf_engine::{Algorithm, NmfParams};
use common::random_instance;
use proptest::prelude::*;

/// Relative slack for rounding only.
const ROUNDING: f64 = 1e-9;

fn non_increasing(values: &[f64]) -> Result<(), String> {
    for (t, w) in values.windows(2).enumerate() {
        if w[1] > w[0] * (1.0 + ROUNDING) + 1e-12 {
            return Err(format!(
                "increased from {} to {} at iteration {}",
                w[0],
                w[1],
                t + 1
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Corrective NMF's theorem: the clipped loss never increases from one iteration to the
    /// next (from iteration 1 on: flags start at zero, so iteration 1 descends the full loss).
    #[test]
    fn ignore_corrupt_clipped_loss_never_increases(
        n in 2usize..14, m in 2usize..14, k in 1usize..5, density in 0.2f64..0.9,
        lambda in 0.05f64..4.0, seed in 0u64..1000, l2 in prop_oneof![Just(0.0), 0.01f64..1.0],
        per_rating in any::<bool>(),
    ) {
        let data = random_instance(n, m, density, seed);
        let model = NmfParams::new(k, Algorithm::IgnoreCorrupt)
            .lambda(lambda).l2_w(l2).l2_h(l2).l2_per_rating(per_rating).max_iters(25).seed(seed)
            .check().unwrap().fit(&data).unwrap();
        let objective: Vec<f64> = model.trace()[1..].iter().map(|s| s.objective).collect();
        if let Err(e) = non_increasing(&objective) {
            return Err(TestCaseError::fail(format!("clipped objective {e}")));
        }
        if l2 == 0.0 {
            // Without L2 the objective is the clipped loss itself.
            for s in &model.trace()[1..] {
                prop_assert_eq!(Some(s.objective), s.clipped_loss);
            }
        }
    }

    /// Mao & Saul: the squared loss over observed entries never increases (with L2: the
    /// regularised objective, per row or per rating).
    #[test]
    fn ignore_missing_loss_never_increases(
        n in 2usize..14, m in 2usize..14, k in 1usize..5, density in 0.2f64..0.9,
        seed in 0u64..1000, l2 in prop_oneof![Just(0.0), 0.01f64..1.0],
        per_rating in any::<bool>(),
    ) {
        let data = random_instance(n, m, density, seed);
        let model = NmfParams::new(k, Algorithm::IgnoreMissing)
            .l2_w(l2).l2_h(l2 * 0.5).l2_per_rating(per_rating).max_iters(25).seed(seed)
            .check().unwrap().fit(&data).unwrap();
        let objective: Vec<f64> = model.trace().iter().map(|s| s.objective).collect();
        if let Err(e) = non_increasing(&objective) {
            return Err(TestCaseError::fail(format!("objective {e}")));
        }
        // The objective is the loss plus the penalties, recomputed here from the factors.
        let f = model.factors();
        let last = model.trace().last().unwrap();
        let loss: f64 = data.iter().map(|t| (t.value - f.predict(t.user, t.item)).powi(2)).sum();
        let k = f.rank();
        let weight = |count: usize| if per_rating { count as f64 } else { 1.0 };
        let pen = l2 * (0..data.n_users())
                .map(|u| weight(data.user_count(u as u32))
                    * f.w()[u * k..u * k + k].iter().map(|x| x * x).sum::<f64>())
                .sum::<f64>()
            + l2 * 0.5 * (0..data.n_items())
                .map(|i| weight(data.item_count(i as u32))
                    * f.h()[i * k..i * k + k].iter().map(|x| x * x).sum::<f64>())
                .sum::<f64>();
        prop_assert!((last.loss - loss).abs() <= 1e-9 * loss.max(1.0), "{} vs {}", last.loss, loss);
        prop_assert!((last.objective - loss - pen).abs() <= 1e-9 * (loss + pen).max(1.0));
    }

    /// Huber by majorise-minimise: the Huber objective (with L2: plus the penalties) never
    /// increases, from iteration `warmup_iters` on (the weights are used from then on).
    #[test]
    fn huber_objective_never_increases(
        n in 2usize..14, m in 2usize..14, k in 1usize..5, density in 0.2f64..0.9,
        lambda in 0.05f64..4.0, seed in 0u64..1000, l2 in prop_oneof![Just(0.0), 0.01f64..1.0],
        warmup in 0usize..3,
    ) {
        let data = random_instance(n, m, density, seed);
        let model = NmfParams::new(k, Algorithm::Huber)
            .lambda(lambda).l2_w(l2).l2_h(l2).warmup_iters(warmup).max_iters(25).seed(seed)
            .check().unwrap().fit(&data).unwrap();
        let objective: Vec<f64> =
            model.trace()[warmup..].iter().map(|s| s.objective).collect();
        if let Err(e) = non_increasing(&objective) {
            return Err(TestCaseError::fail(format!("huber objective {e}")));
        }
    }

    /// The smoothed L1 objective never increases (same argument), from iteration
    /// `warmup_iters` on.
    #[test]
    fn l1_objective_never_increases(
        n in 2usize..14, m in 2usize..14, k in 1usize..5, density in 0.2f64..0.9,
        seed in 0u64..1000, l2 in prop_oneof![Just(0.0), 0.01f64..1.0], warmup in 0usize..3,
    ) {
        let data = random_instance(n, m, density, seed);
        let model = NmfParams::new(k, Algorithm::L1)
            .l2_w(l2).l2_h(l2 * 0.5).warmup_iters(warmup).max_iters(25).seed(seed)
            .check().unwrap().fit(&data).unwrap();
        let objective: Vec<f64> =
            model.trace()[warmup..].iter().map(|s| s.objective).collect();
        if let Err(e) = non_increasing(&objective) {
            return Err(TestCaseError::fail(format!("smoothed L1 objective {e}")));
        }
    }

    /// Least trimmed squares: the trimmed loss never increases from iteration 1 on (flags
    /// start at zero, as for ignore-corrupt), and exactly floor(q |Omega|) entries are
    /// flagged once flags are set.
    #[test]
    fn trimmed_loss_never_increases(
        n in 2usize..14, m in 2usize..14, k in 1usize..5, density in 0.2f64..0.9,
        q in 0.0f64..0.6, seed in 0u64..1000, l2 in prop_oneof![Just(0.0), 0.01f64..1.0],
    ) {
        let data = random_instance(n, m, density, seed);
        let model = NmfParams::new(k, Algorithm::Trimmed)
            .trim_fraction(q).l2_w(l2).l2_h(l2).max_iters(25).seed(seed)
            .check().unwrap().fit(&data).unwrap();
        let objective: Vec<f64> = model.trace()[1..].iter().map(|s| s.objective).collect();
        if let Err(e) = non_increasing(&objective) {
            return Err(TestCaseError::fail(format!("trimmed objective {e}")));
        }
        let drop = (q * data.nnz() as f64).floor() as usize;
        prop_assert_eq!(model.corrupt_entries().len(), drop);
    }

    /// guarded has no single objective, but for the weights of an iteration (held fixed within
    /// it) each half-step does not increase its own weighted squared loss plus its L2 term:
    /// `Σ C_W r^2 + l2_w ||W||^2` over `W` with `H_t` fixed, then `Σ C_H r^2 + l2_h ||H||^2`
    /// over `H` with the new `W`. Iteration `t + 1` is read off a `t`- and a `t + 1`-iteration
    /// fit (the same bits up to iteration `t`); its weights are recomputed here from
    /// `X = W_t H_t` and the screened users.
    #[test]
    fn guarded_half_steps_do_not_increase_their_weighted_losses(
        n in 2usize..16, m in 2usize..16, k in 1usize..5, density in 0.2f64..0.9,
        lambda in 0.05f64..4.0, seed in 0u64..1000, l2 in prop_oneof![Just(0.0), 0.01f64..1.0],
        t in 1usize..6, a in 0.3f64..1.5, b in 0.3f64..1.5,
        screen in prop_oneof![Just(None), (0.5f64..3.0).prop_map(Some)],
    ) {
        let data = random_instance(n, m, density, seed);
        let params = NmfParams::new(k, Algorithm::Guarded)
            .lambda(lambda).user_threshold_scale(a).item_threshold_scale(b).profile_screen(screen)
            .l2_w(l2).l2_h(l2 * 0.5).seed(seed);
        let before = params.clone().max_iters(t).check().unwrap().fit(&data).unwrap();
        let after = params.max_iters(t + 1).check().unwrap().fit(&data).unwrap();
        let (f0, f1) = (before.factors(), after.factors());
        let (w0, h0, w1, h1) = (f0.w(), f0.h(), f1.w(), f1.h());
        let dot = |w: &[f64], h: &[f64], u: u32, i: u32| -> f64 {
            let (u, i) = (u as usize * k, i as usize * k);
            (0..k).map(|j| w[u + j] * h[i + j]).sum()
        };
        let screened = after.screened_users();
        let root = lambda.sqrt();
        let sq = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
        let (mut lw0, mut lw1, mut lh0, mut lh1) = (0.0, 0.0, 0.0, 0.0);
        for e in data.iter() {
            let r0 = (e.value - dot(w0, h0, e.user, e.item)).abs();
            if r0 <= a * root {
                lw0 += (e.value - dot(w0, h0, e.user, e.item)).powi(2);
                lw1 += (e.value - dot(w1, h0, e.user, e.item)).powi(2);
            }
            if r0 <= b * root && !screened.contains(&e.user) {
                lh0 += (e.value - dot(w1, h0, e.user, e.item)).powi(2);
                lh1 += (e.value - dot(w1, h1, e.user, e.item)).powi(2);
            }
        }
        let (lw0, lw1) = (lw0 + l2 * sq(w0), lw1 + l2 * sq(w1));
        let (lh0, lh1) = (lh0 + l2 * 0.5 * sq(h0), lh1 + l2 * 0.5 * sq(h1));
        prop_assert!(lw1 <= lw0 * (1.0 + ROUNDING) + 1e-12, "W half-step: {} -> {}", lw0, lw1);
        prop_assert!(lh1 <= lh0 * (1.0 + ROUNDING) + 1e-12, "H half-step: {} -> {}", lh0, lh1);
    }

    /// Every algorithm keeps its factors nonnegative and finite.
    #[test]
    fn factors_stay_nonnegative_and_finite(
        n in 1usize..12, m in 1usize..12, k in 1usize..6, density in 0.1f64..1.0,
        lambda in 0.05f64..4.0, seed in 0u64..1000, alg in 0usize..Algorithm::ALL.len(),
    ) {
        let alg = Algorithm::ALL[alg];
        let data = random_instance(n, m, density, seed);
        let model = NmfParams::new(k, alg)
            .lambda(lambda).decay(0.95).max_iters(30).seed(seed)
            .check().unwrap().fit(&data).unwrap();
        let f = model.factors();
        prop_assert!(f.w().iter().chain(f.h()).all(|x| x.is_finite() && *x >= 0.0));
        prop_assert_eq!(model.trace().len(), 31);
    }
}
