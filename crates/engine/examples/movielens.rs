//! Fits Corrective NMF (ignore-corrupt) on a MovieLens file and prints a prediction and what was
//! flagged: the library version of `cnmf fit` + `cnmf predict`.
//!
//! Run: `cargo run --release -p cnmf-engine --example movielens -- path/to/ml-100k/u.data`
//! (any ratings file the loader reads: `ratings.dat`, `u.data`, CSV with a header).

use cnmf_engine::{Algorithm, NmfParams};
use cnmf_ratings::{load, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: movielens PATH/TO/RATINGS (e.g. data/ml-100k/u.data)")?;
    let data = load(&path, &LoadOptions::default())?;
    let model = NmfParams::new(20, Algorithm::IgnoreCorrupt)
        .noise_model(1.0, 0.05) // lambda from (sigma, p); or .lambda(4.0)
        .warmup_iters(10)
        .max_iters(40)
        .seed(7)
        .check()? // every parameter is checked before any work
        .fit(&data)?;
    println!(
        "{} users x {} items, {} ratings; lambda = {:.3}",
        data.n_users(),
        data.n_items(),
        data.nnz(),
        model.params().lambda().unwrap_or(f64::NAN)
    );
    // The first user's first unrated item, by external ids.
    let (u, i) = (
        0,
        (0..data.n_items() as u32)
            .find(|&i| data.get(0, i).is_none())
            .unwrap_or(0),
    );
    println!(
        "user {} -> item {}: {:.2} (clipped to the rating scale)",
        data.users().external(u),
        data.items().external(i),
        model.predict(u, i)
    );
    println!(
        "{} of {} ratings flagged as corrupt",
        model.corrupt_entries().len(),
        data.nnz()
    );
    Ok(())
}
