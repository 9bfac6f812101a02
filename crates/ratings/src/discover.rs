//! Finding the MovieLens data on disk, and fetching it when it is not there.
//!
//! # Where data is looked for
//!
//! 1. An explicit path (the CLI's `--data PATH`) wins: a ratings file, or a directory holding
//!    `ml-1m/ratings.dat`, `ml-100k/u.data`, or `ratings.dat` / `u.data` itself. Nothing else is
//!    tried when it fails.
//! 2. Otherwise, when the environment variable [`ENV_VAR`] (`CNMF_DATA`) is set, the directory
//!    it names (and only it).
//! 3. Otherwise [`DEFAULT_DIR`] (`./data`).
//!
//! In a directory, MovieLens 1M is preferred over 100K. The answer is a [`DataSource`]: which
//! data set, the ratings file, its format and its SHA-256 (so a report can say exactly which
//! bytes were used).
//!
//! # Download (feature `download`)
//!
//! With the crate's `download` feature (off by default; the `xtask` experiment runner turns it
//! on), `download` fetches the official GroupLens zip ([`ML_1M`], [`ML_100K`]), reporting progress
//! through a callback (this library never prints), checks its size and SHA-256 against pinned
//! values, and unzips it into the data directory. Every file is first written under a temporary
//! name in the same directory and renamed into place only once complete and verified, so an
//! interrupted download never leaves a half data set behind.
//!
//! The pinned SHA-256 digests are not published by GroupLens (which publishes MD5 sums); they
//! are those recorded by TensorFlow Datasets for the same URLs
//! (`tensorflow_datasets/url_checksums/movielens.txt`: ml-1m.zip 5,917,549 bytes, ml-100k.zip
//! 4,924,029 bytes). A mismatch is an error that says so; nothing unverified is unpacked.
//!
//! Without the feature the crate has no HTTP client, TLS or zip dependency; everything above
//! the download (discovery, [`DataSource`], [`Release`], the URLs and digests) is still here.

use std::fs::File;
use std::io::Read;
#[cfg(feature = "download")]
use std::io::Write;
use std::path::{Path, PathBuf};
#[cfg(feature = "download")]
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{load, Format, LoadOptions, Ratings, RatingsError};

/// The environment variable naming the data directory.
pub const ENV_VAR: &str = "CNMF_DATA";

/// The data directory used when neither an explicit path nor [`ENV_VAR`] is given.
pub const DEFAULT_DIR: &str = "data";

/// Which data set a ratings file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataSetKind {
    /// MovieLens 1M (`ml-1m/ratings.dat`).
    MovieLens1M,
    /// MovieLens 100K (`ml-100k/u.data`).
    MovieLens100K,
    /// Any other ratings file given explicitly.
    Other,
}

impl DataSetKind {
    /// A short name for reports: `ml-1m`, `ml-100k` or `other`.
    pub fn name(self) -> &'static str {
        match self {
            DataSetKind::MovieLens1M => "ml-1m",
            DataSetKind::MovieLens100K => "ml-100k",
            DataSetKind::Other => "other",
        }
    }
}

impl std::fmt::Display for DataSetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A ratings file that was found: what it is, where, in which format, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    /// Which data set.
    pub kind: DataSetKind,
    /// The ratings file.
    pub path: PathBuf,
    /// Its format (never [`Format::Auto`]).
    pub format: Format,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

impl DataSource {
    /// Loads the ratings with `opts`, using the format found here.
    pub fn load(&self, opts: &LoadOptions) -> Result<Ratings, RatingsError> {
        load(&self.path, &opts.format(self.format))
    }
}

/// An official GroupLens release: where to fetch it and what it must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// Which data set it is.
    pub kind: DataSetKind,
    /// The official URL of the zip.
    pub url: &'static str,
    /// The zip's size in bytes.
    pub zip_size: u64,
    /// The zip's SHA-256, lowercase hex.
    pub zip_sha256: &'static str,
    /// The directory the zip unpacks to (`ml-1m`).
    pub dir: &'static str,
    /// The ratings file inside that directory (`ratings.dat`).
    pub ratings_file: &'static str,
    /// The ratings file's format.
    pub format: Format,
}

#[cfg(feature = "download")]
impl Release {
    /// The digest and size to check a download of this release against.
    pub fn expected(&self) -> Expected {
        Expected {
            size: Some(self.zip_size),
            sha256: Some(self.zip_sha256.to_string()),
        }
    }
}

/// MovieLens 1M: 6040 users, 3706 rated movies, 1,000,209 ratings.
pub const ML_1M: Release = Release {
    kind: DataSetKind::MovieLens1M,
    url: "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    zip_size: 5_917_549,
    zip_sha256: "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    dir: "ml-1m",
    ratings_file: "ratings.dat",
    format: Format::MovieLens,
};

/// MovieLens 100K: 943 users, 1682 movies, 100,000 ratings.
pub const ML_100K: Release = Release {
    kind: DataSetKind::MovieLens100K,
    url: "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    zip_size: 4_924_029,
    zip_sha256: "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
    dir: "ml-100k",
    ratings_file: "u.data",
    format: Format::Ml100k,
};

/// The releases in order of preference.
pub const RELEASES: [Release; 2] = [ML_1M, ML_100K];

/// What a download must match; `None` fields are not checked.
#[cfg(feature = "download")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Size in bytes.
    pub size: Option<u64>,
    /// SHA-256, hex (either case).
    pub sha256: Option<String>,
}

/// Download progress, reported after every block received.
#[cfg(feature = "download")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes received so far.
    pub downloaded: u64,
    /// Total bytes, when the server announced it.
    pub total: Option<u64>,
}

/// The data directory: the one [`ENV_VAR`] names, else [`DEFAULT_DIR`] (where discovery
/// looks, and where a download goes unless told otherwise).
pub fn data_dir() -> PathBuf {
    std::env::var_os(ENV_VAR).map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}

/// Finds the data: `explicit` path, else the `CNMF_DATA` directory, else `./data` (see the
/// [module docs](self)).
pub fn discover(explicit: Option<&Path>) -> Result<DataSource, RatingsError> {
    let env = std::env::var_os(ENV_VAR).map(PathBuf::from);
    discover_in(explicit, env.as_deref(), Path::new(DEFAULT_DIR))
}

/// [`discover`] with the environment and default directory given (for tests and embedding).
pub fn discover_in(
    explicit: Option<&Path>,
    env_dir: Option<&Path>,
    default_dir: &Path,
) -> Result<DataSource, RatingsError> {
    let found = locate_in(explicit, env_dir, default_dir)?;
    source(found.kind, found.path, found.format)
}

/// A ratings file [`locate`] found: what it is, where and in which format (no hash: reading a
/// large file just to hash it is left to [`discover`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Which data set.
    pub kind: DataSetKind,
    /// The ratings file.
    pub path: PathBuf,
    /// Its format (never [`Format::Auto`]).
    pub format: Format,
}

/// Finds the ratings file as [`discover`] does, without hashing it (for tools that only load
/// it, like the `cnmf` command line).
pub fn locate(explicit: Option<&Path>) -> Result<Located, RatingsError> {
    let env = std::env::var_os(ENV_VAR).map(PathBuf::from);
    locate_in(explicit, env.as_deref(), Path::new(DEFAULT_DIR))
}

/// [`locate`] with the environment and default directory given.
pub fn locate_in(
    explicit: Option<&Path>,
    env_dir: Option<&Path>,
    default_dir: &Path,
) -> Result<Located, RatingsError> {
    if let Some(path) = explicit {
        return from_explicit(path);
    }
    let (dir, origin) = match env_dir {
        Some(d) => (d, format!("the directory named by {ENV_VAR}")),
        None => (
            default_dir,
            format!("the default directory ({ENV_VAR} is not set)"),
        ),
    };
    match find_in_dir(dir) {
        Some((release, path)) => Ok(located(release.kind, path, release.format)),
        None => Err(RatingsError::DataNotFound(not_found_message(dir, &origin))),
    }
}

/// The preferred release found in `dir` (`dir/ml-1m/ratings.dat`, then `dir/ml-100k/u.data`)
/// and its ratings file.
pub fn find_in_dir(dir: &Path) -> Option<(Release, PathBuf)> {
    RELEASES.iter().find_map(|r| {
        let p = dir.join(r.dir).join(r.ratings_file);
        p.is_file().then_some((*r, p))
    })
}

/// `$CNMF_DATA/ml-100k/u.data`, for tests and benchmarks that were asked to run on MovieLens
/// 100K (the workspace's `#[ignore]`d tests, run with `cargo test -- --ignored`).
///
/// # Panics
///
/// When [`ENV_VAR`] is not set, or is set but the file is not there: asking for a MovieLens run
/// without the data is a mistake to report, not a reason to skip. The message names the path
/// and what to do.
pub fn require_ml100k() -> PathBuf {
    let Some(dir) = std::env::var_os(ENV_VAR) else {
        panic!(
            "this test needs MovieLens 100K: set {ENV_VAR} to the directory holding ml-100k/u.data \
             (download {} and unzip it there)",
            ML_100K.url
        );
    };
    let path = PathBuf::from(dir)
        .join(ML_100K.dir)
        .join(ML_100K.ratings_file);
    assert!(
        path.is_file(),
        "{ENV_VAR} is set but {} does not exist: point {ENV_VAR} at the directory holding \
         ml-100k/ (download {} and unzip it there)",
        path.display(),
        ML_100K.url
    );
    path
}

fn located(kind: DataSetKind, path: PathBuf, format: Format) -> Located {
    Located { kind, path, format }
}

fn from_explicit(path: &Path) -> Result<Located, RatingsError> {
    if path.is_file() {
        let format = Format::Auto.detect(path)?;
        let kind = RELEASES
            .iter()
            .find(|r| {
                path.file_name().is_some_and(|n| n == r.ratings_file)
                    && path
                        .parent()
                        .and_then(Path::file_name)
                        .is_some_and(|d| d == r.dir)
            })
            .map_or(DataSetKind::Other, |r| r.kind);
        return Ok(located(kind, path.to_path_buf(), format));
    }
    if path.is_dir() {
        if let Some((release, p)) = find_in_dir(path) {
            return Ok(located(release.kind, p, release.format));
        }
        // The directory may be `ml-1m/` or `ml-100k/` itself.
        for r in RELEASES {
            let p = path.join(r.ratings_file);
            if p.is_file() {
                let named = path.file_name().is_some_and(|d| d == r.dir);
                let kind = if named { r.kind } else { DataSetKind::Other };
                return Ok(located(kind, p, r.format));
            }
        }
        return Err(RatingsError::DataNotFound(not_found_message(
            path,
            "the --data directory",
        )));
    }
    Err(RatingsError::DataNotFound(format!(
        "the data path {} does not exist; {}",
        path.display(),
        where_to_put(Path::new(DEFAULT_DIR))
    )))
}

fn source(kind: DataSetKind, path: PathBuf, format: Format) -> Result<DataSource, RatingsError> {
    let sha256 = sha256_file(&path)?;
    Ok(DataSource {
        kind,
        path,
        format,
        sha256,
    })
}

fn not_found_message(dir: &Path, origin: &str) -> String {
    let looked: Vec<String> = RELEASES
        .iter()
        .map(|r| dir.join(r.dir).join(r.ratings_file).display().to_string())
        .collect();
    format!(
        "no MovieLens ratings found in {} ({origin}): looked for {}. {}",
        dir.display(),
        looked.join(" and "),
        where_to_put(dir)
    )
}

/// Plain instructions naming the paths and URLs.
fn where_to_put(dir: &Path) -> String {
    format!(
        "To use MovieLens, download {} (preferred) or {} and unzip it into {} so that {} or {} exists; \
         or set {ENV_VAR} to a directory holding ml-1m/ or ml-100k/; or pass --data PATH to a ratings file",
        ML_1M.url,
        ML_100K.url,
        dir.display(),
        dir.join(ML_1M.dir).join(ML_1M.ratings_file).display(),
        dir.join(ML_100K.dir).join(ML_100K.ratings_file).display(),
    )
}

/// SHA-256 of a file, lowercase hex, read in blocks.
pub fn sha256_file(path: &Path) -> Result<String, RatingsError> {
    let io = |e| RatingsError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads an official release into `data_dir` (created if missing), verifying its pinned
/// size and SHA-256, and returns the unpacked ratings file.
///
/// Errors: [`RatingsError::Download`] (network failure, HTTP error, size or digest mismatch,
/// a bad archive; the message says where to put the files by hand), [`RatingsError::Io`].
///
/// Needs the `download` feature.
#[cfg(feature = "download")]
pub fn download(
    release: &Release,
    data_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<DataSource, RatingsError> {
    download_from(
        release,
        release.url,
        &release.expected(),
        data_dir,
        progress,
    )
}

/// Largest total size unpacked from an archive: the official zips unpack to under 30 MB, so
/// anything near this is not MovieLens (and would be a zip bomb).
#[cfg(feature = "download")]
const MAX_UNPACKED: u64 = 1 << 30;

/// [`download`] from another URL (a mirror, or a local server in tests), checked against
/// `expected`. Needs the `download` feature.
#[cfg(feature = "download")]
pub fn download_from(
    release: &Release,
    url: &str,
    expected: &Expected,
    data_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<DataSource, RatingsError> {
    let fail = |reason: String| RatingsError::Download {
        url: url.to_string(),
        reason: format!("{reason}. {}", where_to_put(data_dir)),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| RatingsError::Io { path, source: e }
    };
    let target = data_dir.join(release.dir);
    if target.exists() {
        return Err(fail(format!(
            "{} already exists; remove it to download again",
            target.display()
        )));
    }
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;

    let zip_tmp = data_dir.join(format!(".{}.zip.part-{}", release.dir, std::process::id()));
    let fetched = fetch(url, &zip_tmp, progress)
        .map_err(|e| match e {
            Fetch::Http(reason) => fail(reason),
            Fetch::Io(e) => io(&zip_tmp)(e),
        })
        .and_then(|(size, digest)| {
            if let Some(want) = expected.size {
                if size != want {
                    return Err(fail(format!(
                        "received {size} bytes, expected {want}; the file was discarded"
                    )));
                }
            }
            if let Some(want) = &expected.sha256 {
                if !digest.eq_ignore_ascii_case(want) {
                    return Err(fail(format!(
                        "SHA-256 mismatch: expected {want}, got {digest}; the file was discarded"
                    )));
                }
            }
            Ok(())
        });
    if let Err(e) = fetched {
        let _ = std::fs::remove_file(&zip_tmp);
        return Err(e);
    }

    let unpack_dir = data_dir.join(format!(".{}.unpack-{}", release.dir, std::process::id()));
    let unpacked = unpack(&zip_tmp, &unpack_dir, release).map_err(|e| match e {
        Unpack::Bad(reason) => fail(reason),
        Unpack::Io(path, e) => io(&path)(e),
    });
    let _ = std::fs::remove_file(&zip_tmp);
    let result = unpacked
        .and_then(|()| std::fs::rename(unpack_dir.join(release.dir), &target).map_err(io(&target)));
    let _ = std::fs::remove_dir_all(&unpack_dir);
    result?;
    source(
        release.kind,
        target.join(release.ratings_file),
        release.format,
    )
}

#[cfg(feature = "download")]
enum Fetch {
    Http(String),
    Io(std::io::Error),
}

#[cfg(feature = "download")]
/// Streams `url` into `dest`, hashing on the way; returns (size, SHA-256 hex).
fn fetch(
    url: &str,
    dest: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(u64, String), Fetch> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .get(url)
        .call()
        .map_err(|e| Fetch::Http(format!("no connection ({e})")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Fetch::Http(format!(
            "the server answered HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )));
    }
    let total = response.body().content_length();
    let mut body = response.into_body().into_reader().take(MAX_UNPACKED);
    let mut out = File::create(dest).map_err(Fetch::Io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut downloaded = 0u64;
    progress(Progress { downloaded, total });
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Fetch::Http(format!("the transfer broke off ({e})"))),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Fetch::Io)?;
        downloaded += n as u64;
        progress(Progress { downloaded, total });
    }
    out.sync_all().map_err(Fetch::Io)?;
    if let Some(t) = total {
        if t != downloaded {
            return Err(Fetch::Http(format!(
                "the transfer ended after {downloaded} of {t} bytes"
            )));
        }
    }
    Ok((downloaded, hex(&hasher.finalize())))
}

#[cfg(feature = "download")]
enum Unpack {
    Bad(String),
    Io(PathBuf, std::io::Error),
}

#[cfg(feature = "download")]
/// Unpacks `zip` into `dir` (fresh), refusing entries that would land outside it, and checks
/// that `dir/<release.dir>/<release.ratings_file>` is there.
fn unpack(zip: &Path, dir: &Path, release: &Release) -> Result<(), Unpack> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| Unpack::Io(p, e)
    };
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let file = File::open(zip).map_err(io(zip))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| Unpack::Bad(format!("the download is not a readable zip archive ({e})")))?;
    let mut unpacked = 0u64;
    for k in 0..archive.len() {
        let mut entry = archive
            .by_index(k)
            .map_err(|e| Unpack::Bad(format!("zip entry {k} is unreadable ({e})")))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let Some(rel) = entry.enclosed_name() else {
            return Err(Unpack::Bad(format!(
                "zip entry {name:?} points outside the target directory"
            )));
        };
        let out_path = dir.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&out_path).map_err(io(&out_path))?;
            continue;
        }
        if let Some(parent) = out_path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut out = File::create(&out_path).map_err(io(&out_path))?;
        let budget = MAX_UNPACKED - unpacked;
        let n = std::io::copy(&mut (&mut entry).take(budget + 1), &mut out)
            .map_err(|e| Unpack::Bad(format!("zip entry {name:?} is corrupt ({e})")))?;
        unpacked += n;
        if unpacked > MAX_UNPACKED {
            return Err(Unpack::Bad(format!(
                "the archive unpacks to more than {MAX_UNPACKED} bytes; it is not MovieLens"
            )));
        }
    }
    let ratings = dir.join(release.dir).join(release.ratings_file);
    if !ratings.is_file() {
        return Err(Unpack::Bad(format!(
            "the archive does not contain {}/{}",
            release.dir, release.ratings_file
        )));
    }
    Ok(())
}
