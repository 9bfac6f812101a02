//! The report's closing sections: the evidence behind the defaults (lambda, iterations, L2),
//! convergence and time to accuracy, and the timings.

use std::fmt::Write;

use super::PlotIndex;
use crate::json::Document;

/// Writes "Why these defaults: the evidence": lambda, the iteration budget and the L2 grid.
pub(super) fn defaults(s: &mut String, doc: &Document<'_>, plots: &PlotIndex) {
    let _ = writeln!(s, "\n## Why these defaults: the evidence\n");
    lambda_evidence(s, doc);
    iterations_evidence(s, doc, plots);
    l2_evidence(s, doc);
}

/// Writes the lambda bullet: how the noise model gave it, when it did.
fn lambda_evidence(s: &mut String, doc: &Document<'_>) {
    let st = doc.settings;
    if let Some(sig) = &doc.calibration.sigma {
        let _ = writeln!(
            s,
            "- **lambda**: the paper does not state it. The noise model (spec section 4) \
             marks a rating corrupt when its Gaussian density under N(prediction, sigma^2) \
             falls below p. sigma is estimated as the typical residual of a clean rating: the \
             validation RMSE of ignore-missing at its best iteration ({}), sigma = {:.4}; with \
             p = 0.05 (a prior of 5% corrupt ratings) lambda = 2 sigma^2 (-ln(sigma sqrt(2 pi)) \
             - ln p) = {:.4}, i.e. a rating is flagged when it is more than {:.2} stars from its \
             prediction. The lambda sweep above shows what other values do.",
            sig.best_iteration,
            sig.sigma,
            st.lambda,
            st.lambda.sqrt()
        );
    } else {
        let _ = writeln!(
            s,
            "- **lambda** = {:.4}: {}.",
            st.lambda, doc.calibration.lambda_note
        );
    }
}

/// Writes the iterations bullet: the calibration grid, each algorithm's best and their plot.
fn iterations_evidence(s: &mut String, doc: &Document<'_>, plots: &PlotIndex) {
    let st = doc.settings;
    if !doc.calibration.grid_scores.is_empty() {
        let _ = writeln!(
            s,
            "- **Iterations**: the paper gave every algorithm the same time, without saying \
             how much. Unregularised multiplicative updates overfit, and not at the same speed: \
             the ignore variants fit the observed ratings directly, the replace variants shrink \
             towards the current prediction. Each algorithm's own best iteration on the \
             calibration split is listed below; where they differ, one budget for all is a \
             compromise. Budget used: {}. Validation NMAE averaged over the paper's five algorithms, \
             from the same initial factors:\n",
            doc.calibration.iters_note
        );
        s.push_str("| iterations | mean validation NMAE |\n|---|---|\n");
        for (t, v) in &doc.calibration.grid_scores {
            let mark = if *t == st.iters { " (used)" } else { "" };
            let _ = writeln!(s, "| {t}{mark} | {v:.4} |");
        }
        s.push_str("\nEach algorithm's own best on the calibration split:\n\n| algorithm | best iteration | validation NMAE |\n|---|---|---|\n");
        for (m, t, v) in &doc.calibration.per_method_best {
            let _ = writeln!(s, "| {m} | {t} | {v:.4} |");
        }
        if let Some(f) = &plots.calibration {
            let _ = writeln!(
                s,
                "\n![Calibration: validation NMAE against iterations]({f})"
            );
        }
    } else {
        let _ = writeln!(s, "- **Iterations**: {}.", doc.calibration.iters_note);
    }
}

/// Writes the L2 table of the regularised block's calibration, when there was one.
fn l2_evidence(s: &mut String, doc: &Document<'_>) {
    if !doc.calibration.l2.is_empty() {
        s.push_str("\n- **L2 penalties** of the regularised block (best validation NMAE under early stopping; the iteration it was reached at):\n\n");
        s.push_str("| algorithm | ");
        for t in &doc.calibration.l2[0].tried {
            let _ = write!(s, "L2 = {} | ", t.l2);
        }
        s.push_str("chosen |\n|---|");
        for _ in &doc.calibration.l2[0].tried {
            s.push_str("---|");
        }
        s.push_str("---|\n");
        for ch in &doc.calibration.l2 {
            let _ = write!(s, "| {} | ", ch.method);
            for t in &ch.tried {
                let _ = write!(s, "{:.4} (it. {}) | ", t.validation_nmae, t.best_iteration);
            }
            let _ = writeln!(s, "{} |", ch.chosen);
        }
    }
}

/// Writes "Convergence and time to accuracy": each algorithm's trace on repetition 0 and the
/// two plots.
pub(super) fn convergence(s: &mut String, doc: &Document<'_>, plots: &PlotIndex) {
    let st = doc.settings;
    let _ = writeln!(s, "\n## Convergence and time to accuracy\n");
    let _ = writeln!(
        s,
        "Repetition 0's Model 1 data and initial factors; each algorithm alone on the machine \
         ({} worker threads), traced for {} iterations (the main budget is marked). Test NMAE \
         is evaluated each iteration for the plot only; nothing steers on it.\n",
        doc.machine.threads,
        doc.time_to_accuracy
            .first()
            .map_or(0, |t| t.test_nmae.len().saturating_sub(1))
    );
    s.push_str("| algorithm | NMAE at the main budget | best NMAE (iteration, seconds) | seconds per iteration |\n|---|---|---|---|\n");
    for t in doc.time_to_accuracy {
        let at = match t.test_nmae.get(st.iters) {
            Some(v) if st.time_budget.is_none() => format!("{v:.4}"),
            _ => "n/a".to_string(),
        };
        let (bi, bv) = t
            .test_nmae
            .iter()
            .copied()
            .enumerate()
            .skip(1)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, f64::NAN));
        let n = t.elapsed_secs.len().saturating_sub(1).max(1);
        let per = (t.elapsed_secs.last().copied().unwrap_or(0.0)
            - t.elapsed_secs.first().copied().unwrap_or(0.0))
            / n as f64;
        let _ = writeln!(
            s,
            "| {} | {} | {:.4} ({}, {:.2} s) | {:.4} |",
            t.method, at, bv, bi, t.elapsed_secs[bi], per
        );
    }
    if let Some(f) = &plots.convergence {
        let _ = writeln!(
            s,
            "\n![Training loss and test NMAE against iterations]({f})"
        );
    }
    if let Some(f) = &plots.time_to_accuracy {
        let _ = writeln!(s, "\n![Test NMAE against elapsed time]({f})");
    }
}

/// Writes "Timings" per phase and where the full record is.
pub(super) fn timings(s: &mut String, doc: &Document<'_>) {
    let st = doc.settings;
    let t = &doc.timings;
    let _ = writeln!(
        s,
        "\n## Timings\n\n| phase | seconds |\n|---|---|\n| load data | {:.2} |\n| calibration | \
         {:.2} |\n| repetitions (paper block, regularised block, extra methods, sweeps) | {:.2} |\n| \
         time to accuracy | {:.2} |\n| summary, plots, report | {:.2} |\n| **total** | {:.2} |\n\n\
         Measured on a machine shared with other work; the figures above do not depend on \
         timing{}.",
        t.load_secs,
        t.calibration_secs,
        t.repetitions_secs,
        t.time_to_accuracy_secs,
        t.report_secs,
        t.total_secs,
        if st.time_budget.is_some() {
            " (except here: a wall-clock budget makes them depend on the machine and its load)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "\nEvery figure of every repetition, with the configuration, is in `reproduce.json`."
    );
}
