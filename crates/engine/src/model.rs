//! The fitted model: factors, corruption flags, trace; prediction and fold-in.

use cnmf_ratings::RatingScale;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::burst::Burst;
use crate::{Algorithm, EngineError, Factors, ValidNmfParams};

/// What one iteration achieved. `trace()[t]` describes the factors at the end of iteration `t`;
/// entry 0 describes the initial factors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IterationStats {
    /// Iteration number (0 = initial factors).
    pub iteration: usize,
    /// Squared loss `Σ (V - W H)^2` over the observed entries that are not flagged corrupt
    /// (after this iteration's flag update; for `huber` the entries beyond `δ`, for `trimmed`
    /// the dropped ones).
    pub loss: f64,
    /// Clipped loss `Σ_Ω min((V - W H)^2, λ)` over all observed entries, when `λ` is known.
    pub clipped_loss: Option<f64>,
    /// The objective the algorithm descends: the clipped loss for the corrupt variants, the
    /// Huber loss `Σ_Ω ρ(r)` for `huber`, the smoothed absolute loss `Σ_Ω sqrt(r^2 + e^2)` for
    /// `l1`, the trimmed loss (the `|Ω| - floor(q |Ω|)` smallest squared residuals) for
    /// `trimmed`, the squared loss otherwise, plus `l2_w ||W||^2 + l2_h ||H||^2`. The tolerance
    /// applies to it.
    pub objective: f64,
    /// Number of observed entries flagged corrupt (always 0 for the missing variants and
    /// `l1`).
    pub flagged: usize,
    /// Seconds since the fit started, measured when the iteration's updates ended.
    pub elapsed_secs: f64,
    /// NMAE (clipped predictions) on the validation triples, if any were given.
    pub validation_nmae: Option<f64>,
}

/// Why a fit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// `max_iters` iterations ran.
    MaxIters,
    /// The wall-clock budget ran out.
    TimeBudget,
    /// The objective's relative change fell below the tolerance.
    Converged,
    /// The validation NMAE stopped improving; the model holds the factors of `best_iteration`.
    EarlyStopped {
        /// The iteration whose factors and flags were kept.
        best_iteration: usize,
    },
    /// The observer returned `ControlFlow::Break`.
    Observer,
}

/// A fitted factorization.
///
/// Predictions from [`predict`](NmfModel::predict) are clipped to the rating scale;
/// [`predict_raw`](NmfModel::predict_raw) gives `(W H)_ui` itself. Indices are the training
/// data's dense indices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NmfModel {
    pub(crate) params: ValidNmfParams,
    pub(crate) scale: RatingScale,
    pub(crate) mean_rating: f64,
    pub(crate) factors: Factors,
    pub(crate) n_ratings: usize,
    pub(crate) corrupt_positions: Vec<u32>,
    pub(crate) corrupt_entries: Vec<(u32, u32)>,
    pub(crate) trace: Vec<IterationStats>,
    pub(crate) stop_reason: StopReason,
    pub(crate) kept_iteration: usize,
    #[serde(default)]
    pub(crate) screened_users: Vec<u32>,
    #[serde(default)]
    pub(crate) bursts: Option<Vec<Burst>>,
}

impl NmfModel {
    /// A model from its parts, as the getters return them (`n_ratings` is
    /// [`corrupt_mask`](NmfModel::corrupt_mask)`().len()`, `kept_iteration` is
    /// [`iterations`](NmfModel::iterations)): for callers that store models in a format of their
    /// own. The parameters and factors were checked when built.
    ///
    /// Errors when the parts do not fit together: factors and parameters of different ranks,
    /// flag positions and entries of different lengths, positions not strictly ascending or not
    /// below `n_ratings`, or an entry outside the factors' users and items.
    #[allow(clippy::too_many_arguments)] // one per field: the inverse of the getters
    pub fn from_parts(
        params: ValidNmfParams,
        scale: RatingScale,
        mean_rating: f64,
        factors: Factors,
        n_ratings: usize,
        corrupt_positions: Vec<u32>,
        corrupt_entries: Vec<(u32, u32)>,
        trace: Vec<IterationStats>,
        stop_reason: StopReason,
        kept_iteration: usize,
    ) -> Result<NmfModel, EngineError> {
        let bad = |reason: String| EngineError::InvalidInput {
            what: "model parts",
            reason,
        };
        if factors.rank() != params.rank() {
            return Err(bad(format!(
                "factors of rank {} but parameters of rank {}",
                factors.rank(),
                params.rank()
            )));
        }
        if corrupt_positions.len() != corrupt_entries.len() {
            return Err(bad(format!(
                "{} flag positions but {} flagged entries",
                corrupt_positions.len(),
                corrupt_entries.len()
            )));
        }
        let ascending = corrupt_positions.windows(2).all(|w| w[0] < w[1]);
        let inside = corrupt_positions
            .last()
            .is_none_or(|&p| (p as usize) < n_ratings);
        if !(ascending && inside) {
            return Err(bad(format!(
                "flag positions are not strictly ascending below {n_ratings}"
            )));
        }
        let (n, m) = (factors.n_users(), factors.n_items());
        if let Some(&(u, i)) = corrupt_entries
            .iter()
            .find(|&&(u, i)| u as usize >= n || i as usize >= m)
        {
            return Err(bad(format!(
                "flagged entry (user {u}, item {i}) is outside the {n} x {m} factors"
            )));
        }
        Ok(NmfModel {
            params,
            scale,
            mean_rating,
            factors,
            n_ratings,
            corrupt_positions,
            corrupt_entries,
            trace,
            stop_reason,
            kept_iteration,
            screened_users: Vec::new(),
            bursts: None,
        })
    }

    /// The model with these [`bursts`](NmfModel::bursts) (`guarded`'s burst screen), for
    /// callers that store models in a format of their own, like
    /// [`with_screened_users`](NmfModel::with_screened_users).
    ///
    /// Errors when a burst's item is outside the model, or when bursts are given and the
    /// model's algorithm is not `guarded`.
    pub fn with_bursts(mut self, bursts: Option<Vec<Burst>>) -> Result<NmfModel, EngineError> {
        let bad = |reason: String| EngineError::InvalidInput {
            what: "bursts",
            reason,
        };
        if bursts.is_some() && self.algorithm() != Algorithm::Guarded {
            return Err(bad(format!("{} has no burst screen", self.algorithm())));
        }
        let m = self.n_items();
        if let Some(b) = bursts.iter().flatten().find(|b| b.item as usize >= m) {
            return Err(bad(format!(
                "burst of item {} is outside the model's {m} items",
                b.item
            )));
        }
        self.bursts = bursts;
        Ok(self)
    }

    /// The model with these [`screened_users`](NmfModel::screened_users) (`guarded`'s profile
    /// screen), for callers that store models in a format of their own: the counterpart of
    /// [`from_parts`](NmfModel::from_parts), which builds a model without any.
    ///
    /// Errors when the users are not strictly ascending or not below the number of users, or
    /// when the list is not empty and the model's algorithm is not `guarded`.
    pub fn with_screened_users(mut self, users: Vec<u32>) -> Result<NmfModel, EngineError> {
        let bad = |reason: String| EngineError::InvalidInput {
            what: "screened users",
            reason,
        };
        if !users.is_empty() && self.algorithm() != Algorithm::Guarded {
            return Err(bad(format!(
                "{} has no profile screen, but {} users are listed as screened",
                self.algorithm(),
                users.len()
            )));
        }
        let n = self.n_users();
        let ascending = users.windows(2).all(|w| w[0] < w[1]);
        let inside = users.last().is_none_or(|&u| (u as usize) < n);
        if !(ascending && inside) {
            return Err(bad(format!(
                "user indices are not strictly ascending below {n}"
            )));
        }
        self.screened_users = users;
        Ok(self)
    }

    /// The factors.
    pub fn factors(&self) -> &Factors {
        &self.factors
    }

    /// The algorithm that produced the model.
    pub fn algorithm(&self) -> Algorithm {
        self.params.algorithm()
    }

    /// The parameters of the fit.
    pub fn params(&self) -> &ValidNmfParams {
        &self.params
    }

    /// The training data's rating scale.
    pub fn scale(&self) -> RatingScale {
        self.scale
    }

    /// The training data's mean rating (scales the fold-in initialisation).
    pub fn mean_rating(&self) -> f64 {
        self.mean_rating
    }

    /// Number of users.
    pub fn n_users(&self) -> usize {
        self.factors.n_users()
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.factors.n_items()
    }

    /// The prediction for `(u, i)`, clipped to the rating scale.
    ///
    /// # Panics
    /// When `u` or `i` is out of range (see [`try_predict`](NmfModel::try_predict)).
    pub fn predict(&self, u: u32, i: u32) -> f64 {
        self.scale.clip(self.predict_raw(u, i))
    }

    /// The unclipped `(W H)_ui`.
    ///
    /// # Panics
    /// When `u` or `i` is out of range.
    pub fn predict_raw(&self, u: u32, i: u32) -> f64 {
        self.factors.predict(u, i)
    }

    /// The clipped prediction, or an error naming the index that is out of range.
    pub fn try_predict(&self, u: u32, i: u32) -> Result<f64, EngineError> {
        self.check_pair(u, i)?;
        Ok(self.predict(u, i))
    }

    fn check_pair(&self, u: u32, i: u32) -> Result<(), EngineError> {
        if u as usize >= self.n_users() {
            return Err(EngineError::UnknownUser {
                user: u,
                n_users: self.n_users(),
            });
        }
        if i as usize >= self.n_items() {
            return Err(EngineError::UnknownItem {
                item: i,
                n_items: self.n_items(),
            });
        }
        Ok(())
    }

    /// Clipped predictions for many pairs, in parallel (in the caller's rayon pool).
    ///
    /// # Panics
    /// When a pair is out of range (check with [`try_predict`](NmfModel::try_predict)).
    pub fn predict_many(&self, pairs: &[(u32, u32)]) -> Vec<f64> {
        pairs
            .par_iter()
            .with_min_len(1024)
            .map(|&(u, i)| self.predict(u, i))
            .collect()
    }

    /// The final corruption flags as `(user, item)` pairs, in CSR order (by user, then item).
    /// Empty for the missing variants and `l1`; for `huber` the entries beyond `δ`, for
    /// `trimmed` the dropped ones, for `guarded` the entries of item-side weight 0 on the final
    /// factors (`|r| > b sqrt(λ)`, and every rating of a screened user).
    pub fn corrupt_entries(&self) -> &[(u32, u32)] {
        &self.corrupt_entries
    }

    /// `guarded`'s screened users, ascending: the users its profile screen left out of the item
    /// half-step (see [`Algorithm::Guarded`]). Empty for every other algorithm and when the
    /// screen is off.
    pub fn screened_users(&self) -> &[u32] {
        &self.screened_users
    }

    /// `guarded`'s burst screen: the bursts it found, one at most per item, in item order
    /// (their held ratings are among the [`corrupt_entries`](NmfModel::corrupt_entries));
    /// `None` when the screen did not run (another algorithm, the screen off, or data without
    /// timestamps).
    pub fn bursts(&self) -> Option<&[Burst]> {
        self.bursts.as_deref()
    }

    /// Positions of the flagged entries in the training data's CSR data array, ascending.
    pub fn corrupt_positions(&self) -> &[u32] {
        &self.corrupt_positions
    }

    /// The flags as a mask parallel to the training data's CSR data array.
    pub fn corrupt_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.n_ratings];
        for &p in &self.corrupt_positions {
            mask[p as usize] = true;
        }
        mask
    }

    /// Number of flagged entries per user.
    pub fn corrupt_counts_per_user(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_users()];
        for &(u, _) in &self.corrupt_entries {
            counts[u as usize] += 1;
        }
        counts
    }

    /// The users the fit judges adversarial, ascending: the user-level decision behind the
    /// detection figures of `cargo xtask reproduce`. For `guarded`, the users of its profile
    /// screen and those whose rating a burst of `|z| >=` [`SUSPECT_Z`](crate::burst::SUSPECT_Z)
    /// held (its rating-level flags are broad: nearly every user has one; a weaker burst's
    /// ratings are held but their users not accused); for every other algorithm, the users
    /// with at least one flagged rating (those decide per rating only).
    pub fn suspected_users(&self) -> Vec<u32> {
        let mut users: Vec<u32> = if self.algorithm() == Algorithm::Guarded {
            let strong = self.bursts().unwrap_or_default().iter();
            let strong = strong.filter(|b| b.z.abs() >= crate::burst::SUSPECT_Z);
            let held = strong.flat_map(|b| b.users.iter().copied());
            self.screened_users.iter().copied().chain(held).collect()
        } else {
            self.corrupt_entries.iter().map(|&(u, _)| u).collect()
        };
        users.sort_unstable();
        users.dedup();
        users
    }

    /// Per-iteration statistics; entry `t` is iteration `t`, entry 0 the initial factors.
    pub fn trace(&self) -> &[IterationStats] {
        &self.trace
    }

    /// The iteration whose factors and flags the model holds: the last one run, or under early
    /// stopping the one with the best validation NMAE.
    pub fn iterations(&self) -> usize {
        self.kept_iteration
    }

    /// Why the fit stopped.
    pub fn stop_reason(&self) -> StopReason {
        self.stop_reason
    }

    /// Factors for a new (or changed) user from its ratings `(item, rating)`, with `H` fixed.
    ///
    /// Runs the model's own algorithm restricted to one row: `max_iters` masked multiplicative
    /// updates of the row (the replace variants use the sparse Lee–Seung row update with
    /// `H H^T`), and with the corrupt variants the same flag rule and warm-up; `huber` and `l1`
    /// reweight the row's ratings, `trimmed` drops `floor(q n)` of the user's `n` ratings
    /// (the same share as the fit), `guarded` runs its user-side rule (all ones in iteration
    /// 1, then `|r| <= a sqrt(λ)`). The profile screen plays no part: it only keeps a user out
    /// of the item half-step, which fold-in does not run (a screened user's own factors are
    /// fitted by the user-side rule in the fit too). The row starts
    /// from `s * U(0.5, 1.5)`, `s = sqrt(mean_rating / k)`, seeded by the model's seed.
    ///
    /// Errors on an empty list, an unknown item, a repeated item, or a rating that is not finite
    /// or outside the scale.
    pub fn fold_in(&self, items: &[(u32, f64)]) -> Result<Vec<f64>, EngineError> {
        crate::fold_in::fold_in(self, items)
    }
}

impl cnmf_metrics::Predictor for NmfModel {
    /// `(W H)_ui`, unclipped (the same as the inherent [`NmfModel::predict_raw`]).
    fn predict_raw(&self, user: u32, item: u32) -> f64 {
        self.factors.predict(user, item)
    }
}
