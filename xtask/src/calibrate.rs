//! Calibration: the settings the paper does not state, chosen once on a validation split of
//! repetition 0's training set (repetition 0's test set is never looked at; later repetitions'
//! test sets overlap the calibration data, which the report states):
//!
//! - sigma of the noise model: the validation RMSE of ignore-missing at its best iteration
//!   (the typical residual of a clean rating around a rank-k fit), then
//!   lambda = 2 sigma^2 (-ln(sigma sqrt(2 pi)) - ln p);
//! - the evidence for the iteration count: validation NMAE against iterations for every
//!   algorithm from the same initial factors; `--iters auto` takes the count of a grid with
//!   the lowest validation NMAE averaged over the paper's five (the default, 40, is what it
//!   picks on MovieLens 100K);
//! - the L2 penalty of each algorithm in the regularised block: the grid value with the lowest
//!   validation NMAE under early stopping.

use std::time::Instant;

use anyhow::{Context, Result};
use cnmf_engine::{init_factors, lambda_from_noise_model, Algorithm, Factors, NmfParams};
use cnmf_metrics::accuracy_of;
use cnmf_ratings::{split, Ratings, Triple};
use rayon::prelude::*;
use serde::Serialize;

use crate::cli::Iters;
use crate::config::{Config, IterSource, LambdaChoice};
use crate::progress::Progress;
use crate::protocol::{fit, rep_seeds, Regularised};
use crate::seeds::{derive, Stream};
use crate::summary::paper_figures;

/// Validation NMAE per iteration of one algorithm (entry 0: the initial factors).
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// Algorithm.
    pub method: String,
    /// Values per iteration.
    pub values: Vec<f64>,
}

/// How sigma was estimated.
#[derive(Debug, Clone, Serialize)]
pub struct SigmaEstimate {
    /// The estimate: validation RMSE of ignore-missing at its best iteration.
    pub sigma: f64,
    /// That iteration.
    pub best_iteration: usize,
    /// Validation NMAE there.
    pub validation_nmae: f64,
}

/// One L2 value tried for one algorithm.
#[derive(Debug, Clone, Serialize)]
pub struct L2Trial {
    /// The penalty (l2_w = l2_h).
    pub l2: f64,
    /// Best validation NMAE under early stopping.
    pub validation_nmae: f64,
    /// Iteration it was reached at.
    pub best_iteration: usize,
}

/// The L2 choice of one algorithm.
#[derive(Debug, Clone, Serialize)]
pub struct L2Choice {
    /// Algorithm.
    pub method: String,
    /// Every value tried.
    pub tried: Vec<L2Trial>,
    /// The chosen penalty.
    pub chosen: f64,
}

/// What calibration chose, and the evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// Training ratings of the calibration split.
    pub train_ratings: usize,
    /// Validation ratings.
    pub validation_ratings: usize,
    /// Sigma estimate, when lambda was not given.
    pub sigma: Option<SigmaEstimate>,
    /// The lambda used.
    pub lambda: f64,
    /// How lambda was set.
    pub lambda_note: String,
    /// The iteration count used.
    pub iters: usize,
    /// How it was set.
    pub iters_note: String,
    /// Validation NMAE per iteration per algorithm.
    pub curves: Vec<Curve>,
    /// Mean validation NMAE over the paper's five algorithms at each grid count.
    pub grid_scores: Vec<(usize, f64)>,
    /// Each algorithm's best iteration and validation NMAE over the whole curve.
    pub per_method_best: Vec<(String, usize, f64)>,
    /// L2 choices (regularised block only).
    pub l2: Vec<L2Choice>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Number of fits calibration runs (for the progress bar).
pub fn fits(c: &Config) -> u64 {
    let n_alg = Algorithm::ALL.len() as u64;
    let mut n = 0;
    if matches!(c.lambda, LambdaChoice::Estimated { .. }) {
        n += 1;
    }
    n += n_alg; // the iteration curves
    if c.regularised {
        n += n_alg * c.protocol.l2_grid.len() as u64;
    }
    n
}

/// Runs the calibration (see the module docs).
pub fn run(data: &Ratings, c: &Config, progress: &Progress) -> Result<Calibration> {
    let start = Instant::now();
    let seeds = rep_seeds(c.seed, 0);
    let outer = split::random_holdout(data, c.protocol.test_fraction, seeds.split)?;
    let inner = split::random_holdout(
        &outer.train,
        c.protocol.validation_fraction,
        derive(c.seed, 0, Stream::Validation),
    )?;
    let (train, val) = (inner.train, inner.test);
    let init = init_factors(
        data.n_users(),
        data.n_items(),
        c.k,
        outer.train.mean(),
        seeds.init,
    )?;
    let cap = c.protocol.calibration_max_iters;

    let (lambda, sigma, lambda_note) = choose_lambda(&train, &val, &init, c, cap, progress)?;

    // The curves are computed whatever the budget: they are the evidence for it.
    let curves = iteration_curves(&train, &val, &init, c, lambda, cap, progress)?;
    let per_method_best: Vec<(String, usize, f64)> = curves
        .iter()
        .map(|cv| {
            let (t, v) = best_of(&cv.values);
            (cv.method.clone(), t, v)
        })
        .collect();
    let grid_scores: Vec<(usize, f64)> = c
        .protocol
        .iters_grid
        .iter()
        .filter(|&&t| t <= cap)
        .map(|&t| {
            // The paper's protocol gives its five algorithms one budget: the grid is scored on
            // them (the other algorithms' curves are evidence only).
            let paper: Vec<f64> = curves
                .iter()
                .filter(|cv| paper_figures(&cv.method).is_some())
                .map(|cv| cv.values[t])
                .collect();
            (t, paper.iter().sum::<f64>() / paper.len().max(1) as f64)
        })
        .collect();
    let (iters, iters_note) = choose_iters(c, &grid_scores)?;

    let mut l2 = Vec::new();
    if c.regularised {
        l2 = l2_grid(&train, &val, &init, c, lambda, progress)?;
    }
    Ok(Calibration {
        train_ratings: train.nnz(),
        validation_ratings: val.len(),
        sigma,
        lambda,
        lambda_note,
        iters,
        iters_note,
        curves,
        grid_scores,
        per_method_best,
        l2,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// lambda as the configuration asks: given, from a given sigma, or with sigma estimated as
/// ignore-missing's validation RMSE; with where it came from, for the report.
fn choose_lambda(
    train: &Ratings,
    val: &[Triple],
    init: &Factors,
    c: &Config,
    cap: usize,
    progress: &Progress,
) -> Result<(f64, Option<SigmaEstimate>, String)> {
    Ok(match c.lambda {
        LambdaChoice::Value { lambda } => (lambda, None, format!("given with --lambda {lambda}")),
        LambdaChoice::NoiseModel { sigma, p } => (
            lambda_from_noise_model(sigma, p)?,
            None,
            format!("from the noise model with --sigma {sigma} and p = {p}"),
        ),
        LambdaChoice::Estimated { p } => {
            let params = NmfParams::new(c.k, Algorithm::IgnoreMissing)
                .max_iters(cap)
                .early_stopping(c.protocol.patience)
                .check()?;
            let (m, _) = fit(&params, train, init, Some(val))?;
            progress.fit_done();
            let acc = accuracy_of(&m, val, m.scale())?;
            let sigma = acc.rmse;
            let lambda = lambda_from_noise_model(sigma, p).with_context(|| {
                format!("the estimated sigma {sigma:.3} gives no positive lambda with p = {p}")
            })?;
            (
                lambda,
                Some(SigmaEstimate {
                    sigma,
                    best_iteration: m.iterations(),
                    validation_nmae: acc.nmae,
                }),
                format!(
                    "from the noise model with p = {p} and sigma = {sigma:.4}, the validation \
                     RMSE of ignore-missing at its best iteration ({}) on the calibration split",
                    m.iterations()
                ),
            )
        }
    })
}

/// The iteration budget as the configuration asks, and a note comparing it with what `auto`
/// picks from `grid_scores` (iterations, mean validation NMAE).
fn choose_iters(c: &Config, grid_scores: &[(usize, f64)]) -> Result<(usize, String)> {
    let &(auto, auto_score) = grid_scores
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .context("empty iteration grid")?;
    let score_of = |n: usize| grid_scores.iter().find(|g| g.0 == n).map(|g| g.1);
    Ok(match (c.iters, c.iters_source) {
        (Iters::Auto, _) => (
            auto,
            format!(
                "--iters auto: {auto}, the count of the grid {:?} with the lowest validation \
                 NMAE averaged over the paper's five algorithms ({auto_score:.4}) on the calibration split",
                c.protocol.iters_grid
            ),
        ),
        (Iters::Fixed(n), _) if c.time_budget_secs.is_some() => {
            (n, format!("{n} at most (a cap: the time budget decides)"))
        }
        (Iters::Fixed(n), IterSource::Default) => (
            n,
            format!(
                "{n}, the default: the count `--iters auto` picks on MovieLens 100K (the lowest \
                 validation NMAE averaged over the paper's five algorithms). On this data set's \
                 calibration split `--iters auto` would pick {auto} (mean validation NMAE \
                 {auto_score:.4}{})",
                match score_of(n) {
                    Some(v) => format!(", against {v:.4} at {n}"),
                    None => String::new(),
                }
            ),
        ),
        (Iters::Fixed(n), IterSource::Quick) => (n, format!("{n}, the --quick default")),
        (Iters::Fixed(n), IterSource::Flag) => (n, format!("{n}, given with --iters {n}")),
    })
}

/// The index and value of the smallest entry after entry 0.
fn best_of(values: &[f64]) -> (usize, f64) {
    values
        .iter()
        .copied()
        .enumerate()
        .skip(1)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, values[0]))
}

/// Validation NMAE per iteration of each algorithm, `cap` iterations from `init`.
fn iteration_curves(
    train: &Ratings,
    val: &[Triple],
    init: &Factors,
    c: &Config,
    lambda: f64,
    cap: usize,
    progress: &Progress,
) -> Result<Vec<Curve>> {
    Algorithm::ALL
        .par_iter()
        .map(|&alg| {
            let params = NmfParams::new(c.k, alg)
                .lambda(lambda)
                .max_iters(cap)
                .check()?;
            let (m, _) = fit(&params, train, init, Some(val))?;
            progress.fit_done();
            Ok(Curve {
                method: alg.name().to_string(),
                values: m
                    .trace()
                    .iter()
                    .map(|s| s.validation_nmae.unwrap_or(f64::NAN))
                    .collect(),
            })
        })
        .collect()
}

/// Early-stopped fits of every algorithm at every grid penalty.
fn l2_grid(
    train: &Ratings,
    val: &[Triple],
    init: &Factors,
    c: &Config,
    lambda: f64,
    progress: &Progress,
) -> Result<Vec<L2Choice>> {
    let grid = &c.protocol.l2_grid;
    let jobs: Vec<(Algorithm, f64)> = Algorithm::ALL
        .iter()
        .flat_map(|&a| grid.iter().map(move |&l| (a, l)))
        .collect();
    let trials: Vec<L2Trial> = jobs
        .par_iter()
        .map(|&(alg, l2)| {
            let params = NmfParams::new(c.k, alg)
                .lambda(lambda)
                .max_iters(c.protocol.regularised_max_iters)
                .l2_w(l2)
                .l2_h(l2)
                .early_stopping(c.protocol.patience)
                .check()?;
            let (m, _) = fit(&params, train, init, Some(val))?;
            progress.fit_done();
            let best = m.iterations();
            let nmae = m.trace()[best]
                .validation_nmae
                .context("validation NMAE missing from the trace")?;
            Ok(L2Trial {
                l2,
                validation_nmae: nmae,
                best_iteration: best,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Algorithm::ALL
        .iter()
        .zip(trials.chunks(grid.len()))
        .map(|(alg, tried)| {
            let chosen = tried
                .iter()
                .min_by(|a, b| a.validation_nmae.total_cmp(&b.validation_nmae))
                .map_or(grid[0], |t| t.l2);
            L2Choice {
                method: alg.name().to_string(),
                tried: tried.to_vec(),
                chosen,
            }
        })
        .collect())
}

/// The regularised block's settings from the calibration.
pub fn regularised(cal: &Calibration, c: &Config) -> Option<Regularised> {
    c.regularised.then(|| Regularised {
        reps: c.regularised_reps,
        l2: Algorithm::ALL
            .iter()
            .zip(&cal.l2)
            .map(|(&a, ch)| (a, ch.chosen))
            .collect(),
        patience: c.protocol.patience,
        max_iters: c.protocol.regularised_max_iters,
    })
}
