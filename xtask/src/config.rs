//! The run's configuration: flags checked together, defaults resolved, protocol constants
//! written down (everything here goes into reproduce.json).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use cnmf_attacks::AttackSize;
use cnmf_engine::lambda_from_noise_model;
use serde::Serialize;

use crate::cli::{AttackSizeArg, Iters, ReproduceArgs};

/// Default prior probability of corruption in the noise model.
pub const DEFAULT_P: f64 = 0.05;

/// Default iterations per fit: the count `--iters auto` picks on MovieLens 100K (the lowest
/// validation NMAE averaged over the paper's five algorithms; measured, see docs/reproduction). Fixed
/// rather than `auto` by default so that the default run's cost does not depend on the data:
/// on the ML-1M-shaped synthetic set (low noise) `auto` picks 200, five times the cost.
pub const DEFAULT_ITERS: usize = 40;

/// Where the iteration count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IterSource {
    /// [`DEFAULT_ITERS`].
    Default,
    /// The --quick default.
    Quick,
    /// --iters.
    Flag,
}

/// Where lambda comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "source")]
pub enum LambdaChoice {
    /// Given with --lambda.
    Value {
        /// The value.
        lambda: f64,
    },
    /// From the noise model with a given sigma (--sigma).
    NoiseModel {
        /// Standard deviation of clean ratings.
        sigma: f64,
        /// Prior probability of corruption.
        p: f64,
    },
    /// From the noise model with sigma estimated on the calibration split (the default).
    Estimated {
        /// Prior probability of corruption.
        p: f64,
    },
}

/// Fixed choices of the protocol (recorded so that a report says exactly what ran).
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    /// Share of the ratings held out as the test set (the paper: 10%).
    pub test_fraction: f64,
    /// Share of the training set held out as the validation set (calibration, regularised
    /// block).
    pub validation_fraction: f64,
    /// Model 2's flip probability (the paper: 0.1).
    pub noise_probability: f64,
    /// Filler items of a low-knowledge profile besides the target (the paper: 19).
    pub filler: usize,
    /// Iterations of the calibration fits that choose the iteration count.
    pub calibration_max_iters: usize,
    /// Candidate iteration counts for `--iters auto`.
    pub iters_grid: Vec<usize>,
    /// Candidate L2 penalties (l2_w = l2_h) of the regularised block.
    pub l2_grid: Vec<f64>,
    /// Early-stopping patience of the regularised block.
    pub patience: usize,
    /// Iteration cap of the regularised block.
    pub regularised_max_iters: usize,
    /// Attack sizes (fractions of the users) of the attack-size sweep.
    pub sweep_attack_sizes: Vec<f64>,
    /// Multiples of the default lambda in the lambda sweep.
    pub lambda_multipliers: Vec<f64>,
    /// Iterations of the time-to-accuracy fits.
    pub time_to_accuracy_iters: usize,
    /// The long budget the paper's algorithms run again with (the calibration curves' end).
    pub long_iters: usize,
    /// Filler sizes of the low-knowledge attack in the filler sweep.
    pub sweep_fillers: Vec<usize>,
    /// Popularity band of the unpopular target of the attacks beyond the paper: quantiles
    /// `[.0, .1)` of the items ranked by rating count.
    pub unpopular_band: (f64, f64),
}

/// The checked configuration of `cargo xtask reproduce`.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The --data path, if given.
    pub data: Option<PathBuf>,
    /// Whether a missing data set may be downloaded (not `--no-download`).
    pub download: bool,
    /// Repetitions.
    pub reps: usize,
    /// Rank.
    pub k: usize,
    /// Iteration budget as requested.
    pub iters: Iters,
    /// Where it came from.
    pub iters_source: IterSource,
    /// Wall-clock budget per fit, seconds.
    pub time_budget_secs: Option<f64>,
    /// Where lambda comes from.
    pub lambda: LambdaChoice,
    /// Adversaries in Models 3 and 4.
    pub attack_size: AttackSizeArg,
    /// Minimum training ratings of a target.
    pub target_min_ratings: usize,
    /// Master seed.
    pub seed: u64,
    /// Worker threads actually used.
    pub threads: usize,
    /// Output directory.
    pub out: PathBuf,
    /// Smoke run.
    pub quick: bool,
    /// Whether the sweeps run.
    pub sweeps: bool,
    /// Repetitions the sweeps average over.
    pub sweep_reps: usize,
    /// Whether the regularised block runs.
    pub regularised: bool,
    /// Repetitions of the regularised block.
    pub regularised_reps: usize,
    /// Repetitions of the recommended configuration (`crate::recipe`).
    pub recipe_reps: usize,
    /// Whether the paper's algorithms run again at the other budgets (every repetition; not
    /// with a time budget).
    pub budgets: bool,
    /// Whether the attacks beyond the paper run (every repetition).
    pub more_attacks: bool,
    /// Protocol constants.
    pub protocol: Protocol,
}

impl Config {
    /// Checks the flags and resolves the defaults; nothing is loaded, created or run here.
    pub fn from_args(a: &ReproduceArgs) -> Result<Config> {
        let quick = a.quick;
        let reps = a.reps.unwrap_or(if quick { 3 } else { 20 });
        if reps == 0 {
            bail!("--reps must be at least 1");
        }
        if a.k == 0 {
            bail!("--k must be at least 1");
        }
        if a.k > 1000 {
            bail!("--k {} is absurdly large for rating data", a.k);
        }
        let (iters, iters_source) = iterations(a)?;
        let lambda = lambda_choice(a)?;
        let threads = threads(a)?;
        let (sweep_reps, regularised_reps, recipe_reps) = block_reps(a, reps)?;
        Ok(Config {
            data: a.data.clone(),
            download: !a.no_download,
            reps,
            k: a.k,
            iters,
            iters_source,
            time_budget_secs: a.time_budget,
            lambda,
            attack_size: a.attack_size,
            target_min_ratings: a.target_min_ratings,
            seed: a.seed,
            threads,
            out: a.out.clone(),
            quick,
            sweeps: !a.no_sweeps,
            sweep_reps,
            regularised: !a.no_regularised,
            regularised_reps,
            recipe_reps,
            budgets: !a.no_budgets && a.time_budget.is_none(),
            more_attacks: !a.no_more_attacks,
            protocol: Protocol::new(quick),
        })
    }

    /// Creates the output directory (and its `plots/`) and checks that it is writable, so that
    /// an unwritable one fails before the experiments run.
    pub fn prepare_output(&self) -> Result<()> {
        let plots = self.out.join("plots");
        std::fs::create_dir_all(&plots)
            .with_context(|| format!("cannot create the output directory {}", plots.display()))?;
        let probe = self.out.join(".write-test");
        std::fs::write(&probe, b"").with_context(|| {
            format!(
                "the output directory {} is not writable",
                self.out.display()
            )
        })?;
        std::fs::remove_file(&probe).ok();
        Ok(())
    }

    /// The attack size for `cnmf-attacks`.
    pub fn attack_size(&self) -> AttackSize {
        match self.attack_size {
            AttackSizeArg::Fraction(f) => AttackSize::Fraction(f),
            AttackSizeArg::Count(n) => AttackSize::Count(n),
        }
    }
}

/// Iteration cap when only a time budget is given.
pub const TIME_BUDGET_ITER_CAP: usize = 100_000;

/// The iteration budget and where it came from (--iters, --time-budget, --quick); the time
/// budget is checked here.
fn iterations(a: &ReproduceArgs) -> Result<(Iters, IterSource)> {
    if let Some(b) = a.time_budget {
        if !(b.is_finite() && b > 0.0) {
            bail!("--time-budget must be a positive number of seconds, got {b}");
        }
    }
    let (iters, source) = match (a.iters, a.time_budget) {
        (Some(i), _) => (i, IterSource::Flag),
        (None, Some(_)) => (Iters::Fixed(TIME_BUDGET_ITER_CAP), IterSource::Default),
        (None, None) if a.quick => (Iters::Fixed(15), IterSource::Quick),
        (None, None) => (Iters::Fixed(DEFAULT_ITERS), IterSource::Default),
    };
    if a.time_budget.is_some() && iters == Iters::Auto {
        bail!("--iters auto cannot be combined with --time-budget: give an iteration cap or leave --iters out");
    }
    Ok((iters, source))
}

/// Where lambda comes from: --lambda, else the noise model with --sigma, else with sigma
/// estimated; --p defaults to [`DEFAULT_P`].
fn lambda_choice(a: &ReproduceArgs) -> Result<LambdaChoice> {
    Ok(match (a.lambda, a.sigma, a.p) {
        (Some(l), _, _) => {
            if !(l.is_finite() && l > 0.0) {
                bail!("--lambda must be a positive number, got {l}");
            }
            LambdaChoice::Value { lambda: l }
        }
        (None, Some(sigma), p) => {
            let p = p.unwrap_or(DEFAULT_P);
            lambda_from_noise_model(sigma, p).context("--sigma/--p")?;
            LambdaChoice::NoiseModel { sigma, p }
        }
        (None, None, p) => {
            let p = p.unwrap_or(DEFAULT_P);
            if !(p.is_finite() && p > 0.0 && p < 1.0) {
                bail!("--p must be a probability strictly between 0 and 1, got {p}");
            }
            LambdaChoice::Estimated { p }
        }
    })
}

/// Worker threads: --threads, or every core for 0.
fn threads(a: &ReproduceArgs) -> Result<usize> {
    let threads = if a.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        a.threads
    };
    if threads > 1024 {
        bail!("--threads {threads} is more than this runner supports (1024)");
    }
    Ok(threads)
}

/// Repetitions of the sweeps, of the regularised block and of the recommended configuration:
/// they run in the first repetitions, so at most `reps`.
fn block_reps(a: &ReproduceArgs, reps: usize) -> Result<(usize, usize, usize)> {
    let sweep_reps = a
        .sweep_reps
        .unwrap_or(if a.quick { 1 } else { 3 })
        .min(reps);
    let regularised_reps = a
        .regularised_reps
        .unwrap_or(if a.quick { 1 } else { 5 })
        .min(reps);
    let recipe_reps = a
        .recipe_reps
        .unwrap_or(if a.quick { 1 } else { 2 })
        .min(reps);
    for (flag, given, what) in [
        (
            "--sweep-reps",
            a.sweep_reps,
            "--no-sweeps to skip the sweeps",
        ),
        (
            "--regularised-reps",
            a.regularised_reps,
            "--no-regularised to skip the block",
        ),
        (
            "--recipe-reps",
            a.recipe_reps,
            "the default, 2, for a shorter run",
        ),
    ] {
        match given {
            Some(0) => bail!("{flag} must be at least 1 (use {what})"),
            Some(n) if n > reps => {
                bail!("{flag} {n} exceeds --reps {reps}: it runs in the first repetitions")
            }
            _ => {}
        }
    }
    Ok((sweep_reps, regularised_reps, recipe_reps))
}

impl Protocol {
    /// The protocol's constants, smaller grids and budgets under --quick.
    fn new(quick: bool) -> Protocol {
        Protocol {
            test_fraction: 0.1,
            validation_fraction: 0.1,
            noise_probability: 0.1,
            filler: 19,
            calibration_max_iters: if quick { 40 } else { 200 },
            iters_grid: if quick {
                vec![5, 10, 20, 40]
            } else {
                vec![5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200]
            },
            l2_grid: if quick {
                vec![0.0, 1.0]
            } else {
                vec![0.0, 0.3, 1.0, 3.0]
            },
            patience: if quick { 3 } else { 10 },
            regularised_max_iters: if quick { 30 } else { 150 },
            sweep_attack_sizes: vec![0.005, 0.01, 0.02, 0.05, 0.10, 0.20],
            lambda_multipliers: if quick {
                vec![0.5, 1.0, 2.0]
            } else {
                vec![0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
            },
            time_to_accuracy_iters: if quick { 40 } else { 300 },
            long_iters: if quick { 40 } else { 200 },
            sweep_fillers: if quick {
                vec![5, 19]
            } else {
                vec![0, 5, 19, 50, 100]
            },
            unpopular_band: (0.6, 0.8),
        }
    }
}
