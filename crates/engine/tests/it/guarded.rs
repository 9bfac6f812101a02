//! `guarded`: its limits, its profile screen, its flags, its parameters, thread counts, warm
//! start, observer and fold-in.

use std::ops::ControlFlow;

use crate::common;

use cnmf_engine::{
    init_factors, Algorithm, EngineError, FitOptions, IterationStats, NmfModel, NmfParams,
};
use cnmf_ratings::{RatingScale, Ratings, Triple};
use common::{random_instance, ratings, reference_screen};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn fit(data: &Ratings, params: NmfParams) -> NmfModel {
    params.check().unwrap().fit(data).unwrap()
}

fn guarded(k: usize) -> NmfParams {
    NmfParams::new(k, Algorithm::Guarded).lambda(1.5)
}

/// Genuine users rating items of power-law popularity with low-rank-ish values, then
/// `adversaries` injected users who rate item 0 with 1 and 19 fillers drawn uniformly from the
/// catalogue (the low-knowledge review bomb), so that the screen has users to find.
fn bombed_instance(n: usize, m: usize, adversaries: usize, seed: u64) -> (Ratings, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Vec::new();
    for u in 0..n as u32 {
        let taste = rng.random_range(0.0..1.0);
        for i in 0..m as u32 {
            let p = (2.5 * (1.0 + i as f64).powf(-0.6)).min(0.9);
            if rng.random_bool(p) {
                let quality = ((i * 7919) % 5) as f64 / 4.0;
                let v = (1.0 + 4.0 * (0.5 * taste + 0.5 * quality) + rng.random_range(-0.5..0.5))
                    .round()
                    .clamp(1.0, 5.0);
                t.push(Triple::new(u, i, v));
            }
        }
    }
    let mut adv = Vec::new();
    for a in 0..adversaries as u32 {
        let u = n as u32 + a;
        adv.push(u);
        t.push(Triple::new(u, 0, 1.0));
        let mut fillers: Vec<u32> = Vec::new();
        while fillers.len() < 19 {
            let i = rng.random_range(1..m as u32);
            if !fillers.contains(&i) {
                fillers.push(i);
            }
        }
        for i in fillers {
            t.push(Triple::new(u, i, f64::from(rng.random_range(1..=5u8))));
        }
    }
    (ratings(n + adversaries, m, &t, RatingScale::MOVIELENS), adv)
}

#[test]
fn huge_thresholds_without_the_screen_are_ignore_missing_bit_for_bit() {
    let data = random_instance(300, 120, 0.1, 4);
    for (k, l2) in [(5, 0.0), (7, 0.2)] {
        let base = NmfParams::new(k, Algorithm::IgnoreMissing)
            .lambda(1.5)
            .l2_w(l2)
            .l2_h(l2)
            .max_iters(12)
            .seed(3);
        let im = fit(&data, base.clone());
        let gu = fit(
            &data,
            base.algorithm(Algorithm::Guarded)
                .user_threshold_scale(1e100)
                .item_threshold_scale(1e100)
                .profile_screen(None),
        );
        assert!(im.factors() == gu.factors(), "k = {k}: factors differ");
        assert!(gu.corrupt_entries().is_empty());
        assert!(gu.screened_users().is_empty());
        for (a, b) in im.trace().iter().zip(gu.trace()) {
            assert_eq!(a.loss.to_bits(), b.loss.to_bits());
            assert_eq!(b.flagged, 0);
        }
    }
}

#[test]
fn the_screen_flags_exactly_the_users_below_the_robust_cutoff() {
    // Eight users rate the popular items 0..6 (each item rated by most of them); users 8 and 9
    // rate only items 6..8, which few others rated; user 10 rates nothing.
    let rated: [&[u32]; 11] = [
        &[0, 1, 2, 3],
        &[0, 1, 2, 4],
        &[0, 1, 3, 4],
        &[0, 2, 3, 5],
        &[0, 1, 2, 3, 5],
        &[1, 2, 3, 4],
        &[0, 1, 4, 5, 6],
        &[0, 2, 3, 4],
        &[6, 7],
        &[7, 8],
        &[],
    ];
    let mut t = Vec::new();
    for (u, items) in rated.iter().enumerate() {
        for &i in *items {
            t.push(Triple::new(
                u as u32,
                i,
                3.0 + f64::from((u as u32 + i) % 2),
            ));
        }
    }
    let data = ratings(11, 9, &t, RatingScale::MOVIELENS);
    // Item counts: 0: 7, 1: 6, 2: 6, 3: 6, 4: 5, 5: 3, 6: 2, 7: 2, 8: 1. By hand: the scores of
    // users 0..7 lie in [1.80, 1.98], users 8 and 9 score ln(3) = 1.10 and (ln 3 + ln 2) / 2 =
    // 0.90; the median of the ten scores is about 1.93 and 1.4826 MAD about 0.08, so the cutoff
    // at z = 3 is about 1.69: users 8 and 9 are screened, user 6 (1.80, the lowest honest
    // score) is not, and user 10 has no score.
    let counts = [7.0f64, 6.0, 6.0, 6.0, 5.0, 3.0, 2.0, 2.0, 1.0];
    let score = |u: usize| {
        rated[u]
            .iter()
            .map(|&i| (counts[i as usize] + 1.0).ln())
            .sum::<f64>()
            / rated[u].len() as f64
    };
    let mut s: Vec<f64> = (0..10).map(score).collect();
    s.sort_by(f64::total_cmp);
    let med = (s[4] + s[5]) / 2.0;
    let mut dev: Vec<f64> = s.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = (dev[4] + dev[5]) / 2.0;
    let cutoff = med - 3.0 * 1.4826 * mad;
    let below: Vec<u32> = (0..10u32).filter(|&u| score(u as usize) < cutoff).collect();
    assert_eq!(below, [8, 9]);
    assert!(score(6) > cutoff && score(6) < med);
    let model = fit(&data, guarded(2).max_iters(3));
    assert_eq!(model.screened_users(), &below[..]);
    assert_eq!(
        reference_screen(11, 9, |u, i| rated[u].contains(&(i as u32)), 3.0),
        (0..11).map(|u| u == 8 || u == 9).collect::<Vec<_>>()
    );
    // A wide screen finds nobody; off screens nobody.
    assert!(
        fit(&data, guarded(2).max_iters(3).profile_screen(Some(40.0)))
            .screened_users()
            .is_empty()
    );
    assert!(fit(&data, guarded(2).max_iters(3).profile_screen(None))
        .screened_users()
        .is_empty());
    // Other algorithms screen nobody.
    assert!(fit(
        &data,
        guarded(2).algorithm(Algorithm::IgnoreCorrupt).max_iters(3)
    )
    .screened_users()
    .is_empty());
}

#[test]
fn the_screen_finds_uniform_fillers() {
    let (data, adv) = bombed_instance(600, 200, 30, 1);
    let model = fit(&data, guarded(5).max_iters(5).profile_screen(Some(3.0)));
    let screened = model.screened_users();
    let caught = screened.iter().filter(|u| adv.contains(u)).count();
    assert!(caught >= 20, "caught {caught} of {}", adv.len());
    assert!(
        screened.len() - caught <= 6,
        "{} genuine users screened",
        screened.len() - caught
    );
    let expected = reference_screen(
        data.n_users(),
        data.n_items(),
        |u, i| data.get(u as u32, i as u32).is_some(),
        3.0,
    );
    let want: Vec<u32> = (0..data.n_users() as u32)
        .filter(|&u| expected[u as usize])
        .collect();
    assert_eq!(screened, &want[..]);
}

#[test]
fn flags_are_the_entries_of_item_side_weight_zero_on_the_final_factors() {
    let (data, _) = bombed_instance(400, 150, 20, 2);
    let lambda = 1.5f64;
    let model = fit(&data, guarded(4).max_iters(7).seed(5));
    assert!(!model.screened_users().is_empty());
    let f = model.factors();
    let cut = cnmf_engine::DEFAULT_ITEM_THRESHOLD_SCALE * lambda.sqrt();
    let want: Vec<(u32, u32)> = data
        .iter()
        .filter(|t| {
            model.screened_users().contains(&t.user)
                || (t.value - f.predict(t.user, t.item)).abs() > cut
        })
        .map(|t| (t.user, t.item))
        .collect();
    assert_eq!(model.corrupt_entries(), &want[..]);
    assert_eq!(model.trace().last().unwrap().flagged, want.len());
    // The item side acts from iteration 1: the initial factors already have flags.
    assert!(model.trace()[0].flagged > 0);
    // The loss is the squared loss over the entries of item-side weight 1.
    let loss: f64 = data
        .iter()
        .filter(|t| !want.contains(&(t.user, t.item)))
        .map(|t| (t.value - f.predict(t.user, t.item)).powi(2))
        .sum();
    let last = model.trace().last().unwrap().loss;
    assert!((last - loss).abs() <= 1e-9 * loss, "{last} vs {loss}");
}

#[test]
fn a_screened_user_moves_no_item() {
    // Changing the values (not the positions) of screened users' ratings keeps the screen and
    // must leave H, and every other user's factors, bit for bit unchanged.
    let (data, _) = bombed_instance(500, 150, 20, 3);
    let params = guarded(5).max_iters(8).seed(2).profile_screen(Some(3.0));
    let model = fit(&data, params.clone());
    let screened = model.screened_users().to_vec();
    assert!(screened.len() >= 10);
    let changed: Vec<Triple> = data
        .iter()
        .map(|t| {
            if screened.contains(&t.user) {
                Triple::new(t.user, t.item, 6.0 - t.value)
            } else {
                t
            }
        })
        .collect();
    let other = ratings(
        data.n_users(),
        data.n_items(),
        &changed,
        RatingScale::MOVIELENS,
    );
    // Same mean rating, so the same initial factors.
    let other_model = params
        .check()
        .unwrap()
        .fit_with(
            &other,
            FitOptions::new()
                .initial(&init_factors(data.n_users(), data.n_items(), 5, data.mean(), 2).unwrap()),
        )
        .unwrap();
    assert_eq!(other_model.screened_users(), &screened[..]);
    assert!(model.factors().h() == other_model.factors().h(), "H moved");
    for u in 0..data.n_users() as u32 {
        if !screened.contains(&u) {
            assert!(model.factors().w_row(u) == other_model.factors().w_row(u));
        }
    }
}

#[test]
fn same_bits_for_one_and_several_threads_with_the_screen_active() {
    let (data, _) = bombed_instance(2500, 400, 120, 4);
    assert!(data.nnz() > 40_000);
    for k in [6, 20] {
        let run = |threads| fit(&data, guarded(k).max_iters(6).threads(threads).seed(9));
        let (a, b, c) = (run(1), run(2), run(3));
        assert!(!a.screened_users().is_empty());
        for other in [&b, &c] {
            assert!(a.factors() == other.factors(), "k = {k}: factors differ");
            assert_eq!(a.corrupt_entries(), other.corrupt_entries());
            assert_eq!(a.screened_users(), other.screened_users());
            let bits = |m: &NmfModel| -> Vec<(u64, u64, usize)> {
                m.trace()
                    .iter()
                    .map(|s| (s.objective.to_bits(), s.loss.to_bits(), s.flagged))
                    .collect()
            };
            assert_eq!(bits(&a), bits(other));
        }
    }
}

#[test]
fn parameters_are_checked_for_every_algorithm() {
    for alg in [Algorithm::Guarded, Algorithm::IgnoreCorrupt] {
        let base = || NmfParams::new(3, alg).lambda(1.0);
        for bad in [0.0, -0.5, f64::NAN, f64::INFINITY] {
            for (params, name) in [
                (base().user_threshold_scale(bad), "user_threshold_scale"),
                (base().item_threshold_scale(bad), "item_threshold_scale"),
                (base().profile_screen(Some(bad)), "profile_screen"),
            ] {
                match params.check() {
                    Err(EngineError::InvalidParameter { name: got, .. }) => {
                        assert_eq!(got, name, "{alg}, {bad}")
                    }
                    other => panic!("{alg} {name} = {bad}: {other:?}"),
                }
            }
        }
    }
    // Guarded needs lambda.
    match NmfParams::new(3, Algorithm::Guarded).check() {
        Err(EngineError::InvalidParameter { name, .. }) => assert_eq!(name, "lambda"),
        other => panic!("{other:?}"),
    }
    let p = guarded(3).check().unwrap();
    assert_eq!(p.user_threshold_scale(), 1.0);
    assert_eq!(p.item_threshold_scale(), 0.8);
    assert_eq!(p.profile_screen(), Some(4.0));
    assert_eq!(p.burst_window(), Some(86_400));
    let p = guarded(3)
        .user_threshold_scale(1.2)
        .item_threshold_scale(0.7)
        .profile_screen(None)
        .check()
        .unwrap();
    assert_eq!(
        (
            p.user_threshold_scale(),
            p.item_threshold_scale(),
            p.profile_screen()
        ),
        (1.2, 0.7, None)
    );
    // Stored parameters without the new fields load with the defaults; `null` is off.
    let json = serde_json::to_value(&p).unwrap();
    let mut old = json.clone();
    for key in [
        "user_threshold_scale",
        "item_threshold_scale",
        "profile_screen",
        "burst_window",
    ] {
        old.as_object_mut().unwrap().remove(key);
    }
    let back: cnmf_engine::ValidNmfParams = serde_json::from_value(old).unwrap();
    assert_eq!(
        back.profile_screen(),
        Some(3.0),
        "the default when they were written"
    );
    assert_eq!(
        back.burst_window(),
        None,
        "written before the burst screen existed"
    );
    assert_eq!(back.user_threshold_scale(), 0.8);
    let back: cnmf_engine::ValidNmfParams = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
}

#[test]
fn warm_start_and_observer_keep_the_schedule() {
    let (data, _) = bombed_instance(300, 100, 15, 5);
    let params = guarded(4).max_iters(9).seed(4);
    let plain = fit(&data, params.clone());
    let init = init_factors(data.n_users(), data.n_items(), 4, data.mean(), 4).unwrap();
    let warm = params
        .clone()
        .check()
        .unwrap()
        .fit_with(&data, FitOptions::new().initial(&init))
        .unwrap();
    assert!(warm.factors() == plain.factors());
    assert_eq!(warm.corrupt_entries(), plain.corrupt_entries());
    assert_eq!(warm.screened_users(), plain.screened_users());
    // Stopping at iteration 4 keeps exactly the factors and flags of a 4-iteration fit.
    let mut observer = |s: &IterationStats| {
        if s.iteration == 4 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let stopped = params
        .clone()
        .check()
        .unwrap()
        .fit_with(&data, FitOptions::new().observer(&mut observer))
        .unwrap();
    let four = fit(&data, params.max_iters(4));
    assert!(stopped.factors() == four.factors());
    assert_eq!(stopped.corrupt_entries(), four.corrupt_entries());
    assert_eq!(stopped.iterations(), 4);
}

#[test]
fn fold_in_runs_the_user_side_rule() {
    // With a = 1 the user side is ignore-corrupt's rule `r^2 > λ` (up to rounding at the
    // boundary): folding the same ratings into the same item factors gives the same row.
    let data = random_instance(80, 40, 0.3, 7);
    let model = fit(&data, guarded(3).max_iters(10).user_threshold_scale(1.0));
    let twin = NmfModel::from_parts(
        NmfParams::new(3, Algorithm::IgnoreCorrupt)
            .lambda(1.5)
            .max_iters(10)
            .check()
            .unwrap(),
        model.scale(),
        model.mean_rating(),
        model.factors().clone(),
        data.nnz(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        model.stop_reason(),
        model.iterations(),
    )
    .unwrap();
    let mine = [
        (0u32, 5.0),
        (3, 1.0),
        (7, 4.0),
        (11, 1.0),
        (20, 5.0),
        (33, 3.0),
    ];
    let a = model.fold_in(&mine).unwrap();
    let b = twin.fold_in(&mine).unwrap();
    assert_eq!(a, b);
    // A tighter user side drops more ratings: a different row.
    let tight = fit(&data, guarded(3).max_iters(10).user_threshold_scale(0.2));
    assert!(tight.fold_in(&mine).is_ok());
    assert!(model.fold_in(&[(1, f64::NAN)]).is_err());
}

#[test]
fn screened_users_round_trip_and_are_checked() {
    let (data, _) = bombed_instance(300, 100, 15, 6);
    let model = fit(&data, guarded(3).max_iters(4));
    assert!(!model.screened_users().is_empty());
    let json = serde_json::to_string(&model).unwrap();
    let back: NmfModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    let rebuilt = NmfModel::from_parts(
        model.params().clone(),
        model.scale(),
        model.mean_rating(),
        model.factors().clone(),
        data.nnz(),
        model.corrupt_positions().to_vec(),
        model.corrupt_entries().to_vec(),
        model.trace().to_vec(),
        model.stop_reason(),
        model.iterations(),
    )
    .unwrap();
    assert!(rebuilt.screened_users().is_empty());
    let rebuilt = rebuilt
        .with_screened_users(model.screened_users().to_vec())
        .unwrap();
    assert_eq!(rebuilt, model);
    let n = data.n_users() as u32;
    for bad in [vec![3, 3], vec![5, 2], vec![n]] {
        assert!(model.clone().with_screened_users(bad).is_err());
    }
    let other = fit(
        &data,
        guarded(3).algorithm(Algorithm::IgnoreCorrupt).max_iters(2),
    );
    assert!(other.clone().with_screened_users(vec![1]).is_err());
    assert!(other.with_screened_users(Vec::new()).is_ok());
}
