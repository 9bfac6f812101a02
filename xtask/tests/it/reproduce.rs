//! End-to-end tests of `cargo xtask reproduce` on a tiny made-up data set: the whole pipeline
//! runs, the JSON parses, the Markdown tables hold the JSON's numbers, the plots exist, the
//! figures do not depend on the thread count or schedule, and bad flags or data fail first with
//! a clear message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A made-up data set: 80 users x 50 items, a rank-3 pattern plus deterministic jitter, each
/// user rating 30 items, written as CSV with a header.
pub(crate) fn write_tiny_data(dir: &Path) -> PathBuf {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut text = String::from("user,item,rating\n");
    for u in 0..80u64 {
        let start = next() % 50;
        for j in 0..30u64 {
            let i = (start + j * 7) % 50; // 7 is coprime with 50: 30 distinct items
            let taste = ((u % 3) as f64 - (i % 3) as f64).abs();
            let jitter = (next() % 100) as f64 / 100.0 - 0.5;
            let r = (4.6 - 1.3 * taste + jitter).round().clamp(1.0, 5.0);
            text.push_str(&format!("u{u},m{i},{r}\n"));
        }
    }
    let path = dir.join("tiny.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("reproduce")
        .args(args)
        .env_remove("CNMF_DATA")
        .output()
        .expect("the xtask binary runs")
}

pub(crate) fn run_tiny(data: &Path, out: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec![
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quick",
        "--reps",
        "2",
        "--k",
        "3",
        "--iters",
        "auto",
        "--target-min-ratings",
        "20",
        "--attack-size",
        "4",
    ];
    args.extend_from_slice(extra);
    let output = xtask(&args);
    assert!(
        output.status.success(),
        "xtask failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("reproduce.json")).unwrap())
            .expect("reproduce.json parses");
    (output, json)
}

/// Parses `a [low, high]` (or `a`) into (a, Some((low, high))).
pub(crate) fn cell(s: &str) -> (f64, Option<(f64, f64)>) {
    let num = |p: &str| p.trim().parse::<f64>().expect(s);
    match s.split_once('[') {
        Some((mean, rest)) => {
            let (low, high) = rest.trim_end_matches(']').split_once(',').expect(s);
            (num(mean), Some((num(low), num(high))))
        }
        None => (num(s), None),
    }
}

/// t_{0.975, 1}: the 95% interval of a mean of 2 repetitions is mean ± 12.7062 sd / √2.
const T_975_DF1: f64 = 12.706_204_736_174_7;

/// The cell shows the JSON's `{mean, sd}` as `mean [95% t-interval]` of 2 repetitions.
pub(crate) fn check_cell(shown: &str, json: &Value) {
    let (mean, ci) = cell(shown);
    let (want_mean, sd) = (json["mean"].as_f64().unwrap(), json["sd"].as_f64().unwrap());
    assert!(close(mean, want_mean), "{shown} vs {json}");
    let (low, high) = ci.unwrap_or_else(|| panic!("no interval in {shown}"));
    let half = T_975_DF1 * sd / 2f64.sqrt();
    assert!(
        close(low, want_mean - half) && close(high, want_mean + half),
        "{shown} vs {json}"
    );
}

/// The rows of the first Markdown table after the heading that starts with `heading`.
pub(crate) fn table_after(md: &str, heading: &str) -> Vec<Vec<String>> {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading}"));
    md[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 5e-5 + 1e-9
}

/// Every algorithm of the engine, in table order: the paper's five, then the robust baselines.
fn names() -> Vec<&'static str> {
    cnmf_engine::Algorithm::ALL
        .iter()
        .map(|a| a.name())
        .collect()
}

/// Whether `method` keeps corruption flags (and so has detection figures).
fn flags(method: &str) -> bool {
    method
        .parse::<cnmf_engine::Algorithm>()
        .is_ok_and(|a| a.flags_corruption())
}

/// The spec's table (section 7), typed in by hand.
const PAPER: [(&str, [f64; 4]); 5] = [
    ("ignore-missing", [0.160, 0.168, 0.062, 0.083]),
    ("replace-missing", [0.156, 0.163, 0.042, 0.050]),
    ("ignore-corrupt", [0.156, 0.164, 0.027, 0.019]),
    ("replace-corrupt", [0.149, 0.153, 0.621, 0.159]),
    ("replace-corrupt-nointerp", [0.155, 0.155, 0.467, 0.134]),
];

#[test]
fn pipeline_writes_consistent_json_report_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_tiny_data(dir.path());
    let out = dir.path().join("results");
    let (output, json) = run_tiny(&data, &out, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("data set: other ("),
        "the data set is announced first: {stdout}"
    );
    assert!(stdout.contains("SHA-256"), "{stdout}");

    // The JSON records what the report needs.
    assert_eq!(json["data"]["n_ratings"], 80 * 30);
    assert_eq!(json["data"]["sha256"].as_str().unwrap().len(), 64);
    assert!(json["git"]["commit"].is_string());
    assert!(json["machine"]["threads"].as_u64().unwrap() >= 1);
    assert!(json["timings"]["total_secs"].as_f64().unwrap() > 0.0);
    let reps = json["repetitions"].as_array().unwrap();
    assert_eq!(reps.len(), 2);
    let n_alg = names().len();
    assert_eq!(reps[0]["paper"].as_array().unwrap().len(), n_alg);
    assert_eq!(reps[0]["regularised"].as_array().unwrap().len(), n_alg);
    assert_eq!(reps[0]["adversaries"], 4);
    assert!(reps[0]["sweeps"].is_object() && reps[1]["sweeps"].is_null());
    let chosen = json["settings"]["iters"].as_u64().unwrap();
    assert!(
        [5, 10, 20, 40].contains(&chosen),
        "auto picks from the quick grid: {chosen}"
    );

    // The summary's means are the means of the repetitions' figures.
    let summary = json["summary"]["paper"].as_array().unwrap();
    for (i, m) in summary.iter().enumerate() {
        let per_rep = |f: &dyn Fn(&Value) -> f64| -> f64 {
            reps.iter().map(|r| f(&r["paper"][i])).sum::<f64>() / reps.len() as f64
        };
        let nmae0 = per_rep(&|r| r["clean"]["accuracy"]["nmae"].as_f64().unwrap());
        let maps3 = per_rep(&|r| r["low_knowledge"]["shift"]["maps"].as_f64().unwrap());
        assert!((m["nmae"][0]["mean"].as_f64().unwrap() - nmae0).abs() < 1e-12);
        assert!((m["maps"][0]["mean"].as_f64().unwrap() - maps3).abs() < 1e-12);
    }

    // The Markdown tables hold the JSON's numbers and the paper's.
    let md = std::fs::read_to_string(out.join("REPRODUCTION.md")).unwrap();
    let t1 = table_after(&md, "## Table 1");
    let t2 = table_after(&md, "## Table 2");
    assert_eq!((t1.len(), t2.len()), (n_alg, n_alg));
    for (row_i, (t1r, t2r)) in t1.iter().zip(&t2).enumerate() {
        let m = &summary[row_i];
        let name = names()[row_i];
        let paper = PAPER.iter().find(|(n, _)| *n == name).map(|(_, f)| *f);
        assert_eq!(t1r[0], name);
        assert_eq!(t2r[0], name);
        assert_eq!(m["method"], name);
        for (col, idx) in [(1, 0), (3, 1)] {
            check_cell(&t1r[col], &m["nmae"][idx]);
            check_cell(&t2r[col], &m["maps"][idx]);
        }
        // The paper's figures beside its five; none for the robust baselines.
        match paper {
            Some(paper) => {
                assert_eq!(t1r[2].parse::<f64>().unwrap(), paper[0]);
                assert_eq!(t1r[4].parse::<f64>().unwrap(), paper[1]);
                assert_eq!(t2r[2].parse::<f64>().unwrap(), paper[2]);
                assert_eq!(t2r[4].parse::<f64>().unwrap(), paper[3]);
            }
            None => {
                for c in [&t1r[2], &t1r[4], &t2r[2], &t2r[4]] {
                    assert_eq!(c, "–", "{name}");
                }
            }
        }
    }
    let verdicts = json["summary"]["verdicts"].as_array().unwrap();
    let ids: Vec<&str> = verdicts.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "claim-1",
            "claim-1-margin",
            "claim-2",
            "claim-3",
            "ic-vs-rcn",
            "rcn-lowest"
        ],
        "claim 1 twice (lowest of five, the paper's margin), claims 2 and 3, two on the most \
         robust corrupt variants"
    );
    let section = &md[md.find("## Verdicts on the paper's claims").unwrap()..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    for verdict in verdicts {
        let v = verdict["verdict"].as_str().unwrap();
        assert!(
            ["holds", "inconclusive", "does not hold"].contains(&v),
            "{v}"
        );
        assert_eq!(verdict["repetitions"], 2);
        let budget = verdict["budget"].as_str().unwrap();
        assert!(budget.ends_with("iterations"), "{budget}");
        assert!(
            section.contains(&format!("- **{v}** (at {budget}, n = 2)")),
            "verdict {v} in the report: {section}"
        );
        let comparisons = verdict["comparisons"].as_array().unwrap();
        assert!(!comparisons.is_empty());
        for c in comparisons {
            let t = &c["test"];
            assert_eq!(t["n"], 2);
            let (low, mid, high) = (
                t["difference"]["low"].as_f64().unwrap(),
                t["difference"]["estimate"].as_f64().unwrap(),
                t["difference"]["high"].as_f64().unwrap(),
            );
            assert!(low <= mid && mid <= high, "{c}");
            let p = t["p_value_sign_flip"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p), "{c}");
            // The mean difference with its interval, as the report prints it.
            assert!(
                section.contains(&format!("{mid:+.4} (95% CI {low:+.4} to {high:+.4}")),
                "{c} in {section}"
            );
        }
    }
    // Claim 2's comparisons are relative: at most 50% of the other's MAPS, with the cut.
    let c2 = &verdicts[2]["comparisons"][0];
    assert_eq!(c2["scale"], 0.5);
    assert!(
        c2["estimated_cut"].is_f64() && c2["paper_cut"].is_f64(),
        "{c2}"
    );
    assert!(section.contains("estimated cut"), "{section}");

    // The null-attack control: every algorithm per repetition, finite MAPS, net figures that
    // are the attack's MAPS minus the control's, summarised and shown after Table 2.
    for r in reps {
        let control = r["null_control"].as_array().unwrap();
        assert_eq!(
            control.len(),
            n_alg,
            "the control of every algorithm is recorded"
        );
        for (c, (p, name)) in control
            .iter()
            .zip(r["paper"].as_array().unwrap().iter().zip(names()))
        {
            assert_eq!(c["method"], name);
            let maps = c["fit"]["shift"]["maps"].as_f64().unwrap();
            assert!(maps.is_finite() && maps >= 0.0, "{c}");
            for (net, model) in [
                ("low_knowledge_maps_net_of_control", "low_knowledge"),
                ("informed_maps_net_of_control", "informed"),
            ] {
                let attack = p[model]["shift"]["maps"].as_f64().unwrap();
                let net = c[net].as_f64().unwrap();
                assert!((net - (attack - maps)).abs() < 1e-12, "{c}");
            }
        }
    }
    let control_summary = json["summary"]["null_control"].as_array().unwrap();
    assert_eq!(control_summary.len(), n_alg);
    let tc = table_after(&md, "## Null-attack control");
    assert_eq!(tc.len(), n_alg);
    assert!(
        md.find("## Table 2").unwrap() < md.find("## Null-attack control").unwrap(),
        "the control follows Table 2"
    );
    for (i, (row, m)) in tc.iter().zip(control_summary).enumerate() {
        assert_eq!(row[0], names()[i]);
        assert_eq!(m["method"], names()[i]);
        assert_eq!(m["repetitions"], 2);
        let mean = |r: &Value| -> f64 {
            r["null_control"][i]["fit"]["shift"]["maps"]
                .as_f64()
                .unwrap()
        };
        let control_mean = reps.iter().map(mean).sum::<f64>() / 2.0;
        assert!((m["control_maps"]["mean"].as_f64().unwrap() - control_mean).abs() < 1e-12);
        let (shown, ci) = cell(&row[1]);
        assert!(close(shown, control_mean) && ci.is_some(), "{row:?}");
        for (col, key) in [
            (2, "low_knowledge_maps_net_of_control"),
            (3, "informed_maps_net_of_control"),
        ] {
            let ci = &m[format!("{key}_ci95")];
            let (low, mid, high) = (
                ci["low"].as_f64().unwrap(),
                ci["estimate"].as_f64().unwrap(),
                ci["high"].as_f64().unwrap(),
            );
            assert!(low <= mid && mid <= high, "{m}");
            assert!(close(mid, m[key]["mean"].as_f64().unwrap()), "{m}");
            assert_eq!(row[col], format!("{mid:.4} [{low:.4}, {high:.4}]"));
        }
    }
    assert!(stdout.contains("Null-attack control"), "{stdout}");

    // Hit ratio at 10 and user-level detection: per repetition under Models 3 and 4, rates in
    // [0, 1]; summarised and shown after the detection section.
    let unit = |v: &Value| {
        let x = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
        assert!((0.0..=1.0).contains(&x), "{x} outside [0, 1]");
        x
    };
    for r in reps {
        for p in r["paper"].as_array().unwrap() {
            let corrupt = flags(p["method"].as_str().unwrap());
            for model in ["low_knowledge", "informed"] {
                let h = &p[model]["hit_ratio_at_10"];
                assert_eq!(h["n"], 10, "{h}");
                assert!(h["users"].as_u64().unwrap() >= 1, "{h}");
                unit(&h["before"]);
                unit(&h["after"]);
                let u = &p[model]["user_detection"];
                if corrupt {
                    unit(&u["recall"]);
                    unit(&u["f1"]);
                    assert!(u["precision"].is_null() || unit(&u["precision"]) >= 0.0);
                } else {
                    assert!(u.is_null(), "{u}");
                }
            }
            for model in ["clean", "random_noise"] {
                assert!(p[model]["hit_ratio_at_10"].is_null());
                assert!(p[model]["user_detection"].is_null());
            }
        }
    }
    let hu = json["summary"]["hit_ratio_and_user_detection"]
        .as_array()
        .unwrap();
    assert_eq!(hu.len(), n_alg);
    assert!(
        md.find("## Detection").unwrap() < md.find("## Hit ratio at 10").unwrap(),
        "the hit ratio follows the detection section"
    );
    let th = table_after(&md, "## Hit ratio at 10");
    assert_eq!(th.len(), n_alg);
    for (i, (row, m)) in th.iter().zip(hu).enumerate() {
        assert_eq!(row[0], names()[i]);
        assert_eq!(m["method"], names()[i]);
        for (col, (model, key)) in [
            ("low_knowledge", "hit_ratio_before"),
            ("low_knowledge", "hit_ratio_after"),
            ("informed", "hit_ratio_before"),
            ("informed", "hit_ratio_after"),
        ]
        .into_iter()
        .enumerate()
        {
            let mean = unit(&m[model][key]["mean"]);
            assert!(close(cell(&row[col + 1]).0, mean), "{row:?}");
        }
    }
    let tu = table_after(&md, "User-level detection of the algorithms that flag");
    let n_flagging = names().into_iter().filter(|m| flags(m)).count();
    assert_eq!(
        tu.len(),
        2 * n_flagging,
        "the algorithms that flag, two models: {tu:?}"
    );
    for row in &tu {
        let m = hu.iter().find(|m| m["method"] == row[0].as_str()).unwrap();
        let model = if row[1].starts_with("Model 3") {
            "low_knowledge"
        } else {
            "informed"
        };
        for (col, key) in [(3, "user_recall"), (4, "user_f1")] {
            let mean = unit(&m[model][key]["mean"]);
            assert!(close(cell(&row[col]).0, mean), "{row:?}");
        }
    }

    // Every linked plot exists and is an SVG; the expected ones are linked.
    let links: Vec<&str> = md
        .split("](")
        .skip(1)
        .map(|s| &s[..s.find(')').unwrap()])
        .collect();
    for expected in [
        "plots/calibration_iterations.svg",
        "plots/convergence.svg",
        "plots/time_to_accuracy.svg",
        "plots/maps_vs_attack_size.svg",
        "plots/lambda_sweep.svg",
    ] {
        assert!(links.contains(&expected), "{expected} is linked: {links:?}");
    }
    for link in links {
        let svg = std::fs::read_to_string(out.join(link)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{link}");
        assert!(
            svg.contains("<polyline") || svg.contains("<path"),
            "{link} has lines"
        );
    }
}

/// Removes wall-clock figures (they differ between runs) so the rest can be compared.
fn strip_timing(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !(k == "seconds" || k.ends_with("_secs") || k == "timings"));
            map.values_mut().for_each(strip_timing);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_timing),
        _ => {}
    }
}

#[test]
fn figures_do_not_depend_on_threads_or_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_tiny_data(dir.path());
    let mut results = Vec::new();
    for (name, extra) in [
        ("one", vec!["--threads", "1", "--no-regularised"]),
        ("two", vec!["--threads", "2", "--no-regularised"]),
        (
            "fits",
            vec!["--threads", "2", "--schedule", "fits", "--no-regularised"],
        ),
    ] {
        let out = dir.path().join(name);
        let (_, mut json) = run_tiny(&data, &out, &extra);
        strip_timing(&mut json);
        results.push((
            json["repetitions"].clone(),
            json["summary"].clone(),
            json["calibration"].clone(),
        ));
    }
    assert!(results[0] == results[1], "1 vs 2 threads differ");
    assert!(results[1] == results[2], "schedules differ");
}

/// Runs with `args`, expecting a failure whose message holds `needle` and whose exit code is
/// `code` (the shared table: 2 for a refused flag, 3 for bad data).
fn fails_with_code(args: &[&str], needle: &str, code: i32) {
    let out = xtask(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: expected `{needle}` in stderr:\n{stderr}"
    );
}

/// A refused flag: exit code 2, as cnmf and clap give.
fn fails_with(args: &[&str], needle: &str) {
    fails_with_code(args, needle, 2);
}

#[test]
fn bad_flags_fail_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_tiny_data(dir.path());
    let d = data.to_str().unwrap();
    let out_dir = dir.path().join("never");
    let o = out_dir.to_str().unwrap();
    fails_with(&["--data", d, "--out", o, "--reps", "0"], "--reps");
    fails_with(&["--data", d, "--out", o, "--k", "0"], "--k");
    fails_with(
        &["--data", d, "--out", o, "--attack-size", "1.5"],
        "fraction",
    );
    fails_with(
        &["--data", d, "--out", o, "--attack-size", "0"],
        "at least 1",
    );
    fails_with(&["--data", d, "--out", o, "--iters", "ten"], "auto");
    fails_with(&["--data", d, "--out", o, "--lambda", "-1"], "--lambda");
    fails_with(
        &["--data", d, "--out", o, "--lambda", "3", "--sigma", "1"],
        "cannot be used with",
    );
    fails_with(
        &["--data", d, "--out", o, "--sigma", "9", "--p", "0.5"],
        "lambda",
    );
    fails_with(&["--data", d, "--out", o, "--p", "1.5"], "--p");
    fails_with(
        &["--data", d, "--out", o, "--time-budget", "0"],
        "--time-budget",
    );
    fails_with(
        &[
            "--data",
            d,
            "--out",
            o,
            "--time-budget",
            "1",
            "--iters",
            "auto",
        ],
        "--iters auto",
    );
    fails_with(
        &["--data", d, "--out", o, "--reps", "2", "--sweep-reps", "3"],
        "--sweep-reps",
    );
    fails_with(
        &["--data", d, "--out", o, "--no-such-flag"],
        "--no-such-flag",
    );
    assert!(!out_dir.exists(), "nothing was written");
}

#[test]
fn unreadable_data_fails_with_the_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("never");
    let o = out_dir.to_str().unwrap();
    let missing = dir.path().join("no-such-file.csv");
    fails_with_code(
        &["--data", missing.to_str().unwrap(), "--out", o],
        "no-such-file.csv",
        3,
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "user,item,rating\nu1,m1,4\nu2,m1,lots\n").unwrap();
    let out = xtask(&["--data", bad.to_str().unwrap(), "--out", o]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "bad data: {stderr}");
    assert!(
        stderr.contains("bad.csv:3"),
        "names file and line: {stderr}"
    );
    // An item with too few ratings for the target rule is reported, not ignored.
    let data = write_tiny_data(dir.path());
    fails_with(
        &[
            "--data",
            data.to_str().unwrap(),
            "--out",
            o,
            "--quick",
            "--target-min-ratings",
            "1000",
        ],
        "1000",
    );
    assert!(
        !out_dir.join("reproduce.json").exists(),
        "no results written"
    );
}
