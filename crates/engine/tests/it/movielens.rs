//! A short MovieLens 100K run of every algorithm (`#[ignore]`d: run with `-- --ignored` and
//! `CNMF_DATA` set; it fails, saying why, when the data are not there).

use cnmf_engine::{init_factors, Algorithm, FitOptions, NmfParams};
use cnmf_metrics::accuracy_of;
use cnmf_ratings::{DuplicatePolicy, RatingScale, Ratings, Triple};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `$CNMF_DATA/ml-100k/u.data` (user, item, rating, timestamp separated by tabs).
fn load_ml100k() -> Ratings {
    let path = cnmf_ratings::discover::require_ml100k();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("CNMF_DATA is set but {} is unreadable: {e}", path.display()));
    let rows: Vec<(&str, &str, f64)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{}: bad line {l:?}", path.display());
            (f[0], f[1], f[2].parse().expect("numeric rating"))
        })
        .collect();
    Ratings::from_external(rows, RatingScale::MOVIELENS).expect("valid u.data")
}

#[test]
#[ignore = "needs MovieLens 100K: set CNMF_DATA to the folder holding ml-100k/"]
fn every_algorithm_predicts_movielens_100k() {
    let data = load_ml100k();
    assert_eq!(data.nnz(), 100_000);
    let mut all = data.triples();
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(2024));
    let test: Vec<Triple> = all.split_off(all.len() * 9 / 10);
    let train = data.with_triples(&all, DuplicatePolicy::Error).unwrap();
    let k = 20;
    let init = init_factors(train.n_users(), train.n_items(), k, train.mean(), 7).unwrap();
    for alg in Algorithm::ALL {
        let model = NmfParams::new(k, alg)
            .lambda(2.0)
            .max_iters(30)
            .check()
            .unwrap()
            .fit_with(&train, FitOptions::new().initial(&init))
            .unwrap();
        let acc = accuracy_of(&model, &test, train.scale()).unwrap();
        eprintln!(
            "ML-100K, 90/10 split, k = {k}, 30 iterations, lambda = 2: {alg}: test NMAE {:.4}, \
             RMSE {:.4}, {} flagged",
            acc.nmae,
            acc.rmse,
            model.corrupt_entries().len()
        );
        assert!(
            acc.nmae.is_finite() && acc.nmae < 0.25,
            "{alg}: NMAE {}",
            acc.nmae
        );
    }
}
