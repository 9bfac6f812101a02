//! Property tests: on random small data and random specs, a generation succeeds exactly when the
//! spec fits the data, keeps the genuine data intact and produces exactly the requested sizes.

use crate::common;

use cnmf_attacks::{
    attack, AttackKind, AttackSize, AttackSpec, Direction, FillerSize, TargetChoice,
};
use cnmf_ratings::{RatingScale, Ratings, Triple};
use common::{check_attacked, from_triples};
use proptest::prelude::*;

fn data_strategy() -> impl Strategy<Value = Ratings> {
    (1usize..25, 2usize..15)
        .prop_flat_map(|(n, m)| {
            (
                Just(n),
                Just(m),
                proptest::collection::vec(proptest::option::weighted(0.4, 1u8..=5), n * m),
            )
        })
        .prop_filter_map("at least one rating", |(n, m, cells)| {
            let t: Vec<Triple> = cells
                .iter()
                .enumerate()
                .filter_map(|(k, c)| {
                    c.map(|v| Triple::new((k / m) as u32, (k % m) as u32, f64::from(v)))
                })
                .collect();
            (!t.is_empty()).then(|| from_triples(n, m, RatingScale::MOVIELENS, &t))
        })
}

fn kind_strategy() -> impl Strategy<Value = AttackKind> {
    prop_oneof![
        (0.0f64..=1.0).prop_map(|probability| AttackKind::RandomNoise { probability }),
        Just(AttackKind::LowKnowledge),
        Just(AttackKind::Informed),
        Just(AttackKind::Average),
        (1usize..5).prop_map(|popular| AttackKind::Bandwagon { popular }),
        Just(AttackKind::NullControl),
    ]
}

#[derive(Debug, Clone)]
enum Targets {
    Indices(Vec<u32>),
    Drawn { count: usize, min_ratings: usize },
}

fn spec_strategy() -> impl Strategy<Value = (AttackKind, bool, AttackSize, usize, Targets, u64)> {
    (
        kind_strategy(),
        any::<bool>(),
        prop_oneof![
            (1usize..12).prop_map(AttackSize::Count),
            (0.01f64..=1.0).prop_map(AttackSize::Fraction),
        ],
        0usize..16,
        prop_oneof![
            proptest::collection::btree_set(0u32..15, 1..4)
                .prop_map(|s| Targets::Indices(s.into_iter().collect())),
            (1usize..4, 0usize..6)
                .prop_map(|(count, min_ratings)| Targets::Drawn { count, min_ratings }),
        ],
        any::<u64>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn generators_keep_genuine_data_and_sizes(
        data in data_strategy(),
        (kind, push, size, filler, targets, seed) in spec_strategy(),
    ) {
        let (n, m) = (data.n_users(), data.n_items());
        // Keep explicit indices inside the catalogue (out-of-range targets have their own test).
        let targets = match targets {
            Targets::Indices(ix) => {
                let ix: Vec<u32> = ix.into_iter().filter(|&i| (i as usize) < m).collect();
                if ix.is_empty() { Targets::Indices(vec![0]) } else { Targets::Indices(ix) }
            }
            t => t,
        };
        let choice = match &targets {
            Targets::Indices(ix) => TargetChoice::Indices(ix.clone()),
            Targets::Drawn { count, min_ratings } => {
                TargetChoice::Drawn { count: *count, min_ratings: *min_ratings }
            }
        };
        let spec = AttackSpec::new(kind)
            .direction(if push { Direction::Push } else { Direction::Nuke })
            .size(size)
            .filler(FillerSize::Count(filler))
            .targets(choice)
            .seed(seed);
        let checked = spec.clone().check();

        // What should happen, worked out independently of the crate.
        let active = (0..n as u32).filter(|&u| data.user_count(u) > 0).count();
        let a = match size {
            AttackSize::Count(c) => c,
            AttackSize::Fraction(f) => (f * n as f64).round() as usize,
        };
        let (n_targets, eligible) = match &targets {
            Targets::Indices(ix) => (ix.len(), ix.len()),
            Targets::Drawn { count, min_ratings } => (
                *count,
                (0..m as u32).filter(|&i| data.item_count(i) >= *min_ratings).count(),
            ),
        };
        let popular = match kind { AttackKind::Bandwagon { popular } => popular, _ => 0 };
        let fails_check = popular > filler;
        let fails_plan = kind.is_targeted()
            && (eligible < n_targets
                || a == 0
                || (kind == AttackKind::Informed && a > active)
                || (kind.injects_users() && filler > m - n_targets));

        if fails_check {
            prop_assert!(checked.is_err());
            return Ok(());
        }
        let result = checked.unwrap().generate(&data);
        prop_assert_eq!(result.is_err(), fails_plan, "{:?}", result.as_ref().err());
        let Ok(out) = result else { return Ok(()) };

        check_attacked(&data, &out, 1.0);
        let plan = out.truth.plan();
        prop_assert_eq!(plan.targets.len(), if kind.is_targeted() { n_targets } else { 0 });
        if kind.is_targeted() {
            prop_assert_eq!(out.truth.adversaries().len(), a);
            let target_value = if push { 5.0 } else { 1.0 };
            prop_assert_eq!(plan.target_value, target_value);
        }
        if kind.injects_users() {
            prop_assert_eq!(plan.filler, filler);
            for u in out.truth.injected_users() {
                let rated_targets = if kind == AttackKind::NullControl { 0 } else { n_targets };
                prop_assert_eq!(out.ratings.user_count(u), rated_targets + filler);
            }
        }
        if let Targets::Drawn { min_ratings, .. } = targets {
            for &t in &plan.targets {
                prop_assert!(data.item_count(t) >= min_ratings);
            }
        }
        // Same spec, same bits.
        let again = attack(&data, &spec).unwrap();
        prop_assert_eq!(&again.truth, &out.truth);
        prop_assert_eq!(again.ratings.triples(), out.ratings.triples());
    }
}
