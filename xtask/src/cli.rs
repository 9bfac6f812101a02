//! Command-line interface (clap derive). Values are only parsed here; [`crate::config`] checks
//! them together and resolves the defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Project tasks.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "corrective-nmf project tasks",
    version,
    after_help = cnmf_ratings::exit::HELP_TABLE
)]
pub struct Cli {
    /// The task.
    #[command(subcommand)]
    pub command: Command,
}

/// The tasks.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reproduce the paper's experiments (Tables 1 and 2) and the sweeps; writes
    /// reproduce.json, REPRODUCTION.md and SVG plots into --out.
    Reproduce(ReproduceArgs),
    /// Scaling benchmark: generate MovieLens-shaped rating files of growing size and measure
    /// load time, time per iteration of every engine algorithm, peak RSS and `cnmf fit`'s cost;
    /// writes bench-scale.json and BENCH-SCALE.md into --out.
    BenchScale(BenchScaleArgs),
    /// One measurement of bench-scale in a process of its own (for its peak RSS).
    #[command(hide = true)]
    BenchScaleChild(BenchScaleChildArgs),
}

/// Flags of `cargo xtask bench-scale`.
#[derive(Debug, Clone, Args)]
pub struct BenchScaleArgs {
    /// Comma-separated sizes: 1m (MovieLens 1M shape), 10m (ML-10M: 69,878 users x 10,677
    /// items), 25m (ML-25M: 162,541 x 59,047), 100m (Netflix: 480,189 x 17,770), or
    /// USERSxITEMSxRATINGS.
    #[arg(long, value_delimiter = ',', default_value = "1m,10m", value_parser = crate::bench_scale::parse_size)]
    pub sizes: Vec<crate::bench_scale::Size>,

    /// Iterations per fit.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub iters: usize,

    /// Rank.
    #[arg(long, default_value_t = 20)]
    pub k: usize,

    /// Comma-separated algorithms (default: every engine algorithm).
    #[arg(long, value_delimiter = ',', value_name = "ALGO,...")]
    pub algos: Vec<String>,

    /// Wall-clock budget per fit in seconds: a fit that passes it stops after the current
    /// iteration, and the report says how many iterations it ran.
    #[arg(
        long,
        default_value_t = 120.0,
        value_name = "SECS",
        allow_negative_numbers = true
    )]
    pub budget: f64,

    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,

    /// Seed of the generated data and of the initial factors.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Output directory (bench-scale.json, BENCH-SCALE.md).
    #[arg(long, default_value = "results/bench-scale", value_name = "DIR")]
    pub out: PathBuf,

    /// Where the generated ratings.dat files go (default: DIR/data under --out); 100m is about
    /// 2 GB.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Keep the generated files (deleted after each size by default).
    #[arg(long)]
    pub keep_data: bool,

    /// Skip the `cnmf fit` run per size.
    #[arg(long)]
    pub no_cli: bool,

    /// The cnmf binary (default: built with cargo build --release -p cnmf-cli).
    #[arg(long, value_name = "PATH")]
    pub cnmf: Option<PathBuf>,

    /// The algorithm of the `cnmf fit` run (default ignore-corrupt).
    #[arg(long, default_value = "ignore-corrupt", value_name = "ALGO")]
    pub cli_algo: String,

    /// Precision of the fits' iterations (f64 or f32), passed to every child and to the
    /// `cnmf fit` run.
    #[arg(long, default_value = "f64", value_parser = parse_precision, value_name = "f64|f32")]
    pub precision: cnmf_engine::Precision,
}

/// Parses `--precision`.
fn parse_precision(s: &str) -> Result<cnmf_engine::Precision, String> {
    s.parse()
        .map_err(|e: cnmf_engine::EngineError| e.to_string())
}

/// Flags of the hidden `bench-scale-child`.
#[derive(Debug, Clone, Args)]
pub struct BenchScaleChildArgs {
    /// The ratings file.
    #[arg(long)]
    pub file: PathBuf,
    /// Algorithm.
    #[arg(long)]
    pub algo: String,
    /// Rank.
    #[arg(long)]
    pub k: usize,
    /// Iterations.
    #[arg(long)]
    pub iters: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Seed of the initial factors.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Wall-clock budget of the fit.
    #[arg(long)]
    pub budget_secs: f64,
    /// Precision of the iterations (f64 or f32).
    #[arg(long, default_value = "f64", value_parser = parse_precision, value_name = "f64|f32")]
    pub precision: cnmf_engine::Precision,
}

/// Flags of `cargo xtask reproduce`.
#[derive(Debug, Clone, Args)]
pub struct ReproduceArgs {
    /// Ratings file or data directory; without it the data set is discovered (CNMF_DATA, then
    /// ./data; MovieLens 1M preferred, then 100K); when none is there, MovieLens 1M is
    /// downloaded into that directory (SHA-256 checked), and when that fails an ML-1M-shaped
    /// synthetic set is used, said loudly.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,

    /// Never download MovieLens: without data on disk, use the synthetic set.
    #[arg(long, conflicts_with = "data")]
    pub no_download: bool,

    /// Repetitions (the paper: 20; --quick: 3).
    #[arg(long, value_name = "N")]
    pub reps: Option<usize>,

    /// Rank (the paper: 20, one factor per MovieLens genre).
    #[arg(long, default_value_t = 20)]
    pub k: usize,

    /// Iterations per fit, the same for every algorithm: a number, or `auto` to pick the count
    /// with the lowest mean validation NMAE over the paper's five algorithms on a calibration split of
    /// the training data (default: 40, what `auto` picks on MovieLens 100K; --quick: 15).
    #[arg(long, value_name = "N|auto", value_parser = parse_iters)]
    pub iters: Option<Iters>,

    /// Wall-clock budget per fit in seconds, instead of an iteration count (the paper equalised
    /// time). Results then depend on the machine and its load.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub time_budget: Option<f64>,

    /// Corruption threshold lambda on the squared residual (default: from the noise model with
    /// sigma estimated on the calibration split and p = 0.05).
    #[arg(long, conflicts_with_all = ["sigma", "p"], allow_negative_numbers = true)]
    pub lambda: Option<f64>,

    /// Noise-model standard deviation of clean ratings (lambda from sigma and p).
    #[arg(long, allow_negative_numbers = true)]
    pub sigma: Option<f64>,

    /// Noise-model prior probability that a rating is corrupt (default 0.05).
    #[arg(long, allow_negative_numbers = true)]
    pub p: Option<f64>,

    /// Number of adversaries A in Models 3 and 4: a fraction of the users (`0.05`, `5%`) or a
    /// count (`50`).
    #[arg(long, value_name = "FRACTION|COUNT", default_value = "0.05", value_parser = parse_attack_size)]
    pub attack_size: AttackSizeArg,

    /// The target is drawn per repetition among items with at least this many training ratings.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub target_min_ratings: usize,

    /// Master seed; every repetition's split, noise, attacks and initial factors derive from it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Worker threads (0 = one per core). Figures are identical for every value.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,

    /// Output directory.
    #[arg(long, default_value = "results", value_name = "DIR")]
    pub out: PathBuf,

    /// Smoke run: 3 repetitions, 15 iterations, smaller grids and sweeps.
    #[arg(long)]
    pub quick: bool,

    /// Skip the sweeps (MAPS against the attack size, 0.5% to 20% of the users; Model 3's
    /// MAPS against the filler size; NMAE, MAPS and detection against lambda).
    #[arg(long, conflicts_with = "sweep_reps")]
    pub no_sweeps: bool,

    /// Repetitions the sweeps average over (the first N of the run; default 3, --quick 1).
    #[arg(long, value_name = "N")]
    pub sweep_reps: Option<usize>,

    /// Skip the second block (L2 regularisation and validation early stopping).
    #[arg(long)]
    pub no_regularised: bool,

    /// Repetitions of the second block (the first N of the run; default 5, --quick 1).
    #[arg(long, value_name = "N")]
    pub regularised_reps: Option<usize>,

    /// Repetitions of the recommended configuration, clean fits made as `cnmf fit` makes them
    /// by default, each early-stopped over hundreds of iterations (the first N of the run;
    /// default 2, --quick 1).
    #[arg(long, value_name = "N")]
    pub recipe_reps: Option<usize>,

    /// Skip the other iteration budgets (the paper's algorithms again at a long budget and at
    /// each one's best validation iteration, so that every verdict says whether it is stable
    /// across budgets).
    #[arg(long)]
    pub no_budgets: bool,

    /// Skip the attacks beyond the paper (push attacks, average, bandwagon, the adaptive
    /// threshold-aware attacker, a review bomb on an unpopular target).
    #[arg(long)]
    pub no_more_attacks: bool,

    /// Add rows for other methods (biased gradient NMF and adversarially trained MF from
    /// cnmf-family); they roughly double the run time.
    #[arg(long)]
    pub extra_methods: bool,

    /// How work is spread over the threads: whole repetitions in parallel (each fit on one
    /// thread), or repetitions one after another with each fit using every thread. The figures
    /// are the same either way.
    #[arg(long, value_enum, default_value = "reps")]
    pub schedule: Schedule,
}

/// How work is spread over the threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Schedule {
    /// Repetitions in parallel.
    Reps,
    /// Repetitions in sequence, fits in parallel.
    Fits,
}

/// The iteration budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Iters {
    /// Chosen on the calibration split.
    Auto,
    /// This many.
    Fixed(usize),
}

/// The attack size as given.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackSizeArg {
    /// A fraction of the users, in (0, 1].
    Fraction(f64),
    /// A number of adversaries.
    Count(usize),
}

fn parse_iters(s: &str) -> Result<Iters, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(Iters::Auto);
    }
    match s.parse::<usize>() {
        Ok(0) => Err("the iteration count must be at least 1".into()),
        Ok(n) => Ok(Iters::Fixed(n)),
        Err(_) => Err(format!(
            "`{s}` is neither `auto` nor a whole number of iterations"
        )),
    }
}

fn parse_attack_size(s: &str) -> Result<AttackSizeArg, String> {
    let t = s.trim();
    if let Some(pct) = t.strip_suffix('%') {
        let v: f64 = pct
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a percentage"))?;
        return fraction(v / 100.0, s);
    }
    if let Ok(n) = t.parse::<usize>() {
        return if n == 0 {
            Err("the attack needs at least 1 adversary".into())
        } else {
            Ok(AttackSizeArg::Count(n))
        };
    }
    match t.parse::<f64>() {
        Ok(v) => fraction(v, s),
        Err(_) => Err(format!(
            "`{s}` is neither a fraction of the users (0.05, 5%) nor a count of adversaries"
        )),
    }
}

fn fraction(v: f64, s: &str) -> Result<AttackSizeArg, String> {
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(AttackSizeArg::Fraction(v))
    } else {
        Err(format!("`{s}` is not a fraction of the users in (0, 1]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_sizes_parse() {
        assert_eq!(parse_attack_size("0.05"), Ok(AttackSizeArg::Fraction(0.05)));
        assert_eq!(parse_attack_size("5%"), Ok(AttackSizeArg::Fraction(0.05)));
        assert_eq!(parse_attack_size("30"), Ok(AttackSizeArg::Count(30)));
        assert!(parse_attack_size("0").is_err());
        assert!(parse_attack_size("1.5").is_err());
        assert!(parse_attack_size("-0.1").is_err());
        assert!(parse_attack_size("many").is_err());
    }

    #[test]
    fn iters_parse() {
        assert_eq!(parse_iters("auto"), Ok(Iters::Auto));
        assert_eq!(parse_iters("40"), Ok(Iters::Fixed(40)));
        assert!(parse_iters("0").is_err());
        assert!(parse_iters("ten").is_err());
    }
}
