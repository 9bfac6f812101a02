//! Loading and generating rating data.
//!
//! - `load/ml-100k`: the real MovieLens 100K `u.data` (only when `CNMF_DATA` points at a
//!   directory holding `ml-100k/u.data`; otherwise the reason is printed and it is skipped);
//! - `load/ratings.dat-1m`: a generated data set of ML-1M shape (1,000,209 ratings) written in
//!   `ratings.dat` format to a temporary directory at start;
//! - `generate/ml1m`: the synthetic generator's ML-1M preset.
//!
//! ```text
//! CNMF_DATA=/path/to/data cargo bench -p cnmf-benches --bench loading -- --warm-up-time 1 --measurement-time 3
//! ```

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::path::PathBuf;

use cnmf_ratings::synthetic::SyntheticParams;
use cnmf_ratings::{load, write, Format, LoadOptions};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn ml100k_path() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("CNMF_DATA") else {
        eprintln!("load/ml-100k skipped: CNMF_DATA is not set");
        return None;
    };
    let path = PathBuf::from(dir).join("ml-100k/u.data");
    if !path.is_file() {
        eprintln!("load/ml-100k skipped: {} does not exist", path.display());
        return None;
    }
    Some(path)
}

fn loading(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    let opts = LoadOptions::default();
    if let Some(path) = ml100k_path() {
        group.throughput(Throughput::Elements(100_000));
        group.bench_function(BenchmarkId::new("ml-100k", "u.data"), |b| {
            b.iter(|| load(&path, &opts).expect("u.data loads"))
        });
    }

    let params = SyntheticParams::ml1m()
        .seed(1)
        .check()
        .expect("preset is valid");
    let generated = params.generate();
    let dir = std::env::temp_dir().join(format!("cnmf-bench-loading-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("ratings.dat");
    write(&generated, &path, Format::MovieLens).expect("write ratings.dat");
    let nnz = generated.nnz();
    drop(generated);
    group.throughput(Throughput::Elements(nnz as u64));
    group.bench_function(BenchmarkId::new("ratings.dat", "1m"), |b| {
        b.iter(|| load(&path, &opts).expect("generated file loads"))
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);

    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(params.params().n_ratings as u64));
    group.bench_function("ml1m", |b| b.iter(|| params.generate()));
    group.finish();
}

criterion_group!(benches, loading);
criterion_main!(benches);
