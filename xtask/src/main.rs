//! `cargo xtask`: see the library docs.

use std::process::ExitCode;

use clap::Parser;
use xtask::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = std::iter::once("cargo xtask".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    match cli.command {
        Command::BenchScale(args) => match xtask::bench_scale::run(&args, command) {
            Ok(r) => {
                println!("{}", xtask::bench_scale::markdown(&r));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::BenchScaleChild(args) => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            match xtask::bench_scale::child(&args, &mut lock) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Reproduce(args) => {
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
