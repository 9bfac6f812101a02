//! `cnmf tune`: grid (or seeded random) search of rank, L2, lambda and algorithm by k-fold
//! cross-validation, with `evaluate`'s folds and fits; writes the best settings as the JSON
//! file `cnmf fit --params` reads.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use cnmf_engine::Algorithm;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::commands::evaluate::{cross_validate, iterations_note, FoldResult, MeanStd};
use crate::error::{CliError, CliResult};
use crate::fit_args::{
    parse_algorithm, parse_count, parse_seed, DataArgs, DataSummary, ParamArgs, StopArgs,
    DEFAULT_ITERS, DEFAULT_L2,
};
use crate::input::Input;
use crate::output::{Output, OutputFile, Table};

/// The metric that ranks the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
    /// Normalised mean absolute error.
    Nmae,
}

/// Arguments of `cnmf tune`.
#[derive(Debug, Clone, Args)]
pub struct TuneArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Algorithms to try, comma-separated (names as `fit --algo`).
    #[arg(long, visible_alias = "algorithm", value_delimiter = ',', num_args = 1..,
          default_value = "ignore-corrupt", value_parser = parse_algorithm)]
    algo: Vec<Algorithm>,
    /// Ranks to try, comma-separated (`--k` works too).
    #[arg(long, visible_alias = "k", value_delimiter = ',', num_args = 1.., default_value = "20",
          value_parser = parse_count, allow_negative_numbers = true)]
    rank: Vec<usize>,
    /// L2 penalties to try, comma-separated (per rating unless --l2-constant).
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [DEFAULT_L2],
          allow_negative_numbers = true)]
    l2: Vec<f64>,
    /// Use one L2 penalty per row instead of per rating (as `fit --l2-constant`).
    #[arg(long)]
    l2_constant: bool,
    /// Corruption thresholds to try, comma-separated; they apply to the algorithms that use
    /// one (the others are tried once, without). Default: `fit`'s default lambda.
    #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true,
          conflicts_with_all = ["sigma", "p"])]
    lambda: Vec<f64>,
    /// Noise-model standard deviations to try instead of --lambda (with each --p).
    #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
    sigma: Vec<f64>,
    /// Noise-model corruption probabilities to try instead of --lambda (with each --sigma).
    #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
    p: Vec<f64>,
    /// Try only this many settings, drawn from the grid at random with --seed (0: the whole
    /// grid).
    #[arg(long, default_value_t = 0, value_parser = parse_count, allow_negative_numbers = true,
          value_name = "N")]
    sample: usize,
    /// Number of folds; every setting is scored on the same folds.
    #[arg(long, default_value_t = 5, value_parser = parse_count, allow_negative_numbers = true)]
    folds: usize,
    /// The metric that picks the best setting (mean over the folds).
    #[arg(long, value_enum, default_value_t = Metric::Rmse)]
    metric: Metric,
    /// Iteration budget of every fit (the early-stopping cap).
    #[arg(long, visible_alias = "max-iters", default_value_t = DEFAULT_ITERS,
          value_parser = parse_count, allow_negative_numbers = true)]
    iters: usize,
    /// Seed of the folds, the initial factors, the validation splits and --sample.
    #[arg(long, default_value_t = 0, value_parser = parse_seed, allow_negative_numbers = true)]
    seed: u64,
    /// Worker threads; 0 uses every core. Results are identical for every value.
    #[arg(long, default_value_t = 0, value_parser = parse_count, allow_negative_numbers = true)]
    threads: usize,
    #[command(flatten)]
    stop: StopArgs,
    /// Write the best settings here as JSON, for `cnmf fit --params FILE` (a regular file,
    /// replaced atomically; checked before any work).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// One setting of the grid.
#[derive(Debug, Clone, Serialize)]
struct Setting {
    algo: String,
    rank: usize,
    l2: f64,
    l2_constant: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lambda: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sigma: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<f64>,
}

/// One setting's cross-validated result.
#[derive(Debug, Clone, Serialize)]
struct Row {
    #[serde(flatten)]
    setting: Setting,
    /// The threshold used (`null` when the algorithm uses none).
    lambda_used: Option<f64>,
    nmae: MeanStd,
    mae: MeanStd,
    rmse: MeanStd,
    /// Mean number of iterations of the folds' models.
    iterations: f64,
    fit_seconds: MeanStd,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    data: &'a DataSummary,
    folds: usize,
    seed: u64,
    metric: Metric,
    iterations: &'a str,
    settings_tried: usize,
    grid_size: usize,
    results: &'a [Row],
    best: &'a Row,
    /// The settings file written (`-o`), if any.
    settings_file: Option<String>,
}

/// The grid: every combination, in the order algo, rank, l2, threshold. Values repeated in
/// one list are refused.
fn grid(args: &TuneArgs) -> CliResult<Vec<Setting>> {
    fn no_repeats<T: PartialEq + std::fmt::Debug>(name: &str, xs: &[T]) -> CliResult<()> {
        for (i, x) in xs.iter().enumerate() {
            if xs[..i].contains(x) {
                return Err(CliError::Usage(format!(
                    "--{name} lists {x:?} twice; give each value once"
                )));
            }
        }
        Ok(())
    }
    no_repeats("algo", &args.algo)?;
    no_repeats("rank", &args.rank)?;
    no_repeats("l2", &args.l2)?;
    no_repeats("lambda", &args.lambda)?;
    no_repeats("sigma", &args.sigma)?;
    no_repeats("p", &args.p)?;
    // The threshold choices: lambdas, or (sigma, p) pairs, or fit's default.
    let thresholds: Vec<(Option<f64>, Option<f64>, Option<f64>)> = if !args.lambda.is_empty() {
        args.lambda.iter().map(|&l| (Some(l), None, None)).collect()
    } else if !args.sigma.is_empty() || !args.p.is_empty() {
        let sigmas: Vec<Option<f64>> = if args.sigma.is_empty() {
            vec![None]
        } else {
            args.sigma.iter().copied().map(Some).collect()
        };
        let ps: Vec<Option<f64>> = if args.p.is_empty() {
            vec![None]
        } else {
            args.p.iter().copied().map(Some).collect()
        };
        sigmas
            .iter()
            .flat_map(|&s| ps.iter().map(move |&p| (None, s, p)))
            .collect()
    } else {
        vec![(None, None, None)]
    };
    let mut out = Vec::new();
    for &algo in &args.algo {
        for &rank in &args.rank {
            for &l2 in &args.l2 {
                let choices = if algo.needs_lambda() {
                    &thresholds[..]
                } else {
                    &[(None, None, None)][..]
                };
                for &(lambda, sigma, p) in choices {
                    out.push(Setting {
                        algo: algo.name().to_string(),
                        rank,
                        l2,
                        l2_constant: args.l2_constant,
                        lambda,
                        sigma,
                        p,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// `fit`'s options for one setting.
fn param_args(args: &TuneArgs, s: &Setting) -> ParamArgs {
    let mut p = ParamArgs::defaults();
    p.algo = s.algo.parse().expect("names come from Algorithm::name");
    p.k = s.rank;
    p.l2 = s.l2;
    p.l2_constant = s.l2_constant;
    p.lambda = s.lambda;
    p.sigma = s.sigma;
    p.p = s.p;
    p.iters = args.iters;
    p.seed = args.seed;
    p.threads = args.threads;
    p.stop = args.stop.clone();
    p
}

/// A seeded choice of `n` of `len` indices, in grid order (splitmix64 and a partial
/// Fisher-Yates shuffle).
fn sample_indices(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut idx: Vec<usize> = (0..len).collect();
    for i in 0..n.min(len) {
        let j = i + (next() % (len - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut chosen = idx[..n.min(len)].to_vec();
    chosen.sort_unstable();
    chosen
}

/// The settings file `fit --params` reads: only the keys of the setting (the early-stopping
/// options and the budget too when they differ from `fit`'s defaults).
fn settings_json(args: &TuneArgs, s: &Setting) -> Value {
    let mut m = Map::new();
    m.insert("algo".into(), s.algo.clone().into());
    m.insert("rank".into(), s.rank.into());
    m.insert("l2".into(), s.l2.into());
    m.insert("l2_constant".into(), s.l2_constant.into());
    for (k, v) in [("lambda", s.lambda), ("sigma", s.sigma), ("p", s.p)] {
        if let Some(v) = v {
            m.insert(k.into(), v.into());
        }
    }
    m.insert("iters".into(), args.iters.into());
    let d = StopArgs::default();
    if args.stop.no_early_stopping {
        m.insert("no_early_stopping".into(), true.into());
    }
    if args.stop.validation_fraction != d.validation_fraction {
        m.insert(
            "validation_fraction".into(),
            args.stop.validation_fraction.into(),
        );
    }
    if args.stop.patience != d.patience {
        m.insert("patience".into(), args.stop.patience.into());
    }
    if args.stop.no_refit {
        m.insert("no_refit".into(), true.into());
    }
    Value::Object(m)
}

/// Runs `cnmf tune`.
pub fn run(args: &TuneArgs, out: &Output) -> CliResult<()> {
    args.data.check()?;
    if args.folds < 2 {
        return Err(CliError::Usage(format!(
            "--folds must be at least 2, got {}",
            args.folds
        )));
    }
    let full = grid(args)?;
    let settings: Vec<Setting> = if args.sample == 0 || args.sample >= full.len() {
        full.clone()
    } else {
        sample_indices(full.len(), args.sample, args.seed)
            .into_iter()
            .map(|i| full[i].clone())
            .collect()
    };
    // Every setting is checked before the data is read.
    let mut checked = Vec::with_capacity(settings.len());
    for s in &settings {
        let pa = param_args(args, s);
        let c = pa.check(args.data.scale).map_err(|e| match e {
            CliError::Usage(m) => CliError::Usage(format!("{}: {m}", describe(s))),
            other => other,
        })?;
        checked.push((pa, c));
    }
    let input = args.data.input()?;
    let inputs: Vec<&std::path::Path> = match &input {
        Input::Path(p) => vec![p.as_path()],
        Input::Stdin => vec![],
    };
    let output = match &args.output {
        Some(p) => Some(OutputFile::create(p, &inputs)?),
        None => None,
    };
    let (data, summary) = args.data.load()?;
    out.info(&format!("data: {}", summary.describe()));
    if args.folds > data.nnz() {
        return Err(CliError::Usage(format!(
            "--folds {} needs at least {} ratings; {} has {}",
            args.folds,
            args.folds,
            summary.file,
            data.nnz()
        )));
    }
    for (s, (pa, _)) in settings.iter().zip(&checked) {
        pa.check_rank_for(&summary)
            .map_err(|e| CliError::Usage(format!("{}: {e}", describe(s))))?;
    }
    out.info(&format!(
        "tuning {} settings{} by {}-fold cross-validation ({})",
        settings.len(),
        if settings.len() < full.len() {
            format!(" drawn from a grid of {}", full.len())
        } else {
            String::new()
        },
        args.folds,
        iterations_note(&args.stop, args.iters),
    ));
    let bar = out.bar(
        settings.len() as u64,
        "tune [{bar:20}] {pos}/{len} {msg} {elapsed}",
    );
    // The folds' own bars and lines would bury the search's: the fits run quietly.
    let inner = Output {
        json: out.json,
        quiet: true,
    };
    let mut rows = Vec::with_capacity(settings.len());
    for (s, (_, c)) in settings.iter().zip(&checked) {
        bar.set_message(describe(s));
        let results = cross_validate(
            &c.params, &args.stop, &data, args.folds, args.seed, "", &inner,
        )?;
        let col =
            |g: fn(&FoldResult) -> f64| MeanStd::of(&results.iter().map(g).collect::<Vec<_>>());
        let row = Row {
            setting: s.clone(),
            lambda_used: c.lambda.lambda,
            nmae: col(|r| r.nmae),
            mae: col(|r| r.mae),
            rmse: col(|r| r.rmse),
            iterations: results.iter().map(|r| r.iterations as f64).sum::<f64>()
                / results.len() as f64,
            fit_seconds: col(|r| r.fit_seconds),
        };
        bar.inc(1);
        rows.push(row);
    }
    bar.finish_and_clear();
    let score = |r: &Row| match args.metric {
        Metric::Rmse => r.rmse.mean,
        Metric::Mae => r.mae.mean,
        Metric::Nmae => r.nmae.mean,
    };
    // The first of the lowest in grid order, so ties resolve the same way every time.
    let best = rows
        .iter()
        .enumerate()
        .min_by(|a, b| score(a.1).total_cmp(&score(b.1)).then(a.0.cmp(&b.0)))
        .map(|(i, _)| i)
        .expect("the grid is not empty");
    let settings_file = match output {
        Some(f) => {
            let mut text = serde_json::to_string_pretty(&settings_json(args, &rows[best].setting))
                .expect("JSON of plain values");
            text.push('\n');
            let target = f.target().display().to_string();
            f.commit(text.as_bytes())
                .map_err(|e| CliError::runtime(format!("writing {target}: {e}")))?;
            Some(target)
        }
        None => None,
    };
    let iterations = iterations_note(&args.stop, args.iters);
    if out.json {
        return out.json_doc(&Report {
            command: "tune",
            data: &summary,
            folds: args.folds,
            seed: args.seed,
            metric: args.metric,
            iterations: &iterations,
            settings_tried: rows.len(),
            grid_size: full.len(),
            results: &rows,
            best: &rows[best],
            settings_file,
        });
    }
    out.text(&render_text(args, &rows, best, &iterations, settings_file))
}

/// A setting in words: `ignore-corrupt k=20 l2=0.1 lambda=4`.
fn describe(s: &Setting) -> String {
    let mut d = format!("{} k={} l2={}", s.algo, s.rank, s.l2);
    for (k, v) in [("lambda", s.lambda), ("sigma", s.sigma), ("p", s.p)] {
        if let Some(v) = v {
            d.push_str(&format!(" {k}={v}"));
        }
    }
    d
}

/// The table for people, the best row marked with `*`.
fn render_text(
    args: &TuneArgs,
    rows: &[Row],
    best: usize,
    iterations: &str,
    settings_file: Option<String>,
) -> String {
    let mut t = Table::new(&[
        ("", false),
        ("algo", false),
        ("k", true),
        ("l2", true),
        ("lambda", true),
        ("NMAE", true),
        ("MAE", true),
        ("RMSE", true),
        ("iters", true),
        ("fit s", true),
    ]);
    let pm = |m: MeanStd| format!("{:.4} ± {:.4}", m.mean, m.std);
    for (i, r) in rows.iter().enumerate() {
        let s = &r.setting;
        t.row(vec![
            if i == best { "*".into() } else { String::new() },
            s.algo.clone(),
            s.rank.to_string(),
            format!("{}{}", s.l2, if s.l2_constant { "" } else { "/r" }),
            r.lambda_used.map_or("-".into(), |l| format!("{l:.4}")),
            pm(r.nmae),
            pm(r.mae),
            pm(r.rmse),
            format!("{:.0}", r.iterations),
            format!("{:.2}", r.fit_seconds.mean),
        ]);
    }
    let metric = match args.metric {
        Metric::Rmse => "RMSE",
        Metric::Mae => "MAE",
        Metric::Nmae => "NMAE",
    };
    let mut text = format!(
        "{}-fold cross-validation of {} settings, {iterations}, seed {} (l2 ending in /r: per rating; \
         mean ± sample std over folds)\n{}\nbest by {metric}: {}\n",
        args.folds,
        rows.len(),
        args.seed,
        t.render(),
        describe(&rows[best].setting),
    );
    if let Some(f) = settings_file {
        text.push_str(&format!(
            "settings   {f} (cnmf fit --params {f} -o MODEL ...)\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_seeded_and_in_grid_order() {
        let a = sample_indices(20, 5, 7);
        assert_eq!(a, sample_indices(20, 5, 7));
        assert_eq!(a.len(), 5);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(a, sample_indices(20, 5, 8));
        assert_eq!(sample_indices(3, 5, 1), vec![0, 1, 2]);
    }
}
