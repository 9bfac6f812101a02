//! Metrics for rating predictors: accuracy on held-out ratings (NMAE, MAE, RMSE), attack impact
//! (prediction shift, hit ratio) and detection quality of corruption flags.
//!
//! Functions take plain slices and the [`Predictor`] trait, so they serve any model, not only
//! this project's.

mod accuracy;
mod detection;
mod error;
mod hit_ratio;
mod shift;
mod summary;

pub use accuracy::{accuracy, accuracy_of, accuracy_of_triples, Accuracy};
pub use detection::{entry_detection, flagged_entries, user_detection, Detection};
pub use error::MetricsError;
pub use hit_ratio::{hit_ratio, sample_users, HitRatio, TargetHits};
pub use shift::{prediction_shift, prediction_shift_many, PredictionShift, ShiftSummary};
pub use summary::MeanSd;

/// Anything that predicts a rating for a (user, item) pair given by dense indices.
///
/// Implementations return the raw prediction; metrics clip to the rating scale themselves.
pub trait Predictor {
    /// The predicted rating of `item` by `user`.
    fn predict(&self, user: u32, item: u32) -> f64;
}

impl<F: Fn(u32, u32) -> f64> Predictor for F {
    fn predict(&self, user: u32, item: u32) -> f64 {
        self(user, item)
    }
}
