//! The defence's scorecard: the engine's defence (`guarded`) against each measured target of
//! the evaluation — MAPS at most 0.10 (upper 95% bound at most 0.15) under every attack at the
//! main size, overall and in every target mean-rating band; at most 0.20 at 10% of the users;
//! clean NMAE within 1% of the best of the paper's five; Model 2 NMAE no worse than
//! ignore-corrupt's; injected-user detection F1 at least 0.9 — and the MAPS–NMAE frontier of
//! every algorithm, so a missed target is shown with what it trades against.

use cnmf_metrics::{mean_ci, Detection};
use serde::Serialize;

use crate::records::{FitRecord, RepRecord};
use crate::robustness::MEAN_BANDS;

/// The algorithm the scorecard is for.
pub const DEFENCE: &str = "guarded";

/// MAPS a target allows at the main attack size: mean, and upper 95% bound.
pub const MAPS_TARGET: (f64, f64) = (0.10, 0.15);
/// MAPS a target allows at 10% of the users.
pub const MAPS_TARGET_10: f64 = 0.20;
/// Clean NMAE the recommended configuration (with L2 and early stopping) aims at: LIBMF's MF
/// reaches 0.1785 and Surprise's SVD 0.1808 on an ML-100K 90/10 split.
pub const RECOMMENDED_NMAE: f64 = 0.180;
/// Detection F1 a target asks for.
pub const F1_TARGET: f64 = 0.9;

/// One attack's MAPS overall and per mean band.
#[derive(Debug, Clone, Serialize)]
pub struct AttackRow {
    /// The attack.
    pub attack: String,
    /// Overall, then one cell per band of [`MEAN_BANDS`].
    pub cells: Vec<Cell>,
}

/// A mean with its 95% interval (when n >= 2) and whether it meets the MAPS target.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Values averaged.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Upper 95% bound (`None` with fewer than 2 values).
    pub high: Option<f64>,
    /// Mean and bound within [`MAPS_TARGET`] (`None` with fewer than 2 values).
    pub met: Option<bool>,
}

/// Another target: what was measured and whether it is met.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The target.
    pub target: String,
    /// What was measured.
    pub measured: String,
    /// Met, missed, or not measured in this run (`None`).
    pub met: Option<bool>,
}

/// One algorithm on the frontier table.
#[derive(Debug, Clone, Serialize)]
pub struct FrontierPoint {
    /// Algorithm.
    pub method: String,
    /// Mean clean NMAE (Model 1).
    pub clean_nmae: f64,
    /// The largest mean MAPS over the attacks at the main size.
    pub worst_maps: f64,
    /// The attack it comes from.
    pub worst_attack: String,
    /// No other algorithm has both a lower clean NMAE and a lower worst MAPS.
    pub pareto: bool,
}

/// The scorecard.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    /// The defence's name.
    pub method: String,
    /// MAPS per attack at the main size.
    pub attacks: Vec<AttackRow>,
    /// The other targets.
    pub checks: Vec<Check>,
    /// Every algorithm's clean NMAE against its worst MAPS.
    pub frontier: Vec<FrontierPoint>,
}

/// `(target's mean training rating, MAPS)` of `method` under every attack at the main size,
/// per repetition, attack by attack (Models 3 and 4, then the attacks beyond the paper).
fn maps_by_attack(reps: &[RepRecord], method: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut push = |attack: &str, mean: f64, fit: &FitRecord| {
        let Some(s) = fit.shift else { return };
        match out.iter_mut().find(|(a, _)| a == attack) {
            Some((_, v)) => v.push((mean, s.maps)),
            None => out.push((attack.to_string(), vec![(mean, s.maps)])),
        }
    };
    for r in reps {
        if let Some(m) = r.paper.iter().find(|m| m.method == method) {
            push(
                "Model 3 (low-knowledge)",
                r.target.train_mean,
                &m.low_knowledge,
            );
            push("Model 4 (informed)", r.target.train_mean, &m.informed);
        }
        for a in r.more_attacks.iter().filter(|a| a.method == method) {
            push(&a.attack, a.target.train_mean, &a.fit);
        }
    }
    out
}

fn cell(values: &[f64]) -> Cell {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    let high = mean_ci(values, 0.95).ok().map(|ci| ci.high);
    Cell {
        n,
        mean,
        high,
        met: high.map(|h| mean <= MAPS_TARGET.0 && h <= MAPS_TARGET.1),
    }
}

/// F1 of a detection, 0 when nothing was flagged (no detection is no F1 to average away).
fn f1(d: Option<Detection>) -> f64 {
    d.and_then(|d| d.f1).unwrap_or(0.0)
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The scorecard of [`DEFENCE`], `None` when the run did not fit it.
pub fn scorecard(reps: &[RepRecord]) -> Option<Scorecard> {
    let paper_reps: Vec<&RepRecord> = reps.iter().filter(|r| !r.paper.is_empty()).collect();
    paper_reps
        .first()?
        .paper
        .iter()
        .find(|m| m.method == DEFENCE)?;
    let attacks = maps_by_attack(reps, DEFENCE)
        .into_iter()
        .filter(|(a, _)| a != "unpopular-target")
        .map(|(attack, v)| {
            let mut cells = vec![cell(&v.iter().map(|x| x.1).collect::<Vec<_>>())];
            for (low, high, _) in MEAN_BANDS {
                let inside: Vec<f64> = v
                    .iter()
                    .filter(|x| (low..high).contains(&x.0))
                    .map(|x| x.1)
                    .collect();
                cells.push(cell(&inside));
            }
            AttackRow { attack, cells }
        })
        .collect();
    Some(Scorecard {
        method: DEFENCE.into(),
        attacks,
        checks: checks(reps),
        frontier: frontier(reps),
    })
}

/// Per repetition, `pick` of every method of the paper block.
fn per_rep<'r>(
    reps: &'r [RepRecord],
    method: &str,
    pick: impl Fn(&'r crate::records::MethodRecord) -> f64,
) -> Vec<f64> {
    reps.iter()
        .filter_map(|r| r.paper.iter().find(|m| m.method == method))
        .map(pick)
        .collect()
}

fn checks(reps: &[RepRecord]) -> Vec<Check> {
    let mut out = Vec::new();
    // At 10% of the users, from the attack-size sweep.
    let at10: Vec<(f64, f64)> = reps
        .iter()
        .filter_map(|r| r.sweeps.as_ref())
        .flat_map(|s| s.attack_size.iter())
        .filter(|p| p.method == DEFENCE && (p.fraction - 0.10).abs() < 1e-12)
        .map(|p| (p.low_knowledge.maps, p.informed.maps))
        .collect();
    for (name, pick) in [
        ("Model 3", (|x: &(f64, f64)| x.0) as fn(&(f64, f64)) -> f64),
        ("Model 4", |x: &(f64, f64)| x.1),
    ] {
        let v: Vec<f64> = at10.iter().map(pick).collect();
        out.push(Check {
            target: format!("MAPS at most {MAPS_TARGET_10} at 10% of the users, {name}"),
            measured: mean(&v).map_or("not in this run (no sweep at 10%)".into(), |m| {
                format!("{m:.4} (mean over {} swept repetitions)", v.len())
            }),
            met: mean(&v).map(|m| m <= MAPS_TARGET_10),
        });
    }
    // Clean NMAE within 1% of the best of the paper's five.
    let clean = |m: &str| mean(&per_rep(reps, m, |x| x.clean.accuracy.nmae));
    let best = crate::budgets::paper_names()
        .filter_map(|m| clean(m).map(|v| (m, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(ours), Some((best_m, best_v))) = (clean(DEFENCE), best) {
        out.push(Check {
            target: "clean NMAE (Model 1) within 1% of the best of the paper's five".into(),
            measured: format!(
                "{ours:.4} against {best_m}'s {best_v:.4} ({:+.2}%)",
                100.0 * (ours / best_v - 1.0)
            ),
            met: Some(ours <= 1.01 * best_v),
        });
    }
    // Model 2 NMAE no worse than ignore-corrupt's, paired.
    let noisy = |m: &str| per_rep(reps, m, |x| x.random_noise.accuracy.nmae);
    let (ours, ic) = (noisy(DEFENCE), noisy("ignore-corrupt"));
    if let Ok(t) = cnmf_metrics::paired_difference(&ours, &ic, 0.95) {
        let d = t.difference;
        out.push(Check {
            target: "Model 2 NMAE no worse than ignore-corrupt's (paired)".into(),
            measured: format!(
                "difference {:+.4} (95% CI {:+.4} to {:+.4})",
                d.estimate, d.low, d.high
            ),
            met: Some(d.estimate <= 0.0),
        });
    }
    // The recommended configuration: the defence fitted as `cnmf fit --algo guarded` does
    // (L2, validation early stopping, refit), with ignore-corrupt's figure beside it.
    let recipe = |m: &str| -> Vec<f64> {
        reps.iter()
            .filter_map(|r| r.recipe.iter().find(|x| x.method == m))
            .map(|x| x.accuracy.nmae)
            .collect()
    };
    let (ours, ic) = (recipe(DEFENCE), recipe("ignore-corrupt"));
    out.push(Check {
        target: format!(
            "clean NMAE at most {RECOMMENDED_NMAE} in the recommended configuration \
             (`cnmf fit --algo {DEFENCE}`: L2, validation early stopping, refit)"
        ),
        measured: mean(&ours).map_or("not in this run".into(), |m| {
            let beside = mean(&ic).map_or(String::new(), |c| format!("; ignore-corrupt {c:.4}"));
            format!("{m:.4} (mean over {} repetitions{beside})", ours.len())
        }),
        met: mean(&ours).map(|m| m <= RECOMMENDED_NMAE),
    });
    // Injected-user detection F1 under Model 3, average and bandwagon.
    let m3: Vec<f64> = reps
        .iter()
        .filter_map(|r| r.paper.iter().find(|m| m.method == DEFENCE))
        .map(|m| f1(m.low_knowledge.user_detection))
        .collect();
    let mut f1s = vec![("Model 3", m3)];
    for attack in ["average", "bandwagon"] {
        f1s.push((
            attack,
            reps.iter()
                .flat_map(|r| r.more_attacks.iter())
                .filter(|a| a.method == DEFENCE && a.attack == attack)
                .map(|a| f1(a.fit.user_detection))
                .collect(),
        ));
    }
    for (attack, v) in f1s {
        out.push(Check {
            target: format!("injected-user detection F1 at least {F1_TARGET}, {attack}"),
            measured: mean(&v).map_or("not in this run".into(), |m| {
                format!("{m:.3} (no user flagged counts as F1 0)")
            }),
            met: mean(&v).map(|m| m >= F1_TARGET),
        });
    }
    out
}

/// Every algorithm of the paper block: clean NMAE against its worst mean MAPS over the attacks
/// at the main size (the unpopular target left out: it is another target, not another attack).
fn frontier(reps: &[RepRecord]) -> Vec<FrontierPoint> {
    let Some(first) = reps.iter().find(|r| !r.paper.is_empty()) else {
        return Vec::new();
    };
    let mut points: Vec<FrontierPoint> = first
        .paper
        .iter()
        .filter_map(|m| {
            let clean = mean(&per_rep(reps, &m.method, |x| x.clean.accuracy.nmae))?;
            let (worst_attack, worst_maps) = maps_by_attack(reps, &m.method)
                .into_iter()
                .filter(|(a, _)| a != "unpopular-target")
                .filter_map(|(a, v)| {
                    mean(&v.iter().map(|x| x.1).collect::<Vec<_>>()).map(|m| (a, m))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))?;
            Some(FrontierPoint {
                method: m.method.clone(),
                clean_nmae: clean,
                worst_maps,
                worst_attack,
                pareto: false,
            })
        })
        .collect();
    let snapshot: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.clean_nmae, p.worst_maps))
        .collect();
    for p in &mut points {
        p.pareto = !snapshot
            .iter()
            .any(|&(n, w)| n < p.clean_nmae && w < p.worst_maps);
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::fixtures::rep;

    /// Four repetitions: the defence with MAPS `g[i]` and NMAE 0.188, ignore-corrupt with MAPS
    /// 0.2 and NMAE 0.187, ignore-missing with MAPS 0.05 and NMAE 0.2.
    fn reps(g: [f64; 4]) -> Vec<RepRecord> {
        (0..4)
            .map(|i| {
                let mut r = rep(
                    i,
                    &[
                        ("ignore-missing", 0.2, 0.05),
                        ("ignore-corrupt", 0.187, 0.2),
                        (DEFENCE, 0.188, g[i]),
                    ],
                );
                r.target.train_mean = if i < 2 { 3.0 } else { 4.0 };
                r
            })
            .collect()
    }

    #[test]
    fn cells_bands_checks_and_frontier() {
        let card = scorecard(&reps([0.02, 0.03, 0.05, 0.06])).unwrap();
        assert_eq!(card.attacks.len(), 2, "Models 3 and 4");
        let m3 = &card.attacks[0].cells;
        assert_eq!((m3[0].n, m3[0].met), (4, Some(true)));
        assert!((m3[0].mean - 0.04).abs() < 1e-12);
        // Bands: below 3.4 has repetitions 0 and 1, 3.4-3.8 none, 3.8 and above 2 and 3.
        assert_eq!((m3[1].n, m3[2].n, m3[3].n), (2, 0, 2));
        assert_eq!(m3[2].met, None);
        // Clean NMAE 0.188 against the best of the paper's five, ignore-corrupt's 0.187: +0.53%.
        let clean = card
            .checks
            .iter()
            .find(|c| c.target.starts_with("clean NMAE"))
            .unwrap();
        assert_eq!(clean.met, Some(true), "{clean:?}");
        // The fixture's Model 2 NMAE equal Model 1's: worse than ignore-corrupt's by 0.001.
        let noisy = card
            .checks
            .iter()
            .find(|c| c.target.starts_with("Model 2"))
            .unwrap();
        assert_eq!(noisy.met, Some(false), "{noisy:?}");
        // Frontier: ignore-corrupt (the best NMAE) and the defence (worst MAPS 0.04) are on it;
        // ignore-missing (NMAE 0.2, worst MAPS 0.05) is worse than the defence on both.
        let on: Vec<(&str, bool)> = card
            .frontier
            .iter()
            .map(|p| (p.method.as_str(), p.pareto))
            .collect();
        assert_eq!(
            on,
            [
                ("ignore-missing", false),
                ("ignore-corrupt", true),
                (DEFENCE, true)
            ]
        );
        // A large shift in one band misses the target there and overall.
        let card = scorecard(&reps([0.02, 0.03, 0.5, 0.6])).unwrap();
        let m3 = &card.attacks[0].cells;
        assert_eq!(
            (m3[0].met, m3[1].met, m3[3].met),
            (Some(false), Some(true), Some(false))
        );
        assert!(scorecard(&reps([0.0; 4])[..0]).is_none());
    }
}
