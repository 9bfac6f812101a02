//! `trimmed`'s global selection: which observed entries the trimmed loss drops.
//!
//! The entries are ordered by squared residual, largest first, ties by position (lowest
//! first); the first `drop` of them are flagged. That order is total, so the flagged set is
//! unique and does not depend on how the work is split. The threshold comes from a selection
//! (`select_nth_unstable_by`, linear time) on a copy of the squared residuals; the counts, the
//! flags and the kept sum are then taken over fixed blocks of positions in parallel and
//! combined in block order, so the sum has the same bits for any number of threads.

use rayon::prelude::*;

/// Positions per parallel block.
const BLOCK: usize = 8192;

/// The number of entries `trimmed` drops out of `n`: `floor(q n)` (computed in `f64`).
pub(crate) fn trim_count(q: f64, n: usize) -> usize {
    ((q * n as f64).floor() as usize).min(n)
}

/// The sum of `squares` over every entry but the `drop` largest (ties by position, lowest
/// dropped first): the trimmed loss. With `flags`, sets `flags[p] = 1` exactly on the dropped
/// entries and 0 elsewhere.
///
/// # Panics
/// When `flags` is given with a length other than `squares.len()`, or `drop > squares.len()`.
pub(crate) fn trim(squares: &[f64], drop: usize, flags: Option<&mut [u8]>) -> f64 {
    assert!(
        drop <= squares.len(),
        "cannot drop {drop} of {}",
        squares.len()
    );
    if let Some(f) = flags.as_deref() {
        assert_eq!(f.len(), squares.len(), "one flag per entry");
    }
    // The last dropped value and how many entries equal to it are dropped (0: none dropped).
    let (tau, ties_dropped) = if drop == 0 {
        (f64::INFINITY, 0)
    } else {
        let mut sorted = squares.to_vec();
        let (_, &mut tau, _) = sorted.select_nth_unstable_by(drop - 1, |a, b| b.total_cmp(a));
        let above: usize = squares
            .par_chunks(BLOCK)
            .map(|b| b.iter().filter(|e| e.total_cmp(&tau).is_gt()).count())
            .sum();
        (tau, drop - above)
    };
    // Entries equal to tau before each block, so that ties are dropped in position order.
    let ties: Vec<usize> = squares
        .par_chunks(BLOCK)
        .map(|b| b.iter().filter(|e| e.total_cmp(&tau).is_eq()).count())
        .collect();
    let mut before = Vec::with_capacity(ties.len());
    let mut acc = 0usize;
    for t in &ties {
        before.push(acc);
        acc += t;
    }
    let is_dropped = move |e: f64, tie_rank: &mut usize| -> bool {
        match e.total_cmp(&tau) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => {
                let d = *tie_rank < ties_dropped;
                *tie_rank += 1;
                d
            }
            std::cmp::Ordering::Less => false,
        }
    };
    let sums: Vec<f64> = match flags {
        Some(flags) => squares
            .par_chunks(BLOCK)
            .zip(flags.par_chunks_mut(BLOCK))
            .zip(before.par_iter())
            .map(|((b, f), &rank0)| {
                let mut rank = rank0;
                let mut kept = 0.0;
                for (&e, z) in b.iter().zip(f.iter_mut()) {
                    let d = is_dropped(e, &mut rank);
                    *z = u8::from(d);
                    if !d {
                        kept += e;
                    }
                }
                kept
            })
            .collect(),
        None => squares
            .par_chunks(BLOCK)
            .zip(before.par_iter())
            .map(|(b, &rank0)| {
                let mut rank = rank0;
                let mut kept = 0.0;
                for &e in b {
                    if !is_dropped(e, &mut rank) {
                        kept += e;
                    }
                }
                kept
            })
            .collect(),
    };
    sums.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_largest_and_breaks_ties_by_position() {
        let e = [1.0, 4.0, 2.0, 4.0, 0.5, 4.0];
        let mut f = [9u8; 6];
        // Two of the three 4s go: the first two by position.
        let kept = trim(&e, 2, Some(&mut f));
        assert_eq!(f, [0, 1, 0, 1, 0, 0]);
        assert_eq!(kept, 1.0 + 2.0 + 0.5 + 4.0);
        assert_eq!(trim(&e, 2, None), kept);
        let kept = trim(&e, 4, Some(&mut f));
        assert_eq!(f, [0, 1, 1, 1, 0, 1]);
        assert_eq!(kept, 1.5);
        assert_eq!(trim(&e, 0, Some(&mut f)), e.iter().sum::<f64>());
        assert_eq!(f, [0; 6]);
        assert_eq!(trim(&e, 6, Some(&mut f)), 0.0);
        assert_eq!(f, [1; 6]);
    }

    #[test]
    fn counts_floor_of_the_share() {
        assert_eq!(trim_count(0.05, 100), 5);
        assert_eq!(trim_count(0.05, 99), 4);
        assert_eq!(trim_count(0.0, 1000), 0);
        assert_eq!(trim_count(0.5, 1), 0);
    }

    #[test]
    fn same_flags_and_sum_across_blocks() {
        // More than one block, many ties: flags and sum equal a sequential reference.
        let n = 3 * BLOCK + 17;
        let e: Vec<f64> = (0..n).map(|p| ((p * 7919) % 13) as f64).collect();
        let drop = n / 3;
        let mut f = vec![0u8; n];
        let kept = trim(&e, drop, Some(&mut f));
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| e[b].total_cmp(&e[a]).then(a.cmp(&b)));
        let mut want = vec![0u8; n];
        for &p in &order[..drop] {
            want[p] = 1;
        }
        assert_eq!(f, want);
        assert_eq!(f.iter().filter(|&&z| z == 1).count(), drop);
        let by_blocks: f64 = e
            .chunks(BLOCK)
            .zip(want.chunks(BLOCK))
            .map(|(b, z)| {
                b.iter()
                    .zip(z)
                    .filter(|(_, &z)| z == 0)
                    .map(|(e, _)| e)
                    .sum::<f64>()
            })
            .sum();
        assert_eq!(kept, by_blocks);
    }
}
