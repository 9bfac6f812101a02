//! What the tool does with inputs that are not plain files and with its own resources:
//! standard input, named pipes, gzip, the default threshold on another rating scale, the
//! flagged-share warning, the thread cap, and the temporary file on Ctrl-C.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{cnmf, fixture};

fn cnmf_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cnmf"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ratings_and_models_come_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.cnmf");
    let m = model.to_str().unwrap();
    let ratings = std::fs::read(fixture("ratings.csv")).unwrap();
    let args = [
        "fit", "--data", "-", "--format", "csv", "--k", "2", "--iters", "20", "-q", "-o", m,
        "--json",
    ];
    let (code, stdout, stderr) = cnmf_stdin(&args, &ratings);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["data"]["file"], "<stdin>");
    assert_eq!(doc["data"]["ratings"], 303);
    // Compressed, without telling the format: detected from the decompressed first line.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&ratings).unwrap();
    let (code, _, stderr) = cnmf_stdin(&args[..args.len() - 1], &gz.finish().unwrap());
    assert_eq!(code, 0, "{stderr}");
    let bytes = std::fs::read(&model).unwrap();
    let (code, stdout, stderr) = cnmf_stdin(
        &["predict", "--model", "-", "--user", "u01", "--item", "a01"],
        &bytes,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("user u01, item a01: "), "{stdout}");
    let (code, stdout, _) = cnmf_stdin(
        &["fold-in", "--model", m, "--ratings", "-", "-n", "2"],
        b"user,item,rating\nnew,a01,5\nnew,a02,4\n",
    );
    assert_eq!(code, 0);
    assert!(stdout.starts_with("folded in 2 ratings"), "{stdout}");
}

#[test]
fn a_named_pipe_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ratings");
    if !Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: no mkfifo");
        return;
    }
    let ratings = std::fs::read(fixture("ratings.csv")).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, ratings).unwrap())
    };
    let model = dir.path().join("m.cnmf");
    cnmf(&[
        "fit",
        "--data",
        fifo.to_str().unwrap(),
        "--k",
        "2",
        "--iters",
        "10",
        "-q",
        "-o",
        model.to_str().unwrap(),
    ])
    .expect(0);
    writer.join().unwrap();
}

#[test]
fn the_default_threshold_follows_the_scale_and_many_flags_warn() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture on a 0..100 scale: every rating times 20.
    let text = std::fs::read_to_string(fixture("ratings.csv")).unwrap();
    let mut scaled = String::from("user,item,rating\n");
    for l in text.lines().skip(1) {
        let (head, r) = l.rsplit_once(',').unwrap();
        scaled.push_str(&format!("{head},{}\n", r.parse::<f64>().unwrap() * 20.0));
    }
    let data = dir.path().join("pct.csv");
    std::fs::write(&data, scaled).unwrap();
    let model = dir.path().join("m.cnmf");
    let fit = |extra: &[&str]| {
        let mut a = vec![
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--scale",
            "0:100",
            "--k",
            "2",
            "--iters",
            "100",
            "--seed",
            "1",
            "--json",
            "-o",
            model.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        cnmf(&a).expect(0)
    };
    let r = fit(&[]);
    let doc = r.json();
    let lambda = doc["lambda"]["lambda"].as_f64().unwrap();
    // 4.1536 on 1..5 (a range of 4), times (100 / 4)^2.
    assert!((lambda / 625.0 - 4.1536).abs() < 1e-3, "{lambda}");
    assert_eq!(doc["lambda"]["source"], "default-scaled");
    let share = doc["flagged_share"].as_f64().unwrap();
    assert!(share < 0.2, "{share}");
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 0);
    // An absolute lambda meant for 1..5 flags most of a 0..100 scale: a warning says so.
    let r = fit(&["--lambda", "4"]);
    assert!(r.json()["flagged_share"].as_f64().unwrap() > 0.2);
    assert!(
        r.stderr.contains("warning: ") && r.stderr.contains("raise --lambda"),
        "{}",
        r.stderr
    );
}

#[test]
fn threads_beyond_the_cores_are_lowered_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.cnmf");
    let started = Instant::now();
    let r = cnmf(&[
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--k",
        "2",
        "--iters",
        "20",
        "--threads",
        "10000",
        "-o",
        model.to_str().unwrap(),
    ])
    .expect(0);
    assert!(
        r.stderr.contains("--threads 10000 is more than"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn ctrl_c_during_a_fit_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("user,item,rating\n");
    for u in 0..400 {
        for i in 0..40 {
            if (u * 7 + i * 3) % 4 != 0 {
                text.push_str(&format!("u{u},i{i},{}\n", 1 + (u + i) % 5));
            }
        }
    }
    std::fs::write(dir.path().join("r.csv"), text).unwrap();
    for signal in ["INT", "TERM"] {
        let child = Command::new(env!("CARGO_BIN_EXE_cnmf"))
            .current_dir(dir.path())
            .args([
                "fit",
                "--data",
                "r.csv",
                "--k",
                "5",
                "--iters",
                "100000",
                "--no-early-stopping",
                "-q",
                "-o",
                "m.cnmf",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let tmp = dir.path().join(format!(".m.cnmf.tmp-{}", child.id()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !tmp.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(tmp.exists(), "the temporary file is created before the fit");
        std::thread::sleep(Duration::from_millis(200));
        Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let want = if signal == "INT" { 130 } else { 143 };
        assert_eq!(out.status.code(), Some(want), "{:?}", out);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["r.csv"], "after SIG{signal}");
    }
}
