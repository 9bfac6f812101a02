//! The row pass's flags regrouped by item for the column pass.
//!
//! The row pass writes one flag per rating in CSR order. The column pass visits the ratings in
//! CSC order, and reading each rating's flag through the CSC -> CSR map is one random read per
//! rating over an array of one byte per rating, which misses the cache once the data outgrow
//! it (a tenth of the column pass's time at 1M ratings, a quarter at 25M). Flags are few, so the
//! column pass instead gets each item's flagged entries as a sorted list of users, built by one
//! sequential scan of the flags: [`FlaggedByItem`]. The masks, and hence the sums, are the
//! same as through the map.

use rayon::prelude::*;

use crate::numeric::Compressed;

/// Users of each item's flagged ratings, ascending: a CSC of the flagged entries only.
#[derive(Debug, Default)]
pub(crate) struct FlaggedByItem {
    /// `users[ptr[i]..ptr[i + 1]]` are item `i`'s; empty when nothing is flagged.
    ptr: Vec<u32>,
    users: Vec<u32>,
}

impl FlaggedByItem {
    /// The users of item `i`'s flagged ratings, ascending.
    #[inline]
    pub(crate) fn of_item(&self, i: usize) -> &[u32] {
        match self.ptr.get(i..i + 2) {
            Some(&[s, e]) => &self.users[s as usize..e as usize],
            _ => &[],
        }
    }

    /// Number of flagged ratings.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    /// Rebuilds the lists from `flags` (one per rating of `rows`, CSR order, nonzero when
    /// flagged; empty when nothing can be) over `m` items, scanning the chunks of users
    /// `user_bounds` in parallel. Within an item the users come out ascending whatever the
    /// number of threads.
    pub(crate) fn rebuild(
        &mut self,
        rows: &Compressed<'_>,
        m: usize,
        flags: &[u8],
        user_bounds: &[usize],
    ) {
        self.users.clear();
        self.ptr.clear();
        if flags.is_empty() {
            return;
        }
        debug_assert_eq!(flags.len(), rows.idx.len());
        let per_chunk: Vec<Vec<(u32, u32)>> = user_bounds
            .par_windows(2)
            .map(|b| flagged_pairs(rows, flags, b[0]..b[1]))
            .collect();
        let total: usize = per_chunk.iter().map(Vec::len).sum();
        if total == 0 {
            return;
        }
        // A stable counting sort by item of the (item, user) pairs, which come in user order.
        self.ptr.resize(m + 1, 0);
        for &(i, _) in per_chunk.iter().flatten() {
            self.ptr[i as usize + 1] += 1;
        }
        for i in 0..m {
            self.ptr[i + 1] += self.ptr[i];
        }
        self.users.resize(total, 0);
        let mut next: Vec<u32> = self.ptr[..m].to_vec();
        for &(i, u) in per_chunk.iter().flatten() {
            let slot = &mut next[i as usize];
            self.users[*slot as usize] = u;
            *slot += 1;
        }
    }
}

/// The `(item, user)` pairs of the flagged ratings of `users`, in CSR order.
fn flagged_pairs(
    rows: &Compressed<'_>,
    flags: &[u8],
    users: std::ops::Range<usize>,
) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for u in users {
        let (s, e) = (rows.ptr[u] as usize, rows.ptr[u + 1] as usize);
        let (f, items) = (&flags[s..e], &rows.idx[s..e]);
        // Eight flags at a time: one test per word, then one step per flag (a branch per byte
        // would be mispredicted on every flag).
        let words = f.chunks_exact(8);
        let tail = words.remainder();
        for (c, w) in words.enumerate() {
            let mut w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            while w != 0 {
                let b = w.trailing_zeros() as usize / 8;
                out.push((items[8 * c + b], u as u32));
                w &= !(0xff << (8 * b));
            }
        }
        let base = f.len() - tail.len();
        for (p, &x) in tail.iter().enumerate() {
            if x != 0 {
                out.push((items[base + p], u as u32));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::TwoWay;
    use sprs::{CsMatI, TriMatI};

    #[test]
    fn lists_match_the_flags_for_any_chunking() {
        // 3 users x 4 items, CSR order: u0: i0 i2 i3, u1: i1 i2, u2: i0 i2 i3.
        let mut t = TriMatI::<f64, u32>::new((3, 4));
        for (u, i) in [
            (0, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (1, 2),
            (2, 0),
            (2, 2),
            (2, 3),
        ] {
            t.add_triplet(u, i, 1.0);
        }
        let csr: CsMatI<f64, u32> = t.to_csr();
        let csc = csr.to_csc();
        let view = TwoWay::new(&csr, &csc);
        let flags = [0, 1, 0, 0, 7, 1, 1, 0];
        for bounds in [vec![0, 3], vec![0, 1, 2, 3], vec![0, 2, 2, 3]] {
            let mut f = FlaggedByItem::default();
            f.rebuild(&view.rows, 4, &flags, &bounds);
            assert_eq!(f.len(), 4);
            assert_eq!(f.of_item(0), &[2]);
            assert!(f.of_item(1).is_empty());
            assert_eq!(f.of_item(2), &[0, 1, 2]);
            assert!(f.of_item(3).is_empty());
            f.rebuild(&view.rows, 4, &[0; 8], &bounds);
            assert_eq!(f.len(), 0);
            assert!((0..4).all(|i| f.of_item(i).is_empty()));
        }
    }

    #[test]
    fn long_rows_match_a_direct_grouping() {
        // Rows longer than a word of flags, with flags in every position of a word and values
        // other than 1.
        let (n, m) = (3, 29);
        let mut t = TriMatI::<f64, u32>::new((n, m));
        for u in 0..n {
            for i in (u..m).step_by(u + 1) {
                t.add_triplet(u, i, 1.0);
            }
        }
        let csr: CsMatI<f64, u32> = t.to_csr();
        let csc = csr.to_csc();
        let view = TwoWay::new(&csr, &csc);
        let nnz = view.nnz();
        let flags: Vec<u8> = (0..nnz).map(|p| [0, 3, 0, 0, 1, 1, 0][p % 7]).collect();
        let mut expected = vec![Vec::new(); m];
        for u in 0..n {
            for p in view.rows.ptr[u] as usize..view.rows.ptr[u + 1] as usize {
                if flags[p] != 0 {
                    expected[view.rows.idx[p] as usize].push(u as u32);
                }
            }
        }
        let mut f = FlaggedByItem::default();
        f.rebuild(&view.rows, m, &flags, &[0, 1, 3]);
        assert_eq!(f.len(), flags.iter().filter(|&&x| x != 0).count());
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(f.of_item(i), &e[..], "item {i}");
        }
    }
}
