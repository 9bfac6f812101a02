//! The parallel half-steps over users (CSR) and items (CSC).
//!
//! Work is split into chunks of consecutive users (items) with about [`CHUNK_NNZ`] ratings
//! each; the chunks depend only on the data, and per-chunk statistics are summed in chunk
//! order, so results are bit-identical for any number of threads. Each chunk is a
//! [`Job`] run on the instruction set chosen for the fit ([`crate::isa`]).

use cnmf_ratings::Ratings;
use rayon::prelude::*;

use crate::flagged::{flagged_pairs, FlaggedByItem};
use crate::isa::{Isa, Job, Simd};
use crate::kernels::{
    guarded_row, ignore_col, ignore_col_packed, ignore_col_range, ignore_row, replace_col,
    replace_row, robust_row, weighted_col, ColRange, Guard, Robust, RowRule, RowStats, Scratch, L2,
};
use crate::numeric::{split_at_cuts, TwoWay};
use crate::real::Real;
use crate::tiles::ColumnTiles;
use std::borrow::Cow;

/// Target number of ratings per parallel chunk.
const CHUNK_NNZ: usize = 8192;
/// Maximum number of rows per parallel chunk.
const CHUNK_ROWS: usize = 1024;

/// The data in the shape the passes read it, with the rating values in the element type `T`
/// of the passes (borrowed for `f64`, a copy for `f32`).
pub(crate) struct Problem<'a, T: Real> {
    pub n: usize,
    pub m: usize,
    pub k: usize,
    /// Users by rows (CSR), items by columns (CSC).
    view: TwoWay<'a>,
    /// The values of `view`'s rows (CSR order) and columns (CSC order) as `T`.
    row_val: Cow<'a, [T]>,
    col_val: Cow<'a, [T]>,
    col_pos: &'a [u32],
    user_bounds: Vec<usize>,
    item_bounds: Vec<usize>,
    /// The columns by ranges of users, when the ignore kernels' column pass runs tile by tile
    /// ([`crate::tiles`]). When they are packed, `col_val` is empty: nothing reads it.
    user_tiles: Option<ColumnTiles<T>>,
}

impl<T: Real> Problem<'_, T> {
    /// Number of observed ratings of item `i`.
    pub(crate) fn item_count(&self, i: usize) -> usize {
        (self.view.cols.ptr[i + 1] - self.view.cols.ptr[i]) as usize
    }
}

/// Chunk boundaries over rows of a compressed matrix: about `CHUNK_NNZ` entries each.
fn bounds(ptr: &[u32]) -> Vec<usize> {
    let rows = ptr.len() - 1;
    let mut b = vec![0];
    let mut start = 0;
    for r in 0..rows {
        let nnz = (ptr[r + 1] - ptr[start]) as usize;
        if nnz >= CHUNK_NNZ || r + 1 - start >= CHUNK_ROWS {
            b.push(r + 1);
            start = r + 1;
        }
    }
    if *b.last().expect("non-empty") != rows {
        b.push(rows);
    }
    b
}

/// One parallel chunk of users: index, new factors, and flags and weights of its entries.
type RowChunk<'s, T> = (usize, &'s mut [T], &'s mut [u8], &'s mut [T]);

/// Which row kernel a pass runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowKind<'g, T> {
    /// Masked multiplicative update (ignore variants; the robust baselines' weighted update
    /// when the rule has a robust part).
    Ignore,
    /// Sparse Lee–Seung update with `G = H0 H0^T` (replace variants).
    Replace { gram_h: &'g [T] },
}

/// Which column kernel a pass runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ColKind<'g, T> {
    /// Masked multiplicative update; the entries in `flagged` (the row pass's flags by
    /// item) are skipped.
    Ignore { flagged: &'g FlaggedByItem },
    /// The weighted update of `huber` and `l1` with the row pass's weights (CSR order).
    Weighted { weights: &'g [T] },
    /// Sparse Lee–Seung update; the weighted residuals `c (V - W0 H0)` and the flags (the
    /// row pass's `mark`) are recomputed from the old user factors `w0` (and `H0`, which `h`
    /// still holds), with weight `flagged_weight` on flagged entries.
    Replace {
        g10: &'g [T],
        g11: &'g [T],
        w0: &'g [T],
        mark: Option<f64>,
        flagged_weight: f64,
    },
}

impl<'a, T: Real> Problem<'a, T> {
    /// The passes' view of `data` at rank `k`, with the columns cut into `tiles` ranges of
    /// users when there is more than one ([`crate::tiles`]; only for the ignore kernels'
    /// column pass).
    pub(crate) fn new(data: &'a Ratings, k: usize, tiles: usize) -> Problem<'a, T> {
        let view = TwoWay::of_ratings(data);
        let row_val = T::from_f64_slice(view.rows.val);
        let user_tiles = (tiles > 1).then(|| ColumnTiles::new(&view.cols, view.n, tiles));
        let col_val = match &user_tiles {
            Some(t) if t.packed.is_some() => Cow::Borrowed(&[][..]),
            _ => T::from_f64_slice(view.cols.val),
        };
        let user_bounds = bounds(&view.rows.ptr);
        let item_bounds = bounds(&view.cols.ptr);
        Problem {
            n: data.n_users(),
            m: data.n_items(),
            k,
            view,
            row_val,
            col_val,
            col_pos: data.csc_to_csr(),
            user_bounds,
            item_bounds,
            user_tiles,
        }
    }

    pub(crate) fn nnz(&self) -> usize {
        self.view.nnz()
    }

    /// CSR positions of the chunks' first entries.
    fn user_pos_bounds(&self) -> Vec<usize> {
        self.user_bounds
            .iter()
            .map(|&u| self.view.rows.ptr[u] as usize)
            .collect()
    }

    /// The user half-step: statistics of `(w0, h)` (and the flag update when `rule.mark` is
    /// set) and, when `UPDATE`, the new user factors in `w1`. `K` is the rank when it is a
    /// compile-time constant, 0 otherwise. Each chunk runs on `isa`. `weights` (CSR order) is
    /// empty except under a robust rule, which writes each entry's weight (or squared residual)
    /// there. With `flagged`, the pass also regroups the flags by item there, as
    /// [`Problem::flagged_by_item`] would (each chunk's flags while they are in cache).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn row_pass<const K: usize, const UPDATE: bool>(
        &self,
        isa: Isa,
        kind: RowKind<'_, T>,
        rule: RowRule,
        w0: &[T],
        w1: &mut [T],
        h: &[T],
        flags: &mut [u8],
        weights: &mut [T],
        flagged: Option<&mut FlaggedByItem>,
    ) -> RowStats {
        debug_assert!(K == 0 || K == self.k);
        let k = if K == 0 { self.k } else { K };
        let pos_bounds = self.user_pos_bounds();
        let regroup = flagged.is_some() && !flags.is_empty();
        let chunks: Vec<RowChunk<'_, T>> = {
            let w1s = split_at_cuts(w1, &self.user_bounds, k);
            let fs = split_at_cuts(flags, &pos_bounds, 1);
            let cs = split_at_cuts(weights, &pos_bounds, 1);
            w1s.into_iter()
                .zip(fs)
                .zip(cs)
                .enumerate()
                .map(|(c, ((a, b), d))| (c, a, b, d))
                .collect()
        };
        let per_chunk: Vec<(RowStats, Vec<(u32, u32)>)> = chunks
            .into_par_iter()
            .map_init(
                || Scratch::new(k),
                |scratch, (c, w1c, fc, cc)| {
                    let job = RowJob::<T, K, UPDATE> {
                        problem: self,
                        chunk: (c, w1c, &mut *fc, cc),
                        scratch,
                        kind,
                        rule,
                        w0,
                        h,
                    };
                    // The robust baselines' rows are a job of their own, so that the ignore and
                    // replace variants' job compiles exactly as without them.
                    let stats = match (kind, rule.robust) {
                        (RowKind::Ignore, Some(robust)) => isa.run(RobustRowJob { job, robust }),
                        _ => isa.run(job),
                    };
                    let pairs = if regroup {
                        let users = self.user_bounds[c]..self.user_bounds[c + 1];
                        flagged_pairs(&self.view.rows, fc, users)
                    } else {
                        Vec::new()
                    };
                    (stats, pairs)
                },
            )
            .collect();
        let mut total = RowStats::default();
        for (s, _) in &per_chunk {
            total.add(s);
        }
        if let Some(out) = flagged {
            let pairs: Vec<Vec<(u32, u32)>> = per_chunk.into_iter().map(|(_, p)| p).collect();
            out.rebuild_from_pairs(self.m, &pairs);
        }
        total
    }

    /// `guarded`'s user half-step: [`Problem::row_pass`] with [`guarded_row`] under `guard` on
    /// each user (`screened`: one value per user, or empty when nobody is screened), writing the
    /// item side's flags into `flags` (CSR order). A pass of its own, so that the other
    /// algorithms' passes compile exactly as without it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn guarded_row_pass<const K: usize, const UPDATE: bool>(
        &self,
        isa: Isa,
        rule: RowRule,
        guard: Guard,
        screened: &[bool],
        held: &[u8],
        w0: &[T],
        w1: &mut [T],
        h: &[T],
        flags: &mut [u8],
    ) -> RowStats {
        debug_assert!(K == 0 || K == self.k);
        let k = if K == 0 { self.k } else { K };
        let pos_bounds = self.user_pos_bounds();
        let chunks: Vec<(usize, &mut [T], &mut [u8])> = {
            let w1s = split_at_cuts(w1, &self.user_bounds, k);
            let fs = split_at_cuts(flags, &pos_bounds, 1);
            w1s.into_iter()
                .zip(fs)
                .enumerate()
                .map(|(c, (a, b))| (c, a, b))
                .collect()
        };
        let per_chunk: Vec<RowStats> = chunks
            .into_par_iter()
            .map(|(c, w1c, fc)| {
                isa.run(GuardedRowJob::<T, K, UPDATE> {
                    problem: self,
                    c,
                    w1c,
                    fc,
                    rule,
                    guard,
                    screened,
                    held,
                    w0,
                    h,
                })
            })
            .collect();
        let mut total = RowStats::default();
        for s in &per_chunk {
            total.add(s);
        }
        total
    }

    /// The row pass's flags (CSR order) regrouped by item into `out`, for
    /// [`ColKind::Ignore`].
    pub(crate) fn flagged_by_item(&self, flags: &[u8], out: &mut FlaggedByItem) {
        out.rebuild(&self.view.rows, self.m, flags, &self.user_bounds);
    }

    /// The item half-step, in place on `h`, with the new user factors `w1`. Returns
    /// `(||H||^2 after the update, first item whose update is not finite)`. Each chunk runs on
    /// `isa`. `sums` is a buffer the tiled pass keeps its running sums in between calls.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn col_pass<const K: usize>(
        &self,
        isa: Isa,
        kind: ColKind<'_, T>,
        l2: L2,
        w1: &[T],
        h: &mut [T],
        sums: &mut Vec<T>,
    ) -> (f64, Option<usize>) {
        debug_assert!(K == 0 || K == self.k);
        if let Some(tiles) = &self.user_tiles {
            let ColKind::Ignore { flagged } = kind else {
                panic!("columns are tiled only for the ignore kernels' column pass");
            };
            return sum_chunks(self.col_pass_tiled::<K>(isa, flagged, tiles, l2, w1, h, sums));
        }
        let k = if K == 0 { self.k } else { K };
        let chunks: Vec<(usize, &mut [T])> = split_at_cuts(h, &self.item_bounds, k)
            .into_iter()
            .enumerate()
            .collect();
        let per_chunk: Vec<(f64, Option<usize>)> = chunks
            .into_par_iter()
            .map_init(
                || Scratch::new(k),
                |scratch, (c, hc)| {
                    let job = ColJob::<T, K> {
                        problem: self,
                        c,
                        hc,
                        scratch,
                        kind,
                        l2,
                        w1,
                    };
                    match kind {
                        ColKind::Weighted { weights } => isa.run(WeightedColJob { job, weights }),
                        _ => isa.run(job),
                    }
                },
            )
            .collect();
        sum_chunks(per_chunk)
    }
}

/// A column pass's `(||H||^2, first item whose update is not finite)` from its chunks', in
/// chunk order.
fn sum_chunks(per_chunk: Vec<(f64, Option<usize>)>) -> (f64, Option<usize>) {
    let mut sq = 0.0;
    let mut bad = None;
    for (s, b) in per_chunk {
        sq += s;
        bad = bad.or(b);
    }
    (sq, bad)
}

impl<T: Real> Problem<'_, T> {
    /// The ignore kernels' column pass tile by tile of users ([`crate::tiles`]): each tile a
    /// parallel pass over the chunks of items, each item's sums carried in `sums` from tile to
    /// tile; the last tile updates `h`. The same bits as [`Problem::col_pass`] untiled.
    /// Returns the last tile's per-chunk results.
    #[allow(clippy::too_many_arguments)]
    fn col_pass_tiled<const K: usize>(
        &self,
        isa: Isa,
        flagged: &FlaggedByItem,
        tiles: &ColumnTiles<T>,
        l2: L2,
        w1: &[T],
        h: &mut [T],
        sums: &mut Vec<T>,
    ) -> Vec<(f64, Option<usize>)> {
        let k = if K == 0 { self.k } else { K };
        sums.resize(self.m * 2 * k, T::ZERO);
        let mut last = Vec::new();
        for tile in 0..tiles.cut.len() {
            let chunks: Vec<TileChunk<'_, T>> =
                split_at_cuts(&mut sums[..], &self.item_bounds, 2 * k)
                    .into_iter()
                    .zip(split_at_cuts(&mut *h, &self.item_bounds, k))
                    .enumerate()
                    .collect();
            last = chunks
                .into_par_iter()
                .map_init(
                    || Scratch::new(k),
                    |scratch, (c, (sc, hc))| {
                        isa.run(TileJob::<T, K> {
                            problem: self,
                            c,
                            hc,
                            sc,
                            scratch,
                            flagged,
                            l2,
                            w1,
                            tiles,
                            tile,
                        })
                    },
                )
                .collect();
        }
        last
    }
}

/// Records item `i`'s new factors `hi` in a column pass's `(||H||^2, first item whose update
/// is not finite)`, `weight` being its weight in the L2 penalty.
#[inline(always)]
fn item_done<T: Real>(
    i: usize,
    finite: bool,
    weight: f64,
    hi: &[T],
    sq: &mut f64,
    bad: &mut Option<usize>,
) {
    if !finite && bad.is_none() {
        *bad = Some(i);
    }
    *sq += weight * crate::kernels::dot_t(hi, hi).to_f64();
}

/// A chunk of items of the tiled column pass: index, running sums, factors.
type TileChunk<'s, T> = (usize, (&'s mut [T], &'s mut [T]));

/// One chunk of items (`c`, factors `hc`) in one tile of [`Problem::col_pass_tiled`]: returns,
/// on the last tile, `(||H_chunk||^2, first item whose update is not finite)`.
struct TileJob<'p, 'a, 's, T: Real, const K: usize> {
    problem: &'p Problem<'a, T>,
    c: usize,
    hc: &'s mut [T],
    /// The chunk's items' running sums, `2 k` each.
    sc: &'s mut [T],
    scratch: &'s mut Scratch<T>,
    flagged: &'p FlaggedByItem,
    l2: L2,
    w1: &'p [T],
    tiles: &'p ColumnTiles<T>,
    tile: usize,
}

impl<T: Real, const K: usize> Job for TileJob<'_, '_, '_, T, K> {
    type Output = (f64, Option<usize>);

    #[inline(always)]
    fn run<S: Simd>(self) -> (f64, Option<usize>) {
        let TileJob {
            problem: p,
            c,
            hc,
            sc,
            scratch,
            flagged,
            l2,
            w1,
            tiles,
            tile,
        } = self;
        let k = if K == 0 { p.k } else { K };
        let last = tile + 1 == tiles.cut.len();
        let (i0, i1) = (p.item_bounds[c], p.item_bounds[c + 1]);
        let mut sq = 0.0;
        let mut bad = None;
        for i in i0..i1 {
            let o = (i - i0) * k;
            let sums = &mut sc[2 * o..2 * o + 2 * k];
            if tile == 0 {
                sums.fill(T::ZERO);
            }
            let hi = &mut hc[o..o + k];
            let n = p.item_count(i);
            let at = ColRange {
                flagged: flagged.of_item(i),
                users: tiles.cut.users(tile),
                n,
                last,
            };
            // A tile without entries of the item leaves its sums as they are (most items have
            // few ratings, so this is common).
            let finite = match &tiles.packed {
                Some(packed) => {
                    let entries = packed.entries(tile, i);
                    if entries.1.is_empty() && !last {
                        continue;
                    }
                    ignore_col_packed::<S, T, K>(hi, w1, entries, at, sums, l2, scratch)
                }
                None => {
                    let r = tiles.cut.range(tile, i);
                    if r.is_empty() && !last {
                        continue;
                    }
                    let (users, values) = (&p.view.cols.idx[r.clone()], &p.col_val[r]);
                    ignore_col_range::<S, T, K>(hi, w1, users, values, at, sums, l2, scratch)
                }
            };
            if last {
                item_done(i, finite, l2.weight(n), hi, &mut sq, &mut bad);
            }
        }
        (sq, bad)
    }
}

/// One chunk of a row pass (see [`Problem::row_pass`]).
struct RowJob<'p, 'a, 's, 'g, T: Real, const K: usize, const UPDATE: bool> {
    problem: &'p Problem<'a, T>,
    chunk: RowChunk<'s, T>,
    /// Buffers reused from chunk to chunk (every value a kernel reads, it wrote first).
    scratch: &'s mut Scratch<T>,
    kind: RowKind<'g, T>,
    rule: RowRule,
    w0: &'p [T],
    h: &'p [T],
}

impl<T: Real, const K: usize, const UPDATE: bool> Job for RowJob<'_, '_, '_, '_, T, K, UPDATE> {
    type Output = RowStats;

    #[inline(always)]
    fn run<S: Simd>(self) -> RowStats {
        let RowJob {
            problem: p,
            chunk: (c, w1c, fc, _),
            scratch,
            kind,
            rule,
            w0,
            h,
        } = self;
        let k = if K == 0 { p.k } else { K };
        let mut stats = RowStats::default();
        let (u0, u1) = (p.user_bounds[c], p.user_bounds[c + 1]);
        let base = p.view.rows.ptr[u0] as usize;
        for u in u0..u1 {
            let (s, e) = (p.view.rows.ptr[u] as usize, p.view.rows.ptr[u + 1] as usize);
            let items = &p.view.rows.idx[s..e];
            let values = &p.row_val[s..e];
            let fl: &mut [u8] = if fc.is_empty() {
                &mut []
            } else {
                &mut fc[s - base..e - base]
            };
            let w0u = &w0[u * k..u * k + k];
            let w1u: &mut [T] = if UPDATE {
                let o = (u - u0) * k;
                &mut w1c[o..o + k]
            } else {
                &mut []
            };
            match kind {
                RowKind::Ignore => ignore_row::<S, T, K, UPDATE>(
                    u, w0u, w1u, h, items, values, fl, rule, scratch, &mut stats,
                ),
                RowKind::Replace { gram_h } => replace_row::<S, T, K, UPDATE>(
                    u, w0u, w1u, h, items, values, fl, rule, gram_h, scratch, &mut stats,
                ),
            }
        }
        stats
    }
}

/// One chunk of a column pass (see [`Problem::col_pass`]): returns `(||H_chunk||^2, first
/// item whose update is not finite)`.
struct ColJob<'p, 'a, 's, 'g, T: Real, const K: usize> {
    problem: &'p Problem<'a, T>,
    c: usize,
    hc: &'s mut [T],
    /// Buffers reused from chunk to chunk (every value a kernel reads, it wrote first).
    scratch: &'s mut Scratch<T>,
    kind: ColKind<'g, T>,
    l2: L2,
    w1: &'p [T],
}

impl<T: Real, const K: usize> Job for ColJob<'_, '_, '_, '_, T, K> {
    type Output = (f64, Option<usize>);

    #[inline(always)]
    fn run<S: Simd>(self) -> (f64, Option<usize>) {
        let ColJob {
            problem: p,
            c,
            hc,
            scratch,
            kind,
            l2,
            w1,
        } = self;
        let k = if K == 0 { p.k } else { K };
        let (i0, i1) = (p.item_bounds[c], p.item_bounds[c + 1]);
        let mut sq = 0.0;
        let mut bad = None;
        for i in i0..i1 {
            let (s, e) = (p.view.cols.ptr[i] as usize, p.view.cols.ptr[i + 1] as usize);
            let o = (i - i0) * k;
            let hi = &mut hc[o..o + k];
            let users = &p.view.cols.idx[s..e];
            let finite = match kind {
                ColKind::Ignore { flagged } => ignore_col::<S, T, K>(
                    hi,
                    w1,
                    users,
                    &p.col_val[s..e],
                    flagged.of_item(i),
                    l2,
                    scratch,
                ),
                ColKind::Weighted { .. } => unreachable!("run by WeightedColJob"),
                ColKind::Replace {
                    g10,
                    g11,
                    w0,
                    mark,
                    flagged_weight,
                } => replace_col::<S, T, K>(
                    hi,
                    w0,
                    w1,
                    users,
                    &p.col_val[s..e],
                    mark,
                    flagged_weight,
                    g10,
                    g11,
                    l2,
                    scratch,
                ),
            };
            item_done(i, finite, l2.weight(e - s), hi, &mut sq, &mut bad);
        }
        (sq, bad)
    }
}

/// A chunk of a row pass under a robust baseline's rule: [`robust_row`] on each user, with the
/// chunk's flags and weights.
struct RobustRowJob<'p, 'a, 's, 'g, T: Real, const K: usize, const UPDATE: bool> {
    job: RowJob<'p, 'a, 's, 'g, T, K, UPDATE>,
    robust: Robust,
}

impl<T: Real, const K: usize, const UPDATE: bool> Job
    for RobustRowJob<'_, '_, '_, '_, T, K, UPDATE>
{
    type Output = RowStats;

    #[inline(always)]
    fn run<S: Simd>(self) -> RowStats {
        let RobustRowJob {
            job:
                RowJob {
                    problem: p,
                    chunk: (c, w1c, fc, cc),
                    scratch,
                    rule,
                    w0,
                    h,
                    ..
                },
            robust,
        } = self;
        let k = if K == 0 { p.k } else { K };
        let mut stats = RowStats::default();
        let (u0, u1) = (p.user_bounds[c], p.user_bounds[c + 1]);
        let base = p.view.rows.ptr[u0] as usize;
        for u in u0..u1 {
            let (s, e) = (p.view.rows.ptr[u] as usize, p.view.rows.ptr[u + 1] as usize);
            let fl: &mut [u8] = if fc.is_empty() {
                &mut []
            } else {
                &mut fc[s - base..e - base]
            };
            let cw: &mut [T] = if cc.is_empty() {
                &mut []
            } else {
                &mut cc[s - base..e - base]
            };
            let w1u: &mut [T] = if UPDATE {
                let o = (u - u0) * k;
                &mut w1c[o..o + k]
            } else {
                &mut []
            };
            robust_row::<S, T, K, UPDATE>(
                u,
                &w0[u * k..u * k + k],
                w1u,
                h,
                &p.view.rows.idx[s..e],
                &p.row_val[s..e],
                fl,
                cw,
                rule,
                robust,
                scratch,
                &mut stats,
            );
        }
        stats
    }
}

/// A chunk of `guarded`'s row pass: [`guarded_row`] on each user, with the chunk's flags (the
/// item side's) and each user's screen.
struct GuardedRowJob<'p, 'a, 's, T: Real, const K: usize, const UPDATE: bool> {
    problem: &'p Problem<'a, T>,
    c: usize,
    w1c: &'s mut [T],
    fc: &'s mut [u8],
    rule: RowRule,
    guard: Guard,
    screened: &'p [bool],
    held: &'p [u8],
    w0: &'p [T],
    h: &'p [T],
}

impl<T: Real, const K: usize, const UPDATE: bool> Job for GuardedRowJob<'_, '_, '_, T, K, UPDATE> {
    type Output = RowStats;

    #[inline(always)]
    fn run<S: Simd>(self) -> RowStats {
        let GuardedRowJob {
            problem: p,
            c,
            w1c,
            fc,
            rule,
            guard,
            screened,
            held,
            w0,
            h,
        } = self;
        let k = if K == 0 { p.k } else { K };
        let mut stats = RowStats::default();
        let mut scratch = Scratch::new(k);
        let (u0, u1) = (p.user_bounds[c], p.user_bounds[c + 1]);
        let base = p.view.rows.ptr[u0] as usize;
        for u in u0..u1 {
            let (s, e) = (p.view.rows.ptr[u] as usize, p.view.rows.ptr[u + 1] as usize);
            let w1u: &mut [T] = if UPDATE {
                let o = (u - u0) * k;
                &mut w1c[o..o + k]
            } else {
                &mut []
            };
            guarded_row::<S, T, K, UPDATE>(
                u,
                &w0[u * k..u * k + k],
                w1u,
                h,
                &p.view.rows.idx[s..e],
                &p.row_val[s..e],
                &mut fc[s - base..e - base],
                rule,
                guard,
                screened.get(u).copied().unwrap_or(false),
                held.get(s..e).unwrap_or(&[]),
                &mut scratch,
                &mut stats,
            );
        }
        stats
    }
}

/// A chunk of a column pass under `huber` or `l1`: [`weighted_col`] on each item.
struct WeightedColJob<'p, 'a, 's, 'g, T: Real, const K: usize> {
    job: ColJob<'p, 'a, 's, 'g, T, K>,
    weights: &'g [T],
}

impl<T: Real, const K: usize> Job for WeightedColJob<'_, '_, '_, '_, T, K> {
    type Output = (f64, Option<usize>);

    #[inline(always)]
    fn run<S: Simd>(self) -> (f64, Option<usize>) {
        let WeightedColJob {
            job:
                ColJob {
                    problem: p,
                    c,
                    hc,
                    scratch,
                    l2,
                    w1,
                    ..
                },
            weights,
        } = self;
        let k = if K == 0 { p.k } else { K };
        let (i0, i1) = (p.item_bounds[c], p.item_bounds[c + 1]);
        let mut sq = 0.0;
        let mut bad = None;
        for i in i0..i1 {
            let (s, e) = (p.view.cols.ptr[i] as usize, p.view.cols.ptr[i + 1] as usize);
            let o = (i - i0) * k;
            let hi = &mut hc[o..o + k];
            let finite = weighted_col::<S, T, K>(
                hi,
                w1,
                &p.view.cols.idx[s..e],
                &p.col_val[s..e],
                &p.col_pos[s..e],
                weights,
                l2,
                scratch,
            );
            item_done(i, finite, l2.weight(e - s), hi, &mut sq, &mut bad);
        }
        (sq, bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnmf_ratings::{DuplicatePolicy, IdMap, RatingScale, Triple};
    use std::sync::Arc;

    /// 3,000 users x 60 items, a third observed (several chunks of users), ratings 1 to 5.
    fn data() -> Ratings {
        let (n, m) = (3000usize, 60usize);
        let triples: Vec<Triple> = (0..n)
            .flat_map(|u| {
                (0..m)
                    .filter(move |i| (u * 7 + i * 3) % 3 == 0)
                    .map(move |i| Triple {
                        user: u as u32,
                        item: i as u32,
                        value: ((u * 5 + i * 11) % 5 + 1) as f64,
                    })
            })
            .collect();
        let (users, items) = (IdMap::sequential(n), IdMap::sequential(m));
        Ratings::from_triples(
            Arc::new(users),
            Arc::new(items),
            RatingScale::MOVIELENS,
            &triples,
            DuplicatePolicy::Error,
        )
        .expect("valid triples")
    }

    #[test]
    fn the_row_pass_regroups_its_flags_as_a_scan_of_them_would() {
        let data = data();
        let k = 4;
        let p = Problem::<f64>::new(&data, k, 1);
        assert!(p.user_bounds.len() > 3, "several chunks");
        let w0: Vec<f64> = (0..p.n * k).map(|x| 0.3 + (x % 7) as f64 * 0.1).collect();
        let h: Vec<f64> = (0..p.m * k).map(|x| 0.2 + (x % 5) as f64 * 0.1).collect();
        let mut w1 = vec![0.0; p.n * k];
        let mut flags = vec![0u8; p.nnz()];
        let rule = RowRule {
            lambda: Some(1.0),
            mark: Some(1.0),
            robust: None,
            flagged_weight: 0.0,
            l2: L2 {
                value: 0.0,
                per_rating: false,
            },
        };
        let mut regrouped = FlaggedByItem::default();
        let stats = p.row_pass::<0, true>(
            Isa::Portable,
            RowKind::Ignore,
            rule,
            &w0,
            &mut w1,
            &h,
            &mut flags,
            &mut [],
            Some(&mut regrouped),
        );
        assert!(
            stats.flagged > 0 && stats.flagged < p.nnz(),
            "{}",
            stats.flagged
        );
        let mut scanned = FlaggedByItem::default();
        p.flagged_by_item(&flags, &mut scanned);
        assert_eq!(regrouped, scanned);
        assert_eq!(regrouped.len(), stats.flagged);
    }
}
