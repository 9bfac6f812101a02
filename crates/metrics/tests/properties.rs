//! Property tests: each metric agrees with a direct, obviously correct computation on random
//! small instances.

use std::collections::HashSet;
use std::sync::Arc;

use cnmf_metrics::{
    entry_detection, hit_ratio, mean_ci, paired_difference, prediction_shift, user_detection,
    verdict, Claim, Detection, MetricsError, Verdict,
};
use cnmf_ratings::{DuplicatePolicy, IdMap, RatingScale, Ratings, Triple};
use proptest::prelude::*;

/// Random ratings (at least one) with random score tables for two models; scores are small
/// integers so that ties happen.
fn instance() -> impl Strategy<Value = (Ratings, Vec<f64>, Vec<f64>)> {
    (1usize..8, 2usize..10)
        .prop_flat_map(|(n, m)| {
            (
                Just(n),
                Just(m),
                proptest::collection::vec(proptest::option::weighted(0.4, 1u8..=5), n * m),
                proptest::collection::vec(-1i8..7, n * m),
                proptest::collection::vec(-1i8..7, n * m),
            )
        })
        .prop_filter_map("at least one rating", |(n, m, cells, a, b)| {
            let t: Vec<Triple> = cells
                .iter()
                .enumerate()
                .filter_map(|(k, c)| {
                    c.map(|v| Triple::new((k / m) as u32, (k % m) as u32, f64::from(v)))
                })
                .collect();
            if t.is_empty() {
                return None;
            }
            let r = Ratings::from_triples(
                Arc::new(IdMap::sequential(n)),
                Arc::new(IdMap::sequential(m)),
                RatingScale::MOVIELENS,
                &t,
                DuplicatePolicy::Error,
            )
            .unwrap();
            let to_f = |v: Vec<i8>| v.into_iter().map(f64::from).collect();
            Some((r, to_f(a), to_f(b)))
        })
}

/// Whether `target` is in `user`'s top `n` unrated items, by sorting.
fn brute_hit(data: &Ratings, scores: &[f64], user: u32, target: u32, n: usize) -> bool {
    let m = data.n_items();
    let mut candidates: Vec<u32> = (0..m as u32)
        .filter(|&i| data.get(user, i).is_none())
        .collect();
    candidates.sort_by(|&a, &b| {
        let (sa, sb) = (
            scores[user as usize * m + a as usize],
            scores[user as usize * m + b as usize],
        );
        sb.partial_cmp(&sa).unwrap().then(a.cmp(&b))
    });
    candidates.iter().take(n).any(|&i| i == target)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn hit_ratio_matches_sorting((data, before, after) in instance(), n in 1usize..6, t in 0u32..10) {
        let m = data.n_items();
        let target = t % m as u32;
        let users: Vec<u32> = (0..data.n_users() as u32).collect();
        let p0 = |u: u32, i: u32| before[u as usize * m + i as usize];
        let p1 = |u: u32, i: u32| after[u as usize * m + i as usize];
        let eligible: Vec<u32> = users.iter().copied().filter(|&u| data.get(u, target).is_none()).collect();
        match hit_ratio(&p0, &p1, &data, &users, &[target], n) {
            Err(MetricsError::Empty { .. }) => prop_assert!(eligible.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
            Ok(h) => {
                let hits = &h.per_target[0];
                prop_assert_eq!(hits.eligible_users, eligible.len());
                let b = eligible.iter().filter(|&&u| brute_hit(&data, &before, u, target, n)).count();
                let a = eligible.iter().filter(|&&u| brute_hit(&data, &after, u, target, n)).count();
                prop_assert_eq!((hits.hits_before, hits.hits_after), (b, a));
                prop_assert_eq!(h.before, b as f64 / eligible.len() as f64);
            }
        }
    }

    #[test]
    fn shift_matches_direct_sums((data, before, after) in instance(), t in 0u32..10) {
        let m = data.n_items();
        let target = t % m as u32;
        let users: Vec<u32> = (0..data.n_users() as u32).collect();
        let p0 = |u: u32, i: u32| before[u as usize * m + i as usize];
        let p1 = |u: u32, i: u32| after[u as usize * m + i as usize];
        let s = prediction_shift(&p0, &p1, &data, &users, target).unwrap();
        let d: Vec<f64> = users
            .iter()
            .map(|&u| p1(u, target).clamp(1.0, 5.0) - p0(u, target).clamp(1.0, 5.0))
            .collect();
        let maps = d.iter().map(|x| x.abs()).sum::<f64>() / d.len() as f64;
        prop_assert!((s.maps - maps).abs() < 1e-12);
        prop_assert!(s.maps + 1e-12 >= s.mean_shift.abs());
        let unrated: Vec<f64> = users
            .iter()
            .filter(|&&u| data.get(u, target).is_none())
            .map(|&u| d[u as usize].abs())
            .collect();
        prop_assert_eq!(s.n_unrated, unrated.len());
        match s.maps_unrated {
            None => prop_assert!(unrated.is_empty()),
            Some(x) => prop_assert!((x - unrated.iter().sum::<f64>() / unrated.len() as f64).abs() < 1e-12),
        }
    }

    #[test]
    fn detection_matches_sets(
        flagged in proptest::collection::vec((0u32..6, 0u32..6), 0..20),
        positives in proptest::collection::vec((0u32..6, 0u32..6), 0..20),
    ) {
        let d = entry_detection(flagged.iter().copied(), positives.iter().copied());
        let f: HashSet<_> = flagged.into_iter().collect();
        let p: HashSet<_> = positives.into_iter().collect();
        let tp = f.intersection(&p).count();
        prop_assert_eq!(d, Detection::from_counts(tp, f.len() - tp, p.len() - tp));
        for rate in [d.precision, d.recall, d.f1].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&rate));
        }
    }

    #[test]
    fn user_detection_matches_counting(
        (data, _, _) in instance(),
        picks in proptest::collection::vec(any::<bool>(), 0..80),
        adversaries in proptest::collection::vec(0u32..8, 0..5),
        share in 0.05f64..=1.0,
    ) {
        let triples = data.triples();
        let flagged: Vec<(u32, u32)> = triples
            .iter()
            .zip(picks.iter().chain(std::iter::repeat(&false)))
            .filter(|(_, &p)| p)
            .map(|(t, _)| (t.user, t.item))
            .collect();
        let adversaries: Vec<u32> =
            adversaries.into_iter().filter(|&u| (u as usize) < data.n_users()).collect();
        let d = user_detection(&data, flagged.iter().copied(), &adversaries, share).unwrap();
        let caught: HashSet<u32> = (0..data.n_users() as u32)
            .filter(|&u| {
                let total = data.user_count(u);
                let k = flagged.iter().filter(|p| p.0 == u).count();
                total > 0 && k as f64 / total as f64 >= share
            })
            .collect();
        let adv: HashSet<u32> = adversaries.into_iter().collect();
        let tp = caught.intersection(&adv).count();
        prop_assert_eq!(d, Detection::from_counts(tp, caught.len() - tp, adv.len() - tp));
    }
}

/// Paired samples of 2 to 12 values on a grid of quarters (so that ties and equal differences
/// happen).
fn pairs() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (2usize..12).prop_flat_map(|n| {
        let values = proptest::collection::vec((-40i32..40).prop_map(|v| f64::from(v) / 4.0), n);
        (values.clone(), values)
    })
}

proptest! {
    #[test]
    fn mean_interval_contains_the_mean_and_widens_with_level(
        (values, _) in pairs(),
        level in 0.5f64..0.99,
    ) {
        let ci = mean_ci(&values, level).unwrap();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        prop_assert!((ci.estimate - mean).abs() <= 1e-12);
        prop_assert!(ci.contains(ci.estimate));
        let wider = mean_ci(&values, (level + 1.0) / 2.0).unwrap();
        prop_assert!(wider.low <= ci.low && ci.high <= wider.high);
    }

    #[test]
    fn swapping_a_and_b_negates_the_difference_and_keeps_the_p_values((a, b) in pairs()) {
        let ab = paired_difference(&a, &b, 0.95).unwrap();
        let ba = paired_difference(&b, &a, 0.95).unwrap();
        prop_assert_eq!(ab.difference.estimate, -ba.difference.estimate);
        prop_assert!((ab.difference.low + ba.difference.high).abs() <= 1e-12);
        prop_assert!((ab.difference.high + ba.difference.low).abs() <= 1e-12);
        prop_assert_eq!(ab.effect_size.map(|e| -e), ba.effect_size);
        prop_assert_eq!(ab.p_value_t, ba.p_value_t);
        prop_assert_eq!(ab.p_value_sign_flip, ba.p_value_sign_flip);
        prop_assert!((0.0..=1.0).contains(&ab.p_value_t));
    }

    #[test]
    fn sign_flip_p_value_matches_enumeration((a, b) in pairs()) {
        let test = paired_difference(&a, &b, 0.95).unwrap();
        // differences are multiples of 1/4, so sums are exact and ties are exact
        let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let observed = d.iter().sum::<f64>().abs();
        let hits = (0u32..1 << d.len())
            .filter(|mask| {
                let sum: f64 = d
                    .iter()
                    .enumerate()
                    .map(|(j, x)| if mask >> j & 1 == 1 { -x } else { *x })
                    .sum();
                sum.abs() >= observed
            })
            .count();
        prop_assert_eq!(test.p_value_sign_flip, hits as f64 / f64::from(1u32 << d.len()));
    }

    #[test]
    fn a_claim_that_holds_holds_for_any_smaller_margin(
        (a, b) in pairs(),
        margin in -5.0f64..5.0,
        less in 0.0f64..5.0,
    ) {
        let test = paired_difference(&a, &b, 0.9).unwrap();
        for claim in [Claim::Lower, Claim::Higher] {
            if verdict(&test, margin, claim) == Verdict::Holds {
                prop_assert_eq!(verdict(&test, margin - less, claim), Verdict::Holds);
            }
            if verdict(&test, margin, claim) == Verdict::DoesNotHold {
                prop_assert_eq!(verdict(&test, margin + less, claim), Verdict::DoesNotHold);
            }
        }
    }
}

proptest! {
    /// Ranking metrics lie in [0, 1]; precision and recall count the hits in the first N
    /// directly; moving every relevant item to the front gives NDCG and AP of 1.
    #[test]
    fn ranking_metrics_bounded_and_ideal_lists_score_one(
        list in proptest::collection::hash_set(0u32..30, 0..15),
        relevant in proptest::collection::hash_set(0u32..30, 1..10),
        n in 1usize..12,
    ) {
        let list: Vec<u32> = list.into_iter().collect();
        let is_rel = |i: u32| relevant.contains(&i);
        let u = cnmf_metrics::user_ranking(&list, is_rel, relevant.len(), n).unwrap();
        let hits = list.iter().take(n).filter(|&&i| is_rel(i)).count() as f64;
        prop_assert!((u.precision - hits / n as f64).abs() < 1e-12);
        prop_assert!((u.recall - hits / relevant.len() as f64).abs() < 1e-12);
        for v in [u.ndcg, u.average_precision] {
            prop_assert!((0.0..=1.0 + 1e-12).contains(&v));
        }
        let mut ideal: Vec<u32> = relevant.iter().copied().collect();
        ideal.extend(list.iter().filter(|&&i| !is_rel(i)));
        let best = cnmf_metrics::user_ranking(&ideal, is_rel, relevant.len(), n).unwrap();
        prop_assert!((best.ndcg - 1.0).abs() < 1e-12 && (best.average_precision - 1.0).abs() < 1e-12);
        prop_assert!(best.ndcg >= u.ndcg - 1e-12 && best.average_precision >= u.average_precision - 1e-12);
    }
}
