//! The model file: a fitted model plus what the commands need to use it, versioned and
//! checksummed. The format is documented in `crates/cli/FORMAT.md`.
//!
//! In short: one ASCII header line
//!
//! ```text
//! CNMF-MODEL 1 sha256=<64 lowercase hex digits> bytes=<payload length>\n
//! ```
//!
//! followed by exactly `bytes` bytes of JSON payload (one object, laid out by the structs of
//! [`schema`], the CLI's own) whose SHA-256 is the header's. Floats are JSON numbers printed as the shortest decimal that
//! round-trips and parsed back exactly, so a loaded model predicts bit for bit what the fitted
//! one did.
//!
//! [`ModelFile::read`] checks the header, the version, the length, the checksum, then decodes
//! the payload and checks every shape, index and value (finite, nonnegative factors; ids unique;
//! rated items sorted and in range; flags consistent with the rated pattern; means in the
//! rating scale). Any failure is a [`CliError::Model`] naming the file and the problem.
//! [`ModelFile::write`] is atomic: a temporary file in the target's directory (created before
//! the fit by [`OutputFile`]), `fsync`, rename.

use std::io::{self, BufRead, BufReader, Read};

use cnmf_engine::NmfModel;
use cnmf_ratings::{IdMap, RatingScale, Ratings};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CliError, CliResult};
use crate::input::{clip, Input};
use crate::limits::{check_rank_iters, MAX_MODEL_BYTES, MAX_SCORE_PER_SCALE};
use crate::output::OutputFile;

mod schema;

use schema::{Ids, Payload, RatedPattern};

/// The first word of every model file.
pub const MAGIC: &str = "CNMF-MODEL";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Longest header line accepted (the real one is about 100 bytes).
const MAX_HEADER: usize = 256;

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
    rated_indptr: Vec<u32>,
    rated_items: Vec<u32>,
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
            rated_indptr: indptr,
            rated_items: rated,
            corrupt_ratings,
            training,
            model,
        }
    }

    /// The fitted model (dense indices are those of [`users`](Self::users) and
    /// [`items`](Self::items)).
    pub fn model(&self) -> &NmfModel {
        &self.model
    }

    /// External user ids.
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// External item ids.
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// The items user `u` rated in training, ascending.
    ///
    /// # Panics
    /// When `u` is out of range.
    pub fn rated(&self, u: u32) -> &[u32] {
        let (a, b) = (
            self.rated_indptr[u as usize] as usize,
            self.rated_indptr[u as usize + 1] as usize,
        );
        &self.rated_items[a..b]
    }

    /// Number of training ratings.
    pub fn n_ratings(&self) -> usize {
        self.rated_items.len()
    }

    /// Number of training ratings per item.
    pub fn item_rating_counts(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.items.len()];
        for &i in &self.rated_items {
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

    /// The training ratings of the flagged entries, parallel to
    /// [`NmfModel::corrupt_entries`].
    pub fn corrupt_ratings(&self) -> &[f64] {
        &self.corrupt_ratings
    }

    /// Serialises to the file format: header line plus payload.
    pub fn to_bytes(&self) -> CliResult<Vec<u8>> {
        let payload = Payload {
            training: self.training.clone(),
            users: Ids(self.users.clone()),
            items: Ids(self.items.clone()),
            rated: RatedPattern {
                indptr: self.rated_indptr.clone(),
                gaps: encode_gaps(&self.rated_indptr, &self.rated_items),
            },
            user_means: self.user_means.clone(),
            item_means: self.item_means.clone(),
            corrupt_ratings: self.corrupt_ratings.clone(),
            model: schema::Model::from_engine(&self.model),
        };
        let body = serde_json::to_vec(&payload)
            .map_err(|e| CliError::runtime(format!("cannot encode the model: {e}")))?;
        let digest = hex(&Sha256::digest(&body));
        let mut out = format!(
            "{MAGIC} {FORMAT_VERSION} sha256={digest} bytes={}\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Writes the model through `out` (atomically: the temporary file created before the
    /// fit, `fsync`, rename) and returns the number of bytes written. An existing file is
    /// replaced only once the new one is complete.
    pub fn write(&self, out: OutputFile) -> CliResult<u64> {
        let bytes = self.to_bytes()?;
        let target = out.target().display().to_string();
        out.commit(&bytes)
            .map_err(|e| CliError::runtime(format!("{target}: cannot write the model: {e}")))?;
        Ok(bytes.len() as u64)
    }

    /// Reads and checks a model file (see the [module docs](self)). The header line is read
    /// and checked first: a file that is not a model costs a few bytes, not its size; then
    /// exactly the declared payload length is read (at most [`MAX_MODEL_BYTES`]).
    pub fn read(input: &Input) -> CliResult<ModelFile> {
        let name = input.name();
        let fail = |why: String| CliError::Model(format!("{}: {why}", name.display()));
        let reader = input.open().map_err(|e| {
            fail(if e.kind() == io::ErrorKind::NotFound {
                "model file not found".to_string()
            } else {
                format!("cannot read the model file: {e}")
            })
        })?;
        let mut reader = BufReader::new(reader);
        let mut first = Vec::with_capacity(MAX_HEADER);
        (&mut reader)
            .take(MAX_HEADER as u64)
            .read_until(b'\n', &mut first)
            .map_err(|e| fail(format!("cannot read the model file: {e}")))?;
        let header = Header::parse(&first).map_err(fail)?;
        let mut body = Vec::with_capacity(header.declared.min(1 << 26));
        reader
            .take(header.declared as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| fail(format!("cannot read the model file: {e}")))?;
        ModelFile::from_body(&header, &body).map_err(fail)
    }

    /// Decodes and checks the bytes of a model file; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelFile, String> {
        let end = bytes
            .iter()
            .take(MAX_HEADER)
            .position(|&b| b == b'\n')
            .map_or(bytes.len().min(MAX_HEADER), |nl| nl + 1);
        let header = Header::parse(&bytes[..end])?;
        let body = &bytes[end..];
        if body.len() > header.declared {
            return Err(format!(
                "damaged: {} bytes follow the header, which declares {}",
                body.len(),
                header.declared
            ));
        }
        ModelFile::from_body(&header, body)
    }

    /// Checks the payload `body` (at most one byte longer than declared: the reader stops
    /// there) against the header, then decodes and checks it.
    fn from_body(header: &Header, body: &[u8]) -> Result<ModelFile, String> {
        let declared = header.declared;
        if body.len() < declared {
            return Err(format!(
                "truncated: the header declares {declared} payload bytes, the file holds {}",
                body.len()
            ));
        }
        if body.len() > declared {
            return Err(format!(
                "damaged: more than the {declared} payload bytes the header declares follow it"
            ));
        }
        let actual = hex(&Sha256::digest(body));
        if !actual.eq_ignore_ascii_case(&header.digest) {
            return Err(format!(
                "damaged: checksum mismatch (payload sha256 is {actual}, the header says {})",
                header.digest
            ));
        }
        let p: Payload = serde_json::from_slice(body)
            .map_err(|e| format!("the payload does not decode: {}", clip(&e.to_string(), 300)))?;
        let rated_items = decode_gaps(&p.rated.indptr, &p.rated.gaps, p.items.0.len())
            .map_err(|e| format!("inconsistent model: rated items: {e}"))?;
        ModelFile::from_payload(p, rated_items).map_err(|e| format!("inconsistent model: {e}"))
    }

    /// Cross-checks a decoded payload and builds the engine's model from it.
    fn from_payload(p: Payload, rated_items: Vec<u32>) -> Result<ModelFile, String> {
        let scale = validate(&p, &rated_items)?;
        Ok(ModelFile {
            model: p.model.into_engine(scale).map_err(|e| e.to_string())?,
            users: p.users.0,
            items: p.items.0,
            rated_indptr: p.rated.indptr,
            rated_items,
            user_means: p.user_means,
            item_means: p.item_means,
            corrupt_ratings: p.corrupt_ratings,
            training: p.training,
        })
    }
}

/// The header line's checksum and payload length.
struct Header {
    digest: String,
    declared: usize,
}

impl Header {
    /// Parses the first line of a file (`line`: up to [`MAX_HEADER`] bytes, with its `\n`
    /// when there is one). The magic word is checked first.
    fn parse(line: &[u8]) -> Result<Header, String> {
        let foreign = || {
            format!(
                "not a cnmf model file (it does not start with a `{MAGIC} <version> sha256=.. bytes=..` header line)"
            )
        };
        if !line.starts_with(MAGIC.as_bytes()) {
            return Err(foreign());
        }
        let Some(line) = line.strip_suffix(b"\n") else {
            return Err(format!(
                "{}; the header line is unterminated (truncated file?)",
                foreign()
            ));
        };
        let header = std::str::from_utf8(line).map_err(|_| foreign())?;
        let fields: Vec<&str> = header.split(' ').collect();
        if fields.len() != 4 || fields[0] != MAGIC {
            return Err(format!("{}; found {header:?}", foreign()));
        }
        let version: u32 = fields[1]
            .parse()
            .map_err(|_| format!("bad format version {:?} in the header", fields[1]))?;
        if version != FORMAT_VERSION {
            return Err(format!(
                "model file format version {version} is not supported: this cnmf ({}) reads version {FORMAT_VERSION} only; refit the model or use a matching cnmf",
                env!("CARGO_PKG_VERSION")
            ));
        }
        let digest = fields[2]
            .strip_prefix("sha256=")
            .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("bad checksum field {:?} in the header", fields[2]))?;
        let declared: u64 = fields[3]
            .strip_prefix("bytes=")
            .and_then(|b| b.parse().ok())
            .ok_or_else(|| format!("bad length field {:?} in the header", fields[3]))?;
        if declared > MAX_MODEL_BYTES {
            return Err(format!(
                "the header declares {declared} payload bytes, more than the {MAX_MODEL_BYTES} \
                 this cnmf reads (damaged or not a model file)"
            ));
        }
        Ok(Header {
            digest: digest.to_string(),
            declared: declared as usize,
        })
    }
}

/// Cross-checks a decoded payload (the factors and parameters themselves were checked when
/// decoded) and returns its rating scale.
fn validate(p: &Payload, rated_items: &[u32]) -> Result<RatingScale, String> {
    let model = &p.model;
    let factors = &model.factors.0;
    let (n, m) = (factors.n_users(), factors.n_items());
    if p.users.0.len() != n {
        return Err(format!("{} user ids for {n} factor rows", p.users.0.len()));
    }
    if p.items.0.len() != m {
        return Err(format!(
            "{} item ids for {m} factor columns",
            p.items.0.len()
        ));
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
    let indptr = &p.rated.indptr;
    if indptr.len() != n + 1 {
        return Err(format!(
            "{} rated-item offsets for {n} users (expected {})",
            indptr.len(),
            n + 1
        ));
    }
    let nnz = rated_items.len();
    if p.training.n_ratings != nnz {
        return Err(format!(
            "{} training ratings recorded but {nnz} rated items stored",
            p.training.n_ratings
        ));
    }
    for (what, means, len) in [("user", &p.user_means, n), ("item", &p.item_means, m)] {
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
    check_flags(p, rated_items, scale)?;
    Ok(scale)
}

/// Cross-checks the flags against the rated pattern: one position, entry and rating each,
/// positions ascending inside the pattern, each entry the rated pair at its position, ratings in
/// the scale.
fn check_flags(p: &Payload, rated_items: &[u32], scale: RatingScale) -> Result<(), String> {
    let nnz = rated_items.len();
    let indptr = &p.rated.indptr;
    let positions = &p.model.corrupt_positions;
    let entries = &p.model.corrupt_entries;
    if positions.len() != entries.len() || p.corrupt_ratings.len() != entries.len() {
        return Err(format!(
            "{} flag positions, {} flagged entries and {} flagged ratings disagree",
            positions.len(),
            entries.len(),
            p.corrupt_ratings.len()
        ));
    }
    let mut prev: Option<u32> = None;
    for ((&pos, &(u, i)), &r) in positions.iter().zip(entries).zip(&p.corrupt_ratings) {
        if prev.is_some_and(|q| q >= pos) || pos as usize >= nnz {
            return Err(format!(
                "flag position {pos} is out of order or beyond the {nnz} training ratings"
            ));
        }
        prev = Some(pos);
        // The user whose row holds position pos.
        let row = indptr.partition_point(|&o| o <= pos) - 1;
        if row != u as usize || rated_items[pos as usize] != i {
            return Err(format!(
                "flagged entry (user {u}, item {i}) does not match training rating {pos}"
            ));
        }
        if !scale.contains(r) {
            return Err(format!("flagged rating {r} is outside the scale"));
        }
    }
    Ok(())
}

/// Per row: the first item index, then the difference to the previous one.
fn encode_gaps(indptr: &[u32], items: &[u32]) -> Vec<u32> {
    let mut gaps = Vec::with_capacity(items.len());
    for w in indptr.windows(2) {
        let row = &items[w[0] as usize..w[1] as usize];
        let mut prev = None;
        for &i in row {
            gaps.push(match prev {
                None => i,
                Some(p) => i - p,
            });
            prev = Some(i);
        }
    }
    gaps
}

/// Inverse of [`encode_gaps`], checking offsets, strict order and range.
fn decode_gaps(indptr: &[u32], gaps: &[u32], n_items: usize) -> Result<Vec<u32>, String> {
    if indptr.first() != Some(&0) {
        return Err("offsets do not start at 0".into());
    }
    if indptr.last().map(|&l| l as usize) != Some(gaps.len()) {
        return Err(format!(
            "offsets end at {:?} but {} items are stored",
            indptr.last(),
            gaps.len()
        ));
    }
    let mut items = Vec::with_capacity(gaps.len());
    for (u, w) in indptr.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(format!("offsets decrease at user {u}"));
        }
        if w[1] as usize > gaps.len() {
            return Err(format!(
                "offset {} of user {u} is beyond the {} stored items",
                w[1],
                gaps.len()
            ));
        }
        let mut prev: Option<u32> = None;
        for &g in &gaps[w[0] as usize..w[1] as usize] {
            let i = match prev {
                None => Some(g),
                Some(_) if g == 0 => None,
                Some(p) => p.checked_add(g),
            };
            match i {
                Some(i) if (i as usize) < n_items => {
                    items.push(i);
                    prev = Some(i);
                }
                _ => {
                    return Err(format!(
                        "user {u}: items repeat or run past the {n_items} items"
                    ))
                }
            }
        }
    }
    Ok(items)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnmf_engine::{Algorithm, NmfParams};
    use cnmf_ratings::RatingScale;

    fn tiny() -> (Ratings, NmfModel) {
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

    /// The bytes of the model file of [`tiny`].
    fn tiny_file() -> Vec<u8> {
        let (data, model) = tiny();
        ModelFile::from_fit(model, &data, info(data.nnz()))
            .to_bytes()
            .unwrap()
    }

    fn info(n: usize) -> TrainingInfo {
        TrainingInfo {
            source: "tiny".into(),
            format: "csv".into(),
            n_ratings: n,
            fit_seconds: 0.25,
            cnmf_version: "test".into(),
        }
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let (data, model) = tiny();
        assert!(
            !model.corrupt_entries().is_empty(),
            "fixture should flag something"
        );
        let mf = ModelFile::from_fit(model.clone(), &data, info(data.nnz()));
        let bytes = mf.to_bytes().unwrap();
        let back = ModelFile::from_bytes(&bytes).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(back.model().factors().w()), bits(model.factors().w()));
        assert_eq!(bits(back.model().factors().h()), bits(model.factors().h()));
        assert_eq!(back.model(), &model);
        assert_eq!(back.users(), data.users());
        for u in 0..data.n_users() as u32 {
            assert_eq!(back.rated(u), data.user(u).0);
        }
        assert_eq!(back.corrupt_ratings(), mf.corrupt_ratings());
        // Written again, the bytes are the same: the encoding is deterministic.
        assert_eq!(back.to_bytes().unwrap(), bytes);
    }

    /// Files written before the model file had its own schema (commit 0fbe530) load, and are
    /// written back byte for byte.
    #[test]
    fn v1_files_load_and_are_written_back_identically() {
        let fixtures: [&[u8]; 2] = [
            include_bytes!("../tests/fixtures/v1_ignore_corrupt.cnmf"),
            include_bytes!("../tests/fixtures/v1_early_stopped.cnmf"),
        ];
        for v1 in fixtures {
            let mf = ModelFile::from_bytes(v1).unwrap();
            assert_eq!(mf.to_bytes().unwrap(), v1);
        }
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = tiny_file();
        for p in 0..bytes.len() {
            let mut b = bytes.clone();
            b[p] ^= 0x01;
            assert!(
                ModelFile::from_bytes(&b).is_err(),
                "flip at byte {p} went unnoticed"
            );
        }
    }

    #[test]
    fn truncation_and_foreign_files_are_errors() {
        let bytes = tiny_file();
        for cut in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
            let e = ModelFile::from_bytes(&bytes[..cut]).unwrap_err();
            assert!(
                e.contains("truncated") || e.contains("not a cnmf model"),
                "{cut}: {e}"
            );
        }
        let e = ModelFile::from_bytes(b"user,item,rating\n1,2,3\n").unwrap_err();
        assert!(e.contains("not a cnmf model file"), "{e}");
    }

    #[test]
    fn a_valid_checksum_does_not_excuse_bad_contents() {
        let (data, model) = tiny();
        let mf = ModelFile::from_fit(model, &data, info(data.nnz() + 1));
        let e = ModelFile::from_bytes(&mf.to_bytes().unwrap()).unwrap_err();
        assert!(e.contains("inconsistent model"), "{e}");
    }

    /// A flag position beyond the model's own `n_ratings` is refused by the engine's
    /// `NmfModel::from_parts` (v1 loaded such a file, whose flag mask would then panic).
    #[test]
    fn the_engine_checks_the_parts_it_is_given() {
        let bytes = tiny_file();
        let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        let mut p: serde_json::Value = serde_json::from_slice(&bytes[nl + 1..]).unwrap();
        p["model"]["n_ratings"] = 1.into();
        let body = serde_json::to_vec(&p).unwrap();
        let digest = hex(&Sha256::digest(&body));
        let mut file = format!("{MAGIC} 1 sha256={digest} bytes={}\n", body.len()).into_bytes();
        file.extend_from_slice(&body);
        let e = ModelFile::from_bytes(&file).unwrap_err();
        assert!(
            e.contains("inconsistent model: invalid input model parts"),
            "{e}"
        );
    }

    #[test]
    fn gaps_round_trip_and_reject_repeats() {
        let indptr = [0, 3, 3, 5];
        let items = [0, 4, 7, 2, 3];
        let g = encode_gaps(&indptr, &items);
        assert_eq!(g, vec![0, 4, 3, 2, 1]);
        assert_eq!(decode_gaps(&indptr, &g, 8).unwrap(), items);
        assert!(decode_gaps(&indptr, &g, 7).is_err());
        assert!(decode_gaps(&indptr, &[0, 4, 0, 2, 1], 8).is_err());
        assert!(decode_gaps(&[0, 3, 2, 5], &g, 8).is_err());
    }
}
