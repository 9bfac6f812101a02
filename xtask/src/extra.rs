//! Extension point: methods beyond the engine algorithms, each producing a
//! [`Predictor`] per data set. They get rows of their own in the tables (the same splits, noise
//! and attacks; their own initialisation, seeded per repetition; P* for MAPS is their own
//! Model 1 fit with the same seed). To add one, implement [`ExtraMethod`] and list it in
//! [`registry`].

use anyhow::Result;
use cnmf_family::{AdversarialParams, BiasedNmfParams};
use cnmf_metrics::Predictor;
use cnmf_ratings::Ratings;

/// A rating model that can be fitted to a data set.
pub trait ExtraMethod: Send + Sync {
    /// The name in the tables.
    fn name(&self) -> &str;
    /// A one-line description with its settings, for the report.
    fn describe(&self) -> String;
    /// Fits the method to `train`; `seed` seeds its initialisation.
    fn fit(&self, train: &Ratings, seed: u64) -> Result<Box<dyn Predictor + Send + Sync>>;
}

/// Biased gradient NMF from `cnmf-family` with its documented defaults.
struct BiasedNmf {
    k: usize,
}

impl ExtraMethod for BiasedNmf {
    fn name(&self) -> &str {
        "biased-nmf"
    }
    fn describe(&self) -> String {
        let p = BiasedNmfParams::new(self.k);
        format!(
            "biased gradient NMF (cnmf-family defaults: {p:?}); P, Q >= 0 plus user, item and \
             global biases, full-batch projected Adam; \
             seeded per repetition"
        )
    }
    fn fit(&self, train: &Ratings, seed: u64) -> Result<Box<dyn Predictor + Send + Sync>> {
        let m = BiasedNmfParams::new(self.k)
            .seed(seed)
            .check()?
            .fit(train)?;
        Ok(Box::new(m))
    }
}

/// Adversarially trained biased NMF from `cnmf-family` with its documented defaults.
struct AdversarialNmf {
    k: usize,
}

impl ExtraMethod for AdversarialNmf {
    fn name(&self) -> &str {
        "adversarial-mf"
    }
    fn describe(&self) -> String {
        let p = AdversarialParams::new(self.k);
        format!(
            "biased NMF trained against fast-gradient perturbations of its factors \
             (cnmf-family defaults: {p:?}); seeded per repetition"
        )
    }
    fn fit(&self, train: &Ratings, seed: u64) -> Result<Box<dyn Predictor + Send + Sync>> {
        let m = AdversarialParams::new(self.k)
            .seed(seed)
            .check()?
            .fit(train)?;
        Ok(Box::new(m))
    }
}

/// The extra methods of a run at rank `k` (empty unless asked for: they roughly double the
/// run time).
pub fn registry(k: usize, enabled: bool) -> Vec<Box<dyn ExtraMethod>> {
    if !enabled {
        return Vec::new();
    }
    vec![Box::new(BiasedNmf { k }), Box::new(AdversarialNmf { k })]
}
