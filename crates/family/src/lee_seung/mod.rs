//! Classic Lee–Seung NMF by multiplicative updates (the lecture's method), for the Frobenius
//! objective and the generalised Kullback–Leibler (I-)divergence.
//!
//! Given `V >= 0` (`n x m`) and a rank `r`, find `W >= 0` (`n x r`) and `H >= 0` (`r x m`)
//! minimising one of
//!
//! ```text
//! Frobenius:  F(W, H)   = ||V - W H||^2 = sum_ij (V_ij - (WH)_ij)^2
//! KL:         D_I(V||WH) = sum_ij ( V_ij ln(V_ij / (WH)_ij) - V_ij + (WH)_ij )
//! ```
//!
//! One iteration updates `W` with `H` fixed, then `H` with the new `W`
//! (`eps = 1e-12` guards every division, `.*` and `./` are element-wise):
//!
//! ```text
//! Frobenius:  W <- W .* (V H^T) ./ (W H H^T + eps)
//!             H <- H .* (W^T V) ./ (W^T W H + eps)
//! KL:         W_ia <- W_ia * [sum_mu H_amu V_imu / (WH)_imu] / (sum_mu H_amu + eps)
//!             H_amu <- H_amu * [sum_i W_ia V_imu / (WH)_imu] / (sum_i W_ia + eps)
//! ```
//!
//! Each half-step cannot increase its objective (Lee & Seung, 2001), so the objective is
//! non-increasing from one iteration to the next; the property tests check it.
//!
//! **Column normalisation** (the lecture's "each column of W sums to 1", optional): after the
//! W update, each column `a` of `W` is divided by `s_a = sum_i W_ia` and row `a` of `H` is
//! multiplied by `s_a`. `W H` is unchanged, so monotonicity is kept. (The lecture's slide
//! normalises `W` without rescaling `H` and omits the KL denominator `sum_mu H_amu`; the
//! omitted denominator is a per-column factor that the normalisation removes, so with
//! normalisation on, our W step equals the slide's; the compensating `H` scaling is what keeps
//! the iteration monotone.)
//!
//! Three inputs (see [`LeeSeungInput`]):
//! - dense [`DMatrix`]: every entry is data;
//! - sparse [`CsMatI`]: every entry is data and absent entries are real zeros (count data, the
//!   lecture's "recommended for sparse counting data"). Nothing dense of size `n x m` is built:
//!   the KL step needs `V / (WH)` only on the stored entries and the column sums of `H` (rows
//!   of `W`) for the denominators, and the Frobenius step needs `V H^T`, `W^T V` and the
//!   `r x r` Gram matrices, so an iteration costs `O(nnz r + (n + m) r^2)`;
//! - [`Ratings`]: **ignore-missing**: only observed entries count (mask `M`). The Frobenius
//!   objective on ratings runs on `cnmf-engine`'s `ignore-missing` (the same update, one
//!   implementation; it follows the engine's tolerance rule and cannot normalise `W`):
//!   `F_M = sum_{ij in Omega} (V_ij - (WH)_ij)^2`, `D_M = sum_{ij in Omega} (...)`, with the
//!   masked updates `W <- W .* ((M.*V) H^T) ./ ((M.*(WH)) H^T + eps)` and, for KL,
//!   `W_ia <- W_ia * [sum_{mu in Omega_i} H_amu V_imu/(WH)_imu] / (sum_{mu in Omega_i} H_amu + eps)`
//!   (and symmetrically for `H`). A user or item with no observed entry keeps its factors.
//!
//! Initialisation is the project's (`cnmf_engine::init_factors`): every entry of `W` and `H` is `s * U(0.5, 1.5)` with
//! `s = sqrt(mean / r)`, drawn from `ChaCha8Rng::seed_from_u64(seed)`, `W` row by row first,
//! then `H` column by column; `mean` is the mean over all `n m` entries for dense and sparse
//! input and over observed entries for ratings. A dense matrix and its sparse copy therefore
//! start from the same factors and follow the same iterates (up to rounding).

mod dense;
mod sparse;

use cnmf_engine::{Algorithm, NmfParams};
use cnmf_metrics::Predictor;
use cnmf_ratings::params::{check_at_least_one, check_finite_nonnegative, ParamGuard};
use cnmf_ratings::{RatingScale, Ratings};
use nalgebra::DMatrix;
use sprs::CsMatI;

use crate::{FamilyError, FitOptions};

/// Which objective the multiplicative updates minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    /// Squared Frobenius error `||V - W H||^2`.
    #[default]
    Frobenius,
    /// Generalised Kullback–Leibler (I-)divergence `D_I(V || W H)`.
    KullbackLeibler,
}

/// Parameters of Lee–Seung NMF; [`check`](LeeSeungParams::check) validates them.
///
/// ```
/// use cnmf_family::{DMatrix, LeeSeungParams, Objective};
/// // The lecture's 3 x 3 example with r = 2.
/// let v = DMatrix::from_row_slice(3, 3, &[4.0, 0.0, 2.0, 0.0, 3.0, 1.0, 2.0, 1.0, 3.0]);
/// let model = LeeSeungParams::new(2)
///     .objective(Objective::KullbackLeibler)
///     .normalize_w(true)
///     .max_iters(500)
///     .check()?
///     .fit(&v)?;
/// let trace = model.objective_trace();
/// assert!(trace.last().unwrap() < &trace[0]);
/// // With normalisation each column of W sums to 1.
/// for a in 0..2 {
///     assert!((model.w().column(a).sum() - 1.0).abs() < 1e-9);
/// }
/// # Ok::<(), cnmf_family::FamilyError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LeeSeungParams {
    rank: usize,
    objective: Objective,
    max_iters: usize,
    tolerance: f64,
    normalize_w: bool,
    seed: u64,
}

impl LeeSeungParams {
    /// Rank `r` with the defaults: Frobenius, 200 iterations, tolerance 0 (run every
    /// iteration), no normalisation, seed 0.
    pub fn new(rank: usize) -> Self {
        LeeSeungParams {
            rank,
            objective: Objective::Frobenius,
            max_iters: 200,
            tolerance: 0.0,
            normalize_w: false,
            seed: 0,
        }
    }

    /// The factorisation rank `r` (at least 1).
    pub fn rank(mut self, rank: usize) -> Self {
        self.rank = rank;
        self
    }

    /// The objective to minimise.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// Maximum number of iterations (at least 1).
    pub fn max_iters(mut self, max_iters: usize) -> Self {
        self.max_iters = max_iters;
        self
    }

    /// Stop early once an iteration lowers the objective by less than `tolerance` times its
    /// value (finite, `>= 0`; 0 runs every iteration). The test is made at the start of each
    /// iteration, on the decrease of the one before.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Normalise each column of `W` to sum 1 after every `W` update, scaling `H` so that
    /// `W H` is unchanged (the lecture's optional step).
    pub fn normalize_w(mut self, normalize_w: bool) -> Self {
        self.normalize_w = normalize_w;
        self
    }

    /// Seed of the initial factors.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<ValidLeeSeungParams, FamilyError> {
        check_at_least_one("rank", self.rank)?;
        check_at_least_one("max_iters", self.max_iters)?;
        check_finite_nonnegative("tolerance", self.tolerance)?;
        Ok(ValidLeeSeungParams(self))
    }
}

impl ParamGuard for LeeSeungParams {
    type Checked = ValidLeeSeungParams;
    type Error = FamilyError;
    fn check(self) -> Result<ValidLeeSeungParams, FamilyError> {
        LeeSeungParams::check(self)
    }
}

/// Checked [`LeeSeungParams`]: the only way to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidLeeSeungParams(LeeSeungParams);

impl ValidLeeSeungParams {
    /// The rank.
    pub fn rank(&self) -> usize {
        self.0.rank
    }

    /// The objective.
    pub fn objective(&self) -> Objective {
        self.0.objective
    }

    /// The maximum number of iterations.
    pub fn max_iters(&self) -> usize {
        self.0.max_iters
    }

    /// The early-stopping tolerance.
    pub fn tolerance(&self) -> f64 {
        self.0.tolerance
    }

    /// Whether `W`'s columns are normalised.
    pub fn normalize_w(&self) -> bool {
        self.0.normalize_w
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// Fits `data` (dense, sparse or ratings; see [`LeeSeungInput`]).
    pub fn fit<D: LeeSeungInput + ?Sized>(&self, data: &D) -> Result<D::Model, FamilyError> {
        data.fit_lee_seung(self, FitOptions::new())
    }

    /// [`fit`](ValidLeeSeungParams::fit) with options (an observer, which may stop the fit).
    pub fn fit_with<D: LeeSeungInput + ?Sized>(
        &self,
        data: &D,
        options: FitOptions<'_>,
    ) -> Result<D::Model, FamilyError> {
        data.fit_lee_seung(self, options)
    }

    /// Whether the loop should stop after seeing `trace` (early stopping by tolerance).
    pub(crate) fn converged(&self, trace: &[f64]) -> bool {
        let tol = self.0.tolerance;
        if tol <= 0.0 || trace.len() < 2 {
            return false;
        }
        let (prev, cur) = (trace[trace.len() - 2], trace[trace.len() - 1]);
        prev - cur <= tol * prev.abs()
    }
}

/// Data that Lee–Seung NMF can fit: implemented for a dense [`DMatrix<f64>`] (every entry is
/// data), a sparse [`CsMatI<f64, u32>`] in CSR or CSC form (absent entries are zeros) and
/// [`Ratings`] (ignore-missing: only observed entries count).
pub trait LeeSeungInput {
    /// What the fit returns.
    type Model;

    /// Runs the multiplicative updates on `self`.
    fn fit_lee_seung(
        &self,
        params: &ValidLeeSeungParams,
        options: FitOptions<'_>,
    ) -> Result<Self::Model, FamilyError>;
}

impl LeeSeungInput for DMatrix<f64> {
    type Model = LeeSeungModel;

    fn fit_lee_seung(
        &self,
        params: &ValidLeeSeungParams,
        options: FitOptions<'_>,
    ) -> Result<LeeSeungModel, FamilyError> {
        dense::fit(self, params, options)
    }
}

impl LeeSeungInput for CsMatI<f64, u32> {
    type Model = LeeSeungModel;

    fn fit_lee_seung(
        &self,
        params: &ValidLeeSeungParams,
        options: FitOptions<'_>,
    ) -> Result<LeeSeungModel, FamilyError> {
        sparse::fit_complete(self, params, options)
    }
}

impl LeeSeungInput for Ratings {
    type Model = RatingNmfModel;

    fn fit_lee_seung(
        &self,
        params: &ValidLeeSeungParams,
        options: FitOptions<'_>,
    ) -> Result<RatingNmfModel, FamilyError> {
        let nmf = match params.objective() {
            Objective::Frobenius => frobenius_on_engine(self, params, options)?,
            Objective::KullbackLeibler => sparse::fit_masked(self, params, options)?,
        };
        Ok(RatingNmfModel {
            nmf,
            scale: self.scale(),
        })
    }
}

/// The factors `W` (`n x r`) and `H` (`r x m`) found by Lee–Seung NMF, with the objective
/// of every iterate.
#[derive(Debug, Clone, PartialEq)]
pub struct LeeSeungModel {
    w: DMatrix<f64>,
    h: DMatrix<f64>,
    objective: Objective,
    trace: Vec<f64>,
}

impl LeeSeungModel {
    pub(crate) fn new(
        w: DMatrix<f64>,
        h: DMatrix<f64>,
        objective: Objective,
        trace: Vec<f64>,
    ) -> Self {
        LeeSeungModel {
            w,
            h,
            objective,
            trace,
        }
    }

    /// `W`, `n x r` (row `i`: how much row `i` of `V` uses each basis vector).
    pub fn w(&self) -> &DMatrix<f64> {
        &self.w
    }

    /// `H`, `r x m` (column `j`: the weights of column `j` of `V`).
    pub fn h(&self) -> &DMatrix<f64> {
        &self.h
    }

    /// The rank `r`.
    pub fn rank(&self) -> usize {
        self.h.nrows()
    }

    /// The objective that was minimised.
    pub fn objective(&self) -> Objective {
        self.objective
    }

    /// The objective of every iterate: index 0 is the initial state, the last entry the
    /// returned factors (on observed entries only for ratings).
    pub fn objective_trace(&self) -> &[f64] {
        &self.trace
    }

    /// Number of iterations run.
    pub fn iterations(&self) -> usize {
        self.trace.len() - 1
    }

    /// The reconstruction `(W H)_ij`.
    ///
    /// # Panics
    /// When `i` or `j` is outside the matrix.
    pub fn entry(&self, i: usize, j: usize) -> f64 {
        // Element by element: a row view of the column-major W would be copied by transpose().
        (0..self.rank())
            .map(|a| self.w[(i, a)] * self.h[(a, j)])
            .sum()
    }
}

/// Lee–Seung NMF of rating data (ignore-missing), predicting clipped ratings.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingNmfModel {
    nmf: LeeSeungModel,
    scale: RatingScale,
}

impl RatingNmfModel {
    /// The factors: `W` is users x r, `H` is r x items.
    pub fn factors(&self) -> &LeeSeungModel {
        &self.nmf
    }

    /// The rating scale predictions are clipped to.
    pub fn scale(&self) -> RatingScale {
        self.scale
    }

    /// The clipped prediction `clip((W H)_ui)`, or an error for an unknown user or item.
    pub fn try_predict(&self, user: u32, item: u32) -> Result<f64, FamilyError> {
        Ok(self.scale.clip(self.try_predict_raw(user, item)?))
    }

    /// The unclipped `(W H)_ui`, or an error for an unknown user or item.
    pub fn try_predict_raw(&self, user: u32, item: u32) -> Result<f64, FamilyError> {
        let (n, m) = (self.nmf.w.nrows(), self.nmf.h.ncols());
        if user as usize >= n {
            return Err(FamilyError::UnknownUser { user, n_users: n });
        }
        if item as usize >= m {
            return Err(FamilyError::UnknownItem { item, n_items: m });
        }
        Ok(self.nmf.entry(user as usize, item as usize))
    }

    /// The prediction `(W H)_ui` clipped to the rating scale.
    ///
    /// # Panics
    /// For a user or item outside the training data (use
    /// [`RatingNmfModel::try_predict`] to get an error instead).
    pub fn predict(&self, user: u32, item: u32) -> f64 {
        self.try_predict(user, item)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Predictor for RatingNmfModel {
    /// The unclipped `(W H)_ui`.
    ///
    /// # Panics
    /// For a user or item outside the training data.
    fn predict_raw(&self, user: u32, item: u32) -> f64 {
        self.try_predict_raw(user, item)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Lee–Seung Frobenius on ratings: the engine's `ignore-missing`, whose update is exactly the
/// masked one of the module docs (same initialisation, same order of half-steps), so there is
/// one implementation of it in the workspace.
fn frobenius_on_engine(
    r: &Ratings,
    params: &ValidLeeSeungParams,
    options: FitOptions<'_>,
) -> Result<LeeSeungModel, FamilyError> {
    if params.normalize_w() {
        return Err(FamilyError::param(
            "normalize_w",
            "column normalisation of W is for topic models; Lee-Seung Frobenius on ratings \
             runs on cnmf-engine's ignore-missing, which does not normalise (use the KL \
             objective, or dense or sparse input)",
        ));
    }
    for t in r.iter() {
        check_value(t.value, || format!("(user {}, item {})", t.user, t.item))?;
    }
    let mut engine = NmfParams::new(params.rank(), Algorithm::IgnoreMissing)
        .max_iters(params.max_iters())
        .seed(params.seed());
    if params.tolerance() > 0.0 {
        engine = engine.tolerance(params.tolerance());
    }
    let mut engine_options = cnmf_engine::FitOptions::new();
    if let Some(observer) = options.into_observer() {
        engine_options = engine_options.observer(observer);
    }
    let model = engine.check()?.fit_with(r, engine_options)?;
    let (n, m, k) = (model.n_users(), model.n_items(), params.rank());
    let trace = model.trace().iter().map(|s| s.objective).collect();
    let (w, h) = model.factors().clone().into_parts();
    Ok(LeeSeungModel::new(
        DMatrix::from_row_slice(n, k, &w),
        DMatrix::from_column_slice(k, m, &h),
        Objective::Frobenius,
        trace,
    ))
}

/// The KL term `v ln(v / x) - v + x` (`x` alone when `v = 0`).
#[inline]
pub(crate) fn kl_term(v: f64, x: f64) -> f64 {
    if v > 0.0 {
        v * (v / x).ln() - v + x
    } else {
        x
    }
}

/// Rejects data with a negative or non-finite value; `at` names the offending entry.
pub(crate) fn check_value(v: f64, at: impl FnOnce() -> String) -> Result<(), FamilyError> {
    if !v.is_finite() {
        return Err(FamilyError::data(
            "Lee-Seung NMF",
            format!("entry {} is not finite ({v})", at()),
        ));
    }
    if v < 0.0 {
        return Err(FamilyError::data(
            "Lee-Seung NMF",
            format!(
                "entry {} is negative ({v}); NMF needs nonnegative data",
                at()
            ),
        ));
    }
    Ok(())
}
