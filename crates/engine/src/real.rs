//! The floating-point element type of the passes: [`Real`], implemented for `f64` (the
//! default precision) and `f32` ([`Precision::F32`](crate::Precision::F32)).
//!
//! The kernels are written once over `T: Real`: factors, rating values and the per-entry
//! arithmetic are `T`; the statistics (losses, counts, `||W||^2`) are summed in `f64` through
//! [`Real::to_f64`], so a long sum of small `f32` terms does not lose its low digits. For
//! `f64` every conversion is the identity, so the `f64` instantiation computes exactly what
//! the kernels computed before they were generic (same operations, same order, same bits).

use std::borrow::Cow;
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Sub};

use crate::row::FactorRow;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type of the passes (`f32` or `f64`; sealed).
pub trait Real:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + Debug
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + AddAssign
    + MulAssign
    + 'static
{
    /// `0`.
    const ZERO: Self;
    /// `1`.
    const ONE: Self;
    /// `2`.
    const TWO: Self;
    /// `0.5`.
    const HALF: Self;
    /// The division guard [`EPS`](crate::numeric::EPS) in this type.
    const EPS: Self;
    /// Accumulator lanes of a dot product (see `kernels::dot_lanes`): 4 for `f64` (the
    /// engine's historical order), 8 for `f32` (one 256-bit register).
    const DOT_LANES: usize;
    /// A factor row of rank `K` in AVX2 registers (the row type of the AVX2 path, `isa::Avx2`):
    /// `avx2::F32Row` for `f32` on x86-64, the plain array otherwise (LLVM vectorises the `f64`
    /// kernels well as they are).
    type Avx2Row<const K: usize>: FactorRow<Self, K>;
    /// `self * b + c`: two roundings for `f64` (the historical bits), one fused rounding for
    /// `f32` (`f32::mul_add`: an FMA instruction on the AVX2 and AVX-512 paths and on aarch64;
    /// the C library's `fmaf`, slower but exact, on an x86-64 CPU without FMA).
    fn madd(self, b: Self, c: Self) -> Self;
    /// The nearest value of this type.
    fn from_f64(x: f64) -> Self;
    /// The exact `f64` value.
    fn to_f64(self) -> f64;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// The larger of the two (IEEE `maxNum`, as `f64::max`).
    fn max(self, other: Self) -> Self;
    /// Whether neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// `f64` values in this type: borrowed for `f64`, a rounded copy for `f32`.
    fn from_f64_slice(x: &[f64]) -> Cow<'_, [Self]>;
    /// These values as `f64`: borrowed for `f64`, an exact copy for `f32`.
    fn to_f64_slice(x: &[Self]) -> Cow<'_, [f64]>;
    /// `f64` values in this type, by value (no copy for `f64`).
    fn from_f64_vec(x: Vec<f64>) -> Vec<Self>;
    /// These values as `f64`, by value (no copy for `f64`).
    fn into_f64_vec(x: Vec<Self>) -> Vec<f64>;
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    const TWO: f64 = 2.0;
    const HALF: f64 = 0.5;
    const EPS: f64 = crate::kernels::EPS;
    const DOT_LANES: usize = 4;
    type Avx2Row<const K: usize> = [f64; K];
    #[inline(always)]
    fn madd(self, b: f64, c: f64) -> f64 {
        self * b + c
    }
    #[inline(always)]
    fn from_f64(x: f64) -> f64 {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline(always)]
    fn max(self, other: f64) -> f64 {
        f64::max(self, other)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    fn from_f64_slice(x: &[f64]) -> Cow<'_, [f64]> {
        Cow::Borrowed(x)
    }
    fn to_f64_slice(x: &[f64]) -> Cow<'_, [f64]> {
        Cow::Borrowed(x)
    }
    fn from_f64_vec(x: Vec<f64>) -> Vec<f64> {
        x
    }
    fn into_f64_vec(x: Vec<f64>) -> Vec<f64> {
        x
    }
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    const TWO: f32 = 2.0;
    const HALF: f32 = 0.5;
    // 1e-12 is a normal f32 (the smallest is about 1.2e-38): the same guard.
    const EPS: f32 = crate::kernels::EPS as f32;
    const DOT_LANES: usize = 8;
    #[cfg(target_arch = "x86_64")]
    type Avx2Row<const K: usize> = crate::avx2::F32Row<K>;
    #[cfg(not(target_arch = "x86_64"))]
    type Avx2Row<const K: usize> = [f32; K];
    #[inline(always)]
    fn madd(self, b: f32, c: f32) -> f32 {
        self.mul_add(b, c)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    #[inline(always)]
    fn max(self, other: f32) -> f32 {
        f32::max(self, other)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    fn from_f64_slice(x: &[f64]) -> Cow<'_, [f32]> {
        Cow::Owned(x.iter().map(|&v| v as f32).collect())
    }
    fn to_f64_slice(x: &[f32]) -> Cow<'_, [f64]> {
        Cow::Owned(x.iter().map(|&v| f64::from(v)).collect())
    }
    fn from_f64_vec(x: Vec<f64>) -> Vec<f32> {
        x.iter().map(|&v| v as f32).collect()
    }
    fn into_f64_vec(x: Vec<f32>) -> Vec<f64> {
        x.iter().map(|&v| f64::from(v)).collect()
    }
}
