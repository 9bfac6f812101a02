//! The crate's error type: everything that comes from data or parameters is a `FamilyError`.

/// Why a family method could not run or finish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FamilyError {
    /// A parameter is out of its domain; names the parameter and says why. Returned by
    /// `check()` before any work starts.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name as its setter spells it.
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// The input data cannot be used by this method (negative entry, empty matrix, ...).
    #[error("invalid data for {method}: {problem}")]
    InvalidData {
        /// The method that rejected the data.
        method: &'static str,
        /// What is wrong, with the position of the offending entry when there is one.
        problem: String,
    },
    /// A NaN or an infinity appeared in a computation.
    #[error(
        "{what} is not finite at iteration {iteration}; lower the learning rate or check the data"
    )]
    NotFinite {
        /// The quantity that stopped being finite.
        what: &'static str,
        /// The iteration (1-based; 0 = initial state) at which it was seen.
        iteration: usize,
    },
    /// A user index outside the model.
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
    /// A method that runs on `cnmf-engine` (Lee–Seung Frobenius on ratings) failed there.
    #[error(transparent)]
    Engine(#[from] cnmf_engine::EngineError),
    /// An iterative solver stopped at its sweep limit before meeting its tolerance.
    #[error("{what} did not converge within {limit} sweeps")]
    NotConverged {
        /// The solver.
        what: &'static str,
        /// The sweep limit that was reached.
        limit: usize,
    },
}

impl FamilyError {
    /// Shorthand for [`FamilyError::InvalidParameter`].
    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        FamilyError::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`FamilyError::InvalidData`].
    pub(crate) fn data(method: &'static str, problem: impl Into<String>) -> Self {
        FamilyError::InvalidData {
            method,
            problem: problem.into(),
        }
    }
}

impl From<cnmf_ratings::InvalidParam> for FamilyError {
    fn from(e: cnmf_ratings::InvalidParam) -> Self {
        FamilyError::InvalidParameter {
            name: e.name,
            reason: e.reason,
        }
    }
}
