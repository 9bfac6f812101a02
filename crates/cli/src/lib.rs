//! The `cnmf` command-line tool as a library: argument parsing ([`cli`]), one module per
//! command ([`commands`]), the model file format ([`model_file`], documented in `FORMAT.md`),
//! and output helpers ([`output`]). The binary `cnmf` is a thin `main` over [`run`].
//!
//! Exit codes are listed in [`error`].

pub mod cli;
pub mod commands;
pub mod csv_in;
pub mod error;
pub mod fit_args;
pub mod lookup;
pub mod model_file;
pub mod output;

use clap::Parser;

/// Parses the command line, runs the command, reports any error, and returns the exit code.
/// Usage errors from clap exit with code 2 (clap prints them itself).
pub fn run() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let out = cli.output();
    let result = cli.run();
    if let Err(e) = &result {
        if output::is_broken_pipe(e) {
            // The reader went away (`cnmf ... | head`): nothing is wrong with the tool.
            return std::process::ExitCode::SUCCESS;
        }
        out.error(e);
    }
    std::process::ExitCode::from(output::exit_code(&result).code())
}
