//! Biased gradient NMF and adversarial MF on MovieLens 100K (`#[ignore]`d: run with
//! `-- --ignored` and `CNMF_DATA` set; it fails, saying why, when the data are not there).

use cnmf_family::{AdversarialParams, BiasedNmfParams};
use cnmf_metrics::accuracy_of;
use cnmf_ratings::{load, split, LoadOptions, Ratings};

/// ML-100K from `$CNMF_DATA/ml-100k/u.data`, or `None` (with the reason printed) to skip.
fn ml100k() -> Ratings {
    let path = cnmf_ratings::discover::require_ml100k();
    load(&path, &LoadOptions::default()).expect("ML-100K loads")
}

#[test]
#[ignore = "needs MovieLens 100K: set CNMF_DATA to the folder holding ml-100k/"]
fn biased_and_adversarial_nmf_predict_held_out_ratings() {
    let data = ml100k();
    assert_eq!(data.nnz(), 100_000);
    let s = split::random_holdout(&data, 0.1, 2024).unwrap();
    let biased = BiasedNmfParams::new(20)
        .seed(1)
        .check()
        .unwrap()
        .fit(&s.train)
        .unwrap();
    let acc = accuracy_of(&biased, &s.test, data.scale()).unwrap();
    eprintln!(
        "biased NMF, k = 20: test NMAE {:.4}, RMSE {:.4}",
        acc.nmae, acc.rmse
    );
    assert!(
        acc.nmae.is_finite() && acc.nmae < 0.22,
        "biased NMF NMAE {}",
        acc.nmae
    );

    let adv = AdversarialParams::new(20)
        .seed(1)
        .check()
        .unwrap()
        .fit(&s.train)
        .unwrap();
    let acc = accuracy_of(&adv, &s.test, data.scale()).unwrap();
    eprintln!(
        "adversarial MF, k = 20: test NMAE {:.4}, RMSE {:.4}",
        acc.nmae, acc.rmse
    );
    assert!(
        acc.nmae.is_finite() && acc.nmae < 0.22,
        "adversarial MF NMAE {}",
        acc.nmae
    );
}
