//! `cargo xtask bench-scale` end to end on a tiny generated shape, through the real binary (and
//! its child processes), and its refusal of bad options before any work.

use std::process::{Command, Output};

use serde_json::Value;

fn bench_scale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("bench-scale")
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

#[test]
fn tiny_run_writes_json_and_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = bench_scale(&[
        "--sizes",
        "120x80x3000",
        "--iters",
        "3",
        "--k",
        "4",
        "--algos",
        "ignore-missing,ignore-corrupt",
        "--no-cli",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bench-scale.json")).unwrap())
            .unwrap();
    assert_eq!(v["k"], 4);
    let size = &v["sizes"][0];
    assert_eq!(size["size"]["name"], "120x80x3000");
    assert_eq!(size["nnz"], 3000);
    assert!(size["file_bytes"].as_u64().unwrap() > 3000 * 8);
    assert!(size["load_secs"].as_f64().unwrap() > 0.0);
    let fits = size["fits"].as_array().unwrap();
    let names: Vec<&str> = fits
        .iter()
        .map(|f| f["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ignore-missing", "ignore-corrupt"]);
    for f in fits {
        assert_eq!(f["nnz"], 3000);
        let secs = f["iter_secs"].as_array().unwrap();
        assert_eq!(secs.len(), 3);
        assert!(secs.iter().all(|s| s.as_f64().unwrap() >= 0.0));
        // every child reports its own peak RSS, above the load's
        let peak = f["peak_rss"].as_u64().unwrap();
        assert!(peak >= f["load_peak_rss"].as_u64().unwrap() && peak > 1 << 20);
    }
    assert_eq!(fits[1]["warmup"], 1);
    assert!(size["cli"].is_null());
    let md = std::fs::read_to_string(out.join("BENCH-SCALE.md")).unwrap();
    assert!(md.contains("| ignore-corrupt | 3 |"), "{md}");
    assert!(
        md.contains("ML-1M shape <= 5 ms per iteration: not measured"),
        "{md}"
    );
    // the generated file is removed without --keep-data
    assert!(!out.join("data").exists());
}

#[test]
fn bad_options_are_refused_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    for (args, said) in [
        (vec!["--sizes", "3m"], "neither"),
        (vec!["--sizes", "10x10x1000"], "size `10x10x1000`"),
        (vec!["--iters", "0"], "--iters"),
        (vec!["--algos", "nope"], "--algos"),
        (vec!["--budget", "-1"], "--budget"),
        (
            vec!["--sizes", "10x40x300", "--k", "20"],
            "--k 20 is more than min(users, items) = 10",
        ),
        (vec!["--cnmf", "/nonexistent/cnmf"], "--cnmf"),
    ] {
        let mut all = args.clone();
        all.extend(["--out", o]);
        let r = bench_scale(&all);
        assert!(!r.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(said), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} started work");
    }
}
