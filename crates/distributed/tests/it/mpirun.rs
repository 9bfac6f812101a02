//! The `cnmf-mpi` binary under `mpirun` with 1, 2 and 4 ranks (oversubscribed on loopback):
//! agreement with the single-process engine, a bad line and a killed rank. Ignored by default
//! (they need Open MPI or MPICH and the `mpi` feature); `.ci/run` runs them with
//! `cargo test --workspace --features cnmf-distributed/mpi --tests -- --ignored`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::ops::ControlFlow;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use cnmf_cli::api::{fit_params, read_model, FitSettings, ParamArgs, Stopping};
use cnmf_distributed::SUPPORTED;
use cnmf_engine::{Algorithm, IterationStats, ValidNmfParams};
use cnmf_ratings::LoadOptions;

use crate::common::{max_rel_diff, write_fixture, write_guarded_fixture};

/// The binary, built by cargo for these tests when the `mpi` feature is on.
fn binary() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_cnmf-mpi") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "cnmf-mpi is not built: run these tests with `cargo test -p cnmf-distributed \
             --features mpi -- --include-ignored`"
        ),
    }
}

/// `mpirun -np ranks cnmf-mpi args...` (as root too, more ranks than cores allowed).
fn mpirun(ranks: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "-np"])
        .arg(ranks.to_string())
        .arg(binary());
    c
}

/// One `mpirun` at a time: Open MPI's per-job temporary directories race when jobs start
/// together (`mkdir ... File exists`), and the tests of this file run in parallel.
static ONE_JOB: Mutex<()> = Mutex::new(());

fn one_job() -> MutexGuard<'static, ()> {
    ONE_JOB.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(mut c: Command) -> Output {
    let _job = one_job();
    c.output()
        .unwrap_or_else(|e| panic!("cannot start mpirun (is MPI installed?): {e}"))
}

/// No flags besides `fit --data DATA -o OUT`.
const NO_FLAGS: [&str; 0] = [];

/// `mpirun -np ranks cnmf-mpi fit --data data -o out` with `flags` after `fit`.
fn fit_command<S: AsRef<OsStr>>(
    ranks: usize,
    data: impl AsRef<OsStr>,
    out: impl AsRef<OsStr>,
    flags: impl IntoIterator<Item = S>,
) -> Command {
    let mut c = mpirun(ranks);
    c.arg("fit")
        .args(flags)
        .arg("--data")
        .arg(data)
        .arg("-o")
        .arg(out);
    c
}

/// Runs `c`, which must fail; its standard error.
fn failure(c: Command) -> String {
    let what = format!("{c:?}");
    let o = run(c);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{what} succeeded: {err}");
    err
}

fn settings(alg: Algorithm, k: usize, iters: usize) -> FitSettings {
    FitSettings {
        rank: k,
        algorithm: alg,
        lambda: alg.needs_lambda().then_some(2.0),
        sigma: None,
        p: None,
        max_iters: iters,
        l2: 0.1,
        l2_per_rating: true,
        seed: 7,
        threads: 1,
        precision: cnmf_engine::Precision::F64,
    }
}

/// Fits `file` with `cnmf-mpi` (with `extra` arguments) on each number of ranks and the
/// engine, and checks every prediction of every observed rating to 1e-9 relative.
fn agree_on(file: &Path, dir: &Path, k: usize, iters: usize, extra: &[&str]) {
    agree_with(file, dir, k, iters, extra, &SUPPORTED);
}

/// [`agree_on`] for the algorithms `algs`; the model's screened users and bursts (`guarded`)
/// are the engine's too.
fn agree_with(file: &Path, dir: &Path, k: usize, iters: usize, extra: &[&str], algs: &[Algorithm]) {
    let data = cnmf_ratings::load(file, &LoadOptions::default()).unwrap();
    for &alg in algs {
        let s = settings(alg, k, iters);
        let params = fit_params(&s, data.scale()).unwrap();
        let engine = params.fit(&data).unwrap();
        for ranks in [1, 2, 4] {
            let out = dir.join(format!("{alg}-{ranks}.cnmf"));
            let mut c = fit_command(ranks, file, &out, ["--no-early-stopping"]);
            c.args(["--algo", alg.name(), "--k", &k.to_string()]);
            c.args(["--iters", &iters.to_string(), "--seed", "7", "--l2", "0.1"]);
            c.args(extra);
            if alg.needs_lambda() {
                c.args(["--lambda", "2"]);
            }
            let o = run(c);
            assert!(
                o.status.success(),
                "{alg} P={ranks}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let mf = read_model(&out).unwrap();
            let model = mf.model();
            let d = max_rel_diff(&data, &engine, model);
            println!("mpirun {alg} P={ranks}: largest relative difference {d:e}");
            assert!(d <= 1e-9, "{alg} P={ranks}: relative difference {d:e}");
            assert_eq!(model.iterations(), engine.iterations(), "{alg} P={ranks}");
            assert_eq!(
                model.corrupt_entries(),
                engine.corrupt_entries(),
                "{alg} P={ranks}"
            );
            assert_eq!(
                model.screened_users(),
                engine.screened_users(),
                "{alg} P={ranks}"
            );
            assert_eq!(model.bursts(), engine.bursts(), "{alg} P={ranks}");
        }
    }
}

/// `guarded` with both screens acting (a review bomb in time and a niche user, from the
/// file's timestamps), with and without `--split-input`.
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn mpirun_guarded_screens_agree_with_the_engine_on_1_2_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_guarded_fixture(dir.path());
    let data = cnmf_ratings::load(&file, &LoadOptions::default()).unwrap();
    let engine = fit_params(&settings(Algorithm::Guarded, 4, 30), data.scale())
        .unwrap()
        .fit(&data)
        .unwrap();
    assert!(!engine.screened_users().is_empty(), "nobody screened");
    assert!(
        engine.bursts().is_some_and(|b| !b.is_empty()),
        "no burst: {:?}",
        engine.bursts()
    );
    for extra in [&[][..], &["--split-input"]] {
        agree_with(&file, dir.path(), 4, 30, extra, &[Algorithm::Guarded]);
    }
}

#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn mpirun_fit_agrees_with_the_engine_on_1_2_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_fixture(dir.path());
    agree_on(&file, dir.path(), 4, 30, &[]);
}

#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn mpirun_fit_with_split_input_agrees_with_the_engine_on_1_2_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_fixture(dir.path());
    agree_on(&file, dir.path(), 4, 30, &["--split-input"]);
}

#[test]
#[ignore = "needs MPI and MovieLens 100K: run by .ci/run with CNMF_DATA set"]
fn mpirun_fit_agrees_with_the_engine_on_movielens_100k() {
    let file = cnmf_ratings::discover::require_ml100k();
    let dir = tempfile::tempdir().unwrap();
    agree_on(&file, dir.path(), 10, 20, &[]);
    agree_on(&file, dir.path(), 10, 20, &["--split-input"]);
}

/// `cnmf fit`'s fit of `data` with `settings` and default stopping (`cnmf_cli::api::fit`):
/// the refitted model, and the best iteration of its early-stopped fit (the first with the
/// lowest validation NMAE, watched by an observer).
fn cli_default_fit(
    data: &cnmf_ratings::Ratings,
    s: &FitSettings,
) -> (cnmf_engine::NmfModel, usize) {
    let params = fit_params(s, data.scale()).unwrap();
    let mut best: Option<(usize, f64)> = None;
    let mut watch = |st: &IterationStats| {
        if let Some(v) = st.validation_nmae {
            if best.is_none_or(|(_, b)| v < b) {
                best = Some((st.iteration, v));
            }
        }
        ControlFlow::Continue(())
    };
    let (model, _) = cnmf_cli::api::fit(&params, &Stopping::default(), data, &mut watch).unwrap();
    (model, best.expect("an early-stopped fit").0)
}

/// The best iteration `cnmf-mpi` reports on stderr (`... at iteration B of R run; ...`).
fn reported_best(stderr: &str) -> usize {
    let at = stderr
        .find("at iteration ")
        .unwrap_or_else(|| panic!("no early-stopping line: {stderr}"));
    stderr[at + "at iteration ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no best iteration: {stderr}"))
}

/// `cnmf-mpi fit` with `cnmf fit`'s default early stopping and refit on `ranks` ranks (the
/// algorithm's and `extra` arguments) against `cnmf fit`'s default fit with `s`: the same best
/// iteration, the same refit length, every prediction to 1e-9 relative.
fn stopped_agree(file: &Path, dir: &Path, s: &FitSettings, extra: &[&str], ranks: &[usize]) {
    let data = cnmf_ratings::load(file, &LoadOptions::default()).unwrap();
    let alg = s.algorithm;
    let (cli, best) = cli_default_fit(&data, s);
    for &ranks in ranks {
        let out = dir.join(format!("{alg}-stopped-{ranks}.cnmf"));
        let mut c = fit_command(ranks, file, &out, NO_FLAGS);
        c.args(["--algo", alg.name()]);
        c.args(extra);
        let o = run(c);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{alg} P={ranks}: {err}");
        assert_eq!(reported_best(&err), best, "{alg} P={ranks}: {err}");
        let mf = read_model(&out).unwrap();
        let model = mf.model();
        assert_eq!(
            model.iterations(),
            cli.iterations(),
            "{alg} P={ranks}: refit"
        );
        let d = max_rel_diff(&data, &cli, model);
        println!(
            "mpirun early-stopped {alg} P={ranks}: best iteration {best}, refit {} iterations, \
             largest relative difference {d:e}",
            model.iterations()
        );
        assert!(d <= 1e-9, "{alg} P={ranks}: relative difference {d:e}");
        assert_eq!(
            model.corrupt_entries(),
            cli.corrupt_entries(),
            "{alg} P={ranks}"
        );
    }
}

/// `cnmf-mpi fit` without stopping options early-stops and refits as `cnmf fit` does.
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn mpirun_early_stopping_and_refit_agree_with_cnmf_fit_on_1_2_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_fixture(dir.path());
    for alg in [Algorithm::IgnoreCorrupt, Algorithm::IgnoreMissing] {
        let mut s = settings(alg, 4, 300);
        s.l2 = 0.0;
        let mut extra = vec!["--k", "4", "--iters", "300", "--seed", "7", "--l2", "0"];
        if alg.needs_lambda() {
            extra.extend(["--lambda", "2"]);
        }
        stopped_agree(&file, dir.path(), &s, &extra, &[1, 2, 4]);
        stopped_agree(
            &file,
            dir.path(),
            &s,
            &[&extra[..], &["--split-input"]].concat(),
            &[2],
        );
    }
}

/// On MovieLens 100K with `cnmf fit`'s defaults (ignore-corrupt, and guarded with its screens).
#[test]
#[ignore = "needs MPI and MovieLens 100K: run by .ci/run with CNMF_DATA set"]
fn mpirun_early_stopping_and_refit_agree_with_cnmf_fit_on_movielens_100k() {
    let file = cnmf_ratings::discover::require_ml100k();
    let dir = tempfile::tempdir().unwrap();
    for alg in [Algorithm::IgnoreCorrupt, Algorithm::Guarded] {
        let s = FitSettings {
            rank: 20,
            algorithm: alg,
            lambda: None,
            sigma: None,
            p: None,
            max_iters: 1000,
            l2: 0.1,
            l2_per_rating: true,
            seed: 0,
            threads: 1,
            precision: cnmf_engine::Precision::F64,
        };
        stopped_agree(&file, dir.path(), &s, &[], &[1, 2]);
    }
}

/// Invalid stopping options fail every rank before any work, with `cnmf fit`'s messages, and
/// leave no model file.
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn invalid_stopping_options_fail_with_cnmf_fits_messages() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_fixture(dir.path());
    for (args, message) in [
        (
            &["--validation-fraction", "1.5"][..],
            "--validation-fraction must lie in (0, 1), got 1.5",
        ),
        (
            &["--validation-fraction", "0"][..],
            "--validation-fraction must lie in (0, 1), got 0",
        ),
        (
            &["--patience", "0"][..],
            "--patience must be at least 1 iteration",
        ),
    ] {
        let out = dir.path().join("model.cnmf");
        let mut c = fit_command(2, &file, &out, NO_FLAGS);
        c.args(args);
        let err = failure(c);
        assert!(err.contains(message), "{args:?}: {err}");
        only_data_left(dir.path());
    }
}

/// `--keep-times` stores every training rating's value and timestamp in the model, as `cnmf
/// fit --keep-times` does (with and without `--split-input`); data without timestamps fail
/// every rank with `cnmf fit`'s message and leave no model.
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn keep_times_stores_the_training_ratings_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_guarded_fixture(dir.path());
    let data = cnmf_ratings::load(&file, &LoadOptions::default()).unwrap();
    let values: Vec<f64> = data.iter().map(|t| t.value).collect();
    let times = data.times().unwrap().to_vec();
    assert!(times.windows(2).any(|w| w[0] != w[1]), "the times differ");
    for extra in [&[][..], &["--split-input"]] {
        let out = dir.path().join("model.cnmf");
        let mut c = fit_command(2, &file, &out, ["--keep-times"]);
        c.args(["--k", "3", "--iters", "30"]);
        c.args(extra);
        let o = run(c);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mf = read_model(&out).unwrap();
        let (v, t) = mf.history().expect("a history");
        assert_eq!((v, t), (&values[..], &times[..]), "{extra:?}");
        std::fs::remove_file(&out).unwrap();
    }
    let csv = dir.path().join("untimed.csv");
    let mut text = String::from("user,item,rating\n");
    for t in data.iter() {
        text.push_str(&format!("{},{},{}\n", t.user, t.item, t.value));
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("model.cnmf");
    let mut c = fit_command(2, &csv, &out, ["--keep-times"]);
    c.args(["--k", "3", "--iters", "5"]);
    let err = failure(c);
    assert!(
        err.contains("--keep-times needs timestamps, and the ratings have none"),
        "{err}"
    );
    assert!(!out.exists(), "a model was written");
}

/// The same number of ranks gives the same bits on every run under MPI too (the sums never go
/// through `MPI_Allreduce`).
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn mpirun_same_ranks_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_fixture(dir.path());
    for ranks in [2, 4] {
        let models: Vec<_> = (0..2)
            .map(|attempt| {
                let out = dir.path().join(format!("m{ranks}-{attempt}.cnmf"));
                let mut c = fit_command(ranks, &file, &out, ["--no-early-stopping"]);
                c.args(["--algo", "replace-corrupt", "--k", "5", "--iters", "40"]);
                let o = run(c);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                read_model(&out).unwrap().model().clone()
            })
            .collect();
        assert_eq!(models[0].factors(), models[1].factors(), "P={ranks}");
        assert_eq!(models[0].corrupt_entries(), models[1].corrupt_entries());
    }
}

/// No model file and no temporary file left in `dir` besides the data.
fn only_data_left(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["u.data".to_string()], "files left: {names:?}");
}

#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn a_bad_line_fails_every_rank_naming_file_line_and_rank() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("u.data");
    std::fs::write(
        &file,
        "1\t1\t5\t0\n2\t1\t4\t0\n3\t1\tseven\t0\n3\t2\t1\t0\n",
    )
    .unwrap();
    let out = dir.path().join("model.cnmf");
    let mut c = fit_command(2, &file, &out, ["--no-early-stopping"]);
    c.args(["--k", "2", "--iters", "5"]);
    let err = failure(c);
    for rank in 0..2 {
        assert!(err.contains(&format!("cnmf-mpi (rank {rank}):")), "{err}");
        assert!(err.contains(&format!("rank {rank} failed")), "{err}");
    }
    assert!(err.contains("u.data") && err.contains('3'), "{err}");
    only_data_left(dir.path());
}

#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn with_split_input_only_the_rank_that_read_a_bad_line_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("u.data");
    // Four lines of 8 bytes: with 2 ranks the bad line 4 is in rank 1's half.
    std::fs::write(&file, "1\t1\t5\t0\n2\t1\t4\t0\n3\t1\t2\t0\n3\t2\t9\t0\n").unwrap();
    let out = dir.path().join("model.cnmf");
    let mut c = fit_command(2, &file, &out, ["--split-input"]);
    c.args(["--k", "2", "--iters", "5"]);
    let err = failure(c);
    for rank in 0..2 {
        assert!(
            err.contains(&format!("cnmf-mpi (rank {rank}): rank 1 failed")),
            "{err}"
        );
    }
    assert!(!err.contains("rank 0 failed"), "{err}");
    assert!(err.contains("u.data:4:"), "{err}");
    only_data_left(dir.path());
}

/// The pids of the running `cnmf-mpi` processes that are children of `parent`.
fn ranks_of(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((head, tail)) = stat.rsplit_once(") ") else {
            continue;
        };
        let comm = head.split_once(" (").map_or("", |(_, c)| c);
        let ppid = tail.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if comm.starts_with("cnmf-mpi") && ppid == Some(parent) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn a_killed_rank_fails_the_job_and_leaves_no_model() {
    let dir = tempfile::tempdir().unwrap();
    // 300,000 ratings: 100,000 iterations (the limit) at k = 16 take many minutes.
    let file = dir.path().join("u.data");
    let mut text = String::new();
    for u in 1..=3000 {
        for i in (u % 3..300).step_by(3) {
            text.push_str(&format!("{u}\t{i}\t{}\t0\n", 1 + (u * 7 + i) % 5));
        }
    }
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("model.cnmf");
    let mut c = fit_command(2, &file, &out, ["--no-early-stopping"]);
    c.args(["--k", "16", "--iters", "100000", "--algo", "ignore-missing"]);
    let _job = one_job();
    let child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun");
    let start = Instant::now();
    let ranks = loop {
        let r = ranks_of(child.id());
        if r.len() == 2 {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the ranks did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Into the fit (loading the file takes a fraction of a second).
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-KILL", &ranks[1].to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        killed.success(),
        "rank 1 (pid {}) was gone before the kill: {}",
        ranks[1],
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        start.elapsed() < Duration::from_secs(50),
        "the job ran on after a rank died"
    );
    assert!(
        !o.status.success(),
        "mpirun exited 0 after a rank was killed"
    );
    // Ended by the kill, not by a failure the ranks agreed on.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("cnmf-mpi (rank"), "{err}");
    only_data_left(dir.path());
}

/// `--data DIR` finds the MovieLens release in the directory, as `cnmf fit` does; a directory
/// without one fails every rank with a message naming it.
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn a_data_directory_is_searched_as_cnmf_fit_searches_it() {
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("ml-100k");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(
        release.join("u.data"),
        "1\t1\t5\t0\n1\t2\t3\t0\n2\t1\t4\t0\n2\t2\t2\t0\n3\t1\t1\t0\n3\t2\t5\t0\n",
    )
    .unwrap();
    let out = dir.path().join("model.cnmf");
    let mut c = fit_command(2, dir.path(), &out, ["--no-early-stopping"]);
    c.args(["--k", "1", "--iters", "3"]);
    let o = run(c);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_model(&out).unwrap().n_ratings(), 6);
    let empty = tempfile::tempdir().unwrap();
    let c = fit_command(2, empty.path(), &out, ["--no-early-stopping"]);
    let err = failure(c);
    assert!(
        err.contains("a directory without ml-1m/ratings.dat"),
        "{err}"
    );
}

/// The arguments of `cnmf fit` that choose the parameters: the CLI's own `ParamArgs` and
/// `--params FILE`, as `cnmf fit` declares them.
#[derive(Debug, clap::Parser)]
struct CnmfFitParams {
    #[command(flatten)]
    params: ParamArgs,
    #[arg(long = "params")]
    params_file: Option<PathBuf>,
}

/// The checked parameters `cnmf fit FLAGS` uses for data on `scale` and its stopping options,
/// chosen as `cnmf fit` chooses them (the file of `--params` applied under the options given
/// on the command line, then `ParamArgs::check`); the error is `cnmf fit`'s message.
fn cnmf_fit_params(
    flags: &[&str],
    scale: cnmf_ratings::RatingScale,
) -> Result<(ValidNmfParams, Stopping), String> {
    let matches = CnmfFitParams::command()
        .try_get_matches_from(std::iter::once("cnmf").chain(flags.iter().copied()))
        .map_err(|e| e.to_string())?;
    let args = CnmfFitParams::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let mut p = args.params;
    if let Some(file) = &args.params_file {
        p.apply_params_file(file, &given)
            .map_err(|e| e.to_string())?;
    }
    let checked = p.check(scale).map_err(|e| e.to_string())?;
    let stopping = Stopping {
        early_stopping: !p.stop.no_early_stopping,
        validation_fraction: p.stop.validation_fraction,
        patience: p.stop.patience,
        refit: !p.stop.no_refit,
    };
    Ok((checked.params, stopping))
}

/// `cnmf fit FLAGS` on `data` in this process: its parameters ([`cnmf_fit_params`]) and its
/// fit with early stopping and refit (`cnmf_cli::api::fit`).
fn cnmf_fit(data: &cnmf_ratings::Ratings, flags: &[&str]) -> cnmf_engine::NmfModel {
    let (params, stopping) = cnmf_fit_params(flags, data.scale()).unwrap();
    let mut quiet = |_: &IterationStats| ControlFlow::Continue(());
    cnmf_cli::api::fit(&params, &stopping, data, &mut quiet)
        .unwrap()
        .0
}

/// `mpirun -np ranks cnmf-mpi fit --data file -o out FLAGS` against `cnmf fit FLAGS`: the
/// same stored parameters, every prediction to 1e-9 relative, the same flags, screened users
/// and bursts; returns the model `cnmf-mpi` wrote on the last of `ranks`.
fn cli_agree(file: &Path, dir: &Path, flags: &[&str], ranks: &[usize]) -> cnmf_engine::NmfModel {
    let data = cnmf_ratings::load(file, &LoadOptions::default()).unwrap();
    let cli = cnmf_fit(&data, flags);
    let mut last = None;
    for &ranks in ranks {
        let out = dir.join(format!("cli-agree-{ranks}.cnmf"));
        let mut c = fit_command(ranks, file, &out, NO_FLAGS);
        c.args(flags);
        let o = run(c);
        assert!(
            o.status.success(),
            "{flags:?} P={ranks}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mf = read_model(&out).unwrap();
        let model = mf.model();
        assert_eq!(model.params(), cli.params(), "{flags:?} P={ranks}: params");
        let d = max_rel_diff(&data, &cli, model);
        println!("mpirun {flags:?} P={ranks}: largest relative difference {d:e}");
        assert!(d <= 1e-9, "{flags:?} P={ranks}: relative difference {d:e}");
        assert_eq!(model.iterations(), cli.iterations(), "{flags:?} P={ranks}");
        assert_eq!(
            model.corrupt_entries(),
            cli.corrupt_entries(),
            "{flags:?} P={ranks}"
        );
        assert_eq!(model.screened_users(), cli.screened_users(), "{flags:?}");
        assert_eq!(model.bursts(), cli.bursts(), "{flags:?} P={ranks}");
        last = Some(model.clone());
    }
    last.expect("at least one number of ranks")
}

/// guarded's threshold scales and screens, trimmed's `--trim-fraction` and a corrupt
/// variant's `--warmup`, away from their defaults: `cnmf-mpi fit` on 1 and 2 ranks fits what
/// `cnmf fit` fits with the same flags, and the model stores the values given.
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn mpirun_algorithm_options_agree_with_cnmf_fit_on_1_2_ranks() {
    let common = [
        "--k",
        "4",
        "--iters",
        "30",
        "--seed",
        "7",
        "--threads",
        "1",
        "--no-early-stopping",
    ];
    let guarded_dir = tempfile::tempdir().unwrap();
    let guarded_file = write_guarded_fixture(guarded_dir.path());
    let guarded = [
        "--algo",
        "guarded",
        "--user-threshold-scale",
        "0.9",
        "--item-threshold-scale",
        "0.7",
        "--profile-screen",
        "off",
        "--burst-window",
        "2h",
    ];
    let model = cli_agree(
        &guarded_file,
        guarded_dir.path(),
        &[&common[..], &guarded].concat(),
        &[1, 2],
    );
    let p = model.params();
    assert_eq!(p.user_threshold_scale(), 0.9);
    assert_eq!(p.item_threshold_scale(), 0.7);
    assert_eq!(p.profile_screen(), None);
    assert_eq!(p.burst_window(), Some(7200));
    assert!(model.screened_users().is_empty(), "the profile screen ran");
    assert!(
        model.bursts().is_some_and(|b| !b.is_empty()),
        "the 2-hour burst screen found no burst"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = write_fixture(dir.path());
    let trimmed = ["--algo", "trimmed", "--trim-fraction", "0.1"];
    let model = cli_agree(
        &file,
        dir.path(),
        &[&common[..], &trimmed].concat(),
        &[1, 2],
    );
    assert_eq!(model.params().trim_fraction(), 0.1);
    let corrupt = [
        "--algo",
        "replace-corrupt",
        "--lambda",
        "2",
        "--warmup",
        "3",
    ];
    let model = cli_agree(
        &file,
        dir.path(),
        &[&common[..], &corrupt].concat(),
        &[1, 2],
    );
    assert_eq!(model.params().warmup_iters(), 3);
    assert!(!model.corrupt_entries().is_empty(), "nothing flagged");
}

/// `--params FILE` (algorithm, rank, guarded's item scale, iterations, patience and seed from
/// the file) with `--k` on the command line overriding the file's rank: the model `cnmf fit`
/// fits with the same file and flag, with `cnmf fit`'s default early stopping and refit.
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn mpirun_params_file_under_command_line_options_agrees_with_cnmf_fit() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_guarded_fixture(dir.path());
    let settings = dir.path().join("best.json");
    std::fs::write(
        &settings,
        r#"{"algo": "guarded", "rank": 5, "item_threshold_scale": 0.6, "iters": 60,
            "patience": 10, "seed": 3}"#,
    )
    .unwrap();
    let settings = settings.to_str().unwrap();
    let model = cli_agree(
        &file,
        dir.path(),
        &["--params", settings, "--k", "3", "--threads", "1"],
        &[1, 2],
    );
    let p = model.params();
    assert_eq!(p.algorithm(), Algorithm::Guarded);
    assert_eq!(p.rank(), 3, "--k overrides the file's rank");
    assert_eq!(p.item_threshold_scale(), 0.6);
    assert_eq!(p.seed(), 3);
}

/// Invalid parameters, an invalid `--params` file and a rank above min(users, items) fail
/// every rank with `cnmf fit`'s message and leave no model file; the parameters are checked
/// before any data is read (the data file of those cases does not exist).
#[test]
#[ignore = "needs MPI: run by .ci/run"]
fn invalid_parameters_fail_every_rank_with_cnmf_fits_messages() {
    let dir = tempfile::tempdir().unwrap();
    let settings = tempfile::tempdir().unwrap();
    let unknown = settings.path().join("unknown.json");
    std::fs::write(&unknown, r#"{"rank": 5, "learning_rate": 0.1}"#).unwrap();
    let unknown = unknown.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--algo", "guarded", "--item-threshold-scale", "-1"],
            "item",
        ),
        (
            &["--trim-fraction", "0.1"],
            "--trim-fraction applies to the trimmed algorithm only, not ignore-corrupt",
        ),
        (
            &["--algo", "trimmed", "--burst-window", "1h"],
            "--burst-window applies to the guarded algorithm only, not trimmed",
        ),
        (&["--algo", "ignore-missing", "--lambda", "2"], "no effect"),
        (&["--params", unknown], "unknown key \"learning_rate\""),
    ];
    let missing = dir.path().join("missing.data");
    for (args, part) in cases {
        let expected = cnmf_fit_params(args, cnmf_ratings::RatingScale::MOVIELENS)
            .expect_err("cnmf fit refuses these options");
        assert!(expected.contains(part), "{args:?}: {expected}");
        let out = dir.path().join("model.cnmf");
        let mut c = fit_command(2, &missing, &out, NO_FLAGS);
        c.args(args);
        let err = failure(c);
        assert!(err.contains(&expected), "{args:?}: {err}");
        assert!(!err.contains("missing.data"), "{args:?}: data read: {err}");
        for rank in 0..2 {
            assert!(err.contains(&format!("cnmf-mpi (rank {rank}):")), "{err}");
            assert!(err.contains(&format!("rank {rank} failed")), "{err}");
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?}: files left: {left:?}");
    }
    // The rank check needs the data, as in `cnmf fit`: min(users, items) of the fixture is 41.
    let file = write_fixture(dir.path());
    let out = dir.path().join("model.cnmf");
    let mut c = fit_command(2, &file, &out, ["--no-early-stopping"]);
    c.args(["--k", "50", "--iters", "3"]);
    let err = failure(c);
    assert!(
        err.contains("--k 50 is above min(users, items) = 41"),
        "{err}"
    );
    only_data_left(dir.path());
}
