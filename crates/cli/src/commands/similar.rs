//! `cnmf similar`: the items most like a given item, by the cosine of their factor vectors.
//!
//! Item `i`'s factor vector `h_i` is its row of the item factors (k numbers); the similarity of
//! two items is `h_i . h_j / (|h_i| |h_j|)`, in [0, 1] since the factors are nonnegative. Items
//! whose vector is all zeros (nothing fitted them) have no direction and are left out; asking
//! for one is an error. Ties keep the order of the model's items.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::input::Input;
use crate::model_file::{ModelFile, Need};
use crate::output::Output;
use crate::titles::{ItemTitles, ItemsArg};

/// Arguments of `cnmf similar`.
#[derive(Debug, Clone, Args)]
pub struct SimilarArgs {
    /// The model file written by `cnmf fit` (`-`: standard input).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// External item id (as in the training file).
    #[arg(long)]
    item: String,
    /// How many similar items to list.
    #[arg(long, short, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    n: u32,
    #[command(flatten)]
    items: ItemsArg,
}

/// One similar item.
#[derive(Debug, Clone, Serialize)]
pub struct Similar {
    /// External item id.
    pub item: String,
    /// The item's title (`--items`), `null` when unknown.
    pub title: Option<String>,
    /// Cosine of the two items' factor vectors.
    pub cosine: f64,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    item: &'a str,
    title: Option<String>,
    similar: &'a [Similar],
}

/// Runs `cnmf similar`.
pub fn run(args: &SimilarArgs, out: &Output) -> CliResult<()> {
    let mf = ModelFile::read_for_process(&Input::new(&args.model), Need::Scoring)?;
    let titles = args.items.load(mf, out)?;
    let similar = similar_items(mf, &args.item, args.n as usize, &titles)?;
    let title = titles.get(&args.item);
    if out.json {
        return out.json_doc(&Report {
            command: "similar",
            item: &args.item,
            title,
            similar: &similar,
        });
    }
    let rows = similar.iter().enumerate().map(|(r, s)| {
        let cells = vec![
            (r + 1).to_string(),
            s.item.clone(),
            format!("{:.4}", s.cosine),
        ];
        (cells, s.title.as_deref())
    });
    let t = titles.table(&[("rank", true), ("item", false), ("cosine", true)], rows);
    let named = title.map_or(String::new(), |t| format!("title: {t}; "));
    out.text(&format!(
        "items most like {:?} ({named}cosine of the item factors):\n{}",
        args.item,
        t.render()
    ))
}

/// The `n` items most like `item` (external id) by the cosine of their factor vectors, best
/// first; an unknown item is [`CliError::UnknownId`], an item with an all-zero vector a usage
/// error. `cnmf similar` and `cnmf serve` both use it.
pub fn similar_items(
    mf: &ModelFile,
    item: &str,
    n: usize,
    titles: &ItemTitles,
) -> CliResult<Vec<Similar>> {
    let items = mf.items();
    let Some(q) = items.index(item) else {
        return Err(CliError::UnknownId(format!(
            "unknown item {:?}: the model knows {} items (ids as in the training file)",
            item,
            items.len()
        )));
    };
    let f = mf.model().factors();
    let k = f.rank();
    let h = f.h();
    let row = |i: usize| &h[i * k..i * k + k];
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let qv = row(q as usize);
    let qn = norm(qv);
    if qn <= 0.0 {
        return Err(CliError::Usage(format!(
            "item {:?} has an all-zero factor vector in this model, so no item is like it",
            item
        )));
    }
    let mut scored: Vec<(usize, f64)> = (0..items.len())
        .filter(|&i| i != q as usize)
        .filter_map(|i| {
            let v = row(i);
            let vn = norm(v);
            (vn > 0.0).then(|| {
                let dot: f64 = v.iter().zip(qv).map(|(a, b)| a * b).sum();
                (i, dot / (vn * qn))
            })
        })
        .collect();
    // Stable: equal cosines keep the model's item order.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(n);
    Ok(scored
        .into_iter()
        .map(|(i, cosine)| Similar {
            item: items.external(i as u32).to_string(),
            title: titles.get(items.external(i as u32)),
            cosine,
        })
        .collect())
}
