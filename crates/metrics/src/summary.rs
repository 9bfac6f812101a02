//! Mean and standard deviation of a metric across targets or repetitions.

use serde::{Deserialize, Serialize};

use crate::MetricsError;

/// Mean and sample standard deviation of a set of values.
///
/// ```
/// use cnmf_metrics::MeanSd;
/// let s = MeanSd::of(&[1.0, 2.0, 6.0]).unwrap();
/// assert_eq!(s.mean, 3.0);
/// // deviations -2, -1, 3: sum of squares 14, divided by n - 1 = 2
/// assert_eq!(s.sd, Some(7f64.sqrt()));
/// assert_eq!(MeanSd::of(&[4.0]).unwrap().sd, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanSd {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample (Bessel-corrected, n - 1) standard deviation; `None` for a single value, where it
    /// is undefined.
    pub sd: Option<f64>,
    /// Number of values.
    pub n: usize,
}

impl MeanSd {
    /// The mean and standard deviation of `values`.
    ///
    /// Errors: no values ([`MetricsError::Empty`]), a NaN or infinite value
    /// ([`MetricsError::NotFinite`]).
    pub fn of(values: &[f64]) -> Result<MeanSd, MetricsError> {
        if values.is_empty() {
            return Err(MetricsError::Empty {
                what: "mean and standard deviation: values",
            });
        }
        if let Some(position) = values.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::NotFinite {
                what: "mean and standard deviation: values",
                position,
                value: values[position],
            });
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = (n > 1).then(|| {
            let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            (ss / (n - 1) as f64).sqrt()
        });
        Ok(MeanSd { mean, sd, n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        let s = MeanSd::of(&[2.0, 4.0]).unwrap();
        // mean 3, deviations -1 and 1, sample variance 2
        assert_eq!(s.mean, 3.0);
        assert_eq!(s.sd, Some(2f64.sqrt()));
        assert_eq!(s.n, 2);
        assert!(matches!(MeanSd::of(&[]), Err(MetricsError::Empty { .. })));
        assert!(matches!(
            MeanSd::of(&[1.0, f64::INFINITY]),
            Err(MetricsError::NotFinite { position: 1, .. })
        ));
    }
}
