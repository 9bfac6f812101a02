//! The null-attack control and the adaptive, threshold-aware attack: the control changes the
//! data exactly as the low-knowledge attack does except at the targets; the adaptive attacker
//! rates each target at the most extreme grid value inside the threshold of its prediction.

use crate::common;

use cnmf_attacks::{
    attack, AttackKind, AttackSize, AttackSpec, Direction, FillerSize, TargetChoice,
};
use cnmf_ratings::{RatingScale, Ratings};
use common::{check_attacked, made_up};
use proptest::prelude::*;

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn null_control_leaves_the_targets_bit_identical() {
    let data = made_up(30, 12);
    for direction in [Direction::Nuke, Direction::Push] {
        let spec = AttackSpec::null_control()
            .direction(direction)
            .size(AttackSize::Count(6))
            .filler(FillerSize::Count(4))
            .targets(TargetChoice::Indices(vec![2, 7]))
            .seed(9);
        let out = attack(&data, &spec).unwrap();
        check_attacked(&data, &out, 1.0);
        assert_eq!(out.truth.kind(), AttackKind::NullControl);
        assert_eq!(out.truth.targets(), &[2, 7]);
        assert_eq!(out.truth.injected_users(), 30..36);
        for t in [2, 7] {
            let (users, values) = data.item(t);
            let (users_after, values_after) = out.ratings.item(t);
            assert_eq!(users, users_after, "raters of target {t}");
            assert_eq!(bits(values), bits(values_after), "ratings of target {t}");
        }
        assert!(out
            .truth
            .entries()
            .iter()
            .all(|e| e.item != 2 && e.item != 7));
    }
}

#[test]
fn null_control_injects_exactly_what_the_low_knowledge_attack_injects() {
    let data = made_up(40, 15);
    for (seed, filler) in [
        (1, FillerSize::Count(5)),
        (2, FillerSize::FractionOfItems(0.5)),
        (3, FillerSize::AverageProfile(0.5)),
        (4, FillerSize::Count(0)),
    ] {
        let spec = AttackSpec::low_knowledge()
            .size(AttackSize::Fraction(0.2))
            .filler(filler)
            .targets(TargetChoice::Drawn {
                count: 2,
                min_ratings: 1,
            })
            .seed(seed);
        let bomb = attack(&data, &spec).unwrap();
        let control = attack(&data, &spec.clone().kind(AttackKind::NullControl)).unwrap();
        check_attacked(&data, &control, 1.0);
        let (b, c) = (bomb.truth.plan(), control.truth.plan());
        assert_eq!(c.targets, b.targets, "seed {seed}");
        assert_eq!(c.adversaries, b.adversaries, "seed {seed}");
        assert_eq!(c.filler, b.filler, "seed {seed}");
        assert_eq!(control.truth.adversaries(), bomb.truth.adversaries());
        assert_eq!(control.ratings.users(), bomb.ratings.users());
        // The same filler items with the same ratings: only the target ratings are missing.
        let filler_of_bomb: Vec<_> = bomb
            .truth
            .entries()
            .iter()
            .filter(|e| !b.targets.contains(&e.item))
            .copied()
            .collect();
        assert_eq!(control.truth.entries(), &filler_of_bomb[..], "seed {seed}");
        for u in control.truth.injected_users() {
            assert_eq!(control.ratings.user_count(u), c.filler);
        }
    }
}

/// A made-up model: a prediction in [lo, hi] mixed from (user, item, salt).
fn predictor(salt: u64, lo: f64, hi: f64) -> impl Fn(u32, u32) -> f64 {
    move |u, i| {
        let mut h = (u64::from(u) << 32 | u64::from(i)) ^ salt;
        h = (h ^ (h >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h = (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        lo + (hi - lo) * ((h >> 11) as f64 / (1u64 << 53) as f64)
    }
}

fn adaptive_spec(lambda: f64, direction: Direction, step: f64, seed: u64) -> AttackSpec {
    AttackSpec::adaptive(lambda)
        .direction(direction)
        .size(AttackSize::Count(5))
        .targets(TargetChoice::Indices(vec![1, 4]))
        .rating_step(step)
        .seed(seed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn adaptive_ratings_are_the_most_extreme_inside_the_threshold(
        n in 5usize..30,
        m in 5usize..12,
        lambda in 0.01f64..20.0,
        push in any::<bool>(),
        half_stars in any::<bool>(),
        salt in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let data = made_up(n, m);
        let direction = if push { Direction::Push } else { Direction::Nuke };
        let step = if half_stars { 0.5 } else { 1.0 };
        // Predictions a little beyond the scale too, as an unclipped model gives.
        let predict = predictor(salt, 0.0, 6.0);
        let spec = adaptive_spec(lambda, direction, step, seed).check().unwrap();
        let out = spec.generate_adaptive(&data, &predict).unwrap();
        check_attacked(&data, &out, step);
        let scale = data.scale();
        let inside = |r: f64, x: f64| (r - x) * (r - x) <= lambda;
        let grid: Vec<f64> = (0..)
            .map(|k| scale.min() + step * f64::from(k))
            .take_while(|&r| r <= scale.max())
            .collect();
        for &u in out.truth.adversaries() {
            for &t in out.truth.targets() {
                let x = predict(u, t);
                match out.truth.entry(u, t) {
                    Some(e) => {
                        let r = e.value;
                        prop_assert!(inside(r, x), "r {} x {} lambda {}", r, x, lambda);
                        prop_assert!(grid.contains(&r), "{} off the grid", r);
                        prop_assert_eq!(out.ratings.get(u, t), Some(r));
                        let further = if push { r + step } else { r - step };
                        prop_assert!(
                            !scale.contains(further) || !inside(further, x),
                            "{} is further and still inside (x {}, lambda {})", further, x, lambda
                        );
                    }
                    None => {
                        prop_assert!(grid.iter().all(|&r| !inside(r, x)));
                        prop_assert_eq!(out.ratings.get(u, t), data.get(u, t));
                    }
                }
            }
        }
        // Same spec, same bits.
        let again = spec.generate_adaptive(&data, &predict).unwrap();
        prop_assert_eq!(&again.truth, &out.truth);
        prop_assert_eq!(again.ratings.triples(), out.ratings.triples());
    }
}

#[test]
fn adaptive_picks_the_accounts_of_the_informed_attack() {
    let data = made_up(25, 8);
    let predict = predictor(5, 1.0, 5.0);
    let out = adaptive_spec(1.0, Direction::Nuke, 1.0, 11)
        .check()
        .unwrap()
        .generate_adaptive(&data, &predict)
        .unwrap();
    let informed = attack(
        &data,
        &adaptive_spec(1.0, Direction::Nuke, 1.0, 11).kind(AttackKind::Informed),
    )
    .unwrap();
    assert_eq!(out.truth.adversaries(), informed.truth.adversaries());
    assert_eq!(out.truth.targets(), informed.truth.targets());
    // With predictions inside the scale and residuals up to 1, a grid value is always inside.
    assert_eq!(out.truth.entries().len(), 5 * 2);
}

#[test]
fn adaptive_parameters_and_predictions_are_checked() {
    for lambda in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            AttackSpec::adaptive(lambda).check().is_err(),
            "lambda {lambda}"
        );
    }
    let data = made_up(10, 6);
    let spec = adaptive_spec(1.0, Direction::Push, 1.0, 0).check().unwrap();
    // Plain generation has no predictions to work with.
    assert!(spec.generate(&data).is_err());
    let err = spec.generate_adaptive(&data, &|_, _| f64::NAN).unwrap_err();
    assert!(err.to_string().contains("prediction"), "{err}");
    // A step that does not fit the scale is refused when planning.
    let wide = adaptive_spec(1.0, Direction::Push, 7.0, 0).check().unwrap();
    assert!(wide.plan(&data).is_err());
    // Other kinds ignore the predictions.
    let low = AttackSpec::low_knowledge()
        .size(AttackSize::Count(2))
        .filler(FillerSize::Count(2))
        .targets(TargetChoice::Indices(vec![0]))
        .check()
        .unwrap();
    let with = low.generate_adaptive(&data, &|_, _| f64::NAN).unwrap();
    let without = low.generate(&data).unwrap();
    assert_eq!(with.truth, without.truth);
}

#[test]
fn adaptive_with_no_grid_value_inside_leaves_the_target() {
    // Predictions halfway between grid points and residuals up to 0.1: nothing is inside.
    let data: Ratings = made_up(12, 6);
    assert_eq!(data.scale(), RatingScale::MOVIELENS);
    let out = adaptive_spec(0.01, Direction::Nuke, 1.0, 3)
        .check()
        .unwrap()
        .generate_adaptive(&data, &|_, _| 3.5)
        .unwrap();
    check_attacked(&data, &out, 1.0);
    assert_eq!(out.truth.adversaries().len(), 5);
    assert!(out.truth.entries().is_empty());
    assert_eq!(out.ratings.triples(), data.triples());
}

#[test]
fn new_kinds_round_trip_through_json() {
    for spec in [AttackSpec::null_control(), AttackSpec::adaptive(0.75)] {
        let json = serde_json::to_string(&spec).unwrap();
        let back: AttackSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }
    assert_eq!(AttackKind::NullControl.name(), "null-control");
    assert_eq!(AttackKind::Adaptive { lambda: 1.0 }.name(), "adaptive");
    assert!(AttackKind::NullControl.injects_users());
    assert!(!AttackKind::Adaptive { lambda: 1.0 }.injects_users());
}
