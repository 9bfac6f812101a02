//! reproduce.json: every figure of every repetition, the configuration, the data set's
//! checksum, the git commit, the thread count and the timings.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::calibrate::Calibration;
use crate::config::Config;
use crate::data::DataInfo;
use crate::protocol::Settings;
use crate::records::RepRecord;
use crate::summary::Summary;
use crate::timing::TimeCurve;

/// The machine the run ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Worker threads used.
    pub threads: usize,
    /// Logical CPUs available.
    pub available_parallelism: usize,
    /// OS.
    pub os: &'static str,
    /// CPU architecture.
    pub arch: &'static str,
}

impl Machine {
    /// This machine, with `threads` workers.
    pub fn this(threads: usize) -> Machine {
        Machine {
            threads,
            available_parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
        }
    }
}

/// Where the code came from.
#[derive(Debug, Clone, Serialize)]
pub struct GitInfo {
    /// `git rev-parse HEAD`, or "unknown".
    pub commit: String,
    /// Whether tracked files differed from the commit (`git status`), when known.
    pub dirty: Option<bool>,
    /// Why the commit is unknown, if it is.
    pub note: Option<String>,
}

impl GitInfo {
    /// Asks git about the working directory.
    pub fn current() -> GitInfo {
        let run = |args: &[&str]| -> std::result::Result<String, String> {
            // The repository the runner was built from, wherever it is run.
            let out = Command::new("git")
                .arg("-C")
                .arg(env!("CARGO_MANIFEST_DIR"))
                .args(args)
                .output()
                .map_err(|e| format!("cannot run git: {e}"))?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        match run(&["rev-parse", "HEAD"]) {
            Ok(commit) => GitInfo {
                commit,
                dirty: run(&["status", "--porcelain", "--untracked-files=no"])
                    .ok()
                    .map(|s| !s.is_empty()),
                note: None,
            },
            Err(why) => GitInfo {
                commit: "unknown".into(),
                dirty: None,
                note: Some(format!("git rev-parse HEAD failed: {why}")),
            },
        }
    }
}

/// Wall-clock seconds of each phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    /// Loading (or generating) the data.
    pub load_secs: f64,
    /// Calibration.
    pub calibration_secs: f64,
    /// All repetitions (with their sweeps and regularised block).
    pub repetitions_secs: f64,
    /// Time-to-accuracy fits.
    pub time_to_accuracy_secs: f64,
    /// Summary, plots and report.
    pub report_secs: f64,
    /// Everything, from start to the JSON.
    pub total_secs: f64,
}

/// The whole document.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// `cargo xtask reproduce`.
    pub tool: &'static str,
    /// The command line.
    pub command: String,
    /// Git.
    pub git: GitInfo,
    /// Unix time the run started.
    pub started_unix_secs: u64,
    /// Machine.
    pub machine: Machine,
    /// Data set.
    pub data: &'a DataInfo,
    /// Flags, resolved.
    pub config: &'a Config,
    /// Settings every repetition used (after calibration).
    pub settings: &'a Settings,
    /// Calibration and its evidence.
    pub calibration: &'a Calibration,
    /// Extra methods and their settings.
    pub extra_methods: Vec<(String, String)>,
    /// Means, standard deviations, sweeps, verdicts.
    pub summary: &'a Summary,
    /// Time-to-accuracy traces.
    pub time_to_accuracy: &'a [TimeCurve],
    /// Every repetition's figures.
    pub repetitions: &'a [RepRecord],
    /// Timings.
    pub timings: Timings,
}

/// Writes `doc` to `path` (pretty-printed).
pub fn write(path: &Path, doc: &Document<'_>) -> Result<()> {
    let text = serde_json::to_string_pretty(doc).context("serialising reproduce.json")?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
