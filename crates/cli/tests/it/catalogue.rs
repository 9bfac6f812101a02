//! The bad-input catalogue: every entry is a hostile or mistaken invocation of the built
//! `cnmf` (bad files, flags, model files, output paths), run with and without `--json`. Each
//! must end with its documented exit code (README, `cnmf_ratings::exit`) and a message naming
//! the problem; none may panic (101) or abort (134), and none may leave a file behind.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use cnmf_cli::fuzzing::{self, V2Parts};
use safetensors::Dtype;

use crate::common::{find, fit_fixture, fixture, tensor_range};

/// One bad invocation.
struct Case {
    what: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    code: i32,
    needle: &'static str,
}

fn case(what: &'static str, args: &[&str], code: i32, needle: &'static str) -> Case {
    Case {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        code,
        needle,
    }
}

/// Seals a payload with a valid header: the reader gets past the checksum.
fn seal(payload: &[u8]) -> Vec<u8> {
    let digest: String = Sha256::digest(payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut f = format!("CNMF-MODEL 1 sha256={digest} bytes={}\n", payload.len()).into_bytes();
    f.extend_from_slice(payload);
    f
}

/// The payload of a model file as JSON.
fn payload(model: &[u8]) -> serde_json::Value {
    let nl = model.iter().position(|&b| b == b'\n').unwrap();
    serde_json::from_slice(&model[nl + 1..]).unwrap()
}

/// Every file under `dir`, recursively (relative paths).
fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let is_dir = std::fs::symlink_metadata(&p).unwrap().is_dir();
            out.insert(p.strip_prefix(dir).unwrap().to_path_buf());
            if is_dir {
                stack.push(p);
            }
        }
    }
    out
}

fn run(dir: &Path, c: &Case, json: bool) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnmf"));
    // The environment must not change an outcome: `fit` without --data searches CNMF_DATA.
    cmd.current_dir(dir).args(&c.args).env_remove("CNMF_DATA");
    if json {
        cmd.arg("--json");
    }
    cmd.stdin(if c.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cnmf runs");
    if let Some(input) = &c.stdin {
        let mut w = child.stdin.take().unwrap();
        let input = input.clone();
        std::thread::spawn(move || {
            let _ = w.write_all(&input);
        });
    }
    let out = child.wait_with_output().unwrap();
    let code = out.status.code().unwrap_or_else(|| {
        panic!("{}: killed by a signal: {:?}", c.what, out.status);
    });
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_bad_input_gets_its_exit_code_and_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let ratings = std::fs::read(fixture("ratings.csv")).unwrap();
    w("ok.csv", &ratings);
    w(
        "four.csv",
        b"user,item,rating\na,x,5\na,y,1\nb,x,4\nb,y,2\n",
    );
    w("empty.csv", b"");
    w("header_only.csv", b"user,item,rating\n");
    w("long_line.csv", &vec![b'7'; 2 << 20]);
    w("out_of_scale.csv", b"user,item,rating\na,x,3\nb,x,7\n");
    w("zeros.csv", b"user,item,rating\na,x,0\nb,y,0\n");
    w(
        "ratings.zip",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest of a zip",
    );
    w("latin1.csv", b"user,item,rating\nJos\xe9,x,3\n");
    w("dup.csv", b"user,item,rating\na,x,3\na,x,4\n");
    w("nan.csv", b"user,item,rating\na,x,NaN\n");
    w("mystery", b"12;34;5\n");
    w("blank.csv", b"user,item,rating\na,x,3\n\nb,x,4\n");
    w(
        "cut.csv.gz",
        &[
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x2b,
        ],
    );
    w("two_users.csv", b"user,item,rating\nu1,a01,5\nu2,a02,4\n");
    w("fold_scale.csv", b"item,rating\na01,9\n");
    w("fold_dup.csv", b"item,rating\na01,5\na01,4\n");
    w("fold_unknown.csv", b"item,rating\nnope,5\n");
    w("pairs_bad.csv", b"user,item\nu01\n");
    w("pairs_nocol.csv", b"who,item\nu01,a01\n");
    w("movies.csv", b"movieId,title\na01,\"Open quote\n");
    w("items_dup.dat", b"a01::A::x\na01::B::y\n");
    std::fs::create_dir(dir.join("adir")).unwrap();
    std::os::unix::fs::symlink("ok.csv", dir.join("link.cnmf")).unwrap();
    std::fs::create_dir(dir.join("npydir")).unwrap();
    std::os::unix::fs::symlink("npydir", dir.join("npydir").join("W.npy")).unwrap();
    std::os::unix::fs::symlink("npydir", dir.join("linkdir")).unwrap();
    std::fs::hard_link(dir.join("ok.csv"), dir.join("hard.csv")).unwrap();

    // Model files: a good one of each format version, then damaged and crafted ones.
    let model = fit_fixture(dir, "good.cnmf", &["--model-format", "json"]);
    let good = std::fs::read(&model).unwrap();
    w("truncated.cnmf", &good[..good.len() / 2]);
    let mut flipped = good.clone();
    let last = flipped.len() - 5;
    flipped[last] ^= 1;
    w("flipped.cnmf", &flipped);
    let mut v3 = good.clone();
    v3[11] = b'3';
    w("v3.cnmf", &v3);
    w("huge.cnmf", b"CNMF-MODEL 1 sha256=0000000000000000000000000000000000000000000000000000000000000000 bytes=1000000000000000\n{}");
    let crafted = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut p = payload(&good);
        edit(&mut p);
        w(name, &seal(&serde_json::to_vec(&p).unwrap()));
    };
    crafted("nonmonotone.cnmf", &|p| {
        let gaps = p["rated"]["gaps"].as_array().unwrap().len();
        let ip = p["rated"]["indptr"].as_array_mut().unwrap();
        let n = ip.len();
        ip[1] = (1_000u32).into();
        ip[n - 1] = gaps.into();
    });
    crafted("decreasing.cnmf", &|p| {
        let ip = p["rated"]["indptr"].as_array_mut().unwrap();
        ip[2] = 0.into();
    });
    crafted("iters.cnmf", &|p| {
        p["model"]["params"]["max_iters"] = 1_000_000_000_000_000_000u64.into();
    });
    crafted("bigfactors.cnmf", &|p| {
        for x in p["model"]["factors"]["w"].as_array_mut().unwrap() {
            *x = 1e200.into();
        }
    });
    crafted("rank.cnmf", &|p| {
        p["model"]["params"]["k"] = 100_000.into();
        p["model"]["factors"]["k"] = 100_000.into();
    });
    crafted("negfactor.cnmf", &|p| {
        p["model"]["factors"]["h"][0] = (-1.0).into();
    });
    crafted("flags.cnmf", &|p| {
        p["model"]["corrupt_positions"] = serde_json::json!([999_999]);
        p["model"]["corrupt_entries"] = serde_json::json!([[0, 0]]);
        p["corrupt_ratings"] = serde_json::json!([3.0]);
    });
    w("notjson.cnmf", &seal(b"{\"training\": [1, 2"));
    // Format version 2 (safetensors), the default.
    let good2 = std::fs::read(fit_fixture(dir, "good2.cnmf", &[])).unwrap();
    w("v2_short_header.cnmf", &good2[..20]);
    let mut beyond = good2.clone();
    beyond[..8].copy_from_slice(&(good2.len() as u64).to_le_bytes());
    w("v2_header_beyond.cnmf", &beyond);
    let mut trailing = good2.clone();
    trailing.extend_from_slice(b"tail");
    w("v2_trailing.cnmf", &trailing);
    let mut flipped2 = good2.clone();
    flipped2[tensor_range(&good2, "W").start + 3] ^= 0x10;
    w("v2_flipped_w.cnmf", &flipped2);
    let mut flipped_items = good2.clone();
    flipped_items[tensor_range(&good2, "rated_items").start] ^= 0x01;
    w("v2_flipped_items.cnmf", &flipped_items);
    let mut meta_flip = good2.clone();
    let at = find(&good2, b"mean_rating").unwrap() + 16;
    meta_flip[at] ^= 0x01;
    w("v2_meta_flipped.cnmf", &meta_flip);
    let crafted2 = |name: &str, edit: &dyn Fn(&mut V2Parts)| {
        let mut p = fuzzing::v2_parts(&good2).unwrap();
        edit(&mut p);
        w(name, &fuzzing::seal_v2(p).unwrap());
    };
    let tensor =
        |p: &mut V2Parts, name: &str| p.tensors.iter().position(|t| t.name == name).unwrap();
    let meta = |p: &mut V2Parts, key: &str| p.metadata.iter().position(|(k, _)| k == key).unwrap();
    crafted2("v2_bad_json.cnmf", &|p| {
        let j = meta(p, "cnmf");
        p.metadata[j].1 = "{\"training\": [1, 2".into();
    });
    crafted2("v2_shape.cnmf", &|p| {
        let t = tensor(p, "W");
        let k = p.tensors[t].shape[1];
        p.tensors[t].shape[0] -= 1;
        let len = p.tensors[t].data.len();
        p.tensors[t].data.truncate(len - 8 * k);
    });
    crafted2("v2_dtype.cnmf", &|p| {
        let t = tensor(p, "H");
        p.tensors[t].dtype = Dtype::F32;
        p.tensors[t].shape[1] *= 2;
    });
    crafted2("v2_nan.cnmf", &|p| {
        let t = tensor(p, "W");
        p.tensors[t].data[..8].copy_from_slice(&f64::NAN.to_le_bytes());
    });
    crafted2("v2_version.cnmf", &|p| {
        let v = meta(p, "format_version");
        p.metadata[v].1 = "3".into();
    });
    crafted2("v2_foreign.cnmf", &|p| p.metadata.clear());
    crafted2("v2_missing.cnmf", &|p| {
        p.tensors.retain(|t| t.name != "user_means")
    });
    crafted2("v2_pattern.cnmf", &|p| {
        let t = tensor(p, "rated_indptr");
        p.tensors[t].data[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    });

    let o = "m.cnmf";
    let fit = |what, data: &str, extra: &[&str], code, needle| {
        let mut a = vec!["fit", "--data", data];
        if !extra.contains(&"-o") {
            a.extend_from_slice(&["-o", o]);
        }
        a.extend_from_slice(extra);
        case(what, &a, code, needle)
    };
    let mut cases = vec![
        // Ratings files (3).
        fit("missing data file", "nope.csv", &[], 3, "nope.csv"),
        fit(
            "directory as data",
            "adir",
            &["--format", "csv"],
            3,
            "directory",
        ),
        fit(
            "bad line",
            &fixture("bad_line.csv"),
            &[],
            3,
            "bad_line.csv:4",
        ),
        fit("empty file", "empty.csv", &[], 3, "no ratings found"),
        fit("header only", "header_only.csv", &[], 3, "no ratings found"),
        fit(
            "no line breaks",
            "long_line.csv",
            &[],
            3,
            "long_line.csv:1: line is longer than",
        ),
        fit(
            "line limit",
            "ok.csv",
            &["--max-line-bytes", "8"],
            3,
            "--max-line-bytes",
        ),
        fit(
            "rating out of scale",
            "out_of_scale.csv",
            &[],
            3,
            "out_of_scale.csv:3",
        ),
        fit(
            "all-zero ratings",
            "zeros.csv",
            &["--scale", "0:5"],
            3,
            "zeros.csv: every rating is 0",
        ),
        fit("zip file", "ratings.zip", &[], 3, "zip-compressed"),
        fit("not UTF-8", "latin1.csv", &[], 3, "latin1.csv:2"),
        fit("duplicate pair", "dup.csv", &[], 3, "duplicate"),
        fit("NaN rating", "nan.csv", &[], 3, "nan.csv:2"),
        fit(
            "unknown format",
            "mystery",
            &[],
            3,
            "cannot tell the file format",
        ),
        fit("blank line inside", "blank.csv", &[], 3, "blank.csv:3"),
        fit("truncated gzip", "cut.csv.gz", &[], 3, "cut.csv.gz"),
        // Flags (2).
        fit("rank 0", "ok.csv", &["--k", "0"], 2, "rank"),
        fit(
            "rank 2^32-1",
            "ok.csv",
            &["--k", "4294967295"],
            2,
            "limit of 1024",
        ),
        fit(
            "rank 100000",
            "ok.csv",
            &["--k", "100000"],
            2,
            "limit of 1024",
        ),
        fit(
            "rank above the data",
            "ok.csv",
            &["--k", "50"],
            2,
            "--force-rank",
        ),
        fit(
            "negative rank",
            "ok.csv",
            &["--k", "-3"],
            2,
            "not a whole number",
        ),
        fit(
            "fractional iterations",
            "ok.csv",
            &["--iters", "2.5"],
            2,
            "not a whole number",
        ),
        fit(
            "zero iterations",
            "ok.csv",
            &["--iters", "0"],
            2,
            "max_iters",
        ),
        fit(
            "10^9 iterations",
            "ok.csv",
            &["--iters", "1000000000"],
            2,
            "limit of 100000",
        ),
        fit(
            "rank x iterations",
            "ok.csv",
            &["--k", "1000", "--force-rank", "--iters", "90000"],
            2,
            "too much work",
        ),
        fit(
            "negative scale",
            "ok.csv",
            &["--scale", "-2:2"],
            2,
            "ratings >= 0",
        ),
        fit("reversed scale", "ok.csv", &["--scale", "5:1"], 2, "scale"),
        fit(
            "scale without colon",
            "ok.csv",
            &["--scale", "5"],
            2,
            "MIN:MAX",
        ),
        fit(
            "negative lambda",
            "ok.csv",
            &["--lambda", "-1"],
            2,
            "lambda",
        ),
        fit(
            "lambda without use",
            "ok.csv",
            &["--algo", "ignore-missing", "--lambda", "2"],
            2,
            "--lambda has no effect on ignore-missing",
        ),
        fit(
            "sigma without use",
            "ok.csv",
            &["--algo", "l1", "--sigma", "1"],
            2,
            "--sigma has no effect on l1",
        ),
        fit(
            "trim fraction for huber",
            "ok.csv",
            &["--algo", "huber", "--trim-fraction", "0.1"],
            2,
            "--trim-fraction",
        ),
        fit(
            "trim fraction 1.5",
            "ok.csv",
            &["--algo", "trimmed", "--trim-fraction", "1.5"],
            2,
            "trim_fraction",
        ),
        fit(
            "unknown precision",
            "ok.csv",
            &["--precision", "f16"],
            2,
            "unknown precision",
        ),
        fit(
            "unknown algorithm",
            "ok.csv",
            &["--algo", "nosuch"],
            2,
            "nosuch",
        ),
        fit(
            "unknown format name",
            "ok.csv",
            &["--format", "xml"],
            2,
            "unknown format",
        ),
        fit(
            "unknown duplicate policy",
            "ok.csv",
            &["--duplicates", "first"],
            2,
            "duplicate policy",
        ),
        fit(
            "zero line limit",
            "ok.csv",
            &["--max-line-bytes", "0"],
            2,
            "positive whole number",
        ),
        fit("probability 2", "ok.csv", &["--p", "2"], 2, "p"),
        fit(
            "lambda and sigma",
            "ok.csv",
            &["--lambda", "2", "--sigma", "1"],
            2,
            "cannot be used with",
        ),
        fit(
            "negative seed",
            "ok.csv",
            &["--seed", "-1"],
            2,
            "not a whole number",
        ),
        fit(
            "negative warm-up",
            "ok.csv",
            &["--warmup", "-1"],
            2,
            "not a whole number",
        ),
        case("no subcommand", &[], 2, "Usage"),
        case(
            "fit without data (no CNMF_DATA, no ./data)",
            &["fit", "-o", o],
            3,
            "no MovieLens ratings found",
        ),
        case(
            "folds on 4 ratings",
            &["evaluate", "--data", "four.csv", "--folds", "5", "--k", "1"],
            2,
            "--folds 5 needs at least 5 ratings",
        ),
        case(
            "one fold",
            &["evaluate", "--data", "ok.csv", "--folds", "1"],
            2,
            "--folds must be at least 2",
        ),
        // Output paths.
        fit(
            "output is a device",
            "ok.csv",
            &["-o", "/dev/null"],
            2,
            "not a regular file",
        ),
        fit(
            "output is a directory",
            "ok.csv",
            &["-o", "adir"],
            2,
            "directory",
        ),
        fit(
            "output ends in a slash",
            "ok.csv",
            &["-o", "newdir/"],
            2,
            "not a file name",
        ),
        fit(
            "output directory missing",
            "ok.csv",
            &["-o", "no/such/m.cnmf"],
            2,
            "does not exist",
        ),
        fit(
            "output is a symlink",
            "ok.csv",
            &["-o", "link.cnmf"],
            2,
            "symbolic link",
        ),
        fit(
            "output is the input",
            "ok.csv",
            &["-o", "ok.csv"],
            2,
            "it is the input",
        ),
        fit(
            "output is a hard link of the input",
            "ok.csv",
            &["-o", "hard.csv"],
            2,
            "it is the input",
        ),
        fit(
            "output is stdout",
            "ok.csv",
            &["-o", "-"],
            2,
            "standard output",
        ),
        fit(
            "output cannot be created",
            "ok.csv",
            &["-o", "/proc/m.cnmf"],
            1,
            "cannot write /proc/m.cnmf",
        ),
        // Model files (4).
        case(
            "missing model",
            &[
                "predict",
                "--model",
                "nope.cnmf",
                "--user",
                "u01",
                "--item",
                "a01",
            ],
            4,
            "model file not found",
        ),
        case(
            "endless non-model",
            &["recommend", "--model", "/dev/zero", "--user", "u01"],
            4,
            "not a cnmf model file",
        ),
        case(
            "ratings as model",
            &["recommend", "--model", "ok.csv", "--user", "u01"],
            4,
            "not a cnmf model file",
        ),
        case(
            "directory as model",
            &["recommend", "--model", "adir", "--user", "u01"],
            4,
            "directory",
        ),
        case(
            "truncated model",
            &["recommend", "--model", "truncated.cnmf", "--user", "u01"],
            4,
            "truncated",
        ),
        case(
            "flipped byte",
            &["recommend", "--model", "flipped.cnmf", "--user", "u01"],
            4,
            "checksum mismatch",
        ),
        case(
            "version 3",
            &["recommend", "--model", "v3.cnmf", "--user", "u01"],
            4,
            "version 3",
        ),
        case(
            "huge declared payload",
            &["recommend", "--model", "huge.cnmf", "--user", "u01"],
            4,
            "more than",
        ),
        case(
            "non-monotone offsets",
            &["recommend", "--model", "nonmonotone.cnmf", "--user", "u01"],
            4,
            "inconsistent model",
        ),
        case(
            "decreasing offsets",
            &["recommend", "--model", "decreasing.cnmf", "--user", "u01"],
            4,
            "offsets decrease",
        ),
        case(
            "max_iters 10^18",
            &[
                "fold-in",
                "--model",
                "iters.cnmf",
                "--ratings",
                &fixture("new_user.csv"),
            ],
            4,
            "iterations",
        ),
        case(
            "huge factors",
            &[
                "predict",
                "--model",
                "bigfactors.cnmf",
                "--user",
                "u01",
                "--item",
                "a01",
            ],
            4,
            "factors too large",
        ),
        case(
            "rank beyond the limit",
            &[
                "predict",
                "--model",
                "rank.cnmf",
                "--user",
                "u01",
                "--item",
                "a01",
            ],
            4,
            "rank.cnmf",
        ),
        case(
            "negative factor",
            &[
                "predict",
                "--model",
                "negfactor.cnmf",
                "--user",
                "u01",
                "--item",
                "a01",
            ],
            4,
            "negfactor.cnmf",
        ),
        case(
            "flag beyond the ratings",
            &["flagged", "--model", "flags.cnmf"],
            4,
            "inconsistent model",
        ),
        case(
            "payload not JSON",
            &["flagged", "--model", "notjson.cnmf"],
            4,
            "does not decode",
        ),
        // Commands on a good model: ids and the small inputs.
        case(
            "unknown user",
            &[
                "predict",
                "--model",
                "good.cnmf",
                "--user",
                "zz",
                "--item",
                "a01",
            ],
            5,
            "zz",
        ),
        case(
            "bad pairs line",
            &[
                "predict",
                "--model",
                "good.cnmf",
                "--pairs",
                "pairs_bad.csv",
            ],
            3,
            "pairs_bad.csv:2",
        ),
        case(
            "pairs without user column",
            &[
                "predict",
                "--model",
                "good.cnmf",
                "--pairs",
                "pairs_nocol.csv",
            ],
            3,
            "no user column",
        ),
        case(
            "pairs line limit",
            &[
                "predict",
                "--model",
                "good.cnmf",
                "--pairs",
                "pairs_bad.csv",
                "--max-line-bytes",
                "4",
            ],
            3,
            "longer than 4 bytes",
        ),
        case(
            "fold-in of two users",
            &[
                "fold-in",
                "--model",
                "good.cnmf",
                "--ratings",
                "two_users.csv",
            ],
            3,
            "differs from user",
        ),
        case(
            "fold-in out of scale",
            &[
                "fold-in",
                "--model",
                "good.cnmf",
                "--ratings",
                "fold_scale.csv",
            ],
            3,
            "outside the model's rating scale",
        ),
        case(
            "fold-in item twice",
            &[
                "fold-in",
                "--model",
                "good.cnmf",
                "--ratings",
                "fold_dup.csv",
            ],
            3,
            "rated twice",
        ),
        case(
            "fold-in unknown item",
            &[
                "fold-in",
                "--model",
                "good.cnmf",
                "--ratings",
                "fold_unknown.csv",
            ],
            5,
            "nope",
        ),
        case(
            "items file with an open quote",
            &[
                "recommend",
                "--model",
                "good.cnmf",
                "--user",
                "u01",
                "--items",
                "movies.csv",
            ],
            3,
            "movies.csv:2: unterminated quoted field",
        ),
        case(
            "items file listing an id twice",
            &[
                "similar",
                "--model",
                "good.cnmf",
                "--item",
                "a01",
                "--items",
                "items_dup.dat",
            ],
            3,
            "items_dup.dat:2: item id \"a01\" listed twice",
        ),
        case(
            "stdin twice",
            &["fold-in", "--model", "-", "--ratings", "-"],
            2,
            "can be read once",
        ),
        case(
            "top 0",
            &[
                "recommend",
                "--model",
                "good.cnmf",
                "--user",
                "u01",
                "-n",
                "0",
            ],
            2,
            "--top",
        ),
    ];
    // Format version 2: each damage through `predict` (which skips the rated pattern) and,
    // where the pattern matters, through `recommend` (which reads it).
    for (what, file, needle) in [
        ("v2 header cut short", "v2_short_header.cnmf", "truncated"),
        (
            "v2 header length beyond the file",
            "v2_header_beyond.cnmf",
            "truncated: the safetensors header length",
        ),
        (
            "v2 bytes after the tensors",
            "v2_trailing.cnmf",
            "4 bytes follow the last tensor",
        ),
        (
            "v2 flipped factor byte",
            "v2_flipped_w.cnmf",
            "checksum mismatch in tensor `W`",
        ),
        (
            "v2 flipped metadata byte",
            "v2_meta_flipped.cnmf",
            "checksum mismatch in the metadata",
        ),
        (
            "v2 metadata not JSON",
            "v2_bad_json.cnmf",
            "the metadata does not decode",
        ),
        (
            "v2 shape against the ids",
            "v2_shape.cnmf",
            "tensor `W` has shape",
        ),
        (
            "v2 f32 factors",
            "v2_dtype.cnmf",
            "tensor `H` holds F32 values",
        ),
        ("v2 NaN factor", "v2_nan.cnmf", "NaN"),
        (
            "v2 version 3",
            "v2_version.cnmf",
            "format version 3 is not supported",
        ),
        (
            "v2 foreign safetensors",
            "v2_foreign.cnmf",
            "not a cnmf model file",
        ),
        (
            "v2 missing tensor",
            "v2_missing.cnmf",
            "tensor `user_means` is missing",
        ),
    ] {
        cases.push(case(
            what,
            &["predict", "--model", file, "--user", "u01", "--item", "a01"],
            4,
            needle,
        ));
    }
    for (what, file, needle) in [
        (
            "v2 flipped rated item",
            "v2_flipped_items.cnmf",
            "checksum mismatch in tensor `rated_items`",
        ),
        (
            "v2 offsets past the items",
            "v2_pattern.cnmf",
            "inconsistent model: rated items",
        ),
        (
            "v2 bytes after the tensors (recommend)",
            "v2_trailing.cnmf",
            "follow the last tensor",
        ),
    ] {
        cases.push(case(
            what,
            &["recommend", "--model", file, "--user", "u01"],
            4,
            needle,
        ));
    }
    cases.push(case(
        "export of a damaged model",
        &["export", "--model", "v2_flipped_w.cnmf", "--npy", "out"],
        4,
        "checksum mismatch",
    ));
    cases.push(case(
        "export into a file",
        &["export", "--model", "good2.cnmf", "--npy", "ok.csv"],
        2,
        "not a directory",
    ));
    cases.push(case(
        "export under a missing directory",
        &["export", "--model", "good2.cnmf", "--npy", "no/such/dir"],
        2,
        "does not exist",
    ));
    cases.push(case(
        "export onto a symbolic link",
        &["export", "--model", "good2.cnmf", "--npy", "linkdir"],
        2,
        "symbolic link",
    ));
    let mut piped = |what, args: &[&str], input: &[u8], code, needle| {
        let mut c = case(what, args, code, needle);
        c.stdin = Some(input.to_vec());
        cases.push(c);
    };
    piped(
        "garbage on stdin",
        &["fit", "--data", "-", "-o", o],
        b"what is this\x00\n",
        3,
        "<stdin>:1",
    );
    piped(
        "empty stdin",
        &["fit", "--data", "-", "-o", o],
        b"",
        3,
        "<stdin>: no ratings found",
    );
    piped(
        "v2 cut short on stdin",
        &["predict", "--model", "-", "--user", "u01", "--item", "a01"],
        &good2[..good2.len() - 3],
        4,
        "<stdin>: truncated",
    );
    piped(
        "v2 with trailing bytes on stdin",
        &["predict", "--model", "-", "--user", "u01", "--item", "a01"],
        &trailing,
        4,
        "<stdin>: damaged: data follows the last tensor",
    );
    piped(
        "v2 flipped rated item on stdin",
        &["flagged", "--model", "-"],
        &flipped_items,
        4,
        "<stdin>: damaged: checksum mismatch in tensor `rated_items`",
    );
    piped(
        "non-model on stdin",
        &["recommend", "--model", "-", "--user", "u01"],
        b"user,item\n",
        4,
        "<stdin>: not a cnmf model",
    );

    assert!(cases.len() >= 50, "{} cases", cases.len());
    let before = listing(dir);
    let mut failures = Vec::new();
    for c in &cases {
        for json in [false, true] {
            let (code, stdout, stderr) = run(dir, c, json);
            let mode = if json { " (--json)" } else { "" };
            if code == 101 || code == 134 || stderr.contains("panicked") {
                failures.push(format!("{}{mode}: crashed with {code}: {stderr}", c.what));
                continue;
            }
            if code != c.code {
                failures.push(format!(
                    "{}{mode}: exit {code}, wanted {}: {stderr}",
                    c.what, c.code
                ));
            }
            if !stderr.contains(c.needle) {
                failures.push(format!(
                    "{}{mode}: message lacks {:?}: {stderr}",
                    c.what, c.needle
                ));
            }
            if json {
                match serde_json::from_str::<serde_json::Value>(&stdout) {
                    Ok(doc)
                        if doc["error"]["exit_code"] == c.code
                            && doc["error"]["message"].is_string() => {}
                    _ => failures.push(format!("{}: no JSON error document: {stdout:?}", c.what)),
                }
            }
        }
    }
    let after = listing(dir);
    let left: Vec<_> = after.difference(&before).collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
