//! A sparse matrix seen both by rows and by columns, borrowed from sprs storage, so that the
//! row half-steps and the column half-steps can each run in parallel without atomics.

use cnmf_ratings::Ratings;
use sprs::CsMatI;

/// One compressed orientation: `ptr` (outer index -> range), inner indices and values.
#[derive(Debug)]
pub(crate) struct Compressed<'a> {
    pub ptr: Vec<usize>,
    pub idx: &'a [u32],
    pub val: &'a [f64],
}

impl Compressed<'_> {
    /// Inner indices and values of outer index `o`.
    #[inline]
    pub fn outer(&self, o: usize) -> (&[u32], &[f64]) {
        let r = self.ptr[o]..self.ptr[o + 1];
        (&self.idx[r.clone()], &self.val[r])
    }
}

/// An `n x m` sparse matrix by rows (`rows`, CSR) and by columns (`cols`, CSC).
#[derive(Debug)]
pub(crate) struct TwoWay<'a> {
    pub n: usize,
    pub m: usize,
    pub rows: Compressed<'a>,
    pub cols: Compressed<'a>,
}

fn compressed(mat: &CsMatI<f64, u32>) -> Compressed<'_> {
    let ptr = mat
        .indptr()
        .to_proper()
        .iter()
        .map(|&p| p as usize)
        .collect();
    Compressed {
        ptr,
        idx: mat.indices(),
        val: mat.data(),
    }
}

impl<'a> TwoWay<'a> {
    /// The two orientations of a matrix, given as one CSR and one CSC of the same matrix.
    pub fn new(csr: &'a CsMatI<f64, u32>, csc: &'a CsMatI<f64, u32>) -> Self {
        debug_assert!(csr.is_csr() && !csc.is_csr() && csr.shape() == csc.shape());
        let (n, m) = csr.shape();
        TwoWay {
            n,
            m,
            rows: compressed(csr),
            cols: compressed(csc),
        }
    }

    /// The observed ratings as a two-way sparse matrix.
    pub fn of_ratings(r: &'a Ratings) -> Self {
        TwoWay::new(r.csr(), r.csc())
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.rows.val.len()
    }
}
