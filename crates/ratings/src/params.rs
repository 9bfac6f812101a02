//! The parameter convention shared by every crate of the workspace, after linfa's
//! `ParamGuard`: an unchecked builder (`XParams`, setters taking and returning `self`) is turned
//! by `check(self)` into its checked twin (`ValidXParams`, getters only, no `get_` prefix),
//! which is the only thing that can run. [`ParamGuard`] names that step so that generic code
//! can check any builder; the `check_*` helpers say "finite and positive" and the like once,
//! with one wording, for every crate.
//!
//! One name per concept across crates: `rank` (never `k`), `max_iters` (never `iterations` or
//! `epochs` for the budget), `seed`, `threads`, `tolerance`.
//!
//! ```
//! use cnmf_ratings::params::{check_finite_positive, check_probability, InvalidParam};
//!
//! assert_eq!(check_finite_positive("lambda", 2.0), Ok(2.0));
//! let err: InvalidParam = check_finite_positive("lambda", f64::NAN).unwrap_err();
//! assert_eq!(err.to_string(), "invalid parameter lambda: must be finite and positive, got NaN");
//! assert!(check_probability("p", 1.0).is_err());
//! ```

/// An unchecked parameter builder that [`check`](ParamGuard::check)s into its valid twin.
///
/// Every builder of the workspace implements it (and has the same `check` as an inherent
/// method, so callers need not import the trait).
pub trait ParamGuard: Sized {
    /// The checked parameters: the only type with a `fit` (or `generate`, ...).
    type Checked;
    /// The crate's error type.
    type Error: std::error::Error;

    /// Checks every parameter; the error names the first bad one and says why.
    fn check(self) -> Result<Self::Checked, Self::Error>;

    /// Checks a copy, leaving the builder usable (to report a problem early, say).
    fn check_ref(&self) -> Result<Self::Checked, Self::Error>
    where
        Self: Clone,
    {
        self.clone().check()
    }
}

/// A rejected parameter: which one and why. Each crate's error converts it into its own
/// `InvalidParameter { name, reason }` variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter {name}: {reason}")]
pub struct InvalidParam {
    /// The parameter's name, as spelled by its setter.
    pub name: &'static str,
    /// Why it is rejected.
    pub reason: String,
}

impl InvalidParam {
    /// A rejection of `name` for `reason`.
    pub fn new(name: &'static str, reason: impl Into<String>) -> Self {
        InvalidParam {
            name,
            reason: reason.into(),
        }
    }
}

/// `value` when it is finite and `> 0`.
pub fn check_finite_positive(name: &'static str, value: f64) -> Result<f64, InvalidParam> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(InvalidParam::new(
            name,
            format!("must be finite and positive, got {value}"),
        ))
    }
}

/// `value` when it is finite and `>= 0`.
pub fn check_finite_nonnegative(name: &'static str, value: f64) -> Result<f64, InvalidParam> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(InvalidParam::new(
            name,
            format!("must be finite and >= 0, got {value}"),
        ))
    }
}

/// `value` when it lies strictly between 0 and 1 (a probability that is neither impossible
/// nor certain).
pub fn check_probability(name: &'static str, value: f64) -> Result<f64, InvalidParam> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(InvalidParam::new(
            name,
            format!("must be a probability strictly between 0 and 1, got {value}"),
        ))
    }
}

/// `value` when it is at least 1 (a rank, an iteration budget, a patience).
pub fn check_at_least_one(name: &'static str, value: usize) -> Result<usize, InvalidParam> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(InvalidParam::new(name, "must be at least 1"))
    }
}

impl From<InvalidParam> for crate::RatingsError {
    fn from(e: InvalidParam) -> Self {
        crate::RatingsError::InvalidParameter {
            name: e.name,
            reason: e.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_accept_and_reject_at_the_boundaries() {
        assert!(check_finite_positive("x", 0.0).is_err());
        assert!(check_finite_positive("x", f64::INFINITY).is_err());
        assert_eq!(check_finite_nonnegative("x", 0.0), Ok(0.0));
        assert!(check_finite_nonnegative("x", -1e-300).is_err());
        assert!(check_finite_nonnegative("x", f64::NAN).is_err());
        assert!(check_probability("p", 0.0).is_err());
        assert_eq!(check_probability("p", 0.5), Ok(0.5));
        assert!(check_at_least_one("rank", 0).is_err());
        assert_eq!(check_at_least_one("rank", 3), Ok(3));
        let e = check_at_least_one("rank", 0).unwrap_err();
        assert_eq!(e.name, "rank");
        assert_eq!(e.to_string(), "invalid parameter rank: must be at least 1");
    }
}
