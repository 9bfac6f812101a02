//! The bounds the tool puts on what it is asked to do, so that no input (a flag, a ratings
//! file, a crafted model file) can make it allocate without bound or run for ever. `fit`
//! refuses what the model file reader would refuse, so every model `cnmf` writes can be read
//! back.

/// Largest rank (`--k`) accepted, whatever `--force-rank` says.
pub const MAX_RANK: usize = 1024;

/// Largest iteration count (`--iters`, and a model file's `max_iters`).
pub const MAX_ITERS: usize = 100_000;

/// Largest `iterations x k^2`: folding in a new user costs up to that many multiply-adds (the
/// replace variants' k x k Gram products), so this bound keeps `fold-in` to seconds.
pub const MAX_WORK: u128 = 10_000_000_000;

/// Largest model file payload read, in bytes (a model of ML-1M at k = 20 is about 10 MiB).
pub const MAX_MODEL_BYTES: u64 = 4 << 30;

/// Largest `k x max(W) x max(H)` in a model file, per unit of the scale's upper bound: every
/// raw score `(W H)_ui` stays below it, so scores are finite and meaningful.
pub const MAX_SCORE_PER_SCALE: f64 = 1e12;

/// Checks a rank and an iteration count against [`MAX_RANK`], [`MAX_ITERS`] and
/// [`MAX_WORK`]; the error says which bound and why.
pub fn check_rank_iters(k: usize, iters: usize) -> Result<(), String> {
    if k > MAX_RANK {
        return Err(format!(
            "rank {k} is above the limit of {MAX_RANK} (a rank larger than a few hundred \
             rarely helps ratings, and the factors take (users + items) x k x 8 bytes)"
        ));
    }
    if iters > MAX_ITERS {
        return Err(format!(
            "{iters} iterations is above the limit of {MAX_ITERS}"
        ));
    }
    let work = iters as u128 * (k as u128) * (k as u128);
    if work > MAX_WORK {
        return Err(format!(
            "{iters} iterations at rank {k} is too much work for a fold-in \
             (iterations x k^2 = {work}, the limit is {MAX_WORK}): fewer iterations or a lower rank"
        ));
    }
    Ok(())
}

/// The worker threads a `--threads` value gives: 0 is every core, and a count above the
/// number of cores is lowered to it (results are identical for every count; more threads
/// than cores only add overhead). Returns the count and whether it was lowered.
pub fn threads(asked: usize) -> (usize, bool) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if asked > cores {
        (cores, true)
    } else {
        (asked, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_hold() {
        assert!(check_rank_iters(20, 100).is_ok());
        assert!(check_rank_iters(MAX_RANK, 9_000).is_ok());
        assert!(check_rank_iters(MAX_RANK + 1, 1)
            .unwrap_err()
            .contains("rank"));
        assert!(check_rank_iters(1, MAX_ITERS + 1)
            .unwrap_err()
            .contains("iterations"));
        assert!(check_rank_iters(1000, 100_000)
            .unwrap_err()
            .contains("work"));
        let (t, lowered) = threads(1 << 20);
        assert!(lowered && t >= 1);
        assert_eq!(threads(0), (0, false));
    }
}
