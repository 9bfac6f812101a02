//! The column pass of the algorithms that ignore flagged entries runs tile by tile of users
//! once the user factors outgrow the cache; every tiling must give the bits of one pass, with
//! the tiles' entries packed (ratings on a star scale) or cut from the columns (any values).

use crate::common;

use cnmf_engine::{Algorithm, FitOptions, NmfModel, NmfParams, Precision};
use cnmf_ratings::{RatingScale, Ratings, Triple};
use common::{random_instance, ratings, trace_bits};

fn fit(data: &Ratings, alg: Algorithm, k: usize, precision: Precision, tiles: usize) -> NmfModel {
    NmfParams::new(k, alg)
        .lambda(1.5)
        .warmup_iters(1)
        .max_iters(6)
        .threads(2)
        .seed(29)
        .precision(precision)
        .check()
        .unwrap()
        .fit_with(data, FitOptions::new().column_tiles(tiles))
        .unwrap()
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn assert_same(a: &NmfModel, b: &NmfModel, what: &str) {
    assert_eq!(bits(a.factors().w()), bits(b.factors().w()), "{what}: W");
    assert_eq!(bits(a.factors().h()), bits(b.factors().h()), "{what}: H");
    assert_eq!(a.corrupt_entries(), b.corrupt_entries(), "{what}: flags");
    assert_eq!(trace_bits(a), trace_bits(b), "{what}: trace");
}

/// `data` with every rating rounded to a half star: few distinct values, so the tiles are
/// packed.
fn on_half_stars(data: &Ratings) -> Ratings {
    let t: Vec<Triple> = data
        .iter()
        .map(|t| Triple::new(t.user, t.item, (t.value * 2.0).round() / 2.0))
        .collect();
    ratings(data.n_users(), data.n_items(), &t, RatingScale::MOVIELENS)
}

/// Every algorithm (the tiles apply to those whose column pass ignores flagged entries; the
/// others must ignore the option), both precisions, a rank compiled as a constant and one that
/// is not, 2, 3 and 9 tiles against 1, packed and cut.
#[test]
fn every_tiling_gives_the_same_bits() {
    // Rows of about 20 entries, columns of about 125.
    let any = random_instance(2500, 400, 0.05, 11);
    for (data, form) in [(on_half_stars(&any), "packed"), (any, "cut")] {
        every_tiling_on(&data, form);
    }
}

fn every_tiling_on(data: &Ratings, form: &str) {
    for alg in Algorithm::ALL {
        for precision in [Precision::F64, Precision::F32] {
            for k in [20, 13] {
                let one = fit(data, alg, k, precision, 1);
                assert!(one.trace().len() > 1);
                for tiles in [2, 3, 9] {
                    let what = format!("{alg}, {precision:?}, k = {k}, {tiles} tiles, {form}");
                    assert_same(&fit(data, alg, k, precision, tiles), &one, &what);
                }
            }
        }
    }
}

/// Tiles of one user, and more tiles than users (some empty).
#[test]
fn tiles_of_one_user_or_none_give_the_same_bits() {
    let any = random_instance(300, 60, 0.2, 13);
    for (data, precision) in [
        (on_half_stars(&any), Precision::F64),
        (on_half_stars(&any), Precision::F32),
        (any.clone(), Precision::F64),
        (any, Precision::F32),
    ] {
        let one = fit(&data, Algorithm::IgnoreCorrupt, 20, precision, 1);
        assert!(!one.corrupt_entries().is_empty(), "some entries flagged");
        for tiles in [300, 301, 450] {
            let what = format!("{precision:?}, {tiles} tiles");
            let tiled = fit(&data, Algorithm::IgnoreCorrupt, 20, precision, tiles);
            assert_same(&tiled, &one, &what);
        }
    }
}

/// Tiles too wide for packed offsets (more than 65,536 users) fall back to cut points, with
/// the same bits.
#[test]
fn tiles_too_wide_to_pack_give_the_same_bits() {
    let data = on_half_stars(&random_instance(140_000, 4, 0.02, 17));
    for precision in [Precision::F64, Precision::F32] {
        let one = fit(&data, Algorithm::IgnoreCorrupt, 20, precision, 1);
        for tiles in [2, 3] {
            let what = format!("{precision:?}, {tiles} tiles of 140,000 users");
            assert_same(
                &fit(&data, Algorithm::IgnoreCorrupt, 20, precision, tiles),
                &one,
                &what,
            );
        }
    }
}
