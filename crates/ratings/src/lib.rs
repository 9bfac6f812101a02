//! Rating data for corrective-nmf: storage, loading, splits, discovery and synthetic data.
//!
//! - [`Ratings`] holds a users x items rating matrix as CSR plus a CSC index, with the id maps
//!   between external ids and dense indices ([`IdMap`], shared through `Arc`) and the
//!   [`RatingScale`]. Nothing of size users x items is ever built.
//! - [`load()`] reads MovieLens `ratings.dat`, MovieLens 100K `u.data` and CSV/TSV files,
//!   streaming; [`write()`] writes any of them back ([`load`](mod@load) module docs list what
//!   is accepted).
//! - [`titles`] reads item titles from MovieLens item files (`u.item`, `movies.dat`,
//!   `movies.csv`).
//! - [`split`] makes seeded train/test splits (random holdout, k-fold, per-user holdout).
//! - [`discover`] finds MovieLens on disk (`--data`, `CNMF_DATA`, `./data`) and, with the
//!   `download` feature, downloads the official zips, verified against pinned SHA-256 digests.
//! - [`params`] is the workspace's parameter convention ([`ParamGuard`], shared checks), and
//!   [`exit`] the exit-code table its programs (`cnmf`, `cargo xtask`) share.
//! - [`synthetic`] generates MovieLens-shaped data with a known nonnegative low-rank truth,
//!   deterministically for a seed whatever the thread count.
//!
//! Everything that comes from data returns a [`RatingsError`] naming the input, the line and
//! the problem; nothing panics on bad input and nothing is dropped silently. Randomness is
//! always `ChaCha8Rng` seeded from a `u64`, so results are the same on every machine.
//!
//! ```
//! use cnmf_ratings::{load, split, synthetic::SyntheticParams, write, Format, LoadOptions};
//!
//! // A small synthetic data set with a rank-5 truth, saved as ratings.dat and loaded back.
//! let params = SyntheticParams::new(100, 80, 3_000).rank(5).seed(1).check()?;
//! let data = params.generate();
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("ratings.dat");
//! write(&data, &path, Format::Auto)?;
//! let loaded = load(&path, &LoadOptions::default())?;
//! assert_eq!(loaded.nnz(), 3_000);
//!
//! // The paper's protocol: a seeded 90/10 split; train shares the id maps.
//! let s = split::random_holdout(&loaded, split::DEFAULT_TEST_FRACTION, 42)?;
//! assert_eq!((s.train.nnz(), s.test.len()), (2_700, 300));
//! let t = s.test[0];
//! assert_eq!(loaded.get(t.user, t.item), Some(t.value));
//! assert_eq!(s.train.get(t.user, t.item), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `download` (off by default): `discover::download` and `discover::download_from`, which
//!   fetch the official MovieLens zips over HTTPS and unpack them. It brings an HTTP client,
//!   TLS (rustls, ring) and a zip reader; without it the crate reads files already on disk only.
//!   The `xtask` experiment runner turns it on.

pub mod discover;
mod error;
pub mod exit;
mod ids;
pub mod load;
pub mod params;
mod ratings;
mod scale;
pub mod split;
pub mod synthetic;
pub mod time;
pub mod titles;
pub mod write;

pub use discover::{DataSetKind, DataSource, Located};
pub use error::{Location, RatingsError};
pub use ids::IdMap;
pub use load::{
    load, load_reader, load_reader_with_format, load_with_format, Format, LoadOptions,
    DEFAULT_MAX_LINE_BYTES,
};
pub use params::{InvalidParam, ParamGuard};
pub use ratings::{DuplicatePolicy, Ratings, RatingsBuilder, Triple};
pub use scale::RatingScale;
pub use split::{KFold, PerUser, Split};
pub use synthetic::{SyntheticParams, SyntheticTruth, ValidSyntheticParams};
pub use write::write;
