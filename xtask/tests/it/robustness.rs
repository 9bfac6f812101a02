//! End-to-end checks of the report's robustness sections on the tiny data set: the other
//! budgets carry every verdict and the stability column agrees with them, the attacks beyond
//! the paper cover every algorithm and their table holds the JSON's numbers, raw MAPS is never
//! below clipped MAPS, the target bands partition the repetitions, and the filler sweep and the
//! paper-gap section are written.

use serde_json::Value;

use crate::reproduce::{check_cell, run_tiny, table_after, write_tiny_data};

fn array(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

#[test]
fn robustness_sections_hold_the_json_figures() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_tiny_data(dir.path());
    let out = dir.path().join("results");
    let (_, json) = run_tiny(&data, &out, &[]);
    let md = std::fs::read_to_string(out.join("REPRODUCTION.md")).unwrap();
    let reps = array(&json["repetitions"]);
    let summary = &json["summary"];
    let methods: Vec<&str> = array(&reps[0]["paper"])
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();

    // Two other budgets, each with the main block's verdicts, and the stability column.
    let budgets = array(&summary["budgets"]);
    assert_eq!(budgets.len(), 2);
    let main: Vec<&Value> = array(&summary["verdicts"]).iter().collect();
    let table = table_after(&md, "## Do the verdicts hold at other budgets?");
    assert_eq!(table.len(), main.len());
    for (row, v) in table.iter().zip(&main) {
        assert_eq!(row[0], v["short"].as_str().unwrap());
        assert_eq!(row[1], v["verdict"].as_str().unwrap());
        let mut all_same = true;
        for (b, cell) in budgets.iter().zip(&row[2..]) {
            let other = array(&b["verdicts"])
                .iter()
                .find(|x| x["id"] == v["id"])
                .unwrap();
            assert_eq!(cell, other["verdict"].as_str().unwrap(), "{row:?}");
            all_same &= other["verdict"] == v["verdict"];
        }
        assert_eq!(row.last().unwrap(), if all_same { "yes" } else { "**no**" });
    }
    for r in reps {
        let b = array(&r["budgets"]);
        assert_eq!(b.len(), 2);
        // The long budget runs the paper's algorithms to the end of their iterations.
        for m in array(&b[0]["methods"]) {
            assert_eq!(m["clean"]["iterations"], 40, "--quick's long budget");
        }
    }

    // Every attack beyond the paper on every algorithm, in every repetition.
    let attacks = [
        "push-low-knowledge",
        "push-informed",
        "average",
        "bandwagon",
        "adaptive",
        "unpopular-target",
        "push-informed-spread",
        "adaptive-spread",
    ];
    for r in reps {
        let recs = array(&r["more_attacks"]);
        assert_eq!(recs.len(), attacks.len() * methods.len());
        for (i, rec) in recs.iter().enumerate() {
            assert_eq!(rec["attack"], attacks[i / methods.len()]);
            assert_eq!(rec["method"], methods[i % methods.len()]);
        }
    }
    let rows = table_after(&md, "MAPS:\n");
    assert_eq!(rows.len(), methods.len());
    let more = array(&summary["more_attacks"]);
    for row in &rows {
        for (col, attack) in attacks.iter().enumerate() {
            let s = more
                .iter()
                .find(|s| s["attack"] == *attack && s["method"] == row[0].as_str())
                .unwrap();
            check_cell(&row[col + 1], &s["maps"]);
        }
    }

    // Raw MAPS is never below clipped MAPS, in any fit that has a shift.
    for r in reps {
        let fits = array(&r["paper"])
            .iter()
            .flat_map(|m| [&m["low_knowledge"], &m["informed"]])
            .chain(array(&r["more_attacks"]).iter().map(|a| &a["fit"]));
        for f in fits {
            let s = &f["shift"];
            let (raw, clipped) = (
                s["maps_unclipped"].as_f64().unwrap(),
                s["maps"].as_f64().unwrap(),
            );
            assert!(raw >= clipped - 1e-12, "{s}");
        }
    }
    assert!(md.contains("### MAPS on clipped and on raw predictions"));

    // The bands of each kind partition the repetitions (per algorithm).
    let bands = array(&summary["bands"]);
    for kind in ["mean rating", "popularity"] {
        let targets: u64 = bands
            .iter()
            .filter(|b| b["kind"] == kind && b["method"] == methods[0])
            .map(|b| b["targets"].as_u64().unwrap())
            .sum();
        assert_eq!(targets, reps.len() as u64, "{kind}");
    }

    // The filler sweep (--quick: 5 and 19 filler items) and the paper-gap section.
    let filler = table_after(&md, "## Sweep: MAPS against the filler size");
    assert_eq!(filler.len(), 2 * methods.len());
    assert_eq!(array(&summary["filler"]).len(), filler.len());
    assert!(md.contains("## How far from the paper, and why"));
}
