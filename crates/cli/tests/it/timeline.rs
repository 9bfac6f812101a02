//! `cnmf flagged --item X`: an item's ratings over time with the share flagged per period.

use std::fmt::Write as _;

use crate::common::{cnmf, fixture};

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
    let data = dir.path().join("ratings.csv");
    std::fs::write(&data, bombed_csv()).unwrap();
    let model = dir.path().join("m.cnmf");
    let (data, model) = (data.to_str().unwrap(), model.to_str().unwrap());
    cnmf(&[
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
        "--quiet",
    ])
    .expect(0);
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
