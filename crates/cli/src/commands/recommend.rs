//! `cnmf recommend`: the top-N items a user has not rated, by predicted rating.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::lookup::{unknown_message, Fallback, UnknownPolicy};
use crate::model_file::{ModelFile, Need};
use crate::output::{Output, Table};
use crate::titles::{ItemTitles, ItemsArg};

/// Arguments of `cnmf recommend`.
#[derive(Debug, Clone, Args)]
pub struct RecommendArgs {
    /// The model file written by `cnmf fit` (`-`: standard input).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// External user id (as in the training file).
    #[arg(long)]
    user: String,
    /// Number of items to list.
    #[arg(short = 'n', long = "top", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    n: u32,
    /// Unknown user: `error` (exit code 5), or `mean`: rank items by their mean training rating
    /// (over ratings not flagged corrupt) and say so. For a new user with a few ratings,
    /// `cnmf fold-in` gives personal recommendations.
    #[arg(long, value_enum, default_value_t = UnknownPolicy::Error)]
    unknown: UnknownPolicy,
    /// Only items with at least this many training ratings. Items rated by a handful of users
    /// get extreme scores from any factorization; 20 to 50 keeps lists to items with evidence.
    #[arg(long, default_value_t = 0)]
    min_ratings: u32,
    #[command(flatten)]
    items: ItemsArg,
}

/// One recommended item.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// 1-based rank.
    pub rank: usize,
    /// External item id.
    pub item: String,
    /// The item's title (`--items`), `null` when unknown.
    pub title: Option<String>,
    /// Predicted rating, clipped to the scale.
    pub prediction: f64,
    /// The unclipped score the ranking uses (`(W H)_ui`, or the item mean under a fallback).
    pub score: f64,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    user: &'a str,
    rated: usize,
    fallback: Option<Fallback>,
    items: Vec<Recommendation>,
}

/// The `n` best items by `score` among those not in `excluded` (ascending) for which `keep`
/// holds, best first; ties by item index.
pub fn top_n(
    n_items: usize,
    n: usize,
    excluded: &[u32],
    keep: impl Fn(u32) -> bool,
    score: impl Fn(u32) -> f64,
) -> Vec<(u32, f64)> {
    let mut candidates: Vec<(u32, f64)> = Vec::with_capacity(n_items - excluded.len().min(n_items));
    let mut skip = excluded.iter().peekable();
    for i in 0..n_items as u32 {
        if skip.peek() == Some(&&i) {
            skip.next();
            continue;
        }
        if keep(i) {
            candidates.push((i, score(i)));
        }
    }
    let order = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if candidates.len() > n {
        candidates.select_nth_unstable_by(n - 1, order);
        candidates.truncate(n);
    }
    candidates.sort_by(order);
    candidates
}

/// Runs `cnmf recommend`.
pub fn run(args: &RecommendArgs, out: &Output) -> CliResult<()> {
    let mf = ModelFile::read_for_process(&crate::input::Input::new(&args.model), Need::All)?;
    let model = mf.model();
    let n = args.n as usize;
    let counts = mf.item_rating_counts();
    let keep = |i: u32| counts[i as usize] >= args.min_ratings;
    let (ranked, rated, fallback) = match mf.users().index(&args.user) {
        Some(u) => {
            let rated = mf.rated(u);
            let top = top_n(model.n_items(), n, rated, keep, |i| model.predict_raw(u, i));
            (top, rated.len(), None)
        }
        None if args.unknown == UnknownPolicy::Mean => {
            out.note(&format!(
                "unknown user {:?}: ranking items by their mean training rating instead of the model",
                args.user
            ));
            let top = top_n(model.n_items(), n, &[], keep, |i| mf.item_mean(i));
            (top, 0, Some(Fallback::ItemMean))
        }
        None => {
            return Err(CliError::UnknownId(unknown_message(
                mf, "user", &args.user, "",
            )));
        }
    };
    let titles = args.items.load(mf, out)?;
    let items = recommendations(&ranked, mf, &titles);
    if out.json {
        return out.json_doc(&Report {
            command: "recommend",
            user: &args.user,
            rated,
            fallback,
            items,
        });
    }
    let table = recommendation_table(&items, &titles);
    let head = match fallback {
        None => format!(
            "top {} of the {} items user {} has not rated (rated {}){}:\n",
            items.len(),
            model.n_items() - rated,
            args.user,
            rated,
            min_note(args.min_ratings)
        ),
        Some(_) => format!(
            "top {} items by mean rating (user {} is unknown){}:\n",
            items.len(),
            args.user,
            min_note(args.min_ratings)
        ),
    };
    out.text(&(head + &table.render()))
}

/// The ranked `(item index, score)` pairs as recommendations, best first.
pub fn recommendations(
    ranked: &[(u32, f64)],
    mf: &ModelFile,
    titles: &ItemTitles,
) -> Vec<Recommendation> {
    let scale = mf.model().scale();
    ranked
        .iter()
        .enumerate()
        .map(|(r, &(i, s))| {
            let item = mf.items().external(i).to_string();
            Recommendation {
                rank: r + 1,
                title: titles.get(&item),
                item,
                prediction: scale.clip(s),
                score: s,
            }
        })
        .collect()
}

/// The table of recommendations for people (a `title` column when titles were read).
pub fn recommendation_table(items: &[Recommendation], titles: &ItemTitles) -> Table {
    let rows = items.iter().map(|r| {
        let cells = vec![
            r.rank.to_string(),
            r.item.clone(),
            format!("{:.3}", r.prediction),
            format!("{:.4}", r.score),
        ];
        (cells, r.title.as_deref())
    });
    titles.table(
        &[
            ("rank", true),
            ("item", false),
            ("prediction", true),
            ("score", true),
        ],
        rows,
    )
}

/// ", items with at least N ratings" when the filter is on.
pub fn min_note(min_ratings: u32) -> String {
    if min_ratings > 0 {
        format!(", items with at least {min_ratings} ratings")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_skips_rated_and_breaks_ties_by_index() {
        let scores = [3.0, 5.0, 4.0, 5.0, 1.0, 4.5];
        let top = top_n(6, 3, &[1, 4], |_| true, |i| scores[i as usize]);
        assert_eq!(top, vec![(3, 5.0), (5, 4.5), (2, 4.0)]);
        let all = top_n(6, 10, &[0, 1, 2, 3, 4, 5], |_| true, |i| scores[i as usize]);
        assert!(all.is_empty());
        let tie = top_n(4, 2, &[], |_| true, |_| 1.0);
        assert_eq!(tie, vec![(0, 1.0), (1, 1.0)]);
        let odd = top_n(6, 2, &[], |i| i % 2 == 1, |i| scores[i as usize]);
        assert_eq!(odd, vec![(1, 5.0), (3, 5.0)]);
    }
}
