//! Which data set the run uses: `--data`, else discovery (CNMF_DATA, then ./data; ML-1M
//! preferred), else the ML-1M-shaped synthetic set, said loudly.

use std::path::Path;

use anyhow::{Context, Result};
use cnmf_ratings::discover::{self, DataSetKind};
use cnmf_ratings::synthetic::SyntheticParams;
use cnmf_ratings::{LoadOptions, Ratings, RatingsError};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Seed of the synthetic data set: fixed, so that the data do not change with `--seed`.
pub const SYNTHETIC_SEED: u64 = 1;

/// What the report says about the data.
#[derive(Debug, Clone, Serialize)]
pub struct DataInfo {
    /// `ml-1m`, `ml-100k`, `other` or `synthetic-ml-1m-shape`.
    pub name: String,
    /// The ratings file, when read from disk.
    pub path: Option<String>,
    /// SHA-256 of the ratings file (synthetic data: of its `user\titem\trating\n` listing).
    pub sha256: String,
    /// Number of users.
    pub n_users: usize,
    /// Number of items.
    pub n_items: usize,
    /// Number of ratings.
    pub n_ratings: usize,
    /// Mean rating.
    pub mean_rating: f64,
    /// Whether the data are synthetic (figures not comparable with the paper's).
    pub synthetic: bool,
    /// How the data were found.
    pub origin: String,
}

/// The loaded data and what to say about them.
#[derive(Debug)]
pub struct DataSet {
    /// Description.
    pub info: DataInfo,
    /// The ratings.
    pub ratings: Ratings,
}

/// Finds and loads the data set (see the module docs). An explicit `--data` that cannot be
/// read is an error; only an absent data set (no --data, nothing discovered) falls back to
/// synthetic data, and the returned info says so.
pub fn load(explicit: Option<&Path>) -> Result<DataSet> {
    let found = match discover::discover(explicit) {
        Ok(source) => source,
        Err(RatingsError::DataNotFound(why)) if explicit.is_none() => {
            return Ok(synthetic(&why));
        }
        Err(e) => {
            return Err(e).with_context(|| match explicit {
                Some(p) => format!("cannot use --data {}", p.display()),
                None => "data discovery failed".to_string(),
            })
        }
    };
    let ratings = found
        .load(&LoadOptions::default())
        .with_context(|| format!("cannot load {}", found.path.display()))?;
    let origin = match explicit {
        Some(p) => format!("--data {}", p.display()),
        None => match std::env::var_os(discover::ENV_VAR) {
            Some(d) => format!(
                "discovered in {}={}",
                discover::ENV_VAR,
                Path::new(&d).display()
            ),
            None => format!("discovered in ./{}", discover::DEFAULT_DIR),
        },
    };
    let name = match found.kind {
        DataSetKind::Other => "other".to_string(),
        k => k.name().to_string(),
    };
    Ok(DataSet {
        info: DataInfo {
            name,
            path: Some(found.path.display().to_string()),
            sha256: found.sha256.clone(),
            n_users: ratings.n_users(),
            n_items: ratings.n_items(),
            n_ratings: ratings.nnz(),
            mean_rating: ratings.mean(),
            synthetic: false,
            origin,
        },
        ratings,
    })
}

/// The ML-1M-shaped synthetic set, used when no data set is found.
fn synthetic(why: &str) -> DataSet {
    let ratings = SyntheticParams::ml1m()
        .seed(SYNTHETIC_SEED)
        .check()
        .expect("the ML-1M preset is valid")
        .generate();
    DataSet {
        info: DataInfo {
            name: "synthetic-ml-1m-shape".to_string(),
            path: None,
            sha256: listing_sha256(&ratings),
            n_users: ratings.n_users(),
            n_items: ratings.n_items(),
            n_ratings: ratings.nnz(),
            mean_rating: ratings.mean(),
            synthetic: true,
            origin: format!(
                "{why}; so generated with \
                 cnmf_ratings::synthetic::SyntheticParams::ml1m().seed({SYNTHETIC_SEED})"
            ),
        },
        ratings,
    }
}

/// SHA-256 of the ratings listed as `user\titem\trating\n` in CSR order (dense indices).
fn listing_sha256(r: &Ratings) -> String {
    let mut h = Sha256::new();
    let mut line = String::new();
    for t in r.iter() {
        use std::fmt::Write;
        line.clear();
        let _ = writeln!(line, "{}\t{}\t{}", t.user, t.item, t.value);
        h.update(line.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
