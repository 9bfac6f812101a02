//! From repetitions to tables: means and standard deviations per method and model, the sweeps
//! averaged over their repetitions, and one verdict per claim of the paper.

use anyhow::Result;
use cnmf_metrics::{Interval, MeanSd};
use serde::Serialize;

use crate::records::{FitRecord, MethodRecord, NoiseModel, RepRecord};
use crate::verdicts::{self, Verdict};

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
    /// Recall over the attack's target ratings only (attacks).
    pub target_recall: Option<MeanSd>,
    /// Recall over the attack's filler ratings only (attacks with filler).
    pub filler_recall: Option<MeanSd>,
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
    /// MAPS under Models 3, 4 (clipped predictions, as served).
    pub maps: [MeanSd; 2],
    /// MAPS on raw predictions (the specification's definition), Models 3, 4.
    pub maps_unclipped: [MeanSd; 2],
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

/// The filler sweep at one filler size for one method.
#[derive(Debug, Clone, Serialize)]
pub struct FillerSummary {
    /// Filler items per profile.
    pub filler: usize,
    /// Method.
    pub method: String,
    /// MAPS, Model 3.
    pub low_knowledge: MeanSd,
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
    /// The verdicts on MAPS again, on MAPS net of the null-attack control.
    pub verdicts_net_of_control: Vec<Verdict>,
    /// Attack-size sweep.
    pub attack_size: Vec<SizeSummary>,
    /// Lambda sweep.
    pub lambda: Vec<LambdaSummary>,
    /// Filler sweep.
    pub filler: Vec<FillerSummary>,
    /// The paper's algorithms at the other budgets, and the verdicts there.
    pub budgets: Vec<crate::robustness::BudgetSummary>,
    /// The attacks beyond the paper.
    pub more_attacks: Vec<crate::robustness::AttackSummary>,
    /// The paper block's MAPS by the target's mean-rating band and popularity band.
    pub bands: Vec<crate::robustness::BandSummary>,
    /// Share of the clean training ratings each corrupt variant flags under Model 1.
    pub clean_flagged_share: Vec<(String, MeanSd)>,
    /// The defence against its targets, when the run fitted it.
    pub scorecard: Option<crate::scorecard::Scorecard>,
}

pub(crate) fn mean_sd(values: &[f64]) -> Result<MeanSd> {
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
    let part = |pick: fn(&FitRecord) -> Option<cnmf_metrics::Detection>| -> Vec<f64> {
        fits.iter()
            .filter_map(|f| pick(f).and_then(|d| d.recall))
            .collect()
    };
    let target_recall = part(|f| f.target_detection);
    let filler_recall = part(|f| f.filler_detection);
    let flagged: Vec<f64> = d.iter().map(|x| x.flagged() as f64).collect();
    let positives: Vec<f64> = d.iter().map(|x| x.positives() as f64).collect();
    Ok(DetectionSummary {
        precision: opt_mean_sd(&precision)?,
        recall: opt_mean_sd(&recall)?,
        target_recall: opt_mean_sd(&target_recall)?,
        filler_recall: opt_mean_sd(&filler_recall)?,
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
    let mut raw = Vec::new();
    let mut signed = Vec::new();
    let mut unrated = Vec::new();
    for i in 0..2 {
        let s = shift(i).ok_or_else(|| anyhow::anyhow!("attack fit without a shift"))?;
        maps.push(mean_sd(&s.iter().map(|x| x.maps).collect::<Vec<_>>())?);
        raw.push(mean_sd(
            &s.iter().map(|x| x.maps_unclipped).collect::<Vec<_>>(),
        )?);
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
        maps_unclipped: [raw[0], raw[1]],
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
pub(crate) fn per_method<'r, T>(
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
pub(crate) fn block<'r>(
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
    let verdicts = verdicts::verdicts(&verdicts::paper_blocks(reps), budget);
    let net = verdicts::net_of_control_blocks(reps);
    let net: Vec<&[MethodRecord]> = net.iter().map(Vec::as_slice).collect();
    let verdicts_net_of_control = verdicts::verdicts(&net, budget)
        .into_iter()
        .filter(|v| v.comparisons.iter().all(|c| c.metric == "MAPS"))
        .collect();
    let (attack_size, lambda, filler) = sweeps(reps)?;
    Ok(Summary {
        paper,
        null_control,
        hit_ratio_and_user_detection,
        regularised,
        extra,
        verdicts,
        verdicts_net_of_control,
        attack_size,
        lambda,
        filler,
        budgets: crate::robustness::budget_summaries(reps)?,
        more_attacks: crate::robustness::attack_summaries(reps)?,
        bands: crate::robustness::band_summaries(reps)?,
        clean_flagged_share: crate::robustness::clean_flagged_share(reps)?,
        scorecard: crate::scorecard::scorecard(reps),
    })
}

/// The sweeps' summaries.
type Sweeps = (Vec<SizeSummary>, Vec<LambdaSummary>, Vec<FillerSummary>);

fn sweeps(reps: &[RepRecord]) -> Result<Sweeps> {
    let swept: Vec<_> = reps.iter().filter_map(|r| r.sweeps.as_ref()).collect();
    let Some(first) = swept.first() else {
        return Ok((Vec::new(), Vec::new(), Vec::new()));
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
    let mut fillers = Vec::new();
    for (i, p) in first.filler.iter().enumerate() {
        let maps: Vec<f64> = swept
            .iter()
            .map(|s| s.filler[i].low_knowledge.maps)
            .collect();
        fillers.push(FillerSummary {
            filler: p.filler,
            method: p.method.clone(),
            low_knowledge: mean_sd(&maps)?,
        });
    }
    Ok((sizes, lambdas, fillers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::fixtures::{fit, rep};
    use cnmf_metrics::Detection;

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
