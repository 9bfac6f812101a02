//! Small dense kernels over row-major factor buffers (`rows x k`, one row contiguous), written
//! so that every result is bit-identical whatever the number of rayon threads: parallel work
//! is split into fixed-size chunks and partial results are summed in chunk order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Rows per parallel chunk for reductions. Fixed (not derived from the thread count) so that
/// the summation order, and hence every bit of the result, never depends on the machine.
const REDUCE_CHUNK: usize = 256;

/// Divisions are guarded by this (as in the project's specification).
pub(crate) const EPS: f64 = 1e-12;

/// `a . b`, summed in four interleaved lanes (a fixed order, so still deterministic) so that
/// the compiler can vectorise it; a single running sum is a chain of dependent additions.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut lanes = [0.0; 4];
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            lanes[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// `y += alpha * x`.
#[inline]
pub(crate) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// The `k x k` Gram matrix `sum_r x_r x_r^T` of the rows of `rows` (row-major, symmetric).
pub(crate) fn gram(rows: &[f64], k: usize) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = rows
        .par_chunks(REDUCE_CHUNK * k)
        .map(|chunk| {
            let mut g = vec![0.0; k * k];
            for r in chunk.chunks_exact(k) {
                for a in 0..k {
                    axpy(r[a], r, &mut g[a * k..(a + 1) * k]);
                }
            }
            g
        })
        .collect();
    sum_in_order(partials, k * k)
}

/// Column sums `sum_r x_r` of a row-major buffer.
pub(crate) fn column_sums(rows: &[f64], k: usize) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = rows
        .par_chunks(REDUCE_CHUNK * k)
        .map(|chunk| {
            let mut s = vec![0.0; k];
            for r in chunk.chunks_exact(k) {
                axpy(1.0, r, &mut s);
            }
            s
        })
        .collect();
    sum_in_order(partials, k)
}

/// Sum of per-row partial results, in row order (sequential: deterministic by construction).
pub(crate) fn sum_in_order(partials: Vec<Vec<f64>>, len: usize) -> Vec<f64> {
    let mut total = vec![0.0; len];
    for p in partials {
        axpy(1.0, &p, &mut total);
    }
    total
}

/// Seeded initial factors as the specification prescribes for NMF: every entry is
/// `s * U(0.5, 1.5)` with `s = sqrt(mean / k)`, so that the mean of `W H` is about `mean`.
/// `W` (n x k, row-major) is drawn first, then `H` (m x k, one item per row).
pub(crate) fn nmf_init(seed: u64, n: usize, m: usize, k: usize, mean: f64) -> (Vec<f64>, Vec<f64>) {
    let s = (mean / k as f64).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw =
        |len: usize| -> Vec<f64> { (0..len).map(|_| s * rng.random_range(0.5..1.5)).collect() };
    let w = draw(n * k);
    let h = draw(m * k);
    (w, h)
}

/// Whether every value is finite.
pub(crate) fn all_finite(x: &[f64]) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// Splits `data` into consecutive mutable slices at the boundaries `ptr` (a CSR/CSC index
/// pointer starting at 0), one slice per outer index.
pub(crate) fn split_by_ptr<'a, T>(mut data: &'a mut [T], ptr: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(ptr.len().saturating_sub(1));
    for w in ptr.windows(2) {
        let (head, tail) = data.split_at_mut(w[1] - w[0]);
        out.push(head);
        data = tail;
    }
    out
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
    fn split_follows_pointers() {
        let mut d = [1, 2, 3, 4, 5];
        let parts = split_by_ptr(&mut d, &[0, 2, 2, 5]);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], &[1, 2]);
        assert!(parts[1].is_empty());
        assert_eq!(parts[2], &[3, 4, 5]);
    }

    #[test]
    fn init_is_seeded_and_positive() {
        let (w1, h1) = nmf_init(7, 4, 3, 2, 3.0);
        let (w2, h2) = nmf_init(7, 4, 3, 2, 3.0);
        assert_eq!((w1.clone(), h1.clone()), (w2, h2));
        let s = (3.0f64 / 2.0).sqrt();
        assert!(w1.iter().chain(&h1).all(|&x| x >= 0.5 * s && x < 1.5 * s));
        assert_ne!(nmf_init(8, 4, 3, 2, 3.0).0, w1);
    }
}
