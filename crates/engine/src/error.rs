//! Errors of the engine. Anything caused by parameters or data is an [`EngineError`].

/// Why a factorization could not be set up, run or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A parameter is out of its domain; names the parameter and says why.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter (as named by the builder method).
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// An algorithm name that is not one of [`Algorithm::ALL`](crate::Algorithm::ALL).
    #[error("unknown algorithm {name:?}; expected one of: ignore-missing, replace-missing, ignore-corrupt, replace-corrupt, replace-corrupt-nointerp, huber, l1, trimmed")]
    UnknownAlgorithm {
        /// The name given.
        name: String,
    },
    /// A NaN or infinity appeared in the factors or the loss.
    #[error("{what} is not finite at iteration {iteration} (diverged; try a smaller rank, L2 regularisation or check the data)")]
    NotFinite {
        /// What became non-finite (e.g. "user factors", "loss").
        what: String,
        /// The iteration (0 = the initial factors).
        iteration: usize,
    },
    /// Factors, data or predictions whose shapes do not fit together.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// What was being combined.
        what: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The shape found, in words.
        found: String,
    },
    /// Input that cannot be used (factors with negative entries, out-of-range indices, ...).
    #[error("invalid input {what}: {reason}")]
    InvalidInput {
        /// Which input.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A user index outside the model (the same variant as in every crate of the workspace).
    #[error("unknown user {user}: the model has {n_users} users")]
    UnknownUser {
        /// The dense user index asked for.
        user: u32,
        /// Number of users of the model.
        n_users: usize,
    },
    /// An item index outside the model.
    #[error("unknown item {item}: the model has {n_items} items")]
    UnknownItem {
        /// The dense item index asked for.
        item: u32,
        /// Number of items of the model.
        n_items: usize,
    },
    /// The dedicated thread pool could not be built.
    #[error("could not build a thread pool of {threads} threads: {reason}")]
    ThreadPool {
        /// Requested number of threads.
        threads: usize,
        /// The error reported by rayon.
        reason: String,
    },
}

impl From<cnmf_ratings::InvalidParam> for EngineError {
    fn from(e: cnmf_ratings::InvalidParam) -> Self {
        EngineError::InvalidParameter {
            name: e.name,
            reason: e.reason,
        }
    }
}
