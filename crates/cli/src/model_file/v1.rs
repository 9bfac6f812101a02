//! Format version 1 of the model file: one ASCII header line
//!
//! ```text
//! CNMF-MODEL 1 sha256=<64 lowercase hex digits> bytes=<payload length>\n
//! ```
//!
//! followed by exactly `bytes` bytes of JSON payload (one object, laid out by the structs of
//! [`schema`](super::schema), the CLI's own) whose SHA-256 is the header's. Floats are JSON
//! numbers printed as the shortest decimal that round-trips and parsed back exactly, so a
//! loaded model predicts bit for bit what the fitted one did.
//!
//! [`read`] checks the header, the version, the length and the checksum, then decodes the
//! payload into the [`Decoded`] parts that both format versions share (the cross-checks are
//! [`ModelFile::from_decoded`]'s). `cnmf fit --model-format json` writes this version.

use std::io::{BufRead, BufReader, Read};

use sha2::{Digest, Sha256};

use super::schema::{self, Ids, Payload, RatedPattern};
use super::{hex, Decoded, History, ModelFile, Rated};
use crate::input::clip;
use crate::limits::MAX_MODEL_BYTES;

/// The first word of every version 1 file.
pub const MAGIC: &str = "CNMF-MODEL";
/// The format version of this layout.
pub const FORMAT_VERSION: u32 = 1;
/// Longest header line accepted (the real one is about 100 bytes).
const MAX_HEADER: usize = 256;

/// Encodes `mf` in format version 1: header line plus payload. Errors when `mf` was loaded
/// without its rated pattern (which the payload holds).
pub(super) fn to_bytes(mf: &ModelFile) -> Result<Vec<u8>, String> {
    let rated = mf.rated.as_ref().ok_or_else(|| {
        "the model was loaded without its rated pattern, which format version 1 stores".to_string()
    })?;
    let payload = Payload {
        training: mf.training.clone(),
        users: Ids(mf.users.clone()),
        items: Ids(mf.items.clone()),
        rated: RatedPattern {
            indptr: rated.indptr.clone(),
            gaps: encode_gaps(&rated.indptr, &rated.items),
            values: rated.history.as_ref().map(|h| h.values.clone()),
            times: rated.history.as_ref().map(|h| h.times.clone()),
        },
        user_means: mf.user_means.clone(),
        item_means: mf.item_means.clone(),
        corrupt_ratings: mf.corrupt_ratings.clone(),
        model: schema::Model::from_engine(&mf.model),
    };
    let body = serde_json::to_vec(&payload).map_err(|e| format!("cannot encode the model: {e}"))?;
    let digest = hex(&Sha256::digest(&body));
    let mut out = format!(
        "{MAGIC} {FORMAT_VERSION} sha256={digest} bytes={}\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reads a version 1 file from `reader`: the header line first (at most [`MAX_HEADER`]
/// bytes, so a file that is not a model costs a few bytes, not its size), then exactly the
/// declared payload length (at most [`MAX_MODEL_BYTES`]) and one byte more to detect trailing
/// data. The error is the problem, without the file's name.
pub(super) fn read(reader: impl Read) -> Result<Decoded, String> {
    let mut reader = BufReader::new(reader);
    let mut first = Vec::with_capacity(MAX_HEADER);
    (&mut reader)
        .take(MAX_HEADER as u64)
        .read_until(b'\n', &mut first)
        .map_err(|e| format!("cannot read the model file: {e}"))?;
    let header = Header::parse(&first)?;
    let mut body = Vec::with_capacity(header.declared.min(1 << 26));
    reader
        .take(header.declared as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot read the model file: {e}"))?;
    from_body(&header, &body)
}

/// Decodes the bytes of a whole version 1 file.
pub(super) fn from_bytes(bytes: &[u8]) -> Result<Decoded, String> {
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
    from_body(&header, body)
}

/// Checks the payload `body` (at most one byte longer than declared: the reader stops there)
/// against the header, then decodes it.
fn from_body(header: &Header, body: &[u8]) -> Result<Decoded, String> {
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
    let items = decode_gaps(&p.rated.indptr, &p.rated.gaps, p.items.0.len())
        .map_err(|e| format!("inconsistent model: rated items: {e}"))?;
    let history = match (p.rated.values, p.rated.times) {
        (Some(values), Some(times)) => Some(History { values, times }),
        (None, None) => None,
        _ => {
            return Err(
                "inconsistent model: the rated pattern stores values without timestamps or \
                 timestamps without values"
                    .into(),
            )
        }
    };
    Ok(Decoded {
        training: p.training,
        users: p.users.0,
        items: p.items.0,
        n_stored: items.len(),
        rated: Some(Rated {
            indptr: p.rated.indptr,
            items,
            history,
        }),
        user_means: p.user_means,
        item_means: p.item_means,
        corrupt_ratings: p.corrupt_ratings,
        model: p.model,
    })
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
                "not a cnmf model file (it starts neither with a `{MAGIC} <version> sha256=.. bytes=..` header line nor with a safetensors header)"
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
                "model file format version {version} is not supported: this cnmf ({}) reads \
                 version 1 (a `{MAGIC} 1` header line) and version 2 (safetensors); refit the \
                 model or use a matching cnmf",
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{info, tiny};
    use super::super::{ModelFormat, Need};
    use super::*;

    /// The version 1 bytes of the model file of [`tiny`].
    fn tiny_file() -> Vec<u8> {
        let (data, model) = tiny();
        ModelFile::from_fit(model, &data, info(data.nnz()))
            .to_bytes(ModelFormat::Json)
            .unwrap()
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let (data, model) = tiny();
        assert!(
            !model.corrupt_entries().is_empty(),
            "fixture should flag something"
        );
        let mf = ModelFile::from_fit(model.clone(), &data, info(data.nnz()));
        let bytes = mf.to_bytes(ModelFormat::Json).unwrap();
        assert!(bytes.starts_with(b"CNMF-MODEL 1 sha256="));
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
        assert_eq!(back.to_bytes(ModelFormat::Json).unwrap(), bytes);
    }

    /// Files written before the model file had its own schema (commit 0fbe530) load, and are
    /// written back byte for byte.
    #[test]
    fn v1_files_load_and_are_written_back_identically() {
        let fixtures: [&[u8]; 2] = [
            include_bytes!("../../tests/fixtures/v1_ignore_corrupt.cnmf"),
            include_bytes!("../../tests/fixtures/v1_early_stopped.cnmf"),
        ];
        for v1 in fixtures {
            let mf = ModelFile::from_bytes(v1).unwrap();
            assert_eq!(mf.to_bytes(ModelFormat::Json).unwrap(), v1);
        }
    }

    /// A version 1 file is read whole whatever the command needs: `Need::Scoring` gets the
    /// rated pattern too.
    #[test]
    fn scoring_loads_of_v1_files_keep_the_rated_pattern() {
        let mf = ModelFile::from_bytes_for(&tiny_file(), Need::Scoring).unwrap();
        assert!(mf.rated.is_some());
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
        let e = ModelFile::from_bytes(&mf.to_bytes(ModelFormat::Json).unwrap()).unwrap_err();
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

    /// Stored values need their timestamps and the other way round.
    #[test]
    fn stored_values_come_with_their_timestamps() {
        let bytes = tiny_file();
        let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        let mut p: serde_json::Value = serde_json::from_slice(&bytes[nl + 1..]).unwrap();
        let n = p["model"]["n_ratings"].as_u64().unwrap() as usize;
        p["rated"]["values"] = vec![5.0; n].into();
        let body = serde_json::to_vec(&p).unwrap();
        let digest = hex(&Sha256::digest(&body));
        let mut file = format!("{MAGIC} 1 sha256={digest} bytes={}\n", body.len()).into_bytes();
        file.extend_from_slice(&body);
        let e = ModelFile::from_bytes(&file).unwrap_err();
        assert!(e.contains("values without timestamps"), "{e}");
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
