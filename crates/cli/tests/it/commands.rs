//! End-to-end tests of the commands on made-up fixtures: outputs, JSON, fallbacks, exit codes.

use crate::common;

use std::collections::{HashMap, HashSet};

use common::{cnmf, fit_fixture, fixture, fixture_ratings, tensor_range};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn help_documents_commands_and_exit_codes() {
    let r = cnmf(&["--help"]).expect(0);
    for word in [
        "fit",
        "predict",
        "recommend",
        "flagged",
        "evaluate",
        "fold-in",
        "export",
        "Exit codes",
    ] {
        assert!(
            r.stdout.contains(word),
            "--help lacks {word}:\n{}",
            r.stdout
        );
    }
    let r = cnmf(&["fit", "--help"]).expect(0);
    assert!(
        r.stdout.contains("--lambda") && r.stdout.contains("4.154"),
        "{}",
        r.stdout
    );
}

#[test]
fn fit_reports_lambda_and_writes_a_model() {
    let dir = tmp();
    let model = dir.path().join("m.cnmf");
    let r = cnmf(&[
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--k",
        "2",
        "--iters",
        "50",
        "-o",
        model.to_str().unwrap(),
        "--json",
    ])
    .expect(0);
    let j = r.json();
    // lambda from the default noise model, computed here from the formula:
    // 2 sigma^2 (-ln(sigma sqrt(2 pi)) - ln p) with sigma = 1, p = 0.05.
    let expected = 2.0 * (-(2.0 * std::f64::consts::PI).sqrt().ln() - 0.05f64.ln());
    assert!((j["lambda"]["lambda"].as_f64().unwrap() - expected).abs() < 1e-12);
    assert_eq!(j["lambda"]["source"], "default-noise-model");
    assert_eq!(j["algorithm"], "ignore-corrupt");
    assert_eq!(j["data"]["ratings"], 303);
    assert_eq!(j["data"]["users"], 27);
    assert_eq!(j["iterations"], 50);
    assert_eq!(j["warmup"], 10);
    assert!(
        r.stderr.contains("note:") && r.stderr.contains("lambda"),
        "{}",
        r.stderr
    );
    // Format version 2 by default: a safetensors file (header length, then its JSON).
    let bytes = std::fs::read(&model).unwrap();
    assert_eq!(bytes[8], b'{');
    assert_eq!(j["model_format"], "safetensors");
    assert_eq!(j["bytes"].as_u64().unwrap(), bytes.len() as u64);
    safetensors::SafeTensors::deserialize(&bytes).expect("the safetensors crate reads it");

    // The human report names the lambda too.
    let r = cnmf(&[
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--k",
        "2",
        "--iters",
        "20",
        "--lambda",
        "2.5",
        "-o",
        model.to_str().unwrap(),
    ])
    .expect(0);
    assert!(r.stdout.contains("lambda = 2.5"), "{}", r.stdout);
}

#[test]
fn fits_are_identical_whatever_the_thread_count() {
    let dir = tmp();
    let a = fit_fixture(dir.path(), "a.cnmf", &["--threads", "1"]);
    let b = fit_fixture(dir.path(), "b.cnmf", &["--threads", "2"]);
    let pa = cnmf(&["predict", "--model", &a, "--pairs", &fixture("pairs.csv")]).expect(0);
    let pb = cnmf(&["predict", "--model", &b, "--pairs", &fixture("pairs.csv")]).expect(0);
    assert_eq!(pa.stdout, pb.stdout);
}

#[test]
fn rank_and_max_iters_are_aliases_of_k_and_iters() {
    let dir = tmp();
    let fit = |name: &str, rank: &str, iters: &str| {
        let model = dir.path().join(name).to_string_lossy().into_owned();
        let data = fixture("ratings.csv");
        cnmf(&[
            "fit", "--data", &data, rank, "3", iters, "7", "-q", "-o", &model,
        ])
        .expect(0);
        cnmf(&[
            "predict",
            "--model",
            &model,
            "--pairs",
            &fixture("pairs.csv"),
            "--json",
        ])
        .expect(0)
        .stdout
    };
    assert_eq!(
        fit("a.cnmf", "--k", "--iters"),
        fit("b.cnmf", "--rank", "--max-iters")
    );
    // Both names at once is one option given twice: a usage error.
    let data = fixture("ratings.csv");
    cnmf(&[
        "fit", "--data", &data, "--k", "2", "--rank", "3", "-o", "x.cnmf",
    ])
    .expect(2);
}

#[test]
fn predict_single_pairs_and_json_agree() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let pairs = cnmf(&["predict", "--model", &m, "--pairs", &fixture("pairs.csv")]).expect(0);
    let lines: Vec<&str> = pairs.stdout.lines().collect();
    assert_eq!(lines[0], "user,item,prediction");
    assert_eq!(lines.len(), 5);
    // The quoted item id is written back quoted.
    assert!(lines[3].starts_with("u13,\"Heat, 1995\","), "{}", lines[3]);
    for line in &lines[1..] {
        let (pair, p) = line.rsplit_once(',').unwrap();
        let p: f64 = p.parse().unwrap();
        assert!((1.0..=5.0).contains(&p), "{line}");
        let (user, item) = pair.split_once(',').unwrap();
        let item = item.trim_matches('"');
        let one = cnmf(&[
            "predict", "--model", &m, "--user", user, "--item", item, "--json",
        ])
        .expect(0)
        .json();
        assert_eq!(
            one["predictions"][0]["prediction"].as_f64().unwrap(),
            p,
            "{line}"
        );
        assert!(one["predictions"][0]["fallback"].is_null());
        assert_eq!(one["fallbacks"], 0);
    }
    // The model learnt the two taste groups: u01 (action fan) likes a01, dislikes d02.
    let get = |l: &str| l.rsplit_once(',').unwrap().1.parse::<f64>().unwrap();
    assert!(
        get(lines[1]) > 4.0 && get(lines[2]) < 2.0,
        "{}",
        pairs.stdout
    );
    let text = cnmf(&["predict", "--model", &m, "--user", "u01", "--item", "a01"]).expect(0);
    assert!(
        text.stdout.starts_with("user u01, item a01: "),
        "{}",
        text.stdout
    );
}

#[test]
fn unknown_ids_are_errors_unless_a_fallback_is_asked_for() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &["--algo", "ignore-missing"]);
    let r = cnmf(&[
        "predict", "--model", &m, "--user", "nobody", "--item", "a03",
    ])
    .expect(5);
    assert!(r.stderr.contains("unknown user \"nobody\""), "{}", r.stderr);
    let r = cnmf(&["predict", "--model", &m, "--user", "u01", "--item", "zz"]).expect(5);
    assert!(r.stderr.contains("unknown item \"zz\""), "{}", r.stderr);
    let r = cnmf(&[
        "predict",
        "--model",
        &m,
        "--pairs",
        &fixture("pairs_unknown_user.csv"),
    ])
    .expect(5);
    assert!(
        r.stderr
            .contains("pairs_unknown_user.csv:3: unknown user \"u99\""),
        "{}",
        r.stderr
    );

    // Fallbacks, checked against means computed here from the fixture file. The model flags
    // nothing (ignore-missing), so the means are over all ratings.
    let ratings = fixture_ratings();
    let mean = |keep: &dyn Fn(&(String, String, f64)) -> bool| {
        let v: Vec<f64> = ratings.iter().filter(|t| keep(t)).map(|t| t.2).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let cases = [
        ("nobody", "a03", "item-mean", mean(&|t| t.1 == "a03")),
        ("u05", "zz", "user-mean", mean(&|t| t.0 == "u05")),
        ("nobody", "zz", "global-mean", mean(&|_| true)),
    ];
    for (user, item, kind, want) in cases {
        let r = cnmf(&[
            "predict",
            "--model",
            &m,
            "--user",
            user,
            "--item",
            item,
            "--unknown",
            "mean",
            "--json",
        ])
        .expect(0);
        assert!(r.stderr.contains("note:"), "{}", r.stderr);
        let j = r.json();
        let p = &j["predictions"][0];
        assert_eq!(p["fallback"], kind);
        assert!(
            (p["prediction"].as_f64().unwrap() - want).abs() < 1e-12,
            "{user} {item}: {p}"
        );
        assert_eq!(j["fallbacks"], 1);
    }
    let r = cnmf(&[
        "predict",
        "--model",
        &m,
        "--pairs",
        &fixture("pairs_unknown_user.csv"),
        "--unknown",
        "mean",
    ])
    .expect(0);
    assert_eq!(
        r.stdout.lines().next(),
        Some("user,item,prediction,fallback")
    );
    assert!(
        r.stdout.lines().nth(2).unwrap().ends_with(",item-mean"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.lines().nth(1).unwrap().ends_with(','),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("1 of 2 pairs"), "{}", r.stderr);
}

#[test]
fn recommend_lists_unrated_items_best_first() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let rated: HashSet<String> = fixture_ratings()
        .into_iter()
        .filter(|t| t.0 == "u02")
        .map(|t| t.1)
        .collect();
    let j = cnmf(&[
        "recommend",
        "--model",
        &m,
        "--user",
        "u02",
        "-n",
        "3",
        "--json",
    ])
    .expect(0)
    .json();
    let items = j["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(j["rated"], rated.len());
    let mut last = f64::INFINITY;
    for (k, it) in items.iter().enumerate() {
        assert_eq!(it["rank"], k + 1);
        let name = it["item"].as_str().unwrap();
        assert!(!rated.contains(name), "{name} was rated by u02");
        let s = it["score"].as_f64().unwrap();
        assert!(s <= last);
        last = s;
    }
    // u02 is an action fan who has not rated every action item: the best unrated item is one.
    assert!(items[0]["item"].as_str().unwrap().starts_with('a'), "{j}");
    // Asking for more than there is gives what there is.
    let n_items = 16;
    let all = cnmf(&[
        "recommend",
        "--model",
        &m,
        "--user",
        "u02",
        "-n",
        "100",
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        n_items - rated.len()
    );
    // --min-ratings filters out items with few ratings (every fixture item has more than 5).
    let none = cnmf(&[
        "recommend",
        "--model",
        &m,
        "--user",
        "u02",
        "--min-ratings",
        "1000",
        "--json",
    ])
    .expect(0)
    .json();
    assert!(none["items"].as_array().unwrap().is_empty());

    cnmf(&["recommend", "--model", &m, "--user", "u99"]).expect(5);
    let r = cnmf(&[
        "recommend",
        "--model",
        &m,
        "--user",
        "u99",
        "--unknown",
        "mean",
        "--json",
    ])
    .expect(0);
    assert_eq!(r.json()["fallback"], "item-mean");
    cnmf(&["recommend", "--model", &m, "--user", "u02", "-n", "0"]).expect(2);
}

#[test]
fn flagged_reports_the_review_bomb() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let j = cnmf(&["flagged", "--model", &m, "--json", "--min-share", "0"])
        .expect(0)
        .json();
    // The three bombers' 1-star ratings of a03 go against everything else they and the other
    // action fans rated.
    let entries: HashSet<(String, String)> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"].as_str().unwrap().into(),
                e["item"].as_str().unwrap().into(),
            )
        })
        .collect();
    for b in ["bomb1", "bomb2", "bomb3"] {
        assert!(entries.contains(&(b.to_string(), "a03".to_string())), "{j}");
    }
    assert_eq!(j["items"][0]["item"], "a03", "{j}");
    assert_eq!(
        j["summary"]["flagged"].as_u64().unwrap() as usize,
        entries.len()
    );
    for e in j["entries"].as_array().unwrap() {
        if e["item"] == "a03" && e["user"].as_str().unwrap().starts_with("bomb") {
            assert_eq!(e["rating"], 1.0);
            assert!(e["prediction"].as_f64().unwrap() > 4.0, "{e}");
        }
    }
    // Users sorted by share, each share = flagged / ratings with ratings from the fixture.
    let counts: HashMap<String, usize> =
        fixture_ratings()
            .into_iter()
            .fold(HashMap::new(), |mut m, t| {
                *m.entry(t.0).or_default() += 1;
                m
            });
    let users = j["users"].as_array().unwrap();
    let mut last = f64::INFINITY;
    for u in users {
        let id = u["user"].as_str().unwrap();
        assert_eq!(u["ratings"].as_u64().unwrap() as usize, counts[id]);
        let share = u["share"].as_f64().unwrap();
        assert_eq!(share, u["flagged"].as_f64().unwrap() / counts[id] as f64);
        assert!(share <= last);
        last = share;
    }
    // --min-share filters users.
    let j = cnmf(&["flagged", "--model", &m, "--json", "--min-share", "0.9"])
        .expect(0)
        .json();
    assert!(j["users"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["share"].as_f64().unwrap() >= 0.9));
    let r = cnmf(&[
        "flagged",
        "--model",
        &m,
        "--format",
        "csv",
        "--min-share",
        "0",
    ])
    .expect(0);
    assert_eq!(
        r.stdout.lines().next(),
        Some("user,ratings,flagged,share,mean_flagged_rating,mean_prediction")
    );
    assert!(r.stdout.contains("\nbomb1,5,"), "{}", r.stdout);
    let r = cnmf(&["flagged", "--model", &m, "--format", "csv", "--by", "items"]).expect(0);
    assert!(
        r.stdout.lines().nth(1).unwrap().starts_with("a03,"),
        "{}",
        r.stdout
    );
    let r = cnmf(&["flagged", "--model", &m]).expect(0);
    assert!(
        r.stdout.contains("items by number of flagged ratings"),
        "{}",
        r.stdout
    );
    cnmf(&["flagged", "--model", &m, "--min-share", "1.5"]).expect(2);
    cnmf(&["flagged", "--model", &m, "--format", "xml"]).expect(2);
}

#[test]
fn corrupt_flags_keep_bombs_out_of_the_fallback_mean() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let j = cnmf(&["flagged", "--model", &m, "--json", "--min-share", "0"])
        .expect(0)
        .json();
    let flagged: HashSet<(String, String)> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"].as_str().unwrap().into(),
                e["item"].as_str().unwrap().into(),
            )
        })
        .collect();
    let clean: Vec<f64> = fixture_ratings()
        .into_iter()
        .filter(|t| t.1 == "a03" && !flagged.contains(&(t.0.clone(), t.1.clone())))
        .map(|t| t.2)
        .collect();
    let want = clean.iter().sum::<f64>() / clean.len() as f64;
    let p = cnmf(&[
        "predict",
        "--model",
        &m,
        "--user",
        "new",
        "--item",
        "a03",
        "--unknown",
        "mean",
        "--json",
    ])
    .expect(0)
    .json();
    assert!((p["predictions"][0]["prediction"].as_f64().unwrap() - want).abs() < 1e-12);
}

#[test]
fn evaluate_cross_validates() {
    let j = cnmf(&[
        "evaluate",
        "--data",
        &fixture("ratings.csv"),
        "--k",
        "2",
        "--iters",
        "30",
        "--folds",
        "3",
        "--algo",
        "ignore-missing",
        "--json",
        "-q",
    ])
    .expect(0)
    .json();
    let folds = j["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let total: u64 = folds.iter().map(|f| f["test"].as_u64().unwrap()).sum();
    assert_eq!(total, 303);
    let nmae: Vec<f64> = folds.iter().map(|f| f["nmae"].as_f64().unwrap()).collect();
    let mean = nmae.iter().sum::<f64>() / 3.0;
    assert!((j["summary"]["nmae"]["mean"].as_f64().unwrap() - mean).abs() < 1e-15);
    for f in folds {
        let (nmae, mae) = (f["nmae"].as_f64().unwrap(), f["mae"].as_f64().unwrap());
        assert!((nmae - mae / 4.0).abs() < 1e-15);
        assert!(f["rmse"].as_f64().unwrap() >= mae);
        // Two clear taste groups: far better than a constant 3 (MAE ~1.9 on this data).
        assert!(mae < 1.0, "{f}");
    }
    let r = cnmf(&[
        "evaluate",
        "--data",
        &fixture("ratings.csv"),
        "--k",
        "2",
        "--iters",
        "10",
        "--folds",
        "2",
    ])
    .expect(0);
    assert!(
        r.stdout.contains("NMAE") && r.stdout.contains("±"),
        "{}",
        r.stdout
    );
    cnmf(&[
        "evaluate",
        "--data",
        &fixture("ratings.csv"),
        "--folds",
        "1",
    ])
    .expect(2);
    cnmf(&[
        "evaluate",
        "--data",
        &fixture("ratings.csv"),
        "--folds",
        "100000",
    ])
    .expect(2);
}

#[test]
fn fold_in_scores_a_new_user() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let j = cnmf(&[
        "fold-in",
        "--model",
        &m,
        "--ratings",
        &fixture("new_user.csv"),
        "-n",
        "4",
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(j["ratings_used"], 5);
    let items = j["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let rated = ["a01", "a02", "a05", "d01", "d03"];
    for it in items {
        let name = it["item"].as_str().unwrap();
        assert!(!rated.contains(&name), "{name} was rated");
        // The new user likes action and dislikes drama: the top unrated items are action.
        assert!(name.starts_with('a'), "{j}");
    }
    let r = cnmf(&[
        "fold-in",
        "--model",
        &m,
        "--ratings",
        &fixture("new_user.csv"),
    ])
    .expect(0);
    assert!(r.stdout.starts_with("folded in 5 ratings"), "{}", r.stdout);

    let r = cnmf(&[
        "fold-in",
        "--model",
        &m,
        "--ratings",
        &fixture("new_user_unknown_item.csv"),
    ])
    .expect(5);
    assert!(
        r.stderr
            .contains("new_user_unknown_item.csv:3: unknown item \"zz9\""),
        "{}",
        r.stderr
    );
    let r = cnmf(&[
        "fold-in",
        "--model",
        &m,
        "--ratings",
        &fixture("new_user_unknown_item.csv"),
        "--unknown",
        "skip",
        "--json",
    ])
    .expect(0);
    assert!(r.stderr.contains("zz9"), "{}", r.stderr);
    assert_eq!(r.json()["skipped"][0], "zz9");
    let r = cnmf(&[
        "fold-in",
        "--model",
        &m,
        "--ratings",
        &fixture("new_user_duplicate.csv"),
    ])
    .expect(3);
    assert!(
        r.stderr.contains("new_user_duplicate.csv:4") && r.stderr.contains("twice"),
        "{}",
        r.stderr
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "item,rating\na01,9\n").unwrap();
    let r = cnmf(&["fold-in", "--model", &m, "--ratings", bad.to_str().unwrap()]).expect(3);
    assert!(
        r.stderr.contains("bad.csv:2") && r.stderr.contains("scale"),
        "{}",
        r.stderr
    );
}

#[test]
fn robust_baselines_fit_reload_fold_in_and_flag() {
    let dir = tmp();
    let n_ratings = fixture_ratings().len();
    for (alg, extra, flags) in [
        ("huber", &["--lambda", "1.5"][..], true),
        ("l1", &[][..], false),
        ("trimmed", &["--trim-fraction", "0.1"][..], true),
    ] {
        let mut args = vec!["--algorithm", alg];
        args.extend_from_slice(extra);
        let m = fit_fixture(dir.path(), &format!("{alg}.cnmf"), &args);
        // The model file reloads with its parameters; predictions work.
        cnmf(&["predict", "--model", &m, "--user", "u01", "--item", "a01"]).expect(0);
        let j = cnmf(&["flagged", "--model", &m, "--json", "--min-share", "0"])
            .expect(0)
            .json();
        assert_eq!(j["summary"]["algorithm"], alg);
        let flagged = j["summary"]["flagged"].as_u64().unwrap() as usize;
        match alg {
            // trimmed flags exactly floor(q |Omega|) ratings.
            "trimmed" => assert_eq!(flagged, n_ratings / 10, "{j}"),
            _ => assert_eq!(flagged > 0, flags, "{alg}: {flagged} flagged"),
        }
        let r = cnmf(&[
            "fold-in",
            "--model",
            &m,
            "--ratings",
            &fixture("new_user.csv"),
            "--json",
        ])
        .expect(0);
        assert!(r.json()["items"].is_array(), "{}", r.stdout);
    }
    // --trim-fraction belongs to trimmed, and must lie in [0, 1).
    let r = cnmf(&[
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--algo",
        "l1",
        "--trim-fraction",
        "0.1",
        "-o",
        dir.path().join("x.cnmf").to_str().unwrap(),
    ])
    .expect(2);
    assert!(r.stderr.contains("--trim-fraction"), "{}", r.stderr);
    for bad in ["1", "-0.1", "NaN"] {
        let r = cnmf(&[
            "fit",
            "--data",
            &fixture("ratings.csv"),
            "--algo",
            "trimmed",
            "--trim-fraction",
            bad,
            "-o",
            dir.path().join("x.cnmf").to_str().unwrap(),
        ])
        .expect(2);
        assert!(r.stderr.contains("trim_fraction"), "{bad}: {}", r.stderr);
    }
    // huber needs lambda: without one it takes the default noise model, like the corrupt
    // variants; l1 and trimmed need none.
    let j = cnmf(&[
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--algo",
        "huber",
        "--k",
        "2",
        "--iters",
        "20",
        "-o",
        dir.path().join("h.cnmf").to_str().unwrap(),
        "--json",
    ])
    .expect(0)
    .json();
    assert!(j["lambda"]["lambda"].is_f64(), "{j}");
}

/// Thirty users who rate the ten popular items p0..p9 (each leaves one out) and two review
/// bombers who rate the target p0 with 1 and otherwise items nobody else rated.
fn bombed_csv(dir: &std::path::Path) -> String {
    let mut s = String::from("user,item,rating\n");
    for u in 0..30 {
        for i in 0..10 {
            if i != u % 10 || i == 0 {
                s.push_str(&format!("g{u:02},p{i},{}\n", 2 + (u * 3 + i * 7) % 4));
            }
        }
        // A few less popular items, so that the honest users' profiles differ.
        for j in 0..(u % 4) {
            s.push_str(&format!("g{u:02},q{},{}\n", (u + j) % 6, 3 + (u + j) % 3));
        }
    }
    for (b, rare) in [("bomb1", ["r0", "r1", "r2"]), ("bomb2", ["r3", "r4", "r5"])] {
        s.push_str(&format!("{b},p0,1\n"));
        for r in rare {
            s.push_str(&format!("{b},{r},1\n"));
        }
    }
    let path = dir.join("bombed.csv");
    std::fs::write(&path, s).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn guarded_fits_reloads_reports_screened_users_and_folds_in() {
    let dir = tmp();
    let data = bombed_csv(dir.path());
    let model = dir.path().join("g.cnmf").to_string_lossy().into_owned();
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit", "--data", &data, "--algo", "guarded", "--k", "2", "--iters", "30", "-q", "-o",
            &model,
        ];
        args.extend_from_slice(extra);
        cnmf(&args).expect(0);
    };
    fit(&[
        "--user-threshold-scale",
        "0.9",
        "--item-threshold-scale",
        "0.7",
        "--profile-screen",
        "3",
    ]);
    cnmf(&[
        "predict", "--model", &model, "--user", "g01", "--item", "p3",
    ])
    .expect(0);
    let j = cnmf(&["flagged", "--model", &model, "--json", "--min-share", "0"])
        .expect(0)
        .json();
    assert_eq!(j["summary"]["algorithm"], "guarded");
    assert_eq!(j["summary"]["screened_users"], 2, "{j}");
    let screened: Vec<&str> = j["screened"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user"].as_str().unwrap())
        .collect();
    assert_eq!(screened, ["bomb1", "bomb2"]);
    // Every rating of a screened user is among the flags.
    let flagged_users: Vec<&str> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user"].as_str().unwrap())
        .collect();
    assert_eq!(flagged_users.iter().filter(|&&u| u == "bomb1").count(), 4);
    let csv = cnmf(&[
        "flagged", "--model", &model, "--format", "csv", "--by", "screened",
    ])
    .expect(0);
    assert_eq!(csv.stdout, "user,ratings\nbomb1,4\nbomb2,4\n");
    let table = cnmf(&["flagged", "--model", &model]).expect(0);
    assert!(
        table.stdout.contains("profile screen: 2 users"),
        "{}",
        table.stdout
    );
    // Fold-in runs the user side; a rating far from its prediction would be kept out of the
    // items.
    let newbie = dir.path().join("newbie.csv");
    std::fs::write(&newbie, "item,rating\np1,4\np2,5\np3,3\np0,1\n").unwrap();
    let j = cnmf(&[
        "fold-in",
        "--model",
        &model,
        "--ratings",
        newbie.to_str().unwrap(),
        "--json",
    ])
    .expect(0)
    .json();
    assert!(j["items"].is_array(), "{j}");
    // Off: nobody screened.
    fit(&["--profile-screen", "off"]);
    let j = cnmf(&["flagged", "--model", &model, "--json"])
        .expect(0)
        .json();
    assert_eq!(j["summary"]["screened_users"], 0, "{j}");
    // Bad values are named; the flags belong to guarded.
    for (flag, bad, name) in [
        ("--user-threshold-scale", "0", "user_threshold_scale"),
        ("--item-threshold-scale", "-1", "item_threshold_scale"),
        ("--profile-screen", "NaN", "profile_screen"),
    ] {
        let mut args = vec![
            "fit", "--data", &data, "--algo", "guarded", "-o", &model, flag, bad,
        ];
        let r = cnmf(&args).expect(2);
        assert!(r.stderr.contains(name), "{flag} {bad}: {}", r.stderr);
        args[4] = "ignore-corrupt";
        args[8] = "0.5";
        let r = cnmf(&args).expect(2);
        assert!(r.stderr.contains(flag), "{flag}: {}", r.stderr);
    }
    let ic = fit_fixture(dir.path(), "ic.cnmf", &[]);
    let r = cnmf(&["flagged", "--model", &ic, "--by", "screened"]).expect(2);
    assert!(r.stderr.contains("guarded"), "{}", r.stderr);
}

/// The same fit written in both format versions answers every command identically: the
/// factors round-trip bit for bit through either.
#[test]
fn both_model_formats_answer_every_command_alike() {
    let dir = tmp();
    let v2 = fit_fixture(dir.path(), "v2.cnmf", &[]);
    let v1 = fit_fixture(dir.path(), "v1.cnmf", &["--model-format", "json"]);
    assert!(std::fs::read(&v1)
        .unwrap()
        .starts_with(b"CNMF-MODEL 1 sha256="));
    let (pairs, new_user) = (fixture("pairs.csv"), fixture("new_user.csv"));
    for args in [
        vec!["predict", "--pairs", &pairs, "--json"],
        vec![
            "predict",
            "--user",
            "nobody",
            "--item",
            "a01",
            "--unknown",
            "mean",
            "--json",
        ],
        vec!["recommend", "--user", "u03", "-n", "5", "--json"],
        vec!["flagged", "--json"],
        vec!["fold-in", "--ratings", &new_user, "--json"],
    ] {
        let run = |model: &str| {
            let mut a = args.clone();
            a.extend(["--model", model]);
            cnmf(&a).expect(0).stdout
        };
        assert_eq!(run(&v2), run(&v1), "{args:?}");
    }
    // The report of `fit --model-format json` says so.
    let r = cnmf(&[
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--k",
        "2",
        "--iters",
        "5",
        "--model-format",
        "json",
        "-o",
        &v1,
        "--json",
    ])
    .expect(0);
    assert_eq!(r.json()["model_format"], "json");
}

/// Parses a `.npy` file as NumPy's reader does (magic, version 1.0, header length, the dict,
/// data aligned to 64 bytes) and returns its shape and values.
fn read_npy(bytes: &[u8]) -> (Vec<usize>, Vec<f64>) {
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    assert_eq!(&bytes[6..8], &[1, 0]);
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0, "data aligned to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.ends_with('\n'), "{header:?}");
    let header = header.trim_end();
    assert!(
        header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (")
            && header.ends_with("), }"),
        "{header}"
    );
    let inside = &header[header.find("(").unwrap() + 1..header.rfind(")").unwrap()];
    let shape: Vec<usize> = inside
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().unwrap())
        .collect();
    let data = &bytes[10 + len..];
    assert_eq!(data.len(), 8 * shape.iter().product::<usize>());
    let values = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (shape, values)
}

/// `export --npy` writes the model file's factors, bit for bit, with the ids in row order;
/// from either format version the files are the same, and `W @ H` gives `predict`'s scores.
#[test]
fn export_writes_the_factors_as_numpy_files() {
    let dir = tmp();
    let v2 = fit_fixture(dir.path(), "v2.cnmf", &[]);
    let v1 = fit_fixture(dir.path(), "v1.cnmf", &["--model-format", "json"]);
    let out = dir.path().join("factors");
    let out_s = out.to_string_lossy().into_owned();
    let r = cnmf(&["export", "--model", &v2, "--npy", &out_s, "--json"]).expect(0);
    let files = r.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 4);
    let file = std::fs::read(&v2).unwrap();
    let tensor = |name: &str| -> Vec<f64> {
        file[tensor_range(&file, name)]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (w_shape, w) = read_npy(&std::fs::read(out.join("W.npy")).unwrap());
    let (h_shape, h) = read_npy(&std::fs::read(out.join("H.npy")).unwrap());
    let (n, k, m) = (w_shape[0], w_shape[1], h_shape[1]);
    assert_eq!((n, k, h_shape[0]), (27, 2, 2));
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&w), bits(&tensor("W")));
    assert_eq!(bits(&h), bits(&tensor("H")));
    let users = std::fs::read_to_string(out.join("users.txt")).unwrap();
    let items = std::fs::read_to_string(out.join("items.txt")).unwrap();
    let users: Vec<&str> = users.lines().collect();
    let items: Vec<&str> = items.lines().collect();
    assert_eq!((users.len(), items.len()), (n, m));
    assert!(items.contains(&"Heat, 1995"), "{items:?}");
    // (W @ H)[u, i], clipped to the scale, is the prediction.
    let (u, i) = (
        users.iter().position(|&x| x == "u01").unwrap(),
        items.iter().position(|&x| x == "a02").unwrap(),
    );
    let raw: f64 = (0..k).map(|j| w[u * k + j] * h[j * m + i]).sum();
    let p = cnmf(&[
        "predict", "--model", &v2, "--user", "u01", "--item", "a02", "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(
        p["predictions"][0]["prediction"].as_f64().unwrap(),
        raw.clamp(1.0, 5.0)
    );
    // From the version 1 file: the same four files, replaced in place.
    let before: Vec<Vec<u8>> = ["W.npy", "H.npy", "users.txt", "items.txt"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    let r = cnmf(&["export", "--model", &v1, "--npy", &out_s]).expect(0);
    assert!(r.stdout.contains("W.npy (27 x 2)"), "{}", r.stdout);
    for (f, b) in ["W.npy", "H.npy", "users.txt", "items.txt"]
        .iter()
        .zip(&before)
    {
        assert_eq!(&std::fs::read(out.join(f)).unwrap(), b, "{f}");
    }
    let names: HashSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "no temporary file left: {names:?}");
}

/// NumPy and the Python `safetensors` package read what `cnmf` writes, as FORMAT.md shows.
/// Run with `cargo test -p cnmf-cli -- --ignored numpy` where `python3` has both packages.
#[test]
#[ignore = "needs python3 with numpy and safetensors"]
fn numpy_reads_the_model_file_and_the_exported_factors() {
    let dir = tmp();
    let model = fit_fixture(dir.path(), "m.cnmf", &[]);
    let out = dir.path().join("npy");
    cnmf(&["export", "--model", &model, "--npy", &out.to_string_lossy()]).expect(0);
    let p = cnmf(&[
        "predict", "--model", &model, "--user", "u01", "--item", "a02", "--json",
    ])
    .expect(0)
    .json();
    let script = r#"
import json, sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
model, out = sys.argv[1], sys.argv[2]
t = load_file(model)
with safe_open(model, framework="np") as f:
    meta = json.loads(f.metadata()["cnmf"])
u, i = meta["users"].index("u01"), meta["items"].index("a02")
lo, hi = meta["model"]["scale"]["min"], meta["model"]["scale"]["max"]
W, H = np.load(out + "/W.npy"), np.load(out + "/H.npy")
assert W.dtype == np.float64 and W.flags["C_CONTIGUOUS"]
assert np.array_equal(W, t["W"]) and np.array_equal(H, t["H"])
users = open(out + "/users.txt").read().splitlines()
assert users == meta["users"]
print(repr(float(np.clip((t["W"] @ t["H"])[u, i], lo, hi))))
"#;
    let run = std::process::Command::new("python3")
        .args(["-c", script, &model, &out.to_string_lossy()])
        .output()
        .expect("python3 runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed: f64 = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap();
    let ours = p["predictions"][0]["prediction"].as_f64().unwrap();
    assert!((printed - ours).abs() <= 1e-12, "{printed} {ours}");
}

/// 40 users rating 8 items on days 0..100 (item p0 rated 4 or 5), then 10 of them rating p0
/// with 1 within one hour on day 120: a review bomb as it arrives, with timestamps.
fn timed_bomb_csv(dir: &std::path::Path) -> String {
    let mut s = String::from("user,item,rating,timestamp\n");
    let day = 86_400;
    for u in 0..40 {
        for i in 0..8 {
            let bomber = u % 4 == 0 && i == 0;
            if bomber || (u + i) % 5 == 4 {
                continue;
            }
            let v = if i == 0 {
                4 + u % 2
            } else {
                1 + (u * 3 + i * 7) % 5
            };
            let t = ((u * 37 + i * 101) % 100) * day + u * 60;
            s.push_str(&format!("g{u:02},p{i},{v},{t}\n"));
        }
    }
    for u in (0..40).step_by(4) {
        s.push_str(&format!("g{u:02},p0,1,{}\n", 120 * day + u * 30));
    }
    let path = dir.join("timed.csv");
    std::fs::write(&path, s).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn guarded_holds_a_burst_in_time_and_reports_it() {
    let dir = tmp();
    let data = timed_bomb_csv(dir.path());
    let model = dir.path().join("b.cnmf").to_string_lossy().into_owned();
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit", "--data", &data, "--algo", "guarded", "--k", "2", "--iters", "20", "-o", &model,
            "--json",
        ];
        args.extend_from_slice(extra);
        cnmf(&args).expect(0)
    };
    let j = fit(&[]).json();
    assert_eq!(
        j["bursts"],
        serde_json::json!({"items": 1, "held": 10}),
        "{j}"
    );
    let j = cnmf(&["flagged", "--model", &model, "--json"])
        .expect(0)
        .json();
    assert_eq!(j["summary"]["bursts"], 1, "{j}");
    let b = &j["bursts"][0];
    assert_eq!(b["item"], "p0");
    assert_eq!(b["count"], 10);
    assert_eq!(b["start"], "1970-05-01T00:00:00Z");
    assert_eq!(b["end"], "1970-05-01T00:18:00Z");
    assert_eq!(b["users"].as_array().unwrap().len(), 10);
    let csv = cnmf(&[
        "flagged", "--model", &model, "--format", "csv", "--by", "bursts",
    ])
    .expect(0);
    assert!(
        csv.stdout
            .starts_with("item,start,end,count,mean,rest_mean,z,held\np0,1970-05-01T00:00:00Z,"),
        "{}",
        csv.stdout
    );
    // Off, or without timestamps: no burst screen, and the fit says so.
    let r = fit(&["--burst-window", "off"]);
    assert!(r.json().get("bursts").unwrap().is_null(), "{}", r.stdout);
    assert!(r.stderr.contains("burst screen is off"), "{}", r.stderr);
    let table = cnmf(&["flagged", "--model", &model]).expect(0);
    assert!(
        table.stdout.contains("burst screen: did not run"),
        "{}",
        table.stdout
    );
    // A timestamp that is not a time is an error naming the line, unless dropped.
    let bad = dir.path().join("bad_time.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    assert!(text.contains("g00,p1,3,86400\n"));
    std::fs::write(
        &bad,
        text.replacen("g00,p1,3,86400\n", "g00,p1,3,noon\n", 1),
    )
    .unwrap();
    let bad = bad.to_string_lossy().into_owned();
    let r = cnmf(&["fit", "--data", &bad, "--algo", "guarded", "-o", &model]).expect(3);
    assert!(
        r.stderr.contains("bad_time.csv:") && r.stderr.contains("--ignore-timestamps"),
        "{}",
        r.stderr
    );
    let j = cnmf(&[
        "fit",
        "--data",
        &bad,
        "--algo",
        "guarded",
        "--k",
        "2",
        "-o",
        &model,
        "--ignore-timestamps",
        "--json",
    ])
    .expect(0)
    .json();
    assert!(j["bursts"].is_null(), "{j}");
    // A window of 0 is refused before any work; the flag belongs to guarded.
    let r = cnmf(&[
        "fit",
        "--data",
        &data,
        "--algo",
        "guarded",
        "-o",
        &model,
        "--burst-window",
        "0",
    ])
    .expect(2);
    assert!(r.stderr.contains("burst_window"), "{}", r.stderr);
    let r = cnmf(&[
        "fit",
        "--data",
        &data,
        "--algo",
        "ignore-corrupt",
        "-o",
        &model,
        "--burst-window",
        "1d",
    ])
    .expect(2);
    assert!(r.stderr.contains("--burst-window"), "{}", r.stderr);
}

/// `guarded`'s bursts are kept by both format versions: the same report from either file.
#[test]
fn bursts_survive_both_model_formats() {
    let dir = tmp();
    let data = timed_bomb_csv(dir.path());
    let report = |format: &str| {
        let model = dir.path().join(format).to_string_lossy().into_owned();
        cnmf(&[
            "fit",
            "--data",
            &data,
            "--algo",
            "guarded",
            "--k",
            "2",
            "--iters",
            "20",
            "-q",
            "--model-format",
            format,
            "-o",
            &model,
        ])
        .expect(0);
        cnmf(&["flagged", "--model", &model, "--json"])
            .expect(0)
            .json()
    };
    let (v2, v1) = (report("safetensors"), report("json"));
    assert_eq!(v2["summary"]["bursts"], 1, "{v2}");
    assert_eq!(v2, v1);
}

#[test]
fn data_directories_and_cnmf_data_are_searched_as_documented() {
    let dir = tmp();
    // A made-up u.data (tab-separated) inside `<dir>/ml-100k/`.
    let ml = dir.path().join("ml-100k");
    std::fs::create_dir(&ml).unwrap();
    let mut text = String::new();
    for u in 1..=12 {
        for i in 1..=6 {
            if (u + i) % 3 != 0 {
                text.push_str(&format!(
                    "{u}\t{i}\t{}\t{}\n",
                    1 + (u * i) % 5,
                    1000 + u * 10 + i
                ));
            }
        }
    }
    std::fs::write(ml.join("u.data"), text).unwrap();
    let model = dir.path().join("m.cnmf").to_string_lossy().into_owned();
    let root = dir.path().to_string_lossy().into_owned();
    let ml = ml.to_string_lossy().into_owned();
    for data in [&root, &ml] {
        let j = cnmf(&[
            "fit", "--data", data, "--k", "2", "--iters", "3", "-o", &model, "--json",
        ])
        .expect(0)
        .json();
        assert!(
            j["data"]["file"].as_str().unwrap().ends_with("u.data"),
            "{j}"
        );
    }
    // Without --data: CNMF_DATA, and an error naming where it looked when nothing is there.
    let run = |env: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cnmf"))
            .args(["fit", "--k", "2", "--iters", "3", "-o", &model])
            .env("CNMF_DATA", env)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    assert!(run(&root).status.success());
    let empty = tmp();
    let out = run(&empty.path().to_string_lossy());
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("looked for") && err.contains("ml-100k/u.data"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_json_output_quietly() {
    use std::process::{Command, Stdio};
    let dir = tmp();
    let model = fit_fixture(dir.path(), "m.cnmf", &[]);
    // The reader closes before the (long) document is written: exit 0, nothing on stderr.
    let mut child = Command::new(env!("CARGO_BIN_EXE_cnmf"))
        .args(["flagged", "--model", &model, "--json", "--min-share", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn similar_ranks_items_by_the_cosine_of_their_factors() {
    let dir = tmp();
    let model = fit_fixture(dir.path(), "m.cnmf", &[]);
    let j = cnmf(&[
        "similar", "--model", &model, "--item", "a01", "-n", "50", "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(j["item"], "a01");
    let sims = j["similar"].as_array().unwrap();
    // Every other item with a nonzero factor vector, in descending cosine, each in [0, 1].
    let export = dir.path().join("npy");
    cnmf(&[
        "export",
        "--model",
        &model,
        "--npy",
        &export.to_string_lossy(),
    ])
    .expect(0);
    let items: Vec<String> = std::fs::read_to_string(export.join("items.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(sims.len(), items.len() - 1, "{j}");
    let cos: Vec<f64> = sims.iter().map(|s| s["cosine"].as_f64().unwrap()).collect();
    assert!(cos.windows(2).all(|w| w[0] >= w[1]), "{cos:?}");
    assert!(
        cos.iter().all(|c| (0.0..=1.0 + 1e-12).contains(c)),
        "{cos:?}"
    );
    assert!(sims.iter().all(|s| s["item"] != "a01"));
    // The cosines, recomputed from the exported H (k x items, .npy 1.0, little-endian f64).
    let bytes = std::fs::read(export.join("H.npy")).unwrap();
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let h: Vec<f64> = bytes[10 + header..]
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let m = items.len();
    let k = h.len() / m;
    let col = |i: usize| (0..k).map(|f| h[f * m + i]).collect::<Vec<f64>>();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let q = col(items.iter().position(|i| i == "a01").unwrap());
    for s in sims {
        let v = col(items
            .iter()
            .position(|i| i == s["item"].as_str().unwrap())
            .unwrap());
        let want = v.iter().zip(&q).map(|(a, b)| a * b).sum::<f64>() / (norm(&v) * norm(&q));
        assert!((s["cosine"].as_f64().unwrap() - want).abs() < 1e-12, "{s}");
    }
    let r = cnmf(&["similar", "--model", &model, "--item", "nope"]).expect(5);
    assert!(r.stderr.contains("unknown item \"nope\""), "{}", r.stderr);
    cnmf(&["similar", "--model", &model, "--item", "a01", "-n", "0"]).expect(2);
}

#[test]
fn evaluate_scores_a_given_test_file_like_predict_does() {
    let dir = tmp();
    // Made-up MovieLens-style folds: tab-separated, no header, names the loader does not know.
    let (mut base, mut test) = (String::new(), String::new());
    for u in 1..=20 {
        for i in 1..=8 {
            let line = format!("{u}\t{i}\t{}\t{}\n", 1 + (u * 3 + i * 5) % 5, 900 + u + i);
            if (u * 7 + i) % 6 == 0 {
                test.push_str(&line);
            } else {
                base.push_str(&line);
            }
        }
    }
    let (b, t) = (dir.path().join("u1.base"), dir.path().join("u1.test"));
    std::fs::write(&b, &base).unwrap();
    std::fs::write(&t, &test).unwrap();
    let (b, t) = (
        b.to_string_lossy().into_owned(),
        t.to_string_lossy().into_owned(),
    );
    let common = [
        "--k",
        "2",
        "--iters",
        "30",
        "--seed",
        "4",
        "--algo",
        "ignore-missing",
    ];
    let mut args = vec!["evaluate", "--data", &b, "--test", &t, "--json"];
    args.extend_from_slice(&common);
    let j = cnmf(&args).expect(0).json();
    let r = &j["result"];
    // The same fit through `fit` and `predict`, scored here.
    let model = dir.path().join("m.cnmf").to_string_lossy().into_owned();
    let mut fit = vec!["fit", "--data", &b, "-o", &model, "-q"];
    fit.extend_from_slice(&common);
    cnmf(&fit).expect(0);
    let (mut abs, mut sq, mut n) = (0.0, 0.0, 0.0);
    for line in test.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let p = cnmf(&[
            "predict", "--model", &model, "--user", f[0], "--item", f[1], "--json",
        ])
        .expect(0)
        .json();
        let e = p["predictions"][0]["prediction"].as_f64().unwrap() - f[2].parse::<f64>().unwrap();
        abs += e.abs();
        sq += e * e;
        n += 1.0;
    }
    assert_eq!(r["test"], n as u64, "{j}");
    assert!((r["mae"].as_f64().unwrap() - abs / n).abs() < 1e-12, "{j}");
    assert!(
        (r["nmae"].as_f64().unwrap() - abs / n / 4.0).abs() < 1e-12,
        "{j}"
    );
    assert!(
        (r["rmse"].as_f64().unwrap() - (sq / n).sqrt()).abs() < 1e-12,
        "{j}"
    );
    // Ranking metrics at 10 (the default; 8 items, so every unrated item is listed), relevant
    // = test rating >= 4, recomputed here from `recommend`'s lists with the textbook formulas.
    let rk = &r["ranking"];
    assert_eq!(
        (&rk["at"], &rk["relevant_at_least"]),
        (&10.into(), &4.0.into()),
        "{j}"
    );
    let mut relevant: HashMap<&str, HashSet<&str>> = HashMap::new();
    for line in test.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[2].parse::<f64>().unwrap() >= 4.0 {
            relevant.entry(f[0]).or_default().insert(f[1]);
        }
    }
    let (mut prec, mut rec, mut ndcg, mut map) = (0.0, 0.0, 0.0, 0.0);
    for (user, rel) in &relevant {
        let list = cnmf(&[
            "recommend",
            "--model",
            &model,
            "--user",
            user,
            "-n",
            "10",
            "--json",
        ])
        .expect(0)
        .json();
        let items: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item"].as_str().unwrap().to_string())
            .collect();
        let (mut hits, mut dcg, mut ap) = (0.0, 0.0, 0.0);
        for (k, item) in items.iter().enumerate() {
            if rel.contains(item.as_str()) {
                hits += 1.0;
                dcg += 1.0 / (k as f64 + 2.0).log2();
                ap += hits / (k as f64 + 1.0);
            }
        }
        let ideal = rel.len().min(10);
        let idcg: f64 = (0..ideal).map(|k| 1.0 / (k as f64 + 2.0).log2()).sum();
        prec += hits / 10.0;
        rec += hits / rel.len() as f64;
        ndcg += dcg / idcg;
        map += ap / ideal as f64;
    }
    let users = relevant.len() as f64;
    assert_eq!(rk["users"], relevant.len(), "{j}");
    for (key, want) in [
        ("precision", prec),
        ("recall", rec),
        ("ndcg", ndcg),
        ("map", map),
    ] {
        assert!(
            (rk[key].as_f64().unwrap() - want / users).abs() < 1e-12,
            "{key}: {j}"
        );
    }
    // Here every test item is unrated in training, so recall is 1 whatever the order.
    assert!((rk["recall"].as_f64().unwrap() - 1.0).abs() < 1e-12, "{j}");
    let mut args = vec![
        "evaluate",
        "--data",
        &b,
        "--test",
        &t,
        "--at",
        "2",
        "--relevant",
        "5",
    ];
    args.extend_from_slice(&common);
    let text = cnmf(&args).expect(0).stdout;
    assert!(
        text.contains("relevant = test rating >= 5") && text.contains("NDCG@2"),
        "{text}"
    );
    // --at and --relevant belong to --test.
    cnmf(&["evaluate", "--data", &b, "--at", "5"]).expect(2);
    // A test rating of an unknown user: an error, or a counted mean with --unknown mean.
    let t2 = dir.path().join("cold.test");
    std::fs::write(&t2, format!("{test}99\t1\t3\t999\n")).unwrap();
    let t2 = t2.to_string_lossy().into_owned();
    let mut args = vec!["evaluate", "--data", &b, "--test", &t2];
    args.extend_from_slice(&common);
    let e = cnmf(&args).expect(5);
    assert!(e.stderr.contains("unknown user \"99\""), "{}", e.stderr);
    args.extend_from_slice(&["--unknown", "mean", "--json"]);
    let j = cnmf(&args).expect(0).json();
    assert_eq!(j["result"]["fallbacks"], 1, "{j}");
    // --unknown belongs to --test; --test and --folds exclude each other.
    cnmf(&["evaluate", "--data", &b, "--unknown", "mean"]).expect(2);
    cnmf(&["evaluate", "--data", &b, "--test", &t, "--folds", "3"]).expect(2);
}

/// The titles of `items.csv`, written out here rather than read by the code under test.
fn fixture_title(item: &str) -> serde_json::Value {
    let titles = [
        ("a01", "Raid, The (2011)"),
        ("a02", "Amélie (2001)"),
        ("a03", "Die Hard (1988)"),
        ("a04", "Speed (1994)"),
        ("a05", "Alien (1979)"),
        ("a06", "Aliens (1986)"),
        ("a07", "Say \"Hello\" (2001)"),
        ("a08", "Taken (2008)"),
        ("d01", "Amour (2012)"),
        ("d02", "Babel (2006)"),
        ("d03", "Crash (2004)"),
        ("d04", "Doubt (2008)"),
        ("d05", "Elegy (2008)"),
        ("d06", "Fences (2016)"),
        ("Heat, 1995", "Heat (1995)"),
    ];
    titles
        .iter()
        .find(|t| t.0 == item)
        .map_or(serde_json::Value::Null, |t| t.1.into())
}

/// Every `"item"` of a JSON array has the fixture's `"title"` (`null` for `d07`).
fn assert_titled(rows: &serde_json::Value) {
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(
            r["title"],
            fixture_title(r["item"].as_str().unwrap()),
            "{r}"
        );
    }
}

#[test]
fn items_file_adds_titles_to_every_item_listing() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let items = fixture("items.csv");
    let all = ["-n", "100", "--items", &items, "--json"];
    let rec = |extra: &[&str]| {
        let mut a = vec!["recommend", "--model", &m, "--user", "u02"];
        a.extend(extra);
        cnmf(&a).expect(0)
    };
    let j = rec(&all).json();
    assert_titled(&j["items"]);
    // Without --items (and no item file next to the training file) titles are null.
    let plain = rec(&["--json"]).json();
    assert!(plain["items"][0]["title"].is_null(), "{plain}");
    let text = rec(&["--items", &items]).stdout;
    assert!(text.lines().nth(1).unwrap().ends_with("title"), "{text}");
    let best = j["items"][0]["title"].as_str().unwrap();
    assert!(text.contains(best), "{text}");
    assert!(!rec(&[]).stdout.contains("title"));

    let j = cnmf(
        &["similar", "--model", &m, "--item", "a01", "-n", "50"]
            .iter()
            .chain(&["--items", &items, "--json"])
            .collect::<Vec<_>>(),
    )
    .expect(0)
    .json();
    assert_eq!(j["title"], "Raid, The (2011)");
    assert_titled(&j["similar"]);

    let nu = fixture("new_user.csv");
    let j = cnmf(&[
        "fold-in",
        "--model",
        &m,
        "--ratings",
        &nu,
        "--items",
        &items,
        "--json",
    ])
    .expect(0)
    .json();
    assert_titled(&j["items"]);

    let j = cnmf(&["flagged", "--model", &m, "--items", &items, "--json"])
        .expect(0)
        .json();
    assert_titled(&j["items"]);
    assert_titled(&j["entries"]);
    let csv = cnmf(&[
        "flagged", "--model", &m, "--items", &items, "--format", "csv", "--by", "items",
    ])
    .expect(0)
    .stdout;
    let mut lines = csv.lines();
    assert!(
        lines.next().unwrap().ends_with(",mean_prediction,title"),
        "{csv}"
    );
    // a03 is the bombed item; its title needs no quoting.
    assert!(lines.next().unwrap().starts_with("a03,") && csv.contains(",Die Hard (1988)\n"));
}

#[test]
fn items_file_next_to_movielens_training_file_is_found() {
    let dir = tmp();
    let data = dir.path().join("ratings.csv");
    std::fs::copy(fixture("ratings.csv"), &data).unwrap();
    std::fs::copy(fixture("items.csv"), dir.path().join("movies.csv")).unwrap();
    let m = dir.path().join("m.cnmf");
    let m = m.to_str().unwrap();
    cnmf(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--k",
        "2",
        "--seed",
        "1",
        "-q",
        "-o",
        m,
    ])
    .expect(0);
    let r = cnmf(&["recommend", "--model", m, "--user", "u02", "--json"]).expect(0);
    assert_titled(&r.json()["items"]);
    r.stderr_has(&["titles from"]);
    // A broken item file found that way is a warning, not a failure.
    std::fs::write(dir.path().join("movies.csv"), "movieId,name\n").unwrap();
    let r = cnmf(&["recommend", "--model", m, "--user", "u02", "--json"]).expect(0);
    assert!(r.json()["items"][0]["title"].is_null());
    r.stderr_has(&["warning: no titles:", "movies.csv:1:"]);
}

#[test]
fn bad_items_file_is_bad_data_naming_file_and_line() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let bad = dir.path().join("u.item");
    // Latin-1 is accepted (0xE9 = é); line 2 has no `|`.
    std::fs::write(&bad, b"a01|Cr\xE9pe (1990)|x\nno separator\n").unwrap();
    let bad = bad.to_string_lossy().into_owned();
    let similar = |item: &str| {
        let a = ["similar", "--model", &m, "--item", item, "--items", &bad];
        cnmf(&[&a[..], &["-n", "50", "--json"]].concat())
    };
    similar("a01")
        .expect(3)
        .stderr_has(&["u.item:2: expected id|title"]);
    std::fs::write(&bad, b"a01|Cr\xE9pe (1990)|x\n").unwrap();
    let r = similar("a02").expect(0).json();
    let sims = r["similar"].as_array().unwrap();
    let a01 = sims.iter().find(|s| s["item"] == "a01").unwrap();
    assert_eq!(a01["title"], "Crépe (1990)");
    let missing = dir.path().join("nope.csv").to_string_lossy().into_owned();
    cnmf(&[
        "recommend",
        "--model",
        &m,
        "--user",
        "u02",
        "--items",
        &missing,
    ])
    .expect(3);
}

#[test]
fn columns_read_files_without_a_header() {
    let dir = tmp();
    // The fixture without its header line, read with --columns, fits the same model.
    let text = std::fs::read_to_string(fixture("ratings.csv")).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    assert_eq!(header, "user,item,rating");
    let nohead = dir.path().join("nohead.csv");
    std::fs::write(&nohead, body).unwrap();
    let nohead = nohead.to_string_lossy().into_owned();
    let with = fit_fixture(dir.path(), "with.cnmf", &[]);
    let without = dir.path().join("without.cnmf");
    let without = without.to_string_lossy().into_owned();
    let fit = |data: &str, extra: &[&str]| {
        let mut a = vec![
            "fit", "--data", data, "--k", "2", "--iters", "200", "--seed", "1", "-q", "-o",
            &without,
        ];
        a.extend(extra);
        cnmf(&a)
    };
    let j = fit(&nohead, &["--columns", "user,item,rating", "--json"])
        .expect(0)
        .json();
    assert_eq!(j["data"]["ratings"], 303);
    let p = |m: &str| {
        cnmf(&[
            "predict", "--model", m, "--user", "u02", "--item", "a03", "--json",
        ])
        .expect(0)
        .json()["predictions"][0]["prediction"]
            .clone()
    };
    assert_eq!(p(&with), p(&without));
    // Without --columns the first rating is taken for a header, and the message says what to do.
    let r = fit(&nohead, &[]).expect(3);
    r.stderr_has(&["nohead.csv:1: header column \"u01\"", "--columns"]);
    // Bad column lists are usage errors.
    let r = fit(&nohead, &["--columns", "user,item"]).expect(2);
    r.stderr_has(&["no rating column"]);
    fit(
        &nohead,
        &["--columns", "user,item,rating", "--format", "ml100k"],
    )
    .expect(2);
}

#[test]
fn recommend_all_users_streams_every_users_list_in_order() {
    let dir = tmp();
    let m = fit_fixture(dir.path(), "m.cnmf", &[]);
    let single = |user: &str| {
        cnmf(&[
            "recommend",
            "--model",
            &m,
            "--user",
            user,
            "-n",
            "3",
            "--json",
        ])
        .expect(0)
        .json()
    };
    let j = cnmf(&[
        "recommend",
        "--model",
        &m,
        "--all-users",
        "-n",
        "3",
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!((&j["command"], &j["n"]), (&"recommend".into(), &3.into()));
    let users = j["users"].as_array().unwrap();
    // Every user of the fixture, in order of first appearance in the training file.
    let mut order: Vec<String> = Vec::new();
    for (u, _, _) in fixture_ratings() {
        if !order.contains(&u) {
            order.push(u);
        }
    }
    let listed: Vec<&str> = users.iter().map(|u| u["user"].as_str().unwrap()).collect();
    assert_eq!(listed, order);
    for u in users {
        let one = single(u["user"].as_str().unwrap());
        assert_eq!((&u["rated"], &u["items"]), (&one["rated"], &one["items"]));
    }
    // CSV: one line per item, the same lists, the same on a second run.
    let args = [
        "recommend",
        "--model",
        &m,
        "--all-users",
        "-n",
        "3",
        "--format",
        "csv",
        "--items",
    ];
    let run = || {
        let mut a = args.to_vec();
        let items = fixture("items.csv");
        a.push(&items);
        cnmf(&a).expect(0).stdout
    };
    let csv = run();
    assert_eq!(csv, run());
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("user,rank,item,prediction,score,title"));
    let rows: Vec<&str> = lines.collect();
    let n_items: usize = users
        .iter()
        .map(|u| u["items"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows.len(), n_items);
    let first = &users[0]["items"][0];
    let item = first["item"].as_str().unwrap();
    let quoted = if item.contains(',') {
        format!("\"{item}\"")
    } else {
        item.to_string()
    };
    let rest = rows[0]
        .strip_prefix(&format!("{},1,{quoted},", order[0]))
        .unwrap_or_else(|| panic!("{}", rows[0]));
    let nums: Vec<f64> = rest
        .split(',')
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(nums[0], first["prediction"].as_f64().unwrap());
    assert_eq!(nums[1], first["score"].as_f64().unwrap());
    // --all-users excludes --user; --format needs --all-users.
    cnmf(&["recommend", "--model", &m, "--all-users", "--user", "u02"]).expect(2);
    let csv_only = ["--format", "csv"];
    cnmf(
        &[
            &["recommend", "--model", &m, "--user", "u02"][..],
            &csv_only,
        ]
        .concat(),
    )
    .expect(2);
    cnmf(&["recommend", "--model", &m]).expect(2);
}

/// `--precision f32` (flag or `--params` key) fits in f32: the model records it (an f64 model
/// has no such key, as before the option), reads back, and differs from the f64 model; the
/// same f32 model comes out for 1 and 2 threads.
#[test]
fn precision_f32_is_recorded_and_deterministic() {
    let dir = tmp();
    let wide = fit_fixture(dir.path(), "f64.cnmf", &[]);
    let narrow = fit_fixture(
        dir.path(),
        "f32.cnmf",
        &["--precision", "f32", "--threads", "1"],
    );
    let narrow2 = fit_fixture(
        dir.path(),
        "f32b.cnmf",
        &["--precision", "f32", "--threads", "2"],
    );
    let settings = dir.path().join("settings.json");
    std::fs::write(&settings, r#"{"precision": "f32"}"#).unwrap();
    let from_file = fit_fixture(
        dir.path(),
        "f32c.cnmf",
        &["--params", settings.to_str().unwrap(), "--threads", "1"],
    );
    let bytes = |p: &str| std::fs::read(p).unwrap();
    assert!(common::find(&bytes(&wide), b"precision").is_none());
    assert!(common::find(&bytes(&narrow), b"precision").is_some());
    // The files also hold the fit's time and the data's path: compare the factors.
    let factors = |p: &str| {
        let b = bytes(p);
        ["W", "H"].map(|t| b[tensor_range(&b, t)].to_vec())
    };
    assert_eq!(
        factors(&narrow),
        factors(&narrow2),
        "f32 factors depend on --threads"
    );
    assert_eq!(
        factors(&narrow),
        factors(&from_file),
        "--params precision differs from the flag"
    );
    assert_ne!(factors(&narrow), factors(&wide));
    let r = cnmf(&[
        "predict", "--model", &narrow, "--user", "u01", "--item", "a01", "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
