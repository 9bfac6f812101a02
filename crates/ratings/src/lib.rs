//! Sparse rating storage for corrective-nmf.
//!
//! [`Ratings`] holds a users x items rating matrix as CSR plus a CSC index, with the id maps
//! between external ids and dense indices and the [`RatingScale`]. Everything that comes from
//! data returns a [`RatingsError`] naming the input, the line and the problem.

pub mod discover;
mod error;
mod ids;
pub mod load;
mod ratings;
mod scale;
pub mod split;
pub mod synthetic;
pub mod write;

pub use discover::{DataSetKind, DataSource};
pub use error::{Location, RatingsError};
pub use ids::IdMap;
pub use load::{load, load_reader, Format, LoadOptions};
pub use ratings::{DuplicatePolicy, Ratings, RatingsBuilder, Triple};
pub use scale::RatingScale;
pub use split::{KFold, PerUser, Split};
pub use synthetic::{GroundTruth, SyntheticParams, ValidSyntheticParams};
pub use write::write;
