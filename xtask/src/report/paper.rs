//! The report's sections on the paper's block: the run's header and settings, Tables 1 and 2,
//! the null-attack control, the verdicts, the block's other figures, detection, and the
//! target's hit ratio at 10 with user-level detection.

use std::fmt::Write;

use cnmf_metrics::{Interval, MeanSd};

use super::{detection_rows, fmt_ms, fmt_opt};
use crate::json::Document;
use crate::protocol::{HIT_RATIO_N, HIT_RATIO_USERS};
use crate::summary::{paper_figures, ControlSummary, HitUserMethodSummary, MethodSummary};
use crate::verdicts::{Comparison, Verdict};

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

/// Writes the title, the data set, the command and commit, and how the data set differs from
/// the paper's.
pub(super) fn header(s: &mut String, doc: &Document<'_>) {
    let d = doc.data;
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
}

/// Writes "Settings": repetitions, rank, budget, lambda, the noise and attack models and the
/// calibration split.
pub(super) fn settings(s: &mut String, doc: &Document<'_>) {
    let c = doc.config;
    let st = doc.settings;
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
         repetition 0's training set ({} training and {} validation ratings). Repetition 0's \
         test set was not looked at, but the repetitions draw their splits independently, so \
         later repetitions test on ratings the calibration fitted or validated on (about 90% \
         of each later test set lies in the calibration data): the calibrated lambda and \
         budgets have seen those test ratings, though never as test data and never with the \
         noise or attacks applied. For a clean separation, one can fix lambda \
         with `--lambda` or `--sigma` and the budget with `--iters`.\n",
        100.0 * st.validation_fraction,
        doc.calibration.train_ratings,
        doc.calibration.validation_ratings
    );
}

/// Writes Tables 1 and 2 with their headings.
pub(super) fn tables(s: &mut String, doc: &Document<'_>) {
    let c = doc.config;
    let sum = doc.summary;
    let _ = writeln!(
        s,
        "## Table 1: NMAE on the clean test set ({})\n",
        super::cells(c.reps)
    );
    s.push_str(&table1(&sum.paper));
    let _ = writeln!(
        s,
        "\n## Table 2: mean absolute prediction shift of the target ({})\n",
        super::cells(c.reps)
    );
    s.push_str(&table2(&sum.paper));
}

/// Writes "Null-attack control": per algorithm, the target's MAPS under Model 3's injected
/// users without their target ratings, and Models 3 and 4's MAPS net of it.
pub(super) fn null_control(s: &mut String, doc: &Document<'_>) {
    let rows = &doc.summary.null_control;
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Null-attack control\n");
    let _ = writeln!(
        s,
        "The control injects Model 3's users (same ids, filler items and ratings, same seed and \
         initial factors) without any rating of the target, so its MAPS is how far injection \
         alone moves the target's predictions; an attack's MAPS net of it (per repetition: \
         attack minus control; mean with a {:.0}% Student-t interval over {} repetitions) is \
         the part its target ratings cause. Model 4 injects no one (it converts existing \
         accounts), so its own control would be the clean data, MAPS 0 by construction; its \
         net figure subtracts Model 3's control as an estimate of the fit's instability.\n",
        100.0 * crate::summary::CONTROL_LEVEL,
        rows[0].repetitions
    );
    s.push_str(&control_table(rows));
}

/// The null-control table.
pub fn control_table(rows: &[ControlSummary]) -> String {
    let mut s = String::from(
        "| algorithm | control MAPS | Model 3 MAPS net of control | Model 4 MAPS net of control |\n\
         |---|---|---|---|\n",
    );
    let net = |m: &MeanSd, ci: &Option<Interval>| match ci {
        Some(ci) => format!("{:.4} [{:.4}, {:.4}]", ci.estimate, ci.low, ci.high),
        None => format!("{:.4}", m.mean),
    };
    for c in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            c.method,
            fmt_ms(&c.control_maps),
            net(
                &c.low_knowledge_maps_net_of_control,
                &c.low_knowledge_maps_net_of_control_ci95
            ),
            net(
                &c.informed_maps_net_of_control,
                &c.informed_maps_net_of_control_ci95
            )
        );
    }
    s
}

/// One comparison of a verdict: the mean paired difference with its interval, p-values and n.
pub fn comparison_text(c: &Comparison) -> String {
    let lhs = if c.scale == 1.0 {
        format!("{} − {}", c.algorithm, c.against)
    } else {
        // At most 4 decimals, without trailing zeros: 0.5, 0.9313.
        let scale = format!("{:.4}", c.scale);
        let scale = scale.trim_end_matches('0').trim_end_matches('.');
        format!("{} − {scale} · {}", c.algorithm, c.against)
    };
    let Some(t) = &c.test else {
        return format!("{lhs}, {} {}: no paired test", c.model, c.metric);
    };
    let mut s = format!(
        "{lhs}, {} {}: {:+.4} (95% CI {:+.4} to {:+.4}; p = {:.3} t, {:.3} sign-flip; n = {})",
        c.model,
        c.metric,
        t.difference.estimate,
        t.difference.low,
        t.difference.high,
        t.p_value_t,
        t.p_value_sign_flip,
        t.n
    );
    if let Some(lower) = &c.lower {
        let _ = write!(s, ", {lower} lower");
    }
    if let Some(cut) = c.estimated_cut {
        let _ = write!(s, ", estimated cut {:.0}%", 100.0 * cut);
        if let Some(p) = c.paper_cut {
            let _ = write!(s, " (paper {:.0}%)", 100.0 * p);
        }
    }
    s
}

/// One verdict line: the outcome, the claim, the budget, the rule and every comparison.
pub fn verdict_text(v: &Verdict) -> String {
    if v.repetitions < 2 {
        return format!(
            "**{}: n < 2 repetitions** (at {}, n = {}): {}. No paired test is possible.",
            v.verdict, v.budget, v.repetitions, v.claim
        );
    }
    let comparisons: Vec<String> = v.comparisons.iter().map(comparison_text).collect();
    format!(
        "**{}** (at {}, n = {}): {}. Rule: {}. {}.",
        v.verdict,
        v.budget,
        v.repetitions,
        v.claim,
        v.rule,
        comparisons.join("; ")
    )
}

/// Writes "Verdicts on the paper's claims", one bullet a claim.
pub(super) fn verdicts(s: &mut String, doc: &Document<'_>) {
    let _ = writeln!(s, "\n## Verdicts on the paper's claims\n");
    let _ = write!(
        s,
        "Each claim is decided from the paired differences of the paper block across \
         repetitions (same split, target and initial factors for every algorithm in a \
         repetition): the mean difference with its 95% Student-t interval, the two-sided \
         paired t-test and sign-flip permutation p-values, and n. A claim holds when every \
         comparison's interval lies on the claimed side of 0, does not hold when some \
         comparison's interval lies entirely on the other side, and is inconclusive otherwise \
         (always with fewer than 2 repetitions). The verdicts rest on the intervals; the \
         p-values are two-sided tests of a zero difference (for claim 2, of `a - 0.5 b`)."
    );
    if let Some(n) = doc.summary.verdicts.first().map(|v| v.repetitions) {
        if (2..=20).contains(&n) {
            let _ = write!(
                s,
                " With n = {n} the exact sign-flip p-value cannot fall below 2 / 2^n = {:.1e}.",
                2.0 / 2f64.powi(n as i32)
            );
        }
    }
    let _ = writeln!(s, "\n");
    for v in &doc.summary.verdicts {
        let _ = writeln!(s, "- {}", verdict_text(v));
    }
    if doc.summary.verdicts_net_of_control.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n### The prediction-shift verdicts on MAPS net of the null control\n\n\
         The same claims on Models 3 and 4, with each repetition's MAPS replaced by the \
         attack's MAPS minus the same algorithm's null-control MAPS (the part the target \
         ratings cause).\n"
    );
    for v in &doc.summary.verdicts_net_of_control {
        let _ = writeln!(s, "- {}", verdict_text(v));
    }
}

/// Writes "More figures of the paper block", the targets and how outnumbered their raters are.
pub(super) fn more_figures(s: &mut String, doc: &Document<'_>) {
    let _ = writeln!(s, "\n### More figures of the paper block\n");
    s.push_str(
        "| algorithm | signed shift M3 | signed shift M4 | MAPS non-raters M3 | MAPS non-raters M4 | RMSE M1 | RMSE M2 | NMAE M3 | NMAE M4 | iterations M1 | seconds per fit |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for m in &doc.summary.paper {
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
}

/// Writes "Detection": the paper block's corruption flags against what was injected.
pub(super) fn detection(s: &mut String, doc: &Document<'_>) {
    let _ = writeln!(
        s,
        "\n## Detection: corruption flags against the injected or changed entries\n\n\
         Not in the paper. Precision and recall of the final flags Z of the paper block's fits \
         against the ratings Model 2 flipped or Models 3 and 4 injected or changed (mean \
         [95% interval] over repetitions; precision over the repetitions where something was flagged). Model \
         4's positives include every adversary's target rating, even when the adversary had \
         already rated it 1. The recall is also split between the attack's ratings of the \
         target and its filler ratings (harmless on their own; n/a where there are none: Model \
         2 has no target, Model 4 no filler).\n"
    );
    detection_rows(s, &doc.summary.paper);
    let shares: Vec<String> = doc
        .summary
        .clean_flagged_share
        .iter()
        .map(|(m, share)| format!("{m} {}", super::fmt_ms(share)))
        .collect();
    if !shares.is_empty() {
        let _ = writeln!(
            s,
            "\nOn clean data (Model 1) every flag is a false alarm: share of the genuine \
             training ratings flagged: {}.",
            shares.join("; ")
        );
    }
}

/// The target's hit ratio at 10 before and after each attack, and user-level detection.
pub(super) fn hit_ratio_and_users(s: &mut String, doc: &Document<'_>) {
    let rows = &doc.summary.hit_ratio_and_user_detection;
    let _ = writeln!(
        s,
        "\n## Hit ratio at {HIT_RATIO_N} and user-level detection\n\n\
         Not in the paper. The hit ratio at {HIT_RATIO_N} is the share of genuine users (a seeded \
         sample of up to {HIT_RATIO_USERS} per repetition who had not rated the target) whose \
         top {HIT_RATIO_N} unrated items, ranked by raw prediction, include the target: before \
         under the algorithm's Model 1 fit, after under its attacked fit (mean [95% \
         interval] over repetitions). Both attacks here nuke the target (rate it at the bottom of the scale) and \
         the targets seldom sit in anyone's top {HIT_RATIO_N} to begin with, so these figures stay \
         near 0 (other items' predictions move with the injected profiles too, so a small rise is \
         possible); the measure is made for push attacks, whose hit ratios are in \"Attacks \
         beyond the paper\" below.\n"
    );
    s.push_str(&hit_ratio_table(rows));
    let _ = writeln!(
        s,
        "\nUser-level detection of the algorithms that flag (the corrupt variants, huber, \
         trimmed and guarded): a user counts as flagged when at least \
         one of their ratings is flagged, for guarded when its profile screen kept the user \
         out of the items' fit or a strong burst (|z| at least 8) held one of their ratings \
         (`NmfModel::suspected_users`; its rating-level flags, every rating its items are not \
         fitted on, cover the share of the clean ratings given above); precision is the share of flagged users who are \
         adversaries (over the repetitions where some user was flagged), recall the share of \
         adversaries flagged, F1 their harmonic mean.\n"
    );
    s.push_str(&user_detection_table(rows));
}

/// Hit ratio at 10 before and after Models 3 and 4, one row per algorithm.
pub fn hit_ratio_table(rows: &[HitUserMethodSummary]) -> String {
    let mut s = String::from(
        "| algorithm | Model 3 before | Model 3 after | Model 4 before | Model 4 after |\n\
         |---|---|---|---|---|\n",
    );
    for m in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            m.method,
            fmt_opt(&m.low_knowledge.hit_ratio_before),
            fmt_opt(&m.low_knowledge.hit_ratio_after),
            fmt_opt(&m.informed.hit_ratio_before),
            fmt_opt(&m.informed.hit_ratio_after),
        );
    }
    s
}

/// User-level precision, recall and F1 under Models 3 and 4, for the algorithms that flag.
pub fn user_detection_table(rows: &[HitUserMethodSummary]) -> String {
    let mut s = String::from(
        "| algorithm | model | precision | recall | F1 |\n\
         |---|---|---|---|---|\n",
    );
    for m in rows {
        for (label, d) in [
            ("Model 3 (low-knowledge)", &m.low_knowledge),
            ("Model 4 (informed)", &m.informed),
        ] {
            if d.user_recall.is_none() && d.user_precision.is_none() {
                continue;
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                m.method,
                label,
                fmt_opt(&d.user_precision),
                fmt_opt(&d.user_recall),
                fmt_opt(&d.user_f1),
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(repetitions: usize, comparisons: Vec<Comparison>) -> Verdict {
        Verdict {
            id: "claim-1".into(),
            claim: "a claim".into(),
            short: "short".into(),
            verdict: "inconclusive".into(),
            rule: "a rule".into(),
            repetitions,
            budget: "40 iterations".into(),
            comparisons,
        }
    }

    #[test]
    fn verdict_line_gives_interval_p_values_n_and_cut() {
        let a = [0.010, 0.012, 0.011, 0.013];
        let b = [0.060, 0.064, 0.058, 0.062];
        let test = cnmf_metrics::paired_difference_scaled(&a, &b, 0.5, 0.95).unwrap();
        let c = Comparison {
            algorithm: "ignore-corrupt".into(),
            against: "ignore-missing".into(),
            model: "Model 3".into(),
            metric: "MAPS".into(),
            scale: 0.5,
            test: Some(test),
            outcome: "holds".into(),
            estimated_cut: Some(1.0 - test.mean_a / test.mean_b),
            paper_cut: Some(1.0 - 0.027 / 0.062),
            lower: None,
        };
        let line = verdict_text(&verdict(4, vec![c]));
        assert!(
            line.starts_with("**inconclusive** (at 40 iterations, n = 4): a claim. Rule: a rule."),
            "{line}"
        );
        let d = test.difference;
        assert!(
            line.contains(&format!(
                "ignore-corrupt − 0.5 · ignore-missing, Model 3 MAPS: {:+.4} (95% CI {:+.4} to \
                 {:+.4}; p = {:.3} t, {:.3} sign-flip; n = 4), estimated cut 81% (paper 56%)",
                d.estimate, d.low, d.high, test.p_value_t, test.p_value_sign_flip
            )),
            "{line}"
        );
    }

    #[test]
    fn verdict_line_with_one_repetition_says_why_it_is_inconclusive() {
        let line = verdict_text(&verdict(1, Vec::new()));
        assert_eq!(
            line,
            "**inconclusive: n < 2 repetitions** (at 40 iterations, n = 1): a claim. No paired \
             test is possible."
        );
    }
}
