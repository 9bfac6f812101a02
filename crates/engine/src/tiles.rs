//! The columns cut into ranges of users, for the ignore kernels' column pass at scale.
//!
//! The column pass gathers one row of the user factors `W` per rating. Once `W` outgrows the
//! caches (13 MB in `f32` at 25M ratings, 26 MB in `f64`, against 512 KiB of L2 per core and a
//! 32 MiB L3 that the streams and the other factors share), most of these gathers go to memory,
//! and a core keeps only so many in flight. So the pass runs once per *tile*, a range of users
//! whose rows take at most a few MiB, over every column's entries of that range, tile after
//! tile: each tile's gathers read a slab of `W` that stays in the L3 cache. Each item's two
//! running sums are carried from one tile to the next in entry order, so the factors are
//! bit-identical to one pass over whole columns; only the order in which the gathers reach
//! memory changes.
//!
//! A tile's entries are stored one of two ways. When the ratings take at most 256 distinct
//! values (star scales do) and no tile has more than 65,536 users, [`PackedTiles`] copies
//! them tile after tile, each entry as its user's offset in the tile (`u16`) and its value's
//! code (`u8`): the pass then streams 3 bytes per rating instead of 8 (`f32`) or 12 (`f64`)
//! read from pieces of every column, and no value copy in the column order is kept, so in
//! `f32` the fit needs 1 byte per rating less. Otherwise the columns stay where they are and
//! a tile is, per column, the range of entries between two cut points ([`UserTiles`]: one
//! `u32` per item and tile).

use rayon::prelude::*;

use crate::numeric::Compressed;
use crate::real::Real;

/// The most bytes of user factors one tile gathers from (a few MiB, well inside the L3 cache).
const TILE_BYTES: usize = 6 << 20;

/// The number of tiles of a fit of `n` users at rank `k` in precision `T` whose column pass
/// is the ignore kernels' (`ignores`): [`tile_count`], and 1 (untiled) for other column passes.
pub(crate) fn default_tiles<T: Real>(n: usize, k: usize, ignores: bool) -> usize {
    if ignores {
        tile_count(n, k, std::mem::size_of::<T>())
    } else {
        1
    }
}

/// The number of tiles for `n` users at rank `k` with elements of `elem` bytes: 1 (no tiles)
/// while the factors take at most 8 MiB, otherwise enough that each takes at most
/// [`TILE_BYTES`]. Sized by measurements at 25M ratings, `f32`, k = 20 (13 MB of user
/// factors), where 2, 3 and 4 tiles were within 2% of each other (docs/PERFORMANCE.md).
pub(crate) fn tile_count(n: usize, k: usize, elem: usize) -> usize {
    let bytes = n * k * elem;
    if bytes <= 8 << 20 {
        1
    } else {
        // Also small enough for a packed tile's `u16` offsets.
        bytes.div_ceil(TILE_BYTES).max(n.div_ceil(PACKED_USERS))
    }
}

/// The most users a tile of [`PackedTiles`] may have (offsets are `u16`).
const PACKED_USERS: usize = 1 << 16;

/// The most distinct rating values [`PackedTiles`] can code (codes are `u8`).
const CODES: usize = 256;

/// The column pass's tiles: the cut points, and a packed copy of the entries when the data
/// allow (then the pass reads only the copy).
#[derive(Debug)]
pub(crate) struct ColumnTiles<T> {
    /// Where each tile's users' entries are in the columns ([`UserTiles`]).
    pub(crate) cut: UserTiles,
    /// The entries copied tile by tile ([`PackedTiles`]).
    pub(crate) packed: Option<PackedTiles<T>>,
}

impl<T: Real> ColumnTiles<T> {
    /// `cols` (CSC of `n` users, users ascending in each column) in `tiles` ranges of users,
    /// packed when the values have a [`codebook`] and every tile at most 65,536 users.
    pub(crate) fn new(cols: &Compressed<'_>, n: usize, tiles: usize) -> Self {
        let cut = UserTiles::new(cols, n, tiles);
        let widest = (0..tiles)
            .map(|t| cut.users(t))
            .map(|(lo, hi)| (hi - lo) as usize)
            .max()
            .unwrap_or(0);
        let packed = match codebook(cols.val) {
            Some(keys) if widest <= PACKED_USERS => Some(PackedTiles::new(cols, &cut, &keys)),
            _ => None,
        };
        ColumnTiles { cut, packed }
    }
}

/// The distinct values of `values` (by their bits, ascending), when there are at most 256.
fn codebook(values: &[f64]) -> Option<Vec<u64>> {
    values
        .par_chunks(1 << 16)
        .map(|chunk| {
            let mut keys: Vec<u64> = Vec::new();
            let mut last = None;
            for v in chunk {
                let b = v.to_bits();
                if last == Some(b) {
                    continue;
                }
                last = Some(b);
                if let Err(at) = keys.binary_search(&b) {
                    if keys.len() == CODES {
                        return None;
                    }
                    keys.insert(at, b);
                }
            }
            Some(keys)
        })
        .try_reduce(Vec::new, |a, b| {
            let mut keys: Vec<u64> = a.into_iter().chain(b).collect();
            keys.sort_unstable();
            keys.dedup();
            (keys.len() <= CODES).then_some(keys)
        })
}

/// The columns' entries copied tile by tile ([`PackedTiles::entries`]): tile `t`'s entries
/// of item `i`, in the column's order, each as its user's offset from the tile's first user
/// and its rating's code in `table`.
#[derive(Debug)]
pub(crate) struct PackedTiles<T> {
    /// `start[t (m + 1) + i]`: where tile `t`'s entries of item `i` begin (tiles one after
    /// the other, items in order within each).
    start: Vec<u32>,
    idx: Vec<u16>,
    code: Vec<u8>,
    /// The rating of each code, in the fit's precision (unused codes: 0).
    table: Box<[T; CODES]>,
    items: usize,
}

impl<T: Real> PackedTiles<T> {
    /// The entries of `cols`, cut by `cut`, coded by the sorted value bits `keys`.
    fn new(cols: &Compressed<'_>, cut: &UserTiles, keys: &[u64]) -> Self {
        let (m, tiles) = (cols.outer_dim(), cut.len());
        let mut start = Vec::with_capacity(tiles * (m + 1));
        let mut at = 0u32;
        for t in 0..tiles {
            for i in 0..m {
                start.push(at);
                at += cut.range(t, i).len() as u32;
            }
            start.push(at);
        }
        let nnz = cols.idx.len();
        let (mut idx, mut code) = (vec![0u16; nnz], vec![0u8; nnz]);
        // Each tile's slice, cut into blocks of items filled in parallel.
        let (mut idx_rest, mut code_rest) = (&mut idx[..], &mut code[..]);
        let mut blocks = Vec::new();
        for t in 0..tiles {
            let lo = cut.users(t).0;
            for i0 in (0..m).step_by(ITEMS_PER_BLOCK) {
                let i1 = m.min(i0 + ITEMS_PER_BLOCK);
                let len = (start[t * (m + 1) + i1] - start[t * (m + 1) + i0]) as usize;
                let (a, rest) = std::mem::take(&mut idx_rest).split_at_mut(len);
                let (b, crest) = std::mem::take(&mut code_rest).split_at_mut(len);
                (idx_rest, code_rest) = (rest, crest);
                blocks.push((t, lo, i0..i1, a, b));
            }
        }
        blocks
            .into_par_iter()
            .for_each(|(t, lo, items, idx, code)| {
                let mut o = 0;
                for i in items {
                    for p in cut.range(t, i) {
                        idx[o] = (cols.idx[p] - lo) as u16;
                        let key = cols.val[p].to_bits();
                        code[o] = keys.binary_search(&key).expect("every value is coded") as u8;
                        o += 1;
                    }
                }
            });
        let mut table = Box::new([T::ZERO; CODES]);
        for (slot, &key) in table.iter_mut().zip(keys) {
            *slot = T::from_f64(f64::from_bits(key));
        }
        PackedTiles {
            start,
            idx,
            code,
            table,
            items: m,
        }
    }

    /// Tile `t`'s entries of item `i`: the users' offsets in the tile (and on to the tile's
    /// end: the gathers to come, for prefetches), the values' codes and the values of the
    /// codes.
    #[inline]
    pub(crate) fn entries(&self, t: usize, i: usize) -> (&[u16], &[u8], &[T; CODES]) {
        let at = t * (self.items + 1) + i;
        let (s, e) = (self.start[at] as usize, self.start[at + 1] as usize);
        let end = self.start[t * (self.items + 1) + self.items] as usize;
        (&self.idx[s..end], &self.code[s..e], &self.table)
    }
}

/// Items per parallel block when [`PackedTiles`] are built.
const ITEMS_PER_BLOCK: usize = 512;

/// Where each column's entries cross from one range of users to the next: tile `t`'s entries
/// of item `i` are the column's positions [`UserTiles::range`]`(t, i)`.
#[derive(Debug)]
pub(crate) struct UserTiles {
    /// Tile `t` holds users `bounds[t]..bounds[t + 1]`.
    bounds: Vec<u32>,
    /// `cut[i (tiles + 1) + t]`: the position of item `i`'s first entry of tile `t` or later.
    cut: Vec<u32>,
}

impl UserTiles {
    /// `cols` (the CSC of `n` users x `m` items, users ascending in each column) cut into
    /// `tiles` ranges of about equal numbers of users.
    pub(crate) fn new(cols: &Compressed<'_>, n: usize, tiles: usize) -> Self {
        assert!(tiles >= 1);
        let m = cols.outer_dim();
        let bounds: Vec<u32> = (0..=tiles).map(|t| (n * t / tiles) as u32).collect();
        let cut: Vec<u32> = (0..m)
            .into_par_iter()
            .flat_map_iter(|i| {
                let r = cols.range(i);
                let users = &cols.idx[r.clone()];
                let bounds = &bounds;
                (0..=tiles)
                    .map(move |t| (r.start + users.partition_point(|&u| u < bounds[t])) as u32)
            })
            .collect();
        UserTiles { bounds, cut }
    }

    /// Number of tiles.
    pub(crate) fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    /// The users of tile `t`.
    pub(crate) fn users(&self, t: usize) -> (u32, u32) {
        (self.bounds[t], self.bounds[t + 1])
    }

    /// The column positions of tile `t`'s entries of item `i`.
    #[inline]
    pub(crate) fn range(&self, t: usize, i: usize) -> std::ops::Range<usize> {
        let at = i * (self.bounds.len()) + t;
        self.cut[at] as usize..self.cut[at + 1] as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::TwoWay;
    use sprs::{CsMatI, TriMatI};

    #[test]
    fn every_entry_lands_in_its_users_tile_in_column_order() {
        let (n, m) = (10, 4);
        let mut t = TriMatI::<f64, u32>::new((n, m));
        for u in 0..n {
            for i in (u % 3..m).step_by(2) {
                t.add_triplet(u, i, (10 * u + i) as f64);
            }
        }
        let csr: CsMatI<f64, u32> = t.to_csr();
        let csc = csr.to_csc();
        let view = TwoWay::new(&csr, &csc);
        for tiles in [1, 2, 3, 10] {
            let tiled = UserTiles::new(&view.cols, n, tiles);
            assert_eq!(tiled.len(), tiles);
            assert_eq!(tiled.users(0).0, 0);
            assert_eq!(tiled.users(tiles - 1).1, n as u32);
            for i in 0..m {
                let (users, values) = view.cols.outer(i);
                let mut seen = Vec::new();
                for t in 0..tiles {
                    let (lo, hi) = tiled.users(t);
                    let r = tiled.range(t, i);
                    let (us, vs) = (&view.cols.idx[r.clone()], &view.cols.val[r]);
                    assert!(us.iter().all(|&u| lo <= u && u < hi), "tile {t} of {tiles}");
                    for (&u, &v) in us.iter().zip(vs) {
                        assert_eq!(v, (10 * u as usize + i) as f64);
                        seen.push(u);
                    }
                }
                assert_eq!(seen, users, "item {i}, {tiles} tiles");
                assert_eq!(values.len(), seen.len());
            }
        }
    }

    #[test]
    fn the_codebook_holds_up_to_256_values() {
        let halves: Vec<f64> = (0..100_000).map(|p| (1 + p % 9) as f64 * 0.5).collect();
        let keys = codebook(&halves).expect("nine values");
        let values: Vec<f64> = keys.iter().map(|&b| f64::from_bits(b)).collect();
        assert_eq!(values, (1..=9).map(|v| v as f64 * 0.5).collect::<Vec<_>>());
        // Chunks that are each small but together too many.
        let spread: Vec<f64> = (0..200_000).map(|p| (p % 257) as f64).collect();
        assert_eq!(codebook(&spread), None);
        let most: Vec<f64> = (0..200_000).map(|p| (p % 256) as f64).collect();
        assert_eq!(codebook(&most).map(|k| k.len()), Some(256));
        assert_eq!(codebook(&[]), Some(Vec::new()));
    }

    #[test]
    fn packed_entries_are_the_columns_tile_by_tile() {
        let (n, m) = (1000, 700);
        let mut t = TriMatI::<f64, u32>::new((n, m));
        for u in 0..n {
            for i in (u % 5..m).step_by(7) {
                t.add_triplet(u, i, ((u + i) % 4) as f64 + 1.5);
            }
        }
        let csr: CsMatI<f64, u32> = t.to_csr();
        let csc = csr.to_csc();
        let view = TwoWay::new(&csr, &csc);
        for tiles in [1, 3, 8] {
            let tiled = ColumnTiles::<f32>::new(&view.cols, n, tiles);
            let packed = tiled.packed.expect("four values, narrow tiles: packed");
            let cut = UserTiles::new(&view.cols, n, tiles);
            for i in 0..m {
                for t in 0..tiles {
                    let (lo, _) = cut.users(t);
                    let (idx, code, table) = packed.entries(t, i);
                    let r = cut.range(t, i);
                    let users: Vec<u32> = idx[..code.len()]
                        .iter()
                        .map(|&u| lo + u32::from(u))
                        .collect();
                    let values: Vec<f32> = code.iter().map(|&c| table[usize::from(c)]).collect();
                    let want: Vec<f32> =
                        view.cols.val[r.clone()].iter().map(|&v| v as f32).collect();
                    assert_eq!(users, &view.cols.idx[r], "item {i}, tile {t} of {tiles}");
                    assert_eq!(values, want, "item {i}, tile {t} of {tiles}");
                }
            }
        }
        // Tiles of more than 65,536 users: cut points.
        let wide = ColumnTiles::<f64>::new(&view.cols, 70_000 * 2, 2);
        assert!(wide.packed.is_none());
    }

    #[test]
    fn small_factors_are_not_tiled() {
        assert_eq!(tile_count(6_040, 20, 4), 1);
        assert_eq!(tile_count(100_000, 20, 4), 1);
        // 25M ratings' users at k = 20 in f32: 13 MB, three tiles of 4.3 MB.
        assert_eq!(tile_count(162_541, 20, 4), 3);
        assert_eq!(default_tiles::<f32>(162_541, 20, true), 3);
        assert_eq!(default_tiles::<f64>(162_541, 20, true), 5);
        // Netflix's 480,189 users in f32: 7 tiles by bytes, 8 for packed offsets.
        assert_eq!(tile_count(480_189, 20, 4), 8);
        // Only the ignore kernels' column pass is tiled.
        assert_eq!(default_tiles::<f32>(162_541, 20, false), 1);
    }
}
