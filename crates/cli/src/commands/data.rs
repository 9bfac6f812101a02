//! `cnmf data fetch`: an official MovieLens release, downloaded from GroupLens, checked against
//! its pinned size and SHA-256 and unpacked where `--data DIR` and the other commands find it
//! (`cnmf_ratings::discover::download_from`: nothing is unpacked from a file that fails the
//! check, and an existing release is never overwritten).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use cnmf_ratings::discover::{self, Release};
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::output::Output;

/// Arguments of `cnmf data`.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The subcommands of `cnmf data`.
#[derive(Debug, Clone, Subcommand)]
pub enum DataCommand {
    /// Download an official MovieLens release from GroupLens, check its pinned size and
    /// SHA-256, and unpack it into DIR (default: $CNMF_DATA, else ./data), where the other
    /// commands find it. MovieLens' licence allows no redistribution: this fetches it from
    /// GroupLens for your own use.
    Fetch(FetchArgs),
}

/// Arguments of `cnmf data fetch`.
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// The release.
    #[arg(value_enum)]
    release: ReleaseName,
    /// Directory to unpack into (created if missing); default $CNMF_DATA, else ./data.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Fetch from this address instead of GroupLens (a mirror); the pinned size and SHA-256
    /// are checked all the same.
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
}

/// The releases `fetch` knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReleaseName {
    /// MovieLens 100K (ml-100k/u.data).
    #[value(name = "ml-100k")]
    Ml100k,
    /// MovieLens 1M (ml-1m/ratings.dat).
    #[value(name = "ml-1m")]
    Ml1m,
}

impl ReleaseName {
    fn release(self) -> Release {
        match self {
            ReleaseName::Ml100k => discover::ML_100K,
            ReleaseName::Ml1m => discover::ML_1M,
        }
    }
}

#[derive(Serialize)]
struct Report {
    command: &'static str,
    release: &'static str,
    url: String,
    ratings_file: String,
    sha256: String,
}

/// Runs `cnmf data`.
pub fn run(args: &DataArgs, out: &Output) -> CliResult<()> {
    match &args.command {
        DataCommand::Fetch(a) => fetch(a, out),
    }
}

fn fetch(a: &FetchArgs, out: &Output) -> CliResult<()> {
    let release = a.release.release();
    let dir = a.dir.clone().unwrap_or_else(discover::data_dir);
    let url = a.mirror.clone().unwrap_or_else(|| release.url.to_string());
    out.info(&format!("downloading {url} into {}", dir.display()));
    let bar = out.bar(
        release.zip_size,
        "download [{bar:20}] {bytes}/{total_bytes} {elapsed}",
    );
    let result = discover::download_from(&release, &url, &release.expected(), &dir, &mut |p| {
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.downloaded);
    });
    bar.finish_and_clear();
    let source = result.map_err(CliError::from_ratings)?;
    let report = Report {
        command: "data fetch",
        release: release.dir,
        url,
        ratings_file: source.path.display().to_string(),
        sha256: source.sha256,
    };
    if out.json {
        return out.json_doc(&report);
    }
    out.text(&format!(
        "{}: {} (SHA-256 {}), found by --data {} or {}={}\n",
        report.release,
        report.ratings_file,
        report.sha256,
        dir.display(),
        discover::ENV_VAR,
        dir.display()
    ))
}
