//! Time to accuracy: each algorithm alone on the machine (every worker thread), on repetition
//! 0's Model 1 data and initial factors, for longer than the main budget, tracing test NMAE
//! and training loss against iterations and wall-clock time.

use anyhow::Result;
use cnmf_engine::{init_factors, Algorithm, NmfParams};
use serde::Serialize;

use crate::cli::Iters;
use crate::config::Config;
use crate::progress::Progress;
use crate::protocol::{fit, rep_seeds, rep_split, Settings};

/// One algorithm's trace.
#[derive(Debug, Clone, Serialize)]
pub struct TimeCurve {
    /// Algorithm.
    pub method: String,
    /// Seconds since the fit started, per iteration (entry 0: the initial factors).
    pub elapsed_secs: Vec<f64>,
    /// Test NMAE per iteration.
    pub test_nmae: Vec<f64>,
    /// Training RMSE over the ratings the algorithm fits (not flagged), per iteration.
    pub train_rmse: Vec<f64>,
    /// Ratings flagged corrupt, per iteration.
    pub flagged: Vec<usize>,
}

/// Iterations of the time-to-accuracy fits: the protocol's count, and at least twice the
/// main budget.
pub fn iterations(c: &Config, s: &Settings) -> usize {
    let main = match c.iters {
        Iters::Fixed(n) if c.time_budget_secs.is_some() => n.min(c.protocol.time_to_accuracy_iters),
        _ => s.iters,
    };
    c.protocol.time_to_accuracy_iters.max(2 * main)
}

/// Runs one fit per engine algorithm, one after the other.
pub fn run(
    data: &cnmf_ratings::Ratings,
    c: &Config,
    s: &Settings,
    progress: &Progress,
) -> Result<Vec<TimeCurve>> {
    let seeds = rep_seeds(s.seed, 0);
    let sp = rep_split(data, s, &seeds)?;
    let init = init_factors(
        data.n_users(),
        data.n_items(),
        s.k,
        sp.train.mean(),
        seeds.init,
    )?;
    let iters = iterations(c, s);
    let nnz = sp.train.nnz();
    let mut out = Vec::new();
    for alg in Algorithm::ALL {
        let params = NmfParams::new(s.k, alg)
            .lambda(s.lambda)
            .max_iters(iters)
            .check()?;
        let (m, _) = fit(&params, &sp.train, &init, Some(&sp.test))?;
        progress.fit_done();
        let tr = m.trace();
        out.push(TimeCurve {
            method: alg.name().to_string(),
            elapsed_secs: tr.iter().map(|t| t.elapsed_secs).collect(),
            test_nmae: tr
                .iter()
                .map(|t| t.validation_nmae.unwrap_or(f64::NAN))
                .collect(),
            train_rmse: tr
                .iter()
                .map(|t| (t.loss / (nnz - t.flagged).max(1) as f64).sqrt())
                .collect(),
            flagged: tr.iter().map(|t| t.flagged).collect(),
        });
    }
    Ok(out)
}
