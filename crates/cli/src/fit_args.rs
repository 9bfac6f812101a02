//! Options shared by `fit` and `evaluate`: the data file, the algorithm and its parameters, and
//! the fit itself with its progress bar.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use cnmf_engine::{
    lambda_from_noise_model, Algorithm, EngineError, FitOptions, IterationStats, NmfModel,
    NmfParams, Precision, StopReason, ValidNmfParams,
};
use cnmf_ratings::load::Columns;
use cnmf_ratings::{
    load_reader_with_format, load_with_format, split, DuplicatePolicy, Format, LoadOptions,
    RatingScale, Ratings, RatingsError, Triple,
};
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::input::{Input, LineLimit};
use crate::limits::{self, check_rank_iters};
use crate::output::Output;

/// Noise-model standard deviation used when a corrupt variant gets neither `--lambda` nor
/// `--sigma`.
pub const DEFAULT_SIGMA: f64 = 1.0;
/// Corruption probability used when a corrupt variant gets neither `--lambda` nor `--p`.
pub const DEFAULT_P: f64 = 0.05;
/// Warm-up iterations of the corrupt variants when `--warmup` is not given (at most half the
/// iterations).
pub const DEFAULT_WARMUP: usize = 10;
/// The iteration budget of `fit`, `evaluate` and `tune` when `--iters` is not given: a cap for
/// early stopping, which on MovieLens 100K with the default L2 stops after a few hundred.
pub const DEFAULT_ITERS: usize = 1000;
/// The L2 penalty when `--l2` is not given (per rating unless `--l2-constant`): the best of
/// the measured grid on MovieLens 100K (README, *Defaults*).
pub const DEFAULT_L2: f64 = 0.1;
/// The share of the training ratings held out for early stopping.
pub const DEFAULT_VALIDATION_FRACTION: f64 = 0.1;
/// Iterations without a better validation NMAE before early stopping ends the fit.
pub const DEFAULT_PATIENCE: usize = 50;
/// Mixed into `--seed` to draw the validation split, so that it does not reuse the stream of
/// the initial factors or of `evaluate`'s folds.
const VALIDATION_SEED_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// The ratings file and how to read it.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Ratings file: MovieLens `ratings.dat` (user::item::rating::timestamp), MovieLens 100K
    /// `u.data` (tab-separated), or CSV/TSV with a header naming user, item, rating columns;
    /// gzip-compressed or not; `-` reads standard input (pipes work too). A directory is
    /// searched for `ml-1m/ratings.dat`, `ml-100k/u.data`, `ratings.dat` or `u.data`; without
    /// --data, the directory named by CNMF_DATA, else `./data`, is searched the same way.
    #[arg(long, value_name = "FILE|DIR")]
    pub data: Option<PathBuf>,

    /// File format; `auto` decides from the file name, else from the first line.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    pub format: Format,

    /// The columns of a CSV/TSV file without a header line, in order: user,item,rating and
    /// optionally timestamp (e.g. `user,item,rating,timestamp` for MovieLens' `u1.test`);
    /// the first line is then a rating. `evaluate --test` reads its file with them too.
    #[arg(long, value_name = "NAMES", value_parser = parse_columns)]
    pub columns: Option<Columns>,

    /// Rating scale MIN:MAX; every rating must lie in it and predictions are clipped to it.
    #[arg(long, default_value = "1:5", value_parser = parse_scale, value_name = "MIN:MAX",
          allow_hyphen_values = true)]
    pub scale: RatingScale,

    /// What to do when a (user, item) pair is rated twice: error, keep-last, or mean.
    #[arg(long, default_value = "error", value_parser = parse_duplicates)]
    pub duplicates: DuplicatePolicy,

    /// Drop the file's timestamps (read by default, for guarded's burst screen; a fit that
    /// does not use them does not keep them in memory): a CSV timestamp column may then hold
    /// any text.
    #[arg(long)]
    pub ignore_timestamps: bool,

    #[command(flatten)]
    pub limit: LineLimit,
}

/// The algorithm and its hyper-parameters.
#[derive(Debug, Clone, Args)]
pub struct ParamArgs {
    /// Algorithm: ignore-missing, replace-missing, ignore-corrupt, replace-corrupt,
    /// replace-corrupt-nointerp, a robust-loss baseline: huber, l1, trimmed, or the guarded
    /// defence. The corrupt variants flag ratings whose squared residual exceeds lambda and stop
    /// fitting them; huber down-weights (and flags) ratings more than sqrt(lambda) from their
    /// prediction, l1 fits the smoothed absolute loss, trimmed drops the --trim-fraction
    /// worst-fitted ratings; guarded fits each user on the ratings within
    /// --user-threshold-scale x sqrt(lambda), each item on the ratings within
    /// --item-threshold-scale x sqrt(lambda) from the first iteration, and keeps the users of
    /// the --profile-screen out of every item's fit (`--algorithm`, the library's name, works
    /// too).
    #[arg(
        long,
        visible_alias = "algorithm",
        default_value = "ignore-corrupt",
        value_parser = parse_algorithm
    )]
    pub algo: Algorithm,

    /// Rank: number of latent factors per user and item (`--rank`, the library's name, works
    /// too).
    #[arg(long, visible_alias = "rank", default_value_t = 20, value_parser = parse_count,
          allow_negative_numbers = true)]
    pub k: usize,

    /// Allow a rank above min(users, items) (the factors can then fit every rating exactly;
    /// the hard limit of 1024 still holds).
    #[arg(long)]
    pub force_rank: bool,

    /// Corruption threshold on the squared residual (V - WH)^2 (huber: delta = sqrt(lambda)).
    /// Default for the corrupt variants and huber: from the noise model with --sigma 1 --p 0.05
    /// on a 1..5 scale, which gives about 4.154 (a rating more than ~2.04 stars from its
    /// prediction is flagged); on another scale that value times ((max - min) / 4)^2, the same
    /// share of the range. Refused for the algorithms that use no threshold.
    #[arg(long, allow_negative_numbers = true, conflicts_with_all = ["sigma", "p"])]
    pub lambda: Option<f64>,

    /// Noise model: standard deviation of honest ratings around the truth (default 1 when --p
    /// is given). lambda = 2 sigma^2 (-ln(sigma sqrt(2 pi)) - ln p).
    #[arg(long, allow_negative_numbers = true)]
    pub sigma: Option<f64>,

    /// Noise model: prior probability that a rating is corrupt (default 0.05 when --sigma is
    /// given).
    #[arg(long, allow_negative_numbers = true)]
    pub p: Option<f64>,

    /// Iteration budget (`--max-iters`, the library's name, works too): the cap of the
    /// early-stopped fit, or with --no-early-stopping the number of iterations run.
    #[arg(long, visible_alias = "max-iters", default_value_t = DEFAULT_ITERS,
          value_parser = parse_count, allow_negative_numbers = true)]
    pub iters: usize,

    /// Seed of the initial factors (and of the fold assignment in `evaluate`).
    #[arg(long, default_value_t = 0, value_parser = parse_seed, allow_negative_numbers = true)]
    pub seed: u64,

    /// Worker threads; 0 uses every core, more than the cores are lowered to their number.
    /// Results are identical for every value.
    #[arg(long, default_value_t = 0, value_parser = parse_count, allow_negative_numbers = true)]
    pub threads: usize,

    /// L2 penalty on both factor matrices (added to the update's denominator), per rating
    /// unless --l2-constant: each user's and item's penalty is this times its number of
    /// ratings. The default 0.1 was chosen on MovieLens 100K by `cnmf evaluate --folds 5 --l2 X`
    /// for X in 0, 0.05, 0.08, 0.1, 0.12, 0.15: the lowest NMAE, and with 0.12 the lowest
    /// RMSE (0.921 with the other defaults, against 0.954 with no L2; README, *Defaults*);
    /// 0 turns L2 off.
    #[arg(long, default_value_t = DEFAULT_L2, allow_negative_numbers = true)]
    pub l2: f64,

    /// Scale each user's and item's L2 penalty by its number of ratings (as SGD's per-rating
    /// regularisation does): heavy users and popular items get more shrinkage. The default;
    /// the flag is kept for scripts that pass it.
    #[arg(long, conflicts_with = "l2_constant")]
    pub l2_per_rating: bool,

    /// One L2 penalty per user and item row, whatever its number of ratings (the behaviour
    /// before the per-rating penalty became the default).
    #[arg(long)]
    pub l2_constant: bool,

    /// How the number of iterations is chosen (early stopping and refit).
    #[command(flatten)]
    pub stop: StopArgs,

    /// Iterations fitted before corrupt flags start being set (corrupt variants; the robust
    /// baselines and guarded fit plain ignore-missing until then). Default: min(10, iters / 2),
    /// so that ratings are judged against a model that already fits the data; from a random
    /// start every rating looks off and whole taste groups can be flagged. 0 follows the
    /// paper's Algorithm 1 literally. guarded's default is 0: its item side is meant to act
    /// from the first iteration, while every prediction is still near the mean rating.
    #[arg(long, value_parser = parse_count, allow_negative_numbers = true)]
    pub warmup: Option<usize>,

    /// trimmed only: the share of the ratings dropped each iteration, in [0, 1) (default
    /// 0.05): the floor(share x ratings) worst-fitted ratings are flagged and ignored.
    #[arg(long, allow_negative_numbers = true)]
    pub trim_fraction: Option<f64>,

    /// guarded only: a rating takes part in its user's fit while it lies within this many
    /// sqrt(lambda) of its prediction (default 1, ignore-corrupt's threshold; all ratings in the
    /// first iteration).
    #[arg(long, allow_negative_numbers = true, value_name = "A")]
    pub user_threshold_scale: Option<f64>,

    /// guarded only: a rating takes part in its item's fit while it lies within this many
    /// sqrt(lambda) of its prediction (default 0.8, from the first iteration on).
    #[arg(long, allow_negative_numbers = true, value_name = "B")]
    pub item_threshold_scale: Option<f64>,

    /// guarded only: screen out of every item's fit the users whose rated items' mean
    /// ln(1 + number of ratings) lies more than Z robust standard deviations below the users'
    /// median (default 4), or `off`.
    #[arg(long, value_parser = parse_screen, value_name = "Z|off")]
    pub profile_screen: Option<ScreenArg>,

    /// guarded only: hold out of the fit an item's ratings that arrive within this window
    /// with values shifted from the item's other ratings (a review bomb's burst), or `off`.
    /// Seconds, or a number with s, m, h or d (default 1d). Needs timestamps in the data;
    /// without them the fit says the screen did not run.
    #[arg(long, value_parser = parse_window, value_name = "DURATION|off")]
    pub burst_window: Option<WindowArg>,

    /// Precision of the iterations: f64, or f32 (f32 factors and arithmetic with f64 sums:
    /// about half the memory traffic; test NMAE within about 0.0005 of f64's). The model's
    /// factors are f64 either way. Each precision gives the same results for every thread count.
    #[arg(long, default_value = "f64", value_parser = parse_precision, value_name = "f64|f32")]
    pub precision: Precision,
}

/// Parses `--precision`.
fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse::<Precision>().map_err(|e| e.to_string())
}

/// How a fit decides its number of iterations: early stopping on a validation split of the
/// training data (the default), then a refit on all of it.
#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// Fit exactly --iters iterations on all the training data, with no validation split.
    #[arg(long)]
    pub no_early_stopping: bool,

    /// Early stopping: the share of the training ratings held out (drawn with --seed) to
    /// choose the number of iterations, in (0, 1).
    #[arg(long, default_value_t = DEFAULT_VALIDATION_FRACTION, allow_negative_numbers = true,
          value_name = "SHARE")]
    pub validation_fraction: f64,

    /// Early stopping: stop after this many iterations without a lower validation NMAE.
    #[arg(long, default_value_t = DEFAULT_PATIENCE, value_parser = parse_count,
          allow_negative_numbers = true, value_name = "ITERS")]
    pub patience: usize,

    /// Early stopping: keep the early-stopped model (fitted without the validation ratings)
    /// instead of refitting on all the training data for its best number of iterations.
    #[arg(long)]
    pub no_refit: bool,
}

impl Default for StopArgs {
    fn default() -> Self {
        StopArgs {
            no_early_stopping: false,
            validation_fraction: DEFAULT_VALIDATION_FRACTION,
            patience: DEFAULT_PATIENCE,
            no_refit: false,
        }
    }
}

impl StopArgs {
    /// Checks the options (before any data is read).
    pub fn check(&self) -> CliResult<()> {
        if self.no_early_stopping {
            return Ok(());
        }
        let f = self.validation_fraction;
        if !(f > 0.0 && f < 1.0) {
            return Err(CliError::Usage(format!(
                "--validation-fraction must lie in (0, 1), got {f}"
            )));
        }
        if self.patience == 0 {
            return Err(CliError::Usage(
                "--patience must be at least 1 iteration".into(),
            ));
        }
        Ok(())
    }
}

/// What early stopping chose, for the output.
#[derive(Debug, Clone, Serialize)]
pub struct EarlyStopInfo {
    /// Training ratings held out for validation.
    pub validation_ratings: usize,
    /// The iteration with the lowest validation NMAE.
    pub best_iteration: usize,
    /// That NMAE.
    pub validation_nmae: f64,
    /// Iterations the early-stopped fit ran.
    pub iterations_run: usize,
    /// Whether the model was refitted on all the training data for `refit_iterations`.
    pub refit: bool,
    /// Iterations of the refit (`best_iteration`, raised past the warm-up when needed).
    pub refit_iterations: Option<usize>,
}

impl EarlyStopInfo {
    /// One line for people.
    pub fn describe(&self) -> String {
        let then = match self.refit_iterations {
            Some(n) => format!("refitted on all the training data for {n} iterations"),
            None => "kept without refitting".into(),
        };
        format!(
            "early stopping on {} validation ratings: best NMAE {:.4} at iteration {} of {} run; {then}",
            self.validation_ratings, self.validation_nmae, self.best_iteration, self.iterations_run
        )
    }
}

/// A fit's model, wall-clock seconds (early-stopped fit and refit together) and what early
/// stopping chose, if it ran.
pub struct FitOutcome {
    /// The model.
    pub model: NmfModel,
    /// Seconds of fitting.
    pub secs: f64,
    /// Early stopping's choice (None with --no-early-stopping, or too few ratings).
    pub early: Option<EarlyStopInfo>,
}

/// Fits `data` as `fit` and `evaluate` do: without early stopping, `params` as they are;
/// with it, an early-stopped fit on the training data less a seeded validation share, then
/// (unless `--no-refit`) a fit of all of `data` from the same initial factors for the best
/// number of iterations. Deterministic for a seed. Data too small for a validation split of
/// at least one rating is fitted without early stopping (with a note).
pub fn fit_model(
    params: &ValidNmfParams,
    stop: &StopArgs,
    data: &Ratings,
    out: &Output,
    label: &str,
) -> CliResult<FitOutcome> {
    fit_stopped(
        params,
        stop,
        data,
        &mut |p, d, v, what| fit_with_progress(p, d, v, out, &format!("{label}{what}")),
        &mut |n| out.note(&format!("{label}: {n}")),
    )
}

/// One fit of [`fit_stopped`]: parameters, data, validation triples and a label suffix
/// (`""`, `" (early stopping)"`, `" (refit)"`) to the model and its seconds.
pub type FitOne<'a> = dyn FnMut(&ValidNmfParams, &Ratings, Option<&[Triple]>, &str) -> CliResult<(NmfModel, f64)>
    + 'a;

/// [`fit_model`] with the fits run by `fit_one` and notes told to `note` (for front ends
/// without the command line's progress bars: the Python package).
pub fn fit_stopped(
    params: &ValidNmfParams,
    stop: &StopArgs,
    data: &Ratings,
    fit_one: &mut FitOne<'_>,
    note: &mut dyn FnMut(&str),
) -> CliResult<FitOutcome> {
    if stop.no_early_stopping {
        let (model, secs) = fit_one(params, data, None, "")?;
        return Ok(FitOutcome {
            model,
            secs,
            early: None,
        });
    }
    let split = match validation_split(data, stop.validation_fraction, params.seed()) {
        Some(s) => s,
        None => {
            note(&format!(
                "{} ratings are too few for a validation share of {}; fitting {} iterations \
                 without early stopping",
                data.nnz(),
                stop.validation_fraction,
                params.max_iters()
            ));
            let (model, secs) = fit_one(params, data, None, "")?;
            return Ok(FitOutcome {
                model,
                secs,
                early: None,
            });
        }
    };
    let es = params
        .params()
        .clone()
        .early_stopping(stop.patience)
        .check()
        .map_err(CliError::from_engine)?;
    let (model, secs) = fit_one(&es, &split.train, Some(&split.test), " (early stopping)")?;
    let best_iteration = model.iterations();
    let validation_nmae = model
        .trace()
        .iter()
        .find(|s| s.iteration == best_iteration)
        .and_then(|s| s.validation_nmae)
        .unwrap_or(f64::NAN);
    let mut info = EarlyStopInfo {
        validation_ratings: split.test.len(),
        best_iteration,
        validation_nmae,
        iterations_run: model.trace().last().map_or(0, |s| s.iteration),
        refit: false,
        refit_iterations: None,
    };
    if stop.no_refit {
        return Ok(FitOutcome {
            model,
            secs,
            early: Some(info),
        });
    }
    drop(split);
    let refit = refit_params(params, best_iteration).map_err(CliError::from_engine)?;
    let iters = refit.max_iters();
    let (model, refit_secs) = fit_one(&refit, data, None, " (refit)")?;
    info.refit = true;
    info.refit_iterations = Some(iters);
    Ok(FitOutcome {
        model,
        secs: secs + refit_secs,
        early: Some(info),
    })
}

/// The validation split of early stopping: the share `fraction` of `data`'s ratings held out,
/// drawn with the fit's `seed` (mixed, so that it does not reuse the initial factors' stream);
/// `None` when `data` is too small for a split with at least one rating on each side.
pub fn validation_split(data: &Ratings, fraction: f64, seed: u64) -> Option<split::Split> {
    split::random_holdout(data, fraction, seed ^ VALIDATION_SEED_MIX).ok()
}

/// The refit's parameters after early stopping chose `best_iteration`: `params` with
/// `max_iters` that iteration, at least 1, and past the warm-up for the algorithms that
/// down-weight ratings after it.
pub fn refit_params(
    params: &ValidNmfParams,
    best_iteration: usize,
) -> Result<ValidNmfParams, EngineError> {
    let mut iters = best_iteration.max(1);
    if params.algorithm().downweights() && params.warmup_iters() >= iters {
        iters = params.warmup_iters() + 1;
    }
    params.params().clone().max_iters(iters).check()
}

/// The value of `--burst-window`: `Some(seconds)`, or `None` for `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowArg(pub Option<u64>);

/// The value of `--profile-screen`: `Some(z)`, or `None` for `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenArg(pub Option<f64>);

/// How lambda was chosen, for the output.
#[derive(Debug, Clone, Serialize)]
pub struct LambdaChoice {
    /// The threshold used (None: the algorithm needs none and none was given).
    pub lambda: Option<f64>,
    /// `given`, `noise-model`, `default-noise-model` or `default-scaled` (the 1..5 default
    /// scaled to the rating scale's range).
    pub source: &'static str,
    /// Noise-model standard deviation, when lambda came from it.
    pub sigma: Option<f64>,
    /// Noise-model corruption probability, when lambda came from it.
    pub p: Option<f64>,
}

impl LambdaChoice {
    /// One line for people, e.g. `lambda = 4.1536 (noise model sigma = 1, p = 0.05; default)`.
    pub fn describe(&self) -> String {
        match (self.lambda, self.source) {
            (None, _) => "no lambda (not needed by this algorithm)".into(),
            (Some(l), "given") => format!("lambda = {l}"),
            (Some(l), "default-scaled") => format!(
                "lambda = {l:.4} (the default; the noise model sigma = {}, p = {} on a 1..5 scale, \
                 scaled by ((max - min) / 4)^2 to this scale)",
                DEFAULT_SIGMA, DEFAULT_P
            ),
            (Some(l), s) => format!(
                "lambda = {l:.4} (noise model sigma = {}, p = {}{})",
                self.sigma.unwrap_or(f64::NAN),
                self.p.unwrap_or(f64::NAN),
                if s == "default-noise-model" {
                    "; the default"
                } else {
                    ""
                }
            ),
        }
    }
}

/// [`ParamArgs::check`]'s result.
#[derive(Debug, Clone)]
pub struct CheckedParams {
    /// The engine's parameters.
    pub params: ValidNmfParams,
    /// How lambda was chosen.
    pub lambda: LambdaChoice,
    /// Notes for stderr about what was chosen on the user's behalf.
    pub notes: Vec<String>,
}

impl ParamArgs {
    /// Checked engine parameters and how lambda was chosen, for ratings on `scale`. Every
    /// problem is a usage error, found before any data is read.
    pub fn check(&self, scale: RatingScale) -> CliResult<CheckedParams> {
        self.stop.check()?;
        if self.trim_fraction.is_some() && self.algo != Algorithm::Trimmed {
            return Err(CliError::Usage(format!(
                "--trim-fraction applies to the trimmed algorithm only, not {}",
                self.algo
            )));
        }
        if !self.algo.needs_lambda() {
            let given: Vec<&str> = [
                ("--lambda", self.lambda.is_some()),
                ("--sigma", self.sigma.is_some()),
                ("--p", self.p.is_some()),
            ]
            .iter()
            .filter(|(_, g)| *g)
            .map(|(n, _)| *n)
            .collect();
            if !given.is_empty() {
                let users: Vec<&str> = Algorithm::ALL
                    .iter()
                    .filter(|a| a.needs_lambda())
                    .map(|a| a.name())
                    .collect();
                return Err(CliError::Usage(format!(
                    "{} {} no effect on {}, which uses no corruption threshold (it applies to {})",
                    given.join(" and "),
                    if given.len() == 1 { "has" } else { "have" },
                    self.algo,
                    users.join(", ")
                )));
            }
        }
        check_rank_iters(self.k, self.iters).map_err(CliError::Usage)?;
        let mut notes = Vec::new();
        let (threads, lowered) = limits::threads(self.threads);
        if lowered {
            notes.push(format!(
                "--threads {} is more than the {threads} cores; using {threads} (results are the same)",
                self.threads
            ));
        }
        if self.algo != Algorithm::Guarded {
            for (given, flag) in [
                (
                    self.user_threshold_scale.is_some(),
                    "--user-threshold-scale",
                ),
                (
                    self.item_threshold_scale.is_some(),
                    "--item-threshold-scale",
                ),
                (self.profile_screen.is_some(), "--profile-screen"),
                (self.burst_window.is_some(), "--burst-window"),
            ] {
                if given {
                    return Err(CliError::Usage(format!(
                        "{flag} applies to the guarded algorithm only, not {}",
                        self.algo
                    )));
                }
            }
        }
        let mut params = NmfParams::new(self.k, self.algo)
            .max_iters(self.iters)
            .seed(self.seed)
            .threads(threads)
            .l2_w(self.l2)
            .l2_h(self.l2)
            .l2_per_rating(!self.l2_constant)
            .warmup_iters(self.warmup.unwrap_or(
                if self.algo.downweights() && self.algo != Algorithm::Guarded {
                    DEFAULT_WARMUP.min(self.iters / 2)
                } else {
                    0
                },
            ));
        let mut choice = LambdaChoice {
            lambda: None,
            source: "given",
            sigma: None,
            p: None,
        };
        if let Some(l) = self.lambda {
            params = params.lambda(l);
        } else if self.sigma.is_some() || self.p.is_some() {
            let sigma = self.sigma.unwrap_or(DEFAULT_SIGMA);
            let p = self.p.unwrap_or(DEFAULT_P);
            params = params.noise_model(sigma, p);
            choice.source = "noise-model";
            choice.sigma = Some(sigma);
            choice.p = Some(p);
        } else if self.algo.needs_lambda() {
            let factor = ((scale.max() - scale.min()) / 4.0).powi(2);
            if factor == 1.0 {
                params = params.noise_model(DEFAULT_SIGMA, DEFAULT_P);
                choice.source = "default-noise-model";
                choice.sigma = Some(DEFAULT_SIGMA);
                choice.p = Some(DEFAULT_P);
            } else {
                let base = lambda_from_noise_model(DEFAULT_SIGMA, DEFAULT_P)
                    .map_err(CliError::from_engine)?;
                params = params.lambda(base * factor);
                choice.source = "default-scaled";
            }
        }
        if let Some(q) = self.trim_fraction {
            params = params.trim_fraction(q);
        }
        if let Some(a) = self.user_threshold_scale {
            params = params.user_threshold_scale(a);
        }
        if let Some(b) = self.item_threshold_scale {
            params = params.item_threshold_scale(b);
        }
        if let Some(WindowArg(w)) = self.burst_window {
            params = params.burst_window(w);
        }
        if let Some(ScreenArg(z)) = self.profile_screen {
            params = params.profile_screen(z);
        }
        params = params.precision(self.precision);
        let valid = params.check().map_err(CliError::from_engine)?;
        choice.lambda = valid.lambda();
        Ok(CheckedParams {
            params: valid,
            lambda: choice,
            notes,
        })
    }

    /// Checks the rank against the data: at most min(users, items) unless `--force-rank`.
    pub fn check_rank_for(&self, data: &DataSummary) -> CliResult<()> {
        let most = data.users.min(data.items);
        if self.k > most && !self.force_rank {
            return Err(CliError::Usage(format!(
                "--k {} is above min(users, items) = {most} for {} ({} users, {} items): such a \
                 rank can fit every rating exactly and flags nothing useful; lower it, or pass \
                 --force-rank",
                self.k, data.file, data.users, data.items
            )));
        }
        Ok(())
    }
}

/// The keys a settings file (`fit --params`, written by `tune`) may hold, as the long options
/// spell them with `_` for `-` (`rank` and `k` are the same option).
pub const PARAMS_FILE_KEYS: &[&str] = &[
    "algo",
    "rank",
    "k",
    "lambda",
    "sigma",
    "p",
    "l2",
    "l2_constant",
    "l2_per_rating",
    "iters",
    "seed",
    "warmup",
    "trim_fraction",
    "user_threshold_scale",
    "item_threshold_scale",
    "no_early_stopping",
    "validation_fraction",
    "patience",
    "no_refit",
    "precision",
];

impl ParamArgs {
    /// The options with every default, as if none were given.
    pub fn defaults() -> ParamArgs {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            params: ParamArgs,
        }
        <Only as clap::Parser>::try_parse_from(["cnmf"])
            .expect("the defaults parse")
            .params
    }

    /// Sets the options named in the JSON settings file `path` (an object, keys from
    /// [`PARAMS_FILE_KEYS`]) that `given` says were not on the command line (a clap argument
    /// id: the field name). `lambda`, `sigma` and `p` are one choice: when any of them is on
    /// the command line, the file's are ignored. Unknown keys, wrong types and a file with
    /// both `lambda` and `sigma`/`p` are usage errors naming the file.
    pub fn apply_params_file(
        &mut self,
        path: &std::path::Path,
        given: &dyn Fn(&str) -> bool,
    ) -> CliResult<()> {
        let name = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("--params {name}: cannot read it: {e}")))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CliError::Usage(format!("--params {name}: not JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(CliError::Usage(format!(
                "--params {name}: expected a JSON object of settings, like {{\"rank\": 20, \"l2\": 0.1}}"
            )));
        };
        if let Some(bad) = map.keys().find(|k| !PARAMS_FILE_KEYS.contains(&k.as_str())) {
            return Err(CliError::Usage(format!(
                "--params {name}: unknown key {bad:?}; known keys: {}",
                PARAMS_FILE_KEYS.join(", ")
            )));
        }
        if map.contains_key("lambda") && (map.contains_key("sigma") || map.contains_key("p")) {
            return Err(CliError::Usage(format!(
                "--params {name}: give either lambda or the noise model (sigma, p), not both"
            )));
        }
        if map.contains_key("rank") && map.contains_key("k") {
            return Err(CliError::Usage(format!(
                "--params {name}: rank and k are the same setting; give one"
            )));
        }
        let threshold_given = given("lambda") || given("sigma") || given("p");
        let bad = |key: &str, what: &str| {
            CliError::Usage(format!("--params {name}: {key:?} must be {what}"))
        };
        for (key, v) in &map {
            let id = if key == "rank" { "k" } else { key.as_str() };
            if given(id) || (matches!(id, "lambda" | "sigma" | "p") && threshold_given) {
                continue;
            }
            let num = || v.as_f64().ok_or_else(|| bad(key, "a number"));
            let count = || {
                v.as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| bad(key, "a whole number >= 0"))
            };
            let flag = || v.as_bool().ok_or_else(|| bad(key, "true or false"));
            match id {
                "algo" => {
                    let s = v.as_str().ok_or_else(|| bad(key, "an algorithm name"))?;
                    self.algo = parse_algorithm(s)
                        .map_err(|e| CliError::Usage(format!("--params {name}: {e}")))?;
                }
                "k" => self.k = count()?,
                "lambda" => self.lambda = Some(num()?),
                "sigma" => self.sigma = Some(num()?),
                "p" => self.p = Some(num()?),
                "l2" => self.l2 = num()?,
                "l2_constant" => self.l2_constant = flag()?,
                "l2_per_rating" => self.l2_constant = !flag()?,
                "iters" => self.iters = count()?,
                "seed" => self.seed = v.as_u64().ok_or_else(|| bad(key, "a whole number >= 0"))?,
                "warmup" => self.warmup = Some(count()?),
                "trim_fraction" => self.trim_fraction = Some(num()?),
                "user_threshold_scale" => self.user_threshold_scale = Some(num()?),
                "item_threshold_scale" => self.item_threshold_scale = Some(num()?),
                "no_early_stopping" => self.stop.no_early_stopping = flag()?,
                "validation_fraction" => self.stop.validation_fraction = num()?,
                "patience" => self.stop.patience = count()?,
                "no_refit" => self.stop.no_refit = flag()?,
                "precision" => {
                    let s = v.as_str().ok_or_else(|| bad(key, "f64 or f32"))?;
                    self.precision = parse_precision(s)
                        .map_err(|e| CliError::Usage(format!("--params {name}: {e}")))?;
                }
                _ => unreachable!("keys checked above"),
            }
        }
        if given("l2_constant") {
            self.l2_constant = true;
        } else if given("l2_per_rating") {
            self.l2_constant = false;
        }
        Ok(())
    }
}

/// Share of the ratings flagged above which a fit warns that lambda may be too small.
pub const FLAGGED_WARNING_SHARE: f64 = 0.2;

/// The warning for a fit that flagged more than [`FLAGGED_WARNING_SHARE`] of the ratings with
/// a threshold (the algorithms that need lambda), if it did.
pub fn flagged_warning(
    params: &ValidNmfParams,
    lambda: &LambdaChoice,
    flagged: usize,
    ratings: usize,
) -> Option<String> {
    let share = flagged as f64 / ratings.max(1) as f64;
    (params.algorithm().needs_lambda() && share > FLAGGED_WARNING_SHARE).then(|| {
        format!(
            "{:.1}% of the ratings ({flagged} of {ratings}) were flagged as corrupt, more than {:.0}%: \
             {} is probably too small for this data (raise --lambda)",
            100.0 * share,
            100.0 * FLAGGED_WARNING_SHARE,
            lambda.describe()
        )
    })
}

/// Facts about the loaded data, for the output.
#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    /// The file as given.
    pub file: String,
    /// The format it was read as.
    pub format: String,
    /// Number of users.
    pub users: usize,
    /// Number of items.
    pub items: usize,
    /// Number of ratings.
    pub ratings: usize,
    /// Scale lower bound.
    pub scale_min: f64,
    /// Scale upper bound.
    pub scale_max: f64,
}

impl DataArgs {
    /// Checks the options that need no data (the scale must be nonnegative for NMF).
    pub fn check(&self) -> CliResult<()> {
        if self.scale.min() < 0.0 {
            return Err(CliError::Usage(format!(
                "invalid --scale {}:{}: nonnegative matrix factorization needs ratings >= 0 (shift the scale)",
                self.scale.min(),
                self.scale.max()
            )));
        }
        Ok(())
    }

    /// The ratings input (`-`: standard input).
    ///
    /// A directory, or no `--data` at all, is resolved to the MovieLens ratings file it holds
    /// (`CNMF_DATA`, then `./data`, when not given); an error says where it looked.
    pub fn input(&self) -> CliResult<Input> {
        match &self.data {
            Some(p) if p.as_os_str() == "-" || !p.is_dir() => Ok(Input::new(p)),
            given => cnmf_ratings::discover::locate(given.as_deref())
                .map(|found| Input::new(&found.path))
                .map_err(CliError::from_ratings),
        }
    }

    /// The options every ratings file of the command is read with (scale, duplicates,
    /// `--columns`, line bound); `load` adds the format and timestamps of `--data`.
    pub fn load_options(&self) -> LoadOptions {
        let opts = LoadOptions::default()
            .scale(self.scale)
            .duplicates(self.duplicates)
            .max_line_bytes(self.limit.max_line_bytes);
        match self.columns {
            Some(c) => opts.columns(c),
            None => opts,
        }
    }

    /// Loads the ratings, reading the input once (so pipes and standard input work); errors
    /// name the file, the line and the problem.
    pub fn load(&self) -> CliResult<(Ratings, DataSummary)> {
        self.load_keeping_times(true)
    }

    /// [`DataArgs::load`], keeping the file's timestamps only when `times` (a fit that does not
    /// read them need not hold 8 bytes a rating for them) and `--ignore-timestamps` is not
    /// given.
    pub fn load_keeping_times(&self, times: bool) -> CliResult<(Ratings, DataSummary)> {
        let input = self.input()?;
        let name = input.name();
        let opts = self
            .load_options()
            .format(self.format)
            .timestamps(times && !self.ignore_timestamps);
        let (data, format) = match &input {
            Input::Path(p) => load_with_format(p, &opts),
            Input::Stdin => load_reader_with_format(std::io::stdin().lock(), &name, &opts),
        }
        .map_err(|e| match e {
            RatingsError::Parse { ref problem, .. } if problem.contains("longer than") => {
                CliError::Data(format!("{e} (--max-line-bytes to raise it)"))
            }
            RatingsError::Parse { ref problem, .. }
                if problem.starts_with("header column") && self.columns.is_none() =>
            {
                CliError::Data(format!(
                    "{e}; for a file without a header, give its columns (--columns user,item,rating)"
                ))
            }
            RatingsError::Parse { ref problem, .. } if problem.starts_with("timestamp") => {
                CliError::Data(format!("{e} (--ignore-timestamps to drop them)"))
            }
            e => CliError::from_ratings(e),
        })?;
        if data.iter().all(|t| t.value == 0.0) {
            return Err(CliError::Data(format!(
                "{}: every rating is 0; nonnegative matrix factorization needs some positive \
                 ratings (is the scale shifted?)",
                name.display()
            )));
        }
        let summary = DataSummary {
            file: name.display().to_string(),
            format: format.name().to_string(),
            users: data.n_users(),
            items: data.n_items(),
            ratings: data.nnz(),
            scale_min: self.scale.min(),
            scale_max: self.scale.max(),
        };
        Ok((data, summary))
    }
}

impl DataSummary {
    /// One line for people.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}): {} users, {} items, {} ratings, scale {}..{}",
            self.file,
            self.format,
            self.users,
            self.items,
            self.ratings,
            self.scale_min,
            self.scale_max
        )
    }
}

/// Fits with a progress bar on stderr (hidden with `--quiet` or when stderr is not a
/// terminal); returns the model and the wall-clock seconds.
pub fn fit_with_progress(
    params: &ValidNmfParams,
    data: &Ratings,
    validation: Option<&[Triple]>,
    out: &Output,
    label: &str,
) -> CliResult<(NmfModel, f64)> {
    let bar = out.bar(
        params.max_iters() as u64,
        "{prefix} [{bar:20}] {pos}/{len} {msg} {elapsed}",
    );
    bar.set_prefix(label.to_string());
    let mut observer = |s: &IterationStats| {
        bar.set_position(s.iteration as u64);
        bar.set_message(format!(
            "objective {:.4e}, flagged {}",
            s.objective, s.flagged
        ));
        ControlFlow::Continue(())
    };
    let mut options = FitOptions::new().observer(&mut observer);
    if let Some(v) = validation {
        options = options.validation(v);
    }
    let start = Instant::now();
    let result = params.fit_with(data, options);
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok((result.map_err(CliError::from_engine)?, secs))
}

/// The stop reason in words (`max-iters`, `converged`, ...).
pub fn stop_name(r: StopReason) -> String {
    match r {
        StopReason::MaxIters => "max-iters".into(),
        StopReason::TimeBudget => "time-budget".into(),
        StopReason::Converged => "converged".into(),
        StopReason::EarlyStopped { best_iteration } => {
            format!("early-stopped, kept iteration {best_iteration}")
        }
        StopReason::Observer => "interrupted".into(),
    }
}

/// A count option (`--k`, `--iters`, `--threads`, ...): a whole number >= 0, with a message
/// that says so for `-3` or `2.5`.
pub(crate) fn parse_count(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| format!("{s:?} is not a whole number >= 0"))
}

/// `--seed`: a whole number from 0 to 2^64 - 1.
pub(crate) fn parse_seed(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("{s:?} is not a whole number from 0 to {}", u64::MAX))
}

pub(crate) fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    s.parse::<Algorithm>().map_err(|e| e.to_string())
}

fn parse_screen(s: &str) -> Result<ScreenArg, String> {
    if s == "off" {
        return Ok(ScreenArg(None));
    }
    s.parse::<f64>()
        .map(|z| ScreenArg(Some(z)))
        .map_err(|_| format!("{s:?} is neither a number nor `off`"))
}

/// `off`, or a whole number of seconds with an optional unit `s`, `m`, `h` or `d`.
fn parse_window(s: &str) -> Result<WindowArg, String> {
    if s == "off" {
        return Ok(WindowArg(None));
    }
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((p, _)) => s.split_at(p),
        None => (s, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{s:?} is not a duration like 3600, 90m, 6h or 1d, nor `off`"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .map(|secs| WindowArg(Some(secs)))
        .ok_or_else(|| format!("{s:?} is not a duration like 3600, 90m, 6h or 1d, nor `off`"))
}

fn parse_columns(s: &str) -> Result<Columns, String> {
    s.parse::<Columns>().map_err(|e| match e {
        RatingsError::InvalidParameter { reason, .. } => reason,
        other => other.to_string(),
    })
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse::<Format>()
        .map_err(|_| format!("unknown format {s:?}; expected one of auto, movielens, ml100k, csv"))
}

fn parse_duplicates(s: &str) -> Result<DuplicatePolicy, String> {
    match s {
        "error" => Ok(DuplicatePolicy::Error),
        "keep-last" => Ok(DuplicatePolicy::KeepLast),
        "mean" => Ok(DuplicatePolicy::Mean),
        _ => Err(format!(
            "unknown duplicate policy {s:?}; expected one of error, keep-last, mean"
        )),
    }
}

fn parse_scale(s: &str) -> Result<RatingScale, String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("scale {s:?} is not MIN:MAX (e.g. 1:5)"))?;
    let num = |t: &str| {
        t.trim()
            .parse::<f64>()
            .map_err(|_| format!("scale bound {t:?} is not a number"))
    };
    RatingScale::new(num(a)?, num(b)?).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_parses_and_rejects() {
        assert_eq!(parse_scale("1:5").unwrap(), RatingScale::MOVIELENS);
        assert_eq!(parse_scale("0.5:5").unwrap().min(), 0.5);
        assert!(parse_scale("5:1").is_err());
        assert!(parse_scale("15").is_err());
        assert!(parse_scale("a:5").is_err());
    }

    #[test]
    fn default_lambda_matches_the_noise_model_formula() {
        // Independent of the engine: 2 sigma^2 (-ln(sigma sqrt(2 pi)) - ln p), sigma = 1, p = 0.05.
        let expected = 2.0 * (-(2.0 * std::f64::consts::PI).sqrt().ln() - 0.05f64.ln());
        let args = ParamArgs {
            algo: Algorithm::IgnoreCorrupt,
            k: 5,
            force_rank: false,
            lambda: None,
            sigma: None,
            p: None,
            iters: 10,
            seed: 0,
            threads: 0,
            l2: 0.0,
            l2_per_rating: false,
            l2_constant: false,
            stop: StopArgs::default(),
            warmup: None,
            trim_fraction: None,
            user_threshold_scale: None,
            item_threshold_scale: None,
            profile_screen: None,
            burst_window: None,
            precision: Precision::F64,
        };
        let CheckedParams {
            params: valid,
            lambda: choice,
            ..
        } = args.check(RatingScale::MOVIELENS).unwrap();
        assert_eq!(valid.warmup_iters(), 5);
        assert!((choice.lambda.unwrap() - expected).abs() < 1e-12);
        assert!((expected - 4.1536).abs() < 1e-3);
        assert_eq!(choice.source, "default-noise-model");
    }

    #[test]
    fn profile_screen_parses_numbers_and_off() {
        assert_eq!(parse_screen("off").unwrap(), ScreenArg(None));
        assert_eq!(parse_screen("2.5").unwrap(), ScreenArg(Some(2.5)));
        assert!(parse_screen("none").is_err());
    }

    #[test]
    fn burst_window_parses_units_and_off() {
        assert_eq!(parse_window("off").unwrap(), WindowArg(None));
        assert_eq!(parse_window("3600").unwrap(), WindowArg(Some(3600)));
        assert_eq!(parse_window("90m").unwrap(), WindowArg(Some(5400)));
        assert_eq!(parse_window("6h").unwrap(), WindowArg(Some(21_600)));
        assert_eq!(parse_window("1d").unwrap(), WindowArg(Some(86_400)));
        for bad in ["", "d", "1w", "-5", "1.5h", "99999999999999999999d"] {
            assert!(parse_window(bad).is_err(), "{bad:?}");
        }
    }
}
