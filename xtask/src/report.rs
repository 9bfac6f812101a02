//! REPRODUCTION.md: the tables beside the paper's, the verdicts, detection, the regularised
//! block, the sweeps, the evidence behind the defaults, and the plots.

use std::fmt::Write;

use cnmf_metrics::MeanSd;

use crate::json::Document;
use crate::records::NoiseModel;
use crate::summary::{paper_figures, DetectionSummary, MethodSummary};

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

/// `mean ± sd` with 4 decimals (just the mean when sd is undefined).
pub fn fmt_ms(m: &MeanSd) -> String {
    match m.sd {
        Some(sd) => format!("{:.4} ± {:.4}", m.mean, sd),
        None => format!("{:.4}", m.mean),
    }
}

fn fmt_opt(m: &Option<MeanSd>) -> String {
    m.as_ref().map_or("n/a".to_string(), fmt_ms)
}

fn paper_cell(method: &str, i: usize) -> String {
    paper_figures(method).map_or("–".to_string(), |f| format!("{:.3}", f[i]))
}

/// Table 1: NMAE under Models 1 and 2 beside the paper's.
pub fn table1(rows: &[MethodSummary]) -> String {
    let mut s = String::from(
        "| algorithm | Model 1 (no noise) | paper | Model 2 (random noise) | paper |\n\
         |---|---|---|---|---|\n",
    );
    for m in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            m.method,
            fmt_ms(&m.nmae[0]),
            paper_cell(&m.method, 0),
            fmt_ms(&m.nmae[1]),
            paper_cell(&m.method, 1)
        );
    }
    s
}

/// Table 2: MAPS under Models 3 and 4 beside the paper's.
pub fn table2(rows: &[MethodSummary]) -> String {
    let mut s = String::from(
        "| algorithm | Model 3 (low-knowledge) | paper | Model 4 (informed) | paper |\n\
         |---|---|---|---|---|\n",
    );
    for m in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            m.method,
            fmt_ms(&m.maps[0]),
            paper_cell(&m.method, 2),
            fmt_ms(&m.maps[1]),
            paper_cell(&m.method, 3)
        );
    }
    s
}

fn detection_rows(s: &mut String, rows: &[MethodSummary]) {
    s.push_str(
        "| algorithm | model | precision | recall | flagged | injected or changed |\n\
         |---|---|---|---|---|---|\n",
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
        "| {} | {} | {} | {} | {:.0} | {:.0} |",
        method,
        label,
        fmt_opt(&d.precision),
        fmt_opt(&d.recall),
        d.flagged.mean,
        d.positives.mean
    );
}

/// The whole report.
pub fn markdown(doc: &Document<'_>, plots: &PlotIndex) -> String {
    let mut s = String::new();
    let d = doc.data;
    let c = doc.config;
    let st = doc.settings;
    let sum = doc.summary;
    let _ = writeln!(s, "# Reproduction of Corrective NMF (Tables 1 and 2)\n");
    if d.synthetic {
        let _ = writeln!(
            s,
            "> **Synthetic data.** No MovieLens data set was found, so this run used an \
             ML-1M-shaped synthetic data set. **These figures are not comparable with the \
             paper's**; they only show that the pipeline runs.\n"
        );
    }
    let _ = writeln!(
        s,
        "**Data set: {}** ({}), {} users × {} items, {} ratings (mean {:.3}); SHA-256 `{}`.  ",
        d.name,
        d.path.as_deref().unwrap_or("generated in memory"),
        d.n_users,
        d.n_items,
        d.n_ratings,
        d.mean_rating,
        d.sha256
    );
    let _ = writeln!(s, "Found by: {}.  ", d.origin);
    let _ = writeln!(
        s,
        "Command: `{}`; git commit `{}`{}; {} worker threads on {} logical CPUs; total time \
         {:.1} s.\n",
        doc.command,
        doc.git.commit,
        match doc.git.dirty {
            Some(true) => " (with uncommitted changes to tracked files)",
            _ => "",
        },
        doc.machine.threads,
        doc.machine.available_parallelism,
        doc.timings.total_secs
    );
    if d.name != "ml-1m" && !d.synthetic {
        let _ = writeln!(
            s,
            "The paper used MovieLens 1M; this run used **{}**, so absolute figures differ from \
             the paper's even where the algorithms behave the same.\n",
            d.name
        );
    }

    let _ = writeln!(s, "## Settings\n");
    let _ = writeln!(
        s,
        "- {} repetitions, rank k = {}, seeded 90/10 split per repetition (master seed {}).",
        c.reps, st.k, st.seed
    );
    let budget = match st.time_budget {
        Some(b) => format!(
            "a wall-clock budget of {:.3} s per fit (iteration cap {})",
            b.as_secs_f64(),
            st.iters
        ),
        None => format!("{} iterations", st.iters),
    };
    let _ = writeln!(
        s,
        "- Every algorithm starts from the same initial factors and runs {budget} in each \
         repetition; iteration count: {}.",
        doc.calibration.iters_note
    );
    let _ = writeln!(
        s,
        "- lambda = {:.4}: {}.",
        st.lambda, doc.calibration.lambda_note
    );
    let _ = writeln!(
        s,
        "- Model 2 flips each training rating with probability {} (1-3 -> 5, 4-5 -> 1); the \
         test set stays clean.",
        st.noise_probability
    );
    let adversaries: Vec<usize> = doc.repetitions.iter().map(|r| r.adversaries).collect();
    let _ = writeln!(
        s,
        "- Models 3 and 4: A = {} adversaries ({} of the users); Model 3 profiles rate the \
         target 1 and {} other items uniformly at random in 1..5; Model 4 converts existing \
         users who rate the target 1. The target is drawn per repetition among items with at \
         least {} training ratings; P* is the same algorithm's Model 1 fit from the same \
         initial factors. MAPS is over genuine users.",
        adversaries.first().copied().unwrap_or(0),
        match c.attack_size {
            crate::cli::AttackSizeArg::Fraction(f) => format!("{:.1}%", 100.0 * f),
            crate::cli::AttackSizeArg::Count(n) => format!("a count of {n}"),
        },
        st.filler,
        st.target_min_ratings
    );
    let _ = writeln!(
        s,
        "- Calibration (the choices the paper does not state) used a {:.0}% validation split of \
         repetition 0's training set ({} training and {} validation ratings); no test set was \
         looked at.\n",
        100.0 * st.validation_fraction,
        doc.calibration.train_ratings,
        doc.calibration.validation_ratings
    );

    let _ = writeln!(
        s,
        "## Table 1: NMAE on the clean test set (mean ± sd over {} repetitions)\n",
        c.reps
    );
    s.push_str(&table1(&sum.paper));
    let _ = writeln!(
        s,
        "\n## Table 2: mean absolute prediction shift of the target (mean ± sd over {} \
         repetitions)\n",
        c.reps
    );
    s.push_str(&table2(&sum.paper));

    let _ = writeln!(s, "\n## Verdicts on the paper's claims\n");
    for v in &sum.verdicts {
        let _ = writeln!(s, "- **{}**: {}. {}.", v.verdict, v.claim, v.evidence);
    }

    let _ = writeln!(s, "\n### More figures of the paper block\n");
    s.push_str(
        "| algorithm | signed shift M3 | signed shift M4 | MAPS non-raters M3 | MAPS non-raters M4 | RMSE M1 | RMSE M2 | NMAE M3 | NMAE M4 | iterations M1 | seconds per fit |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for m in &sum.paper {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.3} |",
            m.method,
            fmt_ms(&m.mean_shift[0]),
            fmt_ms(&m.mean_shift[1]),
            fmt_opt(&m.maps_unrated[0]),
            fmt_opt(&m.maps_unrated[1]),
            fmt_ms(&m.rmse[0]),
            fmt_ms(&m.rmse[1]),
            fmt_ms(&m.nmae[2]),
            fmt_ms(&m.nmae[3]),
            m.iterations.mean,
            m.seconds.mean
        );
    }
    let targets: Vec<String> = doc
        .repetitions
        .iter()
        .map(|r| {
            format!(
                "{} ({} ratings, mean {:.2})",
                r.target.external_id, r.target.train_ratings, r.target.train_mean
            )
        })
        .collect();
    let _ = writeln!(
        s,
        "\nTargets per repetition (item id): {}.",
        targets.join(", ")
    );
    // How outnumbered the target's genuine raters are: the flag rule of the corrupt variants
    // can only single out the adversaries' ratings while those are a minority.
    let ratios: Vec<f64> = doc
        .repetitions
        .iter()
        .map(|r| r.adversaries as f64 / r.target.train_ratings.max(1) as f64)
        .collect();
    if !ratios.is_empty() {
        let (lo, hi) = ratios
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        let _ = writeln!(
            s,
            "Adversaries per genuine training rating of the target: mean {:.2} (from {:.2} to \
             {:.2}); above 1 the adversaries' ratings of the target outnumber the genuine ones.",
            ratios.iter().sum::<f64>() / ratios.len() as f64,
            lo,
            hi
        );
    }

    let _ = writeln!(
        s,
        "\n## Detection: corruption flags against the injected or changed entries\n\n\
         Not in the paper. Precision and recall of the final flags Z of the paper block's fits \
         against the ratings Model 2 flipped or Models 3 and 4 injected or changed (mean ± sd \
         over repetitions; precision over the repetitions where something was flagged). Model \
         4's positives include every adversary's target rating, even when the adversary had \
         already rated it 1.\n"
    );
    detection_rows(&mut s, &sum.paper);

    if !sum.regularised.is_empty() {
        let _ = writeln!(
            s,
            "\n## Beyond the paper: L2 regularisation and validation early stopping\n\n\
             Every algorithm with the engine's L2 penalty (l2_w = l2_h, chosen per algorithm \
             on the calibration split from the grid {:?}) and early stopping (patience {}, at \
             most {} iterations) on a clean {:.0}% validation split of each repetition's \
             training set (carved out before noise or attacks are applied, so the model is fit \
             on 81% of the ratings). Same initial factors, targets and test sets as above; \
             mean ± sd over the first {} repetitions.\n",
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
        detection_rows(&mut s, &sum.regularised);
    }

    if !sum.extra.is_empty() {
        let _ = writeln!(
            s,
            "\n## Other methods\n\nSame splits, noise, attacks and test sets; each method's \
             own initialisation; P* is its own Model 1 fit.\n"
        );
        for (name, what) in &doc.extra_methods {
            let _ = writeln!(s, "- `{name}`: {what}");
        }
        s.push_str(
            "\n| method | NMAE Model 1 | NMAE Model 2 | MAPS Model 3 | MAPS Model 4 |\n|---|---|---|---|---|\n",
        );
        for m in &sum.extra {
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

    if !sum.attack_size.is_empty() {
        let n = doc
            .repetitions
            .iter()
            .filter(|r| r.sweeps.is_some())
            .count();
        let _ = writeln!(
            s,
            "\n## Sweep: MAPS against the attack size\n\nMean ± sd over the first {n} \
             repetitions (same split, initial factors and target as the main run; only A \
             changes).\n"
        );
        s.push_str("| algorithm | A (% of users) | adversaries | MAPS Model 3 | MAPS Model 4 |\n|---|---|---|---|---|\n");
        for p in &sum.attack_size {
            let _ = writeln!(
                s,
                "| {} | {:.0}% | {:.0} | {} | {} |",
                p.method,
                100.0 * p.fraction,
                p.adversaries,
                fmt_ms(&p.low_knowledge),
                fmt_ms(&p.informed)
            );
        }
        if let Some(f) = &plots.attack_size {
            let _ = writeln!(s, "\n![MAPS against attack size]({f})");
        }
    }

    if !sum.lambda.is_empty() {
        let n = doc
            .repetitions
            .iter()
            .filter(|r| r.sweeps.is_some())
            .count();
        let _ = writeln!(
            s,
            "\n## Sweep: lambda\n\nThe corrupt variants at multiples of the run's lambda \
             ({:.4}); mean ± sd over the first {n} repetitions. Recall is of the injected \
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

    let _ = writeln!(s, "\n## Why these defaults: the evidence\n");
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
    if !doc.calibration.grid_scores.is_empty() {
        let _ = writeln!(
            s,
            "- **Iterations**: the paper gave every algorithm the same time, without saying \
             how much. Unregularised multiplicative updates overfit, and not at the same speed: \
             the ignore variants fit the observed ratings directly, the replace variants shrink \
             towards the current prediction. Each algorithm's own best iteration on the \
             calibration split is listed below; where they differ, one budget for all is a \
             compromise. Budget used: {}. Validation NMAE averaged over the five algorithms, \
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
    s
}
