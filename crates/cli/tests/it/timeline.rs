//! `cnmf flagged --item X`: an item's ratings over time with the share flagged per period.

use std::fmt::Write as _;

use crate::common::{cnmf, fit_fixture, fixture};

/// 60 users rating 8 items over 40 days with a low-rank pattern, then 12 of them bombing
/// item `i3` with 1 star on day 50.
fn bombed_csv() -> String {
    let mut s = String::from("user,item,rating,timestamp\n");
    let day = 86_400i64;
    for u in 0..60 {
        for i in 0..8 {
            let bomb = i == 3 && u < 12;
            let (r, t) = if bomb {
                (1, 50 * day + u as i64 * 60)
            } else {
                (3 + (u + i) % 3, ((u * 7 + i * 3) % 40) as i64 * day + 3600)
            };
            let _ = writeln!(s, "u{u},i{i},{r},{t}");
        }
    }
    s
}

#[test]
fn an_items_timeline_shows_the_bomb() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = bombed_model(dir.path());
    let (data, model) = (data.as_str(), model.as_str());
    let j = cnmf(&[
        "flagged", "--model", model, "--item", "i3", "--period", "day", "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(j["item"], "i3");
    assert_eq!(j["ratings"], 60);
    let rows = j["rows"].as_array().unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last["period"], "1970-02-20"); // day 50
    assert_eq!(last["ratings"], 12);
    assert_eq!(last["mean_rating"], 1.0);
    // The bomb's day is flagged far more than the item's history.
    let earlier: u64 = rows[..rows.len() - 1]
        .iter()
        .map(|r| r["flagged"].as_u64().unwrap())
        .sum();
    let share = last["flagged_share"].as_f64().unwrap();
    let before = earlier as f64 / 48.0;
    assert!(
        share >= 0.75 && share > 2.0 * before,
        "bomb day {share}, history {before}"
    );
    // The training file recorded in the model is the default; text output too.
    let text = cnmf(&[
        "flagged", "--model", model, "--item", "i3", "--period", "week",
    ])
    .expect(0);
    assert!(
        text.stdout.contains("item i3: 60 ratings"),
        "{}",
        text.stdout
    );
    // Errors: an unknown item, data without timestamps, --data without --item.
    cnmf(&["flagged", "--model", model, "--item", "nope"])
        .expect(5)
        .stderr_has(&["nope"]);
    cnmf(&[
        "flagged",
        "--model",
        model,
        "--item",
        "i3",
        "--data",
        &fixture("ratings.csv"),
    ])
    .expect(3)
    .stderr_has(&["no timestamps"]);
    cnmf(&["flagged", "--model", model, "--data", data]).expect(2);
}

/// `cnmf fit --keep-times` stores the ratings with their timestamps: the timeline and the page
/// need no training file, and show what they show with it.
#[test]
fn a_model_that_keeps_times_needs_no_training_file() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = bombed_model(dir.path());
    let kept = dir.path().join("kept.cnmf");
    let kept = kept.to_str().unwrap();
    let fit = fit_bombed(&data, kept, &["--keep-times", "--json"])
        .expect(0)
        .json();
    assert_eq!(fit["keeps_times"], true);
    let query = |m: &str| {
        cnmf(&[
            "flagged", "--model", m, "--item", "i3", "--period", "day", "--json",
        ])
        .expect(0)
        .json()
    };
    let from_file = query(&model);
    std::fs::remove_file(&data).unwrap();
    let from_model = query(kept);
    assert_eq!(from_model["rows"], from_file["rows"]);
    assert_eq!(from_model["flagged"], from_file["flagged"]);
    assert!(
        from_model["data"].as_str().unwrap().contains("the model"),
        "{from_model}"
    );
    // Without stored times and without the file: a usage error saying both ways out.
    cnmf(&["flagged", "--model", &model, "--item", "i3"])
        .expect(2)
        .stderr_has(&["--keep-times", "--data"]);
    let page = dir.path().join("kept.html");
    cnmf(&[
        "flagged",
        "--model",
        kept,
        "--html",
        page.to_str().unwrap(),
        "--top",
        "1",
    ])
    .expect(0)
    .stderr_has(&["1 timelines"]);
    // Data without timestamps: refused before the fit.
    cnmf(&[
        "fit",
        "--data",
        &fixture("ratings.csv"),
        "--keep-times",
        "-o",
        dir.path().join("x.cnmf").to_str().unwrap(),
    ])
    .expect(3)
    .stderr_has(&["--keep-times needs timestamps"]);
}

/// Fits the bombed ratings into `dir`; returns (data, model) paths.
fn bombed_model(dir: &std::path::Path) -> (String, String) {
    let data = dir.join("ratings.csv");
    std::fs::write(&data, bombed_csv()).unwrap();
    let model = dir.join("m.cnmf");
    let (data, model) = (
        data.to_str().unwrap().to_string(),
        model.to_str().unwrap().to_string(),
    );
    fit_bombed(&data, &model, &["--quiet"]).expect(0);
    (data, model)
}

/// `cnmf fit` of the bombed ratings `data` into `model` (k = 2, 60 iterations, lambda 1), with
/// `extra` options.
fn fit_bombed(data: &str, model: &str, extra: &[&str]) -> crate::common::Run {
    let mut args = vec![
        "fit",
        "--data",
        data,
        "--k",
        "2",
        "--iters",
        "60",
        "--no-early-stopping",
        "--lambda",
        "1",
        "-o",
        model,
    ];
    args.extend_from_slice(extra);
    cnmf(&args)
}

#[test]
fn the_html_report_is_one_page_with_timelines() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model) = bombed_model(dir.path());
    let page = dir.path().join("report.html");
    let page_s = page.to_str().unwrap();
    cnmf(&[
        "flagged", "--model", &model, "--html", page_s, "--top", "2", "--period", "day",
    ])
    .expect(0)
    .stderr_has(&["wrote", "2 timelines"]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for want in [
        "id=\"item-i3\"",
        "id=\"timeline-i3\"",
        "id=\"items\"",
        "id=\"users\"",
        "class=\"flagged\"",
    ] {
        assert!(html.contains(want), "{want} missing");
    }
    // Self-contained: no script, and no address but the SVG namespace.
    assert!(!html.contains("<script"));
    assert!(html
        .replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
        .find("://")
        .is_none());
    // Without timestamps: the page still, with a note saying why there is no timeline.
    let plain = fit_fixture(dir.path(), "plain.cnmf", &[]);
    let page2 = dir.path().join("plain.html");
    cnmf(&[
        "flagged",
        "--model",
        &plain,
        "--html",
        page2.to_str().unwrap(),
    ])
    .expect(0)
    .stderr_has(&["no timelines", "no timestamps"]);
    assert!(std::fs::read_to_string(&page2)
        .unwrap()
        .contains("class=\"note\""));
    // --html and --item are one or the other.
    cnmf(&[
        "flagged", "--model", &model, "--html", page_s, "--item", "i3",
    ])
    .expect(2);
}

/// The page opened in headless Chromium (Debian's `chromium` package; `.ci/run` installs it):
/// the DOM has the timelines and tables, and the page logs nothing to the console.
#[test]
#[ignore = "needs Chromium: apt-get install chromium"]
fn the_html_report_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model) = bombed_model(dir.path());
    let page = dir.path().join("report.html");
    cnmf(&[
        "flagged",
        "--model",
        &model,
        "--html",
        page.to_str().unwrap(),
        "--period",
        "day",
    ])
    .expect(0);
    let profile = tempfile::tempdir().unwrap();
    let run = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (apt-get install chromium)");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dom = String::from_utf8_lossy(&run.stdout);
    for want in [
        "id=\"timeline-i3\"",
        "<table id=\"items\"",
        "<table id=\"users\"",
        "<rect class=\"flagged\"",
    ] {
        assert!(dom.contains(want), "{want} missing from the rendered DOM");
    }
    let stderr = String::from_utf8_lossy(&run.stderr);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE(")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
}
