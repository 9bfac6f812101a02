//! The real MovieLens 100K file, from `CNMF_DATA`. Ignored by default; run it with
//! `cargo test -- --ignored` (it fails, saying why, when the data are not there).

use cnmf_ratings::discover::require_ml100k;
use cnmf_ratings::{load, Format, LoadOptions, RatingScale};

#[test]
#[ignore = "needs MovieLens 100K: set CNMF_DATA to the folder holding ml-100k/"]
fn ml100k_has_the_published_shape() {
    let path = require_ml100k();
    assert_eq!(Format::Auto.detect(&path).unwrap(), Format::Ml100k);
    let r = load(&path, &LoadOptions::default()).unwrap();
    // Figures from the data set's README: 943 users, 1682 items, 100000 ratings on 1..5, and
    // every user has rated at least 20 movies.
    assert_eq!(r.n_users(), 943);
    assert_eq!(r.n_items(), 1682);
    assert_eq!(r.nnz(), 100_000);
    assert_eq!(r.scale(), RatingScale::MOVIELENS);
    let (min, max) = r
        .csr()
        .data()
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    assert_eq!((min, max), (1.0, 5.0));
    assert!(r.csr().data().iter().all(|v| v.fract() == 0.0));
    for u in 0..r.n_users() as u32 {
        assert!(
            r.user_count(u) >= 20,
            "user {} has {} ratings",
            r.users().external(u),
            r.user_count(u)
        );
    }
    assert!(r.items().iter().all(|i| r.items().index(i).is_some()));
    assert_eq!(r.csc().nnz(), 100_000);
}
