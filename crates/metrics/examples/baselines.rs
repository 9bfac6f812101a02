//! The accuracy any rating model must beat: global mean, user mean and item mean predictors on a
//! seeded 90/10 split, as plain closures (every `Fn(u32, u32) -> f64` is a `Predictor`).
//!
//! Run: `cargo run --release -p cnmf-metrics --example baselines [-- data/ml-100k/u.data]`
//! (without a file: made-up data of MovieLens 100K's shape).

use cnmf_metrics::accuracy_of;
use cnmf_ratings::split::random_holdout;
use cnmf_ratings::synthetic::SyntheticParams;
use cnmf_ratings::{load, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = match std::env::args().nth(1) {
        Some(path) => load(&path, &LoadOptions::default())?,
        None => SyntheticParams::ml100k().seed(7).check()?.generate(),
    };
    let split = random_holdout(&data, 0.1, 42)?;
    let train = &split.train;
    let global = train.mean();
    // Means of a row or column of the training matrix; the global mean where it is empty.
    let mean_or = |values: &[f64]| {
        if values.is_empty() {
            global
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    };
    let user_means: Vec<f64> = (0..train.n_users() as u32)
        .map(|u| mean_or(train.user(u).1))
        .collect();
    let item_means: Vec<f64> = (0..train.n_items() as u32)
        .map(|i| mean_or(train.item(i).1))
        .collect();

    println!(
        "{} training and {} held-out ratings",
        train.nnz(),
        split.test.len()
    );
    println!(
        "{:<12} {:>7} {:>7} {:>7}",
        "predictor", "NMAE", "MAE", "RMSE"
    );
    let report =
        |name: &str, predict: &dyn Fn(u32, u32) -> f64| -> Result<(), Box<dyn std::error::Error>> {
            let a = accuracy_of(&predict, &split.test, train.scale())?;
            println!("{name:<12} {:>7.4} {:>7.4} {:>7.4}", a.nmae, a.mae, a.rmse);
            Ok(())
        };
    report("global mean", &|_, _| global)?;
    report("user mean", &|u, _| user_means[u as usize])?;
    report("item mean", &|_, i| item_means[i as usize])?;
    Ok(())
}
