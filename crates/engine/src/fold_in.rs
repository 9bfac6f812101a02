//! Fold-in of one user against fixed item factors.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::isa::{Isa, Portable};
use crate::kernels::{
    gram, guarded_row, ignore_row, replace_row, robust_row, Guard, RowRule, RowStats, Scratch,
};
use crate::{Algorithm, EngineError, NmfModel};

/// Mixed into the model's seed so a folded-in row does not reuse the stream of `W0`'s first row.
const FOLD_IN_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

pub(crate) fn fold_in(model: &NmfModel, items: &[(u32, f64)]) -> Result<Vec<f64>, EngineError> {
    let (idx, values) = sorted_ratings(model, items)?;
    let params = model.params();
    let factors = model.factors();
    let k = factors.rank();
    let h = factors.h();
    let mut w0 = initial_row(model);
    let mut w1 = vec![0.0; k];
    let mut scratch = Scratch::new(k);
    let mut flags = vec![0u8; idx.len()];
    let mut weights = if params.algorithm().is_robust_baseline() {
        vec![0.0; idx.len()]
    } else {
        Vec::new()
    };
    let row = FixedRow {
        replaces: params.algorithm().replaces(),
        h,
        idx: &idx,
        values: &values,
        gram_h: if params.algorithm().replaces() {
            gram::<0, f64>(Isa::detect(), h, h, k)
        } else {
            Vec::new()
        },
    };
    // `trimmed` drops the same share of the user's ratings as the fit drops of all ratings.
    let drop = crate::trim::trim_count(params.trim_fraction(), idx.len());
    for t in 1..=params.max_iters() {
        if params.algorithm() == Algorithm::Trimmed {
            // The row's squared residuals, then the selection (as the fit's measuring pass).
            row.update(
                params.squares_rule(t),
                None,
                &w0,
                &mut [],
                &mut [],
                &mut weights,
                &mut scratch,
            );
            if params.trims(t) {
                crate::trim::trim(&weights, drop, Some(&mut flags));
            }
        }
        // Flags (and weights) as they stand at the end of iteration t-1, as in the fit.
        let stats = row.update(
            params.row_rule(t),
            params.guard(t),
            &w0,
            &mut w1,
            &mut flags,
            &mut weights,
            &mut scratch,
        );
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

/// The user's ratings checked against the model and sorted by item, as index and value
/// columns (the layout of a CSR row).
fn sorted_ratings(
    model: &NmfModel,
    items: &[(u32, f64)],
) -> Result<(Vec<u32>, Vec<f64>), EngineError> {
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
    let mut sorted: Vec<(u32, f64)> = items.to_vec();
    sorted.sort_by_key(|&(i, _)| i);
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(bad(format!("item {} is rated twice", w[0].0)));
    }
    Ok(sorted.into_iter().unzip())
}

/// The folded-in row's initial factors: drawn like `init_factors`' from a stream of its own.
fn initial_row(model: &NmfModel) -> Vec<f64> {
    let k = model.factors().rank();
    let s = (model.mean_rating() / k as f64).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(model.params().seed() ^ FOLD_IN_SALT);
    (0..k).map(|_| s * rng.random_range(0.5..1.5)).collect()
}

/// What stays fixed while one user's row is solved for: the item factors, the user's ratings
/// and, for the replace variants, `H H^T`.
struct FixedRow<'a> {
    replaces: bool,
    h: &'a [f64],
    idx: &'a [u32],
    values: &'a [f64],
    gram_h: Vec<f64>,
}

impl FixedRow<'_> {
    /// One multiplicative update of the row, `w0` to `w1`, under `rule` (and `guarded`'s
    /// `guard`, without the screen) (only measures when
    /// `w1` is empty); measures `w0` and sets its flags (and weights), as the fit's row pass
    /// does for one user.
    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        rule: RowRule,
        guard: Option<Guard>,
        w0: &[f64],
        w1: &mut [f64],
        flags: &mut [u8],
        weights: &mut [f64],
        scratch: &mut Scratch<f64>,
    ) -> RowStats {
        let mut stats = RowStats::default();
        if self.replaces {
            replace_row::<Portable, f64, 0, true>(
                0,
                w0,
                w1,
                self.h,
                self.idx,
                self.values,
                flags,
                rule,
                &self.gram_h,
                scratch,
                &mut stats,
            );
        } else if let Some(guard) = guard {
            // No screens at fold-in: they act on the item half-step only.
            if w1.is_empty() {
                guarded_row::<Portable, f64, 0, false>(
                    0,
                    w0,
                    w1,
                    self.h,
                    self.idx,
                    self.values,
                    flags,
                    rule,
                    guard,
                    false,
                    &[],
                    scratch,
                    &mut stats,
                );
            } else {
                guarded_row::<Portable, f64, 0, true>(
                    0,
                    w0,
                    w1,
                    self.h,
                    self.idx,
                    self.values,
                    flags,
                    rule,
                    guard,
                    false,
                    &[],
                    scratch,
                    &mut stats,
                );
            }
        } else if let Some(robust) = rule.robust {
            if w1.is_empty() {
                robust_row::<Portable, f64, 0, false>(
                    0,
                    w0,
                    w1,
                    self.h,
                    self.idx,
                    self.values,
                    flags,
                    weights,
                    rule,
                    robust,
                    scratch,
                    &mut stats,
                );
            } else {
                robust_row::<Portable, f64, 0, true>(
                    0,
                    w0,
                    w1,
                    self.h,
                    self.idx,
                    self.values,
                    flags,
                    weights,
                    rule,
                    robust,
                    scratch,
                    &mut stats,
                );
            }
        } else {
            ignore_row::<Portable, f64, 0, true>(
                0,
                w0,
                w1,
                self.h,
                self.idx,
                self.values,
                flags,
                rule,
                scratch,
                &mut stats,
            );
        }
        stats
    }
}
