//! Errors of the attacks crate.

use cnmf_ratings::RatingsError;

/// Why an attack could not be generated.
///
/// Everything is detected before any rating is generated: a spec is checked on its own by
/// [`AttackSpec::check`](crate::AttackSpec::check), then against the data by
/// [`ValidAttackSpec::plan`](crate::ValidAttackSpec::plan).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttackError {
    /// A parameter is invalid on its own (a fraction outside (0, 1], a zero count, ...).
    #[error("invalid attack parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// The data holds no rating, so there is nothing to attack or add noise to.
    #[error("the ratings to attack are empty")]
    EmptyRatings,
    /// A fractional attack size rounds to zero adversaries on this data.
    #[error("attack size {fraction} of {n_users} users rounds to 0 adversaries; use a larger fraction or a count")]
    ZeroAdversaries {
        /// The fraction asked for.
        fraction: f64,
        /// Users in the data.
        n_users: usize,
    },
    /// More adversaries are asked for than there are users to convert (informed attack) or than
    /// the user index space can hold (injected users).
    #[error("attack asks for {requested} adversaries but only {available} are possible ({why})")]
    TooManyAdversaries {
        /// Adversaries asked for.
        requested: usize,
        /// The most that are possible.
        available: usize,
        /// What limits them.
        why: &'static str,
    },
    /// The filler does not fit into the catalogue once the targets (and, for the bandwagon
    /// attack, nothing else) are set aside.
    #[error("filler of {requested} items per profile does not fit: only {available} items are not targets")]
    FillerTooLarge {
        /// Filler items asked for per profile.
        requested: usize,
        /// Items that are not targets.
        available: usize,
    },
    /// The bandwagon attack asks for more popular items than its filler holds.
    #[error(
        "bandwagon attack asks for {popular} popular items but the filler has only {filler} items"
    )]
    PopularExceedsFiller {
        /// Popular items asked for.
        popular: usize,
        /// Resolved filler size.
        filler: usize,
    },
    /// An explicit target names an item that is not in the data.
    #[error("target item {id:?} is not in the data")]
    UnknownTarget {
        /// The external id given.
        id: String,
    },
    /// An explicit target index is outside the catalogue.
    #[error("target item index {index} is outside the catalogue of {n_items} items")]
    TargetOutOfRange {
        /// The index given.
        index: u32,
        /// Items in the data.
        n_items: usize,
    },
    /// The same target is listed twice.
    #[error("target item {id:?} is listed twice")]
    DuplicateTarget {
        /// The external id of the repeated target.
        id: String,
    },
    /// Too few items satisfy the rule that targets are drawn by.
    #[error("{requested} target(s) asked for but only {eligible} item(s) are eligible ({rule})")]
    NotEnoughEligibleTargets {
        /// Targets asked for.
        requested: usize,
        /// Items satisfying the rule.
        eligible: usize,
        /// The rule, in words.
        rule: String,
    },
    /// Building the attacked ratings failed (a bug: generated data should always be valid).
    #[error("building the attacked ratings failed: {0}")]
    Ratings(#[from] RatingsError),
}

impl From<cnmf_ratings::InvalidParam> for AttackError {
    fn from(e: cnmf_ratings::InvalidParam) -> Self {
        AttackError::InvalidParameter {
            name: e.name,
            reason: e.reason,
        }
    }
}
