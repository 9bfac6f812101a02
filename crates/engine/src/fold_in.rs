//! Fold-in of one user against fixed item factors.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::isa::{Isa, Portable};
use crate::kernels::{gram, ignore_row, replace_row, RowRule, RowStats, Scratch};
use crate::{Algorithm, EngineError, NmfModel};

/// Mixed into the model's seed so a folded-in row does not reuse the stream of `W0`'s first row.
const FOLD_IN_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

pub(crate) fn fold_in(model: &NmfModel, items: &[(u32, f64)]) -> Result<Vec<f64>, EngineError> {
    let bad = |reason: String| EngineError::InvalidInput {
        what: "fold-in ratings",
        reason,
    };
    if items.is_empty() {
        return Err(bad(
            "no ratings: a user without ratings has no factors to solve for".into(),
        ));
    }
    let m = model.n_items();
    let scale = model.scale();
    let mut sorted: Vec<(u32, f64)> = items.to_vec();
    for (p, &(i, v)) in items.iter().enumerate() {
        if i as usize >= m {
            return Err(bad(format!(
                "rating {p}: item {i} is unknown to the model ({m} items)"
            )));
        }
        if !scale.contains(v) {
            return Err(bad(format!(
                "rating {p}: {v} is not a finite number in the scale [{}, {}]",
                scale.min(),
                scale.max()
            )));
        }
    }
    sorted.sort_by_key(|&(i, _)| i);
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(bad(format!("item {} is rated twice", w[0].0)));
    }
    let (idx, values): (Vec<u32>, Vec<f64>) = sorted.into_iter().unzip();

    let params = model.params();
    let alg = params.algorithm();
    let factors = model.factors();
    let k = factors.rank();
    let h = factors.h();
    let s = (model.mean_rating() / k as f64).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed() ^ FOLD_IN_SALT);
    let mut w0: Vec<f64> = (0..k).map(|_| s * rng.random_range(0.5..1.5)).collect();
    let mut w1 = vec![0.0; k];
    let mut scratch = Scratch::new(k);
    let mut flags = vec![0u8; idx.len()];
    let gram_h = if alg.replaces() {
        gram::<0>(Isa::detect(), h, h, k)
    } else {
        Vec::new()
    };
    for t in 1..=params.max_iters() {
        // Flags as they stand at the end of iteration t-1, as in the fit.
        let marking = alg.flags_corruption() && t > params.warmup_iters() + 1;
        let lambda = params.lambda();
        let rule = RowRule {
            lambda,
            mark: if marking { lambda } else { None },
            flagged_weight: match alg {
                Algorithm::ReplaceCorrupt => {
                    params.decay().powi(i32::try_from(t).unwrap_or(i32::MAX))
                }
                _ => 0.0,
            },
            l2: params.l2_w(),
        };
        let mut stats = RowStats::default();
        if alg.replaces() {
            replace_row::<Portable, 0, true>(
                0,
                &w0,
                &mut w1,
                h,
                &idx,
                &values,
                &mut flags,
                rule,
                &gram_h,
                &mut scratch,
                &mut stats,
            );
        } else {
            ignore_row::<Portable, 0, true>(
                0,
                &w0,
                &mut w1,
                h,
                &idx,
                &values,
                &mut flags,
                rule,
                &mut scratch,
                &mut stats,
            );
        }
        if stats.bad_row.is_some() {
            return Err(EngineError::NotFinite {
                what: "folded-in user factors".into(),
                iteration: t,
            });
        }
        std::mem::swap(&mut w0, &mut w1);
    }
    Ok(w0)
}
