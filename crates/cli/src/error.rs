//! Errors of the tool and the exit codes they map to.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime failure (the fit diverged, a file could not be written, ...) |
//! | 2 | usage error: bad command line or invalid parameter (`--k 0`, `--lambda -1`, unknown algorithm) |
//! | 3 | bad input data: a ratings, pairs or fold-in file that cannot be read or has a bad line |
//! | 4 | bad model file: missing, truncated, damaged (checksum), foreign, or of another format version |
//! | 5 | unknown user or item id (without `--unknown mean`) |

use cnmf_engine::EngineError;
use cnmf_ratings::RatingsError;

/// The process exit codes of `cnmf` (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: a failure at run time that is not the input's fault.
    Runtime = 1,
    /// 2: a usage error (clap's own code for bad command lines).
    Usage = 2,
    /// 3: bad input data.
    Data = 3,
    /// 4: a missing, damaged or foreign model file.
    Model = 4,
    /// 5: an unknown user or item id.
    UnknownId = 5,
}

impl Exit {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A short stable name, used in `--json` error reports.
    pub fn kind(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Runtime => "runtime",
            Exit::Usage => "usage",
            Exit::Data => "bad-data",
            Exit::Model => "bad-model",
            Exit::UnknownId => "unknown-id",
        }
    }
}

/// Why a command failed. The variant decides the exit code; the message says what and where.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad command-line values (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Unreadable or malformed input data (exit 3); the message names the file and line.
    #[error("{0}")]
    Data(String),
    /// A model file that cannot be used (exit 4); the message names the file.
    #[error("{0}")]
    Model(String),
    /// A user or item id the model does not know (exit 5).
    #[error("{0}")]
    UnknownId(String),
    /// Anything else (exit 1).
    #[error("{0:#}")]
    Runtime(anyhow::Error),
}

impl CliError {
    /// The exit code this error maps to.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) => Exit::Usage,
            CliError::Data(_) => Exit::Data,
            CliError::Model(_) => Exit::Model,
            CliError::UnknownId(_) => Exit::UnknownId,
            CliError::Runtime(_) => Exit::Runtime,
        }
    }

    /// A runtime failure with a message.
    pub fn runtime(msg: impl std::fmt::Display) -> CliError {
        CliError::Runtime(anyhow::anyhow!("{msg}"))
    }

    /// Maps an engine error met while checking parameters or fitting: parameter problems are
    /// usage errors, data problems bad data, the rest (divergence, thread pool) runtime.
    pub fn from_engine(e: EngineError) -> CliError {
        match e {
            EngineError::InvalidParameter { .. } | EngineError::UnknownAlgorithm { .. } => {
                CliError::Usage(e.to_string())
            }
            EngineError::InvalidInput { .. }
            | EngineError::ShapeMismatch { .. }
            | EngineError::UnknownUser { .. }
            | EngineError::UnknownItem { .. } => CliError::Data(e.to_string()),
            other => CliError::Runtime(anyhow::Error::new(other)),
        }
    }

    /// Maps a ratings error: a bad parameter (e.g. more folds than ratings) is a usage error,
    /// everything else (I/O, parse, scale, duplicates, empty input) bad data.
    pub fn from_ratings(e: RatingsError) -> CliError {
        match e {
            RatingsError::InvalidParameter { .. } | RatingsError::InvalidScale { .. } => {
                CliError::Usage(e.to_string())
            }
            other => CliError::Data(other.to_string()),
        }
    }
}

/// Result of a command.
pub type CliResult<T> = Result<T, CliError>;
