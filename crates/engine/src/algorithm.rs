//! The algorithms and their names: the paper's five and three robust-loss baselines.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::EngineError;

/// The masked multiplicative-update NMF variants: the five of the specification (section 3,
/// [`Algorithm::PAPER`]) and three robust-loss baselines (`huber`, `l1`, `trimmed`) that reweight
/// the observed entries instead of flagging them by a fixed threshold.
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
/// assert_eq!(Algorithm::ALL.len(), 8);
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
}

impl Algorithm {
    /// Every algorithm of the engine: the paper's five in the order of its tables, then the
    /// robust baselines.
    pub const ALL: [Algorithm; 8] = [
        Algorithm::IgnoreMissing,
        Algorithm::ReplaceMissing,
        Algorithm::IgnoreCorrupt,
        Algorithm::ReplaceCorrupt,
        Algorithm::ReplaceCorruptNoInterp,
        Algorithm::Huber,
        Algorithm::L1,
        Algorithm::Trimmed,
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
        }
    }

    /// Whether the algorithm keeps per-entry corruption flags (reported by
    /// [`NmfModel::corrupt_entries`](crate::NmfModel::corrupt_entries)): the three corrupt
    /// variants, `huber` (the entries beyond `δ`) and `trimmed` (the dropped entries). Whether
    /// it needs `λ` is [`needs_lambda`](Algorithm::needs_lambda).
    pub fn flags_corruption(self) -> bool {
        matches!(
            self,
            Algorithm::IgnoreCorrupt
                | Algorithm::ReplaceCorrupt
                | Algorithm::ReplaceCorruptNoInterp
                | Algorithm::Huber
                | Algorithm::Trimmed
        )
    }

    /// Whether the algorithm needs the threshold `λ` (and so depends on it): the three corrupt
    /// variants and `huber` (`δ = sqrt(λ)`).
    pub fn needs_lambda(self) -> bool {
        matches!(
            self,
            Algorithm::IgnoreCorrupt
                | Algorithm::ReplaceCorrupt
                | Algorithm::ReplaceCorruptNoInterp
                | Algorithm::Huber
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
