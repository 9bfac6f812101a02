//! `cargo xtask reproduce` from flags to files: check the flags, load the data, calibrate, run
//! the repetitions in parallel, time the algorithms, then write the JSON, the plots and the
//! report.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::calibrate;
use crate::cli::{ReproduceArgs, Schedule};
use crate::config::Config;
use crate::data;
use crate::extra;
use crate::figures;
use crate::json::{self, Document, GitInfo, Machine, Timings};
use crate::progress::Progress;
use crate::protocol::{self, Settings, SweepSettings};
use crate::report;
use crate::summary;
use crate::timing;

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

/// Runs the reproduction. `out` receives the human-readable summary (stdout in the binary).
pub fn reproduce(args: &ReproduceArgs, command: String, out: &mut dyn Write) -> Result<Outcome> {
    let start = Instant::now();
    let started_unix_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let config = Config::from_args(args)?;
    let mut timings = Timings::default();

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
    preflight(&ds.ratings, &config)?;
    config.prepare_output()?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .context("cannot build the worker thread pool")?;
    let extras = extra::registry(config.k, args.extra_methods);
    let progress = Progress::new(config.reps as u64, calibrate::fits(&config));

    progress.phase("calibration");
    let t = Instant::now();
    let cal = pool.install(|| calibrate::run(&ds.ratings, &config, &progress));
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
    let result = pool.install(|| -> Result<_> {
        let settings = Settings {
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
            regularised: calibrate::regularised(&cal, &config),
            sweeps: config.sweeps.then(|| SweepSettings {
                reps: config.sweep_reps,
                sizes: config.protocol.sweep_attack_sizes.clone(),
                multipliers: config.protocol.lambda_multipliers.clone(),
            }),
        };
        let fits: u64 = (0..config.reps)
            .map(|r| protocol::fits_in_rep(&settings, extras.len(), r))
            .sum::<u64>()
            + cnmf_engine::Algorithm::ALL.len() as u64;
        progress.add_fits(fits);

        progress.phase("repetitions");
        let t = Instant::now();
        let run_one = |r: usize| {
            let rec = protocol::run_rep(&ds.ratings, &settings, &extras, r, &progress);
            progress.rep_done();
            rec
        };
        let reps: Vec<_> = match args.schedule {
            Schedule::Reps => (0..config.reps)
                .into_par_iter()
                .map(run_one)
                .collect::<Result<_>>()?,
            Schedule::Fits => (0..config.reps).map(run_one).collect::<Result<_>>()?,
        };
        timings.repetitions_secs = t.elapsed().as_secs_f64();

        progress.phase("time to accuracy");
        let t = Instant::now();
        let tta = timing::run(&ds.ratings, &config, &settings, &progress)?;
        timings.time_to_accuracy_secs = t.elapsed().as_secs_f64();
        Ok((settings, reps, tta))
    });
    progress.finish();
    let (settings, reps, tta) = result?;

    let t = Instant::now();
    let summary = summary::summarise(&reps)?;
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
        git: GitInfo::current(),
        started_unix_secs,
        machine: Machine::this(config.threads),
        data: info,
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
    let md = report::markdown(&doc, &plots);
    let report_path = config.out.join("REPRODUCTION.md");
    std::fs::write(&report_path, &md)
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    let json_path = config.out.join("reproduce.json");
    json::write(&json_path, &doc)?;

    writeln!(
        out,
        "\nTable 1: NMAE on the clean test set (mean ± sd over {} repetitions)\n",
        config.reps
    )?;
    write!(out, "{}", report::table1(&summary.paper))?;
    writeln!(
        out,
        "\nTable 2: mean absolute prediction shift (mean ± sd)\n"
    )?;
    write!(out, "{}", report::table2(&summary.paper))?;
    writeln!(out)?;
    for v in &summary.verdicts {
        writeln!(out, "{}: {}", v.verdict, v.claim)?;
    }
    let budget = match settings.time_budget {
        Some(b) => format!("{:.3} s per fit", b.as_secs_f64()),
        None => format!("{} iterations", settings.iters),
    };
    writeln!(
        out,
        "\nlambda = {:.4}, {budget}; wrote {} and {} ({:.1} s)",
        settings.lambda,
        report_path.display(),
        json_path.display(),
        doc.timings.total_secs
    )?;
    Ok(Outcome {
        json: json_path,
        report: report_path,
        seconds: doc.timings.total_secs,
    })
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
