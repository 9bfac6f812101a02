//! `cnmf recommend`: the top-N items a user has not rated, by predicted rating.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::lookup::{unknown_message, Fallback, UnknownPolicy};
use crate::model_file::{ModelFile, Need};
use crate::output::{csv_field, io_failure, Output, Table};
use crate::titles::{ItemTitles, ItemsArg};

/// Arguments of `cnmf recommend`.
#[derive(Debug, Clone, Args)]
pub struct RecommendArgs {
    /// The model file written by `cnmf fit` (`-`: standard input).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// External user id (as in the training file).
    #[arg(long, required_unless_present = "all_users")]
    user: Option<String>,
    /// Recommend for every user of the model instead, written as it goes in the model's user
    /// order (the order of first appearance in the training file), CSV or JSON by --format.
    #[arg(long, conflicts_with_all = ["user", "unknown"])]
    all_users: bool,
    /// Layout of --all-users: `csv` (user,rank,item,prediction,score, and title with titles;
    /// the default) or `json` (one document; --json also selects it).
    #[arg(long, value_enum)]
    format: Option<BatchFormat>,
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

/// Layout of `recommend --all-users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BatchFormat {
    /// One line per recommended item: user,rank,item,prediction,score[,title].
    Csv,
    /// One JSON document: {"command": "recommend", "n": N, "users": [{"user", "rated", "items"}, ...]}.
    Json,
}

/// Users scored together by `--all-users` (in parallel), then written in order.
const BATCH_USERS: usize = 256;

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
    let Some(user) = args.user.as_deref() else {
        return run_all(args, mf, out, keep);
    };
    if args.format.is_some() {
        return Err(CliError::Usage(
            "--format applies to --all-users (use --json for one user's list)".into(),
        ));
    }
    let titles = args.items.load(mf, out)?;
    let UserRecommendations {
        items,
        rated,
        fallback,
    } = for_user(mf, user, n, args.unknown, true, keep, &titles)?;
    if fallback.is_some() {
        out.note(&format!(
            "unknown user {user:?}: ranking items by their mean training rating instead of the model"
        ));
    }
    if out.json {
        return out.json_doc(&Report {
            command: "recommend",
            user,
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
            user,
            rated,
            min_note(args.min_ratings)
        ),
        Some(_) => format!(
            "top {} items by mean rating (user {} is unknown){}:\n",
            items.len(),
            user,
            min_note(args.min_ratings)
        ),
    };
    out.text(&(head + &table.render()))
}

/// One user's recommendations, as [`for_user`] finds them.
#[derive(Debug, Clone, Serialize)]
pub struct UserRecommendations {
    /// How many training ratings the user has (0 for an unknown user).
    pub rated: usize,
    /// Set when the user is unknown and the items are ranked by their mean rating.
    pub fallback: Option<Fallback>,
    /// The list, best first.
    pub items: Vec<Recommendation>,
}

/// The top `n` items for `user` (external id) among those `keep` accepts: by the model's score,
/// leaving out the items the user rated when `exclude_seen`; an unknown user is an error, or
/// under [`UnknownPolicy::Mean`] ranks the items by their mean training rating. `cnmf
/// recommend` and `cnmf serve` both use it.
pub fn for_user(
    mf: &ModelFile,
    user: &str,
    n: usize,
    unknown: UnknownPolicy,
    exclude_seen: bool,
    keep: impl Fn(u32) -> bool,
    titles: &ItemTitles,
) -> CliResult<UserRecommendations> {
    let model = mf.model();
    let (ranked, rated, fallback) = match mf.users().index(user) {
        Some(u) => {
            let rated = mf.rated(u);
            let excluded = if exclude_seen { rated } else { &[] };
            let top = top_n(model.n_items(), n, excluded, keep, |i| {
                model.predict_raw(u, i)
            });
            (top, rated.len(), None)
        }
        None if unknown == UnknownPolicy::Mean => {
            let top = top_n(model.n_items(), n, &[], keep, |i| mf.item_mean(i));
            (top, 0, Some(Fallback::ItemMean))
        }
        None => {
            return Err(CliError::UnknownId(unknown_message(mf, "user", user, "")));
        }
    };
    Ok(UserRecommendations {
        items: recommendations(&ranked, mf, titles),
        rated,
        fallback,
    })
}

/// One user's list in `--all-users --format json`.
#[derive(Serialize)]
struct UserList<'a> {
    user: &'a str,
    rated: usize,
    items: &'a [Recommendation],
}

/// `--all-users`: every user's top N, scored `BATCH_USERS` users at a time in parallel and
/// written in user order as each batch is done, so output starts at once and is the same
/// whatever the thread count.
fn run_all(
    args: &RecommendArgs,
    mf: &ModelFile,
    out: &Output,
    keep: impl Fn(u32) -> bool + Sync,
) -> CliResult<()> {
    let titles = args.items.load(mf, out)?;
    let model = mf.model();
    let n = args.n as usize;
    let json = out.json || args.format == Some(BatchFormat::Json);
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    let head = if json {
        format!("{{\n  \"command\": \"recommend\",\n  \"n\": {n},\n  \"users\": [")
    } else {
        format!("user,rank,item,prediction,score{}\n", titles.csv_header())
    };
    w.write_all(head.as_bytes()).map_err(io_failure)?;
    let n_users = model.n_users() as u32;
    for start in (0..n_users).step_by(BATCH_USERS) {
        let users = start..(start + BATCH_USERS as u32).min(n_users);
        let lists: Vec<Vec<Recommendation>> = users
            .clone()
            .into_par_iter()
            .map(|u| {
                let top = top_n(model.n_items(), n, mf.rated(u), &keep, |i| {
                    model.predict_raw(u, i)
                });
                recommendations(&top, mf, &titles)
            })
            .collect();
        for (u, items) in users.zip(&lists) {
            let user = mf.users().external(u);
            let mut text = String::new();
            if json {
                let list = UserList {
                    user,
                    rated: mf.rated(u).len(),
                    items,
                };
                let doc = serde_json::to_string(&list).map_err(CliError::runtime)?;
                let sep = if u == 0 { "" } else { "," };
                text = format!("{sep}\n    {doc}");
            } else {
                for r in items {
                    text.push_str(&format!(
                        "{},{},{},{},{}{}\n",
                        csv_field(user),
                        r.rank,
                        csv_field(&r.item),
                        r.prediction,
                        r.score,
                        titles.csv_cell(r.title.as_deref())
                    ));
                }
            }
            w.write_all(text.as_bytes()).map_err(io_failure)?;
        }
    }
    if json {
        w.write_all(b"\n  ]\n}\n").map_err(io_failure)?;
    }
    w.flush().map_err(io_failure)
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
