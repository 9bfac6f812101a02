//! Detection quality of corruption flags against an attack's ground truth.

use cnmf_ratings::Ratings;
use serde::{Deserialize, Serialize};

use crate::MetricsError;

/// Precision, recall and F1 of a set of flags against a set of positives.
///
/// Undefined rates are `None`, never NaN: precision when nothing is flagged, recall when there
/// is no positive. F1 is `2 tp / (2 tp + fp + fn)`, the harmonic mean of precision and recall
/// where both are defined; it is defined (and 0) when nothing is flagged but positives exist,
/// or when positives are absent but something is flagged, and `None` only when there are
/// neither flags nor positives.
///
/// ```
/// use cnmf_metrics::Detection;
/// let d = Detection::from_counts(3, 1, 2);
/// assert_eq!(d.precision, Some(0.75));
/// assert_eq!(d.recall, Some(0.6));
/// assert_eq!(d.f1, Some(6.0 / 9.0));
/// let none = Detection::from_counts(0, 0, 4);
/// assert_eq!((none.precision, none.recall, none.f1), (None, Some(0.0), Some(0.0)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Flagged and positive.
    pub true_positives: usize,
    /// Flagged but not positive.
    pub false_positives: usize,
    /// Positive but not flagged.
    pub false_negatives: usize,
    /// `tp / (tp + fp)`; `None` when nothing is flagged.
    pub precision: Option<f64>,
    /// `tp / (tp + fn)`; `None` when there is no positive.
    pub recall: Option<f64>,
    /// `2 tp / (2 tp + fp + fn)`; `None` when there are neither flags nor positives.
    pub f1: Option<f64>,
}

impl Detection {
    /// The rates of the given counts.
    pub fn from_counts(
        true_positives: usize,
        false_positives: usize,
        false_negatives: usize,
    ) -> Self {
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        Detection {
            true_positives,
            false_positives,
            false_negatives,
            precision: ratio(true_positives, true_positives + false_positives),
            recall: ratio(true_positives, true_positives + false_negatives),
            f1: ratio(
                2 * true_positives,
                2 * true_positives + false_positives + false_negatives,
            ),
        }
    }

    /// Number flagged, `tp + fp`.
    pub fn flagged(&self) -> usize {
        self.true_positives + self.false_positives
    }

    /// Number of positives, `tp + fn`.
    pub fn positives(&self) -> usize {
        self.true_positives + self.false_negatives
    }
}

fn sorted_set<T: Ord + Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Counts of a flagged set against a positive set (both sorted, distinct).
fn compare<T: Ord>(flagged: &[T], positives: &[T]) -> Detection {
    let (mut i, mut j, mut tp) = (0, 0, 0);
    while i < flagged.len() && j < positives.len() {
        match flagged[i].cmp(&positives[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                tp += 1;
                i += 1;
                j += 1;
            }
        }
    }
    Detection::from_counts(tp, flagged.len() - tp, positives.len() - tp)
}

/// Entry-level detection: flagged `(user, item)` pairs against the injected or changed entries.
/// Both are sets: repeated pairs count once. Cost O(k log k) in the number of pairs.
///
/// ```
/// use cnmf_metrics::entry_detection;
/// let flagged = [(0, 1), (2, 3), (2, 3)];
/// let injected = [(2, 3), (4, 4)];
/// let d = entry_detection(flagged, injected);
/// assert_eq!((d.true_positives, d.false_positives, d.false_negatives), (1, 1, 1));
/// ```
pub fn entry_detection(
    flagged: impl IntoIterator<Item = (u32, u32)>,
    positives: impl IntoIterator<Item = (u32, u32)>,
) -> Detection {
    compare(&sorted_set(flagged), &sorted_set(positives))
}

/// The `(user, item)` pairs whose flag is set, for flags stored one per rating of `data` in CSR
/// order (the engine's corruption flags Z).
///
/// Errors: `flags.len() != data.nnz()` ([`MetricsError::LengthMismatch`]).
pub fn flagged_entries(data: &Ratings, flags: &[bool]) -> Result<Vec<(u32, u32)>, MetricsError> {
    if flags.len() != data.nnz() {
        return Err(MetricsError::LengthMismatch {
            what: "flagged entries: flags and ratings",
            left: flags.len(),
            right: data.nnz(),
        });
    }
    Ok(data
        .iter()
        .zip(flags)
        .filter(|(_, &f)| f)
        .map(|(t, _)| (t.user, t.item))
        .collect())
}

/// User-level detection: a user of `data` is flagged when at least `min_share` of their ratings
/// are flagged (`flagged / ratings >= min_share`); positives are the `adversaries`. A user with
/// no rating is never flagged. Repeated pairs or adversaries count once.
///
/// Errors: `min_share` outside (0, 1], a flagged pair that is not a rating of `data`, an
/// adversary outside `data` ([`MetricsError::InvalidArgument`]).
///
/// ```
/// use cnmf_metrics::user_detection;
/// use cnmf_ratings::{Ratings, RatingScale};
/// let data = Ratings::from_external(
///     [("a", "x", 1.0), ("a", "y", 5.0), ("b", "x", 4.0)],
///     RatingScale::MOVIELENS,
/// ).unwrap();
/// // Half of user 0's ratings are flagged: flagged at a share of 0.5, not at 0.6.
/// let d = user_detection(&data, [(0, 0)], &[0], 0.5).unwrap();
/// assert_eq!(d.recall, Some(1.0));
/// let d = user_detection(&data, [(0, 0)], &[0], 0.6).unwrap();
/// assert_eq!((d.recall, d.precision), (Some(0.0), None));
/// ```
pub fn user_detection(
    data: &Ratings,
    flagged: impl IntoIterator<Item = (u32, u32)>,
    adversaries: &[u32],
    min_share: f64,
) -> Result<Detection, MetricsError> {
    if !(min_share > 0.0 && min_share <= 1.0) {
        return Err(MetricsError::InvalidArgument {
            name: "min_share",
            reason: format!("share of flagged ratings {min_share} is not in (0, 1]"),
        });
    }
    let n = data.n_users();
    if let Some(&u) = adversaries.iter().find(|&&u| u as usize >= n) {
        return Err(MetricsError::InvalidArgument {
            name: "adversaries",
            reason: format!("user index {u} is outside the data's {n} users"),
        });
    }
    let mut counts = vec![0usize; n];
    for (u, i) in sorted_set(flagged) {
        if data.get(u, i).is_none() {
            return Err(MetricsError::InvalidArgument {
                name: "flagged",
                reason: format!("(user {u}, item {i}) is not a rating of the data"),
            });
        }
        counts[u as usize] += 1;
    }
    let flagged_users: Vec<u32> = (0..n as u32)
        .filter(|&u| {
            let total = data.user_count(u);
            // k / c rounds like the literal min_share does, so exact shares compare equal.
            total > 0 && counts[u as usize] as f64 / total as f64 >= min_share
        })
        .collect();
    Ok(compare(
        &flagged_users,
        &sorted_set(adversaries.iter().copied()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnmf_ratings::{RatingScale, Triple};

    #[test]
    fn rates_hand_computed() {
        let d = Detection::from_counts(2, 2, 0);
        assert_eq!(
            (d.precision, d.recall, d.f1),
            (Some(0.5), Some(1.0), Some(4.0 / 6.0))
        );
        assert_eq!((d.flagged(), d.positives()), (4, 2));
        // Nothing flagged and nothing to find: every rate is undefined.
        let e = Detection::from_counts(0, 0, 0);
        assert_eq!((e.precision, e.recall, e.f1), (None, None, None));
        // Flags but no positives: precision 0, recall undefined, F1 0.
        let f = Detection::from_counts(0, 3, 0);
        assert_eq!((f.precision, f.recall, f.f1), (Some(0.0), None, Some(0.0)));
    }

    #[test]
    fn entry_level() {
        let flagged = vec![(1, 1), (1, 2), (3, 0), (1, 1)];
        let positives = vec![(1, 2), (3, 0), (5, 5), (6, 0)];
        let d = entry_detection(flagged, positives);
        // tp: (1,2), (3,0); fp: (1,1); fn: (5,5), (6,0)
        assert_eq!(
            (d.true_positives, d.false_positives, d.false_negatives),
            (2, 1, 2)
        );
        assert_eq!(d.precision, Some(2.0 / 3.0));
        assert_eq!(d.recall, Some(0.5));
        assert_eq!(d.f1, Some(4.0 / 7.0));
    }

    fn data() -> Ratings {
        // User 0: 4 ratings, user 1: 2, user 2: 1, user 3: none (sequential ids).
        let t = [
            Triple::new(0, 0, 1.0),
            Triple::new(0, 1, 1.0),
            Triple::new(0, 2, 1.0),
            Triple::new(0, 3, 1.0),
            Triple::new(1, 0, 3.0),
            Triple::new(1, 1, 3.0),
            Triple::new(2, 2, 5.0),
        ];
        Ratings::from_triples(
            std::sync::Arc::new(cnmf_ratings::IdMap::sequential(4)),
            std::sync::Arc::new(cnmf_ratings::IdMap::sequential(4)),
            RatingScale::MOVIELENS,
            &t,
            cnmf_ratings::DuplicatePolicy::Error,
        )
        .unwrap()
    }

    #[test]
    fn user_level() {
        let data = data();
        let mut flags = vec![false; 7];
        // user 0: 3 of 4 flagged (0.75); user 1: 1 of 2 (0.5); user 2: 0 of 1.
        for p in [0, 1, 2, 4] {
            flags[p] = true;
        }
        let pairs = flagged_entries(&data, &flags).unwrap();
        assert_eq!(pairs, [(0, 0), (0, 1), (0, 2), (1, 0)]);
        // Adversaries 0, 2 and 3 (3 has no rating, so it can never be caught).
        let adv = [0, 2, 3];
        let d = user_detection(&data, pairs.iter().copied(), &adv, 0.5).unwrap();
        // flagged users: 0, 1 -> tp 1 (0), fp 1 (1), fn 2 (2, 3)
        assert_eq!(
            (d.true_positives, d.false_positives, d.false_negatives),
            (1, 1, 2)
        );
        let d = user_detection(&data, pairs.iter().copied(), &adv, 0.75).unwrap();
        assert_eq!(
            (d.true_positives, d.false_positives, d.false_negatives),
            (1, 0, 2)
        );
        let d = user_detection(&data, pairs.iter().copied(), &adv, 0.76).unwrap();
        assert_eq!(
            (d.true_positives, d.false_positives, d.false_negatives),
            (0, 0, 3)
        );
        assert_eq!(d.precision, None);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let data = data();
        assert!(matches!(
            flagged_entries(&data, &[true]),
            Err(MetricsError::LengthMismatch {
                left: 1,
                right: 7,
                ..
            })
        ));
        for share in [0.0, 1.5, f64::NAN] {
            assert!(matches!(
                user_detection(&data, [], &[0], share),
                Err(MetricsError::InvalidArgument {
                    name: "min_share",
                    ..
                })
            ));
        }
        assert!(matches!(
            user_detection(&data, [(2, 0)], &[0], 0.5),
            Err(MetricsError::InvalidArgument {
                name: "flagged",
                ..
            })
        ));
        assert!(matches!(
            user_detection(&data, [], &[4], 0.5),
            Err(MetricsError::InvalidArgument {
                name: "adversaries",
                ..
            })
        ));
    }
}
