//! The real MovieLens 100K file, when `CNMF_DATA` points at a directory holding
//! `ml-100k/u.data`; skipped (with the reason on stderr) otherwise.

use std::path::PathBuf;

use cnmf_ratings::{load, Format, LoadOptions, RatingScale};

fn ml100k() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("CNMF_DATA") else {
        eprintln!("skipped: CNMF_DATA is not set (point it at a directory holding ml-100k/u.data)");
        return None;
    };
    let path = PathBuf::from(dir).join("ml-100k/u.data");
    if !path.is_file() {
        eprintln!("skipped: {} does not exist", path.display());
        return None;
    }
    Some(path)
}

#[test]
fn ml100k_has_the_published_shape() {
    let Some(path) = ml100k() else { return };
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
