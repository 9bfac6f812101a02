//! Hit ratio at N: how often a target item enters genuine users' top-N recommendations.

use cnmf_ratings::Ratings;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::shift::{check_targets, check_users, predict_checked};
use crate::{MetricsError, Predictor};

/// Hits of one target: among the eligible users (those evaluated who had not rated the target
/// in the clean data), how many have it in their top N before and after the attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHits {
    /// The target item.
    pub target: u32,
    /// Users evaluated who had not rated the target.
    pub eligible_users: usize,
    /// Of those, how many have the target in their top N under the clean model.
    pub hits_before: usize,
    /// Of those, how many have the target in their top N under the attacked model.
    pub hits_after: usize,
}

impl TargetHits {
    /// Hit ratio under the clean model; `None` when no evaluated user is eligible.
    pub fn before(&self) -> Option<f64> {
        (self.eligible_users > 0).then(|| self.hits_before as f64 / self.eligible_users as f64)
    }

    /// Hit ratio under the attacked model; `None` when no evaluated user is eligible.
    pub fn after(&self) -> Option<f64> {
        (self.eligible_users > 0).then(|| self.hits_after as f64 / self.eligible_users as f64)
    }
}

/// Hit ratio at N of several targets, before and after an attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitRatio {
    /// The list length N.
    pub n: usize,
    /// Number of users evaluated.
    pub users: usize,
    /// Per target, in the order given.
    pub per_target: Vec<TargetHits>,
    /// Mean hit ratio under the clean model over the targets with at least one eligible user.
    pub before: f64,
    /// Mean hit ratio under the attacked model over the same targets.
    pub after: f64,
}

/// The hit ratio at `n` of each target, under the clean model (P*) and the attacked model (P).
///
/// For each user `u` of `users` (genuine users, or a sample of them: see [`sample_users`]) and
/// each target `t` that `u` had not rated in `clean_data`, the candidates are all items `u` had
/// not rated in `clean_data` (the other targets included); `t` is a hit when fewer than `n`
/// candidates rank above it. An item ranks above `t` when its prediction is larger, or equal with
/// a smaller index (a fixed tie rule, so results do not depend on sorting). Ranking uses the raw
/// predictions, not clipped ones: clipping would tie every item predicted above the scale's top
/// and leave the order to item indices.
///
/// Cost: for each evaluated user with an eligible target, one prediction per unrated item per
/// model, i.e. O(|users| · m) predictions (O(|users| · m · k) for a rank-k factor model), plus
/// O(|users| · m · |targets|) comparisons; memory O(threads · m). Users are processed in
/// parallel (rayon); the result is a count per target, so it is identical for any thread count.
///
/// Errors: no user or no target ([`MetricsError::Empty`]), `n = 0`, a user or target outside
/// `clean_data` ([`MetricsError::InvalidArgument`]), no target with an eligible user
/// ([`MetricsError::Empty`]), a NaN or infinite prediction
/// ([`MetricsError::NotFinitePrediction`], the one of the first such user in `users` order).
///
/// ```
/// use cnmf_metrics::hit_ratio;
/// use cnmf_ratings::{Ratings, RatingScale};
/// // 1 user who rated item 0; items 1, 2, 3 are candidates.
/// let clean = Ratings::from_external(
///     [("u", "a", 3.0), ("v", "b", 3.0), ("v", "c", 3.0), ("v", "d", 3.0)],
///     RatingScale::MOVIELENS,
/// ).unwrap();
/// let before = |_u: u32, i: u32| [0.0, 4.0, 3.0, 1.0][i as usize];
/// let after = |_u: u32, i: u32| [0.0, 4.0, 3.0, 5.0][i as usize];
/// let h = hit_ratio(&before, &after, &clean, &[0], &[3], 1).unwrap();
/// assert_eq!((h.before, h.after), (0.0, 1.0));
/// ```
pub fn hit_ratio<C, A>(
    clean_model: &C,
    attacked_model: &A,
    clean_data: &Ratings,
    users: &[u32],
    targets: &[u32],
    n: usize,
) -> Result<HitRatio, MetricsError>
where
    C: Predictor + Sync + ?Sized,
    A: Predictor + Sync + ?Sized,
{
    check_arguments(clean_data, users, targets, n)?;
    let per_user: Vec<Result<UserHits, MetricsError>> = users
        .par_iter()
        .map_init(Vec::new, |scores, &u| {
            user_hits(
                clean_model,
                attacked_model,
                clean_data,
                u,
                targets,
                n,
                scores,
            )
        })
        .collect();
    let per_target = tally(targets, per_user)?;
    let (before, after) = mean_ratios(&per_target)?;
    Ok(HitRatio {
        n,
        users: users.len(),
        per_target,
        before,
        after,
    })
}

/// The argument checks of [`hit_ratio`]: the users, then the targets, then `n`.
fn check_arguments(
    clean_data: &Ratings,
    users: &[u32],
    targets: &[u32],
    n: usize,
) -> Result<(), MetricsError> {
    check_users(clean_data, users, "hit ratio: users")?;
    check_targets(clean_data, targets)?;
    if n == 0 {
        return Err(MetricsError::InvalidArgument {
            name: "n",
            reason: "the top-N list must hold at least 1 item".into(),
        });
    }
    Ok(())
}

/// Each target's hits summed over the users; the error of the first failing user in `users`
/// order, so the error does not depend on the thread count.
fn tally(
    targets: &[u32],
    per_user: Vec<Result<UserHits, MetricsError>>,
) -> Result<Vec<TargetHits>, MetricsError> {
    let mut per_target: Vec<TargetHits> = targets
        .iter()
        .map(|&target| TargetHits {
            target,
            eligible_users: 0,
            hits_before: 0,
            hits_after: 0,
        })
        .collect();
    for result in per_user {
        for (hits, flags) in per_target.iter_mut().zip(result?) {
            if let Some((before, after)) = flags {
                hits.eligible_users += 1;
                hits.hits_before += usize::from(before);
                hits.hits_after += usize::from(after);
            }
        }
    }
    Ok(per_target)
}

/// The mean hit ratios (before, after) over the targets with at least one eligible user.
fn mean_ratios(per_target: &[TargetHits]) -> Result<(f64, f64), MetricsError> {
    let defined: Vec<&TargetHits> = per_target.iter().filter(|h| h.eligible_users > 0).collect();
    if defined.is_empty() {
        return Err(MetricsError::Empty {
            what: "hit ratio: every evaluated user had rated every target",
        });
    }
    let mean = |f: fn(&TargetHits) -> Option<f64>| {
        defined.iter().filter_map(|h| f(h)).sum::<f64>() / defined.len() as f64
    };
    Ok((mean(TargetHits::before), mean(TargetHits::after)))
}

/// One user's hits, per target: `None` when the user had rated the target (not eligible), else
/// whether it is a hit before and after the attack.
type UserHits = Vec<Option<(bool, bool)>>;

/// One user's hits, per target. `scores` is a reusable buffer of (item, clean, attacked).
fn user_hits<C, A>(
    clean_model: &C,
    attacked_model: &A,
    clean_data: &Ratings,
    u: u32,
    targets: &[u32],
    n: usize,
    scores: &mut Vec<(u32, f64, f64)>,
) -> Result<UserHits, MetricsError>
where
    C: Predictor + ?Sized,
    A: Predictor + ?Sized,
{
    let (rated, _) = clean_data.user(u);
    let eligible: Vec<bool> = targets
        .iter()
        .map(|t| rated.binary_search(t).is_err())
        .collect();
    if !eligible.iter().any(|&e| e) {
        return Ok(vec![None; targets.len()]);
    }
    scores.clear();
    let mut next_rated = rated.iter().peekable();
    for item in 0..clean_data.n_items() as u32 {
        if next_rated.peek() == Some(&&item) {
            next_rated.next();
            continue;
        }
        let before = predict_checked(clean_model, "clean model", u, item)?;
        let after = predict_checked(attacked_model, "attacked model", u, item)?;
        scores.push((item, before, after));
    }
    // Candidates are ascending by item, so each target's scores are found by binary search.
    let target_scores: Vec<Option<(f64, f64)>> = targets
        .iter()
        .zip(&eligible)
        .map(|(&t, &e)| {
            e.then(|| {
                let p = scores
                    .binary_search_by_key(&t, |s| s.0)
                    .expect("an eligible target is a candidate");
                (scores[p].1, scores[p].2)
            })
        })
        .collect();
    let mut above: Vec<(usize, usize)> = vec![(0, 0); targets.len()];
    for &(item, before, after) in scores.iter() {
        for ((&t, score), count) in targets.iter().zip(&target_scores).zip(&mut above) {
            if let Some((tb, ta)) = *score {
                let wins = |s: f64, ts: f64| s > ts || (s == ts && item < t);
                count.0 += usize::from(wins(before, tb));
                count.1 += usize::from(wins(after, ta));
            }
        }
    }
    Ok(target_scores
        .iter()
        .zip(&above)
        .map(|(score, &(b, a))| score.map(|_| (b < n, a < n)))
        .collect())
}

/// A uniform sample of `k` distinct users from `users` (all of them, in the given order, when
/// `k >= users.len()`), ascending; deterministic for `seed` (ChaCha8). Used to bound the cost of
/// [`hit_ratio`] on large data.
///
/// ```
/// use cnmf_metrics::sample_users;
/// let s = sample_users(&[1, 3, 5, 7, 9], 2, 42);
/// assert_eq!(s.len(), 2);
/// assert_eq!(s, sample_users(&[1, 3, 5, 7, 9], 2, 42));
/// ```
pub fn sample_users(users: &[u32], k: usize, seed: u64) -> Vec<u32> {
    if k >= users.len() {
        return users.to_vec();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen: Vec<u32> = rand::seq::index::sample(&mut rng, users.len(), k)
        .into_iter()
        .map(|p| users[p])
        .collect();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnmf_ratings::RatingScale;

    /// 3 users, 5 items. User 0 rated item 0; user 1 rated items 0 and 4; user 2 rated item 4.
    fn clean() -> Ratings {
        Ratings::from_external(
            [
                ("0", "i0", 4.0),
                ("1", "i0", 4.0),
                ("1", "i1", 1.0),
                ("1", "i2", 1.0),
                ("1", "i3", 1.0),
                ("1", "i4", 2.0),
                ("2", "i4", 5.0),
            ],
            RatingScale::MOVIELENS,
        )
        .unwrap()
    }

    #[test]
    fn hand_computed_hits() {
        let data = clean();
        // Clean scores by item: 5, 4, 3, 2, 1 for everyone. Attacked: item 3 jumps to 4.5.
        let before = |_u: u32, i: u32| 5.0 - f64::from(i);
        let after = |_u: u32, i: u32| if i == 3 { 4.5 } else { 5.0 - f64::from(i) };
        // Target 3 at N = 2. User 0 (candidates 1..4): before, items 1 and 2 rank above 3 ->
        // rank 2, miss; after, 4.5 beats 4 and 3 -> rank 0, hit. User 1 rated every item, the
        // target included: not eligible. User 2
        // (candidates 0..3): before, items 0, 1, 2 above -> miss; after, only item 0 (5.0)
        // above -> rank 1, hit.
        let h = hit_ratio(&before, &after, &data, &[0, 1, 2], &[3], 2).unwrap();
        assert_eq!(
            h.per_target[0],
            TargetHits {
                target: 3,
                eligible_users: 2,
                hits_before: 0,
                hits_after: 2
            }
        );
        assert_eq!((h.before, h.after, h.users, h.n), (0.0, 1.0, 3, 2));

        // Target 4 is rated by users 1 and 2; for user 0 it ranks last of 4 (3 above): a hit
        // only at N = 4. Target 2 for user 0: items 1 above before (1 item) -> hit at N = 2;
        // after, items 1 and 3 above -> miss; for user 2: items 0 and 1 above -> miss before,
        // and items 0, 1, 3 above after -> miss.
        let h = hit_ratio(&before, &after, &data, &[0, 1, 2], &[4, 2], 2).unwrap();
        assert_eq!(h.per_target[0].eligible_users, 1);
        assert_eq!(
            (h.per_target[0].hits_before, h.per_target[0].hits_after),
            (0, 0)
        );
        assert_eq!(h.per_target[1].eligible_users, 2);
        assert_eq!(
            (h.per_target[1].hits_before, h.per_target[1].hits_after),
            (1, 0)
        );
        assert_eq!(h.before, (0.0 + 0.5) / 2.0);
        assert_eq!(h.after, 0.0);
        let h4 = hit_ratio(&before, &after, &data, &[0], &[4], 4).unwrap();
        assert_eq!(h4.per_target[0].hits_before, 1);
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let data = clean();
        let flat = |_u: u32, _i: u32| 3.0;
        // User 0's candidates 1..4 all tie: target 2 has one lower-index candidate (1) above it.
        let h = hit_ratio(&flat, &flat, &data, &[0], &[2], 1).unwrap();
        assert_eq!(h.per_target[0].hits_before, 0);
        let h = hit_ratio(&flat, &flat, &data, &[0], &[2], 2).unwrap();
        assert_eq!(h.per_target[0].hits_before, 1);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let data = clean();
        let f = |_: u32, _: u32| 3.0;
        assert!(matches!(
            hit_ratio(&f, &f, &data, &[], &[1], 1),
            Err(MetricsError::Empty { .. })
        ));
        assert!(matches!(
            hit_ratio(&f, &f, &data, &[0], &[], 1),
            Err(MetricsError::Empty { .. })
        ));
        assert!(matches!(
            hit_ratio(&f, &f, &data, &[0], &[1], 0),
            Err(MetricsError::InvalidArgument { name: "n", .. })
        ));
        assert!(matches!(
            hit_ratio(&f, &f, &data, &[7], &[1], 1),
            Err(MetricsError::InvalidArgument { name: "users", .. })
        ));
        assert!(matches!(
            hit_ratio(&f, &f, &data, &[0], &[5], 1),
            Err(MetricsError::InvalidArgument {
                name: "targets",
                ..
            })
        ));
        // Every evaluated user rated target 0.
        assert!(matches!(
            hit_ratio(&f, &f, &data, &[0, 1], &[0], 1),
            Err(MetricsError::Empty { .. })
        ));
        let inf = |u: u32, i: u32| if u == 2 && i == 1 { f64::INFINITY } else { 3.0 };
        assert!(matches!(
            hit_ratio(&f, &inf, &data, &[0, 2], &[3], 1),
            Err(MetricsError::NotFinitePrediction {
                model: "attacked model",
                user: 2,
                item: 1,
                ..
            })
        ));
    }

    #[test]
    fn same_result_on_one_thread_and_many() {
        let data = clean();
        let before = |u: u32, i: u32| f64::from((u * 7 + i * 3) % 5);
        let after = |u: u32, i: u32| f64::from((u * 5 + i * 2) % 4);
        let many = hit_ratio(&before, &after, &data, &[0, 1, 2], &[1, 2, 3], 2).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool
            .install(|| hit_ratio(&before, &after, &data, &[0, 1, 2], &[1, 2, 3], 2))
            .unwrap();
        assert_eq!(many, one);
    }

    #[test]
    fn samples_are_distinct_and_seeded() {
        let users: Vec<u32> = (0..100).collect();
        let s = sample_users(&users, 10, 3);
        assert_eq!(s.len(), 10);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, sample_users(&users, 10, 3));
        assert_ne!(s, sample_users(&users, 10, 4));
        assert_eq!(sample_users(&users[..5], 10, 3), &users[..5]);
    }
}
