//! The report's sections beyond the paper: the regularised block, the recommended
//! configuration, other methods and the
//! sweeps (attack size, filler size, lambda). Each writes nothing when its part of the run was skipped.

use std::fmt::Write;

use cnmf_metrics::MeanSd;

use super::{detection_rows, fmt_ms, fmt_opt, PlotIndex};
use crate::json::Document;

/// Repetitions the sweeps ran in (the first few of the run).
fn swept_reps(doc: &Document<'_>) -> usize {
    doc.repetitions
        .iter()
        .filter(|r| r.sweeps.is_some())
        .count()
}

/// Writes "Beyond the paper: L2 regularisation and validation early stopping".
pub(super) fn regularised(s: &mut String, doc: &Document<'_>) {
    let c = doc.config;
    let st = doc.settings;
    let sum = doc.summary;
    if sum.regularised.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Beyond the paper: L2 regularisation and validation early stopping\n\n\
         Every algorithm with the engine's L2 penalty (l2_w = l2_h, chosen per algorithm \
         on the calibration split from the grid {:?}) and early stopping (patience {}, at \
         most {} iterations) on a clean {:.0}% validation split of each repetition's \
         training set (carved out before noise or attacks are applied, so the model is fit \
         on 81% of the ratings). Same initial factors, targets and test sets as above; \
         mean [95% interval] over the first {} repetitions.\n",
        c.protocol.l2_grid,
        c.protocol.patience,
        c.protocol.regularised_max_iters,
        100.0 * st.validation_fraction,
        doc.repetitions
            .iter()
            .filter(|r| !r.regularised.is_empty())
            .count()
    );
    s.push_str(
        "| algorithm | L2 | NMAE Model 1 | NMAE Model 2 | MAPS Model 3 | MAPS Model 4 | iterations (Model 1) |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for m in &sum.regularised {
        let l2 = doc
            .calibration
            .l2
            .iter()
            .find(|x| x.method == m.method)
            .map_or(f64::NAN, |x| x.chosen);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {:.1} |",
            m.method,
            l2,
            fmt_ms(&m.nmae[0]),
            fmt_ms(&m.nmae[1]),
            fmt_ms(&m.maps[0]),
            fmt_ms(&m.maps[1]),
            m.iterations.mean
        );
    }
    let _ = writeln!(s, "\nDetection in the regularised block:\n");
    detection_rows(s, &sum.regularised);
}

/// Writes "The recommended configuration": the clean fits made as `cnmf fit` makes them.
pub(super) fn recipe(s: &mut String, doc: &Document<'_>) {
    let runs: Vec<_> = doc
        .repetitions
        .iter()
        .filter(|r| !r.recipe.is_empty())
        .collect();
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n## The recommended configuration: `cnmf fit`'s defaults\n\n\
         The clean training set of each of the first {} repetitions fitted exactly as `cnmf fit \
         --algo NAME` fits by default, through the command line's own code: its default lambda \
         (noise model sigma = 1, p = 0.05), L2 {} per rating, early stopping on a seeded {:.0}% \
         validation share of the training set (patience {}, at most {} iterations), then a \
         refit on all of it for the best number of iterations. Test NMAE on the repetition's \
         test set; mean [95% interval].\n",
        runs.len(),
        cnmf_cli::api::DEFAULT_L2,
        100.0 * cnmf_cli::api::DEFAULT_VALIDATION_FRACTION,
        cnmf_cli::api::DEFAULT_PATIENCE,
        cnmf_cli::api::DEFAULT_ITERS,
    );
    s.push_str(
        "| algorithm | lambda | NMAE | RMSE | iterations (refit) |\n\
         |---|---|---|---|---|\n",
    );
    for m in crate::recipe::METHODS {
        let of = |f: &dyn Fn(&crate::records::RecipeRecord) -> f64| -> Option<MeanSd> {
            let v: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.recipe.iter().find(|x| x.method == m.name()))
                .map(f)
                .collect();
            MeanSd::of(&v).ok()
        };
        let (Some(nmae), Some(rmse), Some(iters), Some(lambda)) = (
            of(&|x| x.accuracy.nmae),
            of(&|x| x.accuracy.rmse),
            of(&|x| x.iterations as f64),
            of(&|x| x.lambda.unwrap_or(f64::NAN)),
        ) else {
            continue;
        };
        let _ = writeln!(
            s,
            "| {} | {:.4} | {} | {} | {:.1} |",
            m.name(),
            lambda.mean,
            fmt_ms(&nmae),
            fmt_ms(&rmse),
            iters.mean
        );
    }
}

/// Writes "Other methods": what each extra method is and its four figures.
pub(super) fn other_methods(s: &mut String, doc: &Document<'_>) {
    let sum = doc.summary;
    if sum.extra.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Other methods\n\nSame splits, noise, attacks and test sets; each method's \
         own initialisation; P* is its own Model 1 fit.\n"
    );
    for (name, what) in &doc.extra_methods {
        let _ = writeln!(s, "- `{name}`: {what}");
    }
    s.push('\n');
    super::nmae_maps_table(s, "method", &sum.extra);
}

/// Writes "Sweep: MAPS against the attack size" and links its plot.
pub(super) fn attack_size_sweep(s: &mut String, doc: &Document<'_>, plots: &PlotIndex) {
    let sum = doc.summary;
    if sum.attack_size.is_empty() {
        return;
    }
    let n = swept_reps(doc);
    let _ = writeln!(
        s,
        "\n## Sweep: MAPS against the attack size\n\nMean [95% interval] over the first {n} \
         repetitions (same split, initial factors and target as the main run; only A \
         changes).\n"
    );
    s.push_str("| algorithm | A (% of users) | adversaries | MAPS Model 3 | MAPS Model 4 |\n|---|---|---|---|---|\n");
    for p in &sum.attack_size {
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {} | {} |",
            p.method,
            super::robustness::fmt_pct(p.fraction),
            p.adversaries,
            fmt_ms(&p.low_knowledge),
            fmt_ms(&p.informed)
        );
    }
    if let Some(f) = &plots.attack_size {
        let _ = writeln!(s, "\n![MAPS against attack size]({f})");
    }
}

/// Writes "Sweep: MAPS against the filler size".
pub(super) fn filler_sweep(s: &mut String, doc: &Document<'_>) {
    let sum = doc.summary;
    if sum.filler.is_empty() {
        return;
    }
    let n = swept_reps(doc);
    let _ = writeln!(
        s,
        "\n## Sweep: MAPS against the filler size\n\nModel 3 with each number of filler \
         items per injected profile (the paper: {}); mean [95% interval] over the first {n} \
         repetitions (same split, initial factors, target and attack size as the main run).\n\n\
         | algorithm | filler items | MAPS Model 3 |\n|---|---|---|",
        doc.settings.filler
    );
    for p in &sum.filler {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            p.method,
            p.filler,
            fmt_ms(&p.low_knowledge)
        );
    }
}

/// Writes "Sweep: lambda" (accuracy, MAPS and detection per multiple of lambda) and links its
/// plot.
pub(super) fn lambda_sweep(s: &mut String, doc: &Document<'_>, plots: &PlotIndex) {
    let st = doc.settings;
    let sum = doc.summary;
    if sum.lambda.is_empty() {
        return;
    }
    let n = swept_reps(doc);
    let _ = writeln!(
        s,
        "\n## Sweep: lambda\n\nThe algorithms that use lambda (the corrupt variants and huber) \
         at multiples of the run's lambda ({:.4}); mean [95% interval] over the first {n} \
         repetitions. Recall is of the injected \
         entries of the attack (Models 3, 4) or the flips (Model 2).\n",
        st.lambda
    );
    s.push_str(
        "| algorithm | lambda | NMAE Model 1 | NMAE Model 2 | MAPS Model 3 | MAPS Model 4 | recall M2 | recall M3 | recall M4 | precision M2 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in &sum.lambda {
        let _ = writeln!(
            s,
            "| {} | {:.3} ({}×) | {} | {} | {} | {} | {} | {} | {} | {} |",
            p.method,
            p.lambda,
            p.multiplier,
            fmt_ms(&p.clean_nmae),
            fmt_ms(&p.noisy_nmae),
            fmt_ms(&p.low_maps),
            fmt_ms(&p.informed_maps),
            fmt_opt(&p.detection[0].recall),
            fmt_opt(&p.detection[1].recall),
            fmt_opt(&p.detection[2].recall),
            fmt_opt(&p.detection[0].precision)
        );
    }
    if let Some(f) = &plots.lambda {
        let _ = writeln!(s, "\n![NMAE and MAPS against lambda]({f})");
    }
}
