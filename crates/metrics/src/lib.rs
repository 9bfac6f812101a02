//! Metrics for rating predictors: accuracy on held-out ratings (NMAE, MAE, RMSE), attack impact
//! (prediction shift, hit ratio) and detection quality of corruption flags.
//!
//! Functions take plain slices and the [`Predictor`] trait, so they serve any model, not only
//! this project's.
//!
//! Conventions:
//! - predictions are clipped to the rating scale before errors and shifts are computed (a
//!   served prediction is always clipped); rankings (hit ratio) use raw predictions, so that
//!   items predicted above the scale's top are not tied;
//! - a NaN or infinite prediction is an error ([`MetricsError::NotFinitePrediction`] or
//!   [`MetricsError::NotFinite`]), never a NaN result;
//! - an average over nothing is an error ([`MetricsError::Empty`]) when it is the metric itself,
//!   and `None` when it is a secondary figure that may legitimately be undefined (MAPS over
//!   non-raters when every user rated the target, precision with no flags, recall with no
//!   positives, a standard deviation of one value);
//! - attack-impact metrics take the clean model P* and the attacked model P over the same dense
//!   indices: genuine users keep their indices in attacked data (as `cnmf-attacks` guarantees).
//!
//! | metric | function |
//! |---|---|
//! | NMAE, MAE, RMSE | [`accuracy`], [`accuracy_of`], [`accuracy_of_triples`] |
//! | MAPS, signed shift, MAPS over non-raters | [`prediction_shift`], [`prediction_shift_many`] |
//! | hit ratio at N | [`hit_ratio`] (with [`sample_users`]) |
//! | precision, recall, NDCG, MAP at N of top-N lists | [`user_ranking`], [`mean_ranking`] ([`RankingMetrics`]) |
//! | detection precision / recall / F1 | [`entry_detection`], [`user_detection`] (with [`flagged_entries`]) |
//! | mean with a Student-t or bootstrap interval | [`mean_ci`], [`bootstrap_mean_ci`] ([`Interval`]) |
//! | paired comparison: mean difference, interval, d_z, t-test, sign-flip test | [`paired_difference`], [`paired_difference_scaled`] ([`PairedTest`]) |
//! | verdict of a claim with a margin | [`verdict`] ([`Claim`], [`Verdict`]) |

mod accuracy;
mod detection;
mod error;
mod hit_ratio;
mod ranking;
mod shift;
mod stats;
mod summary;

use cnmf_ratings::RatingScale;

pub use accuracy::{accuracy, accuracy_of, accuracy_of_triples, Accuracy};
pub use detection::{entry_detection, flagged_entries, user_detection, Detection};
pub use error::MetricsError;
pub use hit_ratio::{hit_ratio, sample_users, HitRatio, TargetHits};
pub use ranking::{mean_ranking, user_ranking, RankingMetrics, UserRanking};
pub use shift::{prediction_shift, prediction_shift_many, PredictionShift, ShiftSummary};
pub use stats::{
    bootstrap_mean_ci, mean_ci, paired_difference, paired_difference_scaled, verdict, Claim,
    Interval, PairedTest, SignFlip, Verdict, SIGN_FLIP_EXACT_MAX, SIGN_FLIP_SAMPLES,
    SIGN_FLIP_SEED,
};
pub use summary::MeanSd;

/// Anything that predicts a rating for a (user, item) pair given by dense indices.
///
/// One meaning for every model of the workspace: [`predict_raw`](Predictor::predict_raw) is
/// the model's own value, unclipped (rankings such as the hit ratio use it, so that items
/// predicted above the top of the scale are not tied); [`predict_clipped`](Predictor::predict_clipped)
/// clips it to a rating scale, as the accuracy and shift metrics do. A model's inherent
/// `predict` (where it has one) is `predict_clipped` with the model's own scale.
///
/// Any `Fn(u32, u32) -> f64` closure is a predictor:
///
/// ```
/// use cnmf_metrics::Predictor;
/// use cnmf_ratings::RatingScale;
/// let model = |_user: u32, item: u32| 4.0 + item as f64;
/// assert_eq!(model.predict_raw(0, 2), 6.0);
/// assert_eq!(model.predict_clipped(0, 2, RatingScale::MOVIELENS), 5.0);
/// ```
pub trait Predictor {
    /// The model's predicted rating of `item` by `user`, not clipped to any scale.
    fn predict_raw(&self, user: u32, item: u32) -> f64;

    /// [`predict_raw`](Predictor::predict_raw) clipped to `scale` (NaN stays NaN, for the
    /// metrics to report).
    fn predict_clipped(&self, user: u32, item: u32, scale: RatingScale) -> f64 {
        scale.clip(self.predict_raw(user, item))
    }
}

impl<F: Fn(u32, u32) -> f64> Predictor for F {
    fn predict_raw(&self, user: u32, item: u32) -> f64 {
        self(user, item)
    }
}
