//! `Precision::F32`: deterministic on its own (thread counts, instruction sets), really `f32`,
//! close to `f64` in test NMAE on MovieLens 100K, and a parameter that old files read as `f64`.

use crate::common::{random_instance, trace_bits};

use cnmf_engine::numeric::Isa;
use cnmf_engine::{Algorithm, FitOptions, NmfModel, NmfParams, Precision, ValidNmfParams};
use cnmf_metrics::accuracy_of;
use cnmf_ratings::{DuplicatePolicy, RatingScale, Ratings, Triple};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn params(alg: Algorithm, k: usize, threads: usize, precision: Precision) -> ValidNmfParams {
    NmfParams::new(k, alg)
        .lambda(1.5)
        .l2_w(0.05)
        .l2_h(0.05)
        .warmup_iters(1)
        .max_iters(6)
        .threads(threads)
        .seed(23)
        .precision(precision)
        .check()
        .unwrap()
}

fn fit(data: &Ratings, alg: Algorithm, k: usize, threads: usize, isa: Isa) -> NmfModel {
    params(alg, k, threads, Precision::F32)
        .fit_with(data, FitOptions::new().isa(isa))
        .unwrap()
}

fn same(a: &NmfModel, b: &NmfModel, what: &str) {
    assert!(a.factors().w() == b.factors().w(), "{what}: W differs");
    assert!(a.factors().h() == b.factors().h(), "{what}: H differs");
    assert_eq!(a.corrupt_entries(), b.corrupt_entries(), "{what}");
    assert_eq!(trace_bits(a), trace_bits(b), "{what}");
}

/// Every algorithm in `f32`, at a rank compiled as a constant and a generic one: the same bits
/// for 1, 2 and 4 threads and on every instruction set this CPU has; the factors are `f32`
/// values (exact in `f32`) and differ from the `f64` fit's.
#[test]
fn f32_fits_are_deterministic_and_really_f32() {
    let data = random_instance(1500, 300, 0.05, 11);
    for alg in Algorithm::ALL {
        for k in [20, 13] {
            let reference = fit(&data, alg, k, 1, Isa::Portable);
            for threads in [2, 4] {
                let other = fit(&data, alg, k, threads, Isa::Portable);
                same(
                    &other,
                    &reference,
                    &format!("{alg} k = {k}: {threads} threads vs 1"),
                );
            }
            for isa in [Isa::Avx2, Isa::Avx512] {
                let other = fit(&data, alg, k, 2, isa);
                same(
                    &other,
                    &reference,
                    &format!("{alg} k = {k}: {isa:?} vs portable"),
                );
            }
            let f = reference.factors();
            assert!(
                f.w().iter().chain(f.h()).all(|&x| f64::from(x as f32) == x),
                "{alg} k = {k}: f32 factors not exact in f32"
            );
            let wide = params(alg, k, 2, Precision::F64).fit(&data).unwrap();
            assert!(
                wide.factors().w() != f.w(),
                "{alg} k = {k}: the f32 fit gave the f64 fit's factors"
            );
            assert_eq!(reference.params().precision(), Precision::F32);
        }
    }
}

#[test]
fn precision_reads_writes_and_defaults_to_f64() {
    let p = NmfParams::new(5, Algorithm::IgnoreMissing).precision(Precision::F32);
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["precision"], "f32");
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("precision");
    let back: NmfParams = serde_json::from_value(old).unwrap();
    assert_eq!(back.check().unwrap().precision(), Precision::F64);
    let again: NmfParams = serde_json::from_value(json).unwrap();
    assert_eq!(again, p);
    let mut bad = serde_json::to_value(&p).unwrap();
    bad["precision"] = "f16".into();
    assert!(serde_json::from_value::<NmfParams>(bad).is_err());
}

/// The training part of a seeded 90/10 split of MovieLens 100K and its test part, or `None`
/// (printed) when the data are not where discovery looks.
fn ml100k_split() -> Option<(Ratings, Vec<Triple>)> {
    let dir = cnmf_ratings::discover::data_dir();
    let path = dir.join("ml-100k").join("u.data");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipped: no MovieLens 100K at {} (set CNMF_DATA to the folder holding ml-100k/)",
            path.display()
        );
        return None;
    };
    let rows: Vec<(&str, &str, f64)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0], f[1], f[2].parse().expect("numeric rating"))
        })
        .collect();
    let data = Ratings::from_external(rows, RatingScale::MOVIELENS).expect("valid u.data");
    let mut all = data.triples();
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(2024));
    let test = all.split_off(all.len() * 9 / 10);
    Some((
        data.with_triples(&all, DuplicatePolicy::Error).unwrap(),
        test,
    ))
}

/// The requirement of the `f32` option: on the same split and seed, test NMAE within 0.0005
/// of the `f64` fit's, for every algorithm.
#[test]
fn f32_nmae_is_within_half_a_thousandth_of_f64_on_movielens_100k() {
    let Some((train, test)) = ml100k_split() else {
        return;
    };
    for alg in Algorithm::ALL {
        let nmae = |precision| {
            let model = NmfParams::new(20, alg)
                .lambda(3.88)
                .warmup_iters(if alg.downweights() { 5 } else { 0 })
                .l2_w(0.1)
                .l2_h(0.1)
                .l2_per_rating(true)
                .max_iters(40)
                .seed(7)
                .precision(precision)
                .check()
                .unwrap()
                .fit(&train)
                .unwrap();
            accuracy_of(&model, &test, train.scale()).unwrap().nmae
        };
        let (wide, narrow) = (nmae(Precision::F64), nmae(Precision::F32));
        eprintln!("{alg}: test NMAE f64 {wide:.5}, f32 {narrow:.5}");
        assert!(
            (wide - narrow).abs() <= 0.0005,
            "{alg}: f64 {wide}, f32 {narrow}"
        );
    }
}
