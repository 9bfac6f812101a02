//! Hand-checked behaviour of every generator and every rejected spec.

use crate::common;

use cnmf_attacks::{
    attack, AttackError, AttackKind, AttackSize, AttackSpec, Direction, FillerSize, TargetChoice,
};
use cnmf_ratings::{RatingScale, Ratings, Triple};
use common::{check_attacked, from_triples, made_up};

fn ids(v: &[&str]) -> TargetChoice {
    TargetChoice::Items(v.iter().map(|s| s.to_string()).collect())
}

#[test]
fn noise_with_probability_one_flips_every_rating_by_the_rule() {
    let t: Vec<Triple> = (1..=5)
        .map(|v| Triple::new(v - 1, 0, f64::from(v)))
        .collect();
    let data = from_triples(5, 1, RatingScale::MOVIELENS, &t);
    let out = attack(&data, &AttackSpec::random_noise(1.0)).unwrap();
    // 1..3 -> 5 and 4..5 -> 1 (the paper's Model 2).
    let got: Vec<f64> = (0..5).map(|u| out.ratings.get(u, 0).unwrap()).collect();
    assert_eq!(got, [5.0, 5.0, 5.0, 1.0, 1.0]);
    assert_eq!(out.truth.entries().len(), 5);
    assert!(out.truth.adversaries().is_empty());
    assert!(out.truth.targets().is_empty());
    check_attacked(&data, &out, 1.0);

    let none = attack(&data, &AttackSpec::random_noise(0.0)).unwrap();
    assert!(none.truth.entries().is_empty());
    assert_eq!(none.ratings.triples(), data.triples());
}

#[test]
fn noise_on_a_half_star_scale_splits_at_the_middle() {
    // Middle of [0.5, 5] is 2.75: 2.5 goes up to 5, 3 goes down to 0.5.
    let scale = RatingScale::new(0.5, 5.0).unwrap();
    let t = [
        Triple::new(0, 0, 2.5),
        Triple::new(1, 0, 3.0),
        Triple::new(2, 0, 0.5),
    ];
    let data = from_triples(3, 1, scale, &t);
    let out = attack(&data, &AttackSpec::random_noise(1.0)).unwrap();
    let got: Vec<f64> = (0..3).map(|u| out.ratings.get(u, 0).unwrap()).collect();
    assert_eq!(got, [5.0, 0.5, 5.0]);
}

#[test]
fn noise_rate_is_about_the_probability() {
    let data = made_up(200, 50);
    let out = attack(&data, &AttackSpec::random_noise(0.1).seed(9)).unwrap();
    let rate = out.truth.entries().len() as f64 / data.nnz() as f64;
    // nnz = 8000: the binomial standard deviation of the rate is about 0.0034.
    assert!((rate - 0.1).abs() < 0.017, "flip rate {rate}");
    check_attacked(&data, &out, 1.0);
}

#[test]
fn informed_replaces_or_adds_the_target_rating() {
    // Users 0 and 1 rated the target "t" (5 and 1); user 2 did not.
    let data = Ratings::from_external(
        [
            ("0", "t", 5.0),
            ("0", "a", 4.0),
            ("1", "t", 1.0),
            ("1", "b", 2.0),
            ("2", "a", 3.0),
            ("2", "b", 5.0),
        ],
        RatingScale::MOVIELENS,
    )
    .unwrap();
    let t = data.items().index("t").unwrap();
    let spec = AttackSpec::informed()
        .size(AttackSize::Count(3))
        .targets(ids(&["t"]));
    let out = attack(&data, &spec).unwrap();
    assert_eq!(out.truth.adversaries(), &[0, 1, 2]);
    assert_eq!(out.ratings.n_users(), 3);
    assert_eq!(out.ratings.nnz(), 7);
    let originals: Vec<Option<f64>> = (0..3)
        .map(|u| out.truth.entry(u, t).unwrap().original)
        .collect();
    assert_eq!(originals, [Some(5.0), Some(1.0), None]);
    for u in 0..3 {
        assert_eq!(out.ratings.get(u, t), Some(1.0));
    }
    assert!(out.truth.genuine_users().is_empty());
    check_attacked(&data, &out, 1.0);

    let push = attack(&data, &spec.clone().direction(Direction::Push)).unwrap();
    assert_eq!(push.ratings.get(1, t), Some(5.0));
    check_attacked(&data, &push, 1.0);
}

#[test]
fn informed_converts_only_users_with_ratings() {
    // User "ghost" exists in the id map but has no rating.
    let users = std::sync::Arc::new(cnmf_ratings::IdMap::sequential(3));
    let items = std::sync::Arc::new(cnmf_ratings::IdMap::sequential(2));
    let t = [Triple::new(0, 0, 3.0), Triple::new(1, 1, 4.0)];
    let data = Ratings::from_triples(
        users,
        items,
        RatingScale::MOVIELENS,
        &t,
        cnmf_ratings::DuplicatePolicy::Error,
    )
    .unwrap();
    let spec = AttackSpec::informed().targets(TargetChoice::Indices(vec![0]));
    let out = attack(&data, &spec.clone().size(AttackSize::Count(2))).unwrap();
    assert_eq!(out.truth.adversaries(), &[0, 1]);
    let err = attack(&data, &spec.size(AttackSize::Count(3))).unwrap_err();
    assert!(
        matches!(
            err,
            AttackError::TooManyAdversaries {
                requested: 3,
                available: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn low_knowledge_profiles_have_the_paper_shape() {
    let data = made_up(40, 30);
    let spec = AttackSpec::low_knowledge()
        .size(AttackSize::Fraction(0.1))
        .targets(TargetChoice::Indices(vec![7]))
        .seed(5);
    let out = attack(&data, &spec).unwrap();
    // 10% of 40 users; 1 target + 19 filler each.
    assert_eq!(out.truth.adversaries().len(), 4);
    assert_eq!(out.ratings.nnz(), data.nnz() + 4 * 20);
    assert_eq!(out.ratings.users().external(40), "attacker-0");
    assert_eq!(out.ratings.users().external(43), "attacker-3");
    for u in 40..44 {
        assert_eq!(out.ratings.get(u, 7), Some(1.0));
        assert_eq!(out.ratings.user_count(u), 20);
    }
    assert_eq!(out.truth.injected_users(), 40..44);
    assert_eq!(out.truth.genuine_users(), (0..40).collect::<Vec<u32>>());
    check_attacked(&data, &out, 1.0);
}

#[test]
fn low_knowledge_filler_ratings_cover_the_scale() {
    let data = made_up(50, 40);
    let spec = AttackSpec::low_knowledge()
        .size(AttackSize::Count(50))
        .filler(FillerSize::Count(30))
        .targets(TargetChoice::Indices(vec![0]))
        .seed(2);
    let out = attack(&data, &spec).unwrap();
    let mut counts = [0usize; 5];
    for e in out.truth.entries().iter().filter(|e| e.item != 0) {
        counts[(e.value - 1.0) as usize] += 1;
    }
    // 1500 uniform draws on 5 values: 300 expected each, sd about 15.5.
    assert!(
        counts.iter().all(|&c| (220..=380).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn average_attack_follows_each_item_mean() {
    // Item i is rated i + 1 by everybody (sd 0), so the attack's filler rating of item i is
    // exactly i + 1; item 5 has no rating and falls back on the global N(3, sqrt(2)).
    let mut t = Vec::new();
    for u in 0..10 {
        for i in 0..5 {
            t.push(Triple::new(u, i, f64::from(i + 1)));
        }
    }
    let data = from_triples(10, 6, RatingScale::MOVIELENS, &t);
    let spec = AttackSpec::average()
        .size(AttackSize::Count(6))
        .filler(FillerSize::Count(3))
        .targets(TargetChoice::Indices(vec![4]))
        .direction(Direction::Push)
        .seed(11);
    let out = attack(&data, &spec).unwrap();
    for e in out.truth.entries() {
        match e.item {
            4 => assert_eq!(e.value, 5.0),
            5 => assert!(RatingScale::MOVIELENS.contains(e.value)),
            i => assert_eq!(e.value, f64::from(i + 1), "item {i}"),
        }
    }
    check_attacked(&data, &out, 1.0);
}

#[test]
fn bandwagon_rates_the_most_popular_items_at_the_top() {
    // Popularity: item 0 rated by 6 users, item 1 by 5, item 2 by 4, ...; all ratings are 3, so
    // the global sd is 0 and the random filler is rated exactly 3.
    let mut t = Vec::new();
    for i in 0..6u32 {
        for u in 0..(6 - i) {
            t.push(Triple::new(u, i, 3.0));
        }
    }
    let data = from_triples(6, 8, RatingScale::MOVIELENS, &t);
    // Target is item 1: the two most popular non-targets are items 0 and 2.
    let spec = AttackSpec::bandwagon(2)
        .size(AttackSize::Count(4))
        .filler(FillerSize::Count(4))
        .targets(TargetChoice::Indices(vec![1]))
        .seed(4);
    let out = attack(&data, &spec).unwrap();
    assert_eq!(out.truth.plan().popular, [0, 2]);
    for u in 6..10 {
        assert_eq!(out.ratings.get(u, 0), Some(5.0));
        assert_eq!(out.ratings.get(u, 2), Some(5.0));
        assert_eq!(out.ratings.get(u, 1), Some(1.0));
        let (items, values) = out.ratings.user(u);
        assert_eq!(items.len(), 5);
        for (&i, &v) in items.iter().zip(values) {
            if ![0, 1, 2].contains(&i) {
                assert_eq!(v, 3.0);
            }
        }
    }
    check_attacked(&data, &out, 1.0);
}

#[test]
fn filler_sizes_resolve_as_documented() {
    let data = made_up(20, 40); // 4/5 of the pairs are rated: 32 per user
    let plan = |f| {
        AttackSpec::low_knowledge()
            .size(AttackSize::Count(1))
            .filler(f)
            .targets(TargetChoice::Indices(vec![0]))
            .check()
            .unwrap()
            .plan(&data)
            .unwrap()
            .filler
    };
    assert_eq!(plan(FillerSize::Count(7)), 7);
    assert_eq!(plan(FillerSize::FractionOfItems(0.25)), 10);
    assert_eq!(data.nnz(), 640);
    assert_eq!(plan(FillerSize::AverageProfile(0.5)), 16);
}

#[test]
fn targets_are_drawn_by_the_documented_rules() {
    // Item i has i + 1 ratings (items 0..9, 10 users).
    let mut t = Vec::new();
    for i in 0..10u32 {
        for u in 0..=i {
            t.push(Triple::new(u, i, 4.0));
        }
    }
    let data = from_triples(10, 10, RatingScale::MOVIELENS, &t);
    let plan = |choice: TargetChoice, seed| {
        AttackSpec::low_knowledge()
            .size(AttackSize::Count(1))
            .filler(FillerSize::Count(2))
            .targets(choice)
            .seed(seed)
            .check()
            .unwrap()
            .plan(&data)
    };
    for seed in 0..20 {
        let drawn = plan(
            TargetChoice::Drawn {
                count: 2,
                min_ratings: 8,
            },
            seed,
        )
        .unwrap();
        assert_eq!(drawn.targets.len(), 2);
        assert!(drawn.targets.iter().all(|&i| i >= 7), "{:?}", drawn.targets);
        // The top 20% band of 10 items is ranks 8 and 9, i.e. items 8 and 9.
        let band = plan(
            TargetChoice::PopularityBand {
                count: 2,
                lower: 0.8,
                upper: 1.0,
            },
            seed,
        )
        .unwrap();
        assert_eq!(band.targets, [8, 9]);
    }
    let err = plan(
        TargetChoice::Drawn {
            count: 4,
            min_ratings: 8,
        },
        0,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            AttackError::NotEnoughEligibleTargets {
                requested: 4,
                eligible: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("at least 8 ratings"), "{err}");
    let err = plan(ids(&["nope"]), 0).unwrap_err();
    assert!(matches!(err, AttackError::UnknownTarget { .. }), "{err}");
    assert!(err.to_string().contains("\"nope\""));
    let err = plan(TargetChoice::Indices(vec![3, 10]), 0).unwrap_err();
    assert!(
        matches!(
            err,
            AttackError::TargetOutOfRange {
                index: 10,
                n_items: 10
            }
        ),
        "{err}"
    );
    let explicit = plan(ids(&["5", "2"]), 0).unwrap();
    assert_eq!(explicit.targets, [2, 5]);
}

#[test]
fn the_same_seed_draws_the_same_targets_for_every_kind_and_size() {
    let data = made_up(60, 40);
    let choice = TargetChoice::Drawn {
        count: 3,
        min_ratings: 10,
    };
    let targets = |spec: AttackSpec| {
        spec.targets(choice.clone())
            .filler(FillerSize::Count(5))
            .seed(77)
            .check()
            .unwrap()
            .plan(&data)
            .unwrap()
            .targets
    };
    let reference = targets(AttackSpec::low_knowledge());
    assert_eq!(
        targets(AttackSpec::informed().size(AttackSize::Count(9))),
        reference
    );
    assert_eq!(
        targets(AttackSpec::average().size(AttackSize::Fraction(0.5))),
        reference
    );
    assert_eq!(targets(AttackSpec::bandwagon(2)), reference);
}

#[test]
fn generation_is_deterministic_and_seed_dependent() {
    let data = made_up(50, 40);
    for kind in [
        AttackKind::RandomNoise { probability: 0.2 },
        AttackKind::LowKnowledge,
        AttackKind::Informed,
        AttackKind::Average,
        AttackKind::Bandwagon { popular: 3 },
    ] {
        let spec = AttackSpec::new(kind)
            .size(AttackSize::Count(10))
            .targets(TargetChoice::Drawn {
                count: 2,
                min_ratings: 1,
            })
            .seed(21);
        let a = attack(&data, &spec).unwrap();
        let b = attack(&data, &spec).unwrap();
        assert_eq!(a.truth, b.truth, "{kind:?}");
        assert_eq!(a.ratings.triples(), b.ratings.triples());
        let c = attack(&data, &spec.seed(22)).unwrap();
        assert_ne!(
            a.truth.entries(),
            c.truth.entries(),
            "{kind:?} ignores the seed"
        );
        check_attacked(&data, &a, 1.0);
    }
}

#[test]
fn bad_specs_are_rejected_before_generation() {
    let invalid = |spec: AttackSpec, name: &str| match spec.check() {
        Err(AttackError::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
        other => panic!("expected InvalidParameter {name}, got {other:?}"),
    };
    invalid(AttackSpec::random_noise(1.5), "probability");
    invalid(AttackSpec::random_noise(f64::NAN), "probability");
    invalid(AttackSpec::informed().size(AttackSize::Count(0)), "size");
    invalid(
        AttackSpec::informed().size(AttackSize::Fraction(0.0)),
        "size",
    );
    invalid(
        AttackSpec::informed().size(AttackSize::Fraction(1.01)),
        "size",
    );
    invalid(
        AttackSpec::informed().size(AttackSize::Fraction(f64::NAN)),
        "size",
    );
    invalid(
        AttackSpec::low_knowledge().filler(FillerSize::FractionOfItems(0.0)),
        "filler",
    );
    invalid(
        AttackSpec::low_knowledge().filler(FillerSize::AverageProfile(-1.0)),
        "filler",
    );
    invalid(
        AttackSpec::low_knowledge().targets(TargetChoice::Items(vec![])),
        "targets",
    );
    invalid(
        AttackSpec::low_knowledge().targets(TargetChoice::Drawn {
            count: 0,
            min_ratings: 1,
        }),
        "targets",
    );
    invalid(
        AttackSpec::low_knowledge().targets(TargetChoice::PopularityBand {
            count: 1,
            lower: 0.5,
            upper: 0.5,
        }),
        "targets",
    );
    invalid(AttackSpec::low_knowledge().rating_step(0.0), "rating_step");
    invalid(AttackSpec::low_knowledge().id_prefix(""), "id_prefix");
    invalid(AttackSpec::bandwagon(0), "popular");
    assert!(matches!(
        AttackSpec::bandwagon(5)
            .filler(FillerSize::Count(4))
            .check(),
        Err(AttackError::PopularExceedsFiller {
            popular: 5,
            filler: 4
        })
    ));
    assert!(matches!(
        AttackSpec::low_knowledge()
            .targets(ids(&["a", "b", "a"]))
            .check(),
        Err(AttackError::DuplicateTarget { .. })
    ));
    assert!(matches!(
        AttackSpec::low_knowledge()
            .targets(TargetChoice::Indices(vec![2, 2]))
            .check(),
        Err(AttackError::DuplicateTarget { .. })
    ));

    // Data-dependent checks.
    let data = made_up(10, 6);
    let on = |spec: AttackSpec| {
        attack(&data, &spec.targets(TargetChoice::Indices(vec![0])))
            .map(|_| ())
            .unwrap_err()
    };
    let e = on(AttackSpec::low_knowledge().size(AttackSize::Fraction(0.01)));
    assert!(
        matches!(e, AttackError::ZeroAdversaries { n_users: 10, .. }),
        "{e}"
    );
    let e = on(AttackSpec::informed().size(AttackSize::Count(11)));
    assert!(
        matches!(
            e,
            AttackError::TooManyAdversaries {
                requested: 11,
                available: 10,
                ..
            }
        ),
        "{e}"
    );
    let e = on(AttackSpec::low_knowledge()
        .size(AttackSize::Count(2))
        .filler(FillerSize::Count(6)));
    assert!(
        matches!(
            e,
            AttackError::FillerTooLarge {
                requested: 6,
                available: 5
            }
        ),
        "{e}"
    );
    let e = on(AttackSpec::bandwagon(3)
        .size(AttackSize::Count(2))
        .filler(FillerSize::FractionOfItems(0.3)));
    assert!(
        matches!(
            e,
            AttackError::PopularExceedsFiller {
                popular: 3,
                filler: 2
            }
        ),
        "{e}"
    );
    let e = on(AttackSpec::low_knowledge()
        .size(AttackSize::Count(2))
        .rating_step(4.5));
    assert!(
        matches!(
            e,
            AttackError::InvalidParameter {
                name: "rating_step",
                ..
            }
        ),
        "{e}"
    );
    let e = on(AttackSpec::low_knowledge()
        .size(AttackSize::Count(usize::MAX / 2))
        .filler(FillerSize::Count(1)));
    assert!(matches!(e, AttackError::TooManyAdversaries { .. }), "{e}");
    let e = on(AttackSpec::low_knowledge()
        .size(AttackSize::Count(3_000_000_000))
        .filler(FillerSize::Count(1)));
    assert!(e.to_string().contains("u32::MAX ratings"), "{e}");
    // The filler of the informed attack is not used, so it may be anything valid.
    assert!(attack(
        &data,
        &AttackSpec::informed()
            .size(AttackSize::Count(2))
            .filler(FillerSize::Count(100))
            .targets(TargetChoice::Indices(vec![0]))
    )
    .is_ok());
    // The error messages say what is wrong.
    let msg = on(AttackSpec::low_knowledge()
        .size(AttackSize::Count(2))
        .filler(FillerSize::Count(6)))
    .to_string();
    assert!(
        msg.contains("filler of 6 items") && msg.contains("only 5"),
        "{msg}"
    );
}

#[test]
fn synthetic_ids_never_clash_with_existing_users() {
    let data = Ratings::from_external(
        [("attacker-0", "x", 3.0), ("bob", "y", 4.0)],
        RatingScale::MOVIELENS,
    )
    .unwrap();
    let spec = AttackSpec::low_knowledge()
        .size(AttackSize::Count(2))
        .filler(FillerSize::Count(1))
        .targets(ids(&["x"]));
    let out = attack(&data, &spec).unwrap();
    assert_eq!(out.ratings.users().external(2), "attacker-1-0");
    assert_eq!(out.ratings.users().external(3), "attacker-1-1");
    check_attacked(&data, &out, 1.0);
}

#[test]
fn half_star_grid() {
    let scale = RatingScale::new(0.5, 5.0).unwrap();
    let t: Vec<Triple> = (0..20).map(|u| Triple::new(u, u % 10, 3.5)).collect();
    let data = from_triples(20, 10, scale, &t);
    let spec = AttackSpec::low_knowledge()
        .size(AttackSize::Count(20))
        .filler(FillerSize::Count(8))
        .rating_step(0.5)
        .targets(TargetChoice::Indices(vec![3]));
    let out = attack(&data, &spec).unwrap();
    assert!(out.truth.entries().iter().any(|e| e.value.fract() == 0.5));
    assert_eq!(out.ratings.get(20, 3), Some(0.5));
    check_attacked(&data, &out, 0.5);
}

#[test]
fn specs_and_ground_truth_round_trip_through_json() {
    let spec = AttackSpec::bandwagon(3)
        .direction(Direction::Push)
        .size(AttackSize::Fraction(0.2))
        .filler(FillerSize::AverageProfile(1.5))
        .targets(TargetChoice::PopularityBand {
            count: 2,
            lower: 0.5,
            upper: 0.9,
        })
        .seed(123);
    let json = serde_json::to_string(&spec).unwrap();
    let back: AttackSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, spec);
    // Missing fields take the defaults; unknown fields are rejected.
    let minimal: AttackSpec = serde_json::from_str(r#"{"kind":{"kind":"informed"}}"#).unwrap();
    assert_eq!(minimal, AttackSpec::informed());
    assert!(serde_json::from_str::<AttackSpec>(r#"{"sizee":3}"#).is_err());

    let data = made_up(30, 20);
    let out = attack(
        &data,
        &AttackSpec::informed()
            .size(AttackSize::Count(3))
            .targets(TargetChoice::Indices(vec![1])),
    )
    .unwrap();
    let json = serde_json::to_string(&out.truth).unwrap();
    let truth: cnmf_attacks::GroundTruth = serde_json::from_str(&json).unwrap();
    assert_eq!(truth, out.truth);
}
