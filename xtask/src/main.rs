//! `cargo xtask`: see the library docs.

use std::process::ExitCode;

use clap::Parser;
use xtask::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Reproduce(args) => {
            let command = std::iter::once("cargo xtask".to_string())
                .chain(std::env::args().skip(1))
                .collect::<Vec<_>>()
                .join(" ");
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            match xtask::run::reproduce(&args, command, &mut lock) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(xtask::run::exit_code(&e).code())
                }
            }
        }
    }
}
