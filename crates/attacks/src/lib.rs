//! Noise and shilling-attack generators with ground truth.
//!
//! One [`AttackSpec`] describes a generation: the model ([`AttackKind`]: the paper's random
//! noise, low-knowledge and informed review bombs, and the classic average and bandwagon
//! shilling attacks), the [`Direction`] (nuke or push), the number of adversaries
//! ([`AttackSize`]), the filler size of injected profiles ([`FillerSize`]), the targets
//! ([`TargetChoice`]) and the seed. [`AttackSpec::check`] validates it on its own,
//! [`ValidAttackSpec::plan`] against the data, and [`ValidAttackSpec::generate`] returns the
//! attacked [`Ratings`](cnmf_ratings::Ratings) with its [`GroundTruth`].
//!
//! Guarantees, for every model:
//! - deterministic for a seed (ChaCha8, portable), with separate random streams for targets,
//!   adversaries, profiles and noise, so the same seed draws the same targets whatever the kind
//!   or size;
//! - genuine users keep their indices, external ids and ratings; every rating that differs from
//!   the input is listed in the ground truth (for random noise, the flips);
//! - the item id map is shared unchanged; injected users get fresh ids (`attacker-0`, ...)
//!   appended after the input's users, never clashing with an existing id;
//! - sizes are exact: `A` adversaries, `targets + filler` ratings per injected profile.
//!
//! Generated filler ratings lie on a grid `min, min + step, ...` (step 1 by default, so 1..5 on
//! MovieLens); target ratings are the scale's minimum (nuke) or maximum (push).
//!
//! ```
//! use cnmf_attacks::{attack, AttackSize, AttackSpec, TargetChoice};
//! use cnmf_ratings::{Ratings, RatingScale};
//! let data = Ratings::from_external(
//!     [("a", "x", 5.0), ("a", "y", 3.0), ("b", "x", 4.0), ("c", "y", 2.0)],
//!     RatingScale::MOVIELENS,
//! ).unwrap();
//! let spec = AttackSpec::informed()
//!     .size(AttackSize::Count(1))
//!     .targets(TargetChoice::Items(vec!["x".into()]))
//!     .seed(3);
//! let out = attack(&data, &spec).unwrap();
//! let adversary = out.truth.adversaries()[0];
//! let x = data.items().index("x").unwrap();
//! assert_eq!(out.ratings.get(adversary, x), Some(1.0));
//! assert_eq!(out.truth.entry(adversary, x).unwrap().original, data.get(adversary, x));
//! ```

mod error;
mod generate;
mod plan;
mod sample;
mod spec;
mod truth;

pub use error::AttackError;
pub use generate::attack;
pub use plan::AttackPlan;
pub use spec::{
    AttackKind, AttackSize, AttackSpec, Direction, FillerSize, TargetChoice, ValidAttackSpec,
};
pub use truth::{Attacked, CorruptEntry, GroundTruth};
