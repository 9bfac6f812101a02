//! Format version 2 of the model file: a [safetensors](https://github.com/huggingface/safetensors)
//! file (`crates/cli/FORMAT.md`, *Format version 2*).
//!
//! ```text
//! <u64 little-endian: header length N> <N bytes: JSON header, padded with spaces> <tensor bytes>
//! ```
//!
//! The header maps each tensor's name to its `dtype`, `shape` and `data_offsets`, and holds
//! `__metadata__`, a map of strings: `format` (`cnmf-model`), `format_version` (`2`),
//! `cnmf` (everything that is not a tensor, as one JSON document, laid out by [`Meta`]: ids,
//! parameters, scale, trace, and the SHA-256 of every tensor) and `cnmf_sha256` (the SHA-256
//! of the `cnmf` text). The tensors are little-endian and C-ordered: `W` (users x k), `H`
//! (k x items, so that `W @ H` is the users x items matrix of raw scores), `user_means`,
//! `item_means`, `corrupt_ratings` (F64), `rated_indptr`, `rated_items` (the CSR pattern of
//! the training ratings), `corrupt_positions`, `corrupt_entries` (flags x 2: user, item),
//! for `guarded` only, `screened_users` (U32), and, when `cnmf fit --keep-times` stored them,
//! `rated_values` (F64) and `rated_times` (I64), parallel to `rated_items`.
//!
//! The container (fixed key order, so the bytes are deterministic; streamed, hashed reads) is
//! [`container`](super::container); the header is parsed and validated by the `safetensors`
//! crate. Reading goes front to back, once: the tensors a command does not need are skipped
//! (by seeking in a regular file), and every tensor read is checked against its SHA-256
//! before it is used.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use cnmf_engine::{Algorithm, Factors};
use cnmf_ratings::IdMap;
use safetensors::tensor::Metadata;
use safetensors::Dtype;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(super) use super::container::Source;
pub use super::container::{encode, Tensor, MAX_HEADER};
use super::container::{read_error, Values, CHUNK};

use super::schema::{self, CheckedFactors, Iteration, Params, Scale, Stop};
use super::{hex, Decoded, History, ModelFile, Need, Rated, TrainingInfo};
use crate::input::clip;
use crate::limits::{MAX_MODEL_BYTES, MAX_RANK};

/// The value of the `format` metadata key.
pub const FORMAT: &str = "cnmf-model";
/// The format version of this layout (the `format_version` metadata key).
pub const FORMAT_VERSION: u32 = 2;
/// How many bytes tell a version 2 file: the 8-byte header length and the header's `{`.
pub(super) const PREFIX: usize = 9;
const KEY_FORMAT: &str = "format";
const KEY_VERSION: &str = "format_version";
const KEY_JSON: &str = "cnmf";
const KEY_JSON_SHA: &str = "cnmf_sha256";

const W: &str = "W";
const H: &str = "H";
const USER_MEANS: &str = "user_means";
const ITEM_MEANS: &str = "item_means";
const CORRUPT_RATINGS: &str = "corrupt_ratings";
const RATED_INDPTR: &str = "rated_indptr";
const RATED_ITEMS: &str = "rated_items";
const CORRUPT_POSITIONS: &str = "corrupt_positions";
const CORRUPT_ENTRIES: &str = "corrupt_entries";
const SCREENED_USERS: &str = "screened_users";
const RATED_VALUES: &str = "rated_values";
const RATED_TIMES: &str = "rated_times";

/// The tensors a `Need::Scoring` read skips.
const PATTERN: [&str; 4] = [RATED_INDPTR, RATED_ITEMS, RATED_VALUES, RATED_TIMES];

/// The `cnmf` metadata as read: everything but the tensors. Ids are borrowed from the
/// metadata text where they need no unescaping (the common case: no copy).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta<'a> {
    training: TrainingInfo,
    #[serde(borrow)]
    users: Vec<Id<'a>>,
    #[serde(borrow)]
    items: Vec<Id<'a>>,
    model: ModelMeta,
    /// The SHA-256 of every tensor's bytes (lowercase hex), by tensor name.
    sha256: BTreeMap<String, String>,
}

/// One external id, borrowed from the metadata text unless it holds an escape (serde
/// borrows a `Cow` field, not the elements of a `Vec<Cow>`).
#[derive(Deserialize)]
#[serde(transparent)]
struct Id<'a>(#[serde(borrow)] Cow<'a, str>);

/// The `cnmf` metadata as written: the fields of [`Meta`], in its order.
#[derive(Serialize)]
struct MetaOut<'a> {
    training: &'a TrainingInfo,
    users: Vec<&'a str>,
    items: Vec<&'a str>,
    model: ModelMeta,
    sha256: BTreeMap<String, String>,
}

/// `cnmf.model`: the fitted model's fields that are not tensors, spelled as in version 1.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelMeta {
    params: Params,
    scale: Scale,
    mean_rating: f64,
    trace: Vec<Iteration>,
    stop_reason: Stop,
    kept_iteration: usize,
    /// `guarded`'s burst screen, as in version 1: written only when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bursts: Option<Vec<cnmf_engine::Burst>>,
}

/// Checks, before a fit, that ids of these lengths (in bytes) leave the header under
/// [`MAX_HEADER`]: each id takes at least its length and 5 bytes in the `cnmf` metadata (its
/// quotes, escaped, and a comma). Only data sets of millions of ids with long names fail.
pub fn check_id_room(lengths: impl Iterator<Item = usize>) -> Result<(), String> {
    let least: u64 = lengths.map(|l| l as u64 + 5).sum();
    if least > MAX_HEADER {
        return Err(format!(
            "the user and item ids alone would take {least} bytes of the model file's \
             safetensors header, more than the {MAX_HEADER} safetensors readers accept: \
             add --model-format json"
        ));
    }
    Ok(())
}

/// Whether the first bytes of a file are those of a safetensors file: a header length, then
/// the header's opening brace.
pub(super) fn detect(prefix: &[u8]) -> bool {
    prefix.len() == PREFIX && prefix[8] == b'{'
}

/// Encodes `mf` in format version 2. Errors when `mf` was loaded without its rated pattern, or
/// when the header would pass [`MAX_HEADER`] (ids of several million users).
pub(super) fn to_bytes(mf: &ModelFile) -> Result<Vec<u8>, String> {
    let rated = mf.rated.as_ref().ok_or_else(|| {
        "the model was loaded without its rated pattern, which the file stores".to_string()
    })?;
    let model = &mf.model;
    let f = model.factors();
    let (n, m, k) = (f.n_users(), f.n_items(), f.rank());
    let flags = model.corrupt_positions().len();
    let mut tensors = vec![
        Tensor::f64(W, vec![n, k], f.w()),
        Tensor::f64(H, vec![k, m], &transpose(f.h(), m, k)),
        Tensor::f64(USER_MEANS, vec![n], &mf.user_means),
        Tensor::f64(ITEM_MEANS, vec![m], &mf.item_means),
        Tensor::f64(CORRUPT_RATINGS, vec![flags], &mf.corrupt_ratings),
        Tensor::u32(RATED_INDPTR, vec![n + 1], rated.indptr.iter().copied()),
        Tensor::u32(
            RATED_ITEMS,
            vec![rated.items.len()],
            rated.items.iter().copied(),
        ),
        Tensor::u32(
            CORRUPT_POSITIONS,
            vec![flags],
            model.corrupt_positions().iter().copied(),
        ),
        Tensor::u32(
            CORRUPT_ENTRIES,
            vec![flags, 2],
            model.corrupt_entries().iter().flat_map(|&(u, i)| [u, i]),
        ),
    ];
    if let Some(h) = &rated.history {
        let nnz = rated.items.len();
        tensors.push(Tensor::f64(RATED_VALUES, vec![nnz], &h.values));
        tensors.push(Tensor::i64(RATED_TIMES, vec![nnz], &h.times));
    }
    if model.algorithm() == Algorithm::Guarded {
        let s = model.screened_users();
        tensors.push(Tensor::u32(
            SCREENED_USERS,
            vec![s.len()],
            s.iter().copied(),
        ));
    }
    let sha256 = tensors
        .iter()
        .map(|t| (t.name.clone(), hex(&Sha256::digest(&t.data))))
        .collect();
    let scale = model.scale();
    let meta = MetaOut {
        training: &mf.training,
        users: mf.users.iter().collect(),
        items: mf.items.iter().collect(),
        model: ModelMeta {
            params: Params(model.params().clone()),
            scale: Scale {
                min: scale.min(),
                max: scale.max(),
            },
            mean_rating: model.mean_rating(),
            trace: model.trace().iter().map(Iteration::from).collect(),
            stop_reason: model.stop_reason().into(),
            kept_iteration: model.iterations(),
            bursts: model.bursts().map(<[_]>::to_vec),
        },
        sha256,
    };
    let json = serde_json::to_string(&meta).map_err(|e| format!("cannot encode the model: {e}"))?;
    let json_sha = hex(&Sha256::digest(json.as_bytes()));
    let version = FORMAT_VERSION.to_string();
    encode(
        &[
            (KEY_FORMAT, FORMAT),
            (KEY_VERSION, &version),
            (KEY_JSON_SHA, &json_sha),
            (KEY_JSON, &json),
        ],
        tensors,
    )
}

/// Reads a version 2 file whose first [`PREFIX`] bytes are `prefix` from `src`, the parts
/// `need` asks for. Checks, in order: the header length, the header (the `safetensors`
/// crate's parser: JSON, dtypes, offsets that tile the data), `format` and `format_version`,
/// the file's length, the `cnmf` metadata's checksum and decoding, the set of tensors with
/// their dtypes and shapes against the metadata, then each tensor's checksum as it is read.
/// The error is the problem, without the file's name.
pub(super) fn read(prefix: &[u8], mut src: Source<'_>, need: Need) -> Result<Decoded, String> {
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(prefix.get(..8).ok_or("truncated: no safetensors header")?);
    let n = u64::from_le_bytes(len8);
    if n > MAX_HEADER {
        return Err(format!(
            "damaged: the safetensors header length is {n} bytes, more than the {MAX_HEADER} \
             safetensors allows (damaged or not a model file)"
        ));
    }
    if n < 2 {
        return Err(format!(
            "damaged: the safetensors header length is {n} bytes, too short for a header"
        ));
    }
    if let Source::Seekable(_, len) = &src {
        let len = *len;
        if len - 8 < n {
            return Err(format!(
                "truncated: the safetensors header length is {n} bytes, the file holds {} \
                 bytes after it",
                len - 8
            ));
        }
    }
    let mut header = Vec::with_capacity((n as usize).min(1 << 20));
    header.push(b'{');
    header.extend(
        src.read_vec(n as usize - 1)
            .map_err(|e| read_error("the safetensors header", e))?,
    );
    let st: Metadata = serde_json::from_slice(&header).map_err(|e| {
        format!(
            "damaged: the safetensors header does not decode: {}",
            clip(&e.to_string(), 300)
        )
    })?;
    let get = |key: &str| {
        st.metadata()
            .as_ref()
            .and_then(|m| m.get(key))
            .map(String::as_str)
    };
    if get(KEY_FORMAT) != Some(FORMAT) {
        return Err(format!(
            "not a cnmf model file (a safetensors file, but its metadata has no \
             `{KEY_FORMAT}: {FORMAT}`)"
        ));
    }
    match get(KEY_VERSION) {
        Some(v) if v == FORMAT_VERSION.to_string() => {}
        Some(v) => {
            return Err(format!(
                "model file format version {v} is not supported: this cnmf ({}) reads versions \
                 1 and 2; refit the model or use a matching cnmf",
                env!("CARGO_PKG_VERSION")
            ))
        }
        None => return Err(format!("damaged: no `{KEY_VERSION}` in the metadata")),
    }
    let data_len = st.data_len() as u64;
    if data_len > MAX_MODEL_BYTES {
        return Err(format!(
            "the header declares {data_len} bytes of tensors, more than the {MAX_MODEL_BYTES} \
             this cnmf reads (damaged or not a model file)"
        ));
    }
    if let Source::Seekable(_, len) = &src {
        let held = len - 8 - n;
        if held < data_len {
            return Err(format!(
                "truncated: the header declares {data_len} bytes of tensors, the file holds {held}"
            ));
        }
        if held > data_len {
            return Err(format!(
                "damaged: {} bytes follow the last tensor",
                held - data_len
            ));
        }
    }
    let (json, json_sha) = match (get(KEY_JSON), get(KEY_JSON_SHA)) {
        (Some(j), Some(s)) => (j, s),
        _ => {
            return Err(format!(
                "damaged: the metadata lacks `{KEY_JSON}` or `{KEY_JSON_SHA}`"
            ))
        }
    };
    let actual = hex(&Sha256::digest(json.as_bytes()));
    if !actual.eq_ignore_ascii_case(json_sha) {
        return Err(format!(
            "damaged: checksum mismatch in the metadata (sha256 of `{KEY_JSON}` is {actual}, \
             `{KEY_JSON_SHA}` says {json_sha})"
        ));
    }
    let meta: Meta<'_> = serde_json::from_str(json).map_err(|e| {
        format!(
            "the metadata does not decode: {}",
            clip(&e.to_string(), 300)
        )
    })?;
    let shapes = check_tensors(&st, &meta)?;
    let seekable = matches!(src, Source::Seekable(..));
    let mut data: BTreeMap<&str, Values> = BTreeMap::new();
    let names = st.offset_keys();
    let mut buf = vec![0u8; CHUNK];
    for name in &names {
        let Some(info) = st.info(name) else {
            continue; // every name of offset_keys has its info
        };
        let size = info.data_offsets.1 - info.data_offsets.0;
        let what = format!("tensor `{name}`");
        if need == Need::Scoring && PATTERN.contains(&name.as_str()) {
            src.skip(size as u64).map_err(|e| read_error(&what, e))?;
            continue;
        }
        // A regular file holds the declared bytes (checked above): reserve them at once.
        // A stream may not: memory grows with what arrives.
        let cap = if seekable { size } else { size.min(1 << 26) };
        let mut values = match info.dtype {
            Dtype::F64 => Values::F64(Vec::with_capacity(cap / 8)),
            Dtype::I64 => Values::I64(Vec::with_capacity(cap / 8)),
            _ => Values::U32(Vec::with_capacity(cap / 4)),
        };
        let digest = src
            .read_hashed(size, &mut buf, |chunk| values.extend(chunk))
            .map_err(|e| read_error(&what, e))?;
        let actual = hex(&digest);
        let stored = meta.sha256.get(name.as_str()).map_or("", String::as_str);
        if !actual.eq_ignore_ascii_case(stored) {
            return Err(format!(
                "damaged: checksum mismatch in {what} (sha256 is {actual}, the metadata says \
                 {stored})"
            ));
        }
        data.insert(name.as_str(), values);
    }
    if let Source::Stream(_) = &src {
        if !src.at_end().map_err(|e| read_error("the tensors", e))? {
            return Err("damaged: data follows the last tensor".into());
        }
    }
    decode(meta, shapes, data)
}

/// An id map from ids in index order; a repeated id is an error naming it.
fn id_map(ids: &[Id<'_>], what: &str) -> Result<IdMap, String> {
    let mut map = IdMap::with_capacity(ids.len());
    for (i, Id(id)) in ids.iter().enumerate() {
        if map.intern(id) as usize != i {
            return Err(format!(
                "the metadata does not decode: {what} id {:?} appears twice in the id map",
                clip(id, 100)
            ));
        }
    }
    Ok(map)
}

/// The sizes the metadata leaves open, taken from the tensors' shapes.
struct Shapes {
    n_stored: usize,
}

/// Checks the tensors the header lists against the metadata: exactly the expected names
/// (`screened_users` for `guarded` only; `rated_values` and `rated_times` both or neither),
/// one checksum each, the expected dtypes, and shapes that agree with the ids, the rank and
/// each other.
fn check_tensors(st: &Metadata, meta: &Meta<'_>) -> Result<Shapes, String> {
    let tensors = st.tensors();
    let mut expected = vec![
        W,
        H,
        USER_MEANS,
        ITEM_MEANS,
        CORRUPT_RATINGS,
        RATED_INDPTR,
        RATED_ITEMS,
        CORRUPT_POSITIONS,
        CORRUPT_ENTRIES,
    ];
    let guarded = meta.model.params.0.algorithm() == Algorithm::Guarded;
    if guarded {
        expected.push(SCREENED_USERS);
    }
    let history = tensors.contains_key(RATED_VALUES) || tensors.contains_key(RATED_TIMES);
    if history {
        expected.extend([RATED_VALUES, RATED_TIMES]);
    }
    let have: BTreeSet<&str> = tensors.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = expected.iter().copied().collect();
    if let Some(extra) = have.difference(&want).next() {
        return Err(format!(
            "inconsistent model: unexpected tensor `{extra}` for a {} model",
            meta.model.params.0.algorithm()
        ));
    }
    if let Some(missing) = want.difference(&have).next() {
        return Err(format!("inconsistent model: tensor `{missing}` is missing"));
    }
    let summed: BTreeSet<&str> = meta.sha256.keys().map(String::as_str).collect();
    if summed != have {
        return Err(format!(
            "inconsistent model: the metadata has checksums for the tensors {summed:?}, the \
             file holds {have:?}"
        ));
    }
    let info = |name: &str| tensors[name]; // every expected name is present
    let length = |name: &str| -> Result<usize, String> {
        match info(name).shape[..] {
            [len] => Ok(len),
            ref s => Err(format!(
                "inconsistent model: tensor `{name}` has shape {s:?}, expected one dimension"
            )),
        }
    };
    let (n, m, k) = (
        meta.users.len(),
        meta.items.len(),
        meta.model.params.0.rank(),
    );
    if k > MAX_RANK {
        // Checked again with the other bounds; here so that no shape multiplies a huge rank.
        return Err(format!(
            "inconsistent model: rank {k} is above the limit of {MAX_RANK}"
        ));
    }
    let flags = length(CORRUPT_POSITIONS)?;
    let n_stored = length(RATED_ITEMS)?;
    let mut specs: Vec<(&str, Dtype, Vec<usize>, String)> = vec![
        (W, Dtype::F64, vec![n, k], format!("{n} users, k = {k}")),
        (H, Dtype::F64, vec![k, m], format!("k = {k}, {m} items")),
        (USER_MEANS, Dtype::F64, vec![n], format!("{n} users")),
        (ITEM_MEANS, Dtype::F64, vec![m], format!("{m} items")),
        (
            CORRUPT_RATINGS,
            Dtype::F64,
            vec![flags],
            format!("{flags} flag positions"),
        ),
        (RATED_INDPTR, Dtype::U32, vec![n + 1], format!("{n} users")),
        (RATED_ITEMS, Dtype::U32, vec![n_stored], String::new()),
        (CORRUPT_POSITIONS, Dtype::U32, vec![flags], String::new()),
        (
            CORRUPT_ENTRIES,
            Dtype::U32,
            vec![flags, 2],
            format!("{flags} flag positions"),
        ),
    ];
    if history {
        specs.push((
            RATED_VALUES,
            Dtype::F64,
            vec![n_stored],
            "rated items".into(),
        ));
        specs.push((
            RATED_TIMES,
            Dtype::I64,
            vec![n_stored],
            "rated items".into(),
        ));
    }
    if guarded {
        specs.push((
            SCREENED_USERS,
            Dtype::U32,
            vec![length(SCREENED_USERS)?],
            String::new(),
        ));
    }
    for (name, dtype, shape, why) in specs {
        let t = info(name);
        if t.dtype != dtype {
            return Err(format!(
                "inconsistent model: tensor `{name}` holds {:?} values; this cnmf reads {dtype:?}",
                t.dtype
            ));
        }
        if t.shape != shape {
            return Err(format!(
                "inconsistent model: tensor `{name}` has shape {:?}, the metadata says {shape:?} \
                 ({why})",
                t.shape
            ));
        }
    }
    Ok(Shapes { n_stored })
}

/// Builds the decoded parts from the metadata and the tensors read (all of them but the rated
/// pattern's under `Need::Scoring`), whose dtypes and shapes [`check_tensors`] checked.
fn decode(
    meta: Meta<'_>,
    shapes: Shapes,
    mut data: BTreeMap<&str, Values>,
) -> Result<Decoded, String> {
    let users = id_map(&meta.users, "user")?;
    let items = id_map(&meta.items, "item")?;
    let mut take = |name: &str| data.remove(name);
    let (n, m, k) = (users.len(), items.len(), meta.model.params.0.rank());
    let f64s_of = |v: Option<Values>| v.map(Values::f64s).unwrap_or_default();
    let u32s_of = |v: Option<Values>| v.map(Values::u32s).unwrap_or_default();
    let w = f64s_of(take(W));
    let h = transpose(&f64s_of(take(H)), k, m);
    let factors = Factors::new(n, m, k, w, h).map_err(|e| format!("inconsistent model: {e}"))?;
    let rated = match (take(RATED_INDPTR), take(RATED_ITEMS)) {
        (Some(indptr), Some(rated)) => {
            let (indptr, rated) = (indptr.u32s(), rated.u32s());
            check_pattern(&indptr, &rated, m)
                .map_err(|e| format!("inconsistent model: rated items: {e}"))?;
            // check_tensors saw both history tensors or neither.
            let history = match (take(RATED_VALUES), take(RATED_TIMES)) {
                (Some(values), Some(times)) => Some(History {
                    values: values.f64s(),
                    times: times.i64s(),
                }),
                _ => None,
            };
            Some(Rated {
                indptr,
                items: rated,
                history,
            })
        }
        _ => None,
    };
    let entries = u32s_of(take(CORRUPT_ENTRIES));
    let mm = meta.model;
    Ok(Decoded {
        training: meta.training,
        users,
        items,
        rated,
        n_stored: shapes.n_stored,
        user_means: f64s_of(take(USER_MEANS)),
        item_means: f64s_of(take(ITEM_MEANS)),
        corrupt_ratings: f64s_of(take(CORRUPT_RATINGS)),
        model: schema::Model {
            params: mm.params,
            scale: mm.scale,
            mean_rating: mm.mean_rating,
            factors: CheckedFactors(factors),
            n_ratings: shapes.n_stored,
            corrupt_positions: u32s_of(take(CORRUPT_POSITIONS)),
            corrupt_entries: entries.chunks_exact(2).map(|p| (p[0], p[1])).collect(),
            trace: mm.trace,
            stop_reason: mm.stop_reason,
            kept_iteration: mm.kept_iteration,
            screened_users: take(SCREENED_USERS).map(Values::u32s),
            bursts: mm.bursts,
        },
    })
}

/// Checks a CSR pattern: offsets start at 0, never decrease and end at the number of items
/// stored; each user's items strictly ascending and below `n_items`.
fn check_pattern(indptr: &[u32], items: &[u32], n_items: usize) -> Result<(), String> {
    if indptr.first() != Some(&0) {
        return Err("offsets do not start at 0".into());
    }
    if indptr.last().map(|&l| l as usize) != Some(items.len()) {
        return Err(format!(
            "offsets end at {:?} but {} items are stored",
            indptr.last(),
            items.len()
        ));
    }
    for (u, w) in indptr.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(format!("offsets decrease at user {u}"));
        }
        let Some(row) = items.get(w[0] as usize..w[1] as usize) else {
            return Err(format!(
                "offset {} of user {u} is beyond the {} stored items",
                w[1],
                items.len()
            ));
        };
        let ascending = row.windows(2).all(|p| p[0] < p[1]);
        if !ascending || row.last().is_some_and(|&i| i as usize >= n_items) {
            return Err(format!(
                "user {u}: items repeat, are out of order or run past the {n_items} items"
            ));
        }
    }
    Ok(())
}

/// The transpose of a row-major `rows x cols` matrix (empty when `v` has another length).
pub(super) fn transpose(v: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    if v.len() != rows * cols {
        return Vec::new();
    }
    let mut t = vec![0.0; v.len()];
    for (r, row) in v.chunks_exact(cols.max(1)).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            t[c * rows + r] = x;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{info, tiny};
    use super::super::ModelFormat;
    use super::*;
    use crate::fuzzing::{seal_v2, v2_parts};
    use cnmf_engine::NmfParams;
    use safetensors::SafeTensors;

    /// The fixture model and its version 2 bytes.
    fn tiny_file() -> (ModelFile, Vec<u8>) {
        let (data, model) = tiny();
        let mf = ModelFile::from_fit(model, &data, info(data.nnz()));
        let bytes = mf.to_bytes(ModelFormat::Safetensors).unwrap();
        (mf, bytes)
    }

    /// Little-endian `f64`s.
    fn f64s(b: &[u8]) -> Vec<f64> {
        b.chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a)
            })
            .collect()
    }

    /// Little-endian `u32`s.
    fn u32s(b: &[u8]) -> Vec<u32> {
        b.chunks_exact(4)
            .map(|c| {
                let mut a = [0u8; 4];
                a.copy_from_slice(c);
                u32::from_le_bytes(a)
            })
            .collect()
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn round_trip_is_bit_exact_and_deterministic() {
        let (mf, bytes) = tiny_file();
        assert!(!mf.model().corrupt_entries().is_empty());
        assert!(detect(&bytes[..PREFIX]));
        let back = ModelFile::from_bytes(&bytes).unwrap();
        assert_eq!(back.model(), mf.model());
        assert_eq!(
            bits(back.model().factors().w()),
            bits(mf.model().factors().w())
        );
        assert_eq!(
            bits(back.model().factors().h()),
            bits(mf.model().factors().h())
        );
        assert_eq!(back.users(), mf.users());
        assert_eq!(back.items(), mf.items());
        for u in 0..mf.users().len() as u32 {
            assert_eq!(back.rated(u), mf.rated(u));
            assert_eq!(back.user_mean(u).to_bits(), mf.user_mean(u).to_bits());
        }
        assert_eq!(back.corrupt_ratings(), mf.corrupt_ratings());
        assert_eq!(back.training, mf.training);
        assert_eq!(back.to_bytes(ModelFormat::Safetensors).unwrap(), bytes);
        // And through version 1 and back: the same bytes again.
        let v1 = back.to_bytes(ModelFormat::Json).unwrap();
        let again = ModelFile::from_bytes(&v1).unwrap();
        assert_eq!(again.to_bytes(ModelFormat::Safetensors).unwrap(), bytes);
    }

    /// The fixture model with every rating's value and timestamp, and its version 2 bytes.
    fn timed_file() -> (ModelFile, Vec<u8>) {
        let (data, model) = tiny();
        let times: Vec<i64> = (0..data.nnz() as i64).map(|p| 1_000 * p - 7).collect();
        let data = data.with_times(times).unwrap();
        let mut mf = ModelFile::from_fit(model, &data, info(data.nnz()));
        mf.keep_history(&data).unwrap();
        let bytes = mf.to_bytes(ModelFormat::Safetensors).unwrap();
        (mf, bytes)
    }

    #[test]
    fn stored_values_and_timestamps_round_trip_through_both_versions() {
        let (data, _) = tiny();
        let (mf, bytes) = timed_file();
        let (values, times) = mf.history().unwrap();
        // The values in the rated pattern's (CSR) order; the timestamps as given.
        let csr: Vec<f64> = (0..data.n_users() as u32)
            .flat_map(|u| data.user(u).1.to_vec())
            .collect();
        assert_eq!(bits(values), bits(&csr));
        assert_eq!(times[0], -7);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor(RATED_TIMES).unwrap().dtype(), Dtype::I64);
        assert_eq!(st.tensor(RATED_VALUES).unwrap().shape(), &[data.nnz()]);
        let back = ModelFile::from_bytes(&bytes).unwrap();
        assert_eq!(back.history(), mf.history());
        assert_eq!(back.to_bytes(ModelFormat::Safetensors).unwrap(), bytes);
        let v1 = back.to_bytes(ModelFormat::Json).unwrap();
        let again = ModelFile::from_bytes(&v1).unwrap();
        assert_eq!(again.history(), mf.history());
        assert_eq!(again.to_bytes(ModelFormat::Safetensors).unwrap(), bytes);
        // An item's ratings, by user, at the positions the flags use.
        let jaws = mf.items().index("jaws").unwrap();
        let h = mf.item_history(jaws).unwrap();
        let (raters, vals) = data.item(jaws);
        assert_eq!(h.iter().map(|e| e.1).collect::<Vec<_>>(), raters.to_vec());
        assert_eq!(h.iter().map(|e| e.2).collect::<Vec<_>>(), vals.to_vec());
        for &(p, u, _, t) in &h {
            assert!(mf.rated(u).contains(&jaws));
            assert_eq!(times[p as usize], t);
        }
        // A model without them: none, and scoring reads skip them.
        assert!(tiny_file().0.history().is_none());
        let scoring = ModelFile::from_bytes_for(&bytes, Need::Scoring).unwrap();
        assert_eq!(scoring.n_ratings(), mf.n_ratings());
    }

    #[test]
    fn bad_stored_values_and_timestamps_are_named() {
        let (_, bytes) = timed_file();
        let edit = |f: &dyn Fn(&mut crate::fuzzing::V2Parts)| {
            let mut p = v2_parts(&bytes).unwrap();
            f(&mut p);
            ModelFile::from_bytes(&seal_v2(p).unwrap()).unwrap_err()
        };
        let at = |p: &crate::fuzzing::V2Parts, name: &str| {
            p.tensors.iter().position(|t| t.name == name).unwrap()
        };
        let e = edit(&|p| p.tensors.retain(|t| t.name != RATED_TIMES));
        assert!(e.contains("tensor `rated_times` is missing"), "{e}");
        let e = edit(&|p| {
            let v = at(p, RATED_VALUES);
            p.tensors[v].data[..8].copy_from_slice(&9.5f64.to_le_bytes());
        });
        assert!(
            e.contains("stored rating 0 is 9.5, outside the scale"),
            "{e}"
        );
        let e = edit(&|p| {
            let v = at(p, RATED_VALUES);
            p.tensors[v].data[..8].copy_from_slice(&f64::NAN.to_le_bytes());
        });
        assert!(e.contains("stored rating 0 is NaN"), "{e}");
        let e = edit(&|p| {
            let t = at(p, RATED_TIMES);
            p.tensors[t].dtype = Dtype::F64;
        });
        assert!(e.contains("holds F64 values; this cnmf reads I64"), "{e}");
        let e = edit(&|p| {
            let t = at(p, RATED_TIMES);
            p.tensors[t].shape[0] -= 1;
            let len = p.tensors[t].data.len();
            p.tensors[t].data.truncate(len - 8);
        });
        assert!(e.contains("tensor `rated_times` has shape"), "{e}");
        // A stored rating that disagrees with the flagged rating at its position.
        let (mf, _) = timed_file();
        let pos = mf.model().corrupt_positions()[0] as usize;
        let flagged = mf.corrupt_ratings()[0];
        let e = edit(&|p| {
            let v = at(p, RATED_VALUES);
            let other = if flagged == 5.0 { 4.0f64 } else { 5.0 };
            p.tensors[v].data[8 * pos..8 * pos + 8].copy_from_slice(&other.to_le_bytes());
        });
        assert!(e.contains("but the flags record"), "{e}");
    }

    /// The `safetensors` crate reads the file: tensors, shapes, bytes and metadata.
    #[test]
    fn the_safetensors_crate_reads_what_is_written() {
        let (mf, bytes) = tiny_file();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let f = mf.model().factors();
        let (n, m, k) = (f.n_users(), f.n_items(), f.rank());
        let w = st.tensor(W).unwrap();
        assert_eq!((w.dtype(), w.shape()), (Dtype::F64, &[n, k][..]));
        assert_eq!(bits(&f64s(w.data())), bits(f.w()));
        let h = st.tensor(H).unwrap();
        assert_eq!(h.shape(), &[k, m]);
        // Row j of H is factor j over the items: (W @ H)[u, i] is the raw score.
        let hk = f64s(h.data());
        for u in 0..n as u32 {
            for i in 0..m {
                let s: f64 = (0..k).map(|j| f.w_row(u)[j] * hk[j * m + i]).sum();
                let raw = mf.model().predict_raw(u, i as u32);
                assert!((s - raw).abs() <= 1e-12 * raw.abs().max(1.0), "{s} {raw}");
            }
        }
        let items = st.tensor(RATED_ITEMS).unwrap();
        assert_eq!(items.dtype(), Dtype::U32);
        assert_eq!(items.shape(), &[mf.n_ratings()]);
        let entries = st.tensor(CORRUPT_ENTRIES).unwrap();
        assert_eq!(entries.shape(), &[mf.model().corrupt_entries().len(), 2]);
        assert!(st.tensor(SCREENED_USERS).is_err(), "guarded only");
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().as_ref().unwrap();
        assert_eq!(meta[KEY_FORMAT], FORMAT);
        assert_eq!(meta[KEY_VERSION], "2");
        let json: serde_json::Value = serde_json::from_str(&meta[KEY_JSON]).unwrap();
        assert_eq!(json["users"][0], "ann");
        assert_eq!(json["model"]["params"]["algorithm"], "ignore-corrupt");
        assert_eq!(json["sha256"].as_object().unwrap().len(), 9);
        // Every tensor starts at a multiple of its element size.
        let data_start = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(data_start % 8, 0);
        for (_, info) in header.tensors() {
            assert_eq!(
                (data_start + info.data_offsets.0) % (info.dtype.bitsize() / 8),
                0
            );
        }
    }

    /// A file the `safetensors` crate writes from the same tensors and metadata (in its own,
    /// run-dependent key order) loads to the same model.
    #[test]
    fn files_the_safetensors_crate_writes_load() {
        let (mf, bytes) = tiny_file();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let theirs = safetensors::serialize(st.tensors(), header.metadata().clone()).unwrap();
        // The crate keeps the metadata in a hash map, so its key order (and so whether its bytes
        // equal ours) changes from run to run; loading must not depend on it.
        let back = ModelFile::from_bytes(&theirs).unwrap();
        assert_eq!(back.model(), mf.model());
        assert_eq!(back.to_bytes(ModelFormat::Safetensors).unwrap(), bytes);
    }

    #[test]
    fn guarded_models_keep_their_screened_users() {
        let (data, _) = tiny();
        let model = NmfParams::new(2, Algorithm::Guarded)
            .lambda(1.0)
            .max_iters(10)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap();
        let mf = ModelFile::from_fit(model, &data, info(data.nnz()));
        let bytes = mf.to_bytes(ModelFormat::Safetensors).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let s = st.tensor(SCREENED_USERS).unwrap();
        assert_eq!(u32s(s.data()), mf.model().screened_users());
        assert_eq!(ModelFile::from_bytes(&bytes).unwrap().model(), mf.model());
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let (_, bytes) = tiny_file();
        for p in 0..bytes.len() {
            let mut b = bytes.clone();
            b[p] ^= 0x01;
            assert!(
                ModelFile::from_bytes(&b).is_err(),
                "flip at byte {p} went unnoticed"
            );
        }
    }

    /// `Need::Scoring` neither reads nor checks the rated pattern: damage there is found by a
    /// whole read only, and scoring reads give the same model.
    #[test]
    fn scoring_reads_skip_the_rated_pattern() {
        let (mf, mut bytes) = tiny_file();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let start = bytes.len() - header.data_len();
        let at = start + header.info(RATED_ITEMS).unwrap().data_offsets.0;
        bytes[at] ^= 0x01;
        let e = ModelFile::from_bytes(&bytes).unwrap_err();
        assert!(
            e.contains("checksum mismatch in tensor `rated_items`"),
            "{e}"
        );
        let scoring = ModelFile::from_bytes_for(&bytes, Need::Scoring).unwrap();
        assert!(scoring.rated.is_none());
        assert_eq!(scoring.model(), mf.model());
        assert_eq!(scoring.n_ratings(), mf.n_ratings());
        assert!(scoring.to_bytes(ModelFormat::Safetensors).is_err());
    }

    #[test]
    fn truncated_files_are_errors() {
        let (_, bytes) = tiny_file();
        for cut in [9, 10, 100, bytes.len() / 2, bytes.len() - 1] {
            for need in [Need::All, Need::Scoring] {
                let e = ModelFile::from_bytes_for(&bytes[..cut], need).unwrap_err();
                assert!(e.contains("truncated"), "{cut}: {e}");
            }
        }
        for cut in [0, 5, 8] {
            let e = ModelFile::from_bytes(&bytes[..cut]).unwrap_err();
            assert!(e.contains("not a cnmf model file"), "{cut}: {e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let e = ModelFile::from_bytes(&longer).unwrap_err();
        assert!(e.contains("1 bytes follow the last tensor"), "{e}");
    }

    /// Each kind of bad content, sealed with valid checksums, gets its own message.
    #[test]
    fn bad_contents_behind_valid_checksums_are_named() {
        let (_, bytes) = tiny_file();
        let edit = |f: &dyn Fn(&mut crate::fuzzing::V2Parts)| {
            let mut p = v2_parts(&bytes).unwrap();
            f(&mut p);
            seal_v2(p).unwrap()
        };
        let tensor = |p: &mut crate::fuzzing::V2Parts, name: &str| -> usize {
            p.tensors.iter().position(|t| t.name == name).unwrap()
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "holds F32 values; this cnmf reads F64",
                edit(&|p| {
                    let w = tensor(p, W);
                    p.tensors[w].dtype = Dtype::F32;
                    p.tensors[w].shape[1] *= 2;
                }),
            ),
            (
                "tensor `W` has shape [5, 2], the metadata says [6, 2]",
                edit(&|p| {
                    let w = tensor(p, W);
                    p.tensors[w].shape[0] -= 1;
                    p.tensors[w].data.truncate(5 * 2 * 8);
                }),
            ),
            (
                "user factors W: entry (0, 1) is NaN",
                edit(&|p| {
                    let w = tensor(p, W);
                    p.tensors[w].data[8..16].copy_from_slice(&f64::NAN.to_le_bytes());
                }),
            ),
            (
                "the metadata does not decode",
                edit(&|p| {
                    let j = p.metadata.iter().position(|(k, _)| k == KEY_JSON).unwrap();
                    p.metadata[j].1 = "{\"training\": [1, 2".into();
                }),
            ),
            (
                "format version 3 is not supported",
                edit(&|p| {
                    let v = p
                        .metadata
                        .iter()
                        .position(|(k, _)| k == KEY_VERSION)
                        .unwrap();
                    p.metadata[v].1 = "3".into();
                }),
            ),
            (
                "not a cnmf model file (a safetensors file",
                edit(&|p| p.metadata.retain(|(k, _)| k != KEY_FORMAT)),
            ),
            (
                "tensor `H` is missing",
                edit(&|p| p.tensors.retain(|t| t.name != H)),
            ),
            (
                "unexpected tensor `extra`",
                edit(&|p| {
                    p.tensors.push(Tensor::u32("extra", vec![1], [7]));
                }),
            ),
            (
                "rated items: user 0: items repeat",
                edit(&|p| {
                    let r = tensor(p, RATED_ITEMS);
                    let first = p.tensors[r].data[..4].to_vec();
                    p.tensors[r].data[4..8].copy_from_slice(&first);
                }),
            ),
            (
                "mean rating",
                edit(&|p| {
                    let j = p.metadata.iter().position(|(k, _)| k == KEY_JSON).unwrap();
                    let mut v: serde_json::Value = serde_json::from_str(&p.metadata[j].1).unwrap();
                    v["model"]["mean_rating"] = 9.0.into();
                    p.metadata[j].1 = v.to_string();
                }),
            ),
        ];
        for (needle, file) in cases {
            let e = ModelFile::from_bytes(&file).unwrap_err();
            assert!(e.contains(needle), "wanted {needle:?}, got {e}");
        }
        // Changed without resealing: the checksums catch it.
        let mut p = v2_parts(&bytes).unwrap();
        p.tensors[0].data[0] ^= 0x40;
        let meta: Vec<(&str, &str)> = p.metadata.iter().map(|(k, v)| (&**k, &**v)).collect();
        let e = ModelFile::from_bytes(&encode(&meta, p.tensors).unwrap()).unwrap_err();
        assert!(
            e.contains("damaged: checksum mismatch in tensor `H`"),
            "{e}"
        );
    }

    #[test]
    fn oversized_header_lengths_are_refused_before_reading() {
        let (_, bytes) = tiny_file();
        for n in [u64::MAX, MAX_HEADER + 1, bytes.len() as u64] {
            let mut b = bytes.clone();
            b[..8].copy_from_slice(&n.to_le_bytes());
            let e = ModelFile::from_bytes(&b).unwrap_err();
            assert!(e.contains("header length"), "{n}: {e}");
        }
    }

    #[test]
    fn check_pattern_refuses_every_bad_pattern() {
        assert!(check_pattern(&[0, 2, 3], &[1, 4, 0], 5).is_ok());
        for (indptr, items, why) in [
            (&[1, 2, 3][..], &[1, 4, 0][..], "start at 0"),
            (&[0, 2, 2], &[1, 4, 0], "end at"),
            (&[0, 3, 2, 3], &[0, 1, 4], "decrease"),
            (&[0, u32::MAX, 3], &[1, 4, 0], "beyond the 3 stored items"),
            (&[0, 2, 3], &[4, 1, 0], "out of order"),
            (&[0, 2, 3], &[1, 1, 0], "repeat"),
            (&[0, 2, 3], &[1, 5, 0], "run past the 5 items"),
        ] {
            let e = check_pattern(indptr, items, 5).unwrap_err();
            assert!(e.contains(why), "{indptr:?} {items:?}: {e}");
        }
    }

    #[test]
    fn id_room_is_checked_before_a_fit() {
        assert!(check_id_room([10usize; 1000].into_iter()).is_ok());
        let e = check_id_room(std::iter::repeat_n(95, 1_000_001)).unwrap_err();
        assert!(e.contains("--model-format json"), "{e}");
        // The bound is a lower bound: a model whose ids pass may still be refused when
        // written, never the other way round.
        let (mf, bytes) = tiny_file();
        let ids = mf.users().iter().chain(mf.items().iter()).map(str::len);
        let least: usize = ids.map(|l| l + 5).sum();
        assert!(least < bytes.len());
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let t = transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        assert_eq!(t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(transpose(&t, 3, 2), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
