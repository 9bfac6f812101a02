//! From repetitions to tables: means and standard deviations per method and model, the sweeps
//! averaged over their repetitions, and one verdict per claim of the paper.

use anyhow::Result;
use cnmf_metrics::{Interval, MeanSd};
use serde::Serialize;

use crate::records::{FitRecord, MethodRecord, NoiseModel, RepRecord};

/// The paper's figures (spec section 7): NMAE Models 1, 2 and MAPS Models 3, 4.
pub const PAPER: [(&str, [f64; 4]); 5] = [
    ("ignore-missing", [0.160, 0.168, 0.062, 0.083]),
    ("replace-missing", [0.156, 0.163, 0.042, 0.050]),
    ("ignore-corrupt", [0.156, 0.164, 0.027, 0.019]),
    ("replace-corrupt", [0.149, 0.153, 0.621, 0.159]),
    ("replace-corrupt-nointerp", [0.155, 0.155, 0.467, 0.134]),
];

/// The paper's figures of `method`, if it is one of its five.
pub fn paper_figures(method: &str) -> Option<[f64; 4]> {
    PAPER.iter().find(|(m, _)| *m == method).map(|(_, f)| *f)
}

/// Detection quality of one method under one model, across repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionSummary {
    /// Precision, over the repetitions where something was flagged (`None` if never).
    pub precision: Option<MeanSd>,
    /// Recall.
    pub recall: Option<MeanSd>,
    /// Ratings flagged.
    pub flagged: MeanSd,
    /// Injected or changed entries (positives).
    pub positives: MeanSd,
}

/// One method across repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct MethodSummary {
    /// Method.
    pub method: String,
    /// Test NMAE under Models 1-4.
    pub nmae: [MeanSd; 4],
    /// Test RMSE under Models 1-4.
    pub rmse: [MeanSd; 4],
    /// MAPS under Models 3, 4.
    pub maps: [MeanSd; 2],
    /// Signed mean shift under Models 3, 4.
    pub mean_shift: [MeanSd; 2],
    /// MAPS over genuine users who had not rated the target, Models 3, 4.
    pub maps_unrated: [Option<MeanSd>; 2],
    /// Detection under Models 2-4 (corrupt variants).
    pub detection: Option<[DetectionSummary; 3]>,
    /// Iterations of the kept Model 1 model.
    pub iterations: MeanSd,
    /// Seconds per fit (all models).
    pub seconds: MeanSd,
}

/// The attack-size sweep at one size for one method.
#[derive(Debug, Clone, Serialize)]
pub struct SizeSummary {
    /// Fraction of the users.
    pub fraction: f64,
    /// Mean number of adversaries.
    pub adversaries: f64,
    /// Method.
    pub method: String,
    /// MAPS, Model 3.
    pub low_knowledge: MeanSd,
    /// MAPS, Model 4.
    pub informed: MeanSd,
}

/// The lambda sweep at one lambda for one corrupt variant.
#[derive(Debug, Clone, Serialize)]
pub struct LambdaSummary {
    /// Multiple of the run's lambda.
    pub multiplier: f64,
    /// Lambda.
    pub lambda: f64,
    /// Method.
    pub method: String,
    /// NMAE, Model 1.
    pub clean_nmae: MeanSd,
    /// NMAE, Model 2.
    pub noisy_nmae: MeanSd,
    /// MAPS, Model 3.
    pub low_maps: MeanSd,
    /// MAPS, Model 4.
    pub informed_maps: MeanSd,
    /// Detection under Models 2-4.
    pub detection: [DetectionSummary; 3],
}

/// One algorithm on the null-attack control of Model 3, across repetitions: the control's
/// MAPS and the attacks' MAPS net of it (per repetition: attack minus control).
#[derive(Debug, Clone, Serialize)]
pub struct ControlSummary {
    /// Algorithm.
    pub method: String,
    /// Repetitions averaged.
    pub repetitions: usize,
    /// The control's MAPS.
    pub control_maps: MeanSd,
    /// Model 3's MAPS net of the control.
    pub low_knowledge_maps_net_of_control: MeanSd,
    /// Its mean with a 95% Student-t interval (`None` with fewer than 2 repetitions).
    pub low_knowledge_maps_net_of_control_ci95: Option<Interval>,
    /// Model 4's MAPS net of the control.
    pub informed_maps_net_of_control: MeanSd,
    /// Its mean with a 95% Student-t interval (`None` with fewer than 2 repetitions).
    pub informed_maps_net_of_control_ci95: Option<Interval>,
}

/// Confidence level of the net-of-control intervals.
pub const CONTROL_LEVEL: f64 = 0.95;

/// The null-control summary of every algorithm, in the order of the first repetition.
pub fn control_summary(reps: &[RepRecord]) -> Result<Vec<ControlSummary>> {
    let mut out = Vec::new();
    for recs in per_method(reps, "null-control", |r| &r.null_control, |c| &c.method)? {
        let c = recs[0];
        let control: Vec<f64> = recs.iter().filter_map(|r| r.maps()).collect();
        let low: Vec<f64> = recs
            .iter()
            .map(|r| r.low_knowledge_maps_net_of_control)
            .collect();
        let inf: Vec<f64> = recs
            .iter()
            .map(|r| r.informed_maps_net_of_control)
            .collect();
        // `mean_ci` refuses fewer than 2 values: no interval then.
        let ci = |v: &[f64]| cnmf_metrics::mean_ci(v, CONTROL_LEVEL).ok();
        out.push(ControlSummary {
            method: c.method.clone(),
            repetitions: recs.len(),
            control_maps: mean_sd(&control)?,
            low_knowledge_maps_net_of_control: mean_sd(&low)?,
            low_knowledge_maps_net_of_control_ci95: ci(&low),
            informed_maps_net_of_control: mean_sd(&inf)?,
            informed_maps_net_of_control_ci95: ci(&inf),
        });
    }
    Ok(out)
}

/// Hit ratio at 10 and user-level detection of one algorithm under one attack, across
/// repetitions (each `None` when no repetition recorded it).
#[derive(Debug, Clone, Serialize)]
pub struct HitUserSummary {
    /// Hit ratio at 10 of the target under the clean Model 1 fit.
    pub hit_ratio_before: Option<MeanSd>,
    /// Hit ratio at 10 of the target under the attacked fit.
    pub hit_ratio_after: Option<MeanSd>,
    /// User-level precision, over the repetitions where some user was flagged.
    pub user_precision: Option<MeanSd>,
    /// User-level recall.
    pub user_recall: Option<MeanSd>,
    /// User-level F1.
    pub user_f1: Option<MeanSd>,
}

/// One algorithm's hit ratio at 10 and user-level detection under Models 3 and 4.
#[derive(Debug, Clone, Serialize)]
pub struct HitUserMethodSummary {
    /// Algorithm.
    pub method: String,
    /// Repetitions averaged.
    pub repetitions: usize,
    /// Model 3.
    pub low_knowledge: HitUserSummary,
    /// Model 4.
    pub informed: HitUserSummary,
}

fn hit_user_summary(fits: &[&FitRecord]) -> Result<HitUserSummary> {
    let hits: Vec<_> = fits
        .iter()
        .filter_map(|f| f.hit_ratio_at_10.as_ref())
        .collect();
    let users: Vec<_> = fits.iter().filter_map(|f| f.user_detection).collect();
    let rate = |f: fn(&cnmf_metrics::Detection) -> Option<f64>| {
        opt_mean_sd(&users.iter().filter_map(f).collect::<Vec<_>>())
    };
    Ok(HitUserSummary {
        hit_ratio_before: opt_mean_sd(&hits.iter().map(|h| h.before).collect::<Vec<_>>())?,
        hit_ratio_after: opt_mean_sd(&hits.iter().map(|h| h.after).collect::<Vec<_>>())?,
        user_precision: rate(|d| d.precision)?,
        user_recall: rate(|d| d.recall)?,
        user_f1: rate(|d| d.f1)?,
    })
}

/// The paper block's hit ratio at 10 and user-level detection per algorithm, in the order of
/// the first repetition.
pub fn hit_user_summary_of(reps: &[RepRecord]) -> Result<Vec<HitUserMethodSummary>> {
    let mut out = Vec::new();
    for recs in per_method(reps, "paper", |r| &r.paper, |m| &m.method)? {
        let m = recs[0];
        let fits = |model| recs.iter().map(|r| r.fit(model)).collect::<Vec<_>>();
        out.push(HitUserMethodSummary {
            method: m.method.clone(),
            repetitions: recs.len(),
            low_knowledge: hit_user_summary(&fits(NoiseModel::LowKnowledge))?,
            informed: hit_user_summary(&fits(NoiseModel::Informed))?,
        });
    }
    Ok(out)
}

/// Everything the report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The paper's protocol.
    pub paper: Vec<MethodSummary>,
    /// The null-attack control of Model 3 and the attacks' MAPS net of it.
    pub null_control: Vec<ControlSummary>,
    /// Hit ratio at 10 of the target and user-level detection, Models 3 and 4 (paper block).
    pub hit_ratio_and_user_detection: Vec<HitUserMethodSummary>,
    /// L2 + early stopping.
    pub regularised: Vec<MethodSummary>,
    /// Other methods.
    pub extra: Vec<MethodSummary>,
    /// Verdicts on the paper's claims (from the paper block).
    pub verdicts: Vec<Verdict>,
    /// Attack-size sweep.
    pub attack_size: Vec<SizeSummary>,
    /// Lambda sweep.
    pub lambda: Vec<LambdaSummary>,
}

fn mean_sd(values: &[f64]) -> Result<MeanSd> {
    Ok(MeanSd::of(values)?)
}

fn opt_mean_sd(values: &[f64]) -> Result<Option<MeanSd>> {
    if values.is_empty() {
        Ok(None)
    } else {
        Ok(Some(mean_sd(values)?))
    }
}

/// Detection across fits (all of which have a detection).
fn detection_summary(fits: &[&FitRecord]) -> Result<DetectionSummary> {
    let d: Vec<_> = fits.iter().filter_map(|f| f.detection).collect();
    let precision: Vec<f64> = d.iter().filter_map(|x| x.precision).collect();
    let recall: Vec<f64> = d.iter().filter_map(|x| x.recall).collect();
    let flagged: Vec<f64> = d.iter().map(|x| x.flagged() as f64).collect();
    let positives: Vec<f64> = d.iter().map(|x| x.positives() as f64).collect();
    Ok(DetectionSummary {
        precision: opt_mean_sd(&precision)?,
        recall: opt_mean_sd(&recall)?,
        flagged: mean_sd(&flagged)?,
        positives: mean_sd(&positives)?,
    })
}

/// Summary of one method from its records in every repetition.
pub fn method_summary(recs: &[&MethodRecord]) -> Result<MethodSummary> {
    let per = |f: &dyn Fn(&MethodRecord) -> f64| -> Result<MeanSd> {
        mean_sd(&recs.iter().map(|r| f(r)).collect::<Vec<_>>())
    };
    let models = NoiseModel::ALL;
    let nmae = [0, 1, 2, 3].map(|i| per(&|r| r.fit(models[i]).accuracy.nmae));
    let rmse = [0, 1, 2, 3].map(|i| per(&|r| r.fit(models[i]).accuracy.rmse));
    let attacked = [NoiseModel::LowKnowledge, NoiseModel::Informed];
    let shift = |i: usize| {
        recs.iter()
            .map(|r| r.fit(attacked[i]).shift)
            .collect::<Option<Vec<_>>>()
    };
    let mut maps = Vec::new();
    let mut signed = Vec::new();
    let mut unrated = Vec::new();
    for i in 0..2 {
        let s = shift(i).ok_or_else(|| anyhow::anyhow!("attack fit without a shift"))?;
        maps.push(mean_sd(&s.iter().map(|x| x.maps).collect::<Vec<_>>())?);
        signed.push(mean_sd(
            &s.iter().map(|x| x.mean_shift).collect::<Vec<_>>(),
        )?);
        unrated.push(opt_mean_sd(
            &s.iter().filter_map(|x| x.maps_unrated).collect::<Vec<_>>(),
        )?);
    }
    let detection = if recs.iter().all(|r| r.random_noise.detection.is_some()) {
        let mut d = Vec::new();
        for m in [
            NoiseModel::RandomNoise,
            NoiseModel::LowKnowledge,
            NoiseModel::Informed,
        ] {
            d.push(detection_summary(
                &recs.iter().map(|r| r.fit(m)).collect::<Vec<_>>(),
            )?);
        }
        Some([d[0].clone(), d[1].clone(), d[2].clone()])
    } else {
        None
    };
    let secs: Vec<f64> = recs
        .iter()
        .flat_map(|r| models.iter().map(|&m| r.fit(m).seconds))
        .collect();
    let [n0, n1, n2, n3] = nmae;
    let [r0, r1, r2, r3] = rmse;
    Ok(MethodSummary {
        method: recs[0].method.clone(),
        nmae: [n0?, n1?, n2?, n3?],
        rmse: [r0?, r1?, r2?, r3?],
        maps: [maps[0], maps[1]],
        mean_shift: [signed[0], signed[1]],
        maps_unrated: [unrated[0], unrated[1]],
        detection,
        iterations: per(&|r| r.clean.iterations as f64)?,
        seconds: mean_sd(&secs)?,
    })
}

/// Each method's records of one block across the repetitions that ran it (a block that runs
/// in the first repetitions only is taken over those), in the order of the first one; `pick`
/// selects the block's records of a repetition, `method` names a record's method. Errors when
/// the repetitions list the methods differently.
fn per_method<'r, T>(
    reps: &'r [RepRecord],
    what: &str,
    pick: impl Fn(&'r RepRecord) -> &'r [T],
    method: impl Fn(&T) -> &str,
) -> Result<Vec<Vec<&'r T>>> {
    let reps: Vec<&RepRecord> = reps.iter().filter(|r| !pick(r).is_empty()).collect();
    let Some(first) = reps.first() else {
        return Ok(Vec::new());
    };
    pick(first)
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let recs: Vec<&T> = reps.iter().filter_map(|r| pick(r).get(i)).collect();
            anyhow::ensure!(
                recs.len() == reps.len() && recs.iter().all(|r| method(r) == method(m)),
                "{what} records of different repetitions are not in the same order"
            );
            Ok(recs)
        })
        .collect()
}

/// Summaries of a block: `pick` selects the block's records of a repetition.
fn block<'r>(
    reps: &'r [RepRecord],
    what: &str,
    pick: impl Fn(&'r RepRecord) -> &'r [MethodRecord],
) -> Result<Vec<MethodSummary>> {
    per_method(reps, what, pick, |m| &m.method)?
        .iter()
        .map(|recs| method_summary(recs))
        .collect()
}

/// Builds the summary.
pub fn summarise(reps: &[RepRecord], budget: &str) -> Result<Summary> {
    let paper = block(reps, "paper", |r| &r.paper)?;
    let null_control = control_summary(reps)?;
    let hit_ratio_and_user_detection = hit_user_summary_of(reps)?;
    let regularised = block(reps, "regularised", |r| &r.regularised)?;
    let extra = block(reps, "extra-method", |r| &r.extra)?;
    let verdicts = verdicts(reps, budget);
    let (attack_size, lambda) = sweeps(reps)?;
    Ok(Summary {
        paper,
        null_control,
        hit_ratio_and_user_detection,
        regularised,
        extra,
        verdicts,
        attack_size,
        lambda,
    })
}

fn sweeps(reps: &[RepRecord]) -> Result<(Vec<SizeSummary>, Vec<LambdaSummary>)> {
    let swept: Vec<_> = reps.iter().filter_map(|r| r.sweeps.as_ref()).collect();
    let Some(first) = swept.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut sizes = Vec::new();
    for (i, p) in first.attack_size.iter().enumerate() {
        let pts: Vec<_> = swept.iter().map(|s| &s.attack_size[i]).collect();
        sizes.push(SizeSummary {
            fraction: p.fraction,
            adversaries: pts.iter().map(|x| x.adversaries as f64).sum::<f64>() / pts.len() as f64,
            method: p.method.clone(),
            low_knowledge: mean_sd(&pts.iter().map(|x| x.low_knowledge.maps).collect::<Vec<_>>())?,
            informed: mean_sd(&pts.iter().map(|x| x.informed.maps).collect::<Vec<_>>())?,
        });
    }
    let mut lambdas = Vec::new();
    for (i, p) in first.lambda.iter().enumerate() {
        let pts: Vec<_> = swept.iter().map(|s| &s.lambda[i]).collect();
        let col = |f: &dyn Fn(&crate::records::LambdaPoint) -> f64| {
            mean_sd(&pts.iter().map(|x| f(x)).collect::<Vec<_>>())
        };
        let shift = |f: &FitRecord| f.shift.map_or(f64::NAN, |s| s.maps);
        lambdas.push(LambdaSummary {
            multiplier: p.multiplier,
            lambda: p.lambda,
            method: p.method.clone(),
            clean_nmae: col(&|x| x.clean.accuracy.nmae)?,
            noisy_nmae: col(&|x| x.random_noise.accuracy.nmae)?,
            low_maps: col(&|x| shift(&x.low_knowledge))?,
            informed_maps: col(&|x| shift(&x.informed))?,
            detection: [
                detection_summary(&pts.iter().map(|x| &x.random_noise).collect::<Vec<_>>())?,
                detection_summary(&pts.iter().map(|x| &x.low_knowledge).collect::<Vec<_>>())?,
                detection_summary(&pts.iter().map(|x| &x.informed).collect::<Vec<_>>())?,
            ],
        });
    }
    Ok((sizes, lambdas))
}

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
    /// Estimated cut of `a` against `b`, `1 - mean(a) / mean(b)` (relative claims only).
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

/// Per-repetition NMAE (Models 1, 2) or MAPS (Models 3, 4) of one method of the paper block.
fn per_rep(reps: &[&RepRecord], method: &str, model: NoiseModel) -> Option<Vec<f64>> {
    reps.iter()
        .map(|r| {
            let m = r.paper.iter().find(|m| m.method == method)?;
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
    reps: &[&RepRecord],
    a: &str,
    b: &str,
    model: NoiseModel,
    scale: f64,
    claim: cnmf_metrics::Claim,
) -> Option<Comparison> {
    let xa = per_rep(reps, a, model)?;
    let xb = per_rep(reps, b, model)?;
    // Refused with fewer than 2 pairs: no test, an inconclusive comparison.
    let test = cnmf_metrics::paired_difference_scaled(&xa, &xb, scale, VERDICT_LEVEL).ok();
    let relative = scale != 1.0;
    let paper_cut = |m: &str| {
        let i = match model {
            NoiseModel::LowKnowledge => 2,
            NoiseModel::Informed => 3,
            _ => return None,
        };
        paper_figures(m).map(|f| f[i])
    };
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
        claim: claim.into(),
        short: short.into(),
        verdict: verdict.into(),
        rule: rule.into(),
        repetitions: reps,
        budget: budget.into(),
        comparisons,
    }
}

/// One verdict per claim of the paper (and one on the two most robust algorithms), each from
/// the paired differences of the paper block across repetitions.
pub fn verdicts(reps: &[RepRecord], budget: &str) -> Vec<Verdict> {
    use cnmf_metrics::Claim;
    const IM: &str = "ignore-missing";
    const RM: &str = "replace-missing";
    const IC: &str = "ignore-corrupt";
    const RC: &str = "replace-corrupt";
    const RCN: &str = "replace-corrupt-nointerp";
    let reps: Vec<&RepRecord> = reps.iter().filter(|r| !r.paper.is_empty()).collect();
    let n = reps.len();
    let has = |m: &str| {
        reps.first()
            .is_some_and(|r| r.paper.iter().any(|x| x.method == m))
    };
    if n == 0 || ![IM, RM, IC, RC].iter().all(|m| has(m)) {
        return Vec::new();
    }
    let attacks = [NoiseModel::LowKnowledge, NoiseModel::Informed];
    let pairs = |a: &str,
                 against: &[&str],
                 models: &[NoiseModel],
                 scale: f64,
                 claim: Claim|
     -> Vec<Comparison> {
        models
            .iter()
            .flat_map(|&m| {
                against
                    .iter()
                    .filter_map(move |&b| (b != a && has(b)).then_some((m, b)))
            })
            .filter_map(|(m, b)| compare(&reps, a, b, m, scale, claim))
            .collect()
    };
    let others = [IM, RM, IC, RCN];
    let mut out = vec![
        combine(
            (
                "replace-corrupt is the most accurate on clean and randomly noised data \
                 (Table 1)",
                "replace-corrupt has the lowest NMAE, Models 1 and 2 (claim 1)",
            ),
            "holds when every paired NMAE difference replace-corrupt − X has its 95% interval \
             below 0, does not hold when some interval lies entirely above 0, inconclusive \
             otherwise",
            n,
            budget,
            pairs(
                RC,
                &others,
                &[NoiseModel::Clean, NoiseModel::RandomNoise],
                1.0,
                Claim::Lower,
            ),
        ),
        combine(
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
            n,
            budget,
            pairs(IC, &[IM, RM], &attacks, 0.5, Claim::Lower),
        ),
        combine(
            (
                "replace-corrupt fails under attack: its prediction shift exceeds the existing \
                 algorithms' (Table 2)",
                "replace-corrupt's MAPS above the existing algorithms', Models 3 and 4 \
                 (claim 3)",
            ),
            "holds when every paired MAPS difference replace-corrupt − X has its 95% interval \
             above 0, does not hold when some interval lies entirely below 0, inconclusive \
             otherwise",
            n,
            budget,
            pairs(RC, &[IM, RM], &attacks, 1.0, Claim::Higher),
        ),
    ];
    if has(RCN) {
        out.push(combine(
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
            n,
            budget,
            pairs(IC, &[RCN], &attacks, 1.0, Claim::Lower)
                .into_iter()
                .map(|mut c| {
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
                })
                .collect(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{RepSeeds, TargetInfo};
    use cnmf_metrics::{Accuracy, Detection, PredictionShift};

    fn fit(nmae: f64, maps: Option<f64>) -> FitRecord {
        FitRecord {
            accuracy: Accuracy {
                nmae,
                mae: 4.0 * nmae,
                rmse: 5.0 * nmae,
                n: 100,
            },
            shift: maps.map(|maps| PredictionShift {
                target: 0,
                maps,
                mean_shift: -maps,
                maps_unrated: None,
                n_users: 100,
                n_unrated: 0,
            }),
            detection: None,
            hit_ratio_at_10: None,
            user_detection: None,
            iterations: 40,
            stop_reason: "budget".into(),
            flagged: 0,
            seconds: 0.0,
        }
    }

    /// A repetition whose paper block gives `method` NMAE `nmae` under Models 1 and 2 and MAPS
    /// `maps` under Models 3 and 4.
    fn rep(rep: usize, methods: &[(&str, f64, f64)]) -> RepRecord {
        RepRecord {
            rep,
            seeds: RepSeeds {
                split: 0,
                init: 0,
                noise: 0,
                attack: 0,
            },
            train_ratings: 0,
            test_ratings: 0,
            noise_flips: 0,
            adversaries: 0,
            target: TargetInfo {
                item: 0,
                external_id: "1".into(),
                train_ratings: 0,
                train_mean: 0.0,
            },
            paper: methods
                .iter()
                .map(|&(m, nmae, maps)| MethodRecord {
                    method: m.into(),
                    clean: fit(nmae, None),
                    random_noise: fit(nmae, None),
                    low_knowledge: fit(nmae, Some(maps)),
                    informed: fit(nmae, Some(maps)),
                })
                .collect(),
            null_control: Vec::new(),
            regularised: Vec::new(),
            extra: Vec::new(),
            sweeps: None,
            seconds: 0.0,
        }
    }

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

    fn claim2(reps: &[RepRecord]) -> Verdict {
        verdicts(reps, "40 iterations").swap_remove(1)
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
        let v = verdicts(
            &reps_with_ic([0.010, 0.011, 0.010, 0.011, 0.010]),
            "40 iterations",
        );
        assert_eq!(v.len(), 4);
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
        let v = verdicts(&reps[..1], "15 iterations");
        assert_eq!(v.len(), 4);
        for v in &v {
            assert_eq!(v.verdict, "inconclusive", "{v:?}");
            assert_eq!(v.repetitions, 1);
            assert!(v.comparisons.iter().all(|c| c.test.is_none()));
        }
        assert!(verdicts(&[], "15 iterations").is_empty());
    }

    /// A repetition whose null control gives `method` MAPS `control`, Model 3 net `low`.
    fn with_control(n: usize, control: f64, low: f64) -> RepRecord {
        let mut r = rep(n, &[]);
        r.null_control = vec![crate::records::ControlRecord {
            method: "ignore-missing".into(),
            fit: fit(0.2, Some(control)),
            low_knowledge_maps_net_of_control: low,
            informed_maps_net_of_control: 2.0 * low,
        }];
        r
    }

    #[test]
    fn control_summary_means_and_intervals() {
        let reps = [
            with_control(0, 0.01, 0.10),
            with_control(1, 0.03, 0.20),
            with_control(2, 0.02, 0.30),
        ];
        let c = &control_summary(&reps).unwrap()[0];
        assert_eq!((c.method.as_str(), c.repetitions), ("ignore-missing", 3));
        assert!((c.control_maps.mean - 0.02).abs() < 1e-12);
        let ci = c.low_knowledge_maps_net_of_control_ci95.unwrap();
        assert!((ci.estimate - 0.2).abs() < 1e-12 && ci.low < 0.2 && ci.high > 0.2);
        let inf = c.informed_maps_net_of_control_ci95.unwrap();
        assert!((inf.estimate - 0.4).abs() < 1e-12);
        // One repetition: means, no interval; no control recorded: no rows.
        let one = &control_summary(&reps[..1]).unwrap()[0];
        assert!(one.low_knowledge_maps_net_of_control_ci95.is_none());
        assert!((one.low_knowledge_maps_net_of_control.mean - 0.1).abs() < 1e-12);
        assert!(control_summary(&[rep(0, &[])]).unwrap().is_empty());
    }

    /// A hit ratio at 10 of (before, after) over 100 users, target 0.
    fn hits(before: f64, after: f64) -> cnmf_metrics::HitRatio {
        let count = |r: f64| (r * 100.0).round() as usize;
        cnmf_metrics::HitRatio {
            n: 10,
            users: 100,
            per_target: vec![cnmf_metrics::TargetHits {
                target: 0,
                eligible_users: 100,
                hits_before: count(before),
                hits_after: count(after),
            }],
            before,
            after,
        }
    }

    #[test]
    fn hit_user_summary_means_and_undefined_rates() {
        let mut reps = vec![
            rep(0, &[("ignore-corrupt", 0.2, 0.1)]),
            rep(1, &[("ignore-corrupt", 0.2, 0.1)]),
        ];
        // Repetition 0: 2 of 4 adversaries caught, 2 genuine users flagged; repetition 1:
        // nothing flagged (precision undefined), 4 adversaries missed.
        let users = [
            Detection::from_counts(2, 2, 2),
            Detection::from_counts(0, 0, 4),
        ];
        for (r, (b, a)) in reps.iter_mut().zip([(0.0, 0.5), (0.1, 0.7)]) {
            r.paper[0].low_knowledge.hit_ratio_at_10 = Some(hits(b, a));
            r.paper[0].informed.hit_ratio_at_10 = Some(hits(b, a / 2.0));
        }
        for (r, d) in reps.iter_mut().zip(users) {
            r.paper[0].low_knowledge.user_detection = Some(d);
        }
        let s = &hit_user_summary_of(&reps).unwrap()[0];
        assert_eq!((s.method.as_str(), s.repetitions), ("ignore-corrupt", 2));
        let low = &s.low_knowledge;
        assert!((low.hit_ratio_before.unwrap().mean - 0.05).abs() < 1e-12);
        assert!((low.hit_ratio_after.unwrap().mean - 0.6).abs() < 1e-12);
        assert!((s.informed.hit_ratio_after.unwrap().mean - 0.3).abs() < 1e-12);
        // Precision only where something was flagged; recall and F1 over both repetitions.
        let p = low.user_precision.unwrap();
        assert_eq!((p.mean, p.sd), (0.5, None));
        assert!((low.user_recall.unwrap().mean - 0.25).abs() < 1e-12);
        assert!((low.user_f1.unwrap().mean - 0.25).abs() < 1e-12);
        // No user-level detection recorded (a non-corrupt algorithm): undefined, not zero.
        assert!(s.informed.user_recall.is_none() && s.informed.user_f1.is_none());
        assert!(hit_user_summary_of(&[]).unwrap().is_empty());
    }
}
