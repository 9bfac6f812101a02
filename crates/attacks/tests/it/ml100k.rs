//! Every model on the real MovieLens 100K, checked against the data (`#[ignore]`d: run with
//! `-- --ignored` and `CNMF_DATA` pointing at a folder holding `ml-100k/u.data`; it fails,
//! saying why, when the data are not there).

use crate::common;

use cnmf_attacks::{attack, AttackSize, AttackSpec, Direction, FillerSize, TargetChoice};
use cnmf_ratings::{load, LoadOptions, Ratings};
use common::check_attacked;

fn ml100k() -> Ratings {
    let path = cnmf_ratings::discover::require_ml100k();
    load(&path, &LoadOptions::default()).expect("ML-100K loads")
}

#[test]
#[ignore = "needs MovieLens 100K: set CNMF_DATA to the folder holding ml-100k/"]
fn every_model_on_ml100k() {
    let data = ml100k();
    assert_eq!(
        (data.n_users(), data.n_items(), data.nnz()),
        (943, 1682, 100_000)
    );

    // Model 2: about 10% of the ratings flip.
    let noise = attack(&data, &AttackSpec::random_noise(0.1).seed(1)).unwrap();
    let flipped = noise.truth.entries().len();
    // Binomial(100000, 0.1): sd about 95.
    assert!((9_500..=10_500).contains(&flipped), "{flipped} flips");
    check_attacked(&data, &noise, 1.0);

    // Models 3 and 4 with the spec's defaults: A = 5% of 943 users = 47, one target with at
    // least 100 ratings, 19 filler items.
    for spec in [
        AttackSpec::low_knowledge(),
        AttackSpec::informed(),
        AttackSpec::average(),
        AttackSpec::bandwagon(5),
        AttackSpec::low_knowledge().direction(Direction::Push),
    ] {
        let spec = spec.seed(2024);
        let out = attack(&data, &spec).unwrap();
        let plan = out.truth.plan();
        assert_eq!(plan.adversaries, 47, "{spec:?}");
        assert_eq!(plan.targets.len(), 1);
        assert!(data.item_count(plan.targets[0]) >= 100);
        check_attacked(&data, &out, 1.0);
        if spec.clone().check().unwrap().kind().injects_users() {
            assert_eq!(out.ratings.n_users(), 990);
            assert_eq!(out.ratings.nnz(), 100_000 + 47 * 20);
        } else {
            // Informed: one target rating per adversary, added or replaced.
            let added = out
                .truth
                .entries()
                .iter()
                .filter(|e| e.is_injected())
                .count();
            assert_eq!(out.ratings.nnz(), 100_000 + added);
        }
    }

    // Several targets from the top popularity decile, filler at the mean profile length.
    let spec = AttackSpec::average()
        .size(AttackSize::Count(30))
        .filler(FillerSize::AverageProfile(1.0))
        .targets(TargetChoice::PopularityBand {
            count: 3,
            lower: 0.9,
            upper: 1.0,
        })
        .seed(5);
    let out = attack(&data, &spec).unwrap();
    // Mean profile: 100000 / 943 = 106.04 -> 106 filler items.
    assert_eq!(out.truth.plan().filler, 106);
    let mut counts: Vec<usize> = (0..1682).map(|i| data.item_count(i)).collect();
    counts.sort_unstable();
    for &t in out.truth.targets() {
        assert!(
            data.item_count(t) >= counts[1513],
            "target {t} not in the top decile"
        );
    }
    check_attacked(&data, &out, 1.0);
}
