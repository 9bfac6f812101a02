//! Verdicts on the paper's claims: each claim decided from paired differences across
//! repetitions (same split, target and initial factors for every algorithm of a repetition),
//! for any block of records — the paper block at its budget, the same algorithms at other
//! budgets, or MAPS net of the null-attack control.

use serde::Serialize;

use crate::records::{MethodRecord, NoiseModel, RepRecord};
use crate::summary::paper_figures;

/// Confidence level of the verdicts' intervals.
pub const VERDICT_LEVEL: f64 = 0.95;

/// One paired comparison behind a verdict: `a - scale · b` per repetition, `a` the claim's
/// algorithm and `b` the one it is compared with, both from the same repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The claim's algorithm (`a`).
    pub algorithm: String,
    /// The algorithm compared with (`b`).
    pub against: String,
    /// The noise model, "Model 1" to "Model 4".
    pub model: String,
    /// `NMAE` or `MAPS`.
    pub metric: String,
    /// Factor on `b` in the differences (0.5 for "at most half of b's").
    pub scale: f64,
    /// The paired test: mean difference, 95% interval, p-values, n (`None` with fewer than 2
    /// repetitions).
    pub test: Option<cnmf_metrics::PairedTest>,
    /// This comparison's own outcome: `holds`, `does not hold` or `inconclusive`.
    pub outcome: String,
    /// Estimated cut of `a` against `b`, `1 - mean(a) / mean(b)` (relative claims only: the
    /// claimed cut is `1 - scale`).
    pub estimated_cut: Option<f64>,
    /// The same cut from the paper's Table 2 (relative claims only).
    pub paper_cut: Option<f64>,
    /// Two-sided comparisons only: the algorithm with the lower mean when the interval excludes
    /// 0, otherwise `None`.
    pub lower: Option<String>,
}

/// A verdict on one claim, decided from paired differences across repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// A stable identifier (`claim-1`, `claim-1-margin`, `claim-2`, `claim-3`,
    /// `ic-vs-rcn`, `rcn-lowest`), the same in every block.
    pub id: String,
    /// The claim.
    pub claim: String,
    /// The claim in a few words, for the closing lines printed to stdout.
    pub short: String,
    /// `holds`, `does not hold` or `inconclusive`.
    pub verdict: String,
    /// How the comparisons' outcomes combine into the verdict.
    pub rule: String,
    /// Repetitions paired (the comparisons' n).
    pub repetitions: usize,
    /// The iteration budget of the run's fits, e.g. "40 iterations".
    pub budget: String,
    /// The paired comparisons.
    pub comparisons: Vec<Comparison>,
}

/// The budget every fit ran with, e.g. "40 iterations" or "0.500 s per fit".
pub fn budget_label(settings: &crate::protocol::Settings) -> String {
    match settings.time_budget {
        Some(b) => format!("{:.3} s per fit", b.as_secs_f64()),
        None => format!("{} iterations", settings.iters),
    }
}

fn outcome_label(v: cnmf_metrics::Verdict) -> &'static str {
    match v {
        cnmf_metrics::Verdict::Holds => "holds",
        cnmf_metrics::Verdict::DoesNotHold => "does not hold",
        cnmf_metrics::Verdict::Inconclusive => "inconclusive",
    }
}

/// Per-repetition NMAE (Models 1, 2) or MAPS (Models 3, 4) of one method of a block.
fn per_rep(blocks: &[&[MethodRecord]], method: &str, model: NoiseModel) -> Option<Vec<f64>> {
    blocks
        .iter()
        .map(|b| {
            let m = b.iter().find(|m| m.method == method)?;
            let f = m.fit(model);
            match model {
                NoiseModel::Clean | NoiseModel::RandomNoise => Some(f.accuracy.nmae),
                NoiseModel::LowKnowledge | NoiseModel::Informed => f.shift.map(|s| s.maps),
            }
        })
        .collect()
}

/// One comparison of `a` against `scale · b` under `model`, judged as `claim` with margin 0.
fn compare(
    blocks: &[&[MethodRecord]],
    a: &str,
    b: &str,
    model: NoiseModel,
    scale: f64,
    claim: cnmf_metrics::Claim,
) -> Option<Comparison> {
    let xa = per_rep(blocks, a, model)?;
    let xb = per_rep(blocks, b, model)?;
    // Refused with fewer than 2 pairs: no test, an inconclusive comparison.
    let test = cnmf_metrics::paired_difference_scaled(&xa, &xb, scale, VERDICT_LEVEL).ok();
    let relative = scale != 1.0;
    let column = NoiseModel::ALL.iter().position(|&m| m == model);
    let paper_cut = |m: &str| paper_figures(m).zip(column).map(|(f, i)| f[i]);
    Some(Comparison {
        algorithm: a.into(),
        against: b.into(),
        model: model.short_label().into(),
        metric: match model {
            NoiseModel::Clean | NoiseModel::RandomNoise => "NMAE",
            _ => "MAPS",
        }
        .into(),
        scale,
        outcome: test
            .as_ref()
            .map_or("inconclusive", |t| {
                outcome_label(cnmf_metrics::verdict(t, 0.0, claim))
            })
            .into(),
        estimated_cut: test
            .as_ref()
            .filter(|_| relative)
            .and_then(|t| (t.mean_b != 0.0).then(|| 1.0 - t.mean_a / t.mean_b)),
        paper_cut: if relative {
            match (paper_cut(a), paper_cut(b)) {
                (Some(x), Some(y)) if y != 0.0 => Some(1.0 - x / y),
                _ => None,
            }
        } else {
            None
        },
        lower: None,
        test,
    })
}

/// Combines comparisons: holds when every one holds, does not hold when one does not, and
/// inconclusive otherwise; fewer than 2 repetitions is always inconclusive.
fn combine(
    id: &str,
    (claim, short): (&str, &str),
    rule: &str,
    reps: usize,
    budget: &str,
    comparisons: Vec<Comparison>,
) -> Verdict {
    let verdict = if reps < 2 || comparisons.is_empty() {
        "inconclusive"
    } else if comparisons.iter().all(|c| c.outcome == "holds") {
        "holds"
    } else if comparisons.iter().any(|c| c.outcome == "does not hold") {
        "does not hold"
    } else {
        "inconclusive"
    };
    Verdict {
        id: id.into(),
        claim: claim.into(),
        short: short.into(),
        verdict: verdict.into(),
        rule: rule.into(),
        repetitions: reps,
        budget: budget.into(),
        comparisons,
    }
}

/// The paper block of every repetition that ran it: the blocks [`verdicts`] takes.
pub fn paper_blocks(reps: &[RepRecord]) -> Vec<&[MethodRecord]> {
    reps.iter()
        .map(|r| r.paper.as_slice())
        .filter(|b| !b.is_empty())
        .collect()
}

/// The paper block of every repetition with Models 3 and 4's MAPS replaced by their MAPS net
/// of the same algorithm's null-attack control (repetitions without a control are left out).
pub fn net_of_control_blocks(reps: &[RepRecord]) -> Vec<Vec<MethodRecord>> {
    reps.iter()
        .filter(|r| !r.paper.is_empty() && !r.null_control.is_empty())
        .map(|r| {
            r.paper
                .iter()
                .filter_map(|m| {
                    let c = r.null_control.iter().find(|c| c.method == m.method)?;
                    let mut m = m.clone();
                    for (fit, net) in [
                        (&mut m.low_knowledge, c.low_knowledge_maps_net_of_control),
                        (&mut m.informed, c.informed_maps_net_of_control),
                    ] {
                        if let Some(shift) = fit.shift.as_mut() {
                            shift.maps = net;
                        }
                    }
                    Some(m)
                })
                .collect()
        })
        .collect()
}

const IM: &str = "ignore-missing";
const RM: &str = "replace-missing";
const IC: &str = "ignore-corrupt";
const RC: &str = "replace-corrupt";
const RCN: &str = "replace-corrupt-nointerp";

/// The blocks of one verdict run, and what every verdict of it shares.
struct Judge<'b> {
    blocks: &'b [&'b [MethodRecord]],
    budget: &'b str,
}

impl Judge<'_> {
    fn has(&self, m: &str) -> bool {
        self.blocks
            .first()
            .is_some_and(|b| b.iter().any(|x| x.method == m))
    }

    /// Every other of the paper's algorithms in the block, in its order (the same set in every
    /// block, so that a verdict means the same at every budget).
    fn others(&self, a: &str) -> Vec<&str> {
        self.blocks.first().map_or(Vec::new(), |b| {
            b.iter()
                .map(|m| m.method.as_str())
                .filter(|&m| m != a && paper_figures(m).is_some())
                .collect()
        })
    }

    /// `a - scale(b, model) · b` for every `b` of `against` (present and not `a`) under every
    /// model.
    fn pairs(
        &self,
        a: &str,
        against: &[&str],
        models: &[NoiseModel],
        scale: &dyn Fn(&str, NoiseModel) -> f64,
        claim: cnmf_metrics::Claim,
    ) -> Vec<Comparison> {
        models
            .iter()
            .flat_map(|&m| {
                against
                    .iter()
                    .filter_map(move |&b| (b != a && self.has(b)).then_some((m, b)))
            })
            .filter_map(|(m, b)| compare(self.blocks, a, b, m, scale(b, m), claim))
            .collect()
    }

    fn verdict(
        &self,
        id: &str,
        text: (&str, &str),
        rule: &str,
        comparisons: Vec<Comparison>,
    ) -> Verdict {
        combine(id, text, rule, self.blocks.len(), self.budget, comparisons)
    }
}

/// The two-sided outcome of a comparison: the algorithm with the lower mean when the interval
/// excludes 0.
fn with_lower(mut c: Comparison) -> Comparison {
    c.lower = c.test.as_ref().and_then(|t| {
        let d = t.difference;
        if d.high < 0.0 {
            Some(c.algorithm.clone())
        } else if d.low > 0.0 {
            Some(c.against.clone())
        } else {
            None
        }
    });
    c
}

/// `paper_figures(a) / paper_figures(b)` in `model`'s column: `a - ratio · b < 0` is "a beats b
/// by the paper's relative margin".
fn paper_ratio(a: &str, b: &str, model: NoiseModel) -> f64 {
    let i = NoiseModel::ALL
        .iter()
        .position(|&m| m == model)
        .unwrap_or(0);
    match (paper_figures(a), paper_figures(b)) {
        (Some(x), Some(y)) if y[i] != 0.0 => x[i] / y[i],
        _ => 1.0,
    }
}

/// One verdict per claim of the paper (claim 1 both as "lowest of five" and at the paper's
/// margin) and two on the most robust algorithms, each from the paired differences of
/// `blocks` (one per repetition, the same methods in the same order) across repetitions.
/// `budget` says what iteration budget the blocks ran with.
pub fn verdicts(blocks: &[&[MethodRecord]], budget: &str) -> Vec<Verdict> {
    use cnmf_metrics::Claim;
    let j = Judge { blocks, budget };
    if blocks.is_empty() || ![IM, RM, IC, RC].iter().all(|m| j.has(m)) {
        return Vec::new();
    }
    let attacks = [NoiseModel::LowKnowledge, NoiseModel::Informed];
    let accuracy = [NoiseModel::Clean, NoiseModel::RandomNoise];
    let one = |_: &str, _: NoiseModel| 1.0;
    let mut out = vec![
        j.verdict(
            "claim-1",
            (
                "replace-corrupt is the most accurate of the paper's five algorithms on clean \
                 and randomly noised data (Table 1)",
                "replace-corrupt has the lowest NMAE of the five, Models 1 and 2 (claim 1)",
            ),
            "holds when every paired NMAE difference replace-corrupt − X has its 95% interval \
             below 0, does not hold when some interval lies entirely above 0, inconclusive \
             otherwise",
            j.pairs(RC, &[IM, RM, IC, RCN], &accuracy, &one, Claim::Lower),
        ),
        j.verdict(
            "claim-1-margin",
            (
                "replace-corrupt is more accurate than the existing algorithms (ignore-missing, \
                 replace-missing) by the paper's margin, tested as: its NMAE is at most the \
                 paper's ratio (Table 1: 0.149 / 0.160, 0.149 / 0.156 on Model 1; 0.153 / \
                 0.168, 0.153 / 0.163 on Model 2) times each one's",
                "replace-corrupt's NMAE below the existing algorithms' by the paper's margin, \
                 Models 1 and 2 (claim 1 as stated)",
            ),
            "holds when every paired difference replace-corrupt − r · X (r the paper's ratio) \
             has its 95% interval below 0, does not hold when some interval lies entirely \
             above 0, inconclusive otherwise",
            j.pairs(
                RC,
                &[IM, RM],
                &accuracy,
                &|b, m| paper_ratio(RC, b, m),
                Claim::Lower,
            ),
        ),
        j.verdict(
            "claim-2",
            (
                "ignore-corrupt cuts the mean absolute prediction shift by about 64% against \
                 the existing algorithms (ignore-missing, replace-missing) under both attacks \
                 (Table 2), tested as: its MAPS is at most 50% of each one's",
                "ignore-corrupt's MAPS at most half the existing algorithms', Models 3 and 4 \
                 (claim 2)",
            ),
            "holds when every paired difference ignore-corrupt − 0.5 · X has its 95% interval \
             below 0, does not hold when some interval lies entirely above 0, inconclusive \
             otherwise",
            j.pairs(IC, &[IM, RM], &attacks, &|_, _| 0.5, Claim::Lower),
        ),
        j.verdict(
            "claim-3",
            (
                "replace-corrupt fails under attack: its prediction shift exceeds the existing \
                 algorithms' (Table 2)",
                "replace-corrupt's MAPS above the existing algorithms', Models 3 and 4 \
                 (claim 3)",
            ),
            "holds when every paired MAPS difference replace-corrupt − X has its 95% interval \
             above 0, does not hold when some interval lies entirely below 0, inconclusive \
             otherwise",
            j.pairs(RC, &[IM, RM], &attacks, &one, Claim::Higher),
        ),
    ];
    if j.has(RCN) {
        out.push(j.verdict(
            "ic-vs-rcn",
            (
                "ignore-corrupt has a lower prediction shift than replace-corrupt-nointerp \
                 under both attacks (not a claim of the paper; a two-sided comparison of the two \
                 most robust corrupt variants)",
                "ignore-corrupt's MAPS below replace-corrupt-nointerp's, Models 3 and 4 \
                 (not in the paper)",
            ),
            "holds when every paired MAPS difference ignore-corrupt − replace-corrupt-nointerp \
             has its 95% interval below 0, does not hold when some interval lies entirely above \
             0 (replace-corrupt-nointerp lower), inconclusive otherwise",
            j.pairs(IC, &[RCN], &attacks, &one, Claim::Lower)
                .into_iter()
                .map(with_lower)
                .collect(),
        ));
        out.push(j.verdict(
            "rcn-lowest",
            (
                "replace-corrupt-nointerp has the lowest prediction shift of the paper's five \
                 algorithms under both attacks (not a claim of the paper)",
                "replace-corrupt-nointerp's MAPS the lowest of the five, Models 3 and 4 (not in \
                 the paper)",
            ),
            "holds when every paired MAPS difference replace-corrupt-nointerp − X has its 95% \
             interval below 0, does not hold when some interval lies entirely above 0, \
             inconclusive otherwise",
            j.pairs(RCN, &j.others(RCN), &attacks, &one, Claim::Lower)
                .into_iter()
                .map(with_lower)
                .collect(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::fixtures::rep;

    /// Five repetitions with ignore-corrupt's MAPS `ic[i]` and the others' fixed per repetition.
    fn reps_with_ic(ic: [f64; 5]) -> Vec<RepRecord> {
        let im = [0.060, 0.064, 0.058, 0.062, 0.066];
        let rm = [0.040, 0.044, 0.041, 0.043, 0.042];
        (0..5)
            .map(|i| {
                let j = i as f64 * 1e-3;
                rep(
                    i,
                    &[
                        ("ignore-missing", 0.160 + j, im[i]),
                        ("replace-missing", 0.156 + j, rm[i]),
                        ("ignore-corrupt", 0.156 + j, ic[i]),
                        ("replace-corrupt", 0.149 + j * 0.5, 0.6 + j),
                        ("replace-corrupt-nointerp", 0.155 + j, 0.4 + j),
                    ],
                )
            })
            .collect()
    }

    fn by_id(v: Vec<Verdict>, id: &str) -> Verdict {
        v.into_iter().find(|v| v.id == id).unwrap()
    }

    fn claim2(reps: &[RepRecord]) -> Verdict {
        by_id(verdicts(&paper_blocks(reps), "40 iterations"), "claim-2")
    }

    #[test]
    fn claim2_clearly_holds() {
        // About a quarter of replace-missing's MAPS in every repetition.
        let v = claim2(&reps_with_ic([0.010, 0.011, 0.010, 0.011, 0.010]));
        assert_eq!(v.verdict, "holds", "{v:?}");
        assert_eq!(v.repetitions, 5);
        assert_eq!(v.budget, "40 iterations");
        // ignore-missing and replace-missing under Models 3 and 4.
        assert_eq!(v.comparisons.len(), 4);
        for c in &v.comparisons {
            let t = c.test.as_ref().unwrap();
            assert_eq!(t.n, 5);
            assert_eq!(c.scale, 0.5);
            assert!(t.difference.high < 0.0, "{c:?}");
            let cut = c.estimated_cut.unwrap();
            assert!((cut - (1.0 - t.mean_a / t.mean_b)).abs() < 1e-12);
            assert!(cut > 0.5, "{c:?}");
        }
        // The paper's own cut against ignore-missing under Model 3: 1 - 0.027 / 0.062.
        let p = v.comparisons[0].paper_cut.unwrap();
        assert!((p - (1.0 - 0.027 / 0.062)).abs() < 1e-12, "{p}");
    }

    #[test]
    fn claim2_clearly_fails() {
        // As large as replace-missing's: no cut at all.
        let v = claim2(&reps_with_ic([0.040, 0.044, 0.041, 0.043, 0.042]));
        assert_eq!(v.verdict, "does not hold", "{v:?}");
        assert!(v
            .comparisons
            .iter()
            .any(|c| c.outcome == "does not hold" && c.test.unwrap().difference.low > 0.0));
    }

    #[test]
    fn claim2_straddles() {
        // Half of replace-missing's on average, with noise across repetitions: the interval
        // against replace-missing contains 0, the one against ignore-missing lies below.
        let v = claim2(&reps_with_ic([0.012, 0.030, 0.016, 0.028, 0.019]));
        assert_eq!(v.verdict, "inconclusive", "{v:?}");
        let rm: Vec<_> = v
            .comparisons
            .iter()
            .filter(|c| c.against == "replace-missing")
            .collect();
        assert!(rm.iter().all(|c| c.outcome == "inconclusive"), "{rm:?}");
        let im: Vec<_> = v
            .comparisons
            .iter()
            .filter(|c| c.against == "ignore-missing")
            .collect();
        assert!(im.iter().all(|c| c.outcome == "holds"), "{im:?}");
    }

    #[test]
    fn every_claim_from_paired_differences() {
        let reps = reps_with_ic([0.010, 0.011, 0.010, 0.011, 0.010]);
        let v = verdicts(&paper_blocks(&reps), "40 iterations");
        let ids: Vec<&str> = v.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "claim-1",
                "claim-1-margin",
                "claim-2",
                "claim-3",
                "ic-vs-rcn",
                "rcn-lowest"
            ]
        );
        // Claim 1 at the paper's margin: on Model 1 replace-corrupt's NMAE (0.149 + j / 2) is
        // below 0.149 / 0.160 · (0.160 + j) in every repetition (7.4% below ignore-missing's
        // where the paper has 6.9%), but the fixture's Model 2 NMAE equal Model 1's, short of
        // the paper's Model 2 margin (0.153 / 0.168: 8.9%).
        let margin = &v[1];
        assert_eq!(margin.verdict, "does not hold", "{margin:?}");
        let outcomes: Vec<&str> = margin
            .comparisons
            .iter()
            .map(|c| c.outcome.as_str())
            .collect();
        assert_eq!(
            outcomes,
            ["holds", "holds", "does not hold", "does not hold"]
        );
        let c = &margin.comparisons[0];
        assert_eq!(
            (c.against.as_str(), c.model.as_str()),
            ("ignore-missing", "Model 1")
        );
        assert!((c.scale - 0.149 / 0.160).abs() < 1e-12);
        // replace-corrupt-nointerp (MAPS 0.4) is not the lowest: ignore-corrupt's is 0.01.
        let lowest = &v[5];
        assert_eq!(lowest.verdict, "does not hold", "{lowest:?}");
        assert_eq!(lowest.comparisons.len(), 8);
        assert!(lowest
            .comparisons
            .iter()
            .any(|c| c.lower.as_deref() == Some("ignore-corrupt")));
        let v: Vec<Verdict> = [0, 2, 3, 4].map(|i| v[i].clone()).into();
        // Claim 1: four others under Models 1 and 2; replace-corrupt is lower in every pair.
        assert_eq!(v[0].comparisons.len(), 8);
        assert_eq!(v[0].verdict, "holds", "{:?}", v[0]);
        assert!(v[0].comparisons.iter().all(|c| c.metric == "NMAE"));
        // Claim 3: replace-corrupt's MAPS far above ignore-missing's and replace-missing's.
        assert_eq!(v[2].comparisons.len(), 4);
        assert_eq!(v[2].verdict, "holds", "{:?}", v[2]);
        // ignore-corrupt against replace-corrupt-nointerp: much lower.
        assert_eq!(v[3].comparisons.len(), 2);
        assert_eq!(v[3].verdict, "holds", "{:?}", v[3]);
        assert!(v[3].comparisons[0].estimated_cut.is_none());
        assert_eq!(v[3].comparisons[0].lower.as_deref(), Some("ignore-corrupt"));
        assert!(v[0].comparisons.iter().all(|c| c.lower.is_none()));
    }

    #[test]
    fn fewer_than_two_repetitions_is_inconclusive() {
        let reps = reps_with_ic([0.010, 0.011, 0.010, 0.011, 0.010]);
        let v = verdicts(&paper_blocks(&reps[..1]), "15 iterations");
        assert_eq!(v.len(), 6);
        for v in &v {
            assert_eq!(v.verdict, "inconclusive", "{v:?}");
            assert_eq!(v.repetitions, 1);
            assert!(v.comparisons.iter().all(|c| c.test.is_none()));
        }
        assert!(verdicts(&[], "15 iterations").is_empty());
    }
}
