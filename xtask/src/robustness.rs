//! Summaries of where robustness holds and where it breaks: the paper's algorithms at the
//! other budgets (with their verdicts), the attacks beyond the paper, the paper block's MAPS
//! by the target's mean-rating and popularity bands, and how many clean ratings the corrupt
//! variants flag.

use anyhow::Result;
use cnmf_metrics::MeanSd;
use serde::Serialize;

use crate::records::{AttackRecord, FitRecord, NoiseModel, RepRecord};
use crate::summary::{block, mean_sd, MethodSummary};
use crate::verdicts::{self, Verdict};

/// The paper's algorithms at one other budget, across repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetSummary {
    /// The budget.
    pub label: String,
    /// Iterations each algorithm ran (Model 1 fit of the first repetition).
    pub iterations: Vec<(String, usize)>,
    /// One summary per algorithm.
    pub methods: Vec<MethodSummary>,
    /// The verdicts at this budget.
    pub verdicts: Vec<Verdict>,
}

/// The summaries of every other budget, in the order of the first repetition.
pub fn budget_summaries(reps: &[RepRecord]) -> Result<Vec<BudgetSummary>> {
    let Some(first) = reps.iter().find(|r| !r.budgets.is_empty()) else {
        return Ok(Vec::new());
    };
    first
        .budgets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            fn methods_at(r: &RepRecord, i: usize) -> &[crate::records::MethodRecord] {
                r.budgets.get(i).map_or(&[][..], |b| &b.methods[..])
            }
            let pick = move |r| methods_at(r, i);
            let blocks: Vec<_> = reps.iter().map(pick).filter(|b| !b.is_empty()).collect();
            Ok(BudgetSummary {
                label: b.label.clone(),
                iterations: b
                    .methods
                    .iter()
                    .map(|m| (m.method.clone(), m.clean.iterations))
                    .collect(),
                methods: block(reps, "budget", pick)?,
                verdicts: verdicts::verdicts(&blocks, &b.label),
            })
        })
        .collect()
}

/// One algorithm under one attack beyond the paper, across repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct AttackSummary {
    /// The attack.
    pub attack: String,
    /// The algorithm.
    pub method: String,
    /// MAPS (clipped predictions).
    pub maps: MeanSd,
    /// MAPS on raw predictions.
    pub maps_unclipped: MeanSd,
    /// Signed mean shift (negative when a nuke worked, positive when a push did).
    pub mean_shift: MeanSd,
    /// Hit ratio at 10 of the target under the Model 1 fit.
    pub hit_ratio_before: Option<MeanSd>,
    /// The same under the attacked fit.
    pub hit_ratio_after: Option<MeanSd>,
    /// Share of the attack's target ratings flagged (corrupt variants).
    pub target_recall: Option<MeanSd>,
    /// Training ratings of the targets.
    pub target_ratings: MeanSd,
    /// Mean training rating of the targets.
    pub target_mean: MeanSd,
}

fn opt(values: Vec<f64>) -> Result<Option<MeanSd>> {
    Ok(if values.is_empty() {
        None
    } else {
        Some(mean_sd(&values)?)
    })
}

fn attack_summary(recs: &[&AttackRecord]) -> Result<AttackSummary> {
    let col = |f: &dyn Fn(&AttackRecord) -> Option<f64>| -> Vec<f64> {
        recs.iter().filter_map(|r| f(r)).collect()
    };
    let shift = |f: fn(&cnmf_metrics::PredictionShift) -> f64| {
        mean_sd(&col(&|r: &AttackRecord| r.fit.shift.as_ref().map(f)))
    };
    let hit = |after: bool| {
        opt(col(&|r: &AttackRecord| {
            let h = r.fit.hit_ratio_at_10.as_ref()?;
            Some(if after { h.after } else { h.before })
        }))
    };
    Ok(AttackSummary {
        attack: recs[0].attack.clone(),
        method: recs[0].method.clone(),
        maps: shift(|s| s.maps)?,
        maps_unclipped: shift(|s| s.maps_unclipped)?,
        mean_shift: shift(|s| s.mean_shift)?,
        hit_ratio_before: hit(false)?,
        hit_ratio_after: hit(true)?,
        target_recall: opt(col(&|r: &AttackRecord| {
            r.fit.target_detection.and_then(|d| d.recall)
        }))?,
        target_ratings: mean_sd(&col(&|r: &AttackRecord| {
            Some(r.target.train_ratings as f64)
        }))?,
        target_mean: mean_sd(&col(&|r: &AttackRecord| Some(r.target.train_mean)))?,
    })
}

/// One summary per (attack, algorithm), in the order of the first repetition.
pub fn attack_summaries(reps: &[RepRecord]) -> Result<Vec<AttackSummary>> {
    let runs: Vec<&RepRecord> = reps.iter().filter(|r| !r.more_attacks.is_empty()).collect();
    let Some(first) = runs.first() else {
        return Ok(Vec::new());
    };
    first
        .more_attacks
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let recs: Vec<&AttackRecord> =
                runs.iter().filter_map(|r| r.more_attacks.get(i)).collect();
            anyhow::ensure!(
                recs.len() == runs.len()
                    && recs
                        .iter()
                        .all(|r| r.attack == a.attack && r.method == a.method),
                "the attacks beyond the paper are not in the same order in every repetition"
            );
            attack_summary(&recs)
        })
        .collect()
}

/// The paper block's MAPS of one algorithm over the repetitions whose target falls in a band.
#[derive(Debug, Clone, Serialize)]
pub struct BandSummary {
    /// `mean rating` or `popularity`.
    pub kind: String,
    /// The band, e.g. "below 3.4".
    pub band: String,
    /// The algorithm.
    pub method: String,
    /// Repetitions (targets) in the band.
    pub targets: usize,
    /// MAPS under Model 3.
    pub low_knowledge: MeanSd,
    /// MAPS under Model 4.
    pub informed: MeanSd,
}

/// A band: `[low, high)` and its label.
type Band = (f64, f64, &'static str);

/// A kind of band: its name, its bands and the value of a repetition's target it bands.
type BandKind = (&'static str, &'static [Band], fn(&RepRecord) -> f64);

/// Bands of the target's mean training rating: a 1-star rating is flagged only when the
/// prediction exceeds 1 + sqrt(lambda), about 3 at the default lambda, so low-rated targets
/// are where a global threshold lets a review bomb through.
pub const MEAN_BANDS: [Band; 3] = [
    (f64::NEG_INFINITY, 3.4, "below 3.4"),
    (3.4, 3.8, "3.4 to 3.8"),
    (3.8, f64::INFINITY, "3.8 and above"),
];

/// Bands of the target's training ratings.
pub const POPULARITY_BANDS: [Band; 3] = [
    (0.0, 150.0, "fewer than 150 ratings"),
    (150.0, 250.0, "150 to 249 ratings"),
    (250.0, f64::INFINITY, "250 ratings or more"),
];

/// The paper block's MAPS per band and algorithm (bands without a target are left out).
pub fn band_summaries(reps: &[RepRecord]) -> Result<Vec<BandSummary>> {
    let mut out = Vec::new();
    let kinds: [BandKind; 2] = [
        ("mean rating", &MEAN_BANDS, |r| r.target.train_mean),
        ("popularity", &POPULARITY_BANDS, |r| {
            r.target.train_ratings as f64
        }),
    ];
    for (kind, bands, value) in kinds {
        for &(low, high, band) in bands {
            let inside: Vec<&RepRecord> = reps
                .iter()
                .filter(|r| !r.paper.is_empty() && (low..high).contains(&value(r)))
                .collect();
            let Some(first) = inside.first() else {
                continue;
            };
            for (i, m) in first.paper.iter().enumerate() {
                let maps = |model: NoiseModel| -> Result<MeanSd> {
                    let v: Vec<f64> = inside
                        .iter()
                        .filter_map(|r| r.paper.get(i))
                        .filter_map(|x| x.fit(model).shift.map(|s| s.maps))
                        .collect();
                    mean_sd(&v)
                };
                out.push(BandSummary {
                    kind: kind.into(),
                    band: band.into(),
                    method: m.method.clone(),
                    targets: inside.len(),
                    low_knowledge: maps(NoiseModel::LowKnowledge)?,
                    informed: maps(NoiseModel::Informed)?,
                });
            }
        }
    }
    Ok(out)
}

/// Per corrupt variant of the paper block: the share of the clean training ratings its Model 1
/// fit flags (every one of them genuine).
pub fn clean_flagged_share(reps: &[RepRecord]) -> Result<Vec<(String, MeanSd)>> {
    let Some(first) = reps.iter().find(|r| !r.paper.is_empty()) else {
        return Ok(Vec::new());
    };
    let flags = |f: &FitRecord| f.detection.is_some();
    first
        .paper
        .iter()
        .enumerate()
        .filter(|(_, m)| flags(&m.random_noise))
        .map(|(i, m)| {
            let shares: Vec<f64> = reps
                .iter()
                .filter_map(|r| {
                    let x = r.paper.get(i)?;
                    Some(x.clean.flagged as f64 / r.train_ratings.max(1) as f64)
                })
                .collect();
            Ok((m.method.clone(), mean_sd(&shares)?))
        })
        .collect()
}
