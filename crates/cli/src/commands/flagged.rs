//! `cnmf flagged`: the review-bomb report, i.e. the training ratings the model flagged as
//! corrupt, grouped by user and by item, and for `guarded` the users its profile screen kept
//! out of every item's fit.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use cnmf_engine::Algorithm;
use cnmf_ratings::time::format_timestamp;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::model_file::{ModelFile, Need};
use crate::output::{csv_field, Output, Table};
use crate::titles::{ItemTitles, ItemsArg};

/// Output layout of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned text tables.
    Table,
    /// CSV of one group (see --by; users by default).
    Csv,
    /// One JSON document with the summary, users, items and entries (same as --json).
    Json,
}

/// Which group to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Group {
    /// Users ranked by the share of their ratings flagged.
    Users,
    /// Items ranked by the number of flagged ratings they received.
    Items,
    /// Every flagged rating with the model's prediction.
    Entries,
    /// guarded only: the users its profile screen kept out of every item's fit.
    Screened,
    /// guarded only: the bursts in time its burst screen held out of the fit.
    Bursts,
}

/// Arguments of `cnmf flagged`.
#[derive(Debug, Clone, Args)]
pub struct FlaggedArgs {
    /// The model file written by `cnmf fit` (with an algorithm that flags: ignore-corrupt,
    /// replace-corrupt, replace-corrupt-nointerp, huber, trimmed or guarded; guarded flags the
    /// ratings kept out of the items' fit, which include every rating of a screened user).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// List only users with at least this share of their ratings flagged (0 to 1). Review
    /// bombers have most of their ratings flagged; honest users with an odd rating or two
    /// fall below the default.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    min_share: f64,
    /// Output layout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// List only this group (table and CSV; CSV lists users when not given).
    #[arg(long, value_enum)]
    by: Option<Group>,
    /// At most this many rows per group (default: 20 in tables, all in CSV and JSON).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    top: Option<u32>,
    #[command(flatten)]
    items: ItemsArg,
    /// Show this item's ratings over time instead, with the share flagged in each period
    /// (timestamps from --data, else from the model when it stores them (`cnmf fit
    /// --keep-times`), else from the training file the model records).
    #[arg(long, value_name = "ITEM")]
    item: Option<String>,
    /// With --item or --html: the ratings file the model was fitted on, for the timestamps
    /// (default: the model's stored ratings, else the file the model records).
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// With --item or --html: the length of a period.
    #[arg(long, value_enum, default_value_t = crate::commands::timeline::Period::Auto)]
    period: crate::commands::timeline::Period,
    /// Write the report as one self-contained HTML page (SVG timelines of the --top most
    /// flagged items, default 5, and the tables of items and users) to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "item")]
    html: Option<PathBuf>,
}

/// The flags of one user or item.
#[derive(Debug, Clone, Serialize)]
pub struct FlagStats {
    /// Its training ratings.
    pub ratings: usize,
    /// How many of them are flagged.
    pub flagged: usize,
    /// `flagged / ratings`.
    pub share: f64,
    /// Mean of the flagged ratings.
    pub mean_flagged_rating: f64,
    /// Mean model prediction on the flagged entries.
    pub mean_prediction: f64,
}

impl FlagStats {
    /// From the sums over the flagged entries `(count, ratings, predictions)` and the number of
    /// training ratings.
    fn new((flagged, ratings_sum, predictions_sum): (usize, f64, f64), ratings: usize) -> Self {
        FlagStats {
            ratings,
            flagged,
            share: flagged as f64 / ratings as f64,
            mean_flagged_rating: ratings_sum / flagged as f64,
            mean_prediction: predictions_sum / flagged as f64,
        }
    }
}

/// One user of the report.
#[derive(Debug, Clone, Serialize)]
pub struct UserRow {
    /// External user id.
    pub user: String,
    /// Its flags.
    #[serde(flatten)]
    pub stats: FlagStats,
}

/// One item of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ItemRow {
    /// External item id.
    pub item: String,
    /// The item's title (`--items`), `null` when unknown.
    pub title: Option<String>,
    /// Its flags.
    #[serde(flatten)]
    pub stats: FlagStats,
}

/// One user of guarded's profile screen.
#[derive(Debug, Clone, Serialize)]
pub struct ScreenedRow {
    /// External user id.
    pub user: String,
    /// Its training ratings (all of them flagged).
    pub ratings: usize,
}

/// One burst of guarded's burst screen.
#[derive(Debug, Clone, Serialize)]
pub struct BurstRow {
    /// External item id.
    pub item: String,
    /// The item's title (`--items`), `null` when unknown.
    pub title: Option<String>,
    /// First and last time of the burst's ratings (UTC).
    pub start: String,
    /// Last time of the burst's ratings (UTC).
    pub end: String,
    /// Ratings in the burst.
    pub count: usize,
    /// Their mean.
    pub mean: f64,
    /// Mean of the item's other ratings.
    pub rest_mean: f64,
    /// z score of the shift.
    pub z: f64,
    /// External ids of the users whose ratings were held.
    pub users: Vec<String>,
}

/// One flagged rating.
#[derive(Debug, Clone, Serialize)]
pub struct EntryRow {
    /// External user id.
    pub user: String,
    /// External item id.
    pub item: String,
    /// The item's title (`--items`), `null` when unknown.
    pub title: Option<String>,
    /// The training rating.
    pub rating: f64,
    /// The model's prediction (clipped).
    pub prediction: f64,
}

#[derive(Serialize)]
struct Summary {
    algorithm: String,
    lambda: Option<f64>,
    ratings: usize,
    flagged: usize,
    flagged_share: f64,
    users_with_flags: usize,
    users_listed: usize,
    min_share: f64,
    items_with_flags: usize,
    /// guarded only: the number of users its profile screen kept out of the items' fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    screened_users: Option<usize>,
    /// guarded only: the number of bursts its burst screen found (`null`: it did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    bursts: Option<Option<usize>>,
}

/// Every list the report can show.
struct Lists<'a> {
    users: &'a [UserRow],
    items: &'a [ItemRow],
    entries: &'a [EntryRow],
    screened: &'a [ScreenedRow],
    bursts: &'a [BurstRow],
    titles: &'a ItemTitles,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    summary: &'a Summary,
    users: &'a [UserRow],
    items: &'a [ItemRow],
    entries: &'a [EntryRow],
    #[serde(skip_serializing_if = "Option::is_none")]
    screened: Option<&'a [ScreenedRow]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bursts: Option<&'a [BurstRow]>,
}

/// Runs `cnmf flagged`.
pub fn run(args: &FlaggedArgs, out: &Output) -> CliResult<()> {
    check_min_share("--min-share", args.min_share)?;
    let mf = ModelFile::read_for_process(&crate::input::Input::new(&args.model), Need::All)?;
    let model = mf.model();
    if !model.algorithm().flags_corruption() {
        out.note(&format!(
            "the model was fitted with {}, which flags nothing; refit with ignore-corrupt (or another corrupt variant, huber or trimmed) for a review-bomb report",
            model.algorithm()
        ));
    }
    if args.data.is_some() && args.item.is_none() && args.html.is_none() {
        return Err(CliError::Usage(
            "--data is read for --item or --html (the ratings' timestamps)".into(),
        ));
    }
    let titles = args.items.load(mf, out)?;
    if let Some(path) = &args.html {
        return write_html(args, mf, &titles, path, out);
    }
    if let Some(item) = &args.item {
        let title = titles.get(item);
        return crate::commands::timeline::run(
            mf,
            item,
            args.data.as_deref(),
            args.period,
            title,
            out,
        );
    }
    let report = FlagReport::new(mf, args.min_share, &titles)?;
    let guarded = report.guarded;
    if matches!(args.by, Some(Group::Screened | Group::Bursts)) && !guarded {
        return Err(CliError::Usage(format!(
            "--by {} needs a model fitted with guarded, not {}",
            if args.by == Some(Group::Bursts) {
                "bursts"
            } else {
                "screened"
            },
            model.algorithm()
        )));
    }
    let lists = Lists {
        users: &report.users,
        items: &report.items,
        entries: &report.entries,
        screened: &report.screened,
        bursts: &report.bursts,
        titles: &titles,
    };
    let format = if out.json {
        ReportFormat::Json
    } else {
        args.format
    };
    let limit = |default: Option<u32>| args.top.or(default).map_or(usize::MAX, |t| t as usize);
    match format {
        ReportFormat::Json => out.json_doc(&report.json(limit(None))),
        ReportFormat::Csv => {
            let l = limit(None);
            out.text(&csv(args.by.unwrap_or(Group::Users), &lists, l))
        }
        ReportFormat::Table => {
            let l = limit(Some(20));
            out.text(&table(&report.summary, args.by, &lists, l))
        }
    }
}

/// A `min_share` outside [0, 1] is a usage error; `name` is the option's spelling.
pub fn check_min_share(name: &str, min_share: f64) -> CliResult<()> {
    if !(0.0..=1.0).contains(&min_share) {
        return Err(CliError::Usage(format!(
            "{name} must lie in [0, 1], got {min_share}"
        )));
    }
    Ok(())
}

/// The whole review-bomb report of a model: what `cnmf flagged` prints and `cnmf serve`'s
/// `/flagged` returns.
pub struct FlagReport {
    summary: Summary,
    users: Vec<UserRow>,
    items: Vec<ItemRow>,
    entries: Vec<EntryRow>,
    screened: Vec<ScreenedRow>,
    bursts: Vec<BurstRow>,
    guarded: bool,
}

impl FlagReport {
    /// The report of `mf`'s flags, listing users with at least `min_share` of their ratings
    /// flagged (a usage error outside [0, 1]). Needs the rated pattern ([`Need::All`]).
    pub fn new(mf: &ModelFile, min_share: f64, titles: &ItemTitles) -> CliResult<FlagReport> {
        check_min_share("min_share", min_share)?;
        let model = mf.model();
        let Groups {
            users,
            users_with_flags,
            items,
            entries,
        } = group_flags(mf, min_share, titles);
        let guarded = model.algorithm() == Algorithm::Guarded;
        let bursts: Vec<BurstRow> = model
            .bursts()
            .unwrap_or_default()
            .iter()
            .map(|b| BurstRow {
                item: mf.items().external(b.item).to_string(),
                title: titles.get(mf.items().external(b.item)),
                start: format_timestamp(b.start),
                end: format_timestamp(b.end),
                count: b.count,
                mean: b.mean,
                rest_mean: b.rest_mean,
                z: b.z,
                users: b
                    .users
                    .iter()
                    .map(|&u| mf.users().external(u).to_string())
                    .collect(),
            })
            .collect();
        let screened: Vec<ScreenedRow> = model
            .screened_users()
            .iter()
            .map(|&u| ScreenedRow {
                user: mf.users().external(u).to_string(),
                ratings: mf.rated(u).len(),
            })
            .collect();
        let summary = Summary {
            algorithm: model.algorithm().name().to_string(),
            lambda: model.params().lambda(),
            ratings: mf.n_ratings(),
            flagged: entries.len(),
            flagged_share: entries.len() as f64 / mf.n_ratings() as f64,
            users_with_flags,
            users_listed: users.len(),
            min_share,
            items_with_flags: items.len(),
            screened_users: guarded.then_some(screened.len()),
            bursts: guarded.then(|| model.bursts().map(<[_]>::len)),
        };
        Ok(FlagReport {
            summary,
            users,
            items,
            entries,
            screened,
            bursts,
            guarded,
        })
    }

    /// The JSON document (`cnmf flagged --json`) with at most `limit` rows per list.
    /// The listed users.
    pub fn users(&self) -> &[UserRow] {
        &self.users
    }

    /// The items with a flag.
    pub fn items(&self) -> &[ItemRow] {
        &self.items
    }

    /// One sentence: the algorithm, lambda, flagged ratings and users.
    pub fn summary_line(&self, model: &str) -> String {
        let s = &self.summary;
        format!(
            "{model}: {} flagged {} of {} ratings ({:.2}%) on {} items; {} users have a flag, \
             {} of them at least {:.0}% of their ratings{}",
            s.algorithm,
            s.flagged,
            s.ratings,
            100.0 * s.flagged_share,
            s.items_with_flags,
            s.users_with_flags,
            s.users_listed,
            100.0 * s.min_share,
            s.lambda
                .map_or(String::new(), |l| format!(" (lambda {l:.4})"))
        )
    }

    pub fn json(&self, limit: usize) -> impl Serialize + '_ {
        let l = limit;
        Report {
            command: "flagged",
            summary: &self.summary,
            users: &self.users[..self.users.len().min(l)],
            items: &self.items[..self.items.len().min(l)],
            entries: &self.entries[..self.entries.len().min(l)],
            screened: self
                .guarded
                .then(|| &self.screened[..self.screened.len().min(l)]),
            bursts: self
                .guarded
                .then(|| &self.bursts[..self.bursts.len().min(l)]),
        }
    }
}

/// The flagged entries grouped by user and by item, ranked.
struct Groups {
    /// Users with at least `min_share` of their ratings flagged, by share, then count.
    users: Vec<UserRow>,
    /// Users with any flag, listed or not.
    users_with_flags: usize,
    /// Items with a flag, by count, then share.
    items: Vec<ItemRow>,
    /// Every flagged entry, in CSR order.
    entries: Vec<EntryRow>,
}

/// Groups the model's flags by user and by item.
fn group_flags(mf: &ModelFile, min_share: f64, titles: &ItemTitles) -> Groups {
    let model = mf.model();
    let (n, m) = (model.n_users(), model.n_items());
    // Per user / item: flagged count, sum of flagged ratings, sum of predictions.
    let mut per_user = vec![(0usize, 0.0f64, 0.0f64); n];
    let mut per_item = vec![(0usize, 0.0f64, 0.0f64); m];
    let flags = model.corrupt_entries();
    let mut entries = Vec::with_capacity(flags.len());
    for (&(u, i), &r) in flags.iter().zip(mf.corrupt_ratings()) {
        let p = model.predict(u, i);
        for acc in [&mut per_user[u as usize], &mut per_item[i as usize]] {
            acc.0 += 1;
            acc.1 += r;
            acc.2 += p;
        }
        entries.push(EntryRow {
            user: mf.users().external(u).to_string(),
            item: mf.items().external(i).to_string(),
            title: titles.get(mf.items().external(i)),
            rating: r,
            prediction: p,
        });
    }
    let item_counts = mf.item_rating_counts();
    let mut users: Vec<UserRow> = (0..n as u32)
        .filter(|&u| per_user[u as usize].0 > 0)
        .map(|u| UserRow {
            user: mf.users().external(u).to_string(),
            stats: FlagStats::new(per_user[u as usize], mf.rated(u).len()),
        })
        .filter(|r| r.stats.share >= min_share)
        .collect();
    // Stable sorts over index order, so ties keep the training order.
    users.sort_by(|a, b| {
        let (a, b) = (&a.stats, &b.stats);
        b.share.total_cmp(&a.share).then(b.flagged.cmp(&a.flagged))
    });
    let mut items: Vec<ItemRow> = (0..m as u32)
        .filter(|&i| per_item[i as usize].0 > 0)
        .map(|i| ItemRow {
            item: mf.items().external(i).to_string(),
            title: titles.get(mf.items().external(i)),
            stats: FlagStats::new(per_item[i as usize], item_counts[i as usize] as usize),
        })
        .collect();
    items.sort_by(|a, b| {
        let (a, b) = (&a.stats, &b.stats);
        b.flagged.cmp(&a.flagged).then(b.share.total_cmp(&a.share))
    });
    Groups {
        users,
        users_with_flags: per_user.iter().filter(|a| a.0 > 0).count(),
        items,
        entries,
    }
}

fn csv(by: Group, lists: &Lists<'_>, limit: usize) -> String {
    let Lists {
        users,
        items,
        entries,
        screened,
        bursts,
        titles,
    } = *lists;
    let mut s = String::new();
    match by {
        Group::Users => {
            let rows = users.iter().map(|r| (&r.user, None, &r.stats));
            push_group_csv(&mut s, "user", rows.take(limit), &ItemTitles::default());
        }
        Group::Items => {
            let rows = items
                .iter()
                .map(|r| (&r.item, r.title.as_deref(), &r.stats));
            push_group_csv(&mut s, "item", rows.take(limit), titles);
        }
        Group::Entries => {
            let _ = writeln!(s, "user,item,rating,prediction{}", titles.csv_header());
            for r in entries.iter().take(limit) {
                let _ = writeln!(
                    s,
                    "{},{},{},{}{}",
                    csv_field(&r.user),
                    csv_field(&r.item),
                    r.rating,
                    r.prediction,
                    titles.csv_cell(r.title.as_deref())
                );
            }
        }
        Group::Screened => {
            s.push_str("user,ratings\n");
            for r in screened.iter().take(limit) {
                let _ = writeln!(s, "{},{}", csv_field(&r.user), r.ratings);
            }
        }
        Group::Bursts => {
            let _ = writeln!(
                s,
                "item,start,end,count,mean,rest_mean,z,held{}",
                titles.csv_header()
            );
            for r in bursts.iter().take(limit) {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{},{}{}",
                    csv_field(&r.item),
                    r.start,
                    r.end,
                    r.count,
                    r.mean,
                    r.rest_mean,
                    r.z,
                    r.users.len(),
                    titles.csv_cell(r.title.as_deref())
                );
            }
        }
    }
    s
}

fn table(summary: &Summary, by: Option<Group>, lists: &Lists<'_>, limit: usize) -> String {
    let Lists {
        users,
        items,
        entries,
        screened,
        bursts,
        titles,
    } = *lists;
    let mut s = format!(
        "{} flagged {} of {} ratings ({:.2}%) as corrupt{}: {} users, {} items\n",
        summary.algorithm,
        summary.flagged,
        summary.ratings,
        100.0 * summary.flagged_share,
        summary
            .lambda
            .map_or(String::new(), |l| format!(" (lambda = {l:.4})")),
        summary.users_with_flags,
        summary.items_with_flags
    );
    let shown = |total: usize| {
        if total > limit {
            format!(" (top {limit} of {total}; --top to change)")
        } else {
            String::new()
        }
    };
    if let Some(n) = summary.screened_users {
        let _ = writeln!(
            s,
            "profile screen: {n} users kept out of every item's fit (all their ratings count as flagged)"
        );
    }
    match summary.bursts {
        Some(Some(n)) => {
            let held: usize = bursts.iter().map(|b| b.users.len()).sum();
            let _ = writeln!(
                s,
                "burst screen: {n} items with a burst in time, {held} ratings held (flagged)"
            );
        }
        Some(None) => {
            let _ = writeln!(
                s,
                "burst screen: did not run (off, or the training data had no timestamps)"
            );
        }
        None => {}
    }
    if by.is_none() || by == Some(Group::Users) {
        let _ = writeln!(
            s,
            "\nusers with at least {:.0}% of their ratings flagged: {}{}",
            100.0 * summary.min_share,
            users.len(),
            shown(users.len())
        );
        let rows = users.iter().map(|r| (&r.user, None, &r.stats));
        push_group_table(&mut s, "user", rows.take(limit), &ItemTitles::default());
    }
    if by.is_none() || by == Some(Group::Items) {
        let _ = writeln!(
            s,
            "\nitems by number of flagged ratings: {}{}",
            items.len(),
            shown(items.len())
        );
        let rows = items
            .iter()
            .map(|r| (&r.item, r.title.as_deref(), &r.stats));
        push_group_table(&mut s, "item", rows.take(limit), titles);
    }
    if by == Some(Group::Entries) {
        let _ = writeln!(
            s,
            "\nflagged ratings: {}{}",
            entries.len(),
            shown(entries.len())
        );
        let rows = entries.iter().take(limit).map(|r| {
            let cells = vec![
                r.user.clone(),
                r.item.clone(),
                format!("{}", r.rating),
                format!("{:.2}", r.prediction),
            ];
            (cells, r.title.as_deref())
        });
        let columns = [
            ("user", false),
            ("item", false),
            ("rating", true),
            ("prediction", true),
        ];
        let t = titles.table(&columns, rows);
        if !t.is_empty() {
            s.push_str(&t.render());
        }
    }
    if summary.screened_users.is_some() && (by.is_none() || by == Some(Group::Screened)) {
        let _ = writeln!(
            s,
            "\nusers screened by their rated items' popularity: {}{}",
            screened.len(),
            shown(screened.len())
        );
        let mut t = Table::new(&[("user", false), ("ratings", true)]);
        for r in screened.iter().take(limit) {
            t.row(vec![r.user.clone(), r.ratings.to_string()]);
        }
        if !t.is_empty() {
            s.push_str(&t.render());
        }
    }
    if matches!(summary.bursts, Some(Some(_))) && (by.is_none() || by == Some(Group::Bursts)) {
        let _ = writeln!(
            s,
            "\nbursts in time with shifted ratings: {}{}",
            bursts.len(),
            shown(bursts.len())
        );
        let rows = bursts.iter().take(limit).map(|r| {
            let cells = vec![
                r.item.clone(),
                r.start.clone(),
                r.end.clone(),
                r.count.to_string(),
                format!("{:.2}", r.mean),
                format!("{:.2}", r.rest_mean),
                format!("{:.1}", r.z),
                r.users.len().to_string(),
            ];
            (cells, r.title.as_deref())
        });
        let columns = [
            ("item", false),
            ("from (UTC)", false),
            ("to (UTC)", false),
            ("ratings", true),
            ("mean", true),
            ("others' mean", true),
            ("z", true),
            ("held", true),
        ];
        let t = titles.table(&columns, rows);
        if !t.is_empty() {
            s.push_str(&t.render());
        }
    }
    s
}

/// Appends the CSV of a group of users or items (`id` names the first column; a `title`
/// column last when `titles` were read).
fn push_group_csv<'a>(
    s: &mut String,
    id: &str,
    rows: impl Iterator<Item = (&'a String, Option<&'a str>, &'a FlagStats)>,
    titles: &ItemTitles,
) {
    let _ = writeln!(
        s,
        "{id},ratings,flagged,share,mean_flagged_rating,mean_prediction{}",
        titles.csv_header()
    );
    for (name, title, r) in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{}{}",
            csv_field(name),
            r.ratings,
            r.flagged,
            r.share,
            r.mean_flagged_rating,
            r.mean_prediction,
            titles.csv_cell(title)
        );
    }
}

/// Appends the table of a group of users or items (`id` names the first column; a `title`
/// column last when `titles` were read), if it has rows.
fn push_group_table<'a>(
    s: &mut String,
    id: &str,
    rows: impl Iterator<Item = (&'a String, Option<&'a str>, &'a FlagStats)>,
    titles: &ItemTitles,
) {
    let rows = rows.map(|(name, title, r)| {
        let cells = vec![
            name.clone(),
            r.ratings.to_string(),
            r.flagged.to_string(),
            format!("{:.1}%", 100.0 * r.share),
            format!("{:.2}", r.mean_flagged_rating),
            format!("{:.2}", r.mean_prediction),
        ];
        (cells, title)
    });
    let columns = [
        (id, false),
        ("ratings", true),
        ("flagged", true),
        ("share", true),
        ("mean flagged rating", true),
        ("mean prediction", true),
    ];
    let t = titles.table(&columns, rows);
    if !t.is_empty() {
        s.push_str(&t.render());
    }
}

/// `--html FILE`: the page, with the timelines of the most-flagged items when the training
/// ratings have timestamps (a note says why not otherwise), written atomically.
fn write_html(
    args: &FlaggedArgs,
    mf: &ModelFile,
    titles: &ItemTitles,
    path: &std::path::Path,
    out: &Output,
) -> CliResult<()> {
    use crate::commands::timeline::{timeline, Source};
    let output = crate::output::OutputFile::create(path, &[args.model.as_path()])?;
    let report = FlagReport::new(mf, args.min_share, titles)?;
    let top = args.top.map_or(5, |t| t as usize);
    let (timelines, note) = match Source::find(mf, args.data.as_deref()) {
        Ok(source) => {
            let mut t = Vec::new();
            for r in report.items().iter().take(top) {
                t.push((
                    r.item.clone(),
                    r.title.clone(),
                    timeline(mf, &source, &r.item, args.period)?,
                ));
            }
            (t, None)
        }
        Err(e) => {
            let why = format!("no timelines: {e}");
            out.note(&why);
            (Vec::new(), Some(why))
        }
    };
    let name = args.model.display().to_string();
    let page = crate::commands::html::page(&name, &report, &timelines, note.as_deref());
    output
        .commit(page.as_bytes())
        .map_err(|e| CliError::runtime(format!("writing {}: {e}", path.display())))?;
    out.info(&format!(
        "wrote {} ({} timelines, {} items, {} users)",
        path.display(),
        timelines.len(),
        report.items().len(),
        report.users().len()
    ));
    Ok(())
}
