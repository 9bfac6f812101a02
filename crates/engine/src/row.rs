//! A factor row of a known rank `K` held in registers by the one-loop kernels
//! (`kernels::predict_gather`, `kernels::judge_gather`): loaded once per entry, dotted with
//! the pass's own factors and multiply-added into the two sums.
//!
//! [`FactorRow`] fixes the operations and their order; each instruction set picks its type
//! ([`Simd::Row`](crate::isa::Simd::Row)). The plain array `[T; K]` is the reference, left to
//! LLVM to vectorise; `f32` under AVX2 uses [`F32Row`](crate::avx2::F32Row), which spells the
//! same operations out in 256-bit registers because LLVM's vectoriser splits the dot product
//! into 2-wide pieces and spills the constant row there. Both give the same bits (the
//! kernels' tests and the `isa` integration test compare them).

use crate::kernels::dot_arrays;
use crate::real::Real;

/// `K` factors in the registers of one instruction set. Every operation is the plain array's,
/// lane by lane and in the same order, so every implementation gives the same bits.
pub trait FactorRow<T: Real, const K: usize>: Copy {
    /// Whether [`FactorRow::dot`] is cheap enough for the row pass's dot products to call it
    /// entry by entry, instead of storing four lanes per entry first (`kernels::dots`).
    const DIRECT_DOTS: bool;
    /// The row's `K` values.
    fn load(row: &[T; K]) -> Self;
    /// Writes the row's `K` values.
    fn store(self, out: &mut [T; K]);
    /// `self . other` in `kernels::dot_arrays`'s order (`self` the first operand).
    fn dot(self, other: Self) -> T;
    /// `acc + s * self`, lane by lane ([`Real::madd`]: `s.madd(self_j, acc_j)`).
    fn madd_to(self, s: T, acc: Self) -> Self;
}

impl<T: Real, const K: usize> FactorRow<T, K> for [T; K] {
    const DIRECT_DOTS: bool = false;

    #[inline(always)]
    fn load(row: &[T; K]) -> Self {
        *row
    }

    #[inline(always)]
    fn store(self, out: &mut [T; K]) {
        *out = self;
    }

    #[inline(always)]
    fn dot(self, other: Self) -> T {
        dot_arrays(&self, &other)
    }

    #[inline(always)]
    fn madd_to(self, s: T, mut acc: Self) -> Self {
        for j in 0..K {
            acc[j] = s.madd(self[j], acc[j]);
        }
        acc
    }
}
