//! Early stopping's validation split across ranks: rank 0, which holds the whole data set,
//! draws the split (the single-process fit's, by the caller's function) and sends each rank the
//! positions of its held-out ratings with the training set's facts; each rank then holds its
//! users' training ratings as a [`Shard`] and its users' validation ratings as triples.

use cnmf_ratings::{Ratings, Split, Triple};

use crate::shard::Meta;
use crate::{Communicator, DistError, Shard};

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
/// Rank 0 sends each rank 8 bytes per held-out rating of its users plus 4 bytes per item.
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
