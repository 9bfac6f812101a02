//! Cache-blocked row and column passes of the ignore variants.
//!
//! When the factor matrix a pass gathers (`H` in the user pass, `W` in the item pass) is much
//! larger than the L2 cache, the gathered rows come from L3 or memory at random. The blocked
//! passes cut the gathered side into contiguous **tiles** of rows that fit in L2 and group
//! consecutive chunks of the pass into larger **tasks**; a task runs its rows tile by tile,
//! each row's entries inside the tile in order (a cursor per row: compressed rows are sorted),
//! so the tile's rows are reused from L2 by all the task's entries that fall into it.
//!
//! **Same bits.** A task first computes every entry's prediction (the same dot product, entry
//! by entry), then runs the per-entry step of the unblocked kernel on each row in order
//! (statistics summed per chunk, chunks in order, as the unblocked pass), then the gathers of
//! `Σ a f` and `Σ b f` tile by tile, carrying each row's running sums across tiles
//! ([`gather_axpy2_acc`]): every lane adds the same products in the same order as the
//! unblocked gather. The factors, flags and statistics are bit-identical to the unblocked pass
//! for any tiling and any number of threads.

use crate::isa::{Job, Simd};
use crate::kernels::{
    dot_t, dots, gather_axpy2_acc, ignore_judge, mu_update, mu_update_in_place, RowRule, RowStats,
    L2,
};
use crate::real::Real;

/// When and how finely passes are blocked (see [`Tiling::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheBlocking {
    /// Blocked when the gathered factor matrix exceeds [`AUTO_MIN_BYTES`], with tiles of
    /// [`AUTO_TILE_BYTES`].
    Auto,
    /// Never blocked (the unblocked passes).
    Off,
    /// Always blocked (when the gathered side has more than one tile): for tests.
    Force {
        /// Gathered rows per tile.
        tile_rows: usize,
        /// Entries per task, at least (whole chunks).
        task_nnz: usize,
    },
}

/// The gathered factor matrix size above which [`CacheBlocking::Auto`] blocks a pass.
pub(crate) const AUTO_MIN_BYTES: usize = 4 << 20;
/// The size of one tile of gathered factor rows under [`CacheBlocking::Auto`] (half the L2
/// cache of the machines measured, leaving room for the task's own data).
pub(crate) const AUTO_TILE_BYTES: usize = 512 << 10;
/// Under [`CacheBlocking::Auto`], a task has at least this many entries per gathered row, so
/// that each tile's rows are reused that many times on average.
pub(crate) const AUTO_REUSE: usize = 4;

/// The blocking of one pass.
#[derive(Debug, Clone)]
pub(crate) struct Tiling {
    /// Tile boundaries over the gathered rows (`0, ..., rows`).
    pub tiles: Vec<u32>,
    /// Task boundaries, as indices into the pass's chunk boundaries.
    pub tasks: Vec<usize>,
}

impl Tiling {
    /// The tiling of a pass over the compressed rows `ptr`, cut into chunks at `chunk_bounds`,
    /// that gathers from `gathered` factor rows of `row_bytes` bytes; `None` when the pass is
    /// not blocked.
    pub(crate) fn plan(
        mode: CacheBlocking,
        chunk_bounds: &[usize],
        ptr: &[u32],
        gathered: usize,
        row_bytes: usize,
    ) -> Option<Tiling> {
        let (tile_rows, task_nnz) = match mode {
            CacheBlocking::Off => return None,
            CacheBlocking::Auto => {
                if gathered.saturating_mul(row_bytes) <= AUTO_MIN_BYTES {
                    return None;
                }
                (
                    (AUTO_TILE_BYTES / row_bytes.max(1)).max(1),
                    AUTO_REUSE.saturating_mul(gathered),
                )
            }
            CacheBlocking::Force {
                tile_rows,
                task_nnz,
            } => (tile_rows.max(1), task_nnz),
        };
        if gathered <= tile_rows || chunk_bounds.len() < 2 {
            return None;
        }
        let mut tiles: Vec<u32> = (0..gathered).step_by(tile_rows).map(|t| t as u32).collect();
        tiles.push(gathered as u32);
        let mut tasks = vec![0];
        let mut start = ptr[chunk_bounds[0]] as usize;
        let chunks = chunk_bounds.len() - 1;
        for c in 0..chunks {
            let end = ptr[chunk_bounds[c + 1]] as usize;
            if end - start >= task_nnz || c + 1 == chunks {
                tasks.push(c + 1);
                start = end;
            }
        }
        Some(Tiling { tiles, tasks })
    }
}

/// Per-task buffers of the blocked passes, reused from task to task.
#[derive(Debug, Default)]
pub(crate) struct BlockScratch<T> {
    /// The weights of one row's `Σ a f` (the statistics' step) and, per entry of the task,
    /// the predictions (the user pass) or one segment's predictions (the item pass).
    a: Vec<T>,
    b: Vec<T>,
    /// Per row of the task: its next entry, its number of active entries, its running sums.
    cur: Vec<usize>,
    active: Vec<usize>,
    acc_a: Vec<T>,
    acc_b: Vec<T>,
    lanes: Vec<[T; 4]>,
    /// The masked weights of one row's entries inside one tile.
    seg_a: Vec<T>,
    seg_b: Vec<T>,
}

impl<T: Real> BlockScratch<T> {
    fn prepare(&mut self, nnz: usize, rows: usize, k: usize) {
        if self.b.len() < nnz {
            self.b.resize(nnz, T::ZERO);
        }
        self.cur.resize(rows, 0);
        self.active.resize(rows, 0);
        self.acc_a.clear();
        self.acc_a.resize(rows * k, T::ZERO);
        self.acc_b.clear();
        self.acc_b.resize(rows * k, T::ZERO);
    }
}

/// The first `len` of `buf`, grown as needed.
#[inline(always)]
fn seg_of<T: Real>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() < len {
        buf.resize(len, T::ZERO);
    }
    &mut buf[..len]
}

/// The first `len` of `lanes`, grown as needed.
#[inline(always)]
fn lanes_of<T: Real>(lanes: &mut Vec<[T; 4]>, len: usize) -> &mut [[T; 4]] {
    if lanes.len() < len {
        lanes.resize(len, [T::ZERO; 4]);
    }
    &mut lanes[..len]
}

/// The compressed data a blocked pass reads: `ptr`, the sorted inner indices and the values
/// in the element type.
#[derive(Clone, Copy)]
pub(crate) struct Side<'p, T> {
    pub ptr: &'p [u32],
    pub idx: &'p [u32],
    pub val: &'p [T],
}

/// For each tile in order, for each row `r` of `rows` (outer indices) with entries in the
/// tile: `f(r, start, end)` on the entry range of that row inside the tile. `cur` holds one
/// cursor per row.
#[inline(always)]
fn for_tiles(
    side: Side<'_, impl Copy>,
    tiles: &[u32],
    rows: std::ops::Range<usize>,
    cur: &mut [usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let r0 = rows.start;
    for (c, r) in cur.iter_mut().zip(rows.clone()) {
        *c = side.ptr[r] as usize;
    }
    for &hi in &tiles[1..] {
        for (c, r) in cur.iter_mut().zip(rows.clone()) {
            let e = side.ptr[r + 1] as usize;
            let s = *c;
            if s == e {
                continue;
            }
            let len = side.idx[s..e].partition_point(|&x| x < hi);
            if len > 0 {
                f(r - r0, s, s + len);
                *c = s + len;
            }
        }
    }
}

/// One task of the blocked user pass under the ignore variants (no robust rule).
pub(crate) struct BlockedRowJob<'p, 's, T: Real, const K: usize, const UPDATE: bool> {
    pub side: Side<'p, T>,
    pub tiles: &'p [u32],
    /// The chunk boundaries (rows) of the task's chunks, first to last.
    pub chunks: &'p [usize],
    pub k: usize,
    pub rule: RowRule,
    pub w0: &'p [T],
    /// The task's new factors (empty unless `UPDATE`) and flags (CSR order; may be empty).
    pub w1: &'s mut [T],
    pub flags: &'s mut [u8],
    pub h: &'p [T],
    pub scratch: &'s mut BlockScratch<T>,
}

impl<T: Real, const K: usize, const UPDATE: bool> Job for BlockedRowJob<'_, '_, T, K, UPDATE> {
    /// The statistics of each chunk of the task, in order.
    type Output = Vec<RowStats>;

    #[inline(always)]
    fn run<S: Simd>(self) -> Vec<RowStats> {
        let BlockedRowJob {
            side,
            tiles,
            chunks,
            k,
            rule,
            w0,
            w1,
            flags,
            h,
            scratch: bs,
        } = self;
        let (u0, u1) = (chunks[0], chunks[chunks.len() - 1]);
        let base = side.ptr[u0] as usize;
        let nnz = side.ptr[u1] as usize - base;
        bs.prepare(nnz, u1 - u0, k);
        let BlockScratch {
            a: ba,
            b: bb,
            cur,
            active,
            acc_a,
            acc_b,
            lanes,
            seg_a,
            seg_b,
        } = bs;
        let mark = rule.mark.map(T::from_f64);
        // One sweep over the tiles: each entry's prediction (kept for the statistics) and,
        // when updating, its share of `Σ a h_i` and `Σ b h_i` with the weights of
        // `ignore_judge` (recomputed here from the same prediction: the same values).
        for_tiles(side, tiles, u0..u1, cur, |r, s, e| {
            let u = u0 + r;
            let idx = &side.idx[s..e];
            let x = &mut bb[s - base..e - base];
            dots::<S, T, K>(&w0[u * k..u * k + k], h, idx, x, lanes_of(lanes, e - s));
            if !UPDATE {
                return;
            }
            let values = &side.val[s..e];
            let (acc_a, acc_b) = (&mut acc_a[r * k..r * k + k], &mut acc_b[r * k..r * k + k]);
            match mark {
                Some(mark) => {
                    let (sa, sb) = (seg_of(seg_a, e - s), seg_of(seg_b, e - s));
                    for q in 0..e - s {
                        let (v, x) = (values[q], x[q]);
                        let keep = !((v - x) * (v - x) > mark);
                        sa[q] = select(keep, v, T::ZERO);
                        sb[q] = select(keep, x, T::ZERO);
                    }
                    gather_axpy2_acc::<S, T>(h, k, idx, sa, sb, acc_a, acc_b);
                }
                None => gather_axpy2_acc::<S, T>(h, k, idx, values, x, acc_a, acc_b),
            }
        });
        // The per-entry step, row by row; statistics per chunk, in the unblocked order.
        let mut stats = Vec::with_capacity(chunks.len() - 1);
        for c in chunks.windows(2) {
            let mut st = RowStats::default();
            for u in c[0]..c[1] {
                let (s, e) = (side.ptr[u] as usize, side.ptr[u + 1] as usize);
                let fl: &mut [u8] = if flags.is_empty() {
                    &mut []
                } else {
                    &mut flags[s - base..e - base]
                };
                active[u - u0] = ignore_judge(
                    &side.val[s..e],
                    seg_of(ba, e - s),
                    &mut bb[s - base..e - base],
                    fl,
                    rule,
                    &mut st,
                );
                let w0u = &w0[u * k..u * k + k];
                st.sq += rule.l2.weight(e - s) * dot_t(w0u, w0u).to_f64();
            }
            stats.push(st);
        }
        if UPDATE {
            for (ci, c) in chunks.windows(2).enumerate() {
                for u in c[0]..c[1] {
                    let r = u - u0;
                    let w0u = &w0[u * k..u * k + k];
                    let w1u = &mut w1[r * k..r * k + k];
                    if active[r] == 0 {
                        w1u.copy_from_slice(w0u);
                        continue;
                    }
                    let n = (side.ptr[u + 1] - side.ptr[u]) as usize;
                    let finite = mu_update(
                        w0u,
                        w1u,
                        &acc_a[r * k..r * k + k],
                        &acc_b[r * k..r * k + k],
                        rule.l2.of(n),
                    );
                    if !finite && stats[ci].bad_row.is_none() {
                        stats[ci].bad_row = Some(u);
                    }
                }
            }
        }
        stats
    }
}

/// One task of the blocked item pass under the ignore variants, in place on the task's `h`.
pub(crate) struct BlockedColJob<'p, 's, T: Real, const K: usize> {
    pub side: Side<'p, T>,
    pub tiles: &'p [u32],
    /// The chunk boundaries (columns) of the task's chunks, first to last.
    pub chunks: &'p [usize],
    pub k: usize,
    pub l2: L2,
    pub w1: &'p [T],
    /// CSC -> CSR positions and the flags (CSR order; empty when nothing is flagged).
    pub pos: &'p [u32],
    pub flags: &'p [u8],
    pub h: &'s mut [T],
    pub scratch: &'s mut BlockScratch<T>,
}

impl<T: Real, const K: usize> Job for BlockedColJob<'_, '_, T, K> {
    /// `(||H_chunk||^2, first item whose update is not finite)` of each chunk, in order.
    type Output = Vec<(f64, Option<usize>)>;

    #[inline(always)]
    fn run<S: Simd>(self) -> Vec<(f64, Option<usize>)> {
        let BlockedColJob {
            side,
            tiles,
            chunks,
            k,
            l2,
            w1,
            pos,
            flags,
            h,
            scratch: bs,
        } = self;
        let (i0, i1) = (chunks[0], chunks[chunks.len() - 1]);
        bs.prepare(0, i1 - i0, k);
        let BlockScratch {
            b: bb,
            cur,
            active,
            acc_a,
            acc_b,
            lanes,
            seg_a,
            ..
        } = bs;
        active.fill(0);
        let masked = !flags.is_empty();
        // One sweep over the tiles: predictions, the mask of `ignore_mask` and the shares of
        // `Σ a w1_u` and `Σ b w1_u`, carried across tiles.
        for_tiles(side, tiles, i0..i1, cur, |r, s, e| {
            let idx = &side.idx[s..e];
            let x = seg_of(bb, e - s);
            dots::<S, T, K>(&h[r * k..r * k + k], w1, idx, x, lanes_of(lanes, e - s));
            let values = &side.val[s..e];
            let (acc_a, acc_b) = (&mut acc_a[r * k..r * k + k], &mut acc_b[r * k..r * k + k]);
            if masked {
                let sa = seg_of(seg_a, e - s);
                let mut kept = 0usize;
                for q in 0..e - s {
                    let keep = flags[pos[s + q] as usize] == 0;
                    sa[q] = select(keep, values[q], T::ZERO);
                    x[q] = select(keep, x[q], T::ZERO);
                    kept += usize::from(keep);
                }
                active[r] += kept;
                gather_axpy2_acc::<S, T>(w1, k, idx, sa, x, acc_a, acc_b);
            } else {
                active[r] += e - s;
                gather_axpy2_acc::<S, T>(w1, k, idx, values, x, acc_a, acc_b);
            }
        });
        let mut out = Vec::with_capacity(chunks.len() - 1);
        for c in chunks.windows(2) {
            let mut sq = 0.0;
            let mut bad = None;
            for i in c[0]..c[1] {
                let r = i - i0;
                let n = (side.ptr[i + 1] - side.ptr[i]) as usize;
                let hi = &mut h[r * k..r * k + k];
                let finite = active[r] == 0
                    || mu_update_in_place(
                        hi,
                        &acc_a[r * k..r * k + k],
                        &acc_b[r * k..r * k + k],
                        l2.of(n),
                    );
                if !finite && bad.is_none() {
                    bad = Some(i);
                }
                sq += l2.weight(n) * dot_t(hi, hi).to_f64();
            }
            out.push((sq, bad));
        }
        out
    }
}

/// `if cond { a } else { b }` without a branch, as the kernels' `select`.
#[inline(always)]
fn select<T: Real>(cond: bool, a: T, b: T) -> T {
    std::hint::select_unpredictable(cond, a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_blocks_only_gathers_beyond_the_cache() {
        let (bounds, ptr) = ([0, 1, 2], [0u32, 10, 20]);
        let plan = |rows: usize, row_bytes: usize| {
            Tiling::plan(CacheBlocking::Auto, &bounds, &ptr, rows, row_bytes)
        };
        // MovieLens 1M at k = 20: H and W fit the L2 cache.
        assert!(plan(3706, 160).is_none());
        assert!(plan(6040, 160).is_none());
        assert!(plan(6040, 80).is_none());
        // 25M ratings: H (59,047 items) and W (162,541 users), in f64 and in f32.
        for row_bytes in [160, 80] {
            for rows in [59_047, 162_541] {
                let t = plan(rows, row_bytes).expect("blocked");
                assert_eq!(t.tiles[0], 0);
                assert_eq!(*t.tiles.last().unwrap() as usize, rows);
                assert!(t.tiles.len() > 2);
                assert_eq!(t.tasks, vec![0, 2]);
            }
        }
        assert!(Tiling::plan(CacheBlocking::Off, &bounds, &ptr, 1 << 20, 160).is_none());
        let forced = CacheBlocking::Force {
            tile_rows: 3,
            task_nnz: 0,
        };
        let t = Tiling::plan(forced, &bounds, &ptr, 10, 8).unwrap();
        assert_eq!(t.tiles, vec![0, 3, 6, 9, 10]);
        assert_eq!(t.tasks, vec![0, 1, 2]);
    }
}
