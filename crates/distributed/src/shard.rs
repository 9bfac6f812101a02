//! Partitioning: users split across ranks in contiguous blocks balanced by rating count, and
//! the part of the data one rank holds (its users' ratings as CSR, and the same entries by item
//! as a local CSC for the item half-step's partial sums), and early stopping's validation
//! split across ranks ([`distribute_holdout`]): rank 0, which holds the whole data set, draws
//! the split (the single-process fit's, by the caller's function) and sends each rank the
//! positions of its held-out ratings with the training set's facts; each rank then holds its
//! users' training ratings as a [`Shard`] and its users' validation ratings as triples.

use cnmf_ratings::{RatingScale, Ratings, Split, Triple};

use crate::{Communicator, DistError};

/// User boundaries of `ranks` contiguous blocks (`ranks + 1` values, from 0 to the number of
/// users) with about the same number of ratings each: block `r` starts at the first user whose
/// preceding ratings reach `r * nnz / ranks`. Depends only on the row lengths and `ranks`.
/// `row_ptr` is the CSR row pointer (`n + 1` values).
pub fn partition_users(row_ptr: &[usize], ranks: usize) -> Vec<usize> {
    let n = row_ptr.len().saturating_sub(1);
    let nnz = row_ptr.last().copied().unwrap_or(0) as u128;
    let mut bounds = Vec::with_capacity(ranks + 1);
    bounds.push(0);
    let mut u = 0usize;
    for r in 1..ranks {
        let target = nnz * r as u128 / ranks as u128;
        while u < n && (row_ptr[u] as u128) < target {
            u += 1;
        }
        bounds.push(u);
    }
    bounds.push(n);
    bounds
}

/// What one rank holds: the ratings of users `user_start..user_end` (local CSR), the same
/// entries by item (local CSC, each entry's local user and CSR position), and what every rank
/// knows of the whole data set (shape, scale, mean, each item's rating count).
#[derive(Debug, Clone, PartialEq)]
pub struct Shard {
    /// Users of the whole data set.
    pub n_users: usize,
    /// Items of the whole data set.
    pub n_items: usize,
    /// Ratings of the whole data set.
    pub nnz_total: usize,
    /// The rating scale.
    pub scale: RatingScale,
    /// The mean rating of the whole data set (the initialisation's scale).
    pub mean: f64,
    /// Ratings of each item in the whole data set (the per-rating L2 penalty of its column).
    pub item_counts: Vec<u32>,
    /// First user of this rank.
    pub user_start: usize,
    /// One past the last user of this rank.
    pub user_end: usize,
    /// Local CSR: `row_ptr[u - user_start]..row_ptr[u - user_start + 1]`.
    pub row_ptr: Vec<usize>,
    /// Local CSR item indices (global), ascending within a row.
    pub items: Vec<u32>,
    /// Local CSR values.
    pub values: Vec<f64>,
    /// Local CSC pointer (`n_items + 1` values).
    pub col_ptr: Vec<usize>,
    /// Local CSC: the local user of each entry, ascending within a column.
    pub col_users: Vec<u32>,
    /// Local CSC: the local CSR position of each entry.
    pub col_pos: Vec<u32>,
}

impl Shard {
    /// The shard of users `user_start..user_end` of `data` (every rank has the whole data set
    /// in this version: each reads the file and keeps its users).
    pub fn from_ratings(
        data: &Ratings,
        user_start: usize,
        user_end: usize,
    ) -> Result<Shard, DistError> {
        if user_start > user_end || user_end > data.n_users() {
            return Err(DistError::Partition(format!(
                "users {user_start}..{user_end} of {}",
                data.n_users()
            )));
        }
        let mut row_ptr = vec![0usize];
        let mut items = Vec::new();
        let mut values = Vec::new();
        for u in user_start..user_end {
            let (it, va) = data.user(u as u32);
            items.extend_from_slice(it);
            values.extend_from_slice(va);
            row_ptr.push(items.len());
        }
        let item_counts = (0..data.n_items() as u32)
            .map(|i| data.item_count(i) as u32)
            .collect();
        Shard::assemble(
            Meta {
                n_users: data.n_users(),
                n_items: data.n_items(),
                nnz_total: data.nnz(),
                scale: data.scale(),
                mean: data.mean(),
                item_counts,
            },
            user_start,
            row_ptr,
            items,
            values,
        )
    }

    /// The shards of `ranks` ranks, partitioned by [`partition_users`].
    pub fn split(data: &Ratings, ranks: usize) -> Result<Vec<Shard>, DistError> {
        let bounds = partition_users(&row_ptr_of(data), ranks);
        bounds
            .windows(2)
            .map(|b| Shard::from_ratings(data, b[0], b[1]))
            .collect()
    }

    /// Builds the local CSC from the local CSR.
    pub(crate) fn assemble(
        meta: Meta,
        user_start: usize,
        row_ptr: Vec<usize>,
        items: Vec<u32>,
        values: Vec<f64>,
    ) -> Result<Shard, DistError> {
        let m = meta.n_items;
        if let Some(&i) = items.iter().find(|&&i| i as usize >= m) {
            return Err(DistError::Partition(format!(
                "item index {i} outside the {m} items"
            )));
        }
        if items.len() > u32::MAX as usize {
            return Err(DistError::Partition(format!(
                "{} ratings on one rank (at most {} per rank): use more ranks",
                items.len(),
                u32::MAX
            )));
        }
        let mut col_ptr = vec![0usize; m + 1];
        for &i in &items {
            col_ptr[i as usize + 1] += 1;
        }
        for i in 0..m {
            col_ptr[i + 1] += col_ptr[i];
        }
        let mut next = col_ptr[..m].to_vec();
        let mut col_users = vec![0u32; items.len()];
        let mut col_pos = vec![0u32; items.len()];
        for lu in 0..row_ptr.len() - 1 {
            for (p, &i) in items
                .iter()
                .enumerate()
                .take(row_ptr[lu + 1])
                .skip(row_ptr[lu])
            {
                let i = i as usize;
                col_users[next[i]] = lu as u32;
                col_pos[next[i]] = p as u32;
                next[i] += 1;
            }
        }
        let user_end = user_start + row_ptr.len() - 1;
        Ok(Shard {
            n_users: meta.n_users,
            n_items: meta.n_items,
            nnz_total: meta.nnz_total,
            scale: meta.scale,
            mean: meta.mean,
            item_counts: meta.item_counts,
            user_start,
            user_end,
            row_ptr,
            items,
            values,
            col_ptr,
            col_users,
            col_pos,
        })
    }

    /// Users of this rank.
    pub fn local_users(&self) -> usize {
        self.user_end - self.user_start
    }

    /// Ratings of this rank.
    pub fn local_nnz(&self) -> usize {
        self.items.len()
    }

    /// Bytes of this rank's ratings (CSR and CSC arrays).
    pub fn data_bytes(&self) -> usize {
        self.row_ptr.len() * 8
            + self.items.len() * (4 + 8)
            + self.col_ptr.len() * 8
            + self.col_users.len() * 4
            + self.col_pos.len() * 4
            + self.item_counts.len() * 4
    }
}

/// What every rank knows of the whole data set.
pub(crate) struct Meta {
    pub n_users: usize,
    pub n_items: usize,
    pub nnz_total: usize,
    pub scale: RatingScale,
    pub mean: f64,
    pub item_counts: Vec<u32>,
}

/// The CSR row pointer of `data` as `usize`.
pub fn row_ptr_of(data: &Ratings) -> Vec<usize> {
    let mut ptr = Vec::with_capacity(data.n_users() + 1);
    ptr.push(0);
    for u in 0..data.n_users() as u32 {
        ptr.push(ptr.last().copied().unwrap_or(0) + data.user_count(u));
    }
    ptr
}

/// One rank's part of a validation split.
#[derive(Debug, Clone)]
pub struct HeldOut {
    /// This rank's users' training ratings; the whole-data facts (ratings, mean, item counts)
    /// are the training set's.
    pub shard: Shard,
    /// This rank's users' validation ratings (global indices), in CSR order.
    pub validation: Vec<Triple>,
}

/// Splits every rank's `shard` as `split` splits the whole data set. Every rank calls it with
/// its shard of the same partition; rank 0 passes `Some((data, split))` (the whole data set
/// and the split drawn on it, `split.train` over the same indices), the other ranks `None`.
/// Rank 0 sends each rank 4 bytes per held-out rating of its users plus 4 bytes per item.
pub fn distribute_holdout<C: Communicator + ?Sized>(
    shard: &Shard,
    root: Option<(&Ratings, &Split)>,
    comm: &C,
) -> Result<HeldOut, DistError> {
    let starts = comm.all_gather_f64(&[shard.user_start as f64]);
    let send: Vec<Vec<u8>> = match root {
        Some((data, split)) => root_messages(data, split, &starts)?,
        None => vec![Vec::new(); comm.size()],
    };
    let got = comm.all_to_all_bytes(&send);
    let msg = got
        .first()
        .ok_or_else(|| DistError::Partition("no message from rank 0".into()))?;
    hold_out(shard, msg)
}

/// Rank 0's message to each rank: the training set's mean (f64 bits), its number of ratings
/// (u64) and its item counts (u32 each), then the held-out ratings of the rank's users as
/// positions in the rank's block (u32 each, ascending).
fn root_messages(data: &Ratings, split: &Split, starts: &[f64]) -> Result<Vec<Vec<u8>>, DistError> {
    let train = &split.train;
    if train.n_users() != data.n_users() || train.n_items() != data.n_items() {
        return Err(DistError::Partition(
            "the validation split changed the users or items".into(),
        ));
    }
    let mut head = Vec::with_capacity(16 + 4 * train.n_items());
    head.extend_from_slice(&train.mean().to_bits().to_le_bytes());
    head.extend_from_slice(&(train.nnz() as u64).to_le_bytes());
    for i in 0..train.n_items() as u32 {
        head.extend_from_slice(&(train.item_count(i) as u32).to_le_bytes());
    }
    let row_ptr = crate::row_ptr_of(data);
    let starts: Vec<usize> = starts.iter().map(|&s| s as usize).collect();
    let mut out: Vec<Vec<u8>> = vec![head; starts.len()];
    let mut r = 0usize;
    for t in &split.test {
        let u = t.user as usize;
        while r + 1 < starts.len() && starts[r + 1] <= u {
            r += 1;
        }
        let within = data.user(t.user).0.binary_search(&t.item).map_err(|_| {
            DistError::Partition(format!("held-out rating ({u}, {}) not in the data", t.item))
        })?;
        let local = row_ptr[u] + within - row_ptr[starts[r]];
        let local = u32::try_from(local)
            .map_err(|_| DistError::Partition(format!("position {local} on one rank")))?;
        out[r].extend_from_slice(&local.to_le_bytes());
    }
    Ok(out)
}

/// This rank's training shard and validation triples from rank 0's message.
fn hold_out(shard: &Shard, msg: &[u8]) -> Result<HeldOut, DistError> {
    let m = shard.n_items;
    let head = 16 + 4 * m;
    if msg.len() < head || !(msg.len() - head).is_multiple_of(4) {
        return Err(DistError::Partition(format!(
            "a validation message of {} bytes for {m} items",
            msg.len()
        )));
    }
    let u64_at = |p: usize| u64::from_le_bytes(msg[p..p + 8].try_into().expect("8 bytes"));
    let u32_at = |p: usize| u32::from_le_bytes(msg[p..p + 4].try_into().expect("4 bytes"));
    let mean = f64::from_bits(u64_at(0));
    let nnz_total = usize::try_from(u64_at(8))
        .map_err(|_| DistError::Partition("a training set larger than memory".into()))?;
    let item_counts: Vec<u32> = (0..m).map(|i| u32_at(16 + 4 * i)).collect();
    let held = (head..msg.len()).step_by(4).map(|p| u32_at(p) as usize);
    let mut keep = vec![true; shard.local_nnz()];
    let mut last = None;
    for p in held {
        if p >= keep.len() || last.is_some_and(|l| l >= p) {
            return Err(DistError::Partition(format!(
                "held-out position {p} of {} (not ascending or out of range)",
                keep.len()
            )));
        }
        keep[p] = false;
        last = Some(p);
    }
    let mut row_ptr = Vec::with_capacity(shard.row_ptr.len());
    row_ptr.push(0usize);
    let mut items = Vec::with_capacity(shard.local_nnz());
    let mut values = Vec::with_capacity(shard.local_nnz());
    let mut validation = Vec::new();
    for lu in 0..shard.local_users() {
        let user = (shard.user_start + lu) as u32;
        let row = shard.row_ptr[lu]..shard.row_ptr[lu + 1];
        for ((&i, &v), &kept) in shard.items[row.clone()]
            .iter()
            .zip(&shard.values[row.clone()])
            .zip(&keep[row])
        {
            if kept {
                items.push(i);
                values.push(v);
            } else {
                validation.push(Triple::new(user, i, v));
            }
        }
        row_ptr.push(items.len());
    }
    let train = Shard::assemble(
        Meta {
            n_users: shard.n_users,
            n_items: m,
            nnz_total,
            scale: shard.scale,
            mean,
            item_counts,
        },
        shard.user_start,
        row_ptr,
        items,
        values,
    )?;
    Ok(HeldOut {
        shard: train,
        validation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_contiguous_cover_every_user_and_balance_ratings() {
        // 10 users with 1..=10 ratings: 55 in all.
        let mut ptr = vec![0usize];
        for u in 1..=10 {
            ptr.push(ptr.last().unwrap() + u);
        }
        for ranks in 1..=12 {
            let b = partition_users(&ptr, ranks);
            assert_eq!(b.len(), ranks + 1);
            assert_eq!((b[0], b[ranks]), (0, 10));
            assert!(b.windows(2).all(|w| w[0] <= w[1]), "{b:?}");
        }
        assert_eq!(partition_users(&ptr, 2), vec![0, 7, 10]); // 28 | 27 ratings
        assert_eq!(partition_users(&ptr, 1), vec![0, 10]);
    }
}
