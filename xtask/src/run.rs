//! `cargo xtask reproduce` from flags to files: check the flags, load the data, calibrate, run
//! the repetitions in parallel, time the algorithms, then write the JSON, the plots and the
//! report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use cnmf_ratings::exit::Exit;
use cnmf_ratings::{Ratings, RatingsError};
use rayon::prelude::*;

use crate::calibrate::{self, Calibration};
use crate::cli::{ReproduceArgs, Schedule};
use crate::config::Config;
use crate::data;
use crate::extra::{self, ExtraMethod};
use crate::figures;
use crate::json::{self, Document, GitInfo, Machine, Timings};
use crate::more_attacks::MoreAttackSettings;
use crate::progress::Progress;
use crate::protocol::{self, Settings, SweepSettings};
use crate::records::RepRecord;
use crate::report::{self, PlotIndex};
use crate::summary;
use crate::timing::{self, TimeCurve};
use crate::verdicts;

/// What a run wrote.
#[derive(Debug)]
pub struct Outcome {
    /// reproduce.json.
    pub json: PathBuf,
    /// REPRODUCTION.md.
    pub report: PathBuf,
    /// Total seconds.
    pub seconds: f64,
}

/// A flag value refused before any work (exit code 2, as `cnmf` and clap give).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(UsageError(format!("{e:#}")))
}

/// The exit code of a failed run, from the workspace's shared table (`cnmf_ratings::exit`):
/// a refused flag is a usage error (2), unreadable or malformed data bad data (3), a failed
/// download or anything else a runtime failure (1).
pub fn exit_code(e: &anyhow::Error) -> Exit {
    if e.chain().any(|c| c.is::<UsageError>()) {
        return Exit::Usage;
    }
    match e.chain().find_map(|c| c.downcast_ref::<RatingsError>()) {
        Some(RatingsError::Download { .. }) | None => Exit::Runtime,
        Some(RatingsError::InvalidParameter { .. } | RatingsError::InvalidScale { .. }) => {
            Exit::Usage
        }
        Some(_) => Exit::Data,
    }
}

/// Runs the reproduction. `out` receives the human-readable summary (stdout in the binary).
pub fn reproduce(args: &ReproduceArgs, command: String, out: &mut dyn Write) -> Result<Outcome> {
    let start = Instant::now();
    let started_unix_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Before anything is written: a report written into a tracked folder (docs/reproduction)
    // must not count its own files as uncommitted changes of the code that made it.
    let git = GitInfo::current();
    let config = Config::from_args(args).map_err(usage)?;
    let mut timings = Timings::default();

    let ds = load_data(&config, &mut timings, out)?;
    preflight(&ds.ratings, &config).map_err(usage)?;
    config.prepare_output()?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .context("cannot build the worker thread pool")?;
    let extras = extra::registry(config.k, args.extra_methods);
    let progress = Progress::new(config.reps as u64, calibrate::fits(&config));

    let cal = calibration(&pool, &ds.ratings, &config, &progress, &mut timings, out)?;
    let result = pool.install(|| -> Result<_> {
        let settings = settings(&config, &cal);
        let reps = repetitions(
            &ds.ratings,
            &config,
            &settings,
            &extras,
            args.schedule,
            &progress,
            &mut timings,
        )?;
        let tta = time_to_accuracy(&ds.ratings, &config, &settings, &progress, &mut timings)?;
        Ok((settings, reps, tta))
    });
    progress.finish();
    let (settings, reps, tta) = result?;

    let t = Instant::now();
    let summary = summary::summarise(&reps, &verdicts::budget_label(&settings))?;
    let plots = figures::draw_all(
        &config.out.join("plots"),
        &settings,
        &cal,
        &summary,
        &tta,
        &reps,
    )?;
    let mut doc = Document {
        tool: "cargo xtask reproduce",
        command,
        git,
        started_unix_secs,
        machine: Machine::this(config.threads),
        data: &ds.info,
        config: &config,
        settings: &settings,
        calibration: &cal,
        extra_methods: extras
            .iter()
            .map(|m| (m.name().to_string(), m.describe()))
            .collect(),
        summary: &summary,
        time_to_accuracy: &tta,
        repetitions: &reps,
        timings: Timings::default(),
    };
    timings.report_secs = t.elapsed().as_secs_f64();
    timings.total_secs = start.elapsed().as_secs_f64();
    doc.timings = timings;
    let (report_path, json_path) = write_outputs(&doc, &plots)?;
    print_summary(&doc, &report_path, &json_path, out)?;
    Ok(Outcome {
        json: json_path,
        report: report_path,
        seconds: doc.timings.total_secs,
    })
}
/// Loads the data set and says which one it is (loudly when it is synthetic).
fn load_data(config: &Config, timings: &mut Timings, out: &mut dyn Write) -> Result<data::DataSet> {
    let t = Instant::now();
    let ds = data::load(config.data.as_deref(), config.download)?;
    timings.load_secs = t.elapsed().as_secs_f64();
    let info = &ds.info;
    if info.synthetic {
        writeln!(
            out,
            "WARNING: no MovieLens data found; using an ML-1M-shaped SYNTHETIC data set. The \
             figures are NOT comparable with the paper's.\n  ({})",
            info.origin
        )?;
    }
    writeln!(
        out,
        "data set: {} ({}), {} users x {} items, {} ratings, SHA-256 {}",
        info.name,
        info.path.as_deref().unwrap_or("generated in memory"),
        info.n_users,
        info.n_items,
        info.n_ratings,
        info.sha256
    )?;
    Ok(ds)
}

/// Calibrates lambda and the iteration budget on the pool, and reports them.
fn calibration(
    pool: &rayon::ThreadPool,
    ratings: &Ratings,
    config: &Config,
    progress: &Progress,
    timings: &mut Timings,
    out: &mut dyn Write,
) -> Result<Calibration> {
    progress.phase("calibration");
    let t = Instant::now();
    let cal = pool.install(|| calibrate::run(ratings, config, progress));
    timings.calibration_secs = t.elapsed().as_secs_f64();
    let cal = match cal {
        Ok(c) => c,
        Err(e) => {
            progress.finish();
            return Err(e);
        }
    };
    progress.suspend(|| {
        writeln!(
            out,
            "calibration ({:.1} s): lambda = {:.4}; iterations: {}",
            timings.calibration_secs, cal.lambda, cal.iters_note
        )
    })?;
    Ok(cal)
}

/// The settings every repetition runs with: the configuration plus what calibration chose.
fn settings(config: &Config, cal: &Calibration) -> Settings {
    Settings {
        k: config.k,
        iters: cal.iters,
        time_budget: config.time_budget_secs.map(Duration::from_secs_f64),
        lambda: cal.lambda,
        attack_size: config.attack_size(),
        target_min_ratings: config.target_min_ratings,
        seed: config.seed,
        test_fraction: config.protocol.test_fraction,
        validation_fraction: config.protocol.validation_fraction,
        noise_probability: config.protocol.noise_probability,
        filler: config.protocol.filler,
        regularised: calibrate::regularised(cal, config),
        recipe_reps: config.recipe_reps,
        sweeps: config.sweeps.then(|| SweepSettings {
            reps: config.sweep_reps,
            sizes: config.protocol.sweep_attack_sizes.clone(),
            multipliers: config.protocol.lambda_multipliers.clone(),
            fillers: config.protocol.sweep_fillers.clone(),
        }),
        budgets: crate::budgets::from_calibration(config, cal),
        more_attacks: config.more_attacks.then_some(MoreAttackSettings {
            unpopular_band: config.protocol.unpopular_band,
        }),
    }
}

/// Runs the repetitions (paper block, regularised block, extra methods, sweeps) as `schedule`
/// says; the progress bar first learns every fit still to come, time to accuracy's included.
fn repetitions(
    ratings: &Ratings,
    config: &Config,
    settings: &Settings,
    extras: &[Box<dyn ExtraMethod>],
    schedule: Schedule,
    progress: &Progress,
    timings: &mut Timings,
) -> Result<Vec<RepRecord>> {
    let fits: u64 = (0..config.reps)
        .map(|r| protocol::fits_in_rep(settings, extras.len(), r, ratings.n_users()))
        .sum::<u64>()
        + cnmf_engine::Algorithm::ALL.len() as u64;
    progress.add_fits(fits);

    progress.phase("repetitions");
    let t = Instant::now();
    let run_one = |r: usize| {
        let rec = protocol::run_rep(ratings, settings, extras, r, progress);
        progress.rep_done();
        rec
    };
    let reps: Vec<_> = match schedule {
        Schedule::Reps => (0..config.reps)
            .into_par_iter()
            .map(run_one)
            .collect::<Result<_>>()?,
        Schedule::Fits => (0..config.reps).map(run_one).collect::<Result<_>>()?,
    };
    timings.repetitions_secs = t.elapsed().as_secs_f64();
    Ok(reps)
}

/// Traces every algorithm alone on repetition 0's data (convergence and time to accuracy).
fn time_to_accuracy(
    ratings: &Ratings,
    config: &Config,
    settings: &Settings,
    progress: &Progress,
    timings: &mut Timings,
) -> Result<Vec<TimeCurve>> {
    progress.phase("time to accuracy");
    let t = Instant::now();
    let tta = timing::run(ratings, config, settings, progress)?;
    timings.time_to_accuracy_secs = t.elapsed().as_secs_f64();
    Ok(tta)
}

/// Writes REPRODUCTION.md and reproduce.json into the output directory; returns their paths.
fn write_outputs(doc: &Document<'_>, plots: &PlotIndex) -> Result<(PathBuf, PathBuf)> {
    let md = report::markdown(doc, plots);
    let report_path = doc.config.out.join("REPRODUCTION.md");
    std::fs::write(&report_path, &md)
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    let json_path = doc.config.out.join("reproduce.json");
    json::write(&json_path, doc)?;
    Ok((report_path, json_path))
}

/// Prints Tables 1 and 2, the null-attack control, the verdicts and where the files went.
fn print_summary(
    doc: &Document<'_>,
    report_path: &Path,
    json_path: &Path,
    out: &mut dyn Write,
) -> Result<()> {
    let (config, summary, settings) = (doc.config, doc.summary, doc.settings);
    writeln!(
        out,
        "\nTable 1: NMAE on the clean test set ({})\n",
        report::cells(config.reps)
    )?;
    write!(out, "{}", report::table1(&summary.paper))?;
    writeln!(
        out,
        "\nTable 2: mean absolute prediction shift (mean [95% interval])\n"
    )?;
    write!(out, "{}", report::table2(&summary.paper))?;
    if !summary.null_control.is_empty() {
        writeln!(
            out,
            "\nNull-attack control: MAPS of Model 3's users without target ratings, and the \
             attacks' MAPS net of it (mean [95% interval])\n"
        )?;
        write!(out, "{}", report::control_table(&summary.null_control))?;
    }
    writeln!(out)?;
    for v in &summary.verdicts {
        let n = if v.repetitions < 2 {
            ": n < 2 repetitions".to_string()
        } else {
            format!(" (n = {})", v.repetitions)
        };
        writeln!(out, "{}{n}: {}", v.verdict, v.short)?;
    }
    let budget = verdicts::budget_label(settings);
    writeln!(
        out,
        "\nlambda = {:.4}, {budget}; wrote {} and {} ({:.1} s)",
        settings.lambda,
        report_path.display(),
        json_path.display(),
        doc.timings.total_secs
    )?;
    Ok(())
}

/// Checks what can be checked against the data before any work: a target can be drawn and the
/// attack is not larger than the user base.
fn preflight(data: &cnmf_ratings::Ratings, c: &Config) -> Result<()> {
    let most = (0..data.n_items() as u32)
        .map(|i| data.item_count(i))
        .max()
        .unwrap_or(0);
    // The target is drawn among items with that many *training* ratings (90% of them).
    let needed = c.target_min_ratings;
    if most < needed {
        anyhow::bail!(
            "no item has at least {needed} ratings (the most rated has {most}), so no target \
             can be drawn: lower --target-min-ratings"
        );
    }
    if let crate::cli::AttackSizeArg::Count(n) = c.attack_size {
        if n > data.n_users() {
            anyhow::bail!(
                "--attack-size {n} exceeds the {} users of the data set",
                data.n_users()
            );
        }
    }
    Ok(())
}
