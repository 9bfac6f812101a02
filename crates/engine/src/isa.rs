//! Runtime choice of the instruction set the hot loops are compiled for.
//!
//! The workspace is compiled for baseline x86-64 (SSE2), so that its binaries run on any
//! x86-64 CPU (and on aarch64). The row and column passes are compute-bound at SSE2 width, so
//! each parallel chunk of a pass is a [`Job`] that is compiled once per instruction set
//! ([`Simd`] marker types) and run through [`Isa::run`], which calls the copy compiled with
//! `#[target_feature(enable = "avx2,fma")]` (or `"avx512f,fma"`) when the CPU has it. The job's
//! code (the kernels) is `#[inline(always)]` all the way down, so it is inlined into, and
//! compiled with the features of, each wrapper.
//!
//! **Same bits on every path.** The kernels spell out their accumulators and summation order;
//! LLVM vectorises them at any width without reassociating (no fast-math) and never contracts
//! `a * b + c` into a fused multiply-add on its own (Rust does not allow it). Where a kernel
//! wants one it says so ([`Real::madd`](crate::real::Real::madd): fused for `f32` only), and
//! every path computes it exactly (an FMA instruction here, the C library's `fmaf` on a
//! portable x86-64 build). A test fits every algorithm on the widest and the portable path and
//! compares the factors bit for bit.
//!
//! One of the two modules of the workspace with `unsafe` code (the other is `avx2`, the
//! AVX2 path's `f32` rows): two one-line calls of `#[target_feature]` functions after the CPU
//! was checked to have the features, and one prefetch hint ([`prefetch`]).
#![allow(unsafe_code)]

use crate::real::Real;
use crate::row::FactorRow;

/// An instruction set the passes can run on; chosen once per fit (not part of the stable API:
/// see `FitOptions::isa`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// The baseline the crate is compiled for (SSE2 on x86-64, NEON on aarch64).
    Portable,
    /// x86-64 with AVX2 and FMA (16 registers of 4 `f64`).
    Avx2,
    /// x86-64 with AVX-512F (32 registers of 8 `f64`).
    Avx512,
}

impl Isa {
    /// The widest instruction set this CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512() {
                return Isa::Avx512;
            }
            if has_avx2() {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Runs `job` compiled for this instruction set.
    ///
    /// Any value is sound: the features are checked again here (a cached load), and an
    /// instruction set the CPU lacks runs the portable code.
    #[inline]
    pub fn run<J: Job>(self, job: J) -> J::Output {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if has_avx512() => {
                // SAFETY: `run_avx512` is an ordinary safe computation compiled with AVX-512F
                // (and the features it implies) enabled; calling it is sound exactly when the
                // CPU supports those features, which the guard just checked.
                unsafe { run_avx512(job) }
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 if has_avx2() => {
                // SAFETY: as above, with AVX2 and FMA checked by the guard.
                unsafe { run_avx2(job) }
            }
            _ => job.run::<Portable>(),
        }
    }
}

/// Whether the CPU has what [`Isa::Avx2`]'s code is compiled with: AVX2 and FMA (every CPU
/// with AVX2 has FMA; `f32` fits use its fused multiply-adds).
#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// For tests that call [`Avx2`]'s kernels directly, not through [`Isa::run`]: whether this CPU
/// can run them (its `f32` rows use AVX2 and FMA instructions); says why when it cannot.
#[cfg(test)]
pub(crate) fn avx2_or_skip() -> bool {
    #[cfg(target_arch = "x86_64")]
    let has = has_avx2();
    #[cfg(not(target_arch = "x86_64"))]
    let has = false;
    if !has {
        eprintln!("skipped the AVX2 cases: this CPU lacks AVX2 or FMA");
    }
    has
}

/// Whether the CPU has what [`Isa::Avx512`]'s code is compiled with (AVX-512F implies FMA).
#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
}

/// Compile-time description of an instruction set, for the kernels' block widths.
pub trait Simd {
    /// Widest block of `f64` lanes whose two sets of sums (the ignore kernels' gathers) stay in
    /// registers (`f32` blocks hold twice as many lanes).
    const BLOCK2: usize;
    /// Widest block of `f64` lanes of one set of sums (the replace kernels' gathers).
    const BLOCK1: usize;
    /// Whether the dot products store their four lanes before combining them (see
    /// `kernels::dots`): pays off where a 4-wide register exists.
    const SPLIT_DOTS: bool;
    /// Rows of a Gram matrix kept in registers at once (1, 2 or 4; `kernels::gram_tiles`).
    const GRAM_TILE: usize;
    /// A factor row of rank `K` in registers, for the one-loop kernels (module `row`).
    type Row<T: Real, const K: usize>: FactorRow<T, K>;
}

/// Baseline: 16 SSE2 registers of 2 `f64`.
pub(crate) struct Portable;

impl Simd for Portable {
    const BLOCK2: usize = 10;
    const BLOCK1: usize = 12;
    const SPLIT_DOTS: bool = false;
    const GRAM_TILE: usize = 1;
    type Row<T: Real, const K: usize> = [T; K];
}

/// AVX2: 16 registers of 4 `f64`. Blocks of 16 lanes (two sets of sums: 8 registers) and 20
/// (5 registers) measured 5-15% faster than the SSE2 widths at k = 20 and 50.
pub(crate) struct Avx2;

impl Simd for Avx2 {
    const BLOCK2: usize = 16;
    const BLOCK1: usize = 20;
    const SPLIT_DOTS: bool = true;
    const GRAM_TILE: usize = 2;
    /// `f32` rows in AVX2 registers (`avx2::F32Row`): their intrinsics need the CPU
    /// check of [`Isa::run`], so `Job::run::<Avx2>` runs only through it (or in tests that
    /// check the CPU first).
    type Row<T: Real, const K: usize> = T::Avx2Row<K>;
}

/// AVX-512F: 32 registers of 8 `f64`. Wider blocks (20/24, 24/32) measured no faster.
pub(crate) struct Avx512;

impl Simd for Avx512 {
    const BLOCK2: usize = 10;
    const BLOCK1: usize = 12;
    const SPLIT_DOTS: bool = true;
    const GRAM_TILE: usize = 4;
    /// Plain arrays: `avx2::F32Row` would run here too (AVX-512F CPUs have AVX2),
    /// but no AVX-512 machine was at hand to measure it.
    type Row<T: Real, const K: usize> = [T; K];
}

/// Asks the CPU to bring the cache line of `data[at]` into the cache (nothing off x86-64). A
/// hint: it changes no result, and `at` need not be in bounds (no check on the hot path).
#[inline(always)]
pub(crate) fn prefetch<T>(data: &[T], at: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = data.as_ptr().wrapping_add(at);
        // SAFETY: a prefetch never faults, whatever the address, and touches no memory the
        // program can observe (`wrapping_add` computes the address without claiming it is in
        // bounds). SSE is in the x86-64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
}

/// A piece of work compiled once per instruction set. `run` must be `#[inline(always)]`, and
/// so must everything hot it calls: a function that is not inlined is compiled for the
/// baseline only.
pub trait Job {
    /// What the work returns.
    type Output;
    /// Does the work with the kernels of `S`.
    fn run<S: Simd>(self) -> Self::Output;
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<J: Job>(job: J) -> J::Output {
    job.run::<Avx2>()
}

/// # Safety
/// The CPU must support AVX-512F and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn run_avx512<J: Job>(job: J) -> J::Output {
    job.run::<Avx512>()
}
