//! `cnmf tune` and `cnmf fit --params`, and the defaults they share with `fit`: early stopping
//! on a validation split, then a refit. Small grids on the made-up fixture.

use crate::common;

use common::{cnmf, fixture};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `tune --json`'s results without the timings, which differ from run to run.
fn untimed(j: &serde_json::Value) -> serde_json::Value {
    let mut rows = j["results"].clone();
    for r in rows.as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("fit_seconds");
    }
    rows
}

/// A small tune run's arguments (2 x 2 grid, 3 folds, a low budget) plus `extra`.
fn tune_args(extra: &[&str]) -> Vec<String> {
    let data = fixture("ratings.csv");
    let mut args: Vec<String> = [
        "tune", "--data", &data, "--rank", "2,3", "--l2", "0,0.1", "--folds", "3", "--iters", "60",
        "--seed", "4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn fit_early_stops_and_refits_by_default() {
    let dir = tmp();
    let model = dir.path().join("m.cnmf");
    let data = fixture("ratings.csv");
    let args = ["fit", "--data", &data, "--k", "2", "--iters", "300", "-o"];
    let r = cnmf(&[&args[..], &[model.to_str().unwrap(), "--json"]].concat()).expect(0);
    let j = r.json();
    let e = &j["early_stopping"];
    // 10% of the fixture's 303 ratings held out for validation.
    assert_eq!(e["validation_ratings"], 30, "{j}");
    let best = e["best_iteration"].as_u64().unwrap();
    assert!((1..=300).contains(&best), "{j}");
    assert_eq!(e["refit"], true);
    // The model is the refit on all the data, for the best number of iterations.
    assert_eq!(j["iterations"].as_u64().unwrap(), best.max(11), "{j}");
    assert_eq!(j["l2"], 0.1);
    assert_eq!(j["l2_per_rating"], true);
    // The same seed gives the same fit, bit for bit.
    let again = dir.path().join("m2.cnmf");
    let r = cnmf(&[&args[..], &[again.to_str().unwrap(), "--json"]].concat()).expect(0);
    let k = r.json();
    assert_eq!(k["early_stopping"], j["early_stopping"]);
    assert_eq!(k["objective"], j["objective"]);
    assert_eq!(k["flagged"], j["flagged"]);
    // --no-early-stopping runs the whole budget on all the data.
    let r = cnmf(
        &[
            &args[..],
            &[model.to_str().unwrap(), "--json", "--no-early-stopping"],
        ]
        .concat(),
    )
    .expect(0);
    let j = r.json();
    assert!(j["early_stopping"].is_null(), "{j}");
    assert_eq!(j["iterations"], 300);
    // Bad early-stopping options are usage errors.
    for (flag, value) in [("--validation-fraction", "1"), ("--patience", "0")] {
        let r = cnmf(&[&args[..], &[model.to_str().unwrap(), flag, value]].concat()).expect(2);
        assert!(r.stderr.contains(flag), "{}", r.stderr);
    }
}

#[test]
fn tune_prints_a_table_and_writes_settings_fit_accepts() {
    let dir = tmp();
    let best = dir.path().join("best.json");
    let best_s = best.to_str().unwrap();
    let r = cnmf(&tune_args(&["-o", best_s])).expect(0);
    assert!(r.stdout.contains("best by RMSE"), "{}", r.stdout);
    assert_eq!(
        r.stdout.matches("ignore-corrupt").count(),
        5,
        "{}",
        r.stdout
    );
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&best).unwrap()).unwrap();
    assert_eq!(settings["algo"], "ignore-corrupt");
    // JSON: every setting, the best one among them, and the file's settings are the best's.
    let r = cnmf(&tune_args(&["--json"])).expect(0);
    let j = r.json();
    let rows = j["results"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let min = rows
        .iter()
        .map(|r| r["rmse"]["mean"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(j["best"]["rmse"]["mean"].as_f64().unwrap(), min);
    assert_eq!(j["best"]["rank"], settings["rank"]);
    assert_eq!(j["best"]["l2"], settings["l2"]);
    // Deterministic for a seed.
    assert_eq!(
        untimed(&cnmf(&tune_args(&["--json"])).expect(0).json()),
        untimed(&j)
    );
    // fit --params uses the file; flags on the command line override it.
    let model = dir.path().join("m.cnmf");
    let data = fixture("ratings.csv");
    let fit = ["fit", "--data", &data, "--params", best_s, "-o"];
    let r = cnmf(&[&fit[..], &[model.to_str().unwrap(), "--json"]].concat()).expect(0);
    assert_eq!(r.json()["k"], settings["rank"]);
    let other = if settings["rank"] == 2 { "3" } else { "2" };
    let r =
        cnmf(&[&fit[..], &[model.to_str().unwrap(), "--json", "--k", other]].concat()).expect(0);
    assert_eq!(r.json()["k"].to_string(), other);
}

#[test]
fn tune_searches_algorithms_and_thresholds_and_samples() {
    let args = tune_args(&[
        "--algo",
        "ignore-missing,ignore-corrupt",
        "--lambda",
        "2,4",
        "--json",
    ]);
    let j = cnmf(&args).expect(0).json();
    let rows = j["results"].as_array().unwrap();
    // ignore-missing uses no threshold: 4 settings; ignore-corrupt 4 x 2 lambdas.
    assert_eq!(rows.len(), 12, "{j}");
    assert_eq!(
        rows.iter()
            .filter(|r| r["algo"] == "ignore-missing" && r["lambda_used"].is_null())
            .count(),
        4
    );
    // --sample draws a seeded subset of the grid.
    let mut sampled = args.clone();
    sampled.extend(["--sample".to_string(), "3".to_string()]);
    let s = cnmf(&sampled).expect(0).json();
    assert_eq!(s["results"].as_array().unwrap().len(), 3);
    assert_eq!(s["grid_size"], 12);
    assert_eq!(untimed(&cnmf(&sampled).expect(0).json()), untimed(&s));
}

#[test]
fn invalid_grids_and_settings_files_are_refused_before_work() {
    let dir = tmp();
    let cases: &[(&[&str], &str)] = &[
        (&["--rank", "0"], "k"),
        (&["--l2", "-1"], "l2"),
        (&["--lambda", "0"], "lambda"),
        (&["--algo", "ignore,guarded"], "ignore"),
        (&["--folds", "1"], "--folds"),
        (&["--rank", "99"], "min(users, items)"),
    ];
    for (extra, word) in cases {
        let mut args = tune_args(&[]);
        // The case's list replaces the default one.
        if let Some(pos) = args.iter().position(|a| a == extra[0]) {
            args.drain(pos..pos + 2);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let r = cnmf(&args).expect(2);
        assert!(r.stderr.contains(word), "{extra:?}: {}", r.stderr);
    }
    // A repeated value, and a bad grid with a missing file: usage error, not data error.
    let r = cnmf(&tune_args(&["--algo", "guarded,guarded"])).expect(2);
    assert!(r.stderr.contains("twice"), "{}", r.stderr);
    let r = cnmf(&["tune", "--data", "/no/such/file", "--rank", "2,0"]).expect(2);
    assert!(r.stderr.contains("k=0"), "{}", r.stderr);
    // Settings files: unknown keys and wrong types name the file.
    let data = fixture("ratings.csv");
    let model = dir.path().join("m.cnmf");
    for (text, word) in [
        (r#"{"rank": 2, "colour": "blue"}"#, "colour"),
        (r#"{"rank": "two"}"#, "rank"),
        (r#"[2]"#, "object"),
        (r#"{"lambda": 2, "sigma": 1}"#, "not both"),
    ] {
        let file = dir.path().join("settings.json");
        std::fs::write(&file, text).unwrap();
        let r = cnmf(&[
            "fit",
            "--data",
            &data,
            "--params",
            file.to_str().unwrap(),
            "-o",
            model.to_str().unwrap(),
        ])
        .expect(2);
        assert!(
            r.stderr.contains("settings.json") && r.stderr.contains(word),
            "{text}: {}",
            r.stderr
        );
    }
}
