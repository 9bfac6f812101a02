//! `cargo xtask bench-scale`: how load time, time per iteration and peak memory grow with the
//! number of ratings. For each size it generates a MovieLens-shaped synthetic set, writes it as
//! `ratings.dat`, then runs one child process of this binary per engine algorithm (the hidden
//! `bench-scale-child` command: load the file, fit, report the trace's iteration times and the
//! process's peak RSS from `/proc/self/status`), and optionally `cnmf fit` itself (its peak RSS
//! from `/usr/bin/time`, its model file's size). Writes `bench-scale.json` and
//! `BENCH-SCALE.md`. Figures depend on the machine and its load; the report records both.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cnmf_engine::{Algorithm, FitOptions, IterationStats, NmfParams};
use cnmf_ratings::{load, LoadOptions, SyntheticParams};
use indicatif::{ProgressBar, ProgressDrawTarget};
use serde::{Deserialize, Serialize};

use crate::cli::{BenchScaleArgs, BenchScaleChildArgs};
use crate::progress::style;

/// Warm-up iterations of the downweighting algorithms when iterations allow, as `cnmf fit`.
const DEFAULT_WARMUP: usize = 10;

/// One data-set size: a named preset or a `USERSxITEMSxRATINGS` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Size {
    /// `1m`, `10m`, `25m`, `100m`, or the shape as given.
    pub name: String,
    /// Users.
    pub users: usize,
    /// Items.
    pub items: usize,
    /// Ratings.
    pub ratings: usize,
}

impl Size {
    /// The generator's parameters for this size (seeded).
    pub fn params(&self, seed: u64) -> SyntheticParams {
        let p = if self.name == "1m" {
            SyntheticParams::ml1m()
        } else {
            SyntheticParams::new(self.users, self.items, self.ratings)
        };
        p.seed(seed)
    }
}

/// Parses one `--sizes` entry: `1m` (MovieLens 1M shape), `10m` (ML-10M: 69,878 x 10,677),
/// `25m` (ML-25M: 162,541 x 59,047), `100m` (Netflix: 480,189 x 17,770), or
/// `USERSxITEMSxRATINGS`. The generator checks the shape too (before any work).
pub fn parse_size(s: &str) -> Result<Size, String> {
    let t = s.trim().to_ascii_lowercase();
    let preset = |users, items, ratings| Size {
        name: t.clone(),
        users,
        items,
        ratings,
    };
    let size = match t.as_str() {
        "1m" => {
            let p = SyntheticParams::ml1m();
            preset(p.n_users, p.n_items, p.n_ratings)
        }
        "10m" => preset(69_878, 10_677, 10_000_054),
        "25m" => preset(162_541, 59_047, 25_000_095),
        "100m" => preset(480_189, 17_770, 100_480_507),
        shape => {
            let dims: Vec<usize> = shape
                .split('x')
                .map(|d| d.trim().replace('_', "").parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    format!("`{s}` is neither 1m, 10m, 25m, 100m nor USERSxITEMSxRATINGS")
                })?;
            match dims[..] {
                [users, items, ratings] => preset(users, items, ratings),
                _ => {
                    return Err(format!(
                        "`{s}` is neither 1m, 10m, 25m, 100m nor USERSxITEMSxRATINGS"
                    ))
                }
            }
        }
    };
    size.params(0)
        .check()
        .map_err(|e| format!("size `{s}`: {e}"))?;
    Ok(size)
}

/// What one child process measured: one algorithm on one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildReport {
    /// Algorithm.
    pub algorithm: String,
    /// Seconds to load the file into `Ratings` (CSR, CSC, id maps).
    pub load_secs: f64,
    /// Peak RSS after the load, bytes (None off Linux).
    pub load_peak_rss: Option<u64>,
    /// Ratings loaded.
    pub nnz: usize,
    /// Iterations asked for.
    pub iters_asked: usize,
    /// Warm-up iterations (plain ignore-missing) at the start.
    pub warmup: usize,
    /// Seconds of each iteration, from the trace.
    pub iter_secs: Vec<f64>,
    /// Seconds from the fit's start to the initial factors being ready (trace entry 0).
    pub setup_secs: f64,
    /// Peak RSS of the process (load + fit), bytes.
    pub peak_rss: Option<u64>,
}

impl ChildReport {
    /// Median seconds per iteration.
    pub fn median_iter_secs(&self) -> f64 {
        median(&self.iter_secs)
    }

    /// Median seconds per iteration after the warm-up (all iterations when none follow it).
    pub fn median_after_warmup(&self) -> f64 {
        match self.iter_secs.get(self.warmup..) {
            Some(rest) if !rest.is_empty() => median(rest),
            _ => self.median_iter_secs(),
        }
    }
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// `cnmf fit` on one file.
#[derive(Debug, Clone, Serialize)]
pub struct CliRun {
    /// Algorithm.
    pub algorithm: String,
    /// Wall-clock seconds of the whole command (load, fit, model written).
    pub wall_secs: f64,
    /// The command's own `fit_seconds`.
    pub fit_seconds: f64,
    /// Iterations it ran.
    pub iterations: usize,
    /// Model file size in bytes (safetensors, format version 2).
    pub model_bytes: u64,
    /// Peak RSS from `/usr/bin/time` (None when it is not there).
    pub peak_rss: Option<u64>,
}

/// One size's results.
#[derive(Debug, Clone, Serialize)]
pub struct SizeResult {
    /// The size.
    pub size: Size,
    /// Ratings actually generated.
    pub nnz: usize,
    /// Seconds the generator took (in the parent).
    pub generate_secs: f64,
    /// `ratings.dat` size in bytes.
    pub file_bytes: u64,
    /// Median load seconds over the children.
    pub load_secs: f64,
    /// Load throughput, MB (10^6 bytes) per second.
    pub load_mb_per_sec: f64,
    /// One entry per algorithm.
    pub fits: Vec<ChildReport>,
    /// `cnmf fit`, when it was run.
    pub cli: Option<CliRun>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The command line.
    pub command: String,
    /// Rank.
    pub k: usize,
    /// Iterations asked for per fit.
    pub iters: usize,
    /// Per-fit wall-clock budget, seconds.
    pub budget_secs: f64,
    /// Worker threads asked for (0 = every core).
    pub threads: usize,
    /// Cores the machine reports.
    pub cores: usize,
    /// CPU model from /proc/cpuinfo.
    pub cpu: Option<String>,
    /// 1-minute load average at the start and the end.
    pub loadavg: (Option<f64>, Option<f64>),
    /// Per size.
    pub sizes: Vec<SizeResult>,
}

/// Peak resident set size of this process (`VmHWM`), in bytes; None when unreadable.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn cpu_model() -> Option<String> {
    let s = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let l = s.lines().find(|l| l.starts_with("model name"))?;
    Some(l.split_once(':')?.1.trim().to_string())
}

/// The engine parameters `cnmf fit` would use by default for `alg`: lambda from the noise
/// model (sigma 1, p 0.05) when it needs one, warm-up min(10, iters / 2) for the downweighting
/// algorithms but guarded.
pub fn params(alg: Algorithm, k: usize, iters: usize, threads: usize, seed: u64) -> NmfParams {
    let warmup = if alg.downweights() && alg != Algorithm::Guarded {
        DEFAULT_WARMUP.min(iters / 2)
    } else {
        0
    };
    let mut p = NmfParams::new(k, alg)
        .max_iters(iters)
        .seed(seed)
        .threads(threads)
        .warmup_iters(warmup);
    if alg.needs_lambda() {
        p = p.noise_model(1.0, 0.05);
    }
    p
}

/// The hidden child command: load, fit one algorithm, print a [`ChildReport`] as one JSON
/// line on stdout.
pub fn child(a: &BenchScaleChildArgs, out: &mut dyn std::io::Write) -> Result<()> {
    let alg: Algorithm = a.algo.parse().map_err(|e| anyhow::anyhow!("--algo: {e}"))?;
    let valid = params(alg, a.k, a.iters, a.threads, a.seed)
        .precision(a.precision)
        .check()?;
    let start = Instant::now();
    // Timestamps are kept only for an algorithm that reads them, as `cnmf fit` does.
    let opts = LoadOptions::default().timestamps(valid.reads_timestamps());
    let data = load(&a.file, &opts).with_context(|| format!("loading {}", a.file.display()))?;
    let load_secs = start.elapsed().as_secs_f64();
    let load_peak_rss = peak_rss();
    let budget = a.budget_secs;
    let mut observer = |s: &IterationStats| {
        if s.elapsed_secs > budget {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let model = valid.fit_with(&data, FitOptions::new().observer(&mut observer))?;
    let tr = model.trace();
    let iter_secs = tr
        .windows(2)
        .map(|w| w[1].elapsed_secs - w[0].elapsed_secs)
        .collect();
    let report = ChildReport {
        algorithm: alg.name().to_string(),
        load_secs,
        load_peak_rss,
        nnz: data.nnz(),
        iters_asked: a.iters,
        warmup: valid.warmup_iters(),
        iter_secs,
        setup_secs: tr.first().map_or(f64::NAN, |t| t.elapsed_secs),
        peak_rss: peak_rss(),
    };
    writeln!(out, "{}", serde_json::to_string(&report)?)?;
    Ok(())
}

/// Checks the options together, before any work.
pub fn check(a: &BenchScaleArgs) -> Result<()> {
    if a.sizes.is_empty() {
        bail!("--sizes needs at least one size");
    }
    if a.iters == 0 {
        bail!("--iters must be at least 1");
    }
    if a.k == 0 {
        bail!("--k must be at least 1");
    }
    if !(a.budget.is_finite() && a.budget > 0.0) {
        bail!("--budget must be a positive number of seconds");
    }
    for s in &a.sizes {
        if a.k > s.users.min(s.items) {
            bail!(
                "--k {} is more than min(users, items) = {} of size {}",
                a.k,
                s.users.min(s.items),
                s.name
            );
        }
    }
    for alg in &a.algos {
        let _: Algorithm = alg.parse().map_err(|e| anyhow::anyhow!("--algos: {e}"))?;
    }
    if !a.no_cli {
        if let Some(c) = &a.cnmf {
            if !c.is_file() {
                bail!("--cnmf {}: no such file", c.display());
            }
        }
        let _: Algorithm = a
            .cli_algo
            .parse()
            .map_err(|e| anyhow::anyhow!("--cli-algo: {e}"))?;
    }
    Ok(())
}

/// The algorithms to run: `--algos`, or every engine algorithm.
fn algorithms(a: &BenchScaleArgs) -> Vec<Algorithm> {
    if a.algos.is_empty() {
        Algorithm::ALL.to_vec()
    } else {
        a.algos
            .iter()
            .map(|s| s.parse().expect("checked"))
            .collect()
    }
}

/// The `cnmf` binary: `--cnmf`, else `cargo build --release -p cnmf-cli --bin cnmf` (a no-op
/// when it is fresh) and the binary next to this executable.
fn cnmf_binary(a: &BenchScaleArgs) -> Result<PathBuf> {
    if let Some(c) = &a.cnmf {
        return Ok(c.clone());
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the executable's directory")?;
    let sibling = dir.join(format!("cnmf{}", std::env::consts::EXE_SUFFIX));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "cnmf-cli", "--bin", "cnmf"])
        .status()
        .context("running cargo build for cnmf")?;
    if !status.success() {
        bail!("cargo build --release -p cnmf-cli failed; pass --cnmf PATH or --no-cli");
    }
    if sibling.is_file() {
        Ok(sibling)
    } else {
        bail!(
            "cnmf not found at {} after the build; pass --cnmf PATH or --no-cli",
            sibling.display()
        )
    }
}

fn run_child(a: &BenchScaleArgs, file: &Path, alg: Algorithm) -> Result<ChildReport> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .arg("bench-scale-child")
        .arg("--file")
        .arg(file)
        .args(["--algo", alg.name()])
        .args(["--k", &a.k.to_string()])
        .args(["--iters", &a.iters.to_string()])
        .args(["--threads", &a.threads.to_string()])
        .args(["--seed", &a.seed.to_string()])
        .args(["--budget-secs", &a.budget.to_string()])
        .args(["--precision", a.precision.name()])
        .output()
        .context("starting the child process")?;
    if !out.status.success() {
        bail!(
            "child for {} on {} failed ({}): {}",
            alg,
            file.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8(out.stdout)?;
    let line = text.lines().last().context("the child printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

fn run_cli(a: &BenchScaleArgs, cnmf: &Path, file: &Path, dir: &Path) -> Result<CliRun> {
    let model = dir.join("model.safetensors");
    let rss_file = dir.join("time.txt");
    let time = Path::new("/usr/bin/time");
    let algo = a.cli_algo.as_str();
    let mut cmd = if time.is_file() {
        let mut c = Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(cnmf);
        c
    } else {
        Command::new(cnmf)
    };
    cmd.arg("fit")
        .arg("--data")
        .arg(file)
        .args(["--algo", algo])
        .args(["--k", &a.k.to_string()])
        .args(["--iters", &a.iters.to_string()])
        // The iterations asked for, as the engine's own runs above: not early stopping's
        // validation fit and refit (`cnmf fit`'s default).
        .arg("--no-early-stopping")
        .args(["--threads", &a.threads.to_string()])
        .args(["--seed", &a.seed.to_string()])
        .args(["--precision", a.precision.name()])
        .arg("-o")
        .arg(&model)
        .args(["--json", "--quiet"]);
    let start = Instant::now();
    let out = cmd.output().context("running cnmf fit")?;
    let wall_secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "cnmf fit failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| "reading cnmf fit --json output".to_string())?;
    let peak_rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.lines().last()?.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024);
    let model_bytes = std::fs::metadata(&model).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&model);
    let _ = std::fs::remove_file(&rss_file);
    Ok(CliRun {
        algorithm: algo.to_string(),
        wall_secs,
        fit_seconds: v["fit_seconds"].as_f64().unwrap_or(f64::NAN),
        iterations: v["iterations"].as_u64().unwrap_or(0) as usize,
        model_bytes,
        peak_rss,
    })
}

/// Runs the benchmark and writes `bench-scale.json` and `BENCH-SCALE.md` into `--out`.
pub fn run(a: &BenchScaleArgs, command: String) -> Result<Report> {
    check(a)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let data_root = a.data_dir.clone().unwrap_or_else(|| a.out.join("data"));
    std::fs::create_dir_all(&data_root)
        .with_context(|| format!("creating {}", data_root.display()))?;
    let algs = algorithms(a);
    let cnmf = if a.no_cli {
        None
    } else {
        Some(cnmf_binary(a)?)
    };
    let steps = a.sizes.len() as u64 * (1 + algs.len() as u64 + u64::from(cnmf.is_some()));
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    bar.set_style(style(
        "{msg:32} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed",
    ));
    let mut report = Report {
        command,
        k: a.k,
        iters: a.iters,
        budget_secs: a.budget,
        threads: a.threads,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu: cpu_model(),
        loadavg: (loadavg(), None),
        sizes: Vec::new(),
    };
    for size in &a.sizes {
        bar.set_message(format!("{}: generating", size.name));
        let dir = data_root.join(format!("bench-{}", size.name));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("ratings.dat");
        let t = Instant::now();
        let (nnz, generate_secs) = {
            let r = size.params(a.seed).check()?.generate();
            let secs = t.elapsed().as_secs_f64();
            cnmf_ratings::write(&r, &file, cnmf_ratings::Format::MovieLens)?;
            (r.nnz(), secs)
        };
        let file_bytes = std::fs::metadata(&file)?.len();
        bar.inc(1);
        let mut fits = Vec::new();
        for &alg in &algs {
            bar.set_message(format!("{}: {}", size.name, alg));
            fits.push(run_child(a, &file, alg)?);
            bar.inc(1);
        }
        let cli = match &cnmf {
            Some(c) => {
                bar.set_message(format!("{}: cnmf fit", size.name));
                let r = run_cli(a, c, &file, &dir)?;
                bar.inc(1);
                Some(r)
            }
            None => None,
        };
        if !a.keep_data {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let loads: Vec<f64> = fits.iter().map(|f| f.load_secs).collect();
        let load_secs = median(&loads);
        report.sizes.push(SizeResult {
            size: size.clone(),
            nnz,
            generate_secs,
            file_bytes,
            load_secs,
            load_mb_per_sec: file_bytes as f64 / 1e6 / load_secs,
            fits,
            cli,
        });
        // Written after every size, so that a long run interrupted at a large size keeps the
        // smaller ones.
        report.loadavg.1 = loadavg();
        write_report(&report, &a.out)?;
    }
    bar.finish_and_clear();
    if !a.keep_data && a.data_dir.is_none() {
        let _ = std::fs::remove_dir(&data_root);
    }
    Ok(report)
}

fn write_report(report: &Report, out: &Path) -> Result<()> {
    std::fs::write(
        out.join("bench-scale.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    std::fs::write(out.join("BENCH-SCALE.md"), markdown(report))?;
    Ok(())
}

fn mb(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| format!("{:.0}", b as f64 / 1048576.0))
}

/// The Markdown report: loading, the per-algorithm table per size, `cnmf fit`, the targets.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("# Scaling benchmark\n\n");
    s.push_str(&format!("```sh\n{}\n```\n\n", r.command));
    s.push_str(&format!(
        "k = {}, {} iterations per fit (per-fit budget {} s), threads {} (0 = every core), {} cores ({}); \
         1-minute load average {} at the start, {} at the end. Figures depend on the machine and \
         on what else runs on it.\n\n",
        r.k,
        r.iters,
        r.budget_secs,
        r.threads,
        r.cores,
        r.cpu.as_deref().unwrap_or("unknown CPU"),
        r.loadavg.0.map_or("?".into(), |l| format!("{l:.2}")),
        r.loadavg.1.map_or("?".into(), |l| format!("{l:.2}")),
    ));
    s.push_str("## Loading\n\n| size | users x items | ratings | file MB | generate s | load s | load MB/s | peak RSS after load, MiB |\n|---|---|---|---|---|---|---|---|\n");
    for z in &r.sizes {
        let load_rss = z.fits.iter().filter_map(|f| f.load_peak_rss).max();
        s.push_str(&format!(
            "| {} | {} x {} | {} | {:.1} | {:.2} | {:.3} | {:.0} | {} |\n",
            z.size.name,
            z.size.users,
            z.size.items,
            z.nnz,
            z.file_bytes as f64 / 1e6,
            z.generate_secs,
            z.load_secs,
            z.load_mb_per_sec,
            mb(load_rss)
        ));
    }
    for z in &r.sizes {
        s.push_str(&format!(
            "\n## {} ({} ratings)\n\n| algorithm | iterations | median ms / iteration | after warm-up | ns / rating / iteration | peak RSS MiB (load + fit) |\n|---|---|---|---|---|---|\n",
            z.size.name, z.nnz
        ));
        for f in &z.fits {
            let med = f.median_iter_secs();
            let shortened = if f.iter_secs.len() < f.iters_asked {
                format!(" (budget: {} of {})", f.iter_secs.len(), f.iters_asked)
            } else {
                String::new()
            };
            s.push_str(&format!(
                "| {} | {}{} | {:.2} | {:.2} | {:.2} | {} |\n",
                f.algorithm,
                f.iter_secs.len(),
                shortened,
                med * 1e3,
                f.median_after_warmup() * 1e3,
                med * 1e9 / z.nnz as f64,
                mb(f.peak_rss)
            ));
        }
        if let Some(c) = &z.cli {
            s.push_str(&format!(
                "\n`cnmf fit --algo {}`: {:.2} s wall (load, fit, model written), fit {:.2} s for {} iterations \
                 ({:.2} ms each), model file {:.1} MB, peak RSS {} MiB.\n",
                c.algorithm,
                c.wall_secs,
                c.fit_seconds,
                c.iterations,
                c.fit_seconds * 1e3 / c.iterations.max(1) as f64,
                c.model_bytes as f64 / 1e6,
                mb(c.peak_rss)
            ));
        }
    }
    s.push_str("\n## Targets (ignore-corrupt, median ms per iteration after warm-up)\n\n");
    for t in targets(r) {
        s.push_str(&format!("- {t}\n"));
    }
    s
}

fn ic_ms(z: &SizeResult) -> Option<f64> {
    z.fits
        .iter()
        .find(|f| f.algorithm == "ignore-corrupt")
        .map(|f| f.median_after_warmup() * 1e3)
}

/// The scaling targets, each met, missed or not measured.
pub fn targets(r: &Report) -> Vec<String> {
    let find = |n: &str| r.sizes.iter().find(|z| z.size.name == n);
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    let mut out = Vec::new();
    let one = find("1m").and_then(ic_ms);
    out.push(match one {
        Some(ms) => format!(
            "ML-1M shape <= 5 ms per iteration: {} ({ms:.2} ms)",
            verdict(ms <= 5.0)
        ),
        None => "ML-1M shape <= 5 ms per iteration: not measured".into(),
    });
    let big = find("25m").and_then(ic_ms);
    out.push(match (one, big) {
        (Some(a), Some(b)) => format!(
            "25M <= 1.3 x 25 x the 1M time: {} ({b:.1} ms = {:.2} x 25 x {a:.2} ms)",
            verdict(b <= 1.3 * 25.0 * a),
            b / (25.0 * a)
        ),
        _ => "25M <= 1.3 x 25 x the 1M time: not measured".into(),
    });
    let rss = find("100m").map(|z| {
        let peak = z
            .fits
            .iter()
            .filter(|f| f.algorithm == "ignore-corrupt")
            .filter_map(|f| f.peak_rss)
            .max();
        (peak, z.fits.iter().map(|f| f.iter_secs.len()).max())
    });
    out.push(match rss {
        Some((Some(p), Some(n))) if n >= 10 => format!(
            "100M load + 10 iterations within 4 GB peak RSS: {} ({:.2} GB)",
            verdict(p <= 4_000_000_000),
            p as f64 / 1e9
        ),
        Some((Some(p), Some(n))) => format!(
            "100M load + 10 iterations within 4 GB peak RSS: not measured as stated (only {n} iterations; peak {:.2} GB)",
            p as f64 / 1e9
        ),
        _ => "100M load + 10 iterations within 4 GB peak RSS: not measured".into(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        let s = parse_size("10M").unwrap();
        assert_eq!((s.users, s.items, s.ratings), (69_878, 10_677, 10_000_054));
        assert_eq!(parse_size("1m").unwrap().users, 6040);
        let s = parse_size("100x50x2000").unwrap();
        assert_eq!(
            (s.name.as_str(), s.users, s.items, s.ratings),
            ("100x50x2000", 100, 50, 2000)
        );
        assert!(parse_size("3m").is_err());
        assert!(parse_size("100x50").is_err());
        // more ratings than cells: the generator refuses it, so the option does
        assert!(parse_size("10x10x1000").is_err());
    }

    fn args(extra: &[&str]) -> Result<BenchScaleArgs, String> {
        use clap::Parser;
        let argv = ["cargo xtask", "bench-scale"].iter().chain(extra);
        match crate::cli::Cli::try_parse_from(argv) {
            Ok(crate::cli::Cli {
                command: crate::cli::Command::BenchScale(a),
            }) => check(&a).map(|()| a).map_err(|e| e.to_string()),
            Ok(other) => panic!("parsed as {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn options_parse_and_check() {
        let a = args(&[]).unwrap();
        let names: Vec<&str> = a.sizes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["1m", "10m"]);
        assert_eq!((a.iters, a.k, a.threads, a.budget), (5, 20, 0, 120.0));
        assert!(a.algos.is_empty() && !a.no_cli && !a.keep_data);
        assert_eq!(a.cli_algo, "ignore-corrupt");
        assert_eq!(a.precision, cnmf_engine::Precision::F64);
        let a = args(&[
            "--sizes",
            "25m,100m,200x100x5000",
            "--iters",
            "10",
            "--algos",
            "huber,guarded",
            "--no-cli",
            "--precision",
            "f32",
        ])
        .unwrap();
        assert_eq!(a.precision, cnmf_engine::Precision::F32);
        let names: Vec<&str> = a.sizes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["25m", "100m", "200x100x5000"]);
        assert_eq!(a.sizes[1].users, 480_189);
        assert_eq!(a.algos, ["huber", "guarded"]);
        assert_eq!(a.iters, 10);
        for bad in [
            &["--sizes", "1m,2m"][..],
            &["--iters", "0"],
            &["--k", "0"],
            &["--budget", "0"],
            &["--budget", "inf"],
            &["--algos", "ignore-missing,bogus"],
            &["--cli-algo", "bogus"],
            &["--precision", "f16"],
        ] {
            assert!(args(bad).is_err(), "{bad:?} accepted");
        }
        // a rank above min(users, items) of any size is refused by the check, not the parser
        let err = args(&["--sizes", "1m,10x40x300"]).unwrap_err();
        assert!(
            err.contains("--k 20 is more than min(users, items) = 10"),
            "{err}"
        );
        // --cli-algo is not checked when the cnmf run is skipped
        assert!(args(&["--no-cli", "--cli-algo", "bogus"]).is_ok());
    }

    #[test]
    fn median_and_warmup() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        let r = ChildReport {
            algorithm: "ignore-corrupt".into(),
            load_secs: 0.0,
            load_peak_rss: None,
            nnz: 1,
            iters_asked: 4,
            warmup: 2,
            iter_secs: vec![1.0, 1.0, 5.0, 7.0],
            setup_secs: 0.0,
            peak_rss: None,
        };
        assert_eq!(r.median_iter_secs(), 3.0);
        assert_eq!(r.median_after_warmup(), 6.0);
    }

    #[test]
    fn peak_rss_reads_proc() {
        if Path::new("/proc/self/status").exists() {
            let p = peak_rss().expect("VmHWM on Linux");
            assert!(p > 1024 * 1024, "peak RSS {p} bytes");
        }
    }
}
