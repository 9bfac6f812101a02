//! The column pass of the algorithms that ignore flagged entries runs tile by tile of users
//! once the user factors outgrow the cache; every tiling must give the bits of one pass.

use crate::common;

use cnmf_engine::{Algorithm, FitOptions, NmfModel, NmfParams, Precision};
use cnmf_ratings::Ratings;
use common::{random_instance, trace_bits};

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

/// Every algorithm (the tiles apply to those whose column pass ignores flagged entries; the
/// others must ignore the option), both precisions, a rank compiled as a constant and one that
/// is not, 2, 3 and 9 tiles against 1.
#[test]
fn every_tiling_gives_the_same_bits() {
    // Rows of about 20 entries, columns of about 125.
    let data = random_instance(2500, 400, 0.05, 11);
    for alg in Algorithm::ALL {
        for precision in [Precision::F64, Precision::F32] {
            for k in [20, 13] {
                let one = fit(&data, alg, k, precision, 1);
                assert!(one.trace().len() > 1);
                for tiles in [2, 3, 9] {
                    let what = format!("{alg}, {precision:?}, k = {k}, {tiles} tiles");
                    assert_same(&fit(&data, alg, k, precision, tiles), &one, &what);
                }
            }
        }
    }
}

/// Tiles of one user, and more tiles than users (some empty).
#[test]
fn tiles_of_one_user_or_none_give_the_same_bits() {
    let data = random_instance(300, 60, 0.2, 13);
    for precision in [Precision::F64, Precision::F32] {
        let one = fit(&data, Algorithm::IgnoreCorrupt, 20, precision, 1);
        assert!(!one.corrupt_entries().is_empty(), "some entries flagged");
        for tiles in [300, 301, 450] {
            let what = format!("{precision:?}, {tiles} tiles");
            let tiled = fit(&data, Algorithm::IgnoreCorrupt, 20, precision, tiles);
            assert_same(&tiled, &one, &what);
        }
    }
}
