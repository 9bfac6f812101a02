//! The recommended configuration: the clean training set of a repetition fitted exactly as
//! `cnmf fit` fits by default (its lambda, per-rating L2, early stopping on a seeded
//! validation share, refit on all the training data), through `cnmf_cli::api`, so that the
//! report measures what a user of the command line gets rather than a copy of its recipe.

use anyhow::{Context, Result};
use cnmf_cli::api::{self, FitSettings, Stopping};
use cnmf_engine::{Algorithm, Silent};
use cnmf_metrics::accuracy_of;
use cnmf_ratings::{Ratings, Triple};

use crate::progress::Progress;
use crate::protocol::Settings;
use crate::records::RecipeRecord;
use crate::seeds::{derive, Stream};

/// The algorithms of the block: the command line's default and the defence.
pub const METHODS: [Algorithm; 2] = [Algorithm::IgnoreCorrupt, Algorithm::Guarded];

/// Fits `train` with each of [`METHODS`] as `cnmf fit --algo NAME --seed S` does, `S` drawn
/// from the repetition's seed, in the caller's rayon pool as the paper block's fits (`threads`
/// 0: a pool of the fit's own, installed from a repetition's worker, let that worker wander off
/// to other repetitions while it waited); tests on `test`. The bits do not depend on it.
pub fn run(
    train: &Ratings,
    test: &[Triple],
    s: &Settings,
    rep: usize,
    progress: &Progress,
) -> Result<Vec<RecipeRecord>> {
    METHODS
        .iter()
        .map(|&alg| {
            let settings = FitSettings {
                rank: s.k,
                algorithm: alg,
                lambda: None,
                sigma: None,
                p: None,
                max_iters: api::DEFAULT_ITERS,
                l2: api::DEFAULT_L2,
                l2_per_rating: true,
                seed: derive(s.seed, rep as u64, Stream::Recipe),
                threads: 0,
                precision: cnmf_engine::Precision::F64,
            };
            let params = api::fit_params(&settings, train.scale())
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("recommended configuration, {alg}"))?;
            let (model, seconds) = api::fit(&params, &Stopping::default(), train, &mut Silent)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("repetition {rep}, recommended configuration, {alg}"))?;
            progress.fit_done();
            Ok(RecipeRecord {
                method: alg.name().to_string(),
                accuracy: accuracy_of(&model, test, model.scale())?,
                lambda: params.lambda(),
                iterations: model.iterations(),
                seconds,
            })
        })
        .collect()
}
