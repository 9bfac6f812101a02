//! The `cnmf` command-line tool. This library exists for the binary and its tests, not as a
//! stable API: its public items are [`run`], which the binary `cnmf` is a thin `main` over,
//! [`api`] (the model file and the fit parameters, for the Python package in `python/`),
//! and the hidden `fuzzing` module (the bodies of the fuzz targets in `fuzz/`); the
//! integration tests drive the binary itself. Inside: argument parsing (`cli`), one module
//! per command (`commands`), the model file format (`model_file`, documented in
//! `crates/cli/FORMAT.md`), and output helpers (`output`).
//!
//! ```text
//! cnmf fit --data ratings.csv --k 20 -o model.cnmf     # ignore-corrupt, default lambda
//! cnmf predict --model model.cnmf --user alice --item up
//! cnmf recommend --model model.cnmf --user alice -n 10
//! cnmf flagged --model model.cnmf --min-share 0.5      # the review-bomb report
//! cnmf evaluate --data ratings.csv --algo replace-missing --folds 5
//! cnmf fold-in --model model.cnmf --ratings new_user.csv
//! ```
//!
//! Every command takes `--json` (one JSON document on stdout, errors included) and `--quiet`.
//! Exit codes are the workspace's table (`cnmf_ratings::exit`, listed in `error`): 0 ok, 1
//! runtime failure, 2 usage, 3 bad data, 4 bad model file, 5 unknown id, 101 a bug.

pub mod api;
mod cli;
mod commands;
mod csv_in;
mod error;
mod fit_args;
#[doc(hidden)]
pub mod fuzzing;
mod input;
mod limits;
mod lookup;
mod model_file;
mod output;
mod titles;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches};

/// Parses the command line, runs the command, reports any error, and returns the exit code.
/// Usage errors found by clap exit with code 2; clap prints them, and with `--json` they are
/// also reported as a JSON error document on stdout.
pub fn run() -> std::process::ExitCode {
    if std::env::args_os().any(|a| a == "--json") {
        json_on_panic();
    }
    let matches = match cli::Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_error(e),
    };
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let out = cli.output();
    let result = cli.run(&matches);
    if let Err(e) = &result {
        if output::is_broken_pipe(e) {
            // The reader went away (`cnmf ... | head`): nothing is wrong with the tool.
            return std::process::ExitCode::SUCCESS;
        }
        out.error(e);
    }
    std::process::ExitCode::from(output::exit_code(&result).code())
}

/// Under `--json`, a panic (a bug; exit code 101) also prints the JSON error document, after
/// the usual message on stderr, so that a caller parsing stdout is never left with nothing.
fn json_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let doc = serde_json::json!({
            "error": {
                "kind": "internal",
                "exit_code": cnmf_ratings::exit::PANIC,
                "message": format!("internal error (a bug in cnmf, please report it): {what}"),
            }
        });
        let _ = output::Output::default().json_doc(&doc);
    }));
}

/// Reports a clap error: help and version requests print and exit 0; real usage errors exit 2,
/// and under `--json` also give the JSON error document.
fn usage_error(e: clap::Error) -> std::process::ExitCode {
    let informational = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let json = std::env::args_os().any(|a| a == "--json");
    if informational || !json {
        e.exit();
    }
    let _ = e.print();
    let doc = serde_json::json!({
        "error": {
            "kind": error::Exit::Usage.kind(),
            "exit_code": error::Exit::Usage.code(),
            "message": e.render().to_string().trim_end(),
        }
    });
    let _ = output::Output::default().json_doc(&doc);
    std::process::ExitCode::from(error::Exit::Usage.code())
}
