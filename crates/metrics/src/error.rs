//! Errors of the metrics crate.

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// No data to average over.
    #[error("{what}: the set is empty, so the metric is undefined")]
    Empty {
        /// Which input was empty.
        what: &'static str,
    },
    /// Two inputs that must be parallel have different lengths.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        /// Which inputs.
        what: &'static str,
        /// Length of the first.
        left: usize,
        /// Length of the second.
        right: usize,
    },
    /// A prediction or rating is NaN or infinite.
    #[error("{what}: value at position {position} is not finite ({value})")]
    NotFinite {
        /// Which input.
        what: &'static str,
        /// Position of the value.
        position: usize,
        /// The value.
        value: f64,
    },
    /// An argument is out of its domain; says which and why.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// A model predicted NaN or infinity for a (user, item) pair.
    #[error("{model} predicted {value} for user {user}, item {item}: not a finite number")]
    NotFinitePrediction {
        /// Which model (e.g. "clean model", "attacked model").
        model: &'static str,
        /// Dense user index.
        user: u32,
        /// Dense item index.
        item: u32,
        /// The prediction.
        value: f64,
    },
}
