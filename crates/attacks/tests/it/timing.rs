//! Timestamps of attacked data: genuine ratings keep theirs, attack ratings get a burst or a
//! spread by the spec's timing, and the timing never changes what is drawn.

use cnmf_attacks::{AttackSize, AttackSpec, FillerSize, TargetChoice, Timing};
use cnmf_ratings::Ratings;

use crate::common::made_up;

/// `made_up` with time `1000 + 10 p` for the rating at CSR position `p` (span 1000..).
fn timed(n_users: usize, n_items: usize) -> Ratings {
    let r = made_up(n_users, n_items);
    let times = (0..r.nnz() as i64).map(|p| 1000 + 10 * p).collect();
    r.with_times(times).unwrap()
}

/// The time of `(u, i)` in `r`.
fn time_of(r: &Ratings, u: u32, i: u32) -> i64 {
    let (items, _) = r.user(u);
    r.user_times(u).unwrap()[items.binary_search(&i).unwrap()]
}

fn specs() -> Vec<AttackSpec> {
    let base = |s: AttackSpec| {
        s.size(AttackSize::Count(6))
            .filler(FillerSize::Count(4))
            .targets(TargetChoice::Items(vec!["3".into()]))
            .seed(11)
    };
    vec![
        base(AttackSpec::low_knowledge()),
        base(AttackSpec::informed()),
        base(AttackSpec::average()),
        base(AttackSpec::bandwagon(2)),
    ]
}

#[test]
fn a_burst_follows_the_data_and_genuine_ratings_keep_their_times() {
    let data = timed(40, 12);
    let end = *data.times().unwrap().iter().max().unwrap();
    for spec in specs() {
        let out = spec.clone().check().unwrap().generate(&data).unwrap();
        let r = &out.ratings;
        assert_eq!(r.times().unwrap().len(), r.nnz());
        for t in data.iter() {
            if out.truth.entry(t.user, t.item).is_none() {
                assert_eq!(time_of(r, t.user, t.item), time_of(&data, t.user, t.item));
            }
        }
        for e in out.truth.entries() {
            let t = time_of(r, e.user, e.item);
            assert!(t > end && t <= end + 86_400, "{spec:?}: {t} after {end}");
        }
        // The timing draws from a stream of its own: the same users, items and values as on
        // untimed data.
        let plain = spec.check().unwrap().generate(&made_up(40, 12)).unwrap();
        assert!(plain.ratings.times().is_none());
        assert_eq!(plain.ratings.triples(), r.triples());
    }
}

#[test]
fn a_spread_attack_stays_inside_each_item_history() {
    let data = timed(40, 12);
    for spec in specs() {
        let spec = spec.timing(Timing::Spread).check().unwrap();
        let out = spec.generate(&data).unwrap();
        for e in out.truth.entries() {
            let times = data.item_times(e.item).unwrap();
            let (lo, hi) = (times.iter().min().unwrap(), times.iter().max().unwrap());
            let t = time_of(&out.ratings, e.user, e.item);
            assert!((*lo..=*hi).contains(&t), "{t} outside {lo}..={hi}");
        }
        // Deterministic for a seed.
        let again = spec.generate(&data).unwrap();
        assert_eq!(again.ratings.times(), out.ratings.times());
    }
}

#[test]
fn noise_keeps_every_time_and_a_zero_burst_is_refused() {
    let data = timed(30, 10);
    let out = AttackSpec::random_noise(0.5)
        .seed(2)
        .check()
        .unwrap()
        .generate(&data)
        .unwrap();
    assert!(!out.truth.entries().is_empty());
    assert_eq!(out.ratings.times(), data.times());
    let e = AttackSpec::low_knowledge()
        .timing(Timing::Burst { seconds: 0 })
        .check()
        .unwrap_err();
    assert!(e.to_string().contains("at least 1 second"), "{e}");
}
