//! The small public API of this library for other front ends (the Python package in
//! `python/`): the model file `cnmf fit` writes and `cnmf predict` reads, and the engine
//! parameters `cnmf fit` would use for one fixed-length fit (its threshold and warm-up
//! defaults), so that a model saved elsewhere is the CLI's file byte for byte in format. The
//! command line's early stopping and refit are not here (see [`fit_params`]).
//!
//! Unlike [`ModelFile::write`], [`write_model`] installs no signal handlers (a host process
//! such as Python keeps its own Ctrl-C handling); it is atomic the same way (a temporary file
//! next to the target, `fsync`, rename).

use std::io::{self, Write};
use std::path::Path;

use cnmf_engine::{lambda_from_noise_model, Algorithm, NmfModel, NmfParams, ValidNmfParams};
use cnmf_ratings::{RatingScale, Ratings};

use crate::fit_args::{DEFAULT_P, DEFAULT_SIGMA, DEFAULT_WARMUP};
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
    /// `--seed`.
    pub seed: u64,
    /// `--threads` (0: rayon's default); more than the cores is lowered to the cores, which
    /// does not change the results.
    pub threads: usize,
}

/// Checked engine parameters for ratings on `scale`, chosen as `cnmf fit --no-early-stopping
/// --l2-constant` chooses them (the command line's default early stopping, refit and per-rating
/// L2 are not part of these parameters; the Python package does not use them yet): `λ`
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
