//! The five algorithms and their names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::EngineError;

/// The five masked multiplicative-update NMF variants of the specification (section 3).
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
/// assert_eq!(Algorithm::ALL.len(), 5);
/// ```
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
}

impl Algorithm {
    /// All five algorithms, in the order of the paper's tables.
    pub const ALL: [Algorithm; 5] = [
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
        }
    }

    /// Whether the algorithm keeps corruption flags (and so needs `λ`).
    pub fn flags_corruption(self) -> bool {
        matches!(
            self,
            Algorithm::IgnoreCorrupt
                | Algorithm::ReplaceCorrupt
                | Algorithm::ReplaceCorruptNoInterp
        )
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
