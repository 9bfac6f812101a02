//! The runnable examples reproduce the documents' worked examples. Each example file is
//! compiled here as a module, so the test checks exactly what `cargo run --example` prints.
//! NMF is not unique (any W D, D^-1 H with D positive diagonal, and any permutation of the
//! topics, is as good), so the tests assert what is stable: errors, supports, proportions,
//! neighbour sets and estimates, never raw factor values.

// Index loops mirror the formulas being checked.
#![allow(clippy::needless_range_loop)]

#[allow(dead_code)]
#[path = "../../examples/lecture_3x3.rs"]
mod lecture_3x3;

#[allow(dead_code)]
#[path = "../../examples/lecture_films.rs"]
mod lecture_films;

#[allow(dead_code)]
#[path = "../../examples/slides_tv_shows.rs"]
mod slides;

use cnmf_family::lee_seung::LeeSeungModel;
use cnmf_family::DMatrix;

fn kl(v: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    v.iter()
        .zip(x.iter())
        .map(|(&a, &b)| if a > 0.0 { a * (a / b).ln() - a + b } else { b })
        .sum()
}

/// Whether W's rows and H's columns have the lecture's zero pattern, up to swapping topics.
fn same_support(ours: &LeeSeungModel, w: &DMatrix<f64>, h: &DMatrix<f64>) -> bool {
    let zero = |x: f64, scale: f64| x.abs() <= 1e-6 * scale;
    let (sw, sh) = (ours.w().amax(), ours.h().amax());
    [false, true].iter().any(|&swap| {
        let col = |a: usize| if swap { 1 - a } else { a };
        (0..w.nrows())
            .all(|i| (0..2).all(|a| zero(w[(i, a)], 1.0) == zero(ours.w()[(i, col(a))], sw)))
            && (0..h.ncols())
                .all(|j| (0..2).all(|a| zero(h[(a, j)], 1.0) == zero(ours.h()[(col(a), j)], sh)))
    })
}

#[test]
fn lecture_3x3_fits_at_least_as_well_as_the_lecture_with_its_structure() {
    let (frobenius, kl_model) = lecture_3x3::compute().unwrap();
    let v = lecture_3x3::v();
    let lecture = lecture_3x3::lecture_wh();
    // The lecture's hand-made W H has squared error 2.25 (entries 1 -> 1.5, 1 -> 2, 3 -> 2).
    let lecture_err = (&v - &lecture).norm_squared();
    assert!((lecture_err - 2.25).abs() < 1e-12);
    let ours = (&v - frobenius.w() * frobenius.h()).norm_squared();
    // Eckart–Young: no rank-2 matrix gets below the smallest singular value squared, so this
    // bound can only fail if the fit is wrong; the upper bound says we improve on the lecture.
    let floor = v.clone().singular_values().min().powi(2);
    assert!(
        ours >= floor - 1e-9,
        "{ours} below the rank-2 floor {floor}"
    );
    assert!(ours < lecture_err, "ours {ours} vs lecture {lecture_err}");
    // KL with the lecture's normalisation: columns of W sum to 1, and the divergence beats the
    // lecture's factors' divergence.
    for a in 0..2 {
        assert!((kl_model.w().column(a).sum() - 1.0).abs() < 1e-12);
    }
    let ours_kl = kl(&v, &(kl_model.w() * kl_model.h()));
    assert!(
        ours_kl < kl(&v, &lecture),
        "{ours_kl} vs {}",
        kl(&v, &lecture)
    );
    // The lecture's structure: V_01 = V_10 = 0 forces rows 0 and 1 onto different topics, and
    // both of our fits find exactly the lecture's zero pattern (up to the topic order).
    let w = DMatrix::from_fn(3, 2, |i, a| lecture_3x3::LECTURE_W[i][a]);
    let h = DMatrix::from_fn(2, 3, |a, j| lecture_3x3::LECTURE_H[a][j]);
    assert!(
        same_support(&frobenius, &w, &h),
        "W = {} H = {}",
        frobenius.w(),
        frobenius.h()
    );
    assert!(
        same_support(&kl_model, &w, &h),
        "W = {} H = {}",
        kl_model.w(),
        kl_model.h()
    );
}

#[test]
fn lecture_films_separate_into_the_lecture_topics() {
    let (topics, missing) = lecture_films::compute().unwrap();
    // The matrix is exactly rank 2 and nonnegative: the fit is exact.
    let err = (lecture_films::r() - topics.w() * topics.h()).norm();
    assert!(err < 1e-6, "||R - WH|| = {err}");
    // Same films and users per topic as the lecture (up to the topic order).
    let ft = lecture_films::film_topics(&topics);
    let ut = lecture_films::user_topics(&topics);
    assert_eq!(ft[0], ft[1]);
    assert_eq!(ft[1], ft[2]);
    assert_eq!(ft[3], ft[4]);
    assert_ne!(ft[0], ft[3]);
    assert!(
        ut[..4].iter().all(|&t| t == ft[0]),
        "sci-fi fans {ut:?} vs films {ft:?}"
    );
    assert!(
        ut[4..].iter().all(|&t| t == ft[3]),
        "romance fans {ut:?} vs films {ft:?}"
    );
    // Each block is rank 1, so the exact NMF is unique up to scaling and order: our W and H
    // are the lecture's up to a positive factor per topic, and the other entries vanish.
    for (lecture_topic, films) in [(1usize, 0usize), (0, 3)] {
        let ours_topic = ft[films];
        let ratio_w = topics.w()[(if lecture_topic == 1 { 0 } else { 4 }, ours_topic)]
            / lecture_films::LECTURE_W[if lecture_topic == 1 { 0 } else { 4 }][lecture_topic];
        for u in 0..7 {
            let expected = ratio_w * lecture_films::LECTURE_W[u][lecture_topic];
            assert!(
                (topics.w()[(u, ours_topic)] - expected).abs() < 1e-6,
                "W[{u}]"
            );
        }
        let ratio_h =
            topics.h()[(ours_topic, films)] / lecture_films::LECTURE_H[lecture_topic][films];
        for j in 0..5 {
            let expected = ratio_h * lecture_films::LECTURE_H[lecture_topic][j];
            assert!(
                (topics.h()[(ours_topic, j)] - expected).abs() < 1e-6,
                "H[{j}]"
            );
        }
    }
    // Zeros as missing: the observed entries are fitted (rounded, as the lecture shows them);
    // the unseen ones depend on the initialisation, so they are not asserted.
    for u in 0..7 {
        for i in 0..5 {
            let r = lecture_films::R[u][i];
            if r > 0.0 {
                assert_eq!(
                    missing.factors().entry(u, i).round(),
                    r,
                    "user {u} film {i}"
                );
            }
        }
    }
}

#[test]
fn slides_black_mirror_estimate_matches() {
    let out = slides::compute().unwrap();
    // The fit is as good as the slides' (both reach the same error, 6.350, to 3 decimals).
    let x = slides::x();
    let slides_w = DMatrix::from_fn(7, 2, |i, a| slides::SLIDES_W[i][a]);
    let slides_h = DMatrix::from_fn(2, 5, |a, j| slides::SLIDES_H[a][j]);
    let theirs = (&x - &slides_w * &slides_h).norm();
    let ours = (&x - out.model.w() * out.model.h()).norm();
    assert!(ours <= theirs + 1e-3, "ours {ours} vs slides {theirs}");
    // Our cosine on the slides' own W reproduces their similarity matrix (to its 3 decimals,
    // plus the rounding of the printed W).
    let nb = cnmf_family::ItemNeighbours::from_rows(&slides_w).unwrap();
    for a in 0..7 {
        for b in 0..7 {
            let s = nb.cosine(a as u32, b as u32).unwrap();
            assert!(
                (s - slides::SLIDES_S[a][b]).abs() < 2e-3,
                "S[{a}][{b}]: {s}"
            );
        }
    }
    // Black Mirror's three nearest shows are the slides' (Sacred Games, GoT, TBBT), in order.
    // Stable because Black Mirror and Sacred Games are rated only by the thriller viewers, so
    // both sit on one axis (cosine 1) and GoT next to them; TBBT wins third place over Quantico
    // by a clear margin (0.79 vs 0.71 here, 0.722 vs 0.640 in the slides).
    let names: Vec<usize> = out
        .estimate
        .neighbours
        .iter()
        .map(|n| n.item as usize)
        .collect();
    assert_eq!(names, slides::SLIDES_NEIGHBOURS);
    for (n, w) in out.estimate.neighbours.iter().zip(slides::SLIDES_WEIGHTS) {
        assert!((n.weight - w).abs() < 1e-15);
    }
    // The estimate: Jai rated neither Sacred Games nor GoT (count as 0), and TBBT 4.7, so it is
    // 3/12 x 4.7 = 1.175 exactly whenever the neighbour set is right; tolerance for rounding.
    assert!(
        (out.estimate.value - slides::SLIDES_ESTIMATE).abs() < 1e-9,
        "{}",
        out.estimate.value
    );
    assert!((out.estimate_from_slides_w.value - slides::SLIDES_ESTIMATE).abs() < 1e-9);
    // The slides' reading of W: Black Mirror and Sacred Games contribute nothing to the sitcom
    // category (Modern Family's), and Modern Family nothing to the thriller one.
    let w = out.model.w();
    let sitcom = if w[(3, 0)] > w[(3, 1)] { 0 } else { 1 };
    let thriller = 1 - sitcom;
    for show in [2, 4] {
        assert!(
            w[(show, sitcom)] < 1e-3 * w[(show, thriller)],
            "{} = {}",
            slides::SHOWS[show],
            w.row(show)
        );
    }
    assert!(w[(3, thriller)] < 1e-3 * w[(3, sitcom)]);
}
