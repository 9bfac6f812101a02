//! Which data set the run uses: `--data`, else discovery (CNMF_DATA, then ./data; ML-1M
//! preferred), else a download of MovieLens 1M into that directory (unless `--no-download`),
//! else the ML-1M-shaped synthetic set, said loudly.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cnmf_ratings::discover::{self, DataSetKind};
use cnmf_ratings::synthetic::SyntheticParams;
use cnmf_ratings::{LoadOptions, Ratings, RatingsError};
use indicatif::ProgressBar;
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
/// read is an error; only an absent data set (no --data, nothing discovered, no download)
/// falls back to synthetic data, and the returned info says so and why.
pub fn load(explicit: Option<&Path>, download: bool) -> Result<DataSet> {
    let env_dir = std::env::var_os(discover::ENV_VAR).map(PathBuf::from);
    load_in(explicit, env_dir.as_deref(), download)
}

/// [`load`] with the `CNMF_DATA` directory given (`None`: unset, so `./data`).
pub fn load_in(explicit: Option<&Path>, env_dir: Option<&Path>, download: bool) -> Result<DataSet> {
    let default_dir = Path::new(discover::DEFAULT_DIR);
    let data_dir = env_dir.unwrap_or(default_dir);
    let mut downloaded_from = None;
    let found = match discover::discover_in(explicit, env_dir, default_dir) {
        Ok(source) => source,
        Err(RatingsError::DataNotFound(why)) if explicit.is_none() => {
            if !download {
                return Ok(synthetic(&format!("{why} (--no-download given)")));
            }
            match fetch_ml1m(data_dir) {
                Ok(source) => {
                    downloaded_from = Some(discover::ML_1M.url);
                    source
                }
                Err(e) => {
                    return Ok(synthetic(&format!(
                        "no MovieLens data on disk, and the download failed: {e}"
                    )))
                }
            }
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
    let origin = match (explicit, downloaded_from) {
        (_, Some(url)) => format!(
            "downloaded from {url} into {} (size and SHA-256 checked)",
            data_dir.display()
        ),
        (Some(p), None) => format!("--data {}", p.display()),
        (None, None) => match env_dir {
            Some(_) => format!("discovered in ${}", discover::ENV_VAR),
            None => format!("discovered in ./{}", discover::DEFAULT_DIR),
        },
    };
    // Under CNMF_DATA the path is written relative to it, so that a report says where the
    // file was without naming a directory of one machine.
    let path = match env_dir.and_then(|d| found.path.strip_prefix(d).ok()) {
        Some(rel) if explicit.is_none() => format!("${}/{}", discover::ENV_VAR, rel.display()),
        _ => found.path.display().to_string(),
    };
    let name = match found.kind {
        DataSetKind::Other => "other".to_string(),
        k => k.name().to_string(),
    };
    Ok(DataSet {
        info: DataInfo {
            name,
            path: Some(path),
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

/// Downloads MovieLens 1M into `dir` with a progress bar on stderr (hidden when stderr is not
/// a terminal).
fn fetch_ml1m(dir: &Path) -> Result<discover::DataSource, RatingsError> {
    let release = discover::ML_1M;
    eprintln!(
        "no MovieLens data found; downloading {} into {} (--no-download to skip)",
        release.url,
        dir.display()
    );
    let bar = ProgressBar::new(release.zip_size);
    bar.set_style(crate::progress::style(
        "download [{bar:30}] {bytes}/{total_bytes}, ETA {eta}",
    ));
    let result = discover::download(&release, dir, &mut |p| {
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.downloaded);
    });
    bar.finish_and_clear();
    result
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_data_or_download_the_synthetic_set_is_used_and_says_why() {
        let empty = tempfile::tempdir().unwrap();
        let ds = load_in(None, Some(empty.path()), false).unwrap();
        assert!(ds.info.synthetic);
        assert_eq!(ds.info.name, "synthetic-ml-1m-shape");
        assert_eq!(ds.info.n_ratings, ds.ratings.nnz());
        assert!(
            ds.info.n_ratings > 900_000,
            "ML-1M shape: {}",
            ds.info.n_ratings
        );
        let origin = &ds.info.origin;
        assert!(origin.contains("--no-download given"), "{origin}");
        assert!(
            origin.contains("ml-1m.zip"),
            "says where to get the data: {origin}"
        );
        assert!(
            origin.contains(&empty.path().join("ml-1m").display().to_string()),
            "names the paths it looked for: {origin}"
        );
    }

    #[test]
    fn data_found_in_the_data_directory_is_used_and_an_explicit_bad_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ml-100k")).unwrap();
        std::fs::write(
            dir.path().join("ml-100k/u.data"),
            "1\t1\t5\t0\n2\t1\t3\t0\n",
        )
        .unwrap();
        let ds = load_in(None, Some(dir.path()), false).unwrap();
        assert!(!ds.info.synthetic);
        assert_eq!((ds.info.name.as_str(), ds.info.n_ratings), ("ml-100k", 2));
        assert_eq!(ds.info.origin, "discovered in $CNMF_DATA");
        // Written relative to CNMF_DATA: no directory of this machine in the report.
        assert_eq!(ds.info.path.as_deref(), Some("$CNMF_DATA/ml-100k/u.data"));

        let missing = dir.path().join("nope.csv");
        let err = load_in(Some(&missing), Some(dir.path()), true).unwrap_err();
        assert!(format!("{err:#}").contains("nope.csv"), "{err:#}");
    }
}
