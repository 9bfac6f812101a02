//! Property tests: each metric agrees with a direct, obviously correct computation on random
//! small instances.

use std::collections::HashSet;
use std::sync::Arc;

use cnmf_metrics::{
    entry_detection, hit_ratio, prediction_shift, user_detection, Detection, MetricsError,
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
