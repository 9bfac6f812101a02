//! The rating scale: the closed interval every rating lies in.

use serde::{Deserialize, Serialize};

use crate::RatingsError;

/// The closed interval `[min, max]` that ratings lie in (MovieLens: 1..5).
///
/// ```
/// use cnmf_ratings::RatingScale;
/// let s = RatingScale::new(1.0, 5.0).unwrap();
/// assert_eq!(s.width(), 4.0);
/// assert_eq!(s.clip(7.5), 5.0);
/// assert!(RatingScale::new(5.0, 1.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatingScale {
    min: f64,
    max: f64,
}

impl RatingScale {
    /// The MovieLens scale, 1 to 5 stars.
    pub const MOVIELENS: RatingScale = RatingScale { min: 1.0, max: 5.0 };

    /// A scale `[min, max]`; both finite and `min < max`.
    pub fn new(min: f64, max: f64) -> Result<Self, RatingsError> {
        if !(min.is_finite() && max.is_finite() && min < max) {
            return Err(RatingsError::InvalidScale { min, max });
        }
        Ok(RatingScale { min, max })
    }

    /// Lowest rating.
    pub fn min(&self) -> f64 {
        self.min
    }

    /// Highest rating.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// `max - min`, the denominator of NMAE.
    pub fn width(&self) -> f64 {
        self.max - self.min
    }

    /// Whether `r` is a finite number inside the scale.
    pub fn contains(&self, r: f64) -> bool {
        r.is_finite() && r >= self.min && r <= self.max
    }

    /// `r` clipped into the scale (predictions are always clipped).
    pub fn clip(&self, r: f64) -> f64 {
        r.clamp(self.min, self.max)
    }
}

impl Default for RatingScale {
    fn default() -> Self {
        RatingScale::MOVIELENS
    }
}
