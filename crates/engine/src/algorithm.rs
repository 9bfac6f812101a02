//! The algorithms and their names: the paper's five, three robust-loss baselines and the
//! `guarded` defence.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::EngineError;

/// The masked multiplicative-update NMF variants: the five of the specification (section 3,
/// [`Algorithm::PAPER`]), three robust-loss baselines (`huber`, `l1`, `trimmed`) that reweight
/// the observed entries instead of flagging them by a fixed threshold, and `guarded`, a defence
/// against review bombs with separate weights for the user and the item half-steps.
///
/// Notation: `V` the ratings, `Ω` the observed entries, `A` the *active* mask, `X = W H` at the
/// start of the iteration, `eps = 1e-12`, `.*` and `./` element-wise, `Z` the corruption flags
/// (on observed entries only), `λ` the corruption threshold.
///
/// Names are used verbatim in the API, the CLI, model files and reports:
///
/// ```
/// use cnmf_engine::Algorithm;
/// assert_eq!(Algorithm::ReplaceCorruptNoInterp.name(), "replace-corrupt-nointerp");
/// assert_eq!("ignore-corrupt".parse::<Algorithm>().unwrap(), Algorithm::IgnoreCorrupt);
/// assert!("ignore".parse::<Algorithm>().is_err());
/// assert_eq!("trimmed".parse::<Algorithm>().unwrap(), Algorithm::Trimmed);
/// assert_eq!("guarded".parse::<Algorithm>().unwrap(), Algorithm::Guarded);
/// assert_eq!(Algorithm::ALL.len(), 9);
/// assert_eq!(Algorithm::PAPER.len(), 5);
/// ```
///
/// The robust baselines are *weighted* versions of `ignore-missing`'s update: with nonnegative
/// weights `C` on the observed entries (0 on missing ones), fixed for both half-steps of an
/// iteration,
///
/// ```text
/// W <- W .* ((C.*V) H^T) ./ ((C.*(W H)) H^T + eps)
/// H <- H .* (W^T (C.*V)) ./ (W^T (C.*(W H)) + eps)     (with the new W)
/// ```
///
/// and `C` recomputed from the residuals `r = V - W H` at the start of each iteration
/// (iteratively reweighted least squares). For a loss `Σ_Ω g(r^2)` with `g` concave and
/// nondecreasing, `g(r^2) <= g(r0^2) + g'(r0^2) (r^2 - r0^2)`, so `C = g'(r0^2)` makes the
/// weighted squared loss a majoriser of the loss, touching it at the current factors; the
/// Mao–Saul update does not increase the weighted loss, hence the robust loss does not increase
/// either (majorise–minimise). With L2 the penalties are added to both sides and the same holds
/// for the penalised objective, because the weights are `g'` itself, not a rescaled copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// `ignore-missing` (Mao & Saul): `A = M`, then
    ///
    /// ```text
    /// W <- W .* ((A.*V) H^T) ./ ((A.*(W H)) H^T + eps)
    /// H <- H .* (W^T (A.*V)) ./ (W^T (A.*(W H)) + eps)     (with the new W)
    /// ```
    ///
    /// Monotone non-increasing in the squared loss over the observed entries.
    IgnoreMissing,
    /// `replace-missing` (Zhang et al.): the filled matrix `Vbar = A.*V + (1-A).*X` is fixed for
    /// the iteration, then the Lee–Seung update
    ///
    /// ```text
    /// W <- W .* (Vbar H^T) ./ (W H H^T + eps)
    /// H <- H .* (W^T Vbar) ./ (W^T W H + eps)               (with the new W)
    /// ```
    ///
    /// computed sparsely: with `W0, H0` the factors at the start and `W1` the new `W`,
    /// `Vbar H0^T = (A.*(V-X)) H0^T + W0 (H0 H0^T)` and
    /// `W1^T Vbar = W1^T (A.*(V-X)) + (W1^T W0) H0`, denominators `W0 (H0 H0^T)` and
    /// `(W1^T W1) H0`. Both half-steps use the same `X = W0 H0`, as in the dense formula.
    ReplaceMissing,
    /// `ignore-corrupt` (Corrective NMF, Algorithm 1, ignore variant): flags `Z` start at zero;
    /// each iteration does the `ignore-missing` update with `A = M .* (1 - Z)`, then sets
    /// `Z_ij = 1` iff `(V_ij - (W H)_ij)^2 > λ` for every observed `(i, j)`.
    ///
    /// The clipped loss `Σ_Ω min((V - W H)^2, λ)` is non-increasing from one iteration to the
    /// next.
    IgnoreCorrupt,
    /// `replace-corrupt`: the same flag rule; the filled matrix of iteration `t` is `V` on clean
    /// observed entries, `decay^t V + (1 - decay^t) X` on corrupt ones and `X` on missing ones,
    /// followed by the `replace-missing` (Lee–Seung) update computed sparsely. In the sparse
    /// identity `A.*(V - X)` becomes `c .* (V - X)` with `c = 1` on clean observed entries,
    /// `decay^t` on corrupt ones and `0` on missing ones.
    ReplaceCorrupt,
    /// `replace-corrupt-nointerp`: as `replace-corrupt`, but corrupt entries are filled with
    /// `X` (that is `c = 0` on them).
    #[serde(rename = "replace-corrupt-nointerp")]
    ReplaceCorruptNoInterp,
    /// `huber` (robust baseline): the weighted update above with Huber weights
    /// `c = 1` if `|r| <= δ`, `c = δ / |r|` otherwise, where `δ = sqrt(λ)`: the engine's
    /// corruption threshold `λ` on the squared residual is reused, so `huber` changes from
    /// quadratic to linear exactly where the corrupt variants flag a rating. The objective is
    ///
    /// ```text
    /// Σ_Ω ρ(r),   ρ(r) = r^2                   if |r| <= δ
    ///                    2 δ |r| - δ^2          otherwise
    /// ```
    ///
    /// (scaled to equal the squared loss inside, so it is continuous with a continuous
    /// derivative, and `ρ = g(r^2)` with `g(s) = 2 δ sqrt(s) - δ^2` beyond `δ^2`, concave). It is
    /// non-increasing from one iteration to the next, from iteration `warmup_iters` on (before,
    /// the weights are all 1: `ignore-missing`). Entries beyond `δ` (`r^2 > λ`) are reported as
    /// flagged: they are the ones whose weight the next iteration lowers. Needs `λ`.
    Huber,
    /// `l1` (robust baseline): the weighted update above with the weights
    /// `c = 1 / (2 sqrt(r^2 + e^2))` of the smoothed absolute loss
    ///
    /// ```text
    /// Σ_Ω sqrt(r^2 + e^2),   e = L1_SMOOTHING = 0.01
    /// ```
    ///
    /// ([`L1_SMOOTHING`](crate::L1_SMOOTHING)), non-increasing from one iteration to the next
    /// from iteration `warmup_iters` on. The weights are not normalised: any rescaling of `C`
    /// would leave the unpenalised update unchanged but change what an L2 penalty is weighed
    /// against. No flags, no `λ`.
    L1,
    /// `trimmed` (robust baseline): least trimmed squares. Flags `Z` start at zero; each
    /// iteration does the `ignore-missing` update with `A = M .* (1 - Z)`, then flags the
    /// `h = floor(q |Ω|)` observed entries with the largest squared residuals, `q` the
    /// [`trim_fraction`](crate::NmfParams::trim_fraction) (a global selection; ties broken by
    /// the entry's position in the CSR order, lowest flagged first, so that the result does not
    /// depend on the thread count). The trimmed loss, the sum of the `|Ω| - h` smallest squared
    /// residuals (measured after the flag update), is non-increasing from one iteration to the
    /// next from iteration 1 on, by the argument of `ignore-corrupt`'s clipped loss. Needs no `λ`.
    Trimmed,
    /// `guarded` (defence against review bombs): the weighted update above with **different
    /// weights for the two half-steps**, both computed from the residuals `r = V - W H` at the
    /// start of each iteration (`X = W0 H0`) and held fixed within it:
    ///
    /// ```text
    /// W <- W .* ((C_W.*V) H^T) ./ ((C_W.*(W H)) H^T + eps)
    /// H <- H .* (W^T (C_H.*V)) ./ (W^T (C_H.*(W H)) + eps)     (with the new W)
    ///
    /// C_W[i,j] = 1[|r_ij| <= a sqrt(λ)]                 (all ones in iteration 1)
    /// C_H[i,j] = 1[|r_ij| <= b sqrt(λ)] (1 - f_i) (1 - g_ij)    (from iteration 1 on)
    /// C_W[i,j] is also 0 where g_ij = 1
    /// ```
    ///
    /// with `a` the [`user_threshold_scale`](crate::NmfParams::user_threshold_scale) (default:
    /// one) and `b` the [`item_threshold_scale`](crate::NmfParams::item_threshold_scale)
    /// (default 0.8). The user side is `ignore-corrupt`'s rule (at `a sqrt(λ)`) and decides
    /// only how each user's own factors are fitted. The item side acts **from iteration 1**, on
    /// the residuals of the initial factors, whose predictions all sit near the mean rating: the
    /// items are fitted first on the ratings near the middle of the scale, and a far-off rating
    /// enters an item's update only once the model's prediction for that user and item has come
    /// within `b sqrt(λ)` of it. A bomb of 1s on an item whose genuine predictions stay near 3
    /// never enters.
    ///
    /// **Profile screen** `f_i`, computed once per fit (before iteration 1, from the data being
    /// fitted): `s_i` is the mean over the items user `i` rated of `ln(1 + n_j)`, `n_j` the
    /// item's number of observed ratings; `f_i = 1` iff `s_i < median(s) - z 1.4826 MAD(s)`
    /// over the users with ratings, `z` the [`profile_screen`](crate::NmfParams::profile_screen)
    /// (default 4; `None` turns it off). Median and MAD are exact (sorted copies; the median of
    /// an even count is the mean of the two middle values); when `MAD(s) = 0` there is no
    /// spread to judge by and nobody is screened. A screened user is left out of the item
    /// half-step (cannot move any item) but keeps its user half-step, so its own predictions
    /// are still fitted. [`NmfModel::screened_users`](crate::NmfModel::screened_users) lists
    /// them.
    ///
    /// **Burst screen** `g_ij`, computed once per fit from the ratings' timestamps
    /// ([`Ratings::times`](cnmf_ratings::Ratings::times)) with a window of
    /// [`burst_window`](crate::NmfParams::burst_window) seconds (default one day; `None` turns
    /// it off): per item, the densest-and-most-shifted window of ratings whose mean differs
    /// from the item's other ratings by at least 0.5 stars and 4 standard errors, and whose
    /// count a Poisson process at the item's usual rate would reach with probability below
    /// 1e-4 (the rules in [`burst`](crate::burst)); its ratings on the side of the shift get
    /// `g = 1` and are out of both half-steps. Genuine bursts (a release, a site launch) are
    /// dense but not shifted. Data without timestamps are fitted without it, and
    /// [`NmfModel::bursts`](crate::NmfModel::bursts) is then `None`.
    ///
    /// **Flags**: [`corrupt_entries`](crate::NmfModel::corrupt_entries) are the observed
    /// entries whose item-side weight `C_H` is 0 at the end, measured on the final factors:
    /// `|r| > b sqrt(λ)`, every rating of a screened user, or a rating held by the burst
    /// screen. The trace's `flagged` counts the
    /// same entries for each iteration's factors, its `loss` is `Σ C_H r^2`. These flags are
    /// broad: on clean MovieLens 100K about a tenth of the ratings lie more than
    /// `0.8 sqrt(λ)` (1.6 stars) from their prediction, so most users have some; the
    /// user-level decision is the screen.
    ///
    /// **No single objective.** For fixed weights each half-step is the Mao–Saul weighted
    /// update and does not increase its own weighted squared loss (`Σ C_W r^2 + l2_w ||W||^2`
    /// for `W`, `Σ C_H r^2 + l2_h ||H||^2` for `H`); the two half-steps use different weights
    /// and the weights move with the residuals, so no objective of the whole iteration is known
    /// to decrease. The trace's `objective` is the clipped loss `Σ_Ω min(r^2, λ)` (plus the L2
    /// terms), comparable with the corrupt variants' but not monotone here; a tolerance applies
    /// to it. With `a = b` and the screen off it would be `ignore-corrupt` at the threshold
    /// `(a sqrt(λ))^2` but for the item side's first iteration; with `a`, `b` huge and the
    /// screen off it is `ignore-missing`. With [`warmup_iters`](crate::NmfParams::warmup_iters)
    /// `w`, iterations `1..=w` are `ignore-missing` (no screen), the item side and the screen
    /// act from iteration `w + 1`, the user side from `w + 2`. Needs `λ`.
    ///
    /// **Measured** (`cargo xtask reproduce`, committed in `docs/reproduction/`: MovieLens
    /// 100K, k = 20, 40 iterations, `λ = 3.88`, 20 repetitions, one target per repetition;
    /// attacks timed as a one-day burst after the training data): mean absolute prediction
    /// shift at 5% adversaries 0.006 for the low-knowledge attack (M3), 0.022 for the informed
    /// one (M4), 0.006 and 0.010 for the average and bandwagon attacks, 0.022 for a push by
    /// converted accounts and 0.028 for the adaptive attacker, in every band of the target's
    /// mean rating; clean test NMAE +0.05% against `ignore-corrupt`, -0.0001 under random noise
    /// (Model 2); with `cnmf fit`'s defaults (L2 0.1 per rating, early stopping, refit) clean
    /// NMAE 0.1795 against `ignore-corrupt`'s 0.1792; user-level detection F1 0.96 for the
    /// low-knowledge, average and bandwagon attacks
    /// ([`NmfModel::suspected_users`](crate::NmfModel::suspected_users): the profile screen's
    /// users and the raters of a burst with `|z| >= 8`; its false positives are niche users;
    /// the raters of MovieLens 100K's one genuine shifted burst, `z = -5.2`, are held but not
    /// accused). The scales were chosen in `docs/defence-lab.md` (*Threshold scales*). The
    /// per-iteration cost is that of `ignore-corrupt` plus one comparison per rating; the
    /// screens run once per fit.
    ///
    /// **Failure modes.** Converted existing accounts whose target rating sits *inside the
    /// noise* get through the thresholds: the adaptive attacker that rates the target just
    /// within `sqrt(λ)` of its clean prediction and a push (rating 5) by converted accounts.
    /// Such accounts carry no user-level evidence besides that one rating. The burst screen
    /// catches both when they arrive as a burst, but not a patient attacker who spreads the
    /// ratings over the item's history: then the shift is 0.29 for the informed push and 0.43
    /// for the adaptive attacker (`ignore-corrupt`: 0.38 for the adaptive one). The item
    /// threshold trades the two: a tighter one holds more of the informed attacker's 1s and
    /// drops more genuine ratings on the far side against the adaptive one. The profile screen
    /// uses item-selection evidence only (fillers drawn uniformly from the catalogue land on
    /// unpopular items): an attacker choosing popular filler items defeats it (bandwagon
    /// profiles already pass it half the time; the item side and the burst screen still hold
    /// bandwagon's shift at 0.010), and a genuine user with niche tastes can be screened (they
    /// keep their own fit, they only stop moving items).
    Guarded,
}

impl Algorithm {
    /// Every algorithm of the engine: the paper's five in the order of its tables, then the
    /// robust baselines, then `guarded`.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::IgnoreMissing,
        Algorithm::ReplaceMissing,
        Algorithm::IgnoreCorrupt,
        Algorithm::ReplaceCorrupt,
        Algorithm::ReplaceCorruptNoInterp,
        Algorithm::Huber,
        Algorithm::L1,
        Algorithm::Trimmed,
        Algorithm::Guarded,
    ];

    /// The paper's five algorithms, in the order of its tables.
    pub const PAPER: [Algorithm; 5] = [
        Algorithm::IgnoreMissing,
        Algorithm::ReplaceMissing,
        Algorithm::IgnoreCorrupt,
        Algorithm::ReplaceCorrupt,
        Algorithm::ReplaceCorruptNoInterp,
    ];

    /// The name used in the API, the CLI and the reports (e.g. `"ignore-missing"`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::IgnoreMissing => "ignore-missing",
            Algorithm::ReplaceMissing => "replace-missing",
            Algorithm::IgnoreCorrupt => "ignore-corrupt",
            Algorithm::ReplaceCorrupt => "replace-corrupt",
            Algorithm::ReplaceCorruptNoInterp => "replace-corrupt-nointerp",
            Algorithm::Huber => "huber",
            Algorithm::L1 => "l1",
            Algorithm::Trimmed => "trimmed",
            Algorithm::Guarded => "guarded",
        }
    }

    /// Whether the algorithm keeps per-entry corruption flags (reported by
    /// [`NmfModel::corrupt_entries`](crate::NmfModel::corrupt_entries)): the three corrupt
    /// variants, `huber` (the entries beyond `δ`), `trimmed` (the dropped entries) and
    /// `guarded` (the entries of item-side weight 0). Whether
    /// it needs `λ` is [`needs_lambda`](Algorithm::needs_lambda).
    pub fn flags_corruption(self) -> bool {
        matches!(
            self,
            Algorithm::IgnoreCorrupt
                | Algorithm::ReplaceCorrupt
                | Algorithm::ReplaceCorruptNoInterp
                | Algorithm::Huber
                | Algorithm::Trimmed
                | Algorithm::Guarded
        )
    }

    /// Whether the algorithm needs the threshold `λ` (and so depends on it): the three corrupt
    /// variants, `huber` (`δ = sqrt(λ)`) and `guarded` (its thresholds are multiples of
    /// `sqrt(λ)`).
    pub fn needs_lambda(self) -> bool {
        matches!(
            self,
            Algorithm::IgnoreCorrupt
                | Algorithm::ReplaceCorrupt
                | Algorithm::ReplaceCorruptNoInterp
                | Algorithm::Huber
                | Algorithm::Guarded
        )
    }

    /// Whether the algorithm departs from the plain (ignore or replace) missing variant by
    /// giving some observed entries less than full weight (flags or robust weights): what
    /// [`warmup_iters`](crate::NmfParams::warmup_iters) postpones. Every algorithm but the two
    /// missing variants.
    pub fn downweights(self) -> bool {
        !matches!(self, Algorithm::IgnoreMissing | Algorithm::ReplaceMissing)
    }

    /// Whether the algorithm is one of the robust-loss baselines (`huber`, `l1`, `trimmed`),
    /// not one of the paper's five.
    pub fn is_robust_baseline(self) -> bool {
        matches!(self, Algorithm::Huber | Algorithm::L1 | Algorithm::Trimmed)
    }

    /// Whether the algorithm fills unobserved (or corrupt) entries with the current prediction
    /// (the Lee–Seung family) rather than ignoring them.
    pub fn replaces(self) -> bool {
        matches!(
            self,
            Algorithm::ReplaceMissing
                | Algorithm::ReplaceCorrupt
                | Algorithm::ReplaceCorruptNoInterp
        )
    }

    /// Whether the column pass is the masked update of the ignore kernels, which skips the
    /// entries the flags mark (every algorithm but the replace variants, `huber` and `l1`).
    pub(crate) fn column_pass_ignores(self) -> bool {
        !self.replaces() && !matches!(self, Algorithm::Huber | Algorithm::L1)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| EngineError::UnknownAlgorithm {
                name: s.to_string(),
            })
    }
}
