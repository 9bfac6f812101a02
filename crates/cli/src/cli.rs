//! The command line: global options and the subcommands.

use clap::parser::ValueSource;
use clap::{ArgMatches, Parser, Subcommand};

use crate::commands::{evaluate, export, fit, flagged, fold_in, predict, recommend, similar, tune};
use crate::error::CliResult;
use crate::output::Output;

const EXAMPLES: &str = "\
Example:
  cnmf data fetch ml-100k --dir data
  cnmf fit --data data -o ml100k.cnmf
  cnmf tune --data ml-100k/u.data --rank 10,20,50 --l2 0.05,0.1 -o best.json
  cnmf fit --data ml-100k/u.data --params best.json -o ml100k.cnmf
  cnmf recommend --model ml100k.cnmf --user 196 -n 5
  cnmf flagged --model ml100k.cnmf --min-share 0.2
  cnmf export --model ml100k.cnmf --npy ml100k-factors";

/// The exit-code table (shared with `cargo xtask`) and examples, after `--help`.
fn after_help() -> String {
    format!("{}\n\n{EXAMPLES}", cnmf_ratings::exit::HELP_TABLE)
}

/// cnmf: robust nonnegative matrix factorisation of ratings (Corrective NMF). Fits models
/// that flag and ignore corrupt ratings (review bombs), predicts, recommends, reports what
/// was flagged, and cross-validates.
#[derive(Debug, Parser)]
#[command(name = "cnmf", version, after_help = after_help(), propagate_version = true)]
pub struct Cli {
    /// Machine-readable output: one JSON document on stdout (errors too, as
    /// {"error": {"kind", "exit_code", "message"}}).
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress bar and no informational lines on stderr (notes and errors still print).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit a model to a ratings file and write it (progress bar on stderr).
    Fit(fit::FitArgs),
    /// Predict the rating of one (user, item) pair, or of every pair in a CSV file.
    Predict(predict::PredictArgs),
    /// List the top-N items a user has not rated, with predicted ratings.
    Recommend(recommend::RecommendArgs),
    /// Review-bomb report: the ratings the model flagged as corrupt, by user and by item.
    Flagged(flagged::FlaggedArgs),
    /// k-fold cross-validation: NMAE, MAE, RMSE (mean ± std) and fit time per fold.
    Evaluate(evaluate::EvaluateArgs),
    /// Grid or random search of rank, L2, lambda and algorithm by k-fold cross-validation;
    /// writes the best settings for `cnmf fit --params`.
    Tune(tune::TuneArgs),
    /// Score a new user from a file of `item,rating` lines without refitting.
    FoldIn(fold_in::FoldInArgs),
    /// Write a model's factors as NumPy files (W.npy, H.npy) with its user and item ids.
    Export(export::ExportArgs),
    /// The items most like a given item (cosine of the item factors).
    Similar(similar::SimilarArgs),
    /// MovieLens data: `cnmf data fetch ml-100k|ml-1m` downloads and verifies a release.
    #[cfg(feature = "fetch")]
    Data(crate::commands::data::DataArgs),
    /// Serve a model over HTTP: a JSON API for predict, recommend, similar, fold-in and
    /// flagged (until SIGTERM or Ctrl-C).
    #[cfg(feature = "serve")]
    Serve(crate::commands::serve::ServeArgs),
}

impl Cli {
    /// The output mode the global options ask for.
    pub fn output(&self) -> Output {
        Output {
            json: self.json,
            quiet: self.quiet,
        }
    }

    /// Runs the chosen command; `matches` are the parsed arguments, which tell the options
    /// given on the command line from defaults (for `fit --params`).
    pub fn run(&self, matches: &ArgMatches) -> CliResult<()> {
        let out = self.output();
        match &self.command {
            Command::Fit(a) => {
                let sub = matches.subcommand_matches("fit");
                let given = |id: &str| {
                    sub.and_then(|m| m.value_source(id)) == Some(ValueSource::CommandLine)
                };
                fit::run(a, &given, &out)
            }
            Command::Tune(a) => tune::run(a, &out),
            Command::Predict(a) => predict::run(a, &out),
            Command::Recommend(a) => recommend::run(a, &out),
            Command::Flagged(a) => flagged::run(a, &out),
            Command::Evaluate(a) => evaluate::run(a, &out),
            Command::FoldIn(a) => fold_in::run(a, &out),
            Command::Export(a) => export::run(a, &out),
            Command::Similar(a) => similar::run(a, &out),
            #[cfg(feature = "fetch")]
            Command::Data(a) => crate::commands::data::run(a, &out),
            #[cfg(feature = "serve")]
            Command::Serve(a) => crate::commands::serve::run(a, &out),
        }
    }
}
