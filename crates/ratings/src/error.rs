//! Errors of the ratings crate. Anything that comes from data is a `RatingsError`.

use std::path::PathBuf;

/// Where in an input a problem is: the file (or a stand-in such as `<memory>`) and the 1-based
/// line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, or a stand-in name for in-memory input.
    pub path: PathBuf,
    /// 1-based line number; 0 when the problem is about the whole input.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path.display())
        } else {
            write!(f, "{}:{}", self.path.display(), self.line)
        }
    }
}

/// Everything that can go wrong building, loading or splitting ratings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RatingsError {
    /// A rating scale whose bounds are not finite with `min < max`.
    #[error("invalid rating scale [{min}, {max}]: bounds must be finite with min < max")]
    InvalidScale {
        /// Lower bound given.
        min: f64,
        /// Upper bound given.
        max: f64,
    },
    /// A line of an input file could not be used.
    #[error("{at}: {problem}")]
    Parse {
        /// File and line.
        at: Location,
        /// What is wrong with the line, in words.
        problem: String,
    },
    /// A rating is not a finite number or lies outside the declared scale.
    #[error("{at}: rating {value} is outside the rating scale [{min}, {max}]")]
    OutOfScale {
        /// File and line.
        at: Location,
        /// The offending rating.
        value: f64,
        /// Scale lower bound.
        min: f64,
        /// Scale upper bound.
        max: f64,
    },
    /// The same (user, item) pair is rated twice under [`DuplicatePolicy::Error`](crate::DuplicatePolicy::Error).
    #[error("{at}: duplicate rating of item {item:?} by user {user:?} (first seen on line {first_line}); choose a duplicate policy (keep-last or mean) to accept duplicates")]
    Duplicate {
        /// File and line of the second rating.
        at: Location,
        /// External user id.
        user: String,
        /// External item id.
        item: String,
        /// Line of the first rating of the pair (0 when unknown).
        first_line: usize,
    },
    /// The input holds no rating at all.
    #[error("{at}: no ratings found (empty input)")]
    Empty {
        /// The input.
        at: Location,
    },
    /// An I/O failure reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An index-based input refers to a user or item outside the declared shape.
    #[error(
        "entry {position}: (user {user}, item {item}) is outside the {n_users} x {n_items} shape"
    )]
    IndexOutOfRange {
        /// Position of the entry in the input.
        position: usize,
        /// Dense user index.
        user: u32,
        /// Dense item index.
        item: u32,
        /// Number of users.
        n_users: usize,
        /// Number of items.
        n_items: usize,
    },
    /// A parameter (of a split, generator, ...) is invalid; says which and why.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// No data set could be found or fetched; the message says where to put the files.
    #[error("{0}")]
    DataNotFound(String),
    /// A download failed or its checksum did not match.
    #[error("download of {url} failed: {reason}")]
    Download {
        /// What was fetched.
        url: String,
        /// Why it failed.
        reason: String,
    },
}
