//! Helpers shared by the end-to-end tests: run the `cnmf` binary, find fixtures.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts that stderr holds every one of `needles`, showing it when not.
    pub fn stderr_has(&self, needles: &[&str]) -> &Run {
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr lacks {n:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    /// Parses stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `cnmf` with `args`.
pub fn cnmf<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_cnmf"))
        .args(args)
        .output()
        .expect("the cnmf binary runs");
    Run {
        code: out.status.code().expect("exited normally, not by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A fixture file's path, as a string.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Fits the fixture ratings (k = 2, 200 iterations, seed 1) into `dir/name` with extra
/// arguments; returns the model path.
pub fn fit_fixture(dir: &Path, name: &str, extra: &[&str]) -> String {
    let model: PathBuf = dir.join(name);
    let model = model.to_string_lossy().into_owned();
    let mut args: Vec<String> = [
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--k",
        "2",
        "--iters",
        "200",
        "--seed",
        "1",
        "-q",
        "-o",
        &model,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    cnmf(&args).expect(0);
    model
}

/// The fixture's ratings as (user, item, rating), parsed here independently of the tool.
pub fn fixture_ratings() -> Vec<(String, String, f64)> {
    let text = std::fs::read_to_string(fixture("ratings.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let (user, rest) = l.split_once(',').unwrap();
            let (item, rating) = rest.rsplit_once(',').unwrap();
            (
                user.to_string(),
                item.trim_matches('"').to_string(),
                rating.parse().unwrap(),
            )
        })
        .collect()
}

/// The byte range of tensor `name` in a model file of format version 2 (safetensors).
pub fn tensor_range(file: &[u8], name: &str) -> std::ops::Range<usize> {
    let (n, header) = safetensors::SafeTensors::read_metadata(file).unwrap();
    let (a, b) = header.info(name).unwrap().data_offsets;
    8 + n + a..8 + n + b
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
