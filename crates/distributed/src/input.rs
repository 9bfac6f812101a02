//! Split input: each rank reads only its byte range of one MovieLens ratings file (`::` or tab
//! separated; CSV, with its header, is not split), cut at line ends.
//!
//! 1. Rank `r` takes the bytes from the first line start at or after `r * size / P` to the first
//!    line start at or after `(r + 1) * size / P`, counts its lines (all-gathered: each rank's
//!    first line number) and parses them with the ratings crate's loader. A bad line is
//!    reported by the rank that read it, with the file's line number.
//! 2. Ids: each rank's users and items in order of first appearance are all-gathered and
//!    interned in rank order, which numbers them as the whole-file loader does (order of first
//!    appearance in the file).
//! 3. The users are partitioned by their rating counts (summed over ranks) and every rating is
//!    sent to the rank that owns its user (one all-to-all); each rank sorts its ratings into
//!    CSR rows (items ascending, as the loader does). A pair rated twice in different ranks'
//!    ranges is an error (within one range the loader reports it with both lines).
//! 4. Rank 0 also receives every rating (the model file holds the rated pattern) and builds
//!    the whole data set; the mean rating is its, broadcast, so the initialisation is the
//!    whole-file loader's bit for bit.
//!
//! Every step that can fail on one rank is followed by [`Communicator::agree`], so all ranks
//! fail together.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use cnmf_ratings::{
    load_reader_with_format, DuplicatePolicy, Format, IdMap, LoadOptions, RatingScale, Ratings,
    RatingsError, Triple,
};

use crate::shard::Meta;
use crate::{partition_users, Communicator, DistError, Shard};

/// What [`load_split`] gives a rank: its shard, and on rank 0 the whole data set.
#[derive(Debug)]
pub struct SplitInput {
    /// This rank's users and their ratings.
    pub shard: Shard,
    /// The whole data set, on rank 0 only.
    pub root_data: Option<Ratings>,
    /// Bytes of the file this rank read.
    pub bytes_read: u64,
}

/// Fails every rank when any rank failed (see [`Communicator::agree`]).
fn agreed<C: Communicator + ?Sized, T>(comm: &C, r: Result<T, String>) -> Result<T, DistError> {
    let failed = comm.agree(r.as_ref().err().map(String::as_str));
    if failed.is_empty() {
        r.map_err(|_| DistError::Partition("unreachable: agreed success".into()))
    } else {
        Err(DistError::Ranks(failed))
    }
}

/// The first line start at or after byte `pos` (`pos` itself when it is 0 or follows a line
/// end; the file size when no line starts there).
fn line_start(file: &mut File, pos: u64, size: u64) -> std::io::Result<u64> {
    if pos == 0 || pos >= size {
        return Ok(pos.min(size));
    }
    file.seek(SeekFrom::Start(pos - 1))?;
    let mut buf = [0u8; 64 * 1024];
    let mut at = pos - 1;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(size);
        }
        if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
            return Ok(at + i as u64 + 1);
        }
        at += n as u64;
    }
}

/// Reads this rank's byte range of `path`.
fn read_range(path: &Path, rank: usize, ranks: usize) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let cut = |r: usize| (size as u128 * r as u128 / ranks as u128) as u64;
    let start = line_start(&mut file, cut(rank), size)?;
    let end = line_start(&mut file, cut(rank + 1), size)?;
    let mut bytes = vec![0u8; (end.saturating_sub(start)) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// `e` with its line numbers moved by `offset` (the lines before this rank's range).
fn shift_lines(e: RatingsError, offset: usize) -> RatingsError {
    match e {
        RatingsError::Parse { mut at, problem } => {
            at.line += offset;
            RatingsError::Parse { at, problem }
        }
        RatingsError::OutOfScale {
            mut at,
            value,
            min,
            max,
        } => {
            at.line += offset;
            RatingsError::OutOfScale {
                at,
                value,
                min,
                max,
            }
        }
        RatingsError::Duplicate {
            mut at,
            user,
            item,
            first_line,
        } => {
            at.line += offset;
            RatingsError::Duplicate {
                at,
                user,
                item,
                first_line: first_line + offset,
            }
        }
        other => other,
    }
}

/// The ids of `map` in index order, one per line.
fn names(map: &IdMap) -> Vec<u8> {
    let mut out = Vec::new();
    for id in map.iter() {
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Interns every rank's ids in rank order; returns the global map and, for this rank, the
/// global index of each of its local ids.
fn merge_ids(parts: &[Vec<u8>], me: usize) -> (IdMap, Vec<u32>) {
    let mut map = IdMap::new();
    let mut mine = Vec::new();
    for (r, part) in parts.iter().enumerate() {
        for id in part.split(|&b| b == b'\n').filter(|s| !s.is_empty()) {
            let g = map.intern(&String::from_utf8_lossy(id));
            if r == me {
                mine.push(g);
            }
        }
    }
    (map, mine)
}

/// Loads `path` split across the ranks of `comm` (see the module docs), without timestamps.
/// Every rank must call it; on failure every rank returns the same [`DistError::Ranks`].
pub fn load_split<C: Communicator + ?Sized>(
    path: &Path,
    scale: RatingScale,
    comm: &C,
) -> Result<SplitInput, DistError> {
    load_split_keeping_times(path, scale, false, comm)
}

/// [`load_split`], and with `keep_times` rank 0's whole data set keeps the file's timestamps
/// (`guarded`'s burst screen reads them there): every rating goes to rank 0 with its time
/// (24 bytes instead of 16). The shards are the same either way.
pub fn load_split_keeping_times<C: Communicator + ?Sized>(
    path: &Path,
    scale: RatingScale,
    keep_times: bool,
    comm: &C,
) -> Result<SplitInput, DistError> {
    let (rank, ranks) = (comm.rank(), comm.size());
    // 1. The byte range, its lines, the format.
    let format = Format::Auto
        .detect(path)
        .map_err(|e| e.to_string())
        .and_then(|f| match f {
            Format::MovieLens | Format::Ml100k => Ok(f),
            other => Err(format!(
                "{}: split input reads the MovieLens formats (user::item::rating::time, or \
                 tab-separated u.data), not {}",
                path.display(),
                other.name()
            )),
        });
    let format = agreed(comm, format)?;
    let bytes = read_range(path, rank, ranks).map_err(|e| format!("{}: {e}", path.display()));
    let bytes = agreed(comm, bytes)?;
    let lines = bytes.iter().filter(|&&b| b == b'\n').count()
        + usize::from(bytes.last().is_some_and(|&b| b != b'\n'));
    let counts = comm.all_gather_f64(&[lines as f64]);
    let offset: usize = counts[..rank].iter().map(|&c| c as usize).sum();
    let opts = LoadOptions::default()
        .scale(scale)
        .format(format)
        .timestamps(keep_times);
    let local = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        Ok(None)
    } else {
        load_reader_with_format(&bytes[..], path, &opts)
            .map(|(r, _)| Some(r))
            .map_err(|e| shift_lines(e, offset).to_string())
    };
    let local = agreed(comm, local)?;
    let bytes_read = bytes.len() as u64;
    drop(bytes);

    // 2. Global ids.
    let (lu, li) = match &local {
        Some(d) => (names(d.users()), names(d.items())),
        None => (Vec::new(), Vec::new()),
    };
    let (users, user_of) = merge_ids(&comm.all_gather_bytes(&lu), rank);
    let (items, item_of) = merge_ids(&comm.all_gather_bytes(&li), rank);
    let (n, m) = (users.len(), items.len());
    if n == 0 {
        return Err(DistError::Ranks(vec![(
            0,
            format!("{}: no ratings found (empty input)", path.display()),
        )]));
    }

    // 3. Partition by rating counts, send every rating to its user's rank.
    let mut user_counts = vec![0.0; n];
    let mut item_counts = vec![0.0; m];
    let triples: Vec<Triple> = local
        .as_ref()
        .map(|d| {
            d.iter()
                .map(|t| Triple::new(user_of[t.user as usize], item_of[t.item as usize], t.value))
                .collect()
        })
        .unwrap_or_default();
    // The times of `triples` (both in the local CSR order), when kept; every rank learns
    // whether all ranks with ratings have them.
    let (times, lacking) = match (&local, keep_times) {
        (_, false) => (Vec::new(), 0.0),
        (None, true) => (Vec::new(), 0.0),
        (Some(d), true) => match d.times() {
            Some(t) => (t.to_vec(), 0.0),
            None => (Vec::new(), 1.0),
        },
    };
    let lacking = comm.all_gather_f64(&[lacking]);
    let with_times = keep_times && lacking.iter().all(|&l| l == 0.0);
    drop(local);
    for t in &triples {
        user_counts[t.user as usize] += 1.0;
        item_counts[t.item as usize] += 1.0;
    }
    comm.sum_all(&mut user_counts);
    comm.sum_all(&mut item_counts);
    let mut row_ptr = vec![0usize; n + 1];
    for u in 0..n {
        row_ptr[u + 1] = row_ptr[u] + user_counts[u] as usize;
    }
    let bounds = partition_users(&row_ptr, ranks);
    let owner = |u: u32| bounds.partition_point(|&b| b <= u as usize) - 1;
    let mut send = vec![Vec::new(); ranks];
    for t in &triples {
        let out = &mut send[owner(t.user)];
        out.extend_from_slice(&t.user.to_le_bytes());
        out.extend_from_slice(&t.item.to_le_bytes());
        out.extend_from_slice(&t.value.to_le_bytes());
    }
    let all: Vec<u8> = if rank == 0 {
        Vec::new()
    } else if with_times {
        triples
            .iter()
            .zip(&times)
            .flat_map(|(t, time)| {
                let mut b = Vec::with_capacity(24);
                b.extend_from_slice(&t.user.to_le_bytes());
                b.extend_from_slice(&t.item.to_le_bytes());
                b.extend_from_slice(&t.value.to_le_bytes());
                b.extend_from_slice(&time.to_le_bytes());
                b
            })
            .collect()
    } else {
        send.concat()
    };
    let received = comm.all_to_all_bytes(&send);
    drop(send);
    let mut mine: Vec<Triple> = received.iter().flat_map(|b| decode(b)).collect();
    mine.sort_by_key(|t| (t.user, t.item));
    let duplicate = mine
        .windows(2)
        .find(|w| (w[0].user, w[0].item) == (w[1].user, w[1].item))
        .map(|w| {
            format!(
                "{}: duplicate rating of item {:?} by user {:?} (in two ranks' parts of the file)",
                path.display(),
                items.external(w[0].item),
                users.external(w[0].user)
            )
        });
    agreed(comm, duplicate.map_or(Ok(()), Err))?;
    let (user_start, user_end) = (bounds[rank], bounds[rank + 1]);
    let mut local_ptr = vec![0usize; user_end - user_start + 1];
    for t in &mine {
        local_ptr[t.user as usize - user_start + 1] += 1;
    }
    for u in 0..user_end - user_start {
        local_ptr[u + 1] += local_ptr[u];
    }
    let local_items: Vec<u32> = mine.iter().map(|t| t.item).collect();
    let local_values: Vec<f64> = mine.iter().map(|t| t.value).collect();
    drop(mine);

    // 4. Rank 0: the whole data set, and the mean everyone initialises from.
    let mut rank0_part = triples;
    if rank != 0 {
        rank0_part.clear();
    }
    let gathered = comm.gather_bytes(&all, 0);
    let root_data = match gathered {
        Some(parts) => {
            let mut every: Vec<Triple> = rank0_part;
            // (user, item, time) of every rating, when the times are kept.
            let mut timed: Vec<(u32, u32, i64)> = Vec::new();
            if with_times {
                timed.extend(every.iter().zip(&times).map(|(t, &s)| (t.user, t.item, s)));
                for p in parts.iter().skip(1) {
                    for c in p.chunks_exact(24) {
                        let t = decode(&c[..16]).next().expect("16 bytes");
                        let s = i64::from_le_bytes(c[16..24].try_into().expect("8 bytes"));
                        every.push(t);
                        timed.push((t.user, t.item, s));
                    }
                }
            } else {
                for p in parts.iter().skip(1) {
                    every.extend(decode(p));
                }
            }
            let r = Ratings::from_triples(
                Arc::new(users.clone()),
                Arc::new(items.clone()),
                scale,
                &every,
                DuplicatePolicy::Error,
            )
            .map_err(|e| e.to_string());
            // CSR order is (user, item) order.
            let r = if with_times {
                timed.sort_unstable_by_key(|&(u, i, _)| (u, i));
                r.and_then(|d| {
                    d.with_times(timed.into_iter().map(|(_, _, s)| s).collect())
                        .map_err(|e| e.to_string())
                })
            } else {
                r
            };
            Some(r)
        }
        None => None,
    };
    let root_data = agreed(comm, root_data.transpose())?;
    let mut mean = [root_data.as_ref().map_or(0.0, Ratings::mean)];
    comm.broadcast_f64(&mut mean, 0);
    let nnz_total = row_ptr[n];
    let shard = Shard::assemble(
        Meta {
            n_users: n,
            n_items: m,
            nnz_total,
            scale,
            mean: mean[0],
            item_counts: item_counts.iter().map(|&c| c as u32).collect(),
        },
        user_start,
        local_ptr,
        local_items,
        local_values,
    )?;
    Ok(SplitInput {
        shard,
        root_data,
        bytes_read,
    })
}

/// Triples from their little-endian encoding (user u32, item u32, value f64).
fn decode(b: &[u8]) -> impl Iterator<Item = Triple> + '_ {
    b.chunks_exact(16).map(|c| {
        let u = u32::from_le_bytes(c[0..4].try_into().expect("4 bytes"));
        let i = u32::from_le_bytes(c[4..8].try_into().expect("4 bytes"));
        let v = f64::from_le_bytes(c[8..16].try_into().expect("8 bytes"));
        Triple::new(u, i, v)
    })
}
