//! The paper's algorithms again at other iteration budgets: a long budget and each algorithm's
//! own best validation iteration on the calibration split. The paper gave every algorithm the
//! same time without saying how much, and unregularised multiplicative updates overfit at
//! different speeds, so a verdict is only worth stating with the budgets it holds at.

use anyhow::{Context, Result};
use cnmf_engine::{Algorithm, NmfParams, ValidNmfParams};
use cnmf_ratings::Triple;
use serde::Serialize;

use crate::calibrate::Calibration;
use crate::config::Config;
use crate::progress::Progress;
use crate::protocol::{run_engine_method, Scenario, Settings};
use crate::records::{BudgetRecord, MethodRecord};

/// One budget: iterations per algorithm of the paper's five.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    /// What the budget is, for the report (e.g. "200 iterations").
    pub label: String,
    /// Iterations per algorithm, in `Algorithm::PAPER` order.
    pub iters: Vec<(Algorithm, usize)>,
}

/// The names of the paper's five algorithms, in table order.
pub fn paper_names() -> impl Iterator<Item = &'static str> {
    Algorithm::PAPER.into_iter().map(Algorithm::name)
}

/// The budgets besides the main one: the long budget, and each algorithm's best validation
/// iteration on the calibration split (at least 1). None when the run has a time budget or
/// `--no-budgets`.
pub fn from_calibration(config: &Config, cal: &Calibration) -> Vec<Budget> {
    if !config.budgets {
        return Vec::new();
    }
    let long = config.protocol.long_iters;
    let best_of = |a: Algorithm| {
        cal.per_method_best
            .iter()
            .find(|(m, _, _)| m == a.name())
            .map_or(long, |&(_, t, _)| t.max(1))
    };
    vec![
        Budget {
            label: format!("{long} iterations"),
            iters: Algorithm::PAPER.into_iter().map(|a| (a, long)).collect(),
        },
        Budget {
            label: "each algorithm's best validation iteration".into(),
            iters: Algorithm::PAPER
                .into_iter()
                .map(|a| (a, best_of(a)))
                .collect(),
        },
    ]
}

/// The paper block's parameters for `alg` with `iters` iterations.
fn params(s: &Settings, alg: Algorithm, iters: usize) -> Result<ValidNmfParams> {
    Ok(NmfParams::new(s.k, alg)
        .lambda(s.lambda)
        .max_iters(iters)
        .check()?)
}

/// Runs every budget of `s` on the repetition's scenario (same data, initial factors, target
/// and test set as the paper block). A fit is deterministic in (algorithm, iterations), so a
/// pair already run, by an earlier budget or by the paper block at the main budget, is reused
/// rather than refitted (e.g. the replace variants, whose best validation iteration is often
/// the long budget).
pub fn run(
    scn: &Scenario,
    test: &[Triple],
    s: &Settings,
    paper: &[MethodRecord],
    rep: usize,
    progress: &Progress,
) -> Result<Vec<BudgetRecord>> {
    let mut done: Vec<(Algorithm, usize, MethodRecord)> = Vec::new();
    if s.time_budget.is_none() {
        for rec in paper {
            if let Ok(alg) = rec.method.parse::<Algorithm>() {
                done.push((alg, s.iters, rec.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for b in &s.budgets {
        let mut methods = Vec::new();
        for &(alg, iters) in &b.iters {
            let known = done.iter().find(|(a, t, _)| *a == alg && *t == iters);
            let rec = match known {
                Some((_, _, rec)) => rec.clone(),
                None => {
                    let (rec, _) = run_engine_method(&params(s, alg, iters)?, scn, test, progress)
                        .with_context(|| {
                            format!("repetition {rep}, {alg} at {iters} iterations")
                        })?;
                    done.push((alg, iters, rec.clone()));
                    rec
                }
            };
            methods.push(rec);
        }
        out.push(BudgetRecord {
            label: b.label.clone(),
            methods,
        });
    }
    Ok(out)
}

/// Fits the budgets add to a repetition: one per distinct (algorithm, iterations) pair that
/// the main budget does not already have, four models each.
pub fn fits(s: &Settings) -> u64 {
    let mut pairs: Vec<(Algorithm, usize)> = Vec::new();
    for b in &s.budgets {
        for &(alg, iters) in &b.iters {
            let main = s.time_budget.is_none() && iters == s.iters;
            if !main && !pairs.contains(&(alg, iters)) {
                pairs.push((alg, iters));
            }
        }
    }
    4 * pairs.len() as u64
}
