//! Early stopping across ranks: the validation split each rank gets from rank 0, and the
//! early-stopped fit against the engine's on the same split.

use cnmf_cli::api::validation_split;
use cnmf_distributed::{
    distribute_holdout, fit_rank_with, gather_model, Communicator, Shard, ThreadRanks,
};
use cnmf_engine::{Algorithm, FitOptions, NmfModel, StopReason, ValidNmfParams};
use cnmf_ratings::{Ratings, Split};

use crate::common::{fixture, guarded_fixture, max_rel_diff, params};

/// The early-stopped fit of `es` on `ranks` threads: rank 0 holds `data` and `split`.
fn fit_held_out(es: &ValidNmfParams, data: &Ratings, split: &Split, ranks: usize) -> NmfModel {
    let shards = Shard::split(data, ranks).unwrap();
    ThreadRanks::run(ranks, |comm| {
        let r = comm.rank();
        let held = distribute_holdout(&shards[r], (r == 0).then_some((data, split)), comm).unwrap();
        let train = (r == 0).then_some(&split.train);
        let fit = fit_rank_with(es, &held.shard, train, Some(&held.validation), comm).unwrap();
        gather_model(es, train, fit, comm).unwrap()
    })
    .into_iter()
    .flatten()
    .next()
    .expect("rank 0's model")
}

/// Each rank's training shard is the shard of the training set the single-process fit uses
/// (same ratings, mean and item counts), and the ranks' validation ratings, in rank order, are
/// the held-out ratings.
#[test]
fn every_rank_gets_its_users_part_of_the_split() {
    let data = guarded_fixture();
    let split = validation_split(&data, 0.1, 3).unwrap();
    assert!(!split.test.is_empty());
    for ranks in 1..=4 {
        let shards = Shard::split(&data, ranks).unwrap();
        let parts = ThreadRanks::run(ranks, |comm| {
            let r = comm.rank();
            distribute_holdout(&shards[r], (r == 0).then_some((&data, &split)), comm).unwrap()
        });
        let mut validation = Vec::new();
        for (part, shard) in parts.iter().zip(&shards) {
            let want = Shard::from_ratings(&split.train, shard.user_start, shard.user_end).unwrap();
            assert_eq!(part.shard, want, "P={ranks}");
            validation.extend_from_slice(&part.validation);
        }
        assert_eq!(validation, split.test, "P={ranks}");
    }
}

/// The early-stopped fit on P = 1..4 ranks keeps the engine's best iteration and stop reason,
/// records its validation NMAE at every iteration (to 1e-12 relative) and predicts as the
/// engine's early-stopped model to 1e-9 relative.
#[test]
fn early_stopping_agrees_with_the_engine_on_1_to_4_ranks() {
    for (alg, data) in [
        (Algorithm::IgnoreCorrupt, fixture()),
        (Algorithm::ReplaceCorrupt, fixture()),
        (Algorithm::Huber, fixture()),
        (Algorithm::Guarded, guarded_fixture()),
    ] {
        let split = validation_split(&data, 0.2, 7).unwrap();
        let es = params(alg, 6, 300)
            .params()
            .clone()
            .l2_w(0.0)
            .l2_h(0.0)
            .early_stopping(5)
            .check()
            .unwrap();
        let engine = es
            .fit_with(&split.train, FitOptions::new().validation(&split.test))
            .unwrap();
        // guarded does not stop early on the fixture within 300 iterations (its kept
        // iteration is still the best one's); the others stop early on an earlier one.
        if alg != Algorithm::Guarded {
            assert!(
                matches!(engine.stop_reason(), StopReason::EarlyStopped { .. }),
                "{alg}: the engine did not stop early ({:?}), the test would not test it",
                engine.stop_reason()
            );
            assert!(
                engine.iterations() < engine.trace().last().unwrap().iteration,
                "{alg}: kept the last iteration"
            );
        }
        for ranks in 1..=4 {
            let model = fit_held_out(&es, &data, &split, ranks);
            assert_eq!(model.iterations(), engine.iterations(), "{alg} P={ranks}");
            assert_eq!(model.stop_reason(), engine.stop_reason(), "{alg} P={ranks}");
            assert_eq!(model.trace().len(), engine.trace().len(), "{alg} P={ranks}");
            for (a, b) in engine.trace().iter().zip(model.trace()) {
                let (x, y) = (a.validation_nmae.unwrap(), b.validation_nmae.unwrap());
                assert!(
                    (x - y).abs() <= 1e-12 * x,
                    "{alg} P={ranks} iteration {}: NMAE {x} vs {y}",
                    a.iteration
                );
            }
            let d = max_rel_diff(&split.train, &engine, &model);
            assert!(d <= 1e-9, "{alg} P={ranks}: relative difference {d:e}");
            assert_eq!(model.corrupt_entries(), engine.corrupt_entries());
        }
    }
}

/// Early stopping with no validation rating on any rank is refused on every rank, as the
/// engine refuses it.
#[test]
fn early_stopping_without_validation_ratings_is_an_error() {
    let data = fixture();
    let es = params(Algorithm::IgnoreMissing, 3, 20)
        .params()
        .clone()
        .early_stopping(5)
        .check()
        .unwrap();
    let shards = Shard::split(&data, 2).unwrap();
    let errors = ThreadRanks::run(2, |comm| {
        let r = comm.rank();
        let root = (r == 0).then_some(&data);
        fit_rank_with(&es, &shards[r], root, Some(&[]), comm)
            .err()
            .map(|e| e.to_string())
    });
    for e in errors {
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("needs validation ratings")),
            "{e:?}"
        );
    }
}
