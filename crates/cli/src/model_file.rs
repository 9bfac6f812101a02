//! The model file: a fitted model plus what the commands need to use it, versioned and
//! checksummed, in one of two format versions (documented in `crates/cli/FORMAT.md`):
//!
//! * **version 2** ([`v2`], what `cnmf fit` writes by default): a
//!   [safetensors](https://github.com/huggingface/safetensors) file. The factors and the
//!   per-user, per-item and per-rating arrays are little-endian tensors that NumPy, PyTorch
//!   and the `safetensors` tools read directly; everything else is JSON in the header's
//!   `__metadata__`, with a SHA-256 of every tensor and of the JSON.
//! * **version 1** ([`v1`], `cnmf fit --model-format json`): a `CNMF-MODEL 1 sha256=..
//!   bytes=..` header line and a JSON payload.
//!
//! [`ModelFile::read_for`] tells the two apart by their first bytes (a version 2 file starts with
//! an 8-byte header length and `{`, a version 1 file with `CNMF-MODEL`), checks what the
//! format's own layer can (header, version, lengths, checksums), decodes into [`Decoded`], and
//! then runs the same cross-checks for both ([`ModelFile::from_decoded`]: shapes, indices and
//! values; finite, nonnegative factors; ids unique; rated items sorted and in range; flags
//! consistent with the rated pattern; means in the rating scale). Any failure is a
//! [`CliError::Model`] naming the file and the problem, never a panic.
//! [`ModelFile::write`] is atomic: a temporary file in the target's directory (created before
//! the fit by [`OutputFile`]), `fsync`, rename.
//!
//! A command that only scores pairs reads with [`Need::Scoring`]: from a version 2 file the
//! rated pattern (one index per training rating, most of a large file) is then skipped,
//! neither read nor checked, which keeps `cnmf predict` fast on large models.

use std::io::{self, BufReader, Cursor, Read};

use cnmf_engine::NmfModel;
use cnmf_ratings::{IdMap, RatingScale, Ratings};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};
use crate::input::{Input, Opened};
use crate::limits::{check_rank_iters, MAX_SCORE_PER_SCALE};
use crate::output::OutputFile;

mod container;
pub mod npy;
mod schema;
mod v1;
pub(crate) mod v2;

/// The format a model file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ModelFormat {
    /// Format version 2: safetensors (binary; NumPy and the `safetensors` tools read the
    /// factors directly, and `cnmf predict` loads it fast).
    #[default]
    Safetensors,
    /// Format version 1: a `CNMF-MODEL 1` header line and JSON (for older `cnmf` builds).
    Json,
}

/// What a command needs from a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Everything, the rated pattern of the training matrix included (`recommend`, `flagged`,
    /// `fold-in`).
    All,
    /// What scoring pairs needs: factors, ids, parameters, means and flags, not the rated
    /// pattern (`predict`, `export`). A version 2 file's rated pattern is skipped unread and
    /// unchecked (its size is still checked against the metadata); a version 1 file is read
    /// whole.
    Scoring,
}

/// Where the model came from; informational, for people and tools reading the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// The ratings file as given on the command line.
    pub source: String,
    /// Its format (`movielens`, `ml100k`, `csv`).
    pub format: String,
    /// Number of training ratings.
    pub n_ratings: usize,
    /// Wall-clock seconds of the fit.
    pub fit_seconds: f64,
    /// Version of the `cnmf` that wrote the file.
    pub cnmf_version: String,
}

/// A fitted model with its id maps, the per-user rated items, fallback means and the ratings of
/// the flagged entries: everything `predict`, `recommend`, `flagged` and `fold-in` need.
#[derive(Debug, Clone)]
pub struct ModelFile {
    model: NmfModel,
    users: IdMap,
    items: IdMap,
    /// The training matrix's rated pattern; `None` when loaded for scoring only.
    rated: Option<Rated>,
    user_means: Vec<f64>,
    item_means: Vec<f64>,
    corrupt_ratings: Vec<f64>,
    training: TrainingInfo,
}

impl ModelFile {
    /// Bundles a model fitted on `data` (same users, items and CSR order) with what the
    /// commands need. The fallback means are taken over the ratings the model did *not* flag
    /// as corrupt (over all of a user's or item's ratings when every one is flagged).
    ///
    /// # Panics
    /// When `model` was not fitted on `data` (shapes differ): a programmer's error.
    pub fn from_fit(model: NmfModel, data: &Ratings, training: TrainingInfo) -> ModelFile {
        let (n, m) = (data.n_users(), data.n_items());
        assert_eq!(
            (model.n_users(), model.n_items()),
            (n, m),
            "model fitted on other data"
        );
        let nnz = data.nnz();
        let mut flagged = vec![false; nnz];
        for &p in model.corrupt_positions() {
            flagged[p as usize] = true;
        }
        let mut indptr = Vec::with_capacity(n + 1);
        let mut rated = Vec::with_capacity(nnz);
        let mut corrupt_ratings = Vec::with_capacity(model.corrupt_positions().len());
        // Per user and item: (sum, count) over clean ratings, then over all ratings.
        let mut user_acc = vec![[0.0f64; 4]; n];
        let mut item_acc = vec![[0.0f64; 4]; m];
        indptr.push(0u32);
        let mut pos = 0usize;
        for u in 0..n as u32 {
            let (items, values) = data.user(u);
            for (&i, &v) in items.iter().zip(values) {
                let clean = !flagged[pos];
                if !clean {
                    corrupt_ratings.push(v);
                }
                for acc in [&mut user_acc[u as usize], &mut item_acc[i as usize]] {
                    if clean {
                        acc[0] += v;
                        acc[1] += 1.0;
                    }
                    acc[2] += v;
                    acc[3] += 1.0;
                }
                rated.push(i);
                pos += 1;
            }
            indptr.push(u32::try_from(pos).expect("more than u32::MAX ratings"));
        }
        let mean = |a: &[f64; 4]| {
            if a[1] > 0.0 {
                a[0] / a[1]
            } else if a[3] > 0.0 {
                a[2] / a[3]
            } else {
                // An item no training rating touches (possible in k-fold training sets only):
                // the global mean.
                model.mean_rating()
            }
        };
        ModelFile {
            user_means: user_acc.iter().map(mean).collect(),
            item_means: item_acc.iter().map(mean).collect(),
            users: data.users().clone(),
            items: data.items().clone(),
            rated: Some(Rated {
                indptr,
                items: rated,
                history: None,
            }),
            corrupt_ratings,
            training,
            model,
        }
    }

    /// Stores the value and timestamp of every training rating of `data` (the ratings the model
    /// was fitted on, [`from_fit`](Self::from_fit)'s), so that an item's timeline needs no
    /// training file (`cnmf fit --keep-times`). An error when `data` has no timestamps.
    ///
    /// # Panics
    /// When `data` is not the model's training data (its number of ratings differs) or the
    /// file was read with [`Need::Scoring`]: programmer's errors.
    pub fn keep_history(&mut self, data: &Ratings) -> Result<(), String> {
        let times = data
            .times()
            .ok_or("the ratings have no timestamps to keep")?
            .to_vec();
        let rated = self
            .rated
            .as_mut()
            .expect("the rated pattern is read with Need::All");
        assert_eq!(times.len(), rated.items.len(), "not the training data");
        let values = (0..data.n_users() as u32)
            .flat_map(|u| data.user(u).1.iter().copied())
            .collect();
        rated.history = Some(History { values, times });
        Ok(())
    }

    /// The value and timestamp of every training rating, in the order of the rated pattern
    /// (by user, then item), when the model stores them ([`keep_history`](Self::keep_history)).
    ///
    /// # Panics
    /// When the file was read with [`Need::Scoring`].
    pub fn history(&self) -> Option<(&[f64], &[i64])> {
        self.pattern()
            .history
            .as_ref()
            .map(|h| (&h.values[..], &h.times[..]))
    }

    /// The training ratings of item `i` as `(position, user, value, timestamp)`, by user, when
    /// the model stores the [`history`](Self::history); positions index the rated pattern
    /// (and [`NmfModel::corrupt_positions`]).
    ///
    /// # Panics
    /// When `i` is out of range or the file was read with [`Need::Scoring`].
    pub fn item_history(&self, i: u32) -> Option<Vec<(u32, u32, f64, i64)>> {
        let r = self.pattern();
        let h = r.history.as_ref()?;
        let mut out = Vec::new();
        for (u, w) in r.indptr.windows(2).enumerate() {
            let (a, b) = (w[0] as usize, w[1] as usize);
            if let Ok(j) = r.items[a..b].binary_search(&i) {
                let p = a + j;
                out.push((p as u32, u as u32, h.values[p], h.times[p]));
            }
        }
        Some(out)
    }

    /// The fitted model (dense indices are those of [`users`](Self::users) and
    /// [`items`](Self::items)).
    pub fn model(&self) -> &NmfModel {
        &self.model
    }

    /// Where the model came from (the training file as given to `cnmf fit`, ...).
    pub fn training(&self) -> &TrainingInfo {
        &self.training
    }

    /// External user ids.
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// External item ids.
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// The rated pattern.
    ///
    /// # Panics
    /// When the file was read with [`Need::Scoring`] (a programmer's error: the commands that
    /// use the pattern read with [`Need::All`]).
    fn pattern(&self) -> &Rated {
        self.rated
            .as_ref()
            .expect("the rated pattern is read with Need::All")
    }

    /// The items user `u` rated in training, ascending.
    ///
    /// # Panics
    /// When `u` is out of range, or the file was read with [`Need::Scoring`].
    pub fn rated(&self, u: u32) -> &[u32] {
        let r = self.pattern();
        let (a, b) = (
            r.indptr[u as usize] as usize,
            r.indptr[u as usize + 1] as usize,
        );
        &r.items[a..b]
    }

    /// Number of training ratings.
    pub fn n_ratings(&self) -> usize {
        self.training.n_ratings
    }

    /// Number of training ratings per item.
    ///
    /// # Panics
    /// When the file was read with [`Need::Scoring`].
    pub fn item_rating_counts(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.items.len()];
        for &i in &self.pattern().items {
            c[i as usize] += 1;
        }
        c
    }

    /// User `u`'s mean training rating over its unflagged ratings (all of them when every one
    /// is flagged).
    pub fn user_mean(&self, u: u32) -> f64 {
        self.user_means[u as usize]
    }

    /// Item `i`'s mean training rating over its unflagged ratings (all of them when every one
    /// is flagged; the global mean when it has none).
    pub fn item_mean(&self, i: u32) -> f64 {
        self.item_means[i as usize]
    }

    /// The item factors as a `k x items` matrix, row-major: the orientation of the files
    /// (`W @ H` is the users x items matrix of raw scores); the engine keeps H item-major.
    pub fn h_k_by_items(&self) -> Vec<f64> {
        let f = self.model.factors();
        v2::transpose(f.h(), f.n_items(), f.rank())
    }

    /// The training ratings of the flagged entries, parallel to
    /// [`NmfModel::corrupt_entries`].
    pub fn corrupt_ratings(&self) -> &[f64] {
        &self.corrupt_ratings
    }

    /// Serialises to `format`'s bytes.
    pub fn to_bytes(&self, format: ModelFormat) -> CliResult<Vec<u8>> {
        match format {
            ModelFormat::Safetensors => v2::to_bytes(self),
            ModelFormat::Json => v1::to_bytes(self),
        }
        .map_err(CliError::runtime)
    }

    /// Writes the model in `format` through `out` (atomically: the temporary file created
    /// before the fit, `fsync`, rename) and returns the number of bytes written. An existing
    /// file is replaced only once the new one is complete.
    pub fn write(&self, out: OutputFile, format: ModelFormat) -> CliResult<u64> {
        let bytes = self.to_bytes(format)?;
        let target = out.target().display().to_string();
        out.commit(&bytes)
            .map_err(|e| CliError::runtime(format!("{target}: cannot write the model: {e}")))?;
        Ok(bytes.len() as u64)
    }

    /// Reads and checks what `need` asks for of a model file of either version (see the
    /// [module docs](self)). The input is read once, from the start; only a few bytes are
    /// read before the format is known.
    pub fn read_for(input: &Input, need: Need) -> CliResult<ModelFile> {
        let name = input.name();
        let fail = |why: String| CliError::Model(format!("{}: {why}", name.display()));
        let opened = input.open_file_or_stream().map_err(|e| {
            fail(if e.kind() == io::ErrorKind::NotFound {
                "model file not found".to_string()
            } else {
                format!("cannot read the model file: {e}")
            })
        })?;
        let unreadable = |e: io::Error| fail(format!("cannot read the model file: {e}"));
        let decoded = match opened {
            Opened::File(f) => {
                let len = f.metadata().map_err(unreadable)?.len();
                let mut reader = BufReader::with_capacity(1 << 16, f);
                let prefix = read_prefix(&mut reader).map_err(unreadable)?;
                if v2::detect(&prefix) {
                    v2::read(&prefix, v2::Source::Seekable(&mut reader, len), need)
                } else {
                    v1::read(Cursor::new(prefix).chain(reader))
                }
            }
            Opened::Stream(s) => {
                let mut reader = BufReader::with_capacity(1 << 16, s);
                let prefix = read_prefix(&mut reader).map_err(unreadable)?;
                if v2::detect(&prefix) {
                    v2::read(&prefix, v2::Source::Stream(&mut reader), need)
                } else {
                    v1::read(Cursor::new(prefix).chain(reader))
                }
            }
        };
        decoded.and_then(ModelFile::from_decoded).map_err(fail)
    }

    /// [`read_for`](Self::read_for), keeping the model until the process ends. A command
    /// reads one model and exits; freeing a large model (hundreds of thousands of ids, tens
    /// of megabytes of factors) would cost about as much as reading it: half of
    /// `cnmf predict`'s time on a 25M-rating model.
    pub fn read_for_process(input: &Input, need: Need) -> CliResult<&'static ModelFile> {
        Ok(Box::leak(Box::new(ModelFile::read_for(input, need)?)))
    }

    /// Decodes and checks the bytes of a whole model file of either version; the error says
    /// what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelFile, String> {
        ModelFile::from_bytes_for(bytes, Need::All)
    }

    /// [`from_bytes`](Self::from_bytes) for what `need` asks for.
    pub fn from_bytes_for(bytes: &[u8], need: Need) -> Result<ModelFile, String> {
        let prefix = &bytes[..bytes.len().min(v2::PREFIX)];
        let decoded = if v2::detect(prefix) {
            let mut cursor = Cursor::new(bytes);
            cursor.set_position(prefix.len() as u64);
            v2::read(
                prefix,
                v2::Source::Seekable(&mut cursor, bytes.len() as u64),
                need,
            )
        } else {
            v1::from_bytes(bytes)
        }?;
        ModelFile::from_decoded(decoded)
    }

    /// Cross-checks decoded parts (either version) and builds the engine's model from them;
    /// the error starts with `inconsistent model: `.
    fn from_decoded(d: Decoded) -> Result<ModelFile, String> {
        let scale = validate(&d).map_err(|e| format!("inconsistent model: {e}"))?;
        Ok(ModelFile {
            model: d
                .model
                .into_engine(scale)
                .map_err(|e| format!("inconsistent model: {e}"))?,
            users: d.users,
            items: d.items,
            rated: d.rated,
            user_means: d.user_means,
            item_means: d.item_means,
            corrupt_ratings: d.corrupt_ratings,
            training: d.training,
        })
    }
}

/// Reads the first [`v2::PREFIX`] bytes (fewer at the end of the input), enough to tell the
/// versions apart.
fn read_prefix(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(v2::PREFIX);
    reader.take(v2::PREFIX as u64).read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// The training matrix's sparsity pattern: CSR offsets (`n_users + 1`) and, per user, the
/// rated item indices, ascending.
#[derive(Debug, Clone)]
struct Rated {
    indptr: Vec<u32>,
    items: Vec<u32>,
    /// The ratings' values and timestamps, parallel to `items` (`cnmf fit --keep-times`).
    history: Option<History>,
}

/// The value and timestamp (seconds since the Unix epoch) of every training rating, in the
/// rated pattern's order.
#[derive(Debug, Clone)]
struct History {
    values: Vec<f64>,
    times: Vec<i64>,
}

/// A model file's contents as either version decodes them, before the cross-checks of
/// [`validate`].
struct Decoded {
    training: TrainingInfo,
    users: IdMap,
    items: IdMap,
    /// `None` when the file was read with [`Need::Scoring`] and the format could skip it.
    rated: Option<Rated>,
    /// The number of rated entries the file stores (known even when they were skipped).
    n_stored: usize,
    user_means: Vec<f64>,
    item_means: Vec<f64>,
    corrupt_ratings: Vec<f64>,
    /// The model's fields, factors and parameters already checked by the engine's types.
    model: schema::Model,
}

/// Cross-checks decoded parts (the factors and parameters themselves were checked when
/// decoded) and returns their rating scale.
fn validate(d: &Decoded) -> Result<RatingScale, String> {
    let model = &d.model;
    let factors = &model.factors.0;
    let (n, m) = (factors.n_users(), factors.n_items());
    if d.users.len() != n {
        return Err(format!("{} user ids for {n} factor rows", d.users.len()));
    }
    if d.items.len() != m {
        return Err(format!("{} item ids for {m} factor columns", d.items.len()));
    }
    if factors.rank() != model.params.0.rank() {
        return Err(format!(
            "factors of rank {} but parameters of rank {}",
            factors.rank(),
            model.params.0.rank()
        ));
    }
    if n == 0 || m == 0 {
        return Err(format!("factors for {n} users and {m} items"));
    }
    let params = &model.params.0;
    check_rank_iters(params.rank(), params.max_iters())?;
    let (min, max) = (model.scale.min, model.scale.max);
    // `RatingScale::new` checks finite and min < max; NMF also needs min >= 0.
    let scale = RatingScale::new(min, max)
        .ok()
        .filter(|_| 0.0 <= min)
        .ok_or_else(|| format!("rating scale [{min}, {max}] is invalid"))?;
    // Every raw score (W H)_ui is at most k max(W) max(H): bounded, so scores are finite.
    let top = |v: &[f64]| v.iter().fold(0.0f64, |a, &b| a.max(b));
    let bound = factors.rank() as f64 * top(factors.w()) * top(factors.h());
    let limit = MAX_SCORE_PER_SCALE * max.max(1.0);
    if !bound.is_finite() || bound > limit {
        return Err(format!(
            "factors too large: scores could reach {bound:e}, beyond {limit:e} for a scale up to {max}"
        ));
    }
    if !scale.contains(model.mean_rating) {
        return Err(format!(
            "mean rating {} is outside the scale",
            model.mean_rating
        ));
    }
    if let Some(rated) = &d.rated {
        if rated.indptr.len() != n + 1 {
            return Err(format!(
                "{} rated-item offsets for {n} users (expected {})",
                rated.indptr.len(),
                n + 1
            ));
        }
        if let Some(h) = &rated.history {
            check_history(h, d, scale)?;
        }
    }
    let nnz = d.n_stored;
    if d.training.n_ratings != nnz {
        return Err(format!(
            "{} training ratings recorded but {nnz} rated items stored",
            d.training.n_ratings
        ));
    }
    for (what, means, len) in [("user", &d.user_means, n), ("item", &d.item_means, m)] {
        if means.len() != len {
            return Err(format!("{} {what} means for {len} {what}s", means.len()));
        }
        if let Some(i) = means.iter().position(|&v| !scale.contains(v)) {
            return Err(format!(
                "{what} mean {i} is {}, outside the scale",
                means[i]
            ));
        }
    }
    check_flags(d, scale)?;
    Ok(scale)
}

/// Cross-checks the flags against the rated pattern: one position, entry and rating each,
/// positions ascending inside the pattern, each entry the rated pair at its position (when
/// the pattern was read), ratings in the scale.
fn check_flags(d: &Decoded, scale: RatingScale) -> Result<(), String> {
    let nnz = d.n_stored;
    let positions = &d.model.corrupt_positions;
    let entries = &d.model.corrupt_entries;
    if positions.len() != entries.len() || d.corrupt_ratings.len() != entries.len() {
        return Err(format!(
            "{} flag positions, {} flagged entries and {} flagged ratings disagree",
            positions.len(),
            entries.len(),
            d.corrupt_ratings.len()
        ));
    }
    let mut prev: Option<u32> = None;
    for ((&pos, &(u, i)), &r) in positions.iter().zip(entries).zip(&d.corrupt_ratings) {
        if prev.is_some_and(|q| q >= pos) || pos as usize >= nnz {
            return Err(format!(
                "flag position {pos} is out of order or beyond the {nnz} training ratings"
            ));
        }
        prev = Some(pos);
        if let Some(rated) = &d.rated {
            // The user whose row holds position pos (the offsets start at 0: checked when
            // the pattern was decoded).
            let row = rated.indptr.partition_point(|&o| o <= pos) - 1;
            if row != u as usize || rated.items[pos as usize] != i {
                return Err(format!(
                    "flagged entry (user {u}, item {i}) does not match training rating {pos}"
                ));
            }
        }
        if !scale.contains(r) {
            return Err(format!("flagged rating {r} is outside the scale"));
        }
    }
    Ok(())
}

/// Checks stored rating values and timestamps: one each per training rating, values in the
/// scale and equal to the flagged ratings at the flags' positions (timestamps may be any
/// instant).
fn check_history(h: &History, d: &Decoded, scale: RatingScale) -> Result<(), String> {
    let nnz = d.n_stored;
    if h.values.len() != nnz || h.times.len() != nnz {
        return Err(format!(
            "{} stored rating values and {} timestamps for {nnz} training ratings",
            h.values.len(),
            h.times.len()
        ));
    }
    if let Some(p) = h.values.iter().position(|&v| !scale.contains(v)) {
        return Err(format!(
            "stored rating {p} is {}, outside the scale",
            h.values[p]
        ));
    }
    let flags = d.model.corrupt_positions.iter().zip(&d.corrupt_ratings);
    for (&pos, &r) in flags {
        // Positions are checked against nnz after this; skip those beyond it here.
        if h.values.get(pos as usize).is_some_and(|&v| v != r) {
            return Err(format!(
                "stored rating {pos} is {}, but the flags record {r} there",
                h.values[pos as usize]
            ));
        }
    }
    Ok(())
}

/// Lowercase hexadecimal digits of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A small fitted model shared by the unit tests of both versions.
#[cfg(test)]
mod fixtures {
    use cnmf_engine::{Algorithm, NmfModel, NmfParams};
    use cnmf_ratings::{RatingScale, Ratings};

    use super::TrainingInfo;

    /// Six users, five items, one flagged rating at least.
    pub(super) fn tiny() -> (Ratings, NmfModel) {
        let mut t = Vec::new();
        let users = ["ann", "bob", "cat", "dan", "eve", "fay"];
        let items = ["up", "heat", "jaws", "alien", "big"];
        for (a, u) in users.iter().enumerate() {
            for (b, i) in items.iter().enumerate() {
                if (a + 2 * b) % 4 != 1 {
                    let r = if (a + b) % 2 == 0 { 5.0 } else { 2.0 };
                    t.push((*u, *i, if a == 5 && b == 0 { 1.0 } else { r }));
                }
            }
        }
        let data = Ratings::from_external(t, RatingScale::MOVIELENS).unwrap();
        let model = NmfParams::new(2, Algorithm::IgnoreCorrupt)
            .lambda(1.0)
            .max_iters(30)
            .seed(3)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap();
        (data, model)
    }

    /// Training information for `n` ratings.
    pub(super) fn info(n: usize) -> TrainingInfo {
        TrainingInfo {
            source: "tiny".into(),
            format: "csv".into(),
            n_ratings: n,
            fit_seconds: 0.25,
            cnmf_version: "test".into(),
        }
    }
}
