//! Errors of the tool and the exit codes they map to: the workspace's one table,
//! `cnmf_ratings::exit` (also in the README), shared with `cargo xtask`. 0 ok, 1 runtime
//! failure, 2 usage, 3 bad data, 4 bad model file, 5 unknown id; 101 is a panic (a bug, with
//! a JSON error document under `--json` too), 130/143 an interruption, 134 an abort.

use cnmf_engine::EngineError;
use cnmf_ratings::RatingsError;

/// The process exit codes of `cnmf`: the workspace's shared table.
pub use cnmf_ratings::exit::Exit;

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
