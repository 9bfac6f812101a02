//! Accuracy on held-out ratings.

use cnmf_ratings::{RatingScale, Triple};
use serde::{Deserialize, Serialize};

use crate::{MetricsError, Predictor};

/// NMAE, MAE and RMSE of clipped predictions on a test set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Mean absolute error divided by the scale's width.
    pub nmae: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Number of test ratings.
    pub n: usize,
}

/// Accuracy of `predictions` against `truth`; predictions are clipped to `scale` first.
///
/// ```
/// use cnmf_metrics::accuracy;
/// use cnmf_ratings::RatingScale;
/// let a = accuracy(&[5.0, 2.5], &[7.0, 2.0], RatingScale::MOVIELENS).unwrap();
/// // errors after clipping: |5-5| = 0 and |2-2.5| = 0.5
/// assert_eq!(a.mae, 0.25);
/// assert_eq!(a.nmae, 0.0625);
/// ```
pub fn accuracy(
    truth: &[f64],
    predictions: &[f64],
    scale: RatingScale,
) -> Result<Accuracy, MetricsError> {
    if truth.len() != predictions.len() {
        return Err(MetricsError::LengthMismatch {
            what: "accuracy: truth and predictions",
            left: truth.len(),
            right: predictions.len(),
        });
    }
    if truth.is_empty() {
        return Err(MetricsError::Empty {
            what: "accuracy: test set",
        });
    }
    let (mut abs, mut sq) = (0.0, 0.0);
    for (position, (&r, &p)) in truth.iter().zip(predictions).enumerate() {
        if !r.is_finite() {
            return Err(MetricsError::NotFinite {
                what: "accuracy: truth",
                position,
                value: r,
            });
        }
        if !p.is_finite() {
            return Err(MetricsError::NotFinite {
                what: "accuracy: predictions",
                position,
                value: p,
            });
        }
        let e = r - scale.clip(p);
        abs += e.abs();
        sq += e * e;
    }
    let n = truth.len() as f64;
    let mae = abs / n;
    Ok(Accuracy {
        nmae: mae / scale.width(),
        mae,
        rmse: (sq / n).sqrt(),
        n: truth.len(),
    })
}

/// Accuracy of a [`Predictor`] on held-out triples.
pub fn accuracy_of<P: Predictor + ?Sized>(
    predictor: &P,
    test: &[Triple],
    scale: RatingScale,
) -> Result<Accuracy, MetricsError> {
    let truth: Vec<f64> = test.iter().map(|t| t.value).collect();
    let predictions: Vec<f64> = test
        .iter()
        .map(|t| predictor.predict_raw(t.user, t.item))
        .collect();
    accuracy(&truth, &predictions, scale)
}

/// Accuracy of `predictions` made for the held-out `test` triples, position by position (the
/// form a batch predictor returns).
///
/// ```
/// use cnmf_metrics::accuracy_of_triples;
/// use cnmf_ratings::{RatingScale, Triple};
/// let test = [Triple::new(0, 0, 4.0), Triple::new(1, 1, 2.0)];
/// let a = accuracy_of_triples(&test, &[3.0, 2.0], RatingScale::MOVIELENS).unwrap();
/// assert_eq!(a.mae, 0.5);
/// ```
pub fn accuracy_of_triples(
    test: &[Triple],
    predictions: &[f64],
    scale: RatingScale,
) -> Result<Accuracy, MetricsError> {
    if test.len() != predictions.len() {
        return Err(MetricsError::LengthMismatch {
            what: "accuracy: test triples and predictions",
            left: test.len(),
            right: predictions.len(),
        });
    }
    let truth: Vec<f64> = test.iter().map(|t| t.value).collect();
    accuracy(&truth, predictions, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        // 0.5 clips to 1, so the errors are 0, -1 and 2.
        let truth = [1.0, 3.0, 5.0];
        let pred = [0.5, 4.0, 3.0];
        let a = accuracy(&truth, &pred, RatingScale::MOVIELENS).unwrap();
        assert!((a.mae - 1.0).abs() < 1e-15);
        assert!((a.nmae - 0.25).abs() < 1e-15);
        assert!((a.rmse - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(a.n, 3);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let s = RatingScale::MOVIELENS;
        assert!(matches!(
            accuracy(&[], &[], s),
            Err(MetricsError::Empty { .. })
        ));
        assert!(matches!(
            accuracy(&[1.0], &[1.0, 2.0], s),
            Err(MetricsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            accuracy(&[1.0], &[f64::NAN], s),
            Err(MetricsError::NotFinite { .. })
        ));
    }

    #[test]
    fn parallel_triples_and_predictions() {
        // Errors 1 and -3 after clipping 9 to 5: MAE 2, RMSE sqrt(5), NMAE 0.5.
        let test = [Triple::new(0, 0, 2.0), Triple::new(0, 1, 2.0)];
        let a = accuracy_of_triples(&test, &[3.0, 9.0], RatingScale::MOVIELENS).unwrap();
        assert_eq!((a.mae, a.nmae, a.n), (2.0, 0.5, 2));
        assert!((a.rmse - 5f64.sqrt()).abs() < 1e-15);
        assert!(matches!(
            accuracy_of_triples(&test, &[3.0], RatingScale::MOVIELENS),
            Err(MetricsError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn predictor_closure() {
        let test = [Triple::new(0, 0, 4.0), Triple::new(1, 2, 2.0)];
        let a = accuracy_of(&|_u: u32, _i: u32| 3.0, &test, RatingScale::MOVIELENS).unwrap();
        assert_eq!(a.mae, 1.0);
    }
}
