//! `guarded`'s profile screen: the users whose rated items are atypically unpopular.
//!
//! Each user's score is the mean of `ln(1 + n_j)` over the items `j` it rated (`n_j` the item's
//! number of observed ratings), summed in the user's CSR order; the cutoff is
//! `median - z 1.4826 MAD` over the users with ratings, both taken exactly from sorted copies
//! (`f64::total_cmp`; the median of an even count is the mean of the two middle values). Every
//! step is either per user or a sort, so the result does not depend on the thread count.

use cnmf_ratings::Ratings;
use rayon::prelude::*;

/// The consistency constant that makes the MAD estimate a normal standard deviation.
const MAD_TO_SD: f64 = 1.4826;

/// Users per parallel block of the score pass.
const BLOCK: usize = 1024;

/// One flag per user: `true` when the user's score lies strictly below
/// `median - z 1.4826 MAD`. Users without ratings have no score, take no part in the median and
/// are never screened; when `MAD = 0` (or no user has ratings) nobody is screened.
pub(crate) fn profile_screen(data: &Ratings, z: f64) -> Vec<bool> {
    let n = data.n_users();
    let log_pop: Vec<f64> = (0..data.n_items() as u32)
        .map(|j| (data.item_count(j) as f64).ln_1p())
        .collect();
    let users: Vec<u32> = (0..n as u32).collect();
    let scores: Vec<Option<f64>> = users
        .par_chunks(BLOCK)
        .flat_map_iter(|block| block.iter().map(|&u| user_score(&log_pop, data.user(u).0)))
        .collect();
    screen_scores(&scores, z)
}

/// A user's score from `log_pop` (`ln(1 + n_j)` of every item) and the items it rated, in
/// its CSR order; `None` without ratings. Exposed for the distributed fit.
#[doc(hidden)]
pub fn user_score(log_pop: &[f64], items: &[u32]) -> Option<f64> {
    if items.is_empty() {
        return None;
    }
    let sum: f64 = items.iter().map(|&j| log_pop[j as usize]).sum();
    Some(sum / items.len() as f64)
}

/// The screen's decision from the users' scores (`None`: a user without ratings): `true` when
/// the score lies strictly below `median - z 1.4826 MAD` of the scores present. Exposed for
/// the distributed fit, which gathers the scores of every rank's users and decides as
/// [`profile_screen`] does.
#[doc(hidden)]
pub fn screen_scores(scores: &[Option<f64>], z: f64) -> Vec<bool> {
    let n = scores.len();
    let mut sorted: Vec<f64> = scores.iter().flatten().copied().collect();
    if sorted.is_empty() {
        return vec![false; n];
    }
    let med = median(&mut sorted);
    let mut dev: Vec<f64> = sorted.iter().map(|s| (s - med).abs()).collect();
    let mad = median(&mut dev);
    if mad <= 0.0 {
        return vec![false; n];
    }
    let cutoff = med - z * MAD_TO_SD * mad;
    scores
        .iter()
        .map(|s| s.is_some_and(|s| s < cutoff))
        .collect()
}

/// The median of a non-empty slice (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let h = v.len() / 2;
    if v.len() % 2 == 1 {
        v[h]
    } else {
        0.5 * (v[h - 1] + v[h])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
    }
}
