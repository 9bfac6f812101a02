//! `cnmf predict`: the model's rating for one (user, item) pair or for a file of pairs.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::csv_in::{read_records, Column};
use crate::error::CliResult;
use crate::input::{stdin_once, Input, LineLimit};
use crate::lookup::{self, Prediction, UnknownPolicy};
use crate::model_file::{ModelFile, Need};
use crate::output::{csv_field, io_failure, Output};

/// Arguments of `cnmf predict`.
#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// The model file written by `cnmf fit` (`-`: standard input).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// External user id (as in the training file).
    #[arg(
        long,
        requires = "item",
        required_unless_present = "pairs",
        conflicts_with = "pairs"
    )]
    user: Option<String>,
    /// External item id (as in the training file).
    #[arg(long, requires = "user", conflicts_with = "pairs")]
    item: Option<String>,
    /// CSV file (`-`: standard input) of pairs with a header naming `user` and `item` columns (other columns are
    /// allowed and not used). Output: CSV `user,item,prediction` on stdout, in input order (with
    /// a fourth column `fallback` under `--unknown mean`).
    #[arg(long, value_name = "FILE")]
    pairs: Option<PathBuf>,
    /// Unknown user or item id: `error` (exit code 5), or `mean`: predict the item's mean rating
    /// for an unknown user, the user's mean for an unknown item, the global mean when both are
    /// unknown (means over the training ratings not flagged corrupt), and say so.
    #[arg(long, value_enum, default_value_t = UnknownPolicy::Error)]
    unknown: UnknownPolicy,
    #[command(flatten)]
    limit: LineLimit,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    predictions: &'a [Prediction],
    fallbacks: usize,
}

/// Runs `cnmf predict`.
pub fn run(args: &PredictArgs, out: &Output) -> CliResult<()> {
    let model = Input::new(&args.model);
    let pairs = args.pairs.as_deref().map(Input::new);
    if let Some(p) = &pairs {
        stdin_once(&[("--model", &model), ("--pairs", p)])?;
    }
    let mf = ModelFile::read_for_process(&model, Need::Scoring)?;
    let predictions = match (&pairs, &args.user, &args.item) {
        (Some(input), _, _) => {
            let path = &input.name();
            let records = read_records(
                input,
                &[Column::User, Column::Item],
                &[],
                args.limit.max_line_bytes,
            )?;
            let mut v = Vec::with_capacity(records.len());
            for r in &records {
                let at = format!("{}:{}: ", path.display(), r.line);
                v.push(lookup::predict(
                    mf,
                    &r.fields[0],
                    &r.fields[1],
                    args.unknown,
                    &at,
                )?);
            }
            v
        }
        (None, Some(user), Some(item)) => {
            vec![lookup::predict(mf, user, item, args.unknown, "")?]
        }
        _ => unreachable!("clap requires --pairs or both --user and --item"),
    };
    let fallbacks = note_fallbacks(&predictions, out);
    if out.json {
        return out.json_doc(&Report {
            command: "predict",
            predictions: &predictions,
            fallbacks,
        });
    }
    if args.pairs.is_none() {
        let p = &predictions[0];
        let tail = match p.fallback {
            Some(f) => format!(" (fallback: {})", f.name()),
            None => String::new(),
        };
        return out.text(&format!(
            "user {}, item {}: {:.4}{tail}\n",
            p.user, p.item, p.prediction
        ));
    }
    let with_fallback = args.unknown == UnknownPolicy::Mean;
    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    let header = if with_fallback {
        "user,item,prediction,fallback"
    } else {
        "user,item,prediction"
    };
    writeln!(w, "{header}").map_err(io_failure)?;
    for p in &predictions {
        write!(
            w,
            "{},{},{}",
            csv_field(&p.user),
            csv_field(&p.item),
            p.prediction
        )
        .map_err(io_failure)?;
        if with_fallback {
            write!(w, ",{}", p.fallback.map_or("", |f| f.name())).map_err(io_failure)?;
        }
        writeln!(w).map_err(io_failure)?;
    }
    w.flush().map_err(io_failure)
}

/// Prints one stderr note summing up the fallbacks taken; returns how many there were.
fn note_fallbacks(predictions: &[Prediction], out: &Output) -> usize {
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for p in predictions {
        if let Some(f) = p.fallback {
            *by_kind.entry(f.name()).or_default() += 1;
        }
    }
    let total: usize = by_kind.values().sum();
    if total == 1 && predictions.len() == 1 {
        let p = &predictions[0];
        out.note(&format!(
            "unknown id in (user {:?}, item {:?}): predicted the {} instead of the model",
            p.user,
            p.item,
            p.fallback.map_or("", |f| f.name()).replace('-', " ")
        ));
    } else if total > 0 {
        let parts: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.note(&format!(
            "{total} of {} pairs have an unknown id and got a fallback prediction ({})",
            predictions.len(),
            parts.join(", ")
        ));
    }
    total
}
