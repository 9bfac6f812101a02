//! The row pass's flags regrouped by item for the column pass.
//!
//! The row pass writes one flag per rating in CSR order. The column pass visits the ratings in
//! CSC order, and reading each rating's flag through the CSC -> CSR map is one random read per
//! rating over an array of one byte per rating, which misses the cache once the data outgrow
//! it (a tenth of the column pass's time at 1M ratings, a quarter at 25M). Flags are few, so the
//! column pass instead gets each item's flagged entries as a sorted list of users:
//! [`FlaggedByItem`]. The masks, and hence the sums, are the same as through the map. The row
//! passes that write the flags regroup them chunk by chunk as they go ([`flagged_pairs`] on
//! flags still in cache); a separate scan of all the flags ([`FlaggedByItem::rebuild`]) reads
//! them back from memory once they outgrow the caches, 3% of an iteration at 25M ratings.

use rayon::prelude::*;

use crate::numeric::Compressed;

/// Users of each item's flagged ratings, ascending: a CSC of the flagged entries only.
#[derive(Debug, Default, PartialEq)]
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
        if flags.is_empty() {
            self.users.clear();
            self.ptr.clear();
            return;
        }
        debug_assert_eq!(flags.len(), rows.idx.len());
        let per_chunk: Vec<Vec<(u32, u32)>> = user_bounds
            .par_windows(2)
            .map(|b| {
                let chunk = rows.ptr[b[0]] as usize..rows.ptr[b[1]] as usize;
                flagged_pairs(rows, &flags[chunk], b[0]..b[1])
            })
            .collect();
        self.rebuild_from_pairs(m, &per_chunk);
    }

    /// Rebuilds the lists over `m` items from the [`flagged_pairs`] of consecutive chunks of
    /// users, in user order.
    pub(crate) fn rebuild_from_pairs(&mut self, m: usize, per_chunk: &[Vec<(u32, u32)>]) {
        self.users.clear();
        self.ptr.clear();
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

/// The `(item, user)` pairs of the flagged ratings of the consecutive `users`, in CSR order;
/// `f` are their flags (the range of the CSR's flags from the first user's row to the last's).
pub(crate) fn flagged_pairs(
    rows: &Compressed<'_>,
    f: &[u8],
    users: std::ops::Range<usize>,
) -> Vec<(u32, u32)> {
    // The users' flags are one range, scanned as such: flags are few, and a test of 32 of
    // them at a time skips the long runs of zeros without a loop per user, which cost more
    // than the scan itself once rows are short and many (160,000 users at 25M ratings).
    let start = rows.ptr[users.start] as usize;
    debug_assert_eq!(f.len(), rows.ptr[users.end] as usize - start);
    let mut out = Vec::new();
    // The user of the entries being scanned: advanced as the flags found pass its row's end.
    let mut u = users.start;
    let mut found = |p: usize| {
        let at = start + p;
        while rows.ptr[u + 1] as usize <= at {
            u += 1;
        }
        out.push((rows.idx[at], u as u32));
    };
    let blocks = f.chunks_exact(32);
    let tail = blocks.remainder();
    for (c, block) in blocks.enumerate() {
        let words: [u64; 4] = std::array::from_fn(|j| {
            u64::from_le_bytes(block[8 * j..8 * j + 8].try_into().expect("8 bytes"))
        });
        if words.iter().fold(0, |a, w| a | w) == 0 {
            continue;
        }
        for (j, mut w) in words.into_iter().enumerate() {
            // One step per flag (a branch per byte would be mispredicted on every flag).
            while w != 0 {
                let b = w.trailing_zeros() as usize / 8;
                found(32 * c + 8 * j + b);
                w &= !(0xff << (8 * b));
            }
        }
    }
    let base = f.len() - tail.len();
    for (p, &x) in tail.iter().enumerate() {
        if x != 0 {
            found(base + p);
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
