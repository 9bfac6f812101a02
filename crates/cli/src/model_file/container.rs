//! The safetensors container, independent of what a model file puts in it: writing a file
//! from tensors and metadata with a fixed key order, and reading one front to back from a
//! regular file, bytes in memory or a stream, skipping tensors and hashing the ones read in
//! one pass. Format version 2 ([`v2`](super::v2)) says which tensors and metadata a model
//! file holds and checks them.
//!
//! The layout is the `safetensors` crate's: an 8-byte little-endian header length, the JSON
//! header (padded with spaces to a multiple of 8 bytes), then the tensors end to end, by
//! descending dtype and then name, so every tensor starts at a multiple of its element size.

use std::io::{self, Read, Seek, SeekFrom};

use safetensors::tensor::TensorInfo;
use safetensors::Dtype;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Longest header read or written: the limit of the `safetensors` crate and of the Python
/// package, so every file written here opens there.
pub const MAX_HEADER: u64 = 100_000_000;

/// Bytes read at a time: a multiple of every element size.
pub(super) const CHUNK: usize = 1 << 20;

/// One tensor to write: name, element type, shape and little-endian bytes.
pub struct Tensor {
    /// The tensor's name in the header.
    pub name: String,
    /// Its element type.
    pub dtype: Dtype,
    /// Its shape (C order).
    pub shape: Vec<usize>,
    /// Its bytes, little-endian.
    pub data: Vec<u8>,
}

impl Tensor {
    /// A tensor of `f64` values.
    pub(super) fn f64(name: &str, shape: Vec<usize>, v: &[f64]) -> Tensor {
        Tensor {
            name: name.into(),
            dtype: Dtype::F64,
            shape,
            data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    /// A tensor of `i64` values.
    pub(super) fn i64(name: &str, shape: Vec<usize>, v: &[i64]) -> Tensor {
        Tensor {
            name: name.into(),
            dtype: Dtype::I64,
            shape,
            data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    /// A tensor of `u32` values.
    pub(super) fn u32(name: &str, shape: Vec<usize>, v: impl IntoIterator<Item = u32>) -> Tensor {
        Tensor {
            name: name.into(),
            dtype: Dtype::U32,
            shape,
            data: v.into_iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Writes a safetensors file: the header (`__metadata__` with `metadata`'s keys in the given
/// order, then the tensors), padded with spaces to a multiple of 8 bytes, then the tensors'
/// bytes. The tensors are laid out as the `safetensors` crate lays them out (descending
/// dtype, then name), so every tensor starts at a multiple of its element size.
pub fn encode(metadata: &[(&str, &str)], mut tensors: Vec<Tensor>) -> Result<Vec<u8>, String> {
    tensors.sort_by(|a, b| b.dtype.cmp(&a.dtype).then_with(|| a.name.cmp(&b.name)));
    let mut offset = 0;
    let infos: Vec<(&str, TensorInfo)> = tensors
        .iter()
        .map(|t| {
            let info = TensorInfo {
                dtype: t.dtype,
                shape: t.shape.clone(),
                data_offsets: (offset, offset + t.data.len()),
            };
            offset += t.data.len();
            (t.name.as_str(), info)
        })
        .collect();
    let mut header = serde_json::to_vec(&HeaderOut {
        metadata,
        tensors: &infos,
    })
    .map_err(|e| format!("cannot encode the model: {e}"))?;
    header.resize(header.len().next_multiple_of(8), b' ');
    if header.len() as u64 > MAX_HEADER {
        return Err(format!(
            "the safetensors header would be {} bytes, more than the {MAX_HEADER} safetensors \
             readers accept (too many user and item ids): write --model-format json instead",
            header.len()
        ));
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for t in &tensors {
        out.extend_from_slice(&t.data);
    }
    Ok(out)
}

/// The header as written: `__metadata__` first, then the tensors in offset order.
struct HeaderOut<'a> {
    metadata: &'a [(&'a str, &'a str)],
    tensors: &'a [(&'a str, TensorInfo)],
}

impl Serialize for HeaderOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1 + self.tensors.len()))?;
        map.serialize_entry("__metadata__", &MetadataOut(self.metadata))?;
        for (name, info) in self.tensors {
            map.serialize_entry(name, info)?;
        }
        map.end()
    }
}

/// `__metadata__`, keys in the given order.
struct MetadataOut<'a>(&'a [(&'a str, &'a str)]);

impl Serialize for MetadataOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// `Read + Seek`, as one trait object.
pub(super) trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// Where a file is read from, positioned somewhere in it (a version 2 model file: just after
/// its first [`PREFIX`](super::v2::PREFIX) bytes).
pub(super) enum Source<'a> {
    /// A regular file or bytes in memory, of this total length: skipping seeks.
    Seekable(&'a mut dyn ReadSeek, u64),
    /// Standard input or a pipe: skipping reads and discards.
    Stream(&'a mut dyn Read),
}

impl Source<'_> {
    fn reader(&mut self) -> &mut dyn Read {
        match self {
            Source::Seekable(r, _) => &mut **r,
            Source::Stream(r) => &mut **r,
        }
    }

    /// The next `len` bytes; `UnexpectedEof` when the input ends first. Memory grows with
    /// what arrives, not with what a header declares.
    pub(super) fn read_vec(&mut self, len: usize) -> io::Result<Vec<u8>> {
        let mut v = Vec::with_capacity(len.min(1 << 26));
        self.reader().take(len as u64).read_to_end(&mut v)?;
        if v.len() < len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(v)
    }

    /// Reads the next `len` bytes through `buf`, handing each chunk to `sink`; returns their
    /// SHA-256. `UnexpectedEof` when the input ends first.
    pub(super) fn read_hashed(
        &mut self,
        len: usize,
        buf: &mut [u8],
        mut sink: impl FnMut(&[u8]),
    ) -> io::Result<[u8; 32]> {
        let mut hasher = Sha256::new();
        let mut left = len;
        let reader = self.reader();
        while left > 0 {
            let chunk = &mut buf[..left.min(CHUNK)];
            reader.read_exact(chunk)?;
            hasher.update(&*chunk);
            sink(chunk);
            left -= chunk.len();
        }
        Ok(hasher.finalize().into())
    }

    /// Skips `len` bytes (the caller checked that a seekable input holds them).
    pub(super) fn skip(&mut self, len: u64) -> io::Result<()> {
        match self {
            Source::Seekable(r, _) => {
                let by = i64::try_from(len).map_err(io::Error::other)?;
                r.seek(SeekFrom::Current(by)).map(drop)
            }
            Source::Stream(r) => {
                let skipped = io::copy(&mut (&mut **r).take(len), &mut io::sink())?;
                if skipped < len {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(())
            }
        }
    }

    /// Whether the input ends here.
    pub(super) fn at_end(&mut self) -> io::Result<bool> {
        let mut b = [0u8; 1];
        loop {
            match self.reader().read(&mut b) {
                Ok(n) => return Ok(n == 0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// An I/O error met while reading `what`: a short read is a truncated file.
pub(super) fn read_error(what: &str, e: io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        format!("truncated: the file ends inside {what}")
    } else {
        format!("cannot read the model file: {e}")
    }
}

/// A tensor's values, decoded from little-endian bytes as they are read (F64, I64 and U32:
/// the element types model files use).
pub(super) enum Values {
    /// F64 values.
    F64(Vec<f64>),
    /// I64 values.
    I64(Vec<i64>),
    /// U32 values.
    U32(Vec<u32>),
}

impl Values {
    /// Appends the values of `chunk` (whole elements: chunks are multiples of 8 bytes but for
    /// a tensor's last one, and tensor sizes are multiples of their element size).
    pub(super) fn extend(&mut self, chunk: &[u8]) {
        match self {
            Values::F64(v) => v.extend(chunk.chunks_exact(8).map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a)
            })),
            Values::I64(v) => v.extend(chunk.chunks_exact(8).map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                i64::from_le_bytes(a)
            })),
            Values::U32(v) => v.extend(chunk.chunks_exact(4).map(|c| {
                let mut a = [0u8; 4];
                a.copy_from_slice(c);
                u32::from_le_bytes(a)
            })),
        }
    }

    /// The values if they are `f64`, else none.
    pub(super) fn f64s(self) -> Vec<f64> {
        match self {
            Values::F64(v) => v,
            _ => Vec::new(),
        }
    }

    /// The values if they are `i64`, else none.
    pub(super) fn i64s(self) -> Vec<i64> {
        match self {
            Values::I64(v) => v,
            _ => Vec::new(),
        }
    }

    /// The values if they are `u32`, else none.
    pub(super) fn u32s(self) -> Vec<u32> {
        match self {
            Values::U32(v) => v,
            _ => Vec::new(),
        }
    }
}
