//! [`F32Row`]: an `f32` factor row in AVX2 registers, the row type of the AVX2 path's
//! one-loop kernels (see [`crate::row`]).
//!
//! The plain `[f32; K]` row computes the same values, but LLVM vectorises its dot product into
//! 2-wide pieces with the constant row spilled to the stack: about 50 instructions per entry
//! of a column at `k = 20`. Here the row is three registers (8 + 8 + 4 lanes at `k = 20`) and
//! the dot product eleven instructions, in the same order, hence the same bits.
//!
//! Besides [`crate::isa`], the only module with `unsafe` code: the AVX2 and FMA intrinsics
//! (which need the CPU to have them) and unaligned loads and stores within the row's array.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128, __m256, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps,
    _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps, _mm_add_ps, _mm_add_ss,
    _mm_cvtss_f32, _mm_fmadd_ps, _mm_loadu_ps, _mm_movehdup_ps, _mm_movehl_ps, _mm_set1_ps,
    _mm_setzero_ps, _mm_storeu_ps,
};

use crate::row::FactorRow;

/// Most 256-bit chunks a row holds: ranks up to 128 (the largest rank the fit compiles for is
/// 100).
const CHUNKS: usize = 16;

/// `K` `f32` factors in AVX2 registers, laid out as [`crate::kernels::dot_arrays`] sums them:
/// `K / 8` chunks of 8 lanes, one chunk of 4 when `K % 8 >= 4`, and the `K % 4` values left
/// as scalars. Chunks past `K / 8` are unused (and, once inlined, never materialised).
///
/// **Only for code running on a CPU with AVX2 and FMA.** It is the row type of
/// [`crate::isa::Avx2`] alone, whose kernels run inside `isa::run_avx2` after
/// [`crate::isa::Isa::run`] checked the CPU; the tests that call those kernels directly check
/// the CPU first.
#[derive(Clone, Copy)]
pub struct F32Row<const K: usize> {
    y: [__m256; CHUNKS],
    x: __m128,
    t: [f32; 3],
}

impl<const K: usize> F32Row<K> {
    /// Full chunks of 8 lanes.
    const FULL: usize = {
        assert!(K <= 8 * CHUNKS, "rank beyond F32Row's chunks");
        K / 8
    };
    /// Whether a chunk of 4 follows them.
    const HALF: bool = K % 8 >= 4;
    /// Where the scalar tail starts.
    const TAIL: usize = 8 * Self::FULL + if Self::HALF { 4 } else { 0 };
}

impl<const K: usize> FactorRow<f32, K> for F32Row<K> {
    const DIRECT_DOTS: bool = true;

    #[inline(always)]
    fn load(row: &[f32; K]) -> Self {
        let p = row.as_ptr();
        // SAFETY: AVX2 is available (see the type's docs); every load reads 8 (4) values
        // starting at `8 c < 8 FULL` (at `8 FULL`, when `HALF`), within the `K` of `row`.
        unsafe {
            let mut y = [_mm256_setzero_ps(); CHUNKS];
            for (c, y) in y.iter_mut().enumerate().take(Self::FULL) {
                *y = _mm256_loadu_ps(p.add(8 * c));
            }
            let x = if Self::HALF {
                _mm_loadu_ps(p.add(8 * Self::FULL))
            } else {
                _mm_setzero_ps()
            };
            let mut t = [0.0; 3];
            t[..K - Self::TAIL].copy_from_slice(&row[Self::TAIL..]);
            F32Row { y, x, t }
        }
    }

    #[inline(always)]
    fn store(self, out: &mut [f32; K]) {
        let p = out.as_mut_ptr();
        // SAFETY: as in `load`, for stores.
        unsafe {
            for (c, &y) in self.y.iter().enumerate().take(Self::FULL) {
                _mm256_storeu_ps(p.add(8 * c), y);
            }
            if Self::HALF {
                _mm_storeu_ps(p.add(8 * Self::FULL), self.x);
            }
        }
        out[Self::TAIL..].copy_from_slice(&self.t[..K - Self::TAIL]);
    }

    /// `dot_lanes` (eight lanes over the full chunks, folded to four, plus the chunk of 4),
    /// `dot_fold` and the scalar tail, in registers.
    #[inline(always)]
    fn dot(self, other: Self) -> f32 {
        // SAFETY: AVX2 and FMA are available (see the type's docs).
        let mut s = unsafe {
            let mut acc = _mm256_setzero_ps();
            for c in 0..Self::FULL {
                acc = _mm256_fmadd_ps(self.y[c], other.y[c], acc);
            }
            // q_l = acc_l + acc_{l+4}.
            let mut q = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
            if Self::HALF {
                q = _mm_fmadd_ps(self.x, other.x, q);
            }
            // (q0 + q2) + (q1 + q3).
            let h = _mm_add_ps(q, _mm_movehl_ps(q, q));
            _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)))
        };
        for j in 0..K - Self::TAIL {
            s = self.t[j].mul_add(other.t[j], s);
        }
        s
    }

    #[inline(always)]
    fn madd_to(self, s: f32, mut acc: Self) -> Self {
        // SAFETY: AVX2 and FMA are available (see the type's docs).
        unsafe {
            let s8 = _mm256_set1_ps(s);
            for c in 0..Self::FULL {
                acc.y[c] = _mm256_fmadd_ps(s8, self.y[c], acc.y[c]);
            }
            if Self::HALF {
                acc.x = _mm_fmadd_ps(_mm_set1_ps(s), self.x, acc.x);
            }
        }
        for j in 0..K - Self::TAIL {
            acc.t[j] = s.mul_add(self.t[j], acc.t[j]);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    //! [`F32Row`] against the plain array, bit for bit, at every rank the kernels may use.
    use super::*;

    /// Deterministic values in `[-1, 2)` (a linear congruential generator).
    fn values<const K: usize>(seed: u64) -> [f32; K] {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        std::array::from_fn(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (-1.0 + 3.0 * ((s >> 40) as f64 / (1u64 << 24) as f64)) as f32
        })
    }

    fn agrees<const K: usize>() {
        let (a, b, c) = (values::<K>(1), values::<K>(2), values::<K>(3));
        let (ra, rb, rc) = (
            F32Row::<K>::load(&a),
            F32Row::<K>::load(&b),
            F32Row::<K>::load(&c),
        );
        let mut out = [f32::NAN; K];
        ra.store(&mut out);
        assert_eq!(
            out.map(f32::to_bits),
            a.map(f32::to_bits),
            "K = {K}: load, store"
        );
        assert_eq!(
            ra.dot(rb).to_bits(),
            FactorRow::<f32, K>::dot(a, b).to_bits(),
            "K = {K}: dot"
        );
        let s = -0.7f32;
        rb.madd_to(s, rc).store(&mut out);
        let plain = FactorRow::<f32, K>::madd_to(b, s, c);
        assert_eq!(
            out.map(f32::to_bits),
            plain.map(f32::to_bits),
            "K = {K}: madd_to"
        );
    }

    #[test]
    fn f32_rows_in_registers_give_the_plain_arrays_bits() {
        if !crate::isa::avx2_or_skip() {
            return;
        }
        macro_rules! ranks {
            ($($k:literal),*) => {$( agrees::<$k>(); )*};
        }
        ranks!(
            1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 15, 16, 19, 20, 24, 25, 28, 30, 31, 32, 40, 50, 64,
            100
        );
    }
}
