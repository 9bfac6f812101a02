//! `cnmf flagged --item X`: one item's ratings over time, with the share the model flagged in
//! each period, so that a review bomb shows as the burst it is. The ratings and their timestamps
//! come from the model when it stores them (`cnmf fit --keep-times`), else from the training
//! file (`--data`, else the file the model records), matched to the model's flags by user and
//! item id.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use cnmf_ratings::time::format_timestamp;
use cnmf_ratings::{load, LoadOptions, Ratings};
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::model_file::ModelFile;
use crate::output::{Output, Table};

/// The length of a period of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Days when the item's ratings span at most 60 days, weeks up to two years, else months.
    Auto,
    /// UTC days.
    Day,
    /// Weeks starting on Monday (UTC).
    Week,
    /// Calendar months (UTC).
    Month,
}

/// One period of the timeline.
#[derive(Debug, Clone, Serialize)]
struct Row {
    /// Its first day, `YYYY-MM-DD` (`YYYY-MM` for months).
    period: String,
    ratings: usize,
    mean_rating: f64,
    flagged: usize,
    flagged_share: f64,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    item: &'a str,
    title: Option<String>,
    data: String,
    period: Period,
    ratings: usize,
    flagged: usize,
    rows: Vec<Row>,
}

const DAY: i64 = 86_400;

/// An item's timeline.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The period the rows are by (never [`Period::Auto`]).
    pub period: Period,
    /// The item's ratings.
    pub ratings: usize,
    /// How many of them the model flagged.
    pub flagged: usize,
    rows: Vec<Row>,
}

impl Timeline {
    /// `(period label, ratings, flagged)` per period, in time order.
    pub fn bars(&self) -> impl Iterator<Item = (&str, usize, usize)> + '_ {
        self.rows
            .iter()
            .map(|r| (r.period.as_str(), r.ratings, r.flagged))
    }
}

/// Where an item's timeline takes the ratings and their timestamps from.
pub enum Source {
    /// The model file, which stores them (`cnmf fit --keep-times`).
    Model,
    /// A ratings file with timestamps, read from this path.
    Data(Box<Ratings>, PathBuf),
}

impl Source {
    /// The ratings of `mf`'s training: from `data` when given, else from the model when it
    /// stores them, else from the training file the model records.
    pub fn find(mf: &ModelFile, data: Option<&Path>) -> CliResult<Source> {
        if data.is_none() && mf.history().is_some() {
            return Ok(Source::Model);
        }
        let (ratings, path) = training_ratings(mf, data)?;
        Ok(Source::Data(Box::new(ratings), path))
    }

    /// Where the ratings come from, for reports.
    pub fn describe(&self) -> String {
        match self {
            Source::Model => "the model (ratings stored with --keep-times)".into(),
            Source::Data(_, path) => path.display().to_string(),
        }
    }
}

/// The training ratings with their timestamps: `data`, else the file the model records.
fn training_ratings(mf: &ModelFile, data: Option<&Path>) -> CliResult<(Ratings, PathBuf)> {
    let path: PathBuf = match data {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(&mf.training().source),
    };
    if !path.is_file() {
        return Err(CliError::Usage(format!(
            "the item's timeline needs the training ratings with their timestamps: the model \
             does not store them (fit with --keep-times) and {} is not a file (give --data FILE)",
            path.display()
        )));
    }
    let ratings = load(&path, &LoadOptions::default()).map_err(CliError::from_ratings)?;
    if ratings.times().is_none() {
        return Err(CliError::Data(format!(
            "{}: the ratings have no timestamps, so there is no timeline",
            path.display()
        )));
    }
    Ok((ratings, path))
}

/// `(timestamp, rating, flagged)` of each rating of `item` under the model `mf`, by user.
fn events(mf: &ModelFile, source: &Source, item: &str) -> CliResult<Vec<(i64, f64, bool)>> {
    let unknown = || {
        CliError::UnknownId(format!(
            "item {item:?} is not in the model and its training data ({})",
            source.describe()
        ))
    };
    let i_model = mf.items().index(item).ok_or_else(unknown)?;
    match source {
        Source::Model => {
            let flags = mf.model().corrupt_positions();
            let history = mf.item_history(i_model).unwrap_or_default();
            Ok(history
                .into_iter()
                .map(|(p, _, v, t)| (t, v, flags.binary_search(&p).is_ok()))
                .collect())
        }
        Source::Data(ratings, _) => {
            let times = ratings.times().unwrap_or_default();
            let i_data = ratings.items().index(item).ok_or_else(unknown)?;
            // The users whose rating of the item the model flagged, by id.
            let flagged: HashSet<&str> = mf
                .model()
                .corrupt_entries()
                .iter()
                .filter(|&&(_, i)| i == i_model)
                .map(|&(u, _)| mf.users().external(u))
                .collect();
            let (raters, values) = ratings.item(i_data);
            let csc = ratings.csc().indptr();
            let positions = &ratings.csc_to_csr()[csc.outer_inds_sz(i_data as usize)];
            Ok(raters
                .iter()
                .zip(values)
                .zip(positions)
                .map(|((&u, &v), &p)| {
                    let id = ratings.users().external(u);
                    (times[p as usize], v, flagged.contains(id))
                })
                .collect())
        }
    }
}

/// The timeline of `item` under the model `mf`, from the ratings of `source`.
pub fn timeline(
    mf: &ModelFile,
    source: &Source,
    item: &str,
    period: Period,
) -> CliResult<Timeline> {
    let mut events = events(mf, source, item)?;
    if events.is_empty() {
        return Err(CliError::Data(format!(
            "item {item:?} has no ratings in {}",
            source.describe()
        )));
    }
    events.sort_by_key(|e| e.0);
    let span_days = (events[events.len() - 1].0 - events[0].0) / DAY;
    let period = match period {
        Period::Auto if span_days <= 60 => Period::Day,
        Period::Auto if span_days <= 730 => Period::Week,
        Period::Auto => Period::Month,
        p => p,
    };
    let mut rows: Vec<Row> = Vec::new();
    for &(t, v, f) in &events {
        let label = period_label(t, period);
        if rows.last().is_none_or(|r| r.period != label) {
            rows.push(Row {
                period: label,
                ratings: 0,
                mean_rating: 0.0,
                flagged: 0,
                flagged_share: 0.0,
            });
        }
        let r = rows.last_mut().expect("pushed above");
        r.ratings += 1;
        r.mean_rating += v;
        r.flagged += usize::from(f);
    }
    for r in &mut rows {
        r.mean_rating /= r.ratings as f64;
        r.flagged_share = r.flagged as f64 / r.ratings as f64;
    }
    Ok(Timeline {
        period,
        ratings: events.len(),
        flagged: events.iter().filter(|e| e.2).count(),
        rows,
    })
}

/// Runs the timeline of `item` for the model `mf`.
pub fn run(
    mf: &ModelFile,
    item: &str,
    data: Option<&Path>,
    period: Period,
    title: Option<String>,
    out: &Output,
) -> CliResult<()> {
    let source = Source::find(mf, data)?;
    let t = timeline(mf, &source, item, period)?;
    let report = Report {
        command: "flagged --item",
        item,
        title,
        data: source.describe(),
        period: t.period,
        ratings: t.ratings,
        flagged: t.flagged,
        rows: t.rows,
    };
    if out.json {
        return out.json_doc(&report);
    }
    let mut table = Table::new(&[
        ("period", false),
        ("ratings", true),
        ("mean", true),
        ("flagged", true),
        ("share", true),
    ]);
    for r in &report.rows {
        table.row(vec![
            r.period.clone(),
            r.ratings.to_string(),
            format!("{:.2}", r.mean_rating),
            r.flagged.to_string(),
            format!("{:.0}%", 100.0 * r.flagged_share),
        ]);
    }
    let name = match &report.title {
        Some(t) => format!("item {item} ({t})"),
        None => format!("item {item}"),
    };
    out.text(&format!(
        "{name}: {} ratings, {} flagged, by {} (UTC), from {}\n{}",
        report.ratings,
        report.flagged,
        t.period.name(),
        report.data,
        table.render()
    ))
}

impl Period {
    /// `day`, `week` or `month` (`auto` before it is resolved).
    pub fn name(self) -> &'static str {
        match self {
            Period::Auto => "auto",
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

/// The label of the period holding `t` (seconds since the Unix epoch).
fn period_label(t: i64, period: Period) -> String {
    let day = t.div_euclid(DAY);
    match period {
        Period::Week => {
            // 1970-01-01 was a Thursday: days + 3 counts from a Monday.
            let monday = day - (day + 3).rem_euclid(7);
            format_timestamp(monday * DAY)[..10].to_string()
        }
        Period::Month => format_timestamp(t)[..7].to_string(),
        _ => format_timestamp(day * DAY)[..10].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_their_first_day() {
        // 2025-12-02 is a Tuesday; its week starts on Monday 2025-12-01.
        let t = 1_764_633_600 + 3600; // 2025-12-02T01:00:00Z
        assert_eq!(period_label(t, Period::Day), "2025-12-02");
        assert_eq!(period_label(t, Period::Week), "2025-12-01");
        assert_eq!(period_label(t, Period::Month), "2025-12");
        assert_eq!(period_label(0, Period::Week), "1969-12-29");
    }
}
