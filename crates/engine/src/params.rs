//! Hyper-parameters: the checked builder [`NmfParams`] -> [`ValidNmfParams`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use cnmf_ratings::params::{
    check_at_least_one, check_finite_nonnegative, check_finite_positive, check_probability,
    ParamGuard,
};

use crate::{Algorithm, EngineError};

/// Default number of iterations.
pub const DEFAULT_MAX_ITERS: usize = 100;
/// Default decay of the corrupt entries' weight in `replace-corrupt` (the paper's 0.99).
pub const DEFAULT_DECAY: f64 = 0.99;
/// Default share of the observed entries `trimmed` drops (5%).
pub const DEFAULT_TRIM_FRACTION: f64 = 0.05;
/// Default scale `a` of `guarded`'s user-side threshold `a sqrt(λ)`: 1, `ignore-corrupt`'s own
/// threshold (a tighter user side cost accuracy and bought no robustness; `docs/defence-lab.md`,
/// *Threshold scales*).
pub const DEFAULT_USER_THRESHOLD_SCALE: f64 = 1.0;
/// Default scale `b` of `guarded`'s item-side threshold `b sqrt(λ)`: 0.8, the measured trade
/// between clean accuracy and a spread-out attack (`docs/defence-lab.md`, *Threshold scales*).
pub const DEFAULT_ITEM_THRESHOLD_SCALE: f64 = 0.8;
/// `guarded`'s threshold scales before the measured change to 1.0 and 0.8: what a stored copy
/// of the parameters without them was fitted with.
const LEGACY_THRESHOLD_SCALES: (f64, f64) = (0.8, 0.6);
/// Default `z` of `guarded`'s profile screen (users more than `z` robust standard deviations
/// below the median popularity score are screened).
pub const DEFAULT_PROFILE_SCREEN: f64 = 4.0;
/// Default window of `guarded`'s burst screen: one day, in seconds.
pub const DEFAULT_BURST_WINDOW: u64 = 86_400;
/// The smoothing `e` of the `l1` baseline's loss `Σ sqrt(r^2 + e^2)`.
///
/// Fixed rather than a parameter: on rating scales (residuals of order 0.1 to 4) `e = 0.01`
/// makes the loss the absolute loss to within `e` per entry while bounding the weights
/// `1 / (2 sqrt(r^2 + e^2))` by `1 / (2e) = 50`, a harmless range for `f64`; smaller values
/// only slow the iterations down near exactly fitted entries.
pub const L1_SMOOTHING: f64 = 0.01;

/// `NmfParams`' `trim_fraction` when a stored copy lacks it.
fn default_trim_fraction() -> f64 {
    DEFAULT_TRIM_FRACTION
}

/// `NmfParams`' `user_threshold_scale` when a stored copy lacks it.
fn default_user_threshold_scale() -> f64 {
    LEGACY_THRESHOLD_SCALES.0
}

/// `NmfParams`' `item_threshold_scale` when a stored copy lacks it.
fn default_item_threshold_scale() -> f64 {
    LEGACY_THRESHOLD_SCALES.1
}

/// `NmfParams`' `profile_screen` when a stored copy lacks it (a stored `null` is off): 3, the
/// default when such copies were written (it became 4 with the burst screen).
fn default_profile_screen() -> Option<f64> {
    Some(3.0)
}

/// The floating-point precision of a fit's iterations: the element type of the factors' working
/// copies, of the rating values the passes read and of the per-entry arithmetic. The
/// statistics (losses, counts, `||W||^2`) are summed in `f64` either way, and the fitted
/// [`Factors`](crate::Factors) are `f64` (converted exactly from `f32`), so the model, its
/// predictions and everything downstream do not depend on it. Each precision is deterministic
/// on its own (the same bits for any thread count and on every instruction set); the two
/// precisions give different bits.
///
/// Written `"f64"` and `"f32"` (serde, [`Display`](std::fmt::Display), [`FromStr`](std::str::FromStr),
/// `Debug`); a stored copy of the parameters without it reads as [`Precision::F64`].
///
/// ```
/// use cnmf_engine::Precision;
/// assert_eq!("f32".parse::<Precision>().unwrap(), Precision::F32);
/// assert_eq!(Precision::default().to_string(), "f64");
/// assert_eq!(format!("{:?}", Precision::F32), "f32");
/// assert!("f16".parse::<Precision>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// `f64` everywhere (the default).
    #[default]
    F64,
    /// `f32` factors, rating values and per-entry arithmetic, `f64` statistics: half the memory
    /// traffic of the passes, twice the SIMD lanes.
    F32,
}

impl Precision {
    /// The name: `"f64"` or `"f32"`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F64 => "f64",
            Precision::F32 => "f32",
        }
    }
}

impl std::fmt::Debug for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Precision::F64, Precision::F32]
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| EngineError::InvalidParameter {
                name: "precision",
                reason: format!("unknown precision {s:?}: f64 or f32"),
            })
    }
}

/// Where the corruption threshold `λ` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LambdaSource {
    /// `λ` given directly.
    Value(f64),
    /// `λ` from the paper's noise model: Gaussian noise of standard deviation `sigma`, an entry
    /// corrupt with probability `p` (see [`lambda_from_noise_model`]).
    NoiseModel {
        /// Standard deviation of the clean entries' noise.
        sigma: f64,
        /// Prior probability that an entry is corrupt.
        p: f64,
    },
}

/// `λ` from the paper's noise model (specification section 4).
///
/// Clean entries are the true value plus `N(0, sigma^2)` noise; an entry is corrupt with
/// probability `p`. With `a = -ln(sigma sqrt(2 pi))` and `b = -1 / (2 sigma^2)`, an entry is
/// marked corrupt when its Gaussian log-density falls below `ln p`:
///
/// ```text
/// λ = (ln p - a) / b = 2 sigma^2 (-ln(sigma sqrt(2 pi)) - ln p)
/// ```
///
/// Errors when `sigma` is not finite and positive, `p` is not in `(0, 1)`, or the result is not
/// positive (the noise is too wide for that `p`: every entry would be corrupt).
///
/// ```
/// use cnmf_engine::lambda_from_noise_model;
/// let l = lambda_from_noise_model(0.5, 0.05).unwrap();
/// let expected = 2.0 * 0.25 * (-(0.5 * (2.0 * std::f64::consts::PI).sqrt()).ln() - 0.05f64.ln());
/// assert!((l - expected).abs() < 1e-12);
/// assert!(lambda_from_noise_model(5.0, 0.5).is_err()); // non-positive lambda
/// ```
pub fn lambda_from_noise_model(sigma: f64, p: f64) -> Result<f64, EngineError> {
    check_finite_positive("sigma", sigma)?;
    check_probability("p", p)?;
    let a = -(sigma * (2.0 * std::f64::consts::PI).sqrt()).ln();
    let lambda = 2.0 * sigma * sigma * (a - p.ln());
    if !(lambda.is_finite() && lambda > 0.0) {
        return Err(EngineError::InvalidParameter {
            name: "noise_model",
            reason: format!(
                "sigma = {sigma}, p = {p} give lambda = {lambda}, which is not positive \
                 (the Gaussian density never falls below p: every entry would be corrupt)"
            ),
        });
    }
    Ok(lambda)
}

/// Hyper-parameters of a factorization, unchecked: build with [`NmfParams::new`] and the
/// setters, then [`check`](NmfParams::check) them into [`ValidNmfParams`].
///
/// ```
/// use cnmf_engine::{Algorithm, NmfParams};
/// let params = NmfParams::new(20, Algorithm::IgnoreCorrupt)
///     .noise_model(0.5, 0.05)
///     .max_iters(50)
///     .seed(7)
///     .check()
///     .unwrap();
/// assert!(params.lambda().unwrap() > 0.0);
/// let err = NmfParams::new(0, Algorithm::IgnoreMissing).check().unwrap_err();
/// assert!(err.to_string().contains("rank"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NmfParams {
    rank: usize,
    algorithm: Algorithm,
    lambda: Option<LambdaSource>,
    decay: f64,
    max_iters: usize,
    time_budget: Option<Duration>,
    tolerance: Option<f64>,
    seed: u64,
    threads: usize,
    warmup_iters: usize,
    l2_w: f64,
    l2_h: f64,
    /// Absent from stored copies made before the option existed: those fits had row penalties.
    #[serde(default)]
    l2_per_rating: bool,
    early_stopping: Option<usize>,
    #[serde(default = "default_trim_fraction")]
    trim_fraction: f64,
    #[serde(default = "default_user_threshold_scale")]
    user_threshold_scale: f64,
    #[serde(default = "default_item_threshold_scale")]
    item_threshold_scale: f64,
    #[serde(default = "default_profile_screen")]
    profile_screen: Option<f64>,
    /// Absent from stored copies made before the burst screen existed: those fits had none.
    #[serde(default)]
    burst_window: Option<u64>,
    /// Absent from stored copies made before the option existed: those fits were `f64`.
    #[serde(default)]
    precision: Precision,
}

impl NmfParams {
    /// Rank and algorithm; everything else at its default: no `λ`, decay 0.99,
    /// [`DEFAULT_MAX_ITERS`] iterations, no time budget, no tolerance, seed 0, rayon's default
    /// threads, no warm-up, no L2, no early stopping, trim fraction
    /// [`DEFAULT_TRIM_FRACTION`], `guarded`'s threshold scales
    /// [`DEFAULT_USER_THRESHOLD_SCALE`] and [`DEFAULT_ITEM_THRESHOLD_SCALE`], its profile
    /// screen at [`DEFAULT_PROFILE_SCREEN`] and its burst screen at [`DEFAULT_BURST_WINDOW`].
    pub fn new(rank: usize, algorithm: Algorithm) -> Self {
        NmfParams {
            rank,
            algorithm,
            lambda: None,
            decay: DEFAULT_DECAY,
            max_iters: DEFAULT_MAX_ITERS,
            time_budget: None,
            tolerance: None,
            seed: 0,
            threads: 0,
            warmup_iters: 0,
            l2_w: 0.0,
            l2_h: 0.0,
            l2_per_rating: false,
            early_stopping: None,
            trim_fraction: DEFAULT_TRIM_FRACTION,
            user_threshold_scale: DEFAULT_USER_THRESHOLD_SCALE,
            item_threshold_scale: DEFAULT_ITEM_THRESHOLD_SCALE,
            profile_screen: Some(DEFAULT_PROFILE_SCREEN),
            burst_window: Some(DEFAULT_BURST_WINDOW),
            precision: Precision::F64,
        }
    }

    /// Changes the algorithm (handy to run every algorithm with otherwise equal parameters).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Changes the rank `k` (the number of factors per user and item; at least 1).
    pub fn rank(mut self, rank: usize) -> Self {
        self.rank = rank;
        self
    }

    /// The corruption threshold `λ` on the squared residual (required by the corrupt variants
    /// and by `huber`, whose threshold on `|r|` is `δ = sqrt(λ)`; with the other algorithms it
    /// only enables the clipped loss in the trace).
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = Some(LambdaSource::Value(lambda));
        self
    }

    /// `λ` from the paper's noise model, see [`lambda_from_noise_model`].
    pub fn noise_model(mut self, sigma: f64, p: f64) -> Self {
        self.lambda = Some(LambdaSource::NoiseModel { sigma, p });
        self
    }

    /// Decay of the corrupt entries' data weight in `replace-corrupt`: iteration `t` fills a
    /// corrupt entry with `decay^t V + (1 - decay^t) X`. In `(0, 1]`; default 0.99.
    pub fn decay(mut self, decay: f64) -> Self {
        self.decay = decay;
        self
    }

    /// Maximum number of iterations (at least 1).
    pub fn max_iters(mut self, max_iters: usize) -> Self {
        self.max_iters = max_iters;
        self
    }

    /// Wall-clock budget: the fit stops after the first iteration that ends past it.
    pub fn time_budget(mut self, budget: Duration) -> Self {
        self.time_budget = Some(budget);
        self
    }

    /// Stops when the objective's relative change between two iterations falls below
    /// `tolerance` (finite, positive).
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    /// Seed of the initial factors ([`init_factors`](crate::init_factors)).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Worker threads: 0 runs in the caller's rayon pool (the global one by default); `n > 0`
    /// runs inside a dedicated pool of `n` threads. Results are bit-identical for every value.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Iterations run before corruption flags start being set (the corrupt variants and
    /// `trimmed` behave as their missing counterparts until then; `huber` and `l1` use weights
    /// 1, that is `ignore-missing`, for their first `warmup_iters` iterations). Default 0: flags
    /// are set from iteration 1 on and the robust weights are used from iteration 1 on.
    pub fn warmup_iters(mut self, warmup_iters: usize) -> Self {
        self.warmup_iters = warmup_iters;
        self
    }

    /// L2 penalty `l2_w ||W||^2` on the user factors, added to the multiplicative update's
    /// denominator as `l2_w W` (scikit-learn's `alpha_W` style). Finite, `>= 0`; default 0.
    pub fn l2_w(mut self, l2_w: f64) -> Self {
        self.l2_w = l2_w;
        self
    }

    /// L2 penalty `l2_h ||H||^2` on the item factors (denominator `+ l2_h H`). Finite, `>= 0`.
    pub fn l2_h(mut self, l2_h: f64) -> Self {
        self.l2_h = l2_h;
        self
    }

    /// Scales each row's L2 penalty by its number of observed ratings: `Σ_u l2_w n_u ||w_u||^2
    /// + Σ_i l2_h m_i ||h_i||^2` (denominators `+ l2_w n_u w_u`, `+ l2_h m_i h_i`), the penalty
    /// stochastic gradient descent's per-rating regularisation sums to. Heavy users and popular
    /// items then get as much shrinkage as they have evidence, light ones little; on MovieLens
    /// 100K with `l2 = 0.1` it improves test NMAE by about 0.006 over the best constant penalty
    /// (`docs/accuracy-lab.md`). Default `false` (one penalty per row).
    pub fn l2_per_rating(mut self, per_rating: bool) -> Self {
        self.l2_per_rating = per_rating;
        self
    }

    /// Early stopping on a validation set (given to [`fit_with`](ValidNmfParams::fit_with)):
    /// stops when the validation NMAE has not improved for `patience` iterations and keeps the
    /// best factors (and flags). `patience >= 1`.
    pub fn early_stopping(mut self, patience: usize) -> Self {
        self.early_stopping = Some(patience);
        self
    }

    /// The share `q` of the observed entries that `trimmed` drops: each iteration flags the
    /// `floor(q |Ω|)` entries with the largest squared residuals. In `[0, 1)`; default
    /// [`DEFAULT_TRIM_FRACTION`]; `q = 0` is `ignore-missing`. Ignored by the other algorithms.
    pub fn trim_fraction(mut self, trim_fraction: f64) -> Self {
        self.trim_fraction = trim_fraction;
        self
    }

    /// `guarded`'s user-side threshold scale `a`: a rating takes part in its user's update when
    /// `|V - W H| <= a sqrt(λ)` (from iteration 2 on). Finite and positive; default
    /// [`DEFAULT_USER_THRESHOLD_SCALE`]. Ignored by the other algorithms (but checked).
    pub fn user_threshold_scale(mut self, scale: f64) -> Self {
        self.user_threshold_scale = scale;
        self
    }

    /// `guarded`'s item-side threshold scale `b`: a rating takes part in its item's update when
    /// `|V - W H| <= b sqrt(λ)` (from iteration 1 on) and its user is not screened. Finite and
    /// positive; default [`DEFAULT_ITEM_THRESHOLD_SCALE`]. Ignored by the other algorithms (but
    /// checked).
    pub fn item_threshold_scale(mut self, scale: f64) -> Self {
        self.item_threshold_scale = scale;
        self
    }

    /// `guarded`'s profile screen: `Some(z)` leaves out of the item half-step the users whose
    /// mean `ln(1 + ratings of the item)` over their rated items lies more than `z` robust
    /// standard deviations (`1.4826 MAD`) below the users' median; `None` screens nobody.
    /// `z` finite and positive; default [`DEFAULT_PROFILE_SCREEN`]. Ignored by the other
    /// algorithms (but checked).
    pub fn profile_screen(mut self, z: Option<f64>) -> Self {
        self.profile_screen = z;
        self
    }

    /// `guarded`'s burst screen: `Some(seconds)` holds out of both half-steps the ratings of an
    /// item that arrive in a window of that length with values shifted from the item's other
    /// ratings (see [`Algorithm::Guarded`]); `None` turns it off. It needs timestamps
    /// ([`Ratings::times`](cnmf_ratings::Ratings::times)); data without them are fitted without
    /// it and the model says so ([`NmfModel::bursts`](crate::NmfModel::bursts) is `None`). At
    /// least 1 second; default [`DEFAULT_BURST_WINDOW`]. Ignored by the other algorithms (but
    /// checked).
    pub fn burst_window(mut self, seconds: Option<u64>) -> Self {
        self.burst_window = seconds;
        self
    }

    /// The precision of the iterations (default [`Precision::F64`]; see [`Precision`]).
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Checks every parameter; the error names the first bad one and says why.
    pub fn check(self) -> Result<ValidNmfParams, EngineError> {
        let bad =
            |name: &'static str, reason: String| EngineError::InvalidParameter { name, reason };
        check_at_least_one("rank", self.rank)?;
        if u32::try_from(self.rank).is_err() {
            return Err(bad("rank", format!("rank {} is absurdly large", self.rank)));
        }
        let lambda = match self.lambda {
            None => None,
            Some(LambdaSource::Value(l)) => Some(check_finite_positive("lambda", l)?),
            Some(LambdaSource::NoiseModel { sigma, p }) => Some(lambda_from_noise_model(sigma, p)?),
        };
        if self.algorithm.needs_lambda() && lambda.is_none() {
            return Err(bad(
                "lambda",
                format!(
                    "{} needs a corruption threshold: give lambda or a noise model (sigma, p)",
                    self.algorithm
                ),
            ));
        }
        if !(self.trim_fraction.is_finite() && (0.0..1.0).contains(&self.trim_fraction)) {
            return Err(bad(
                "trim_fraction",
                format!("must lie in [0, 1), got {}", self.trim_fraction),
            ));
        }
        check_finite_positive("user_threshold_scale", self.user_threshold_scale)?;
        check_finite_positive("item_threshold_scale", self.item_threshold_scale)?;
        if let Some(z) = self.profile_screen {
            check_finite_positive("profile_screen", z)?;
        }
        if self.burst_window == Some(0) {
            return Err(bad(
                "burst_window",
                "a burst window needs at least 1 second".into(),
            ));
        }
        if !(self.decay.is_finite() && self.decay > 0.0 && self.decay <= 1.0) {
            return Err(bad(
                "decay",
                format!("must lie in (0, 1], got {}", self.decay),
            ));
        }
        check_at_least_one("max_iters", self.max_iters)?;
        if let Some(b) = self.time_budget {
            if b.is_zero() {
                return Err(bad("time_budget", "must be longer than zero".into()));
            }
        }
        if let Some(t) = self.tolerance {
            check_finite_positive("tolerance", t)?;
        }
        if self.warmup_iters >= self.max_iters && self.algorithm.downweights() {
            return Err(bad(
                "warmup_iters",
                format!(
                    "{} warm-up iterations leave none of the {} iterations to flag corrupt \
                     entries or reweight them",
                    self.warmup_iters, self.max_iters
                ),
            ));
        }
        check_finite_nonnegative("l2_w", self.l2_w)?;
        check_finite_nonnegative("l2_h", self.l2_h)?;
        if self.early_stopping == Some(0) {
            return Err(bad(
                "early_stopping",
                "patience must be at least 1 iteration".into(),
            ));
        }
        Ok(ValidNmfParams {
            params: self,
            lambda,
        })
    }
}

/// Checked hyper-parameters; [`fit`](ValidNmfParams::fit) runs the factorization.
///
/// Serialises as the [`NmfParams`] it was checked from and is checked again when deserialised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NmfParams", into = "NmfParams")]
pub struct ValidNmfParams {
    params: NmfParams,
    lambda: Option<f64>,
}

impl ParamGuard for NmfParams {
    type Checked = ValidNmfParams;
    type Error = EngineError;
    fn check(self) -> Result<ValidNmfParams, EngineError> {
        NmfParams::check(self)
    }
}

impl TryFrom<NmfParams> for ValidNmfParams {
    type Error = EngineError;
    fn try_from(p: NmfParams) -> Result<Self, Self::Error> {
        p.check()
    }
}

impl From<ValidNmfParams> for NmfParams {
    fn from(v: ValidNmfParams) -> Self {
        v.params
    }
}

impl ValidNmfParams {
    /// The unchecked parameters these came from (e.g. to change one and check again).
    pub fn params(&self) -> &NmfParams {
        &self.params
    }
    /// Rank.
    pub fn rank(&self) -> usize {
        self.params.rank
    }
    /// Algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.params.algorithm
    }
    /// The corruption threshold `λ`, resolved from the noise model if given that way.
    pub fn lambda(&self) -> Option<f64> {
        self.lambda
    }
    /// How `λ` was given.
    pub fn lambda_source(&self) -> Option<LambdaSource> {
        self.params.lambda
    }
    /// Decay of the corrupt entries' weight (`replace-corrupt`).
    pub fn decay(&self) -> f64 {
        self.params.decay
    }
    /// Maximum number of iterations.
    pub fn max_iters(&self) -> usize {
        self.params.max_iters
    }
    /// Wall-clock budget, if any.
    pub fn time_budget(&self) -> Option<Duration> {
        self.params.time_budget
    }
    /// Relative-change stopping tolerance, if any.
    pub fn tolerance(&self) -> Option<f64> {
        self.params.tolerance
    }
    /// Seed of the initial factors.
    pub fn seed(&self) -> u64 {
        self.params.seed
    }
    /// Worker threads (0 = the caller's rayon pool).
    pub fn threads(&self) -> usize {
        self.params.threads
    }
    /// Iterations before corruption flags start being set.
    pub fn warmup_iters(&self) -> usize {
        self.params.warmup_iters
    }
    /// L2 penalty on the user factors.
    pub fn l2_w(&self) -> f64 {
        self.params.l2_w
    }
    /// L2 penalty on the item factors.
    pub fn l2_h(&self) -> f64 {
        self.params.l2_h
    }
    /// Whether each row's L2 penalty is scaled by its number of observed ratings.
    pub fn l2_per_rating(&self) -> bool {
        self.params.l2_per_rating
    }
    /// Early-stopping patience, if any.
    pub fn early_stopping(&self) -> Option<usize> {
        self.params.early_stopping
    }
    /// The share of the observed entries `trimmed` drops.
    pub fn trim_fraction(&self) -> f64 {
        self.params.trim_fraction
    }
    /// `guarded`'s user-side threshold scale `a` (threshold `a sqrt(λ)`).
    pub fn user_threshold_scale(&self) -> f64 {
        self.params.user_threshold_scale
    }
    /// `guarded`'s item-side threshold scale `b` (threshold `b sqrt(λ)`).
    pub fn item_threshold_scale(&self) -> f64 {
        self.params.item_threshold_scale
    }
    /// `guarded`'s profile screen `z`, `None` when off.
    pub fn profile_screen(&self) -> Option<f64> {
        self.params.profile_screen
    }
    /// `guarded`'s burst-screen window in seconds, `None` when off.
    pub fn burst_window(&self) -> Option<u64> {
        self.params.burst_window
    }

    /// The precision of the iterations.
    pub fn precision(&self) -> Precision {
        self.params.precision
    }
    /// The trace's objective from an iteration's parts: the data term the algorithm minimises
    /// (the robust baselines' own `robust` term, the `clipped` loss for the flagging
    /// algorithms, else the squared `loss`) plus `l2_w` times `w_sq` (`||W||^2`, already
    /// weighted per rating when the penalty is) and `l2_h` times `h_sq`. One formula for the
    /// engine and the distributed fit, so that both report the same bits.
    #[doc(hidden)]
    pub fn objective(&self, loss: f64, clipped: f64, robust: f64, w_sq: f64, h_sq: f64) -> f64 {
        let data_term = if self.algorithm().is_robust_baseline() {
            robust
        } else if self.algorithm().flags_corruption() {
            clipped
        } else {
            loss
        };
        data_term + self.l2_w() * w_sq + self.l2_h() * h_sq
    }

    /// Whether the fit reads the ratings' timestamps (`guarded` with its burst screen on):
    /// callers may load the data without them otherwise, which saves 8 bytes a rating.
    pub fn reads_timestamps(&self) -> bool {
        self.params.algorithm == Algorithm::Guarded && self.params.burst_window.is_some()
    }
}
