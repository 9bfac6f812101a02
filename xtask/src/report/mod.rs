//! REPRODUCTION.md: the tables beside the paper's, the verdicts, detection, the hit ratio at 10
//! and user-level detection, the regularised block, the sweeps, the evidence behind the
//! defaults, and the plots.
//!
//! [`markdown`] writes the sections in order, one function each: `paper.rs` holds the paper's
//! block, `beyond.rs` what the paper did not run, `evidence.rs` the defaults, convergence and
//! timings. The cell formats the sections share stay here.

mod beyond;
mod defence;
mod evidence;
mod paper;
mod robustness;

use std::fmt::Write;

use cnmf_metrics::MeanSd;

use crate::json::Document;
use crate::records::NoiseModel;
use crate::summary::{DetectionSummary, MethodSummary};

pub use paper::{control_table, table1, table2};

/// File names of the plots that were drawn (relative to the report).
#[derive(Debug, Clone, Default)]
pub struct PlotIndex {
    /// Calibration curves (validation NMAE vs iteration).
    pub calibration: Option<String>,
    /// Loss and test NMAE vs iteration.
    pub convergence: Option<String>,
    /// MAPS vs attack size.
    pub attack_size: Option<String>,
    /// NMAE and MAPS vs lambda.
    pub lambda: Option<String>,
    /// Test NMAE vs elapsed time.
    pub time_to_accuracy: Option<String>,
}

/// Confidence level of every interval in the tables.
pub const CELL_LEVEL: f64 = 0.95;

/// What a table cell holds, for the headings: "mean [95% interval] over N repetitions".
pub fn cells(n: usize) -> String {
    format!(
        "mean [95% Student-t interval of the mean] over {n} repetitions; standard deviations \
         in reproduce.json"
    )
}

/// `mean [low, high]` (the 95% Student-t interval of the mean) with 4 decimals; just the mean
/// when there is a single value.
pub fn fmt_ms(m: &MeanSd) -> String {
    match m.ci(CELL_LEVEL) {
        Ok(Some(ci)) => format!("{:.4} [{:.4}, {:.4}]", m.mean, ci.low, ci.high),
        Ok(None) => format!("{:.4}", m.mean),
        Err(e) => format!("{:.4} (no interval: {e})", m.mean),
    }
}

/// Writes a Markdown table's header row and separator.
fn header_row<S: AsRef<str>>(s: &mut String, cols: &[S]) {
    s.push('|');
    for c in cols {
        let _ = write!(s, " {} |", c.as_ref());
    }
    s.push_str("\n|");
    for _ in cols {
        s.push_str("---|");
    }
    s.push('\n');
}

/// The common table of a block: one row per method with NMAE under Models 1, 2 and MAPS under
/// Models 3, 4; `first` heads the method column.
fn nmae_maps_table(s: &mut String, first: &str, rows: &[MethodSummary]) {
    header_row(
        s,
        &[
            first,
            "NMAE Model 1",
            "NMAE Model 2",
            "MAPS Model 3",
            "MAPS Model 4",
        ],
    );
    for m in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            m.method,
            fmt_ms(&m.nmae[0]),
            fmt_ms(&m.nmae[1]),
            fmt_ms(&m.maps[0]),
            fmt_ms(&m.maps[1])
        );
    }
}

/// The distinct strings of `items`, in first-seen order.
fn distinct<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for x in items {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn fmt_opt(m: &Option<MeanSd>) -> String {
    m.as_ref().map_or("n/a".to_string(), fmt_ms)
}

fn detection_rows(s: &mut String, rows: &[MethodSummary]) {
    s.push_str(
        "| algorithm | model | precision | recall | recall: target ratings | recall: filler ratings | flagged | injected or changed |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let models = [
        NoiseModel::RandomNoise,
        NoiseModel::LowKnowledge,
        NoiseModel::Informed,
    ];
    for m in rows {
        let Some(d) = &m.detection else { continue };
        for (model, d) in models.iter().zip(d.iter()) {
            detection_row(s, &m.method, model.label(), d);
        }
    }
}

fn detection_row(s: &mut String, method: &str, label: &str, d: &DetectionSummary) {
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |",
        method,
        label,
        fmt_opt(&d.precision),
        fmt_opt(&d.recall),
        fmt_opt(&d.target_recall),
        fmt_opt(&d.filler_recall),
        d.flagged.mean,
        d.positives.mean
    );
}

/// The whole report.
pub fn markdown(doc: &Document<'_>, plots: &PlotIndex) -> String {
    let mut s = String::new();
    paper::header(&mut s, doc);
    paper::settings(&mut s, doc);
    paper::tables(&mut s, doc);
    robustness::clipping(&mut s, doc);
    paper::null_control(&mut s, doc);
    paper::verdicts(&mut s, doc);
    robustness::budgets(&mut s, doc);
    robustness::bands(&mut s, doc);
    paper::more_figures(&mut s, doc);
    paper::detection(&mut s, doc);
    paper::hit_ratio_and_users(&mut s, doc);
    beyond::regularised(&mut s, doc);
    beyond::recipe(&mut s, doc);
    beyond::other_methods(&mut s, doc);
    robustness::more_attacks(&mut s, doc);
    defence::defence(&mut s, doc);
    beyond::attack_size_sweep(&mut s, doc, plots);
    robustness::paper_gap(&mut s, doc);
    beyond::filler_sweep(&mut s, doc);
    beyond::lambda_sweep(&mut s, doc, plots);
    evidence::defaults(&mut s, doc, plots);
    evidence::convergence(&mut s, doc, plots);
    evidence::timings(&mut s, doc);
    s
}
