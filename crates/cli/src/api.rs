//! The small public API of this library for other front ends (the Python package in
//! `python/`): the model file `cnmf fit` writes and `cnmf predict` reads, the parameters
//! `cnmf fit` would use ([`fit_params`]) and its fit with early stopping and refit ([`fit`]),
//! so that a model saved elsewhere is the CLI's file byte for byte in format and a default fit
//! is the CLI's default fit.
//!
//! Unlike [`ModelFile::write`], [`write_model`] installs no signal handlers (a host process
//! such as Python keeps its own Ctrl-C handling); it is atomic the same way (a temporary file
//! next to the target, `fsync`, rename).

use std::io::{self, Write};
use std::path::Path;

use std::time::Instant;

use cnmf_engine::{
    lambda_from_noise_model, Algorithm, FitOptions, NmfModel, NmfParams, Observer, Precision,
    ValidNmfParams,
};
use cnmf_ratings::{RatingScale, Ratings, Triple};

use crate::error::CliError;
use crate::fit_args::{fit_stopped, DEFAULT_P, DEFAULT_SIGMA, DEFAULT_WARMUP};
/// `cnmf fit`'s early-stopping options, the validation split and the refit's length, for a
/// front end that runs the fits itself (`cnmf-mpi`).
pub use crate::fit_args::{refit_params, validation_split, EarlyStopInfo, StopArgs};
/// `cnmf fit`'s algorithm options as clap parses them, for `cnmf-mpi fit` (which flattens
/// [`ParamArgs`] into its own arguments, so that its flags, defaults, `--params FILE` handling
/// ([`ParamArgs::apply_params_file`], keys [`PARAMS_FILE_KEYS`]), validation messages
/// ([`ParamArgs::check`], [`ParamArgs::check_rank_for`]) and resulting parameters are `cnmf
/// fit`'s by construction). Not otherwise a stable API.
pub use crate::fit_args::{
    CheckedParams, DataSummary, LambdaChoice, ParamArgs, ScreenArg, WindowArg, PARAMS_FILE_KEYS,
};
/// `cnmf fit`'s defaults of `--iters` (the early-stopping cap), `--l2` (per rating),
/// `--validation-fraction` and `--patience`.
pub use crate::fit_args::{
    DEFAULT_ITERS, DEFAULT_L2, DEFAULT_PATIENCE, DEFAULT_VALIDATION_FRACTION,
};
use crate::limits::check_rank_iters;
use crate::model_file::Need;
pub use crate::model_file::{ModelFile, ModelFormat, TrainingInfo};

/// The fit parameters of [`fit_params`], as `cnmf fit` takes them.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSettings {
    /// Rank `k`.
    pub rank: usize,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// `--lambda`.
    pub lambda: Option<f64>,
    /// `--sigma`.
    pub sigma: Option<f64>,
    /// `--p`.
    pub p: Option<f64>,
    /// `--iters`.
    pub max_iters: usize,
    /// `--l2` (both sides).
    pub l2: f64,
    /// The L2 penalty per rating (`l2 n ||w_u||^2`), as `cnmf fit` by default; `false` is
    /// `--l2-constant`.
    pub l2_per_rating: bool,
    /// `--seed`.
    pub seed: u64,
    /// `--threads` (0: rayon's default); more than the cores is lowered to the cores, which
    /// does not change the results.
    pub threads: usize,
    /// `--precision`: the element type of the fit's passes (the model's factors are `f64`
    /// either way).
    pub precision: Precision,
}

/// Checked engine parameters for ratings on `scale`, chosen as `cnmf fit` chooses them (its
/// early stopping and refit are [`fit`]'s [`Stopping`], not part of the parameters): `λ`
/// given, or from the noise model when `sigma` or `p` is given, or the CLI's default (the
/// noise model `sigma = 1`, `p = 0.05` on a 1..5 scale, scaled by `((max - min) / 4)^2` on
/// another); warm-up as the CLI's default. The error is the message to show.
pub fn fit_params(s: &FitSettings, scale: RatingScale) -> Result<ValidNmfParams, String> {
    if !s.algorithm.needs_lambda() && (s.lambda.is_some() || s.sigma.is_some() || s.p.is_some()) {
        return Err(format!(
            "lambda, sigma and p have no effect on {}, which uses no corruption threshold",
            s.algorithm
        ));
    }
    check_rank_iters(s.rank, s.max_iters)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let warmup = if s.algorithm.downweights() && s.algorithm != Algorithm::Guarded {
        DEFAULT_WARMUP.min(s.max_iters / 2)
    } else {
        0
    };
    let mut params = NmfParams::new(s.rank, s.algorithm)
        .max_iters(s.max_iters)
        .seed(s.seed)
        .threads(s.threads.min(cores))
        .l2_w(s.l2)
        .l2_h(s.l2)
        .l2_per_rating(s.l2_per_rating)
        .precision(s.precision)
        .warmup_iters(warmup);
    if let Some(l) = s.lambda {
        params = params.lambda(l);
    } else if s.sigma.is_some() || s.p.is_some() {
        params = params.noise_model(s.sigma.unwrap_or(DEFAULT_SIGMA), s.p.unwrap_or(DEFAULT_P));
    } else if s.algorithm.needs_lambda() {
        let factor = ((scale.max() - scale.min()) / 4.0).powi(2);
        params = if factor == 1.0 {
            params.noise_model(DEFAULT_SIGMA, DEFAULT_P)
        } else {
            let base =
                lambda_from_noise_model(DEFAULT_SIGMA, DEFAULT_P).map_err(|e| e.to_string())?;
            params.lambda(base * factor)
        };
    }
    params.check().map_err(|e| e.to_string())
}

/// How [`fit`] chooses the number of iterations: `cnmf fit`'s `--no-early-stopping`,
/// `--validation-fraction`, `--patience` and `--no-refit` ([`Stopping::default`] is its
/// default: early stopping on a seeded 10% validation share, patience 50, then a refit on all
/// the data for the best number of iterations).
#[derive(Debug, Clone, PartialEq)]
pub struct Stopping {
    /// Early stopping on a validation share of the data.
    pub early_stopping: bool,
    /// The share held out, in (0, 1).
    pub validation_fraction: f64,
    /// Iterations without a lower validation NMAE before stopping.
    pub patience: usize,
    /// Refit on all the data for the best number of iterations (else keep the early-stopped
    /// model).
    pub refit: bool,
}

impl Default for Stopping {
    fn default() -> Self {
        Stopping {
            early_stopping: true,
            validation_fraction: DEFAULT_VALIDATION_FRACTION,
            patience: DEFAULT_PATIENCE,
            refit: true,
        }
    }
}

/// Fits `params` on `data` as `cnmf fit` does (early stopping and refit by `stopping`), with
/// `observer` told every iteration of every fit (it may stop them); returns the model and the
/// seconds of fitting. The error is the message to show.
pub fn fit(
    params: &ValidNmfParams,
    stopping: &Stopping,
    data: &Ratings,
    observer: &mut dyn Observer,
) -> Result<(NmfModel, f64), String> {
    let stop = StopArgs {
        no_early_stopping: !stopping.early_stopping,
        validation_fraction: stopping.validation_fraction,
        patience: stopping.patience,
        no_refit: !stopping.refit,
    };
    stop.check().map_err(|e| e.to_string())?;
    let mut one = |p: &ValidNmfParams, d: &Ratings, v: Option<&[Triple]>, _: &str| {
        let start = Instant::now();
        let mut options = FitOptions::new().observer(&mut *observer);
        if let Some(v) = v {
            options = options.validation(v);
        }
        let model = p.fit_with(d, options).map_err(CliError::from_engine)?;
        Ok((model, start.elapsed().as_secs_f64()))
    };
    let outcome =
        fit_stopped(params, &stop, data, &mut one, &mut |_| {}).map_err(|e| e.to_string())?;
    Ok((outcome.model, outcome.secs))
}

/// Bundles a model fitted on `data` into the model file `cnmf fit` would write
/// ([`ModelFile::from_fit`]); `source` names where the data came from.
pub fn model_file(model: NmfModel, data: &Ratings, source: &str, fit_seconds: f64) -> ModelFile {
    let training = TrainingInfo {
        source: source.to_string(),
        format: "memory".to_string(),
        n_ratings: data.nnz(),
        fit_seconds,
        cnmf_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    ModelFile::from_fit(model, data, training)
}

/// Writes `mf` to `path` in `format`, atomically; returns the number of bytes written.
pub fn write_model(mf: &ModelFile, path: &Path, format: ModelFormat) -> io::Result<u64> {
    let bytes = mf
        .to_bytes(format)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file name", path.display()),
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| bytes.len() as u64)
}

/// Reads and checks a model file of either format version, everything included (the rated
/// pattern too). A missing or unreadable file is an [`io::Error`] of its kind; a file that is
/// not a valid model is [`io::ErrorKind::InvalidData`]; the message names the file.
pub fn read_model(path: &Path) -> io::Result<ModelFile> {
    let bytes = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    ModelFile::from_bytes_for(&bytes, Need::All).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}
