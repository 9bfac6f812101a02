//! `cnmf fold-in`: score a new user from a few ratings without refitting the model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use cnmf_engine::Algorithm;
use serde::Serialize;

use crate::commands::recommend::{
    min_note, recommendation_table, recommendations, top_n, Recommendation,
};
use crate::csv_in::{parse_rating, read_records, Column, Record};
use crate::error::{CliError, CliResult};
use crate::input::{clip, stdin_once, Input, LineLimit};
use crate::lookup::unknown_message;
use crate::model_file::{ModelFile, Need};
use crate::output::Output;
use crate::titles::{ItemTitles, ItemsArg};

/// What to do with a rated item the model does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum UnknownItems {
    /// Stop with an error naming the item and the line (exit code 5).
    #[default]
    Error,
    /// Leave those ratings out, listing them on stderr (and in the JSON `skipped` field).
    Skip,
}

/// Arguments of `cnmf fold-in`.
#[derive(Debug, Clone, Args)]
pub struct FoldInArgs {
    /// The model file written by `cnmf fit` (`-`: standard input).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// The new user's ratings (`-`: standard input): CSV with a header naming `item` and
    /// `rating` columns. A `user` column is allowed when it names one user throughout (a file
    /// holding several users' ratings is refused rather than folded in as one user).
    #[arg(long, value_name = "FILE")]
    ratings: PathBuf,
    /// Number of items to list.
    #[arg(short = 'n', long = "top", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    n: u32,
    /// A rated item the model does not know: `error` or `skip`.
    #[arg(long, value_enum, default_value_t = UnknownItems::Error)]
    unknown: UnknownItems,
    /// Only list items with at least this many training ratings (see `cnmf recommend --help`).
    #[arg(long, default_value_t = 0)]
    min_ratings: u32,
    #[command(flatten)]
    limit: LineLimit,
    #[command(flatten)]
    items: ItemsArg,
}

/// One of the new user's ratings that the model's rule would flag as corrupt.
#[derive(Debug, Clone, Serialize)]
pub struct FlaggedRating {
    /// External item id.
    pub item: String,
    /// The item's title (`--items`), `null` when unknown.
    pub title: Option<String>,
    /// The rating given.
    pub rating: f64,
    /// The folded-in prediction (clipped).
    pub prediction: f64,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    ratings_used: usize,
    skipped: &'a [String],
    would_flag: &'a [FlaggedRating],
    items: &'a [Recommendation],
}

/// Runs `cnmf fold-in`.
pub fn run(args: &FoldInArgs, out: &Output) -> CliResult<()> {
    let model = Input::new(&args.model);
    let ratings = Input::new(&args.ratings);
    stdin_once(&[("--model", &model), ("--ratings", &ratings)])?;
    let mf = ModelFile::read_for_process(&model, Need::All)?;
    let records = read_records(
        &ratings,
        &[Column::Item, Column::Rating],
        &[Column::User],
        args.limit.max_line_bytes,
    )?;
    let NewRatings { pairs, skipped } = new_ratings(&records, &ratings.name(), args.unknown, mf)?;
    if !skipped.is_empty() {
        out.note(&format!(
            "left out {} rating(s) of items the model does not know: {}",
            skipped.len(),
            skipped.join(", ")
        ));
    }
    if pairs.is_empty() {
        return Err(CliError::Data(format!(
            "{}: no rating of a known item is left to fold in",
            ratings.name().display()
        )));
    }
    let titles = args.items.load(mf, out)?;
    let counts = mf.item_rating_counts();
    let FoldedIn {
        items, would_flag, ..
    } = fold_in(
        mf,
        &pairs,
        args.n as usize,
        args.min_ratings,
        &counts,
        &titles,
    )?;
    if out.json {
        return out.json_doc(&Report {
            command: "fold-in",
            ratings_used: pairs.len(),
            skipped: &skipped,
            would_flag: &would_flag,
            items: &items,
        });
    }
    out.text(&render_text(
        args,
        mf,
        pairs.len(),
        &items,
        &would_flag,
        &titles,
    ))
}

/// A new user folded in: its factors, recommendations and the ratings that would be flagged.
#[derive(Debug, Clone, Serialize)]
pub struct FoldedIn {
    /// The user's factor row `w` (k numbers), fitted against the model's fixed item factors.
    pub factors: Vec<f64>,
    /// The top items the user did not rate, best first.
    pub items: Vec<Recommendation>,
    /// The user's ratings the model's flag rule would flag.
    pub would_flag: Vec<FlaggedRating>,
}

/// Folds in a new user's `(item index, rating)` pairs (at least one) and recommends `n`
/// items with at least `min_ratings` training ratings (`counts`: [`ModelFile::item_rating_counts`]).
/// `cnmf fold-in` and `cnmf serve` both use it.
pub fn fold_in(
    mf: &ModelFile,
    pairs: &[(u32, f64)],
    n: usize,
    min_ratings: u32,
    counts: &[u32],
    titles: &ItemTitles,
) -> CliResult<FoldedIn> {
    let model = mf.model();
    let w = model.fold_in(pairs).map_err(CliError::from_engine)?;
    let factors = model.factors();
    let raw = |i: u32| -> f64 { w.iter().zip(factors.h_col(i)).map(|(a, b)| a * b).sum() };
    let items = recommend(n, min_ratings, mf, pairs, counts, raw, titles);
    let would_flag = would_flag(mf, pairs, raw, titles);
    Ok(FoldedIn {
        factors: w.to_vec(),
        items,
        would_flag,
    })
}

/// The new user's ratings file, read against the model.
pub struct NewRatings {
    /// `(item index, rating)`, in file order.
    pub pairs: Vec<(u32, f64)>,
    /// External ids of the unknown items left out under `--unknown skip`.
    pub skipped: Vec<String>,
}

/// The new user's ratings from the records of `path` (item, rating, and the optional user).
/// Errors on ratings of two different users, a rating outside the scale, an unknown item
/// (under `--unknown error`) and an item rated twice, naming the line.
pub fn new_ratings(
    records: &[Record],
    path: &Path,
    unknown: UnknownItems,
    mf: &ModelFile,
) -> CliResult<NewRatings> {
    let scale = mf.model().scale();
    let mut pairs: Vec<(u32, f64)> = Vec::with_capacity(records.len());
    let mut first_line: HashMap<u32, usize> = HashMap::new();
    let mut skipped = Vec::new();
    let mut user: Option<(&str, usize)> = None;
    for r in records {
        let at = format!("{}:{}: ", path.display(), r.line);
        if let Some(Some(u)) = r.optional.first() {
            match user {
                None => user = Some((u, r.line)),
                Some((first, line)) if first != u => {
                    return Err(CliError::Data(format!(
                        "{at}user {:?} differs from user {:?} on line {line}: fold-in takes \
                         one new user's ratings (filter the file to one user)",
                        clip(u, 100),
                        clip(first, 100)
                    )))
                }
                Some(_) => {}
            }
        }
        let rating = parse_rating(path, r, &r.fields[1])?;
        if !scale.contains(rating) {
            return Err(CliError::Data(format!(
                "{at}rating {rating} is outside the model's rating scale [{}, {}]",
                scale.min(),
                scale.max()
            )));
        }
        let Some(i) = mf.items().index(&r.fields[0]) else {
            if unknown == UnknownItems::Skip {
                skipped.push(r.fields[0].clone());
                continue;
            }
            return Err(CliError::UnknownId(
                unknown_message(mf, "item", &r.fields[0], &at).replace(
                    "use --unknown mean for a fallback",
                    "use --unknown skip to leave it out",
                ),
            ));
        };
        if let Some(first) = first_line.insert(i, r.line) {
            return Err(CliError::Data(format!(
                "{at}item {:?} is rated twice (first on line {first})",
                clip(&r.fields[0], 100)
            )));
        }
        pairs.push((i, rating));
    }
    Ok(NewRatings { pairs, skipped })
}

/// The top `--top` items the new user did not rate, by the folded-in score `raw`.
pub fn recommend(
    n: usize,
    min_ratings: u32,
    mf: &ModelFile,
    pairs: &[(u32, f64)],
    counts: &[u32],
    raw: impl Fn(u32) -> f64,
    titles: &ItemTitles,
) -> Vec<Recommendation> {
    let mut rated: Vec<u32> = pairs.iter().map(|&(i, _)| i).collect();
    rated.sort_unstable();
    let keep = |i: u32| counts[i as usize] >= min_ratings;
    let ranked = top_n(mf.model().n_items(), n, &rated, keep, raw);
    recommendations(&ranked, mf, titles)
}

/// The new ratings the model's own flag rule would flag, given the folded-in score `raw`: the
/// threshold rule `(r - prediction)^2 > lambda` of the corrupt variants and huber, guarded's
/// item-side rule `|r - prediction| > b sqrt(lambda)` (the profile screen is not applied to a
/// folded-in user), or trimmed's
/// `floor(q n)` largest squared residuals of the user's `n` ratings (ties: lowest item index
/// first, as the fold-in orders them).
pub fn would_flag(
    mf: &ModelFile,
    pairs: &[(u32, f64)],
    raw: impl Fn(u32) -> f64,
    titles: &ItemTitles,
) -> Vec<FlaggedRating> {
    let model = mf.model();
    let flag = |&(i, r): &(u32, f64)| {
        let item = mf.items().external(i).to_string();
        FlaggedRating {
            title: titles.get(&item),
            item,
            rating: r,
            prediction: model.scale().clip(raw(i)),
        }
    };
    let alg = model.algorithm();
    match model.params().lambda() {
        Some(lambda) if alg == Algorithm::Guarded => {
            let cut = model.params().item_threshold_scale() * lambda.sqrt();
            pairs
                .iter()
                .filter(|&&(i, r)| {
                    let near = (r - raw(i)).abs() <= cut;
                    !near
                })
                .map(flag)
                .collect()
        }
        Some(lambda) if alg.flags_corruption() && alg.needs_lambda() => pairs
            .iter()
            .filter(|&&(i, r)| (r - raw(i)).powi(2) > lambda)
            .map(flag)
            .collect(),
        _ if alg == Algorithm::Trimmed => {
            let q = model.params().trim_fraction();
            let drop = ((q * pairs.len() as f64).floor() as usize).min(pairs.len());
            let mut order: Vec<(f64, u32, f64)> = pairs
                .iter()
                .map(|&(i, r)| ((r - raw(i)).powi(2), i, r))
                .collect();
            order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut dropped: Vec<(u32, f64)> =
                order[..drop].iter().map(|&(_, i, r)| (i, r)).collect();
            // In the order the user gave them.
            dropped.sort_by_key(|&(i, _)| pairs.iter().position(|p| p.0 == i));
            dropped.iter().map(flag).collect()
        }
        _ => Vec::new(),
    }
}

/// The report for people: the recommendations, then the ratings that would be flagged.
fn render_text(
    args: &FoldInArgs,
    mf: &ModelFile,
    ratings_used: usize,
    items: &[Recommendation],
    would_flag: &[FlaggedRating],
    titles: &ItemTitles,
) -> String {
    let model = mf.model();
    let mut text = format!(
        "folded in {} ratings ({} algorithm, k = {}); top {} unrated items{}:\n",
        ratings_used,
        model.algorithm(),
        model.factors().rank(),
        items.len(),
        min_note(args.min_ratings)
    );
    text.push_str(&recommendation_table(items, titles).render());
    if !would_flag.is_empty() {
        text.push_str(&format!(
            "{} of these ratings would be flagged as corrupt:\n",
            would_flag.len()
        ));
        let rows = would_flag.iter().map(|f| {
            let cells = vec![
                f.item.clone(),
                f.rating.to_string(),
                format!("{:.2}", f.prediction),
            ];
            (cells, f.title.as_deref())
        });
        let columns = [("item", false), ("rating", true), ("prediction", true)];
        let t = titles.table(&columns, rows);
        text.push_str(&t.render());
    }
    text
}
