//! `guarded`'s burst screen: a shifted burst in time is held, a spread attack and a genuine
//! (unshifted) burst are not, the result does not depend on the thread count, and data without
//! timestamps are fitted without it.

use crate::common;

use cnmf_engine::{Algorithm, NmfModel, NmfParams};
use cnmf_ratings::{RatingScale, Ratings, Triple};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DAY: i64 = 86_400;
const USERS: u32 = 300;
const ITEMS: u32 = 60;
/// Converted accounts that rate item 0 with a 2.
const ATTACKERS: u32 = 20;

/// How the attack's ratings are timed.
#[derive(Clone, Copy, PartialEq)]
enum When {
    Burst,
    Spread,
    NoAttack,
}

/// Genuine ratings over 200 days (item 0 rated 4 or 5, item 1 with a genuine one-hour burst
/// of 30 ratings like its others), plus `ATTACKERS` genuine users rating item 0 with 2 at
/// `when`. Returns the data and the attackers.
fn instance(when: When) -> (Ratings, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut t, mut times) = (Vec::new(), Vec::new());
    let attackers: Vec<u32> = (0..ATTACKERS).map(|a| 10 * a + 3).collect();
    for u in 0..USERS {
        let taste: f64 = rng.random_range(0.0..1.0);
        for i in 0..ITEMS {
            if !rng.random_bool(0.3) {
                continue;
            }
            let v = if i == 0 {
                f64::from(rng.random_range(4..=5u8))
            } else {
                let quality = f64::from((i * 7919) % 5) / 4.0;
                (1.0 + 4.0 * (0.5 * taste + 0.5 * quality) + rng.random_range(-0.5..0.5))
                    .round()
                    .clamp(1.0, 5.0)
            };
            // Item 1: the first 30 of its raters rate within one hour on day 100.
            let burst_of_1 = i == 1 && t.iter().filter(|x: &&Triple| x.item == 1).count() < 30;
            let time = if burst_of_1 {
                100 * DAY + rng.random_range(0..3600)
            } else {
                rng.random_range(0..200 * DAY)
            };
            // Attackers never rated item 0 genuinely (the same draws in every mode).
            if i != 0 || !attackers.contains(&u) {
                t.push(Triple::new(u, i, v));
                times.push(time);
            }
        }
    }
    if when != When::NoAttack {
        for &u in &attackers {
            t.push(Triple::new(u, 0, 2.0));
            times.push(match when {
                When::Burst => 200 * DAY + rng.random_range(0..3600),
                _ => rng.random_range(0..200 * DAY),
            });
        }
    }
    let plain = common::ratings(USERS as usize, ITEMS as usize, &t, RatingScale::MOVIELENS);
    let data = plain
        .with_timed_triples(&t, &times, cnmf_ratings::DuplicatePolicy::Error)
        .unwrap();
    (data, attackers)
}

fn fit(data: &Ratings, window: Option<u64>, threads: usize) -> NmfModel {
    NmfParams::new(4, Algorithm::Guarded)
        .lambda(1.5)
        .max_iters(25)
        .seed(2)
        .threads(threads)
        .burst_window(window)
        .check()
        .unwrap()
        .fit(data)
        .unwrap()
}

#[test]
fn a_shifted_burst_is_held_and_flagged() {
    let (data, attackers) = instance(When::Burst);
    let model = fit(&data, Some(DAY as u64), 1);
    let bursts = model.bursts().expect("timed data: the screen ran");
    assert_eq!(bursts.len(), 1, "{bursts:?}");
    let b = &bursts[0];
    assert_eq!(b.item, 0);
    assert_eq!(b.count, ATTACKERS as usize);
    assert!(b.z < -4.0 && b.mean == 2.0 && b.rest_mean > 4.0, "{b:?}");
    assert!(b.start >= 200 * DAY && b.end < 200 * DAY + 3600, "{b:?}");
    assert_eq!(b.held, ATTACKERS as usize);
    assert_eq!(b.users, attackers, "the held ratings' users");
    // The user-level decision: the held raters (and the screened users), not every user with
    // a flagged rating.
    let mut suspected = attackers.clone();
    suspected.extend(model.screened_users());
    suspected.sort_unstable();
    suspected.dedup();
    assert_eq!(model.suspected_users(), suspected);
    let flagged = model.corrupt_entries();
    for &u in &attackers {
        assert!(flagged.contains(&(u, 0)), "attacker {u} not flagged");
    }
}

#[test]
fn the_screen_protects_the_target_where_thresholds_alone_do_not() {
    let (clean, _) = instance(When::NoAttack);
    let (data, attackers) = instance(When::Burst);
    let mean_pred = |m: &NmfModel| {
        let raters: Vec<u32> = (0..USERS).filter(|u| !attackers.contains(u)).collect();
        raters
            .iter()
            .map(|&u| m.factors().predict(u, 0))
            .sum::<f64>()
            / raters.len() as f64
    };
    let base = mean_pred(&fit(&clean, Some(DAY as u64), 1));
    let with = (mean_pred(&fit(&data, Some(DAY as u64), 1)) - base).abs();
    let without = (mean_pred(&fit(&data, None, 1)) - base).abs();
    assert!(
        with < 0.5 * without,
        "shift with the screen {with}, without {without}"
    );
}

#[test]
fn a_spread_attack_and_a_genuine_burst_are_not_held() {
    for when in [When::Spread, When::NoAttack] {
        let (data, _) = instance(when);
        let model = fit(&data, Some(DAY as u64), 1);
        assert_eq!(model.bursts(), Some(&[][..]), "nothing to hold");
    }
}

#[test]
fn same_bits_for_any_thread_count_and_no_screen_without_times() {
    let (data, _) = instance(When::Burst);
    let one = fit(&data, Some(DAY as u64), 1);
    for threads in [2, 3] {
        let many = fit(&data, Some(DAY as u64), threads);
        assert!(one.factors() == many.factors(), "{threads} threads");
        assert_eq!(one.bursts(), many.bursts());
        assert_eq!(one.corrupt_entries(), many.corrupt_entries());
    }
    let untimed = data.clone().without_times();
    assert_eq!(fit(&untimed, Some(DAY as u64), 1).bursts(), None);
    assert_eq!(fit(&data, None, 1).bursts(), None);
    // Without times, or with the screen off, guarded fits the same bits.
    assert!(fit(&untimed, Some(DAY as u64), 1).factors() == fit(&data, None, 1).factors());
    let e = NmfParams::new(4, Algorithm::Guarded)
        .lambda(1.5)
        .burst_window(Some(0))
        .check()
        .unwrap_err();
    assert!(e.to_string().contains("at least 1 second"), "{e}");
}

/// A burst's raters are accused only when its shift is strong (`|z| >= SUSPECT_Z`); the
/// ratings of a weaker one are held all the same.
#[test]
fn only_strong_bursts_accuse_their_raters() {
    use cnmf_engine::burst::SUSPECT_Z;
    use cnmf_engine::Burst;
    let (data, _) = instance(When::Burst);
    let burst = |item: u32, z: f64, users: Vec<u32>| Burst {
        item,
        start: 0,
        end: 60,
        count: users.len(),
        mean: 1.0,
        rest_mean: 4.0,
        z,
        held: users.len(),
        users,
    };
    let model = fit(&data, Some(DAY as u64), 1)
        .with_bursts(Some(vec![
            burst(0, -(SUSPECT_Z + 9.0), vec![1, 2]),
            burst(1, -(SUSPECT_Z - 2.8), vec![3, 4]),
            burst(2, SUSPECT_Z, vec![9]),
        ]))
        .unwrap()
        .with_screened_users(vec![2, 7])
        .unwrap();
    assert_eq!(model.suspected_users(), [1, 2, 7, 9]);
}
