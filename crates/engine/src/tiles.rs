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
//! memory changes. The columns stay where they are: a tile is, per column, the range of
//! entries between two cut points ([`UserTiles`]: one `u32` per item and tile).

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
        bytes.div_ceil(TILE_BYTES)
    }
}

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
    fn small_factors_are_not_tiled() {
        assert_eq!(tile_count(6_040, 20, 4), 1);
        assert_eq!(tile_count(100_000, 20, 4), 1);
        // 25M ratings' users at k = 20 in f32: 13 MB, three tiles of 4.3 MB.
        assert_eq!(tile_count(162_541, 20, 4), 3);
        assert_eq!(default_tiles::<f32>(162_541, 20, true), 3);
        assert_eq!(default_tiles::<f64>(162_541, 20, true), 5);
        // Only the ignore kernels' column pass is tiled.
        assert_eq!(default_tiles::<f32>(162_541, 20, false), 1);
    }
}
