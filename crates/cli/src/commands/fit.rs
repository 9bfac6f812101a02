//! `cnmf fit`: fit a model to a ratings file and write it.

use std::path::PathBuf;

use clap::Args;
use cnmf_engine::Algorithm;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::fit_args::{
    fit_model, flagged_warning, stop_name, CheckedParams, DataArgs, DataSummary, EarlyStopInfo,
    FitOutcome, LambdaChoice, ParamArgs,
};
use crate::input::Input;
use crate::model_file::{v2, ModelFile, ModelFormat, TrainingInfo};
use crate::output::{Output, OutputFile};

/// Arguments of `cnmf fit`.
#[derive(Debug, Clone, Args)]
pub struct FitArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    params: ParamArgs,
    /// Where to write the model: a regular file, replaced atomically if it exists (not a
    /// directory, device, symbolic link or the input; checked before the fit).
    #[arg(short, long, value_name = "MODEL")]
    output: PathBuf,
    /// The model file's format: `safetensors` (format version 2: binary, fast to load, and
    /// NumPy/PyTorch read its factors) or `json` (format version 1, for cnmf builds that
    /// predate version 2). Every cnmf command reads both.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ModelFormat::Safetensors)]
    model_format: ModelFormat,
    /// Settings from a JSON file, such as the one `cnmf tune -o` writes: an object whose keys
    /// are option names with `_` for `-` (algo, rank, lambda, sigma, p, l2, l2_constant, iters,
    /// seed, warmup, patience, validation_fraction, ...). Options given on the command line
    /// override the file; an unknown key is an error.
    #[arg(long = "params", value_name = "FILE")]
    params_file: Option<PathBuf>,
    /// Store every training rating's value and timestamp in the model (16 bytes per rating),
    /// so that `cnmf flagged --item` and `--html` need no training file. The data must have
    /// timestamps.
    #[arg(long)]
    keep_times: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    model: String,
    model_format: &'static str,
    bytes: u64,
    data: &'a DataSummary,
    algorithm: String,
    k: usize,
    lambda: &'a LambdaChoice,
    l2: f64,
    l2_per_rating: bool,
    warmup: usize,
    /// What early stopping chose (`null` with --no-early-stopping).
    early_stopping: Option<EarlyStopInfo>,
    iterations: usize,
    stop_reason: String,
    fit_seconds: f64,
    objective: f64,
    flagged: usize,
    flagged_share: f64,
    flagged_users: usize,
    /// Whether the model stores the ratings' values and timestamps (`--keep-times`).
    keeps_times: bool,
    /// guarded only: what its burst screen found (`null` when it did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    bursts: Option<Option<BurstSummary>>,
    warnings: Vec<String>,
}

/// What guarded's burst screen found.
#[derive(Serialize)]
struct BurstSummary {
    /// Items with a burst.
    items: usize,
    /// Ratings held out of the fit.
    held: usize,
}

/// Runs `cnmf fit`.
///
/// `given` tells whether an option (by clap id) was on the command line, so that it
/// overrides `--params`.
pub fn run(args: &FitArgs, given: &dyn Fn(&str) -> bool, out: &Output) -> CliResult<()> {
    args.data.check()?;
    let mut param_args = args.params.clone();
    if let Some(file) = &args.params_file {
        param_args.apply_params_file(file, given)?;
    }
    let CheckedParams {
        params,
        lambda,
        notes,
    } = param_args.check(args.data.scale)?;
    let input = args.data.input()?;
    let mut inputs: Vec<&std::path::Path> = match &input {
        Input::Path(p) => vec![p.as_path()],
        Input::Stdin => vec![],
    };
    inputs.extend(args.params_file.as_deref());
    // The output is checked, and its temporary file created, before the data is read.
    let output = OutputFile::create(&args.output, &inputs)?;
    for n in &notes {
        out.note(n);
    }
    let (data, summary) = args
        .data
        .load_keeping_times(args.keep_times || params.reads_timestamps())?;
    out.info(&format!("data: {}", summary.describe()));
    if args.keep_times && data.times().is_none() {
        return Err(CliError::Data(format!(
            "{}: --keep-times needs timestamps, and the ratings have none",
            summary.file
        )));
    }
    if args.model_format == ModelFormat::Safetensors {
        let ids = data.users().iter().chain(data.items().iter());
        v2::check_id_room(ids.map(str::len)).map_err(CliError::Usage)?;
    }
    param_args.check_rank_for(&summary)?;
    if lambda.source.starts_with("default") {
        out.note(&format!(
            "{} needs a corruption threshold; using {}",
            params.algorithm(),
            lambda.describe()
        ));
    }
    let FitOutcome { model, secs, early } =
        fit_model(&params, &param_args.stop, &data, out, "fit")?;

    let bursts = (params.algorithm() == Algorithm::Guarded).then(|| {
        model.bursts().map(|b| BurstSummary {
            items: b.len(),
            held: b.iter().map(|b| b.held).sum(),
        })
    });
    if let Some(None) = bursts {
        out.note(if params.burst_window().is_none() {
            "guarded's burst screen is off (--burst-window off)"
        } else {
            "guarded's burst screen did not run: the data have no timestamps"
        });
    }
    let flagged = model.corrupt_entries().len();
    let flagged_users = model
        .corrupt_counts_per_user()
        .iter()
        .filter(|&&c| c > 0)
        .count();
    let objective = model.trace().last().map_or(f64::NAN, |s| s.objective);
    let stop_reason = stop_name(model.stop_reason());
    let iterations = model.iterations();
    let training = TrainingInfo {
        source: summary.file.clone(),
        format: summary.format.clone(),
        n_ratings: data.nnz(),
        fit_seconds: secs,
        cnmf_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let algorithm = params.algorithm().name().to_string();
    let mut mf = ModelFile::from_fit(model, &data, training);
    if args.keep_times {
        mf.keep_history(&data).map_err(CliError::Data)?;
    }
    // The ratings are not needed any more: freed before the file's bytes are built, so the
    // peak memory of a large fit is the fit's, not the fit's plus the model file's.
    let n_ratings = data.nnz();
    drop(data);
    let bytes = mf.write(output, args.model_format)?;
    let warnings: Vec<String> = flagged_warning(&params, &lambda, flagged, n_ratings)
        .into_iter()
        .collect();
    for w in &warnings {
        out.warn(w);
    }
    let report = Report {
        command: "fit",
        model: args.output.display().to_string(),
        model_format: format_name(args.model_format),
        bytes,
        data: &summary,
        algorithm,
        k: params.rank(),
        lambda: &lambda,
        l2: params.l2_w(),
        l2_per_rating: params.l2_per_rating(),
        warmup: params.warmup_iters(),
        early_stopping: early,
        iterations,
        stop_reason,
        fit_seconds: secs,
        objective,
        flagged,
        flagged_share: flagged as f64 / n_ratings as f64,
        flagged_users,
        keeps_times: args.keep_times,
        bursts,
        warnings,
    };
    if out.json {
        return out.json_doc(&report);
    }
    let burst_line = match &report.bursts {
        Some(Some(b)) => format!(
            "bursts     {} held ratings in bursts on {} items (flagged above)\n",
            b.held, b.items
        ),
        _ => String::new(),
    };
    let early_line = match &report.early_stopping {
        Some(e) => format!("stopping   {}\n", e.describe()),
        None => String::new(),
    };
    let text = format!(
        "algorithm  {}, k = {}, {}{}, {}\n\
         {early_line}\
         fit        {} iterations ({}) in {:.2} s, final objective {:.6e}\n\
         flagged    {} of {} ratings ({:.2}%) as corrupt, from {} users\n\
         {burst_line}\
         model      {} ({}, {}{})\n",
        report.algorithm,
        report.k,
        lambda.describe(),
        warmup_note(report.warmup),
        l2_note(report.l2, report.l2_per_rating),
        report.iterations,
        report.stop_reason,
        secs,
        objective,
        flagged,
        n_ratings,
        100.0 * report.flagged_share,
        flagged_users,
        report.model,
        report.model_format,
        human_bytes(bytes),
        if report.keeps_times {
            ", ratings with timestamps"
        } else {
            ""
        },
    );
    out.text(&text)
}

/// The name of a model format in reports, as `--model-format` spells it.
fn format_name(f: ModelFormat) -> &'static str {
    match f {
        ModelFormat::Safetensors => "safetensors",
        ModelFormat::Json => "json",
    }
}

/// The L2 penalty in words: `L2 0.1 per rating`, `L2 0.1 per row` or `no L2`.
pub fn l2_note(l2: f64, per_rating: bool) -> String {
    if l2 == 0.0 {
        "no L2".into()
    } else if per_rating {
        format!("L2 {l2} per rating")
    } else {
        format!("L2 {l2} per row")
    }
}

/// ", warm-up N iterations" when there is one.
pub fn warmup_note(w: usize) -> String {
    if w > 0 {
        format!(", warm-up {w} iterations")
    } else {
        String::new()
    }
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} bytes")
    }
}
