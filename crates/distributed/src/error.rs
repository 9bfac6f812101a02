//! The crate's error.

use thiserror::Error;

/// What can go wrong in a distributed fit.
#[derive(Debug, Error)]
pub enum DistError {
    /// Parameters the distributed fit does not run.
    #[error("not supported by the distributed fit: {0}")]
    Unsupported(String),
    /// A shard that does not fit the data set.
    #[error("bad partition: {0}")]
    Partition(String),
    /// What the engine would report (a NaN or infinity, a bad initialisation, a bad scale).
    #[error("{0}")]
    Engine(String),
    /// One or more ranks failed; every rank returns this error, naming them.
    #[error("{}", describe(.0))]
    Ranks(Vec<(usize, String)>),
}

/// `rank 1 failed: ...; rank 3 failed: ...`.
fn describe(failed: &[(usize, String)]) -> String {
    failed
        .iter()
        .map(|(r, m)| format!("rank {r} failed: {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}
