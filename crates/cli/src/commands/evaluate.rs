//! `cnmf evaluate`: k-fold cross-validation of one algorithm on a ratings file, or (with
//! `--test FILE`) a fit on the data scored on a given test file, such as MovieLens'
//! `u1.base`/`u1.test`.

use std::path::PathBuf;

use clap::Args;
use cnmf_engine::ValidNmfParams;
use cnmf_metrics::{accuracy_of, mean_ranking, user_ranking, RankingMetrics};
use cnmf_ratings::{split, RatingScale, Ratings, Split};
use serde::Serialize;

use crate::commands::recommend::top_n;
use crate::error::{CliError, CliResult};
use crate::fit_args::{
    fit_model, flagged_warning, CheckedParams, DataArgs, DataSummary, FitOutcome, LambdaChoice,
    ParamArgs, StopArgs,
};
use crate::lookup::{self, UnknownPolicy};
use crate::model_file::{ModelFile, TrainingInfo};
use crate::output::{Output, Table};

/// Arguments of `cnmf evaluate`.
#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    params: ParamArgs,
    /// Number of folds: every rating is held out exactly once; each fold trains on the rest.
    /// The assignment is seeded by --seed.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(usize),
          allow_negative_numbers = true)]
    folds: usize,
    /// Instead of folds: fit on --data once and score this ratings file (any format --data
    /// takes, detected on its own, or headerless by --columns; its timestamps are not read),
    /// e.g. MovieLens' `u1.test` after `--data u1.base`.
    #[arg(long, value_name = "FILE", conflicts_with = "folds")]
    test: Option<PathBuf>,
    /// With --test: a test rating whose user or item has no training rating is an `error`
    /// (exit code 5), or predicted by a training `mean` (counted in the report).
    #[arg(long, value_enum, default_value_t = UnknownPolicy::Error)]
    unknown: UnknownPolicy,
    /// With --test: the list length N of the ranking metrics (precision, recall, NDCG and MAP
    /// at N of each test user's top N among the items not rated in training).
    #[arg(long, default_value_t = 10, requires = "test",
          value_parser = clap::value_parser!(u32).range(1..))]
    at: u32,
    /// With --test: a test rating at least this high marks a relevant item for the ranking
    /// metrics (default 4 stars).
    #[arg(
        long,
        default_value_t = 4.0,
        requires = "test",
        allow_negative_numbers = true
    )]
    relevant: f64,
}

/// The result of `--test`.
#[derive(Debug, Clone, Serialize)]
struct TestResult {
    /// The test file.
    test_file: String,
    /// Training ratings.
    train: usize,
    /// Test ratings scored.
    test: usize,
    /// Test ratings predicted by a mean (`--unknown mean`).
    fallbacks: usize,
    nmae: f64,
    mae: f64,
    rmse: f64,
    fit_seconds: f64,
    flagged: usize,
    /// Ranking metrics at `--at`; `null` when no known test user has a relevant rating.
    ranking: Option<Ranking>,
}

/// The ranking metrics of `--test`.
#[derive(Debug, Clone, Serialize)]
struct Ranking {
    /// Test ratings at least this high are relevant.
    relevant_at_least: f64,
    /// Test users with a relevant rating left out because the model does not know them.
    unknown_users: usize,
    #[serde(flatten)]
    metrics: RankingMetrics,
}

#[derive(Serialize)]
struct TestReport<'a> {
    command: &'static str,
    data: &'a DataSummary,
    algorithm: String,
    k: usize,
    lambda: &'a LambdaChoice,
    warmup: usize,
    iterations: usize,
    seed: u64,
    result: &'a TestResult,
}

/// One fold's result.
#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    /// 1-based fold number.
    pub fold: usize,
    /// Training ratings.
    pub train: usize,
    /// Held-out ratings.
    pub test: usize,
    /// Held-out ratings whose user or item has no training rating in this fold (the model
    /// predicts them from the untouched initial factors).
    pub cold_test: usize,
    /// NMAE on the held-out ratings (predictions clipped to the scale).
    pub nmae: f64,
    /// MAE.
    pub mae: f64,
    /// RMSE.
    pub rmse: f64,
    /// Wall-clock seconds of the fit.
    pub fit_seconds: f64,
    /// Iterations the model holds (after early stopping and the refit, if any).
    pub iterations: usize,
    /// Training ratings flagged corrupt.
    pub flagged: usize,
}

/// Mean and sample standard deviation (n - 1) over the folds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub std: f64,
}

impl MeanStd {
    /// Of `xs` (at least two values).
    pub fn of(xs: &[f64]) -> MeanStd {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

#[derive(Serialize)]
struct Summary {
    nmae: MeanStd,
    mae: MeanStd,
    rmse: MeanStd,
    fit_seconds: MeanStd,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    data: &'a DataSummary,
    algorithm: String,
    k: usize,
    lambda: &'a LambdaChoice,
    l2: f64,
    l2_per_rating: bool,
    warmup: usize,
    /// The iteration budget (the early-stopping cap).
    iterations: usize,
    early_stopping: bool,
    seed: u64,
    folds: &'a [FoldResult],
    summary: Summary,
    warnings: &'a [String],
}

/// Runs `cnmf evaluate`.
pub fn run(args: &EvaluateArgs, out: &Output) -> CliResult<()> {
    args.data.check()?;
    let CheckedParams {
        params,
        lambda,
        notes,
    } = args.params.check(args.data.scale)?;
    for n in &notes {
        out.note(n);
    }
    if let Some(test) = &args.test {
        return run_test(args, test, &params, &lambda, out);
    }
    if args.unknown != UnknownPolicy::Error {
        return Err(CliError::Usage(
            "--unknown applies to --test only (k-fold cross-validation predicts every held-out \
             rating from the model)"
                .into(),
        ));
    }
    if args.folds < 2 {
        return Err(CliError::Usage(format!(
            "--folds must be at least 2, got {}",
            args.folds
        )));
    }
    let (data, summary) = args.data.load()?;
    out.info(&format!("data: {}", summary.describe()));
    if args.folds > data.nnz() {
        return Err(CliError::Usage(format!(
            "--folds {} needs at least {} ratings (each fold holds out at least one); {} has {}",
            args.folds,
            args.folds,
            summary.file,
            data.nnz()
        )));
    }
    args.params.check_rank_for(&summary)?;
    if lambda.source.starts_with("default") {
        out.note(&format!(
            "{} needs a corruption threshold; using {}",
            params.algorithm(),
            lambda.describe()
        ));
    }
    let results = cross_validate(
        &params,
        &args.params.stop,
        &data,
        args.folds,
        args.params.seed,
        "",
        out,
    )?;
    let flagged: usize = results.iter().map(|r| r.flagged).sum();
    let train: usize = results.iter().map(|r| r.train).sum();
    let warnings: Vec<String> = flagged_warning(&params, &lambda, flagged, train)
        .into_iter()
        .collect();
    for w in &warnings {
        out.warn(w);
    }
    let col = |g: fn(&FoldResult) -> f64| MeanStd::of(&results.iter().map(g).collect::<Vec<_>>());
    let summary_stats = Summary {
        nmae: col(|r| r.nmae),
        mae: col(|r| r.mae),
        rmse: col(|r| r.rmse),
        fit_seconds: col(|r| r.fit_seconds),
    };
    if out.json {
        return out.json_doc(&Report {
            command: "evaluate",
            data: &summary,
            algorithm: params.algorithm().name().to_string(),
            k: params.rank(),
            lambda: &lambda,
            l2: params.l2_w(),
            l2_per_rating: params.l2_per_rating(),
            warmup: params.warmup_iters(),
            iterations: params.max_iters(),
            early_stopping: !args.params.stop.no_early_stopping,
            seed: params.seed(),
            folds: &results,
            summary: summary_stats,
            warnings: &warnings,
        });
    }
    out.text(&render_text(
        args,
        &params,
        &lambda,
        &results,
        &summary_stats,
    ))
}

/// `--test`: fits on the data and scores the test file.
fn run_test(
    args: &EvaluateArgs,
    test_path: &std::path::Path,
    params: &ValidNmfParams,
    lambda: &LambdaChoice,
    out: &Output,
) -> CliResult<()> {
    if !args.relevant.is_finite() {
        return Err(CliError::Usage(format!(
            "--relevant must be a finite rating, got {}",
            args.relevant
        )));
    }
    // The test file is read first: a bad test file fails before the fit.
    let opts = args.data.load_options().timestamps(false);
    let test = cnmf_ratings::load(test_path, &opts).map_err(CliError::from_ratings)?;
    let (data, summary) = args.data.load()?;
    out.info(&format!("data: {}", summary.describe()));
    args.params.check_rank_for(&summary)?;
    let FitOutcome {
        model, secs, early, ..
    } = fit_model(params, &args.params.stop, &data, out, "fit")?;
    if let Some(e) = &early {
        out.info(&e.describe());
    }
    let flagged = model.corrupt_entries().len();
    let info = TrainingInfo {
        source: summary.file.clone(),
        format: summary.format.clone(),
        n_ratings: data.nnz(),
        fit_seconds: secs,
        cnmf_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let mf = ModelFile::from_fit(model, &data, info);
    let name = test_path.display().to_string();
    let at = format!("{name}: ");
    let mut fallbacks = 0usize;
    let (mut truth, mut predictions) = (Vec::with_capacity(test.nnz()), Vec::new());
    for t in test.iter() {
        let (user, item) = (test.users().external(t.user), test.items().external(t.item));
        let p = lookup::predict(&mf, user, item, args.unknown, &at)?;
        fallbacks += usize::from(p.fallback.is_some());
        truth.push(t.value);
        predictions.push(p.prediction);
    }
    let acc = cnmf_metrics::accuracy(&truth, &predictions, data.scale())
        .map_err(|e| CliError::runtime(format!("{name}: {e}")))?;
    let ranking = ranking(&mf, &test, args.at as usize, args.relevant)
        .map_err(|e| CliError::runtime(format!("{name}: {e}")))?;
    if ranking.is_none() {
        out.note(&format!(
            "no ranking metrics: no test user known to the model has a rating >= {} (--relevant)",
            args.relevant
        ));
    }
    let result = TestResult {
        test_file: name,
        train: data.nnz(),
        test: acc.n,
        fallbacks,
        nmae: acc.nmae,
        mae: acc.mae,
        rmse: acc.rmse,
        fit_seconds: secs,
        flagged,
        ranking,
    };
    if fallbacks > 0 {
        out.note(&format!(
            "{fallbacks} test ratings had a user or item without training ratings and were \
             predicted by a training mean (--unknown mean)"
        ));
    }
    if out.json {
        return out.json_doc(&TestReport {
            command: "evaluate",
            data: &summary,
            algorithm: params.algorithm().name().to_string(),
            k: params.rank(),
            lambda,
            warmup: params.warmup_iters(),
            iterations: params.max_iters(),
            seed: params.seed(),
            result: &result,
        });
    }
    let ranking_text = result.ranking.as_ref().map_or(String::new(), |r| {
        let m = &r.metrics;
        format!(
            "ranking of the items not rated in training, top {n}, relevant = test rating >= {}, \
             {} users{}:\nprecision@{n}  {:.4}\nrecall@{n}     {:.4}\nNDCG@{n}       {:.4}\n\
             MAP@{n}        {:.4}\n",
            r.relevant_at_least,
            m.users,
            if r.unknown_users > 0 {
                format!(" ({} unknown users left out)", r.unknown_users)
            } else {
                String::new()
            },
            m.precision,
            m.recall,
            m.ndcg,
            m.map,
            n = m.at,
        )
    });
    out.text(&format!(
        "{} on {} ({} training ratings), scored on {} ({} ratings{}); k = {}, {}\n\
         NMAE  {:.4}\nMAE   {:.4}\nRMSE  {:.4}\nfit   {:.2} s, {} ratings flagged\n{ranking_text}",
        params.algorithm(),
        summary.file,
        result.train,
        result.test_file,
        result.test,
        if fallbacks > 0 {
            format!(", {fallbacks} by a mean")
        } else {
            String::new()
        },
        params.rank(),
        lambda.describe(),
        result.nmae,
        result.mae,
        result.rmse,
        secs,
        flagged,
    ))
}

/// Precision, recall, NDCG and MAP at `n` over the test users with a rating `>= threshold`:
/// each known user's top `n` of the items it did not rate in training, by raw prediction
/// (ties: lower item index first), against its relevant test items. A relevant test item the
/// model does not know counts as relevant and can never be listed; a test user the model does
/// not know is left out and counted. `None` when no user is left.
fn ranking(
    mf: &ModelFile,
    test: &Ratings,
    n: usize,
    threshold: f64,
) -> Result<Option<Ranking>, cnmf_metrics::MetricsError> {
    let model = mf.model();
    // Each test user's relevant items: model indices, or None for items the model lacks.
    let mut relevant: Vec<Vec<Option<u32>>> = vec![Vec::new(); test.n_users()];
    for t in test.iter().filter(|t| t.value >= threshold) {
        relevant[t.user as usize].push(mf.items().index(test.items().external(t.item)));
    }
    let (mut users, mut unknown_users) = (Vec::new(), 0usize);
    for (tu, items) in relevant.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
        let Some(u) = mf.users().index(test.users().external(tu as u32)) else {
            unknown_users += 1;
            continue;
        };
        let mut known: Vec<u32> = items.iter().flatten().copied().collect();
        known.sort_unstable();
        let top = top_n(
            model.n_items(),
            n,
            mf.rated(u),
            |_| true,
            |i| model.predict_raw(u, i),
        );
        let ranked: Vec<u32> = top.iter().map(|&(i, _)| i).collect();
        let is_relevant = |i: u32| known.binary_search(&i).is_ok();
        users.push(user_ranking(&ranked, is_relevant, items.len(), n)?);
    }
    if users.is_empty() {
        return Ok(None);
    }
    Ok(Some(Ranking {
        relevant_at_least: threshold,
        unknown_users,
        metrics: mean_ranking(&users, n)?,
    }))
}

/// k-fold cross-validation of `params` on `data` (folds drawn with `seed`), each fold fitted
/// as `fit` fits (early stopping per `stop`); `prefix` starts each fold's progress label and
/// informational line. `evaluate` and `tune` share it.
pub fn cross_validate(
    params: &ValidNmfParams,
    stop: &StopArgs,
    data: &Ratings,
    folds: usize,
    seed: u64,
    prefix: &str,
    out: &Output,
) -> CliResult<Vec<FoldResult>> {
    let split = split::k_fold(data, folds, seed).map_err(CliError::from_ratings)?;
    let scale = data.scale();
    let mut results = Vec::with_capacity(folds);
    for f in 0..folds {
        let label = format!("{prefix}fold {}/{folds}", f + 1);
        let r = run_fold(params, stop, &split.fold(f), f, &label, scale, out)?;
        out.info(&format!(
            "{label}: NMAE {:.4}, MAE {:.4}, RMSE {:.4}, {} iterations, fit {:.2} s",
            r.nmae, r.mae, r.rmse, r.iterations, r.fit_seconds
        ));
        results.push(r);
    }
    Ok(results)
}

/// Fits fold `f` (0-based) on its training part and measures it on its held-out part.
fn run_fold(
    params: &ValidNmfParams,
    stop: &StopArgs,
    s: &Split,
    f: usize,
    label: &str,
    scale: RatingScale,
    out: &Output,
) -> CliResult<FoldResult> {
    let FitOutcome { model, secs, .. } = fit_model(params, stop, &s.train, out, label)?;
    let acc = accuracy_of(&model, &s.test, scale)
        .map_err(|e| CliError::runtime(format!("{label}: {e}")))?;
    let cold_test = s
        .test
        .iter()
        .filter(|t| s.train.user_count(t.user) == 0 || s.train.item_count(t.item) == 0)
        .count();
    Ok(FoldResult {
        fold: f + 1,
        train: s.train.nnz(),
        test: s.test.len(),
        cold_test,
        nmae: acc.nmae,
        mae: acc.mae,
        rmse: acc.rmse,
        fit_seconds: secs,
        iterations: model.iterations(),
        flagged: model.corrupt_entries().len(),
    })
}

/// How the iterations were chosen, in words.
pub fn iterations_note(stop: &StopArgs, max_iters: usize) -> String {
    if stop.no_early_stopping {
        format!("{max_iters} iterations")
    } else {
        format!(
            "early stopping on {}% of each training set (patience {}, at most {max_iters} \
             iterations){}",
            100.0 * stop.validation_fraction,
            stop.patience,
            if stop.no_refit { "" } else { ", then refitted" }
        )
    }
}

/// The report for people: the per-fold table, then the means.
fn render_text(
    args: &EvaluateArgs,
    params: &ValidNmfParams,
    lambda: &LambdaChoice,
    results: &[FoldResult],
    summary_stats: &Summary,
) -> String {
    let mut t = Table::new(&[
        ("fold", true),
        ("train", true),
        ("test", true),
        ("NMAE", true),
        ("MAE", true),
        ("RMSE", true),
        ("iters", true),
        ("fit s", true),
        ("flagged", true),
    ]);
    for r in results {
        t.row(vec![
            r.fold.to_string(),
            r.train.to_string(),
            r.test.to_string(),
            format!("{:.4}", r.nmae),
            format!("{:.4}", r.mae),
            format!("{:.4}", r.rmse),
            r.iterations.to_string(),
            format!("{:.2}", r.fit_seconds),
            r.flagged.to_string(),
        ]);
    }
    let pm = |m: MeanStd, d: usize| format!("{:.d$} ± {:.d$}", m.mean, m.std);
    let cold: usize = results.iter().map(|r| r.cold_test).sum();
    let mut text = format!(
        "{}-fold cross-validation of {}, k = {}, {}{}, {}, {}, seed {}\n{}\n\
         NMAE  {}\nMAE   {}\nRMSE  {}\nfit   {} s per fold (mean ± sample std over folds)\n",
        args.folds,
        params.algorithm(),
        params.rank(),
        lambda.describe(),
        crate::commands::fit::warmup_note(params.warmup_iters()),
        crate::commands::fit::l2_note(params.l2_w(), params.l2_per_rating()),
        iterations_note(&args.params.stop, params.max_iters()),
        params.seed(),
        t.render(),
        pm(summary_stats.nmae, 4),
        pm(summary_stats.mae, 4),
        pm(summary_stats.rmse, 4),
        pm(summary_stats.fit_seconds, 2),
    );
    if cold > 0 {
        text.push_str(&format!(
            "{cold} held-out ratings had a user or item with no training rating in their fold\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let m = MeanStd::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m.mean, 2.5);
        // sum of squares 5 over n - 1 = 3
        assert!((m.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }
}
