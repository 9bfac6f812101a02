//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer), public but hidden: the
//! same functions run on stable as property tests (`crates/cli/tests/it/fuzz.rs`), seeded with
//! the committed corpus in `fuzz/seeds/`. Each takes arbitrary bytes and panics only when an
//! invariant breaks: an input may be refused with an error, never crash the reader.

use std::path::Path;
use std::sync::OnceLock;

use cnmf_engine::{Algorithm, NmfParams};
use cnmf_ratings::{load_reader_with_format, Format, LoadOptions, RatingScale, Ratings};
use sha2::{Digest, Sha256};

use crate::commands::fold_in::{new_ratings, recommend, would_flag, UnknownItems};
use crate::csv_in::{read_records_from, split, Column};
use crate::model_file::v2::{self, Tensor};
use crate::model_file::{ModelFile, ModelFormat, Need, TrainingInfo};
use crate::output::csv_field;

/// Longest line the loader target accepts: small, so the fuzzer reaches the limit.
const FUZZ_MAX_LINE: usize = 4096;

/// The ratings loader in `format` over `data` (standard input or a pipe, as the CLI reads
/// `-`). On success: at least one rating, every value inside the scale, a resolved format.
pub fn load(format: Format, data: &[u8]) {
    let opts = LoadOptions::default()
        .format(format)
        .max_line_bytes(FUZZ_MAX_LINE);
    match load_reader_with_format(data, "<fuzz>", &opts) {
        Ok((r, got)) => {
            assert!(r.nnz() > 0, "a loaded data set holds ratings");
            assert_ne!(got, Format::Auto, "the format is resolved");
            if format != Format::Auto {
                assert_eq!(got, format);
            }
            let scale = r.scale();
            for u in 0..r.n_users() as u32 {
                assert!(r.user(u).1.iter().all(|&v| scale.contains(v)));
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.len() < 2_000, "an error message is bounded: {msg:.200}");
        }
    }
}

/// The CSV splitter of the tool's inputs, and its quoting: any line splits or is refused;
/// fields quoted by the CSV writer split back to themselves.
pub fn csv_split(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for delim in [',', '\t'] {
        if let Ok(fields) = split(text, delim) {
            assert!(!fields.is_empty());
        }
    }
    // Round trip: `\u{1f}`-separated fields, but for line breaks (a record is one line).
    let fields: Vec<&str> = text.split('\u{1f}').collect();
    if fields.iter().any(|f| f.contains(['\n', '\r'])) {
        return;
    }
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    let back = split(&line.join(","), ',').expect("a line the writer quoted splits");
    assert_eq!(back, fields);
}

/// The `predict --pairs` reader over `data`.
pub fn pairs(data: &[u8]) {
    if let Ok(records) = read_records_from(
        data,
        Path::new("<fuzz>"),
        &[Column::User, Column::Item],
        &[],
        FUZZ_MAX_LINE,
    ) {
        assert!(!records.is_empty());
        for r in &records {
            assert_eq!(r.fields.len(), 2);
            assert!(r.fields.iter().all(|f| !f.is_empty()));
        }
    }
}

/// A small model (items `i0`..`i5`) for the fold-in target, fitted once.
fn small_model() -> &'static ModelFile {
    static MODEL: OnceLock<ModelFile> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut t = Vec::new();
        for u in 0..8 {
            for i in 0..6 {
                if (u + i) % 3 != 0 {
                    let r = 1.0 + ((u * 7 + i * 3) % 5) as f64;
                    t.push((format!("u{u}"), format!("i{i}"), r));
                }
            }
        }
        let data = Ratings::from_external(
            t.iter().map(|(u, i, r)| (u.as_str(), i.as_str(), *r)),
            RatingScale::MOVIELENS,
        )
        .expect("fixture ratings");
        let model = NmfParams::new(2, Algorithm::IgnoreCorrupt)
            .lambda(1.0)
            .max_iters(20)
            .check()
            .expect("fixture parameters")
            .fit(&data)
            .expect("fixture fit");
        let info = TrainingInfo {
            source: "fuzz".into(),
            format: "csv".into(),
            n_ratings: data.nnz(),
            fit_seconds: 0.0,
            cnmf_version: "fuzz".into(),
        };
        ModelFile::from_fit(model, &data, info)
    })
}

/// The `fold-in --ratings` reader over `data`, then the fold-in itself against a small model:
/// every score finite.
pub fn fold_in(data: &[u8]) {
    let name = Path::new("<fuzz>");
    let Ok(records) = read_records_from(
        data,
        name,
        &[Column::Item, Column::Rating],
        &[Column::User],
        FUZZ_MAX_LINE,
    ) else {
        return;
    };
    let mf = small_model();
    for unknown in [UnknownItems::Error, UnknownItems::Skip] {
        let Ok(new) = new_ratings(&records, name, unknown, mf) else {
            continue;
        };
        if new.pairs.is_empty() {
            continue;
        }
        score_new_user(mf, &new.pairs);
    }
}

/// Folds `pairs` in, recommends and flags: every score finite.
fn score_new_user(mf: &ModelFile, pairs: &[(u32, f64)]) {
    let model = mf.model();
    let Ok(w) = model.fold_in(pairs) else {
        return;
    };
    let factors = model.factors();
    let raw = |i: u32| -> f64 { w.iter().zip(factors.h_col(i)).map(|(a, b)| a * b).sum() };
    let titles = crate::titles::ItemTitles::default();
    for r in recommend(3, 0, mf, pairs, &mf.item_rating_counts(), raw, &titles) {
        assert!(r.score.is_finite() && r.prediction.is_finite());
    }
    for f in would_flag(mf, pairs, raw, &titles) {
        assert!(f.prediction.is_finite());
    }
}

/// Seals `payload` with a valid model file header (right length and SHA-256).
pub fn seal(payload: &[u8]) -> Vec<u8> {
    let digest: String = Sha256::digest(payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut file = format!("CNMF-MODEL 1 sha256={digest} bytes={}\n", payload.len()).into_bytes();
    file.extend_from_slice(payload);
    file
}

/// The model file reader on `data` as it is, then on `data` as a payload sealed with a valid
/// header (so mutations reach the JSON decoding and the cross-checks rather than stopping at
/// the checksum). A model that loads answers every command without a panic or an infinite
/// score, and is written back to bytes that load again.
pub fn model_file(data: &[u8]) {
    let _ = ModelFile::from_bytes(data);
    if let Ok(mf) = ModelFile::from_bytes(&seal(data)) {
        exercise(&mf, true);
    }
}

/// The reader of format version 2 (safetensors) on `data` as it is, for everything and for
/// scoring only, then on `data` re-sealed ([`reseal_v2`]: every checksum recomputed, so
/// mutations reach the header checks, the metadata decoding, the tensor shapes and the
/// cross-checks). A model that loads answers every command without a panic or an infinite
/// score, and is written back, in both versions, to bytes that load again.
pub fn model_file_v2(data: &[u8]) {
    let _ = ModelFile::from_bytes(data);
    let _ = ModelFile::from_bytes_for(data, Need::Scoring);
    let Some(sealed) = reseal_v2(data) else {
        return;
    };
    if let Ok(mf) = ModelFile::from_bytes_for(&sealed, Need::Scoring) {
        exercise(&mf, false);
    }
    if let Ok(mf) = ModelFile::from_bytes(&sealed) {
        exercise(&mf, true);
    }
}

/// Every command's use of a loaded model: finite predictions for up to 50 x 50 pairs, the
/// rated pattern (when `full`), a fold-in; then the model written back in both versions
/// loads again.
fn exercise(mf: &ModelFile, full: bool) {
    let model = mf.model();
    let (n, m) = (model.n_users() as u32, model.n_items() as u32);
    for u in 0..n.min(50) {
        if full {
            let _ = mf.rated(u);
        }
        let _ = mf.user_mean(u);
        for i in 0..m.min(50) {
            assert!(model.predict(u, i).is_finite());
            let raw = model
                .factors()
                .w_row(u)
                .iter()
                .zip(model.factors().h_col(i));
            assert!(raw.map(|(a, b)| a * b).sum::<f64>().is_finite());
        }
    }
    if !full {
        return;
    }
    let _ = mf.item_rating_counts();
    let pairs: Vec<(u32, f64)> = (0..m.min(3)).map(|i| (i, model.scale().max())).collect();
    score_new_user(mf, &pairs);
    for format in [ModelFormat::Json, ModelFormat::Safetensors] {
        let bytes = mf.to_bytes(format).expect("a loaded model encodes");
        ModelFile::from_bytes(&bytes).expect("a written model loads");
    }
}

/// A format version 2 file's parts: its `__metadata__` entries in header order and its
/// tensors in offset order.
pub struct V2Parts {
    /// `__metadata__` (key, value) pairs.
    pub metadata: Vec<(String, String)>,
    /// The tensors.
    pub tensors: Vec<Tensor>,
}

/// Splits a safetensors file into its parts; `None` when its header does not decode or its
/// tensors do not fit in it.
pub fn v2_parts(bytes: &[u8]) -> Option<V2Parts> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let start = n.checked_add(8)?;
    let header: safetensors::tensor::Metadata =
        serde_json::from_slice(bytes.get(8..start)?).ok()?;
    let mut metadata: Vec<(String, String)> = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    metadata.sort();
    let mut tensors = Vec::new();
    for name in header.offset_keys() {
        let info = header.info(&name)?;
        let (a, b) = info.data_offsets;
        let data = bytes.get(start.checked_add(a)?..start.checked_add(b)?)?;
        tensors.push(Tensor {
            name,
            dtype: info.dtype,
            shape: info.shape.clone(),
            data: data.to_vec(),
        });
    }
    Some(V2Parts { metadata, tensors })
}

/// Writes `parts` as a safetensors file with every checksum recomputed: the `sha256` map of
/// the `cnmf` metadata (when it is a JSON object) gets one entry per tensor, and
/// `cnmf_sha256` the digest of the `cnmf` text. `None` when the header cannot be written.
pub fn seal_v2(mut parts: V2Parts) -> Option<Vec<u8>> {
    let hex = |b: &[u8]| -> String {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    };
    if let Some((_, cnmf)) = parts.metadata.iter_mut().find(|(k, _)| k == "cnmf") {
        if let Ok(serde_json::Value::Object(mut o)) = serde_json::from_str(cnmf) {
            let sums = parts
                .tensors
                .iter()
                .map(|t| (t.name.clone(), hex(&t.data).into()))
                .collect();
            o.insert("sha256".into(), serde_json::Value::Object(sums));
            *cnmf = serde_json::Value::Object(o).to_string();
        }
    }
    let digest = parts
        .metadata
        .iter()
        .find(|(k, _)| k == "cnmf")
        .map(|(_, v)| hex(v.as_bytes()));
    if let (Some(d), Some((_, sum))) = (
        digest,
        parts.metadata.iter_mut().find(|(k, _)| k == "cnmf_sha256"),
    ) {
        *sum = d;
    }
    let metadata: Vec<(&str, &str)> = parts
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    v2::encode(&metadata, parts.tensors).ok()
}

/// [`seal_v2`] of [`v2_parts`]: the file with valid checksums, when its layout decodes.
pub fn reseal_v2(bytes: &[u8]) -> Option<Vec<u8>> {
    seal_v2(v2_parts(bytes)?)
}
