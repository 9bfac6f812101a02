//! A review bomb against plain NMF and Corrective NMF, end to end: take made-up data of
//! MovieLens 100K's shape (or a ratings file given as the argument), inject a low-knowledge
//! review bomb (5% of the users as new accounts rating the best-liked item with at least 100
//! ratings 1 star, and 19 other items at random), fit ignore-missing and ignore-corrupt
//! on the clean and the attacked data from the same start, and print the mean absolute
//! prediction shift of the target and how well the corruption flags find the bomb.
//!
//! Run: `cargo run --release -p cnmf-attacks --example review_bomb [-- data/ml-100k/u.data]`

use cnmf_attacks::{attack, AttackSize, AttackSpec, TargetChoice};
use cnmf_engine::{Algorithm, NmfParams};
use cnmf_metrics::{entry_detection, prediction_shift};
use cnmf_ratings::synthetic::SyntheticParams;
use cnmf_ratings::{load, LoadOptions, Ratings};

/// The best-liked item among those with at least 100 ratings: what a review bomb goes after.
fn favourite(data: &Ratings) -> u32 {
    (0..data.n_items() as u32)
        .filter(|&i| data.item(i).0.len() >= 100)
        .max_by(|&a, &b| mean(data, a).total_cmp(&mean(data, b)))
        .unwrap_or(0)
}

fn mean(data: &Ratings, item: u32) -> f64 {
    let values = data.item(item).1;
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clean = match std::env::args().nth(1) {
        Some(path) => load(&path, &LoadOptions::default())?,
        None => SyntheticParams::ml100k().seed(7).check()?.generate(),
    };
    let spec = AttackSpec::low_knowledge()
        .size(AttackSize::Fraction(0.05))
        .targets(TargetChoice::Indices(vec![favourite(&clean)]))
        .seed(11);
    let attacked = attack(&clean, &spec)?;
    let target = attacked.truth.targets()[0];
    let genuine: Vec<u32> = (0..clean.n_users() as u32).collect();
    println!(
        "data: {} users x {} items, {} ratings; attack: {} new accounts rate item {} ({} genuine ratings, mean {:.2}) 1 star",
        clean.n_users(),
        clean.n_items(),
        clean.nnz(),
        attacked.truth.adversaries().len(),
        clean.items().external(target),
        clean.item(target).0.len(),
        mean(&clean, target),
    );

    for algorithm in [Algorithm::IgnoreMissing, Algorithm::IgnoreCorrupt] {
        let params = NmfParams::new(20, algorithm)
            .noise_model(1.0, 0.05)
            .warmup_iters(10)
            .max_iters(40)
            .seed(3)
            .check()?;
        let before = params.fit(&clean)?;
        let after = params.fit(&attacked.ratings)?;
        let shift = prediction_shift(&before, &after, &clean, &genuine, target)?;
        let found = entry_detection(
            after.corrupt_entries().iter().copied(),
            attacked.truth.entry_pairs(),
        );
        println!(
            "{algorithm:<15} mean absolute prediction shift {:.3} (signed {:+.3}); \
             flagged {} ratings, {} of the {} injected ones, {} of the {} bomb ratings of the target",
            shift.maps,
            shift.mean_shift,
            after.corrupt_entries().len(),
            found.true_positives,
            attacked.truth.entries().len(),
            after
                .corrupt_entries()
                .iter()
                .filter(|&&(u, i)| i == target && attacked.truth.is_adversary(u))
                .count(),
            attacked.truth.adversaries().len(),
        );
    }
    Ok(())
}
