//! Every bad-input path ends in a clear message and its documented exit code, never a panic.

use crate::common;

use common::{cnmf, fit_fixture, fixture, tensor_range};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
}

#[test]
fn bad_data_files_exit_3_naming_file_and_line() {
    let dir = tmp();
    let out = dir.path().join("m.cnmf");
    let out = out.to_str().unwrap();
    let r = cnmf(&["fit", "--data", "/no/such/ratings.csv", "-o", out]).expect(3);
    assert!(r.stderr.contains("/no/such/ratings.csv"), "{}", r.stderr);
    let r = cnmf(&["fit", "--data", &fixture("bad_line.csv"), "-o", out]).expect(3);
    assert!(r.stderr.contains("bad_line.csv:4"), "{}", r.stderr);
    assert!(r.stderr.contains("missing field"), "{}", r.stderr);
    // A directory is not a readable ratings file.
    let r = cnmf(&[
        "fit",
        "--data",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "-o",
        out,
    ])
    .expect(3);
    no_panic(&r.stderr);
    // A rating outside the scale names the line.
    let scale = dir.path().join("s.csv");
    std::fs::write(&scale, "user,item,rating\na,x,3\nb,x,7\n").unwrap();
    let r = cnmf(&["fit", "--data", scale.to_str().unwrap(), "-o", out]).expect(3);
    assert!(r.stderr.contains("s.csv:3"), "{}", r.stderr);
    // Nothing was written by the failed fits.
    assert!(!std::path::Path::new(out).exists());
    let r = cnmf(&[
        "predict",
        "--model",
        out,
        "--pairs",
        &fixture("bad_line.csv"),
    ])
    .expect(4);
    no_panic(&r.stderr);
}

#[test]
fn bad_parameters_exit_2_before_any_work() {
    let dir = tmp();
    let out = dir.path().join("m.cnmf");
    let out = out.to_str().unwrap();
    let data = fixture("ratings.csv");
    let cases: &[(&[&str], &str)] = &[
        (&["--algo", "ignore"], "ignore"),
        (&["--k", "0"], "k"),
        (&["--k", "-3"], "-3"),
        (&["--lambda", "-1"], "lambda"),
        (&["--lambda", "0"], "lambda"),
        (&["--lambda", "nan"], "lambda"),
        (&["--sigma", "5", "--p", "0.5"], "lambda"),
        (&["--p", "1.5"], "p"),
        (&["--iters", "0"], "max_iters"),
        (&["--l2", "-1"], "l2"),
        (&["--lambda", "2", "--sigma", "1"], "cannot be used with"),
        (&["--scale", "5:1"], "scale"),
        (&["--format", "xlsx"], "xlsx"),
        (&["--warmup", "200"], "warmup"),
    ];
    for (extra, word) in cases {
        let mut args = vec!["fit", "--data", &data, "--iters", "20", "-o", out];
        args.extend_from_slice(extra);
        // clap refuses a repeated --iters: drop the default one when the case sets its own.
        if extra.contains(&"--iters") {
            args.drain(3..5);
        }
        let r = cnmf(&args).expect(2);
        assert!(r.stderr.contains(word), "{extra:?}: {}", r.stderr);
        no_panic(&r.stderr);
    }
    // Parameters are checked before the data is read: a bad k with a missing file is a
    // usage error, not a data error.
    cnmf(&["fit", "--data", "/no/such/file", "--k", "0", "-o", out]).expect(2);
    // The output directory is checked before the fit.
    let r = cnmf(&["fit", "--data", &data, "-o", "/no/such/dir/m.cnmf"]).expect(2);
    assert!(r.stderr.contains("/no/such/dir"), "{}", r.stderr);
    // Missing required arguments and unknown commands are clap usage errors.
    cnmf(&["fit", "--data", &data]).expect(2);
    cnmf(&["frobnicate"]).expect(2);
    cnmf(&["predict", "--model", out, "--user", "u01"]).expect(2);
}

#[test]
fn damaged_models_exit_4() {
    let dir = tmp();
    let good = fit_fixture(dir.path(), "good.cnmf", &[]);
    let bytes = std::fs::read(&good).unwrap();
    let write = |name: &str, b: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        p.to_string_lossy().into_owned()
    };
    let predict = |model: &str| {
        cnmf(&[
            "predict", "--model", model, "--user", "u01", "--item", "a01",
        ])
    };

    let r = predict(&dir.path().join("missing.cnmf").to_string_lossy()).expect(4);
    assert!(
        r.stderr.contains("missing.cnmf: model file not found"),
        "{}",
        r.stderr
    );

    let truncated = write("truncated.cnmf", &bytes[..bytes.len() * 2 / 3]);
    let r = predict(&truncated).expect(4);
    assert!(r.stderr.contains("truncated"), "{}", r.stderr);

    let mut flipped = bytes.clone();
    let at = tensor_range(&bytes, "W").start + 5;
    flipped[at] ^= 0x04;
    let flipped = write("flipped.cnmf", &flipped);
    let r = predict(&flipped).expect(4);
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);

    let r = predict(&fixture("ratings.csv")).expect(4);
    assert!(r.stderr.contains("not a cnmf model file"), "{}", r.stderr);
    let empty = write("empty.cnmf", b"");
    predict(&empty).expect(4);

    let v1 = fit_fixture(dir.path(), "good_v1.cnmf", &["--model-format", "json"]);
    let text = std::fs::read_to_string(&v1).unwrap();
    let v3 = write(
        "v3.cnmf",
        text.replacen("CNMF-MODEL 1 ", "CNMF-MODEL 3 ", 1)
            .as_bytes(),
    );
    let r = predict(&v3).expect(4);
    assert!(
        r.stderr.contains("format version 3 is not supported"),
        "{}",
        r.stderr
    );

    for (name, r) in [
        (
            "recommend",
            cnmf(&["recommend", "--model", &flipped, "--user", "u01"]),
        ),
        ("flagged", cnmf(&["flagged", "--model", &truncated])),
        (
            "fold-in",
            cnmf(&[
                "fold-in",
                "--model",
                &v3,
                "--ratings",
                &fixture("new_user.csv"),
            ]),
        ),
    ] {
        assert_eq!(r.code, 4, "{name}: {}", r.stderr);
        no_panic(&r.stderr);
    }
    // The good model still works.
    predict(&good).expect(0);
}

/// `predict` reads no more of a format version 2 file than it uses: damage in the rated
/// pattern (which only `recommend`, `flagged` and `fold-in` read) does not change its answer,
/// and every command that reads the pattern refuses the file.
#[test]
fn damage_in_the_rated_pattern_is_found_by_the_commands_that_read_it() {
    let dir = tmp();
    let good = fit_fixture(dir.path(), "good.cnmf", &[]);
    let mut bytes = std::fs::read(&good).unwrap();
    let at = tensor_range(&bytes, "rated_items").start + 1;
    bytes[at] ^= 0x01;
    let bad = dir.path().join("bad.cnmf").to_string_lossy().into_owned();
    std::fs::write(&bad, &bytes).unwrap();
    let pairs = fixture("pairs.csv");
    let ok = cnmf(&["predict", "--model", &good, "--pairs", &pairs]).expect(0);
    let r = cnmf(&["predict", "--model", &bad, "--pairs", &pairs]).expect(0);
    assert_eq!(r.stdout, ok.stdout);
    let new_user = fixture("new_user.csv");
    for args in [
        &["recommend", "--model", &bad, "--user", "u01"][..],
        &["flagged", "--model", &bad],
        &["fold-in", "--model", &bad, "--ratings", &new_user],
    ] {
        let r = cnmf(args).expect(4);
        assert!(
            r.stderr
                .contains("bad.cnmf: damaged: checksum mismatch in tensor `rated_items`"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn json_mode_reports_errors_as_json() {
    let r = cnmf(&[
        "predict",
        "--model",
        "/no/such.cnmf",
        "--user",
        "a",
        "--item",
        "b",
        "--json",
    ])
    .expect(4);
    let j = r.json();
    assert_eq!(j["error"]["exit_code"], 4);
    assert_eq!(j["error"]["kind"], "bad-model");
    assert!(j["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/no/such.cnmf"));
    let r = cnmf(&[
        "fit",
        "--data",
        &fixture("bad_line.csv"),
        "-o",
        "/tmp/x.cnmf",
        "--json",
    ])
    .expect(3);
    assert_eq!(r.json()["error"]["kind"], "bad-data");
    // clap's own usage errors too.
    let r = cnmf(&[
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--algo",
        "nope",
        "--json",
    ])
    .expect(2);
    let j = r.json();
    assert_eq!(j["error"]["kind"], "usage");
    assert!(j["error"]["message"].as_str().unwrap().contains("nope"));
    // Help stays help.
    let r = cnmf(&["predict", "--help", "--json"]).expect(0);
    assert!(r.stdout.contains("--pairs"));
}

#[test]
fn refitting_replaces_a_model_atomically_and_failures_leave_it_alone() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let before = std::fs::read(&m).unwrap();
    // A failed fit (bad data) leaves the existing model as it was.
    cnmf(&["fit", "--data", &fixture("bad_line.csv"), "-o", &m]).expect(3);
    assert_eq!(std::fs::read(&m).unwrap(), before);
    // A new fit replaces it, and no temporary file is left behind.
    fit_fixture(dir.path(), "m.cnmf", &["--algo", "ignore-missing"]);
    let after = std::fs::read(&m).unwrap();
    assert_ne!(after, before);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["m.cnmf"]);
}
