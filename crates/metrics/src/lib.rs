//! Accuracy, prediction-shift, hit-ratio and detection metrics for rating predictors.
