//! Checks of an attacked data set against its input and ground truth, shared by the tests.

#![allow(dead_code)]

use std::sync::Arc;

use cnmf_attacks::{AttackKind, Attacked};
use cnmf_ratings::{RatingScale, Ratings, Triple};

/// Made-up ratings: user u rates item i when (u * 7 + i * 3) % 5 != 0, value 1 + (u + 2i) % 5.
pub fn made_up(n_users: usize, n_items: usize) -> Ratings {
    let mut triples = Vec::new();
    for u in 0..n_users as u32 {
        for i in 0..n_items as u32 {
            if (u * 7 + i * 3) % 5 != 0 {
                triples.push(Triple::new(u, i, f64::from(1 + (u + 2 * i) % 5)));
            }
        }
    }
    from_triples(n_users, n_items, RatingScale::MOVIELENS, &triples)
}

/// Ratings over sequential id maps (`"0"`, `"1"`, ...).
pub fn from_triples(n_users: usize, n_items: usize, scale: RatingScale, t: &[Triple]) -> Ratings {
    Ratings::from_triples(
        Arc::new(cnmf_ratings::IdMap::sequential(n_users)),
        Arc::new(cnmf_ratings::IdMap::sequential(n_items)),
        scale,
        t,
        cnmf_ratings::DuplicatePolicy::Error,
    )
    .unwrap()
}

/// Every invariant the crate promises, checked from first principles against the input.
/// Panics with a message naming the broken invariant.
pub fn check_attacked(data: &Ratings, out: &Attacked, rating_step: f64) {
    let truth = &out.truth;
    let plan = truth.plan();
    let attacked = &out.ratings;
    let n = data.n_users();
    assert_eq!(truth.n_genuine_users(), n);
    assert!(
        Arc::ptr_eq(attacked.items_arc(), data.items_arc()),
        "item map must be shared"
    );
    assert_eq!(attacked.scale(), data.scale());
    let injected = plan.kind.injects_users();
    let expected_users = n + if injected { plan.adversaries } else { 0 };
    assert_eq!(attacked.n_users(), expected_users, "user count");
    for u in 0..n as u32 {
        assert_eq!(
            attacked.users().external(u),
            data.users().external(u),
            "genuine ids"
        );
    }
    // Synthetic ids are fresh.
    for u in n as u32..attacked.n_users() as u32 {
        assert!(data.users().index(attacked.users().external(u)).is_none());
    }

    // Adversaries: exact count, right population.
    let adv = truth.adversaries();
    assert!(
        adv.windows(2).all(|w| w[0] < w[1]),
        "adversaries sorted, distinct"
    );
    match plan.kind {
        AttackKind::RandomNoise { .. } => assert!(adv.is_empty()),
        AttackKind::Informed | AttackKind::Adaptive { .. } => {
            assert_eq!(adv.len(), plan.adversaries);
            for &u in adv {
                assert!(
                    (u as usize) < n && data.user_count(u) > 0,
                    "converted user {u}"
                );
            }
        }
        _ => {
            let expect: Vec<u32> = (n as u32..(n + plan.adversaries) as u32).collect();
            assert_eq!(adv, &expect[..]);
        }
    }

    // Every attacked rating is either unchanged or listed.
    let mut listed = 0;
    for t in attacked.iter() {
        let before = if (t.user as usize) < n {
            data.get(t.user, t.item)
        } else {
            None
        };
        match truth.entry(t.user, t.item) {
            Some(e) => {
                listed += 1;
                assert_eq!(e.value, t.value, "entry value");
                assert_eq!(
                    e.original, before,
                    "entry original of ({}, {})",
                    t.user, t.item
                );
            }
            None => assert_eq!(
                Some(t.value),
                before,
                "unlisted change at ({}, {})",
                t.user,
                t.item
            ),
        }
    }
    assert_eq!(
        listed,
        truth.entries().len(),
        "every listed entry is in the data"
    );
    // Nothing removed.
    for t in data.iter() {
        assert!(attacked.get(t.user, t.item).is_some(), "rating removed");
    }
    // Genuine users are untouched except for noise flips.
    for u in 0..n as u32 {
        if truth.is_adversary(u) {
            continue;
        }
        let (items, values) = attacked.user(u);
        let (items0, values0) = data.user(u);
        assert_eq!(items, items0, "genuine user {u}'s items");
        for (k, (&i, &v)) in items.iter().zip(values).enumerate() {
            if truth.entry(u, i).is_none() {
                assert_eq!(v, values0[k]);
            } else {
                assert!(matches!(plan.kind, AttackKind::RandomNoise { .. }));
            }
        }
    }

    let scale = data.scale();
    let on_grid = |v: f64| {
        let k = (v - scale.min()) / rating_step;
        scale.contains(v) && ((k - k.round()).abs() < 1e-9 || v == scale.max())
    };
    let targets = truth.targets();
    assert_eq!(targets, &plan.targets[..]);
    match plan.kind {
        AttackKind::RandomNoise { .. } => {
            assert!(targets.is_empty());
            let middle = 0.5 * (scale.min() + scale.max());
            for e in truth.entries() {
                let o = e.original.expect("a flip has an original");
                let flipped = if o <= middle {
                    scale.max()
                } else {
                    scale.min()
                };
                assert_eq!(e.value, flipped);
                assert_ne!(e.value, o, "a flip changes the value");
            }
            // The flipped count is the number of differing ratings.
            let differing = data
                .iter()
                .filter(|t| attacked.get(t.user, t.item) != Some(t.value))
                .count();
            assert_eq!(differing, truth.entries().len());
        }
        AttackKind::Adaptive { .. } => {
            // At most one entry per adversary and target (a target with no grid value inside
            // the threshold is left alone), each on the grid; other ratings are kept.
            assert!(truth.entries().len() <= adv.len() * targets.len());
            for e in truth.entries() {
                assert!(truth.is_adversary(e.user) && targets.contains(&e.item));
                assert!(on_grid(e.value), "adaptive rating {} off the grid", e.value);
            }
            for &u in adv {
                for (&i, &v) in data.user(u).0.iter().zip(data.user(u).1) {
                    if truth.entry(u, i).is_none() {
                        assert_eq!(attacked.get(u, i), Some(v));
                    }
                }
            }
        }
        AttackKind::Informed => {
            assert_eq!(truth.entries().len(), adv.len() * targets.len());
            for &u in adv {
                for &t in targets {
                    assert_eq!(attacked.get(u, t), Some(plan.target_value));
                    assert!(truth.entry(u, t).is_some());
                }
                // The adversary keeps all its other ratings.
                for (&i, &v) in data.user(u).0.iter().zip(data.user(u).1) {
                    if !targets.contains(&i) {
                        assert_eq!(attacked.get(u, i), Some(v));
                    }
                }
            }
        }
        _ => {
            assert!(!targets.is_empty());
            let rated_targets = if plan.kind == AttackKind::NullControl {
                0
            } else {
                targets.len()
            };
            let len = rated_targets + plan.filler;
            assert_eq!(truth.entries().len(), adv.len() * len);
            for &u in adv {
                let (items, values) = attacked.user(u);
                assert_eq!(items.len(), len, "profile length of {u}");
                for &t in targets {
                    let expect = (rated_targets > 0).then_some(plan.target_value);
                    assert_eq!(attacked.get(u, t), expect, "target {t} of {u}");
                }
                for &p in &plan.popular {
                    assert_eq!(attacked.get(u, p), Some(scale.max()), "popular item {p}");
                }
                for (&i, &v) in items.iter().zip(values) {
                    assert!(truth.entry(u, i).unwrap().is_injected());
                    if !targets.contains(&i) && !plan.popular.contains(&i) {
                        assert!(on_grid(v), "filler rating {v} off the grid");
                    }
                }
            }
        }
    }
    // The CSR mask agrees with the entries.
    let mask = truth.entry_mask(attacked);
    assert_eq!(mask.len(), attacked.nnz());
    for (t, &flag) in attacked.iter().zip(&mask) {
        assert_eq!(
            flag,
            truth.entry(t.user, t.item).is_some(),
            "mask at ({}, {})",
            t.user,
            t.item
        );
    }
}
