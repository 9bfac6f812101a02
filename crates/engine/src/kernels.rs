//! Inner loops over the `k` factors of one user or one item.
//!
//! Every function works on slices of exactly `k` values. Callers monomorphise the passes for
//! common ranks (`K` const generic), so `k` is a compile-time constant in the hot loops and
//! LLVM unrolls and vectorises them; the element-wise loops vectorise as they are, and the dot
//! product uses four independent accumulators in a fixed order (vectorisable without
//! reassociating floating-point sums, hence deterministic).
//!
//! Everything hot is `#[inline(always)]`: the passes compile each chunk of work once per
//! instruction set ([`crate::isa`]) and a kernel left out of line would be compiled for the
//! baseline only. Block widths come from the [`Simd`] parameter.

use crate::isa::{prefetch, Isa, Job, Simd};
use crate::real::Real;
use crate::row::FactorRow;

/// Guards every division of the multiplicative updates.
pub const EPS: f64 = 1e-12;

/// Dot product of two slices of equal length, with four accumulators combined in a fixed order.
#[inline(always)]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    dot_t(a, b)
}

/// Where the scalar tail of a dot product of `n` values starts: after the full chunks of
/// [`Real::DOT_LANES`] and, with 8 lanes, one more chunk of 4 if there is one.
#[inline(always)]
const fn dot_tail(lanes: usize, n: usize) -> usize {
    let full = n / lanes * lanes;
    if lanes == 8 && n - full >= 4 {
        full + 4
    } else {
        full
    }
}

/// The four partial sums of a dot product (the part of [`dot_t`] before its tail):
/// [`Real::DOT_LANES`] accumulators over the full chunks of that many values; with 8 lanes
/// (`f32`, one 256-bit register) they are folded to four (lane `l` plus lane `l + 4`) and a
/// chunk of 4 values left over is added to those four. Multiply-adds through [`Real::madd`].
#[inline(always)]
fn dot_lanes<T: Real>(a: &[T], b: &[T], n: usize) -> [T; 4] {
    let wide = T::DOT_LANES;
    let full = n / wide;
    let mut acc = [T::ZERO; 8];
    for c in 0..full {
        for l in 0..wide {
            acc[l] = a[wide * c + l].madd(b[wide * c + l], acc[l]);
        }
    }
    let mut q = [acc[0], acc[1], acc[2], acc[3]];
    if wide == 8 {
        for l in 0..4 {
            q[l] = acc[l] + acc[l + 4];
        }
        let at = wide * full;
        if n - at >= 4 {
            for l in 0..4 {
                q[l] = a[at + l].madd(b[at + l], q[l]);
            }
        }
    }
    q
}

/// [`dot_lanes`] over arrays of a known length: inlined with `n = K` a constant, so LLVM
/// unrolls it completely and keeps the lanes in registers.
#[inline(always)]
fn dot_lanes_k<T: Real, const K: usize>(a: &[T; K], b: &[T; K]) -> [T; 4] {
    dot_lanes(a, b, K)
}

/// The four partial sums of a dot product combined: `(q0 + q2) + (q1 + q3)`.
#[inline(always)]
fn dot_fold<T: Real>(q: [T; 4]) -> T {
    (q[0] + q[2]) + (q[1] + q[3])
}

/// The end of a dot product from its four partial sums `q`: [`dot_fold`], then the values from
/// `tail` ([`dot_tail`]) to `n` one by one.
#[inline(always)]
fn dot_finish<T: Real>(q: [T; 4], a: &[T], b: &[T], tail: usize, n: usize) -> T {
    let mut s = dot_fold(q);
    for j in tail..n {
        s = a[j].madd(b[j], s);
    }
    s
}

/// [`dot`] in the element type `T`: [`dot_lanes`], then [`dot_finish`]. For `f64` these are
/// four accumulators over the chunks of 4 and then the tail, as the engine always summed.
#[inline(always)]
pub(crate) fn dot_t<T: Real>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    dot_finish(dot_lanes(a, b, n), a, b, dot_tail(T::DOT_LANES, n), n)
}

/// [`dot`] with the length `K` known at compile time (`K = 0`: unknown, falls back to
/// [`dot_t`]). The same summation order as [`dot_t`], written over fixed-size arrays so the
/// loop unrolls completely and the constant operand can stay in registers.
#[inline(always)]
pub(crate) fn dot_k<T: Real, const K: usize>(a: &[T], b: &[T]) -> T {
    if K == 0 {
        return dot_t(a, b);
    }
    let a: &[T; K] = a[..K].try_into().expect("K values");
    let b: &[T; K] = b[..K].try_into().expect("K values");
    dot_arrays(a, b)
}

/// `out_p = f . rows[idx_p]` for every entry: the independent dot products of a row or
/// column, in a small loop of their own (so LLVM vectorises it as it would in isolation, with
/// `f` in a local array, hence in registers, when `K` is known). Inlined like every hot
/// kernel, so that it is compiled for the instruction set of the pass ([`crate::isa`]).
///
/// Where the instruction set's [`Simd::Row`] says so ([`FactorRow::DIRECT_DOTS`]), each dot
/// product is that row type's, entry by entry. Otherwise, with [`Simd::SPLIT_DOTS`] (and `K`
/// known) the four lanes of each dot product are first
/// stored to `lanes` and combined in a second loop: the store of four lanes makes LLVM's SLP
/// vectoriser keep them in one 4-wide register (AVX), where the fused loop gets two 2-wide
/// ones (it prices the final combination of lanes in a 4-wide register too high). Same
/// operations in the same order as [`dot_k`], hence the same bits.
#[inline(always)]
fn dots<S: Simd, T: Real, const K: usize>(
    f: &[T],
    rows: &[T],
    idx: &[u32],
    out: &mut [T],
    lanes: &mut [[T; 4]],
) {
    let k = f.len();
    match local::<T, K>(f) {
        Some(f) if <S::Row<T, K> as FactorRow<T, K>>::DIRECT_DOTS => {
            let f = S::Row::<T, K>::load(&f);
            for (p, (o, &r)) in out.iter_mut().zip(idx).enumerate() {
                *o = f.dot(S::Row::<T, K>::load(gathered_row::<T, u32, K>(
                    rows, idx, p, r,
                )));
            }
        }
        Some(f) if S::SPLIT_DOTS => {
            let lanes = &mut lanes[..idx.len()];
            for (p, (t, &r)) in lanes.iter_mut().zip(idx).enumerate() {
                *t = dot_lanes_k(&f, gathered_row::<T, u32, K>(rows, idx, p, r));
            }
            let tail = dot_tail(T::DOT_LANES, K);
            if tail == K {
                // No tail: a loop without the rows' bounds checks, which LLVM vectorises.
                for (o, &t) in out.iter_mut().zip(lanes.iter()) {
                    *o = dot_fold(t);
                }
            } else {
                for ((o, &t), &r) in out.iter_mut().zip(lanes.iter()).zip(idx) {
                    let start = r as usize * K;
                    *o = dot_finish(t, &f, &rows[start..start + K], tail, K);
                }
            }
        }
        Some(f) => {
            for (o, &r) in out.iter_mut().zip(idx) {
                let start = r as usize * K;
                *o = dot_k::<T, K>(&f, &rows[start..start + K]);
            }
        }
        None => {
            for (o, &r) in out.iter_mut().zip(idx) {
                let start = r as usize * k;
                *o = dot_t(f, &rows[start..start + k]);
            }
        }
    }
}

/// Entries per segment of the ignore kernels: each segment's factor rows are gathered twice
/// (predictions, then sums), and a segment's rows stay in the nearest caches between the two;
/// a whole row or column of a popular item would not.
const SEGMENT: usize = 256;

/// How many entries ahead [`dots`] prefetches the gathered rows.
const PREFETCH_AHEAD: usize = 16;

/// A copy of `f` in a local array when `K` is known (a local cannot alias the buffers the
/// loop writes, so LLVM keeps it in registers and vectorises the dot products against it);
/// `None` when `K = 0`.
#[inline(always)]
fn local<T: Real, const K: usize>(f: &[T]) -> Option<[T; K]> {
    (K > 0).then(|| f[..K].try_into().expect("K values"))
}

/// `acc += a * f` (over the shorter of the two slices).
#[inline(always)]
pub fn axpy(acc: &mut [f64], a: f64, f: &[f64]) {
    axpy_t(acc, a, f)
}

/// [`axpy`] in the element type `T`.
#[inline(always)]
pub(crate) fn axpy_t<T: Real>(acc: &mut [T], a: T, f: &[T]) {
    for (s, &fj) in acc.iter_mut().zip(f) {
        *s = a.madd(fj, *s);
    }
}

/// `out = G f` for a row-major `k x k` matrix `G`.
#[inline(always)]
pub(crate) fn matvec<T: Real>(g: &[T], f: &[T], out: &mut [T]) {
    let k = out.len();
    for (a, o) in out.iter_mut().enumerate() {
        *o = dot_t(&g[a * k..a * k + k], f);
    }
}

/// [`matvec`] with the rank `K` known at compile time (`K = 0`: falls back to [`matvec`]): the
/// same dot products, by the kernels of [`dots`] (`f` in registers, lanes stored first with
/// [`Simd::SPLIT_DOTS`]).
#[inline(always)]
fn matvec_k<S: Simd, T: Real, const K: usize>(
    g: &[T],
    f: &[T],
    out: &mut [T],
    lanes: &mut [[T; 4]],
) {
    let Some(f) = local::<T, K>(f) else {
        return matvec(g, f, out);
    };
    let out = &mut out[..K];
    if S::SPLIT_DOTS {
        let lanes = &mut lanes[..K];
        for (t, row) in lanes.iter_mut().zip(g.chunks_exact(K)) {
            let b: &[T; K] = row.try_into().expect("K values");
            *t = dot_lanes_k(&f, b);
        }
        let tail = dot_tail(T::DOT_LANES, K);
        for ((o, &t), row) in out.iter_mut().zip(lanes.iter()).zip(g.chunks_exact(K)) {
            *o = dot_finish(t, &f, row, tail, K);
        }
    } else {
        for (o, row) in out.iter_mut().zip(g.chunks_exact(K)) {
            *o = dot_k::<T, K>(&f, row);
        }
    }
}

/// `num = max(num + g, 0)`: the sparse identity's numerator is a row of `Vbar H^T >= 0` up to
/// rounding (it subtracts `X` from `V` and adds it back), so tiny negative sums are clamped to
/// keep the factors nonnegative.
#[inline(always)]
pub(crate) fn add_clamped<T: Real>(num: &mut [T], g: &[T]) {
    for (n, &gj) in num.iter_mut().zip(g) {
        *n = (*n + gj).max(T::ZERO);
    }
}

/// The multiplicative update `new = old .* num ./ (den + l2 old + eps)`; returns whether every
/// new value is finite.
#[inline(always)]
pub(crate) fn mu_update<T: Real>(old: &[T], new: &mut [T], num: &[T], den: &[T], l2: f64) -> bool {
    let l2 = T::from_f64(l2);
    let mut finite = true;
    for (((n, &o), &nu), &de) in new.iter_mut().zip(old).zip(num).zip(den) {
        *n = o * nu / (de + l2 * o + T::EPS);
        finite &= n.is_finite();
    }
    finite
}

/// In-place [`mu_update`].
#[inline(always)]
pub(crate) fn mu_update_in_place<T: Real>(f: &mut [T], num: &[T], den: &[T], l2: f64) -> bool {
    let l2 = T::from_f64(l2);
    let mut finite = true;
    for ((x, &nu), &de) in f.iter_mut().zip(num).zip(den) {
        *x = *x * nu / (de + l2 * *x + T::EPS);
        finite &= x.is_finite();
    }
    finite
}

/// An L2 penalty on the factors of one side: `value` on every row, or (`per_rating`)
/// `value` times the row's number of observed ratings, as a per-rating penalty sums to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct L2 {
    pub value: f64,
    pub per_rating: bool,
}

impl L2 {
    /// The weight of a row with `n` observed ratings in the penalty (1, or `n`).
    #[inline(always)]
    pub(crate) fn weight(self, n: usize) -> f64 {
        if self.per_rating {
            n as f64
        } else {
            1.0
        }
    }

    /// The penalty of a row with `n` observed ratings.
    #[inline(always)]
    pub(crate) fn of(self, n: usize) -> f64 {
        self.value * self.weight(n)
    }
}

/// The per-entry rule of the robust baselines' row passes (see [`RowRule::robust`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Robust {
    /// `huber`: the objective `ρ(r)` into [`RowStats::robust`]; when `reweight`, the weight
    /// `c = 1` if `r^2 <= λ`, else `δ / |r|`, and the flag `r^2 > λ`; otherwise `c = 1` and no
    /// flag (warm-up).
    Huber {
        lambda: f64,
        delta: f64,
        reweight: bool,
    },
    /// `l1`: `sqrt(r^2 + e^2)` into [`RowStats::robust`]; when `reweight`, the weight
    /// `c = 1 / (2 sqrt(r^2 + e^2))`, otherwise `c = 1`.
    L1 { smoothing: f64, reweight: bool },
    /// `trimmed`'s measuring pass: stores `r^2` of every entry (in the weights' place) for the
    /// global selection; no update.
    Squares,
    /// `trimmed`'s update: weight 0 on the entries flagged by the selection, 1 elsewhere; the
    /// flags are read, not recomputed.
    Flags,
}

/// `guarded`'s rule of one pass (see [`guarded_row`]): the two thresholds on `|r|` and whether
/// the profile screen applies. Public (hidden) for the distributed fit, which runs the same rule.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    /// The user side's threshold `a sqrt(λ)` (infinite while its weights are all ones).
    pub user_cut: f64,
    /// The item side's threshold `b sqrt(λ)` (infinite during the warm-up).
    pub item_cut: f64,
    /// Whether screened users are left out of the item side (not during the warm-up).
    pub screen: bool,
}

/// How a row pass treats each observed entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowRule {
    /// `λ`, when known: adds the clipped loss to the statistics.
    pub lambda: Option<f64>,
    /// `Some(λ)` when this pass recomputes the corruption flags (`Z = (V - X)^2 > λ`);
    /// `None` when every flag is and stays zero (or a [`Robust`] rule handles them).
    pub mark: Option<f64>,
    /// The robust baselines' rule (`None` for the paper's five): the passes then run
    /// [`robust_row`] and [`weighted_col`] instead of the ignore kernels.
    pub robust: Option<Robust>,
    /// Replace variants: the data weight `c` of a flagged entry in `c .* (V - X)`.
    pub flagged_weight: f64,
    /// L2 penalty on the updated factors.
    pub l2: L2,
}

/// Statistics of one row pass, summed over users in a fixed order.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RowStats {
    /// Squared loss over the entries not flagged.
    pub loss: f64,
    /// Clipped loss over all observed entries (when `λ` is known).
    pub clipped: f64,
    /// The robust baselines' data term (Huber's `Σ ρ(r)`, the smoothed L1 loss; `trimmed`'s
    /// trimmed loss is summed by its selection, not here).
    pub robust: f64,
    /// Number of flagged entries.
    pub flagged: usize,
    /// `||W0||^2` of the rows read (each row weighted as its L2 penalty is).
    pub sq: f64,
    /// First row whose update is not finite.
    pub bad_row: Option<usize>,
}

impl RowStats {
    /// Adds `other` (the next chunk, in order).
    pub(crate) fn add(&mut self, other: &RowStats) {
        self.loss += other.loss;
        self.clipped += other.clipped;
        self.robust += other.robust;
        self.flagged += other.flagged;
        self.sq += other.sq;
        if self.bad_row.is_none() {
            self.bad_row = other.bad_row;
        }
    }
}

/// Per-thread buffers of the row and column kernels, reused from row to row.
#[derive(Debug, Default)]
pub(crate) struct Scratch<T> {
    num: Vec<T>,
    den: Vec<T>,
    a: Vec<T>,
    b: Vec<T>,
    /// The four lanes of each entry's dot product (see [`dots`]).
    lanes: Vec<[T; 4]>,
    /// Each entry's terms of the clipped loss and of the loss (see [`judge_segment`]).
    clip: Vec<T>,
    kept: Vec<T>,
    /// A packed tile's entries of one column, unpacked for the general kernel
    /// ([`ignore_col_packed`]).
    users: Vec<u32>,
    values: Vec<T>,
}

/// [`Scratch::predict`]'s view of the buffers: `num` and `den` (`k` values), the per-entry
/// weights `a` and the predictions `b` (one value per entry), and the dot-product lanes (free
/// again, for [`matvec_k`]).
struct Predicted<'s, T> {
    num: &'s mut [T],
    den: &'s mut [T],
    a: &'s mut [T],
    b: &'s mut [T],
    lanes: &'s mut [[T; 4]],
    clip: &'s mut [T],
    kept: &'s mut [T],
}

impl<T: Real> Scratch<T> {
    /// Buffers for rank `k`.
    pub(crate) fn new(k: usize) -> Scratch<T> {
        Scratch {
            num: vec![T::ZERO; k],
            den: vec![T::ZERO; k],
            a: Vec::new(),
            b: Vec::new(),
            // At least `k`: `matvec_k` uses `k` of them.
            lanes: vec![[T::ZERO; 4]; k],
            clip: Vec::new(),
            kept: Vec::new(),
            users: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The buffers of one row (column) of `idx.len()` entries, with the predictions
    /// `b[p] = f . rows[idx_p]` computed by [`dots`]: the first step of every kernel.
    #[inline(always)]
    fn predict<S: Simd, const K: usize>(
        &mut self,
        f: &[T],
        rows: &[T],
        idx: &[u32],
    ) -> Predicted<'_, T> {
        let n = idx.len();
        self.weights(n);
        let Scratch {
            num,
            den,
            a,
            b,
            lanes,
            clip,
            kept,
            ..
        } = self;
        let b = &mut b[..n];
        dots::<S, T, K>(f, rows, idx, b, lanes);
        Predicted {
            num,
            den,
            a: &mut a[..n],
            b,
            lanes,
            clip: &mut clip[..n],
            kept: &mut kept[..n],
        }
    }

    /// Zeroes the first `k` of the sums `num` and `den`, for [`gather_add2`].
    fn clear_sums(&mut self, k: usize) {
        self.num[..k].fill(T::ZERO);
        self.den[..k].fill(T::ZERO);
    }

    /// Per-entry weight buffers of at least `len` entries (every entry used is overwritten).
    fn weights(&mut self, len: usize) {
        if self.a.len() < len {
            self.a.resize(len, T::ZERO);
            self.b.resize(len, T::ZERO);
            self.clip.resize(len, T::ZERO);
            self.kept.resize(len, T::ZERO);
        }
        if self.lanes.len() < len {
            self.lanes.resize(len, [T::ZERO; 4]);
        }
    }
}

/// The widest block of `T` lanes in the registers [`Simd`] gives `f64_lanes` `f64` lanes: twice
/// as many `f32` lanes (at most [`MAX_BLOCK`]). Block widths only decide how many passes a
/// gather makes over a row's entries, never the order of any sum, so they change no bits.
#[inline(always)]
const fn widest<T: Real>(f64_lanes: usize) -> usize {
    let lanes = f64_lanes * std::mem::size_of::<f64>() / std::mem::size_of::<T>();
    if lanes < MAX_BLOCK {
        lanes
    } else {
        MAX_BLOCK
    }
}

/// Width of the blocks when `k` lanes are split into `ceil(k / max)` blocks of near-equal
/// width (at most `max`; the last block may be narrower).
#[inline(always)]
const fn block_width(k: usize, max: usize) -> usize {
    k.div_ceil(k.div_ceil(max))
}

/// The gathers' block widths for a rank `K > 0` known at compile time: full blocks of
/// `WIDTH*`, then one narrower block of `TAIL*` lanes when `K` is not a multiple (the blocks
/// [`block_width`] gives). Constants after monomorphisation, so that [`with_width`] on them
/// compiles only the block kernels used, not all [`MAX_BLOCK`] of them for every rank,
/// element type and instruction set (which took most of the engine's build time).
struct Blocks<S, T, const K: usize>(std::marker::PhantomData<(S, T)>);

impl<S: Simd, T: Real, const K: usize> Blocks<S, T, K> {
    const WIDTH2: usize = if K == 0 {
        1
    } else {
        block_width(K, widest::<T>(S::BLOCK2))
    };
    const TAIL2: usize = K % Self::WIDTH2;
    const WIDTH1: usize = if K == 0 {
        1
    } else {
        block_width(K, widest::<T>(S::BLOCK1))
    };
    const TAIL1: usize = K % Self::WIDTH1;
}

/// Calls `$f::<B>($args)` with the block width `B` as a constant (1 to [`MAX_BLOCK`]).
macro_rules! with_width {
    ($w:expr, $t:ty, $f:ident($($arg:expr),*)) => {
        match $w {
            1 => $f::<$t, 1>($($arg),*),
            2 => $f::<$t, 2>($($arg),*),
            3 => $f::<$t, 3>($($arg),*),
            4 => $f::<$t, 4>($($arg),*),
            5 => $f::<$t, 5>($($arg),*),
            6 => $f::<$t, 6>($($arg),*),
            7 => $f::<$t, 7>($($arg),*),
            8 => $f::<$t, 8>($($arg),*),
            9 => $f::<$t, 9>($($arg),*),
            10 => $f::<$t, 10>($($arg),*),
            11 => $f::<$t, 11>($($arg),*),
            12 => $f::<$t, 12>($($arg),*),
            13 => $f::<$t, 13>($($arg),*),
            14 => $f::<$t, 14>($($arg),*),
            15 => $f::<$t, 15>($($arg),*),
            16 => $f::<$t, 16>($($arg),*),
            17 => $f::<$t, 17>($($arg),*),
            18 => $f::<$t, 18>($($arg),*),
            19 => $f::<$t, 19>($($arg),*),
            20 => $f::<$t, 20>($($arg),*),
            21 => $f::<$t, 21>($($arg),*),
            22 => $f::<$t, 22>($($arg),*),
            23 => $f::<$t, 23>($($arg),*),
            24 => $f::<$t, 24>($($arg),*),
            25 => $f::<$t, 25>($($arg),*),
            26 => $f::<$t, 26>($($arg),*),
            27 => $f::<$t, 27>($($arg),*),
            28 => $f::<$t, 28>($($arg),*),
            29 => $f::<$t, 29>($($arg),*),
            30 => $f::<$t, 30>($($arg),*),
            31 => $f::<$t, 31>($($arg),*),
            _ => $f::<$t, 32>($($arg),*),
        }
    };
}

/// The widest block [`with_width`] dispatches ([`Simd`]'s widths must not exceed it).
pub(crate) const MAX_BLOCK: usize = 32;

/// Runs `$f::<B>` (via [`with_width`]) over the blocks of a row of `$k` lanes: full blocks of
/// `$width`, then one block of the `$tail` lanes left (none when 0), with `$start` the first
/// lane of each block; the blocks [`block_width`] splits `$k` into. The widths are spliced into
/// the matches as written, so constants ([`Blocks`]) stay constants there.
macro_rules! over_blocks {
    ($width:expr, $tail:expr, $k:expr, $t:ty, $start:ident, $f:ident($($arg:expr),*)) => {{
        let mut $start = 0;
        while $start + $width <= $k {
            with_width!($width, $t, $f($($arg),*));
            $start += $width;
        }
        if $tail > 0 {
            with_width!($tail, $t, $f($($arg),*));
        }
    }};
}

/// `out_a += Σ_p a_p f_p` and `out_b += Σ_p b_p f_p` over the gathered factor rows
/// `f_p = rows[idx_p]`, one block of lanes at a time so each block's sums stay in registers
/// (the rows were just touched by the dot products, so the re-reads hit the cache). The widest
/// block is [`Simd::BLOCK2`] (in `f64` lanes: see [`widest`]); a closure-free loop, so that it
/// inlines. Each sum continues from its value in `out`, adding the entries in order, so summing
/// a row in consecutive segments into zeroed sums gives the same bits as summing it at once.
#[inline(always)]
fn gather_add2<S: Simd, T: Real, const K: usize>(
    rows: &[T],
    k: usize,
    idx: &[u32],
    a: &[T],
    b: &[T],
    out_a: &mut [T],
    out_b: &mut [T],
) {
    const { assert!(S::BLOCK2 >= 1 && S::BLOCK2 <= MAX_BLOCK) };
    if K > 0 {
        over_blocks!(
            Blocks::<S, T, K>::WIDTH2,
            Blocks::<S, T, K>::TAIL2,
            K,
            T,
            start,
            gather_block2(rows, K, start, idx, a, b, out_a, out_b)
        );
    } else {
        let width = block_width(k, widest::<T>(S::BLOCK2));
        over_blocks!(
            width,
            k % width,
            k,
            T,
            start,
            gather_block2(rows, k, start, idx, a, b, out_a, out_b)
        );
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gather_block2<T: Real, const B: usize>(
    rows: &[T],
    k: usize,
    start: usize,
    idx: &[u32],
    a: &[T],
    b: &[T],
    out_a: &mut [T],
    out_b: &mut [T],
) {
    let mut sa: [T; B] = out_a[start..start + B].try_into().expect("block of B");
    let mut sb: [T; B] = out_b[start..start + B].try_into().expect("block of B");
    for ((&r, &wa), &wb) in idx.iter().zip(a).zip(b) {
        let o = r as usize * k + start;
        let f: &[T; B] = rows[o..o + B].try_into().expect("block of B");
        for j in 0..B {
            sa[j] = wa.madd(f[j], sa[j]);
            sb[j] = wb.madd(f[j], sb[j]);
        }
    }
    out_a[start..start + B].copy_from_slice(&sa);
    out_b[start..start + B].copy_from_slice(&sb);
}

/// `out = Σ_p a_p rows[idx_p]`, blocked as [`gather_add2`] (widest block [`Simd::BLOCK1`]).
#[inline(always)]
fn gather_axpy<S: Simd, T: Real, const K: usize>(
    rows: &[T],
    k: usize,
    idx: &[u32],
    a: &[T],
    out: &mut [T],
) {
    const { assert!(S::BLOCK1 >= 1 && S::BLOCK1 <= MAX_BLOCK) };
    if K > 0 {
        over_blocks!(
            Blocks::<S, T, K>::WIDTH1,
            Blocks::<S, T, K>::TAIL1,
            K,
            T,
            start,
            gather_block(rows, K, start, idx, a, out)
        );
    } else {
        let width = block_width(k, widest::<T>(S::BLOCK1));
        over_blocks!(
            width,
            k % width,
            k,
            T,
            start,
            gather_block(rows, k, start, idx, a, out)
        );
    }
}

#[inline(always)]
fn gather_block<T: Real, const B: usize>(
    rows: &[T],
    k: usize,
    start: usize,
    idx: &[u32],
    a: &[T],
    out: &mut [T],
) {
    let mut s = [T::ZERO; B];
    for (&r, &w) in idx.iter().zip(a) {
        let o = r as usize * k + start;
        let f: &[T; B] = rows[o..o + B].try_into().expect("block of B");
        for j in 0..B {
            s[j] = w.madd(f[j], s[j]);
        }
    }
    out[start..start + B].copy_from_slice(&s);
}

/// `if cond { a } else { b }` without a branch: LLVM turns float selects on the flags (which
/// are unpredictable) into mispredicted branches unless told otherwise.
#[inline(always)]
fn select<T: Real>(cond: bool, a: T, b: T) -> T {
    std::hint::select_unpredictable(cond, a, b)
}

/// `min(e, lambda)` for a squared residual `e` (nonnegative or NaN) and a threshold
/// `lambda > 0`: the same value as `e.min(lambda)`, in one instruction (`minss`) where
/// `f32::min`'s handling of NaN takes three.
#[inline(always)]
fn clip_at<T: Real>(e: T, lambda: T) -> T {
    if e < lambda {
        e
    } else {
        lambda
    }
}

/// Residual statistics of one entry with prediction `x` when nothing is flagged in this pass.
#[inline(always)]
fn judge_clean<T: Real>(v: T, x: T, rule: RowRule, stats: &mut RowStats) {
    let e = (v - x) * (v - x);
    if let Some(l) = rule.lambda {
        stats.clipped += clip_at(e, T::from_f64(l)).to_f64();
    }
    stats.loss += e.to_f64();
}

/// Residual statistics and the flag rule `(v - x)^2 > mark` for one entry with prediction `x`:
/// sets `flag` and returns whether the entry is clean. Branch-free (flags are unpredictable):
/// adding +0.0 to the nonnegative running loss leaves it unchanged, so `loss` is the sum over
/// the clean entries.
#[inline(always)]
fn judge_mark<T: Real>(
    v: T,
    x: T,
    mark: T,
    flag: &mut u8,
    rule: RowRule,
    stats: &mut RowStats,
) -> bool {
    let e = (v - x) * (v - x);
    if let Some(l) = rule.lambda {
        stats.clipped += clip_at(e, T::from_f64(l)).to_f64();
    }
    let corrupt = e > mark;
    *flag = u8::from(corrupt);
    stats.loss += select(corrupt, T::ZERO, e).to_f64();
    stats.flagged += usize::from(corrupt);
    !corrupt
}

/// [`judge_mark`] (with `mark`) or [`judge_clean`] on every entry of a segment of a row with
/// predictions `b`, in two loops: the element-wise part (squared residuals, flags, and with
/// `mark` the masked weights `a` and predictions `b`) vectorises, then the running `f64` sums
/// of `stats` add each entry's terms in entry order, the same additions in the same order as
/// judging entry by entry. `clip` and `kept` hold the terms in between. Returns the number of
/// clean entries.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn judge_segment<T: Real>(
    values: &[T],
    a: &mut [T],
    b: &mut [T],
    flags: &mut [u8],
    rule: RowRule,
    clip: &mut [T],
    kept: &mut [T],
    stats: &mut RowStats,
) -> usize {
    let n = values.len();
    let (b, clip, kept) = (&mut b[..n], &mut clip[..n], &mut kept[..n]);
    let lambda = T::from_f64(rule.lambda.unwrap_or(f64::INFINITY));
    let clean = if let Some(mark) = rule.mark {
        let mark = T::from_f64(mark);
        let (a, flags) = (&mut a[..n], &mut flags[..n]);
        let mut clean = 0usize;
        for p in 0..n {
            let (v, x) = (values[p], b[p]);
            let e = (v - x) * (v - x);
            let corrupt = e > mark;
            flags[p] = u8::from(corrupt);
            // Flagged entries weigh 0 in the sums and in the loss.
            a[p] = select(corrupt, T::ZERO, v);
            b[p] = select(corrupt, T::ZERO, x);
            kept[p] = select(corrupt, T::ZERO, e);
            clip[p] = clip_at(e, lambda);
            clean += usize::from(!corrupt);
        }
        clean
    } else {
        for p in 0..n {
            let e = (values[p] - b[p]) * (values[p] - b[p]);
            kept[p] = e;
            clip[p] = clip_at(e, lambda);
        }
        n
    };
    stats.flagged += n - clean;
    let mut loss = stats.loss;
    if rule.lambda.is_some() {
        let mut clipped = stats.clipped;
        for (&c, &e) in clip.iter().zip(kept.iter()) {
            clipped += c.to_f64();
            loss += e.to_f64();
        }
        stats.clipped = clipped;
    } else {
        for &e in kept.iter() {
            loss += e.to_f64();
        }
    }
    stats.loss = loss;
    clean
}

/// [`judge_segment`] and [`gather_add2`] in one loop over a segment's entries, for ranks
/// whose sums fit one block of registers (`K <= widest::<T>(S::BLOCK2)`, see
/// [`judge_gathers`]): the `f64` loss sums, a chain of dependent additions, then run beside
/// the gathers instead of in a loop of their own. The same operations in the same order as the
/// two kernels: each sum adds its entries' terms in entry order, the sums `num` and `den`
/// continuing from their values (a flagged entry's terms, zeros, are skipped). Returns the
/// number of clean entries.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn judge_gather<S: Simd, T: Real, const K: usize>(
    rows: &[T],
    idx: &[u32],
    values: &[T],
    predictions: &[T],
    flags: &mut [u8],
    rule: RowRule,
    num: &mut [T],
    den: &mut [T],
    stats: &mut RowStats,
) -> usize {
    let (mark, clipping) = (rule.mark.is_some(), rule.lambda.is_some());
    let args = (rows, idx, values, predictions, flags, rule, num, den, stats);
    match (mark, clipping) {
        (true, true) => judge_gather_as::<S, T, K, true, true>(args),
        (true, false) => judge_gather_as::<S, T, K, true, false>(args),
        (false, true) => judge_gather_as::<S, T, K, false, true>(args),
        (false, false) => judge_gather_as::<S, T, K, false, false>(args),
    }
}

/// The arguments of [`judge_gather`], passed on to [`judge_gather_as`].
type JudgeGatherArgs<'a, T> = (
    &'a [T],
    &'a [u32],
    &'a [T],
    &'a [T],
    &'a mut [u8],
    RowRule,
    &'a mut [T],
    &'a mut [T],
    &'a mut RowStats,
);

/// [`judge_gather`] with whether the rule flags (`MARK`) and clips (`CLIP`) fixed at compile
/// time, so that the loop carries no test of the rule.
#[inline(always)]
fn judge_gather_as<S: Simd, T: Real, const K: usize, const MARK: bool, const CLIP: bool>(
    (rows, idx, values, predictions, flags, rule, num, den, stats): JudgeGatherArgs<'_, T>,
) -> usize {
    let n = idx.len();
    let (values, predictions) = (&values[..n], &predictions[..n]);
    let (num, den) = (sums::<T, K>(num), sums::<T, K>(den));
    let (mut sa, mut sb) = (S::Row::<T, K>::load(num), S::Row::<T, K>::load(den));
    let lambda = T::from_f64(rule.lambda.unwrap_or(f64::INFINITY));
    let mark = T::from_f64(rule.mark.unwrap_or(f64::INFINITY));
    let flags: &mut [u8] = if MARK { &mut flags[..n] } else { &mut [] };
    // Clean unless set below: one store per flagged entry instead of one per entry.
    flags.fill(0);
    let (mut loss, mut clipped) = (stats.loss, stats.clipped);
    let mut flagged = 0;
    for p in 0..n {
        let (v, x) = (values[p], predictions[p]);
        let e = (v - x) * (v - x);
        if CLIP {
            clipped += clip_at(e, lambda).to_f64();
        }
        // Flagged entries weigh 0 in the sums and in the loss, and adding a zero term leaves
        // these nonnegative sums as they are: skip them. A branch, not selects: flagged
        // entries are few, so it is predicted, and the clean entries' work is the unflagged
        // loop's.
        if MARK && e > mark {
            flags[p] = 1;
            flagged += 1;
            continue;
        }
        loss += e.to_f64();
        let o = idx[p] as usize * K;
        let f = S::Row::<T, K>::load(rows[o..o + K].try_into().expect("K values"));
        sa = f.madd_to(v, sa);
        sb = f.madd_to(x, sb);
    }
    stats.loss = loss;
    stats.clipped = clipped;
    stats.flagged += flagged;
    sa.store(num);
    sb.store(den);
    n - flagged
}

/// The dot product `f . row` of two arrays of a known length: [`dot_t`]'s operations in its
/// order, unrolled.
#[inline(always)]
pub(crate) fn dot_arrays<T: Real, const K: usize>(f: &[T; K], row: &[T; K]) -> T {
    dot_finish(dot_lanes_k(f, row), f, row, dot_tail(T::DOT_LANES, K), K)
}

/// Factor row `r = idx[p]` of `rows` (rank `K`) as an array, after asking for the row
/// [`PREFETCH_AHEAD`] entries further on in `idx`. The caller passes `r`, which it has read
/// already (a second read of `idx[p]` would cost a bounds check in the hot loop).
#[inline(always)]
fn gathered_row<'r, T: Real, I: Ix, const K: usize>(
    rows: &'r [T],
    idx: &[I],
    p: usize,
    r: I,
) -> &'r [T; K] {
    if let Some(&ahead) = idx.get(p + PREFETCH_AHEAD) {
        let at = ahead.ix() * K;
        prefetch(rows, at);
        prefetch(rows, at + K - 1);
    }
    let o = r.ix() * K;
    rows[o..o + K].try_into().expect("K values")
}

/// An index into gathered factor rows: `u32` over all the rows, `u16` relative to the first
/// row of a tile ([`crate::tiles::PackedTiles`]).
pub(crate) trait Ix: Copy {
    /// The row's index.
    fn ix(self) -> usize;
}

impl Ix for u32 {
    #[inline(always)]
    fn ix(self) -> usize {
        self as usize
    }
}

impl Ix for u16 {
    #[inline(always)]
    fn ix(self) -> usize {
        usize::from(self)
    }
}

/// A whole column of [`ignore_col`] in one loop, for the ranks of [`judge_gathers`]: each
/// gathered user row read once, for its prediction `x = f . w1_u` and both sums; the entries of
/// the `flagged` users (ascending, a subset of `users`) are skipped, as adding their zero
/// weights would leave the sums as they are. The same operations in the same order as the
/// segments of [`ignore_col`]. `idx[p]` is user `base + idx[p]`, whose row is `rows[idx[p]]`;
/// `values` are the entries' ratings, in order.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn predict_gather<S: Simd, T: Real, I: Ix, const K: usize>(
    f: &[T; K],
    rows: &[T],
    (ahead, n): (&[I], usize),
    values: impl Iterator<Item = T>,
    flagged: &[u32],
    base: u32,
    num: &mut [T],
    den: &mut [T],
) {
    let idx = &ahead[..n];
    let (num, den) = (sums::<T, K>(num), sums::<T, K>(den));
    let (mut sa, mut sb) = (S::Row::<T, K>::load(num), S::Row::<T, K>::load(den));
    let f = S::Row::<T, K>::load(f);
    // The next flagged user, as an index (none: `usize::MAX`, which is no entry's index).
    let mut flagged = flagged.iter();
    let mut following = || flagged.next().map_or(usize::MAX, |&u| (u - base) as usize);
    let mut next = following();
    for ((p, &r), v) in idx.iter().enumerate().zip(values) {
        if r.ix() == next {
            next = following();
            continue;
        }
        let row = S::Row::<T, K>::load(gathered_row::<T, I, K>(rows, ahead, p, r));
        let x = f.dot(row);
        sa = row.madd_to(v, sa);
        sb = row.madd_to(x, sb);
    }
    sa.store(num);
    sb.store(den);
}

/// The first `K` of a kernel's running sums, as an array.
#[inline(always)]
fn sums<T: Real, const K: usize>(s: &mut [T]) -> &mut [T; K] {
    (&mut s[..K]).try_into().expect("K values")
}

/// Whether [`ignore_row`] runs [`judge_gather`] and [`ignore_col`] [`predict_gather`] (the
/// rank is known and its two sets of sums are one block of [`gather_add2`]) rather than
/// [`judge_segment`] and then [`gather_add2`], and [`dots`] and then [`gather_add2`]. Both give
/// the same bits (the tests below compare them).
#[inline(always)]
fn judge_gathers<S: Simd, T: Real, const K: usize>() -> bool {
    K > 0 && K <= widest::<T>(S::BLOCK2)
}

/// One user's row under the ignore variants: statistics of `(w0, H)` on its entries, the flag
/// update (when `rule.mark` is set; `flags` is then the row's slice), and (when `UPDATE`) the
/// masked multiplicative update of `w0` into `w1` over the clean entries:
/// `w1 = w0 .* (Σ v h_i) ./ (Σ x h_i + l2 w0 + eps)`. A row without clean entries keeps its
/// factors.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn ignore_row<S: Simd, T: Real, const K: usize, const UPDATE: bool>(
    row: usize,
    w0: &[T],
    w1: &mut [T],
    h: &[T],
    items: &[u32],
    values: &[T],
    flags: &mut [u8],
    rule: RowRule,
    scratch: &mut Scratch<T>,
    stats: &mut RowStats,
) {
    let k = if K == 0 { w0.len() } else { K };
    let w0 = &w0[..k];
    let n = items.len();
    // The running sums in locals (registers) for the loop.
    let mut st = *stats;
    let mut active = 0usize;
    scratch.clear_sums(k);
    for s0 in (0..n).step_by(SEGMENT) {
        let s1 = n.min(s0 + SEGMENT);
        let (items, values) = (&items[s0..s1], &values[s0..s1]);
        // Pass 1: predictions (independent dot products: the gathers overlap), statistics,
        // flags.
        let Predicted {
            num,
            den,
            a,
            b,
            clip,
            kept,
            ..
        } = scratch.predict::<S, K>(w0, h, items);
        let flags: &mut [u8] = if rule.mark.is_some() {
            &mut flags[s0..s1]
        } else {
            &mut []
        };
        if UPDATE && judge_gathers::<S, T, K>() {
            active += judge_gather::<S, T, K>(h, items, values, b, flags, rule, num, den, &mut st);
            continue;
        }
        active += judge_segment(values, a, b, flags, rule, clip, kept, &mut st);
        // Nothing is flagged without `mark`: the weights of `Σ v h_i` are the values
        // themselves (no copy).
        let a: &[T] = if rule.mark.is_some() { a } else { values };
        // Pass 2, while the segment's rows are in cache: Σ v h_i and Σ x h_i (flagged entries
        // weigh 0).
        if UPDATE {
            gather_add2::<S, T, K>(h, k, items, a, b, num, den);
        }
    }
    *stats = st;
    stats.sq += rule.l2.weight(values.len()) * dot_t(w0, w0).to_f64();
    if UPDATE {
        if active == 0 {
            w1.copy_from_slice(w0);
            return;
        }
        let (num, den) = (&scratch.num[..k], &scratch.den[..k]);
        if !mu_update(w0, w1, num, den, rule.l2.of(values.len())) && stats.bad_row.is_none() {
            stats.bad_row = Some(row);
        }
    }
}

/// One user's row under the robust baselines' rule `robust`: statistics of `(w0, H)` on its
/// entries (and `huber`'s flags), the weights `c` of [`robust_entries`] (written to `weights`,
/// the row's slice, for the column pass) and (when `UPDATE`) the weighted multiplicative
/// update `w1 = w0 .* (Σ c v h_i) ./ (Σ c x h_i + l2 w0 + eps)`: [`ignore_row`] with real
/// weights, on the same kernels. A row without entries of positive weight keeps its factors.
/// A kernel of its own, so that the ignore variants' hot loop stays as it was.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn robust_row<S: Simd, T: Real, const K: usize, const UPDATE: bool>(
    row: usize,
    w0: &[T],
    w1: &mut [T],
    h: &[T],
    items: &[u32],
    values: &[T],
    flags: &mut [u8],
    weights: &mut [T],
    rule: RowRule,
    robust: Robust,
    scratch: &mut Scratch<T>,
    stats: &mut RowStats,
) {
    let k = if K == 0 { w0.len() } else { K };
    let w0 = &w0[..k];
    let n = items.len();
    scratch.clear_sums(k);
    let Predicted { num, den, a, b, .. } = scratch.predict::<S, K>(w0, h, items);
    let mut st = *stats;
    let active = robust_entries(
        robust,
        values,
        &mut a[..n],
        &mut b[..n],
        flags,
        weights,
        rule,
        &mut st,
    );
    *stats = st;
    stats.sq += rule.l2.weight(values.len()) * dot_t(w0, w0).to_f64();
    if UPDATE {
        if active == 0 {
            w1.copy_from_slice(w0);
            return;
        }
        gather_add2::<S, T, K>(h, k, items, &a[..n], &b[..n], num, den);
        if !mu_update(w0, w1, num, den, rule.l2.of(values.len())) && stats.bad_row.is_none() {
            stats.bad_row = Some(row);
        }
    }
}

/// The robust baselines' pass over one row's entries with predictions `b`: statistics, and
/// the weighted sums' per-entry factors `a = c v`, `b = c x` with the weight `c` of the rule
/// (stored in `weights` for the column pass; `Squares` stores `r^2` there instead and leaves
/// `a`, `b` unused). Returns the number of entries of positive weight. Branch-free inside each
/// loop (flags are unpredictable).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn robust_entries<T: Real>(
    robust: Robust,
    values: &[T],
    a: &mut [T],
    b: &mut [T],
    flags: &mut [u8],
    weights: &mut [T],
    rule: RowRule,
    st: &mut RowStats,
) -> usize {
    let clip = |st: &mut RowStats, e: T| {
        if let Some(l) = rule.lambda {
            st.clipped += clip_at(e, T::from_f64(l)).to_f64();
        }
    };
    let mut active = 0usize;
    match robust {
        Robust::Huber {
            lambda,
            delta,
            reweight,
        } => {
            let (lambda, delta) = (T::from_f64(lambda), T::from_f64(delta));
            for (p, &v) in values.iter().enumerate() {
                let r = v - b[p];
                let e = r * r;
                clip(st, e);
                let beyond = e > lambda;
                let ar = r.abs();
                st.robust += select(beyond, T::TWO * delta * ar - lambda, e).to_f64();
                let flagged = reweight && beyond;
                if !flags.is_empty() {
                    flags[p] = u8::from(flagged);
                }
                st.flagged += usize::from(flagged);
                st.loss += select(flagged, T::ZERO, e).to_f64();
                let c = select(flagged, delta / ar, T::ONE);
                weights[p] = c;
                a[p] = c * v;
                b[p] *= c;
                active += usize::from(c > T::ZERO);
            }
        }
        Robust::L1 {
            smoothing,
            reweight,
        } => {
            let s2 = T::from_f64(smoothing * smoothing);
            for (p, &v) in values.iter().enumerate() {
                let r = v - b[p];
                let e = r * r;
                clip(st, e);
                st.loss += e.to_f64();
                let root = (e + s2).sqrt();
                st.robust += root.to_f64();
                let c = if reweight { T::HALF / root } else { T::ONE };
                weights[p] = c;
                a[p] = c * v;
                b[p] *= c;
                active += usize::from(c > T::ZERO);
            }
        }
        Robust::Squares => {
            for (p, &v) in values.iter().enumerate() {
                let r = v - b[p];
                let e = r * r;
                clip(st, e);
                st.loss += e.to_f64();
                weights[p] = e;
            }
        }
        Robust::Flags => {
            for (p, &v) in values.iter().enumerate() {
                let x = b[p];
                let e = (v - x) * (v - x);
                clip(st, e);
                let keep = flags[p] == 0;
                st.loss += select(keep, e, T::ZERO).to_f64();
                st.flagged += usize::from(!keep);
                a[p] = select(keep, v, T::ZERO);
                b[p] = select(keep, x, T::ZERO);
                active += usize::from(keep);
            }
        }
    }
    active
}

/// One user's row under `guarded`: statistics of `(w0, H)` on its entries, the item side's
/// flags `1 - C_H` (`flags`, the row's slice: `|r| > item_cut`, or every entry when the user
/// is `screened` and the screen applies, or the entry is `held` by the burst screen (the row's
/// slice, empty when nothing is held) and the screen applies; the column pass masks by them)
/// and (when `UPDATE`) the user side's masked update over the entries with `|r| <= user_cut`
/// that are not held:
/// `w1 = w0 .* (Σ v h_i) ./ (Σ x h_i + l2 w0 + eps)`. `loss` sums `r^2` over the entries of
/// item-side weight 1. A row without entries of user-side weight 1 keeps its factors. The
/// comparisons are written so that a NaN residual counts as beyond both thresholds.
/// Branch-free inside the loop.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn guarded_row<S: Simd, T: Real, const K: usize, const UPDATE: bool>(
    row: usize,
    w0: &[T],
    w1: &mut [T],
    h: &[T],
    items: &[u32],
    values: &[T],
    flags: &mut [u8],
    rule: RowRule,
    guard: Guard,
    screened: bool,
    held: &[u8],
    scratch: &mut Scratch<T>,
    stats: &mut RowStats,
) {
    // Rows with held ratings are rare (the raters of a burst): the others run the loop
    // compiled without the held test.
    if guard.screen && held.iter().any(|&h| h != 0) {
        guarded_row_body::<S, T, K, UPDATE, true>(
            row, w0, w1, h, items, values, flags, rule, guard, screened, held, scratch, stats,
        );
    } else {
        guarded_row_body::<S, T, K, UPDATE, false>(
            row, w0, w1, h, items, values, flags, rule, guard, screened, held, scratch, stats,
        );
    }
}

/// The body of [`guarded_row`]; with `HELD`, an entry `held` by the burst screen is out of
/// both sides, as if beyond both thresholds.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn guarded_row_body<S: Simd, T: Real, const K: usize, const UPDATE: bool, const HELD: bool>(
    row: usize,
    w0: &[T],
    w1: &mut [T],
    h: &[T],
    items: &[u32],
    values: &[T],
    flags: &mut [u8],
    rule: RowRule,
    guard: Guard,
    screened: bool,
    held: &[u8],
    scratch: &mut Scratch<T>,
    stats: &mut RowStats,
) {
    let k = if K == 0 { w0.len() } else { K };
    let w0 = &w0[..k];
    let n = items.len();
    scratch.clear_sums(k);
    let Predicted { num, den, a, b, .. } = scratch.predict::<S, K>(w0, h, items);
    let mut st = *stats;
    let out_of_items = screened && guard.screen;
    let (item_cut, user_cut) = (T::from_f64(guard.item_cut), T::from_f64(guard.user_cut));
    let mut active = 0usize;
    for (p, &v) in values.iter().enumerate() {
        let x = b[p];
        let r = v - x;
        let e = r * r;
        if let Some(l) = rule.lambda {
            st.clipped += clip_at(e, T::from_f64(l)).to_f64();
        }
        let ar = r.abs();
        let is_held = HELD && held[p] != 0;
        let near = ar <= item_cut;
        let item_out = out_of_items | is_held | !near;
        flags[p] = u8::from(item_out);
        st.flagged += usize::from(item_out);
        st.loss += select(item_out, T::ZERO, e).to_f64();
        let keep = !is_held & (ar <= user_cut);
        a[p] = select(keep, v, T::ZERO);
        b[p] = select(keep, x, T::ZERO);
        active += usize::from(keep);
    }
    *stats = st;
    stats.sq += rule.l2.weight(values.len()) * dot_t(w0, w0).to_f64();
    if UPDATE {
        if active == 0 {
            w1.copy_from_slice(w0);
            return;
        }
        gather_add2::<S, T, K>(h, k, items, &a[..n], &b[..n], num, den);
        if !mu_update(w0, w1, num, den, rule.l2.of(values.len())) && stats.bad_row.is_none() {
            stats.bad_row = Some(row);
        }
    }
}

/// One user's row under the replace variants: statistics and flags as in [`ignore_row`] and
/// (when `UPDATE`) the sparse Lee–Seung update
/// `w1 = w0 .* (Σ c (v - x) h_i + G w0) ./ (G w0 + l2 w0 + eps)` with `G = H0 H0^T`.
/// A row without entries of positive weight keeps its factors.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn replace_row<S: Simd, T: Real, const K: usize, const UPDATE: bool>(
    row: usize,
    w0: &[T],
    w1: &mut [T],
    h: &[T],
    items: &[u32],
    values: &[T],
    flags: &mut [u8],
    rule: RowRule,
    gram_h: &[T],
    scratch: &mut Scratch<T>,
    stats: &mut RowStats,
) {
    let k = if K == 0 { w0.len() } else { K };
    let w0 = &w0[..k];
    let n = items.len();
    let Predicted {
        num,
        den,
        a,
        b,
        lanes,
        ..
    } = scratch.predict::<S, K>(w0, h, items);
    // The running sums in locals (registers) for the loop.
    let mut st = *stats;
    let active = if let Some(mark) = rule.mark {
        let (mark, flagged_weight) = (T::from_f64(mark), T::from_f64(rule.flagged_weight));
        let mut active = 0usize;
        for (p, (&v, &x)) in values.iter().zip(b.iter()).enumerate() {
            let keep = judge_mark(v, x, mark, &mut flags[p], rule, &mut st);
            if UPDATE {
                let c = select(keep, T::ONE, flagged_weight);
                a[p] = c * (v - x);
                active += usize::from(c != T::ZERO);
            }
        }
        active
    } else {
        for ((r, &v), &x) in a.iter_mut().zip(values).zip(b.iter()) {
            judge_clean(v, x, rule, &mut st);
            // c = 1: c (v - x) = v - x exactly.
            *r = v - x;
        }
        n
    };
    *stats = st;
    stats.sq += rule.l2.weight(values.len()) * dot_t(w0, w0).to_f64();
    if UPDATE {
        if active == 0 {
            w1.copy_from_slice(w0);
            return;
        }
        gather_axpy::<S, T, K>(h, k, items, a, num);
        matvec_k::<S, T, K>(gram_h, w0, den, lanes);
        add_clamped(num, den);
        if !mu_update(w0, w1, num, den, rule.l2.of(values.len())) && stats.bad_row.is_none() {
            stats.bad_row = Some(row);
        }
    }
}

/// One item's column under the ignore variants: the masked multiplicative update of `h`
/// in place over the item's clean entries, with the new user factors `w1`:
/// `h = h .* (Σ v w1_u) ./ (Σ x w1_u + l2 h + eps)`, `x = w1_u . h`. `flagged` are the
/// users of the column's flagged entries, ascending (a subset of `users`). A column without
/// clean entries keeps its factors. Returns whether the new values are finite.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn ignore_col<S: Simd, T: Real, const K: usize>(
    h: &mut [T],
    w1: &[T],
    users: &[u32],
    values: &[T],
    flagged: &[u32],
    l2: L2,
    scratch: &mut Scratch<T>,
) -> bool {
    let k = if K == 0 { h.len() } else { K };
    let h = &mut h[..k];
    let n = users.len();
    // Every entry is flagged at most once: a column with as many flags as entries has no
    // clean one.
    if flagged.len() >= n {
        return true;
    }
    scratch.clear_sums(k);
    // The sums move out of the scratch buffers for the call (no copy), which also uses them.
    let (mut num, mut den) = (
        std::mem::take(&mut scratch.num),
        std::mem::take(&mut scratch.den),
    );
    ignore_col_sums::<S, T, K>(h, w1, users, values, flagged, &mut num, &mut den, scratch);
    let finite = mu_update_in_place(h, &num[..k], &den[..k], l2.of(n));
    (scratch.num, scratch.den) = (num, den);
    finite
}

/// Where a range of a column's users sits in the column, for [`ignore_col_range`] and
/// [`ignore_col_packed`].
#[derive(Clone, Copy)]
pub(crate) struct ColRange<'f> {
    /// All the column's flagged users, ascending.
    pub flagged: &'f [u32],
    /// The range's users, `lo..hi`.
    pub users: (u32, u32),
    /// All the column's entries.
    pub n: usize,
    /// Whether the range is the column's last (it then updates the factors).
    pub last: bool,
}

/// [`ignore_col`] on the users `lo..hi` of a column (`at`), whose entries there are `users`
/// and `values`. The sums `Σ v w1_u` and `Σ x w1_u` continue from `sums` (the first `k`
/// values, then the next `k`) in entry order and are left there; the `last` range of users
/// also updates `h` from them. A column passed range by range, in order, gets the same bits
/// as in one call.
/// Returns whether the new values are finite.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn ignore_col_range<S: Simd, T: Real, const K: usize>(
    h: &mut [T],
    w1: &[T],
    users: &[u32],
    values: &[T],
    at: ColRange<'_>,
    sums: &mut [T],
    l2: L2,
    scratch: &mut Scratch<T>,
) -> bool {
    let (h, num, den, fl) = range_parts::<T, K>(h, sums, at);
    if !users.is_empty() {
        ignore_col_sums::<S, T, K>(h, w1, users, values, fl, num, den, scratch);
    }
    update_if_last(h, num, den, at, l2)
}

/// [`ignore_col_range`] over tile `(lo, hi)`'s entries of a column in the packed form of
/// [`crate::tiles::PackedTiles`]: users `lo + idx[p]`, ratings `table[code[p]]`. `w1` is all
/// of the user factors. The same operations in the same order, hence the same bits.
#[inline(always)]
pub(crate) fn ignore_col_packed<S: Simd, T: Real, const K: usize>(
    h: &mut [T],
    w1: &[T],
    (ahead, code, table): (&[u16], &[u8], &[T; 256]),
    at: ColRange<'_>,
    sums: &mut [T],
    l2: L2,
    scratch: &mut Scratch<T>,
) -> bool {
    let (lo, hi) = at.users;
    let idx = &ahead[..code.len()];
    let (h, num, den, fl) = range_parts::<T, K>(h, sums, at);
    if !idx.is_empty() {
        match local::<T, K>(h) {
            Some(f) if judge_gathers::<S, T, K>() => {
                let rows = &w1[lo as usize * K..hi as usize * K];
                let values = code.iter().map(|&c| table[usize::from(c)]);
                predict_gather::<S, T, u16, K>(
                    &f,
                    rows,
                    (ahead, idx.len()),
                    values,
                    fl,
                    lo,
                    num,
                    den,
                );
            }
            _ => {
                // The general kernel, on the entries unpacked.
                let (mut users, mut values) = (
                    std::mem::take(&mut scratch.users),
                    std::mem::take(&mut scratch.values),
                );
                users.clear();
                users.extend(idx.iter().map(|&u| lo + u32::from(u)));
                values.clear();
                values.extend(code.iter().map(|&c| table[usize::from(c)]));
                ignore_col_sums::<S, T, K>(h, w1, &users, &values, fl, num, den, scratch);
                (scratch.users, scratch.values) = (users, values);
            }
        }
    }
    update_if_last(h, num, den, at, l2)
}

/// A range's view of its column in [`ignore_col_range`]: the `k` factors, the two running
/// sums (the first `k` of `sums`, then the next `k`) and the range's flagged users.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn range_parts<'a, T: Real, const K: usize>(
    h: &'a mut [T],
    sums: &'a mut [T],
    at: ColRange<'a>,
) -> (&'a mut [T], &'a mut [T], &'a mut [T], &'a [u32]) {
    let k = if K == 0 { h.len() } else { K };
    let (num, den) = sums[..2 * k].split_at_mut(k);
    let ((lo, hi), flagged) = (at.users, at.flagged);
    let from = flagged.partition_point(|&u| u < lo);
    let to = from + flagged[from..].partition_point(|&u| u < hi);
    (&mut h[..k], num, den, &flagged[from..to])
}

/// The end of a range of a column in [`ignore_col_range`]: on the `last` range, `h`'s update
/// from the sums, unless all the column's entries are flagged.
#[inline(always)]
fn update_if_last<T: Real>(h: &mut [T], num: &[T], den: &[T], at: ColRange<'_>, l2: L2) -> bool {
    if !at.last || at.flagged.len() >= at.n {
        return true;
    }
    mu_update_in_place(h, num, den, l2.of(at.n))
}

/// The sums of [`ignore_col`] over `users` (with `flagged` among them, ascending), added on to
/// `num` and `den` in entry order. `h` is the item's factors before the update.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn ignore_col_sums<S: Simd, T: Real, const K: usize>(
    h: &[T],
    w1: &[T],
    users: &[u32],
    values: &[T],
    flagged: &[u32],
    num: &mut [T],
    den: &mut [T],
    scratch: &mut Scratch<T>,
) {
    let k = h.len();
    let n = users.len();
    if judge_gathers::<S, T, K>() {
        if let Some(f) = local::<T, K>(h) {
            let (ahead, values) = ((users, users.len()), values.iter().copied());
            predict_gather::<S, T, u32, K>(&f, w1, ahead, values, flagged, 0, num, den);
            return;
        }
    }
    // The flagged users not yet reached.
    let mut flagged = flagged;
    for s0 in (0..n).step_by(SEGMENT) {
        let s1 = n.min(s0 + SEGMENT);
        let (users, values) = (&users[s0..s1], &values[s0..s1]);
        let Predicted { b, .. } = scratch.predict::<S, K>(h, w1, users);
        let last = users[users.len() - 1];
        let here = flagged.partition_point(|&u| u <= last);
        // Flagged entries weigh 0 in the sums, and adding a zero term leaves these
        // nonnegative sums as they are: the runs of entries between them are summed in order
        // and the flagged ones skipped (no copy of the weights). Both lists ascend, so each
        // flagged entry is found past the previous one.
        let mut from = 0;
        for &u in &flagged[..here] {
            let q = from + users[from..].partition_point(|&x| x < u);
            let run = from..q;
            gather_add2::<S, T, K>(
                w1,
                k,
                &users[run.clone()],
                &values[run.clone()],
                &b[run],
                num,
                den,
            );
            from = q + 1;
        }
        flagged = &flagged[here..];
        gather_add2::<S, T, K>(w1, k, &users[from..], &values[from..], &b[from..], num, den);
    }
}

/// One item's column under `huber` and `l1`, in place: [`ignore_col`] with the real weights
/// `c` of the row pass (`weights`, CSR order, reached through `pos`):
/// `h = h .* (Σ c v w1_u) ./ (Σ c x w1_u + l2 h + eps)`, `x = w1_u . h`. A column without
/// entries of positive weight keeps its factors. Returns whether the new values are finite.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn weighted_col<S: Simd, T: Real, const K: usize>(
    h: &mut [T],
    w1: &[T],
    users: &[u32],
    values: &[T],
    pos: &[u32],
    weights: &[T],
    l2: L2,
    scratch: &mut Scratch<T>,
) -> bool {
    let k = if K == 0 { h.len() } else { K };
    let h = &mut h[..k];
    let n = users.len();
    scratch.clear_sums(k);
    let Predicted { num, den, a, b, .. } = scratch.predict::<S, K>(h, w1, users);
    let mut active = 0usize;
    for (q, (&v, &p)) in values.iter().zip(pos).enumerate() {
        let c = weights[p as usize];
        a[q] = c * v;
        b[q] *= c;
        active += usize::from(c > T::ZERO);
    }
    if active == 0 {
        return true;
    }
    gather_add2::<S, T, K>(w1, k, users, &a[..n], &b[..n], num, den);
    mu_update_in_place(h, num, den, l2.of(users.len()))
}

/// One item's column under the replace variants, in place:
/// `h = h .* (Σ_u r_u w1_u + (W1^T W0) h) ./ ((W1^T W1) h + l2 h + eps)` with the weighted
/// residuals `r = c (V - X)`, `X = W0 H0`, `c` = 1 on clean entries and `flagged_weight` on
/// flagged ones. The residuals and the flags (when `mark = Some(λ)`: `(v - x)^2 > λ`; `None`:
/// nothing is flagged) are recomputed here exactly as the row pass computed them (same dot
/// products: `w0_u . h0` sums the same products in the same order as `h0 . w0_u`), which costs
/// less than reading them back in CSR order (a random access per entry, to lines the other
/// cores just wrote). `h` must still hold `H0`. A column without entries of positive weight
/// keeps its factors. Returns whether the new values are finite.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn replace_col<S: Simd, T: Real, const K: usize>(
    h: &mut [T],
    w0: &[T],
    w1: &[T],
    users: &[u32],
    values: &[T],
    mark: Option<f64>,
    flagged_weight: f64,
    g10: &[T],
    g11: &[T],
    l2: L2,
    scratch: &mut Scratch<T>,
) -> bool {
    let k = if K == 0 { h.len() } else { K };
    let h = &mut h[..k];
    let n = users.len();
    let Predicted {
        num,
        den,
        a,
        b,
        lanes,
        ..
    } = scratch.predict::<S, K>(h, w0, users);
    let active = match mark {
        None => {
            for ((r, &v), &x) in a.iter_mut().zip(values).zip(b.iter()) {
                *r = v - x;
            }
            n
        }
        Some(l) => {
            let (l, flagged_weight) = (T::from_f64(l), T::from_f64(flagged_weight));
            let mut active = 0usize;
            for ((r, &v), &x) in a.iter_mut().zip(values).zip(b.iter()) {
                // As in `judge` and `replace_row`.
                let corrupt = (v - x) * (v - x) > l;
                let c = select(corrupt, flagged_weight, T::ONE);
                *r = c * (v - x);
                active += usize::from(c != T::ZERO);
            }
            active
        }
    };
    if active == 0 {
        return true;
    }
    gather_axpy::<S, T, K>(w1, k, users, a, num);
    matvec_k::<S, T, K>(g10, h, den, lanes);
    add_clamped(num, den);
    matvec_k::<S, T, K>(g11, h, den, lanes);
    mu_update_in_place(h, num, den, l2.of(users.len()))
}

/// `A^T B` (`k x k`, row-major) of two row-major matrices with `k` columns, summed over fixed
/// blocks of rows in block order: the same bits for any number of threads. Each block runs on
/// `isa`; `K` is `k` when it is a compile-time constant, 0 otherwise.
pub(crate) fn gram<const K: usize, T: Real>(isa: Isa, a: &[T], b: &[T], k: usize) -> Vec<T> {
    use rayon::prelude::*;
    const BLOCK_ROWS: usize = 256;
    debug_assert!(K == 0 || K == k);
    let partials: Vec<Vec<T>> = a
        .par_chunks(BLOCK_ROWS * k)
        .zip(b.par_chunks(BLOCK_ROWS * k))
        .map(|(a, b)| isa.run(GramBlock::<K, T> { a, b, k }))
        .collect();
    let mut g = vec![T::ZERO; k * k];
    for p in &partials {
        for (s, &x) in g.iter_mut().zip(p) {
            *s += x;
        }
    }
    g
}

/// `A^T B` over one block of rows (see [`gram`]).
struct GramBlock<'s, const K: usize, T> {
    a: &'s [T],
    b: &'s [T],
    k: usize,
}

impl<const K: usize, T: Real> Job for GramBlock<'_, K, T> {
    type Output = Vec<T>;

    #[inline(always)]
    fn run<S: Simd>(self) -> Vec<T> {
        let k = if K == 0 { self.k } else { K };
        let mut g = vec![T::ZERO; k * k];
        if K > 0 {
            match S::GRAM_TILE {
                1 => gram_tiles::<K, 1, T>(self.a, self.b, &mut g),
                2 => gram_tiles::<K, 2, T>(self.a, self.b, &mut g),
                _ => gram_tiles::<K, 4, T>(self.a, self.b, &mut g),
            }
        } else {
            for (ar, br) in self.a.chunks_exact(k).zip(self.b.chunks_exact(k)) {
                for (x, &ax) in ar.iter().enumerate() {
                    axpy_t(&mut g[x * k..x * k + k], ax, br);
                }
            }
        }
        g
    }
}

/// `g = A^T B` over one block of rows with `K` columns, in register tiles of `TILE` rows of `g`,
/// each summed over all the block's rows in order and stored once: the same sums as `axpy`
/// row by row (each entry starts at +0.0 and adds the same products in the same order),
/// without reloading `g` for every row of `A`.
#[inline(always)]
fn gram_tiles<const K: usize, const TILE: usize, T: Real>(a: &[T], b: &[T], g: &mut [T]) {
    let rows = a.len().checked_div(K).unwrap_or(0);
    let mut x0 = 0;
    while x0 < K {
        if K - x0 >= TILE {
            let mut acc = [[T::ZERO; K]; TILE];
            for r in 0..rows {
                let ar: &[T; K] = a[r * K..r * K + K].try_into().expect("K values");
                let br: &[T; K] = b[r * K..r * K + K].try_into().expect("K values");
                for (i, acc_i) in acc.iter_mut().enumerate() {
                    let ax = ar[x0 + i];
                    for j in 0..K {
                        acc_i[j] += ax * br[j];
                    }
                }
            }
            for (i, acc_i) in acc.iter().enumerate() {
                g[(x0 + i) * K..(x0 + i) * K + K].copy_from_slice(acc_i);
            }
            x0 += TILE;
        } else {
            for (ar, br) in a.chunks_exact(K).zip(b.chunks_exact(K)) {
                for x in x0..K {
                    axpy_t(&mut g[x * K..x * K + K], ar[x], br);
                }
            }
            x0 = K;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The kernels' fast paths against their general forms: a known rank `K` (one loop per
    //! row or column, predictions and sums together) must give the bits of the run-time rank
    //! (`K = 0`: segments, separate loops, masked weights), which every path shares.
    use super::*;
    use crate::isa::{avx2_or_skip, Avx2, Portable};

    /// Deterministic values in `[lo, hi)` (a linear congruential generator: no dependency).
    fn values(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect()
    }

    /// Ascending distinct indices below `m`, about one in `step`, at least 300 of them (so that
    /// the general form runs more than one segment).
    fn indices(m: usize, step: usize) -> Vec<u32> {
        (0..m as u32).filter(|i| i % step as u32 != 1).collect()
    }

    /// The dot product as the engine always summed `f64`: four lanes over the chunks of 4,
    /// `(l0 + l2) + (l1 + l3)`, then the tail, unfused.
    fn four_lane_dot(a: &[f64], b: &[f64]) -> f64 {
        let full = a.len() / 4 * 4;
        let mut acc = [0.0; 4];
        for c in (0..full).step_by(4) {
            for l in 0..4 {
                acc[l] += a[c + l] * b[c + l];
            }
        }
        let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
        for j in full..a.len() {
            s += a[j] * b[j];
        }
        s
    }

    #[test]
    fn f64_dot_products_keep_their_historical_order() {
        for n in 0..=41 {
            let (a, b) = (values(n, 1, -1.0, 1.0), values(n, 2, -1.0, 1.0));
            assert_eq!(
                dot_t(&a, &b).to_bits(),
                four_lane_dot(&a, &b).to_bits(),
                "n = {n}"
            );
        }
    }

    fn known_rank_dots_agree<T: Real, const K: usize>() {
        let a = T::from_f64_vec(values(K, 3, 0.0, 2.0));
        let b = T::from_f64_vec(values(K, 4, 0.0, 2.0));
        assert_eq!(dot_k::<T, K>(&a, &b), dot_t(&a, &b), "K = {K}");
    }

    #[test]
    fn dot_products_of_a_known_rank_match_the_general_one() {
        macro_rules! ranks {
            ($($k:literal),*) => {$(
                known_rank_dots_agree::<f32, $k>();
                known_rank_dots_agree::<f64, $k>();
            )*};
        }
        ranks!(1, 3, 4, 5, 8, 11, 12, 16, 19, 20, 24, 28, 31, 32, 40);
    }

    /// [`ignore_row`] with its compile-time parameters chosen.
    type RowKernel<T> = fn(
        usize,
        &[T],
        &mut [T],
        &[T],
        &[u32],
        &[T],
        &mut [u8],
        RowRule,
        &mut Scratch<T>,
        &mut RowStats,
    );

    /// One user's row with rank `K` and with the run-time rank: flags, statistics and the new
    /// factors, bit for bit.
    fn rows_agree<S: Simd, T: Real, const K: usize>(rule: RowRule) {
        let m = 700;
        let items = indices(m, 5);
        let h = T::from_f64_vec(values(m * K, 5, 0.0, 1.0));
        let w0 = T::from_f64_vec(values(K, 6, 0.0, 1.0));
        let vals = T::from_f64_vec(values(items.len(), 7, 1.0, 5.0));
        let run = |known: bool| {
            let (mut w1, mut flags) = (vec![T::ZERO; K], vec![7u8; items.len()]);
            let (mut scratch, mut st) = (Scratch::new(K), RowStats::default());
            let flags_arg: &mut [u8] = if rule.mark.is_some() {
                &mut flags
            } else {
                &mut []
            };
            let kernel: RowKernel<T> = if known {
                ignore_row::<S, T, K, true>
            } else {
                ignore_row::<S, T, 0, true>
            };
            kernel(
                0,
                &w0,
                &mut w1,
                &h,
                &items,
                &vals,
                flags_arg,
                rule,
                &mut scratch,
                &mut st,
            );
            let bits: Vec<u64> = w1.iter().map(|x| x.to_f64().to_bits()).collect();
            (
                bits,
                flags,
                st.loss.to_bits(),
                st.clipped.to_bits(),
                st.flagged,
            )
        };
        let (known, general) = (run(true), run(false));
        assert_eq!(known, general, "K = {K}, rule {rule:?}");
        if rule.mark.is_some() {
            assert!(
                known.4 > 0 && known.4 < items.len(),
                "some flagged: {}",
                known.4
            );
        }
    }

    /// One item's column with rank `K` and with the run-time rank, some users flagged.
    fn cols_agree<S: Simd, T: Real, const K: usize>() {
        let n = 900;
        let users = indices(n, 3);
        let w1 = T::from_f64_vec(values(n * K, 8, 0.0, 1.0));
        let h0 = T::from_f64_vec(values(K, 9, 0.0, 1.0));
        let vals = T::from_f64_vec(values(users.len(), 10, 1.0, 5.0));
        // Flagged: the first and last users, two adjacent ones and every 37th.
        let flagged: Vec<u32> = users
            .iter()
            .enumerate()
            .filter(|&(p, _)| p == 0 || p == 100 || p == 101 || p % 37 == 5 || p + 1 == users.len())
            .map(|(_, &u)| u)
            .collect();
        let l2 = L2 {
            value: 0.1,
            per_rating: true,
        };
        let run = |known: bool| {
            let (mut h, mut scratch) = (h0.clone(), Scratch::new(K));
            let finite = if known {
                ignore_col::<S, T, K>(&mut h, &w1, &users, &vals, &flagged, l2, &mut scratch)
            } else {
                ignore_col::<S, T, 0>(&mut h, &w1, &users, &vals, &flagged, l2, &mut scratch)
            };
            assert!(finite);
            h.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<u64>>()
        };
        assert_eq!(run(true), run(false), "K = {K}");
        // And the flags matter: without them the column moves elsewhere.
        let (mut h, mut scratch) = (h0.clone(), Scratch::new(K));
        ignore_col::<S, T, K>(&mut h, &w1, &users, &vals, &[], l2, &mut scratch);
        let unflagged: Vec<u64> = h.iter().map(|x| x.to_f64().to_bits()).collect();
        assert_ne!(unflagged, run(true));
    }

    fn rule(lambda: Option<f64>, mark: Option<f64>) -> RowRule {
        RowRule {
            lambda,
            mark,
            robust: None,
            flagged_weight: 0.0,
            l2: L2 {
                value: 0.1,
                per_rating: true,
            },
        }
    }

    #[test]
    fn rows_of_a_known_rank_match_the_general_form() {
        for r in [
            rule(Some(4.0), Some(4.0)),
            rule(Some(4.0), None),
            rule(None, None),
            rule(None, Some(2.0)),
        ] {
            rows_agree::<Portable, f32, 20>(r);
            rows_agree::<Portable, f64, 10>(r);
            if avx2_or_skip() {
                rows_agree::<Avx2, f32, 20>(r);
                rows_agree::<Avx2, f32, 12>(r);
                rows_agree::<Avx2, f32, 5>(r);
                rows_agree::<Avx2, f64, 10>(r);
                rows_agree::<Avx2, f64, 16>(r);
            }
        }
    }

    #[test]
    fn columns_of_a_known_rank_match_the_general_form() {
        cols_agree::<Portable, f32, 20>();
        if avx2_or_skip() {
            cols_agree::<Avx2, f32, 20>();
            cols_agree::<Avx2, f32, 32>();
            cols_agree::<Avx2, f32, 10>();
            cols_agree::<Avx2, f64, 10>();
        }
        cols_agree::<Portable, f64, 8>();
    }
}
