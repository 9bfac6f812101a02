//! Ranking metrics of top-N lists against held-out relevant items: precision, recall, NDCG
//! and average precision at N, averaged over users.
//!
//! For one user with ranked list `L` (best first, at most `N` items) and relevant set `R`
//! (non-empty), with `rel_k = 1` when the item at rank `k` is in `R`:
//!
//! - precision@N = hits / N (the denominator is `N` even when `L` is shorter, so a list that
//!   cannot be filled is not rewarded);
//! - recall@N = hits / |R|;
//! - NDCG@N = DCG / IDCG with DCG = sum_k rel_k / log2(k + 1) and IDCG the DCG of the ideal
//!   list, min(N, |R|) relevant items in front (binary relevance);
//! - AP@N = (1 / min(N, |R|)) sum_k rel_k hits_at_k / k, and MAP@N its mean over users.
//!
//! The lists themselves (which items are candidates, how ties break) are the caller's; the
//! `cnmf evaluate --test` command ranks the items a user has not rated in training by the raw
//! prediction, ties broken by the lower item index.

use serde::Serialize;

use crate::MetricsError;

/// Precision, recall, NDCG and average precision of one user's list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UserRanking {
    /// Relevant items in the list / N.
    pub precision: f64,
    /// Relevant items in the list / relevant items.
    pub recall: f64,
    /// Normalised discounted cumulative gain.
    pub ndcg: f64,
    /// Average precision.
    pub average_precision: f64,
}

/// The mean of [`UserRanking`] over users.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankingMetrics {
    /// The list length N.
    pub at: usize,
    /// Number of users averaged over.
    pub users: usize,
    /// Mean precision@N.
    pub precision: f64,
    /// Mean recall@N.
    pub recall: f64,
    /// Mean NDCG@N.
    pub ndcg: f64,
    /// MAP@N.
    pub map: f64,
}

/// The metrics of `ranked` (best first; only its first `n` items count) against `relevant`.
/// `is_relevant` answers membership; `n_relevant` is |R|.
///
/// # Errors
/// [`MetricsError::InvalidArgument`] when `n` is 0 or `n_relevant` is 0 (a user with nothing
/// relevant has no recall; leave such users out).
pub fn user_ranking(
    ranked: &[u32],
    is_relevant: impl Fn(u32) -> bool,
    n_relevant: usize,
    n: usize,
) -> Result<UserRanking, MetricsError> {
    if n == 0 {
        return Err(MetricsError::InvalidArgument {
            name: "n",
            reason: "the list length must be at least 1".into(),
        });
    }
    if n_relevant == 0 {
        return Err(MetricsError::InvalidArgument {
            name: "n_relevant",
            reason: "a user without relevant items has no recall; leave the user out".into(),
        });
    }
    let (mut hits, mut dcg, mut ap) = (0usize, 0.0, 0.0);
    for (k, &item) in ranked.iter().take(n).enumerate() {
        if is_relevant(item) {
            hits += 1;
            dcg += 1.0 / ((k + 2) as f64).log2();
            ap += hits as f64 / (k + 1) as f64;
        }
    }
    let ideal = n.min(n_relevant);
    let idcg: f64 = (0..ideal).map(|k| 1.0 / ((k + 2) as f64).log2()).sum();
    Ok(UserRanking {
        precision: hits as f64 / n as f64,
        recall: hits as f64 / n_relevant as f64,
        ndcg: dcg / idcg,
        average_precision: ap / ideal as f64,
    })
}

/// The mean of the users' metrics (in the order given; the sum runs in that order).
///
/// # Errors
/// [`MetricsError::Empty`] when there are no users.
pub fn mean_ranking(users: &[UserRanking], n: usize) -> Result<RankingMetrics, MetricsError> {
    if users.is_empty() {
        return Err(MetricsError::Empty {
            what: "users with relevant test items",
        });
    }
    let count = users.len() as f64;
    let mean = |f: fn(&UserRanking) -> f64| users.iter().map(f).sum::<f64>() / count;
    Ok(RankingMetrics {
        at: n,
        users: users.len(),
        precision: mean(|u| u.precision),
        recall: mean(|u| u.recall),
        ndcg: mean(|u| u.ndcg),
        map: mean(|u| u.average_precision),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn hand_computed_list() {
        // List [7, 3, 9, 1, 5], relevant {3, 5, 8}, N = 5: hits at ranks 2 and 5.
        // precision = 2/5 = 0.4; recall = 2/3.
        // DCG = 1/log2(3) + 1/log2(6) = 0.630929753571 + 0.386852807235 = 1.017782560806
        // IDCG (3 relevant in front) = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.630929753571 + 0.5
        //      = 2.13092975357146; NDCG = 1.0177825608060 / 2.13092975357146 = 0.4776237...
        // AP = (1/min(5,3)) (1/2 + 2/5) = (0.5 + 0.4) / 3 = 0.3.
        let rel = [3u32, 5, 8];
        let u = user_ranking(&[7, 3, 9, 1, 5], |i| rel.contains(&i), 3, 5).unwrap();
        close(u.precision, 0.4);
        close(u.recall, 2.0 / 3.0);
        close(u.ndcg, 1.017_782_560_806_0 / 2.130_929_753_571_46);
        close(u.average_precision, 0.3);
    }

    #[test]
    fn perfect_short_and_truncated_lists() {
        // Both relevant items first, N = 2: every metric is 1.
        let u = user_ranking(&[4, 2, 9], |i| i == 2 || i == 4, 2, 2).unwrap();
        assert_eq!(
            (u.precision, u.recall, u.ndcg, u.average_precision),
            (1.0, 1.0, 1.0, 1.0)
        );
        // N = 3 but the list has one item, relevant: precision 1/3, recall 1/1,
        // NDCG 1/1 (ideal has one relevant item), AP (1/1)(1/1) = 1.
        let u = user_ranking(&[6], |i| i == 6, 1, 3).unwrap();
        close(u.precision, 1.0 / 3.0);
        assert_eq!((u.recall, u.ndcg, u.average_precision), (1.0, 1.0, 1.0));
        // Items past N do not count: relevant 1 at rank 3, N = 2, gives zeros.
        let u = user_ranking(&[5, 6, 1], |i| i == 1, 1, 2).unwrap();
        assert_eq!(
            (u.precision, u.recall, u.ndcg, u.average_precision),
            (0.0, 0.0, 0.0, 0.0)
        );
        // One relevant item at rank 2 of N = 2: NDCG = (1/log2 3) / 1 = 0.630929753571,
        // AP = (1/1)(1/2) = 0.5.
        let u = user_ranking(&[5, 1], |i| i == 1, 1, 2).unwrap();
        close(u.ndcg, 0.630_929_753_571_8);
        close(u.average_precision, 0.5);
    }

    #[test]
    fn means_and_errors() {
        let a = UserRanking {
            precision: 0.4,
            recall: 0.5,
            ndcg: 1.0,
            average_precision: 0.2,
        };
        let b = UserRanking {
            precision: 0.0,
            recall: 1.0,
            ndcg: 0.5,
            average_precision: 0.6,
        };
        let m = mean_ranking(&[a, b], 5).unwrap();
        assert_eq!((m.at, m.users), (5, 2));
        close(m.precision, 0.2);
        close(m.recall, 0.75);
        close(m.ndcg, 0.75);
        close(m.map, 0.4);
        assert!(matches!(
            mean_ranking(&[], 5),
            Err(MetricsError::Empty { .. })
        ));
        assert!(user_ranking(&[1], |_| true, 1, 0).is_err());
        assert!(user_ranking(&[1], |_| true, 0, 1).is_err());
    }
}
