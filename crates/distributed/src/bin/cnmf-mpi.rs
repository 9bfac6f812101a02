//! `cnmf-mpi`: the distributed fit under MPI.
//!
//! ```text
//! mpirun -np 4 cnmf-mpi fit --data ratings.dat --algo ignore-corrupt --k 20 -o model
//! ```
//!
//! Every rank reads the ratings file and keeps its block of users (contiguous, balanced by
//! rating count), or with `--split-input` reads only its byte range and receives its users'
//! ratings from the other ranks; the fit is `cnmf_distributed::fit_rank`; rank 0 gathers `W` and writes the
//! model file `cnmf fit` writes (safetensors by default, `--json` for format 1), atomically: a
//! temporary file renamed at the end, so a failed run leaves no model file. A failure on any
//! rank (unreadable file, bad line, bad parameters, a NaN) is agreed on by all ranks, which all
//! exit with status 1 naming the rank and the cause; a rank that dies is handled by `mpirun`,
//! which ends the job with a non-zero status.
//!
//! The parameters are `cnmf fit`'s by construction: its option struct
//! (`cnmf_cli::api::ParamArgs`, flattened: the same names, defaults, checks and messages and
//! the same engine parameters; only `--threads` is per rank, default 1) and its `--params FILE`
//! (`ParamArgs::apply_params_file`, command-line options overriding the file), checked on
//! every rank before any data is read. So is the choice of the number of iterations
//! (`ParamArgs`'s `StopArgs`: `--no-early-stopping`, `--validation-fraction`, `--patience`,
//! `--no-refit`, with their defaults and checks): by default rank 0 draws `cnmf fit`'s validation split of the whole
//! data set (`cnmf_cli::api::validation_split`, the same ratings for the same seed) and sends
//! each rank the positions of its users' held-out ratings (`distribute_holdout`); the
//! early-stopped fit runs on the rest with the validation NMAE summed over the ranks in rank
//! order, then a fit of all the data for the best number of iterations
//! (`cnmf_cli::api::refit_params`), from the same initial factors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use cnmf_cli::api::{
    model_file, refit_params, validation_split, write_model, CheckedParams, DataSummary,
    EarlyStopInfo, ModelFormat, ParamArgs, StopArgs,
};
use cnmf_distributed::{
    distribute_holdout, fit_rank_with, gather_model, load_split_keeping_times, partition_users,
    row_ptr_of, Communicator, LocalFit, MpiComm, Shard,
};
use cnmf_engine::{NmfModel, ValidNmfParams};
use cnmf_ratings::Ratings;
use cnmf_ratings::{LoadOptions, RatingScale};

#[derive(Debug, Parser)]
#[command(
    name = "cnmf-mpi",
    version,
    about = "Corrective NMF on MPI: mpirun -np P cnmf-mpi fit ..."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fit a model with the ranks of the MPI job and write it where `-o` says (rank 0).
    Fit(FitArgs),
}

/// The arguments of `cnmf-mpi fit`: `cnmf fit`'s own algorithm options ([`ParamArgs`],
/// flattened: the same names, defaults, checks and parameters), `--params FILE` as `cnmf fit`
/// reads it, and the options of the distributed run.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg("threads", |a| a.default_value("1").help(THREADS_HELP)))]
struct FitArgs {
    /// The ratings file (every format `cnmf fit` reads: MovieLens u.data, ratings.dat, CSV), or
    /// a directory holding `ml-1m/ratings.dat` or `ml-100k/u.data` (as `cnmf fit --data DIR`).
    #[arg(long, value_name = "FILE|DIR")]
    data: PathBuf,
    /// Where to write the model file (by rank 0).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: PathBuf,
    /// Rating scale of the data.
    #[arg(long, default_value = "1:5", value_name = "MIN:MAX", value_parser = parse_scale)]
    scale: RatingScale,
    /// `cnmf fit`'s algorithm and its parameters, the iteration budget, the stopping options,
    /// the seed and `--threads` (per rank here, default 1).
    #[command(flatten)]
    params: ParamArgs,
    /// Settings from a JSON file, such as the one `cnmf tune -o` writes, as `cnmf fit --params`
    /// reads it: an object whose keys are option names with `_` for `-` (algo, rank, lambda,
    /// sigma, p, l2, l2_constant, iters, seed, warmup, trim_fraction, item_threshold_scale,
    /// patience, validation_fraction, ...). Options given on the command line override the
    /// file; an unknown key is an error. Every rank reads it.
    #[arg(long = "params", value_name = "FILE")]
    params_file: Option<PathBuf>,
    /// Write the model file in format 1 (JSON) instead of format 2 (safetensors).
    #[arg(long)]
    json: bool,
    /// Each rank reads only its byte range of the file (MovieLens `::` or tab-separated
    /// formats; not CSV) and receives its users' ratings from the other ranks; rank 0 still
    /// assembles the whole data set for the model file. Without it every rank reads the whole
    /// file.
    #[arg(long)]
    split_input: bool,
    /// Store every training rating's value and timestamp in the model (16 bytes per rating),
    /// so that `cnmf flagged --item` and `--html` need no training file, as `cnmf fit
    /// --keep-times`. The data must have timestamps.
    #[arg(long)]
    keep_times: bool,
}

/// `--threads` here: per rank, and 1 by default (`cnmf fit`'s default is every core).
const THREADS_HELP: &str = "Threads per rank (0: every core; more than the cores is lowered to \
     their number). The results are the same bits for every value; run one rank per core and \
     keep 1, or one rank per node with its cores as threads.";

fn parse_scale(s: &str) -> Result<RatingScale, String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("expected MIN:MAX, got {s:?}"))?;
    let min: f64 = a.trim().parse().map_err(|e| format!("{a:?}: {e}"))?;
    let max: f64 = b.trim().parse().map_err(|e| format!("{b:?}: {e}"))?;
    RatingScale::new(min, max).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Whether an option (by clap id) was on the command line, so that it overrides
    // `--params`, as in `cnmf fit`.
    let sub = matches.subcommand_matches("fit");
    let given = |id: &str| sub.and_then(|m| m.value_source(id)) == Some(ValueSource::CommandLine);
    let comm = match MpiComm::init() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cnmf-mpi: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Command::Fit(args) = cli.command;
    match fit(&args, &given, &comm) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => {
            // One write of the whole line, so that mpirun does not interleave the ranks' lines.
            let line = format!("cnmf-mpi (rank {}): {failed}\n", comm.rank());
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
            // Every rank has printed before any exits (mpirun ends the job at the first
            // non-zero exit, possibly before the other ranks' messages are out).
            comm.all_gather_bytes(&[]);
            ExitCode::FAILURE
        }
    }
}

/// The ratings file `--data` names: the file itself, or the MovieLens release found in a
/// directory (`ml-1m/ratings.dat` first, then `ml-100k/u.data`), as `cnmf fit` finds it.
fn data_file(data: &std::path::Path) -> Result<PathBuf, String> {
    if !data.is_dir() {
        return Ok(data.to_path_buf());
    }
    cnmf_ratings::discover::find_in_dir(data)
        .map(|(_, file)| file)
        .ok_or_else(|| {
            format!(
                "{}: a directory without ml-1m/ratings.dat or ml-100k/u.data (give the ratings \
                 file itself)",
                data.display()
            )
        })
}

/// `Err` carries the agreed message (every rank gets the same one). `given` tells whether an
/// option was on the command line (it then overrides `--params`).
fn fit(args: &FitArgs, given: &dyn Fn(&str) -> bool, comm: &MpiComm) -> Result<(), String> {
    let rank = comm.rank();
    let agree = |mine: Option<String>| -> Result<(), String> {
        let failed = comm.agree(mine.as_deref());
        if failed.is_empty() {
            Ok(())
        } else {
            Err(cnmf_distributed::DistError::Ranks(failed).to_string())
        }
    };
    // The parameters are `cnmf fit`'s: its options, its `--params` file (command-line options
    // override it) and its checks, with its messages, before any data is read.
    let mut param_args = args.params.clone();
    if let Some(file) = &args.params_file {
        let applied = param_args.apply_params_file(file, given);
        agree(applied.err().map(|e| e.to_string()))?;
    }
    let checked = param_args.check(args.scale).map_err(|e| e.to_string());
    agree(checked.as_ref().err().cloned())?;
    let CheckedParams {
        params,
        lambda,
        notes,
    } = checked?;
    agree(
        cnmf_distributed::check_params(&params)
            .err()
            .map(|e| e.to_string()),
    )?;
    let stop = &param_args.stop;
    let file = data_file(&args.data);
    agree(file.as_ref().err().cloned())?;
    let args = &FitArgs {
        data: file?,
        ..args.clone()
    };
    if rank == 0 {
        for n in &notes {
            eprintln!("cnmf-mpi: note: {n}");
        }
        if lambda.source.starts_with("default") {
            eprintln!(
                "cnmf-mpi: note: {} needs a corruption threshold; using {}",
                params.algorithm(),
                lambda.describe()
            );
        }
    }

    // Timestamps only when the fit reads them (guarded's burst screen) or the model keeps
    // them, as `cnmf fit`.
    let times = params.reads_timestamps() || args.keep_times;
    let start = Instant::now();
    let (shard, data) = if args.split_input {
        let input = load_split_keeping_times(&args.data, args.scale, times, comm)
            .map_err(|e| e.to_string())?;
        (input.shard, input.root_data)
    } else {
        whole_file(args, times, comm, &agree)?
    };
    let load_secs = start.elapsed().as_secs_f64();
    // Rank 0 holds the whole data set: it knows whether there are timestamps to keep.
    let no_times = args.keep_times && data.as_ref().is_some_and(|d| d.times().is_none());
    agree(no_times.then(|| {
        format!(
            "{}: --keep-times needs timestamps, and the ratings have none",
            args.data.display()
        )
    }))?;
    // `cnmf fit`'s rank check (at most min(users, items) unless --force-rank), on the whole
    // data set's counts, which every rank knows.
    let summary = DataSummary {
        file: args.data.display().to_string(),
        format: String::new(),
        users: shard.n_users,
        items: shard.n_items,
        ratings: shard.nnz_total,
        scale_min: args.scale.min(),
        scale_max: args.scale.max(),
    };
    agree(
        param_args
            .check_rank_for(&summary)
            .err()
            .map(|e| e.to_string()),
    )?;

    let fitted = if stop.no_early_stopping {
        plain_fit(&params, &shard, data.as_ref(), comm, &agree)?
    } else {
        stopped_fit(&params, stop, &shard, data.as_ref(), comm, &agree)?
    };
    let Fitted {
        model,
        seconds: secs,
        iterations: iters,
        bytes_sent: sent,
        early,
    } = fitted;
    if let (0, Some(e)) = (rank, &early) {
        eprintln!("cnmf-mpi: {}", e.describe());
    }
    // Rank 0 writes (a temporary file next to the target, renamed at the end).
    let written = match (&model, &data) {
        (Some(model), Some(data)) => {
            let mut mf = model_file(model.clone(), data, &args.data.display().to_string(), secs);
            let format = if args.json {
                ModelFormat::Json
            } else {
                ModelFormat::Safetensors
            };
            let kept = if args.keep_times {
                mf.keep_history(data)
                    .map_err(|e| format!("{}: {e}", args.data.display()))
            } else {
                Ok(())
            };
            kept.and_then(|()| {
                write_model(&mf, &args.output, format)
                    .map_err(|e| format!("{}: {e}", args.output.display()))
            })
        }
        _ => Ok(0),
    };
    agree(written.as_ref().err().cloned())?;
    let sent_all = comm.all_gather_f64(&[sent as f64, peak_rss_kib()]);
    if rank == 0 {
        let per_iter = if iters > 0 { secs / iters as f64 } else { 0.0 };
        eprintln!(
            "cnmf-mpi: {} ranks, {} users, {} items, {} ratings; load {load_secs:.2} s; {iters} \
             iterations of {} in {secs:.2} s ({:.4} s per iteration); wrote {}",
            comm.size(),
            shard.n_users,
            shard.n_items,
            shard.nnz_total,
            params.algorithm(),
            per_iter,
            args.output.display()
        );
        for (r, s) in sent_all.chunks_exact(2).enumerate() {
            let rss = if s[1] > 0.0 {
                format!("{:.0} MiB", s[1] / 1024.0)
            } else {
                "unknown".to_string()
            };
            eprintln!(
                "cnmf-mpi: rank {r} sent {} bytes in the fit ({:.0} per iteration); peak RSS {rss}",
                s[0],
                if iters > 0 { s[0] / iters as f64 } else { 0.0 }
            );
        }
    }
    Ok(())
}

/// A fit's model (rank 0), seconds, iterations run, bytes this rank sent and what early
/// stopping chose.
struct Fitted {
    model: Option<NmfModel>,
    seconds: f64,
    iterations: usize,
    bytes_sent: u64,
    early: Option<EarlyStopInfo>,
}

/// `fit` on every rank, failures agreed on.
fn agreed_fit(
    params: &ValidNmfParams,
    shard: &Shard,
    root: Option<&Ratings>,
    validation: Option<&[cnmf_ratings::Triple]>,
    comm: &MpiComm,
    agree: &dyn Fn(Option<String>) -> Result<(), String>,
) -> Result<LocalFit, String> {
    let fit = fit_rank_with(params, shard, root, validation, comm);
    agree(fit.as_ref().err().map(|e| e.to_string()))?;
    fit.map_err(|e| e.to_string())
}

/// Gathers the model on rank 0, failures agreed on.
fn agreed_model(
    params: &ValidNmfParams,
    root: Option<&Ratings>,
    fit: LocalFit,
    comm: &MpiComm,
    agree: &dyn Fn(Option<String>) -> Result<(), String>,
) -> Result<Option<NmfModel>, String> {
    let model = gather_model(params, root, fit, comm);
    agree(model.as_ref().err().map(|e| e.to_string()))?;
    model.map_err(|e| e.to_string())
}

/// `--iters` iterations on all the data (`--no-early-stopping`).
fn plain_fit(
    params: &ValidNmfParams,
    shard: &Shard,
    data: Option<&Ratings>,
    comm: &MpiComm,
    agree: &dyn Fn(Option<String>) -> Result<(), String>,
) -> Result<Fitted, String> {
    let fit = agreed_fit(params, shard, data, None, comm, agree)?;
    let (iterations, seconds, bytes_sent) = (fit.kept_iteration, fit.seconds, fit.bytes_sent);
    Ok(Fitted {
        model: agreed_model(params, data, fit, comm, agree)?,
        seconds,
        iterations,
        bytes_sent,
        early: None,
    })
}

/// `cnmf fit`'s default (`cnmf_cli`'s `fit_stopped`): an early-stopped fit on the data less
/// the validation split, then (unless `--no-refit`) a fit of all the data for the best number
/// of iterations. Data too small for a split is fitted without early stopping, with
/// `cnmf fit`'s note.
fn stopped_fit(
    params: &ValidNmfParams,
    stop: &StopArgs,
    shard: &Shard,
    data: Option<&Ratings>,
    comm: &MpiComm,
    agree: &dyn Fn(Option<String>) -> Result<(), String>,
) -> Result<Fitted, String> {
    // Rank 0 holds the whole data set and draws the split; the others learn whether it exists.
    let split = data.and_then(|d| validation_split(d, stop.validation_fraction, params.seed()));
    let mut drawn = [if split.is_some() { 1.0 } else { 0.0 }];
    comm.broadcast_f64(&mut drawn, 0);
    if drawn[0] == 0.0 {
        if let Some(d) = data {
            eprintln!(
                "cnmf-mpi: {} ratings are too few for a validation share of {}; fitting {} \
                 iterations without early stopping",
                d.nnz(),
                stop.validation_fraction,
                params.max_iters()
            );
        }
        return plain_fit(params, shard, data, comm, agree);
    }
    let root = data.zip(split.as_ref());
    let held = distribute_holdout(shard, root, comm);
    agree(held.as_ref().err().map(|e| e.to_string()))?;
    let held = held.map_err(|e| e.to_string())?;
    let es = params
        .params()
        .clone()
        .early_stopping(stop.patience)
        .check()
        .map_err(|e| e.to_string());
    agree(es.as_ref().err().cloned())?;
    let es = es?;
    let train = split.as_ref().map(|s| &s.train);
    let fit = agreed_fit(&es, &held.shard, train, Some(&held.validation), comm, agree)?;
    let best_iteration = fit.kept_iteration;
    let validation_nmae = fit
        .trace
        .iter()
        .find(|s| s.iteration == best_iteration)
        .and_then(|s| s.validation_nmae)
        .unwrap_or(f64::NAN);
    let validation_ratings = comm
        .all_gather_f64(&[held.validation.len() as f64])
        .iter()
        .sum::<f64>() as usize;
    let mut info = EarlyStopInfo {
        validation_ratings,
        best_iteration,
        validation_nmae,
        iterations_run: fit.trace.last().map_or(0, |s| s.iteration),
        refit: false,
        refit_iterations: None,
    };
    let (seconds, bytes_sent, iterations_run) = (fit.seconds, fit.bytes_sent, info.iterations_run);
    if stop.no_refit {
        return Ok(Fitted {
            model: agreed_model(&es, train, fit, comm, agree)?,
            seconds,
            iterations: iterations_run,
            bytes_sent,
            early: Some(info),
        });
    }
    drop((fit, held, split));
    let refit = refit_params(params, best_iteration).map_err(|e| e.to_string());
    agree(refit.as_ref().err().cloned())?;
    let refit = refit?;
    let iters = refit.max_iters();
    let fit = agreed_fit(&refit, shard, data, None, comm, agree)?;
    info.refit = true;
    info.refit_iterations = Some(iters);
    let (refit_secs, refit_sent) = (fit.seconds, fit.bytes_sent);
    Ok(Fitted {
        model: agreed_model(&refit, data, fit, comm, agree)?,
        seconds: seconds + refit_secs,
        iterations: iterations_run + iters,
        bytes_sent: bytes_sent + refit_sent,
        early: Some(info),
    })
}

/// The simple input: every rank reads the whole file (with its timestamps when `times`) and
/// keeps its users; rank 0 keeps the whole data set.
fn whole_file(
    args: &FitArgs,
    times: bool,
    comm: &MpiComm,
    agree: &dyn Fn(Option<String>) -> Result<(), String>,
) -> Result<(Shard, Option<Ratings>), String> {
    let rank = comm.rank();
    let opts = LoadOptions::default().scale(args.scale).timestamps(times);
    let loaded = cnmf_ratings::load(&args.data, &opts);
    let data = match loaded {
        Ok(d) => {
            agree(None)?;
            d
        }
        Err(e) => {
            // The loader's message names the file and line.
            let msg = e.to_string();
            agree(Some(msg.clone()))?;
            return Err(msg);
        }
    };
    let bounds = partition_users(&row_ptr_of(&data), comm.size());
    let shard = Shard::from_ratings(&data, bounds[rank], bounds[rank + 1]);
    agree(shard.as_ref().err().map(|e| e.to_string()))?;
    let shard = shard.map_err(|e| e.to_string())?;
    Ok((shard, (rank == 0).then_some(data)))
}

/// This process's peak resident set size in KiB (`VmHWM` of `/proc/self/status`, Linux); 0
/// when unknown.
fn peak_rss_kib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}
