//! The numerical core shared by the engine and `cnmf-family`: one copy of the small kernels,
//! the two-way (CSR + CSC) view of a sparse matrix, the division guard and the instruction-set
//! dispatch, so that every multiplicative-update method of the workspace sums in the same
//! fixed orders and runs on the same wide instructions.
//!
//! Factor buffers are row-major `rows x k` (one user's or item's `k` factors contiguous).
//! Every function here gives the same bits whatever the number of rayon threads: parallel
//! reductions are split into chunks fixed by the data and summed in chunk order.
//!
//! ```
//! use cnmf_engine::numeric::{column_sums, dot, gram};
//! let rows = [1.0, 2.0, 3.0, 4.0]; // two rows of k = 2
//! assert_eq!(dot(&rows[..2], &rows[2..]), 11.0);
//! assert_eq!(gram(&rows, 2), vec![10.0, 14.0, 14.0, 20.0]);
//! assert_eq!(column_sums(&rows, 2), vec![4.0, 6.0]);
//! ```

use std::borrow::Cow;

use cnmf_ratings::Ratings;
use rayon::prelude::*;
use sprs::CsMatI;

pub use crate::factors::init_factors;
pub use crate::isa::{Isa, Job, Simd};
pub use crate::kernels::{axpy, dot, EPS};

/// Rows per parallel chunk of [`column_sums`] (fixed, so the summation order never depends
/// on the machine).
const REDUCE_CHUNK: usize = 256;

/// The `k x k` Gram matrix `sum_r x_r x_r^T` of the rows of a row-major buffer (symmetric,
/// row-major), on the widest instruction set this CPU has (same bits on every one).
pub fn gram(rows: &[f64], k: usize) -> Vec<f64> {
    crate::kernels::gram::<0, f64>(Isa::detect(), rows, rows, k)
}

/// Column sums `sum_r x_r` of a row-major buffer with `k` columns.
pub fn column_sums(rows: &[f64], k: usize) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = rows
        .par_chunks(REDUCE_CHUNK * k)
        .map(|chunk| {
            let mut s = vec![0.0; k];
            for r in chunk.chunks_exact(k) {
                axpy(&mut s, 1.0, r);
            }
            s
        })
        .collect();
    let mut total = vec![0.0; k];
    for p in &partials {
        axpy(&mut total, 1.0, p);
    }
    total
}

/// Whether every value is finite.
pub fn all_finite(x: &[f64]) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// Splits `s` into consecutive pieces at `cuts` (offsets into `s` in units of `scale`
/// elements, starting at 0); an empty `s` gives empty pieces (a buffer an algorithm does not
/// use).
///
/// # Panics
/// When a cut lies past the end of `s`.
pub fn split_at_cuts<'s, T>(mut s: &'s mut [T], cuts: &[usize], scale: usize) -> Vec<&'s mut [T]> {
    let pieces = cuts.len().saturating_sub(1);
    if s.is_empty() {
        return (0..pieces).map(|_| <&mut [T]>::default()).collect();
    }
    let mut out = Vec::with_capacity(pieces);
    for c in 0..pieces {
        let (piece, rest) = s.split_at_mut((cuts[c + 1] - cuts[c]) * scale);
        out.push(piece);
        s = rest;
    }
    out
}

/// One compressed orientation of a sparse matrix: `ptr` (outer index -> range of entries,
/// starting at 0), the inner indices and the values.
#[derive(Debug, Clone)]
pub struct Compressed<'a> {
    /// Entry range of outer index `o`: `ptr[o]..ptr[o + 1]`.
    pub ptr: Cow<'a, [u32]>,
    /// Inner index of every entry.
    pub idx: &'a [u32],
    /// Value of every entry.
    pub val: &'a [f64],
}

impl<'a> Compressed<'a> {
    fn of(mat: &'a CsMatI<f64, u32>) -> Self {
        Compressed {
            ptr: mat.proper_indptr(),
            idx: mat.indices(),
            val: mat.data(),
        }
    }

    /// Number of outer indices.
    pub fn outer_dim(&self) -> usize {
        self.ptr.len() - 1
    }

    /// The entry range of outer index `o`.
    #[inline]
    pub fn range(&self, o: usize) -> std::ops::Range<usize> {
        self.ptr[o] as usize..self.ptr[o + 1] as usize
    }

    /// Inner indices and values of outer index `o`.
    #[inline]
    pub fn outer(&self, o: usize) -> (&[u32], &[f64]) {
        let r = self.range(o);
        (&self.idx[r.clone()], &self.val[r])
    }
}

/// An `n x m` sparse matrix seen by rows (`rows`, CSR) and by columns (`cols`, CSC), borrowed
/// from sprs storage: row half-steps and column half-steps each run in parallel over their own
/// orientation, without atomics.
#[derive(Debug, Clone)]
pub struct TwoWay<'a> {
    /// Number of rows.
    pub n: usize,
    /// Number of columns.
    pub m: usize,
    /// The CSR orientation.
    pub rows: Compressed<'a>,
    /// The CSC orientation.
    pub cols: Compressed<'a>,
}

impl<'a> TwoWay<'a> {
    /// The two orientations of one matrix, given as its CSR and its CSC.
    ///
    /// # Panics
    /// When `csr` is not CSR, `csc` is not CSC, or their shapes differ.
    pub fn new(csr: &'a CsMatI<f64, u32>, csc: &'a CsMatI<f64, u32>) -> Self {
        assert!(csr.is_csr() && csc.is_csc() && csr.shape() == csc.shape());
        let (n, m) = csr.shape();
        TwoWay {
            n,
            m,
            rows: Compressed::of(csr),
            cols: Compressed::of(csc),
        }
    }

    /// The observed ratings: users by rows, items by columns.
    pub fn of_ratings(r: &'a Ratings) -> Self {
        TwoWay::new(r.csr(), r.csc())
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.rows.val.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gram_and_sums_match_naive() {
        let k = 3;
        let rows: Vec<f64> = (0..(1000 * k))
            .map(|i| ((i * 37) % 11) as f64 * 0.1)
            .collect();
        let g = gram(&rows, k);
        let s = column_sums(&rows, k);
        for a in 0..k {
            let naive_s: f64 = rows.chunks(k).map(|r| r[a]).sum();
            assert!((s[a] - naive_s).abs() < 1e-9);
            for b in 0..k {
                let naive: f64 = rows.chunks(k).map(|r| r[a] * r[b]).sum();
                assert!((g[a * k + b] - naive).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn split_follows_cuts() {
        let mut d = [1, 2, 3, 4, 5];
        let parts = split_at_cuts(&mut d, &[0, 2, 2, 5], 1);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], &[1, 2]);
        assert!(parts[1].is_empty());
        assert_eq!(parts[2], &[3, 4, 5]);
        let mut empty: [u8; 0] = [];
        assert_eq!(split_at_cuts(&mut empty, &[0, 3, 7], 2).len(), 2);
    }
}
