//! What a repetition records: one [`FitRecord`] per fit, grouped by method and block. All of it
//! goes into reproduce.json; the tables are computed from it.

use cnmf_metrics::{Accuracy, Detection, HitRatio, PredictionShift};
use serde::Serialize;

/// The four noise models of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseModel {
    /// Model 1: no noise.
    Clean,
    /// Model 2: random flips of 10% of the training ratings.
    RandomNoise,
    /// Model 3: low-knowledge review bomb.
    LowKnowledge,
    /// Model 4: informed review bomb.
    Informed,
}

impl NoiseModel {
    /// The four, in the paper's order.
    pub const ALL: [NoiseModel; 4] = [
        NoiseModel::Clean,
        NoiseModel::RandomNoise,
        NoiseModel::LowKnowledge,
        NoiseModel::Informed,
    ];

    /// "Model 1" to "Model 4".
    pub fn short_label(self) -> &'static str {
        match self {
            NoiseModel::Clean => "Model 1",
            NoiseModel::RandomNoise => "Model 2",
            NoiseModel::LowKnowledge => "Model 3",
            NoiseModel::Informed => "Model 4",
        }
    }

    /// "Model 1 (no noise)" and so on.
    pub fn label(self) -> &'static str {
        match self {
            NoiseModel::Clean => "Model 1 (no noise)",
            NoiseModel::RandomNoise => "Model 2 (random noise)",
            NoiseModel::LowKnowledge => "Model 3 (low-knowledge)",
            NoiseModel::Informed => "Model 4 (informed)",
        }
    }
}

/// One fit's figures.
#[derive(Debug, Clone, Serialize)]
pub struct FitRecord {
    /// Accuracy on the (clean) test set.
    pub accuracy: Accuracy,
    /// Prediction shift of the target against the same method's Model 1 fit (Models 3, 4).
    pub shift: Option<PredictionShift>,
    /// Precision and recall of the corruption flags against the injected or changed entries
    /// (corrupt variants, Models 2-4).
    pub detection: Option<Detection>,
    /// The same against the attack's ratings of its targets only (corrupt variants, Models
    /// 3, 4): recall is the share of the target ratings flagged.
    pub target_detection: Option<Detection>,
    /// The same against the attack's other (filler) ratings only: recall is the share of the
    /// harmless filler flagged (undefined when there is none, as under Model 4).
    pub filler_detection: Option<Detection>,
    /// Hit ratio at 10 of the target under the same method's Model 1 fit (`before`) and this
    /// fit (`after`), over a seeded sample of genuine users who had not rated it (Models 3, 4 of
    /// the engine's algorithms).
    pub hit_ratio_at_10: Option<HitRatio>,
    /// User-level detection: a user is flagged when at least one of their ratings is flagged;
    /// positives are the attack's adversaries (corrupt variants, Models 3, 4).
    pub user_detection: Option<Detection>,
    /// Iterations the kept model ran (0 for methods without iterations).
    pub iterations: usize,
    /// Why the fit stopped.
    pub stop_reason: String,
    /// Ratings flagged corrupt at the end.
    pub flagged: usize,
    /// Wall-clock seconds of the fit (machine- and load-dependent).
    pub seconds: f64,
}

/// The fits of one method under the four models.
#[derive(Debug, Clone, Serialize)]
pub struct MethodRecord {
    /// The algorithm's or method's name.
    pub method: String,
    /// Model 1.
    pub clean: FitRecord,
    /// Model 2.
    pub random_noise: FitRecord,
    /// Model 3.
    pub low_knowledge: FitRecord,
    /// Model 4.
    pub informed: FitRecord,
}

impl MethodRecord {
    /// The fit under `model`.
    pub fn fit(&self, model: NoiseModel) -> &FitRecord {
        match model {
            NoiseModel::Clean => &self.clean,
            NoiseModel::RandomNoise => &self.random_noise,
            NoiseModel::LowKnowledge => &self.low_knowledge,
            NoiseModel::Informed => &self.informed,
        }
    }
}

/// One algorithm on the null-attack control of Model 3 (the same injected users, no target
/// ratings), and the attacks' MAPS net of it in the same repetition.
#[derive(Debug, Clone, Serialize)]
pub struct ControlRecord {
    /// The algorithm's name.
    pub method: String,
    /// The control's fit; its shift is the target's MAPS against the same algorithm's Model 1
    /// fit, over genuine users, as for Model 3.
    pub fit: FitRecord,
    /// Model 3's MAPS minus the control's.
    pub low_knowledge_maps_net_of_control: f64,
    /// Model 4's MAPS minus the control's.
    pub informed_maps_net_of_control: f64,
}

impl ControlRecord {
    /// The control's MAPS.
    pub fn maps(&self) -> Option<f64> {
        self.fit.shift.as_ref().map(|s| s.maps)
    }
}

/// The target of a repetition's attacks.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// Dense item index.
    pub item: u32,
    /// External item id (MovieLens movie id).
    pub external_id: String,
    /// Training ratings of the target before the attack.
    pub train_ratings: usize,
    /// Their mean.
    pub train_mean: f64,
}

/// Seeds of a repetition (all derived from the master seed).
#[derive(Debug, Clone, Serialize)]
pub struct RepSeeds {
    /// 90/10 split.
    pub split: u64,
    /// Initial factors.
    pub init: u64,
    /// Model 2 noise.
    pub noise: u64,
    /// Models 3 and 4.
    pub attack: u64,
}

/// One point of the attack-size sweep: one method, one size.
#[derive(Debug, Clone, Serialize)]
pub struct SizePoint {
    /// Fraction of the users that attack.
    pub fraction: f64,
    /// Number of adversaries.
    pub adversaries: usize,
    /// Method.
    pub method: String,
    /// Model 3 shift.
    pub low_knowledge: PredictionShift,
    /// Model 4 shift.
    pub informed: PredictionShift,
}

/// One point of the lambda sweep: one corrupt variant, one lambda.
#[derive(Debug, Clone, Serialize)]
pub struct LambdaPoint {
    /// Multiple of the run's lambda.
    pub multiplier: f64,
    /// The lambda.
    pub lambda: f64,
    /// Method.
    pub method: String,
    /// Model 1 fit.
    pub clean: FitRecord,
    /// Model 2 fit.
    pub random_noise: FitRecord,
    /// Model 3 fit (shift against this lambda's Model 1 fit).
    pub low_knowledge: FitRecord,
    /// Model 4 fit.
    pub informed: FitRecord,
}

/// The paper's algorithms at another iteration budget in one repetition.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetRecord {
    /// The budget, as `Budget::label`.
    pub label: String,
    /// One record per algorithm, in the budget's order.
    pub methods: Vec<MethodRecord>,
}

/// One algorithm under one attack beyond the paper in one repetition.
#[derive(Debug, Clone, Serialize)]
pub struct AttackRecord {
    /// The attack's name (see `more_attacks.rs`).
    pub attack: String,
    /// The algorithm.
    pub method: String,
    /// The attack's target (the paper block's, but for the unpopular-target attack).
    pub target: TargetInfo,
    /// The attacked fit: shift against the algorithm's Model 1 fit, detection, hit ratio.
    pub fit: FitRecord,
}

/// One point of the filler sweep: one method, one filler size of the low-knowledge attack.
#[derive(Debug, Clone, Serialize)]
pub struct FillerPoint {
    /// Filler items per injected profile besides the target.
    pub filler: usize,
    /// Method.
    pub method: String,
    /// Model 3 shift.
    pub low_knowledge: PredictionShift,
}

/// The sweeps of one repetition.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepSweeps {
    /// Attack-size sweep.
    pub attack_size: Vec<SizePoint>,
    /// Lambda sweep.
    pub lambda: Vec<LambdaPoint>,
    /// Filler sweep (Model 3).
    pub filler: Vec<FillerPoint>,
}

/// Everything one repetition produced.
#[derive(Debug, Clone, Serialize)]
pub struct RepRecord {
    /// Repetition number (0-based).
    pub rep: usize,
    /// Its seeds.
    pub seeds: RepSeeds,
    /// Training ratings.
    pub train_ratings: usize,
    /// Test ratings.
    pub test_ratings: usize,
    /// Ratings Model 2 flipped.
    pub noise_flips: usize,
    /// Adversaries of Models 3 and 4.
    pub adversaries: usize,
    /// The target.
    pub target: TargetInfo,
    /// The paper's protocol, every engine algorithm (the paper's five first).
    pub paper: Vec<MethodRecord>,
    /// The null-attack control of Model 3, every engine algorithm (paper block settings and initial
    /// factors).
    pub null_control: Vec<ControlRecord>,
    /// L2 + early stopping, every engine algorithm (empty when skipped).
    pub regularised: Vec<MethodRecord>,
    /// The recommended configuration: clean fits exactly as `cnmf fit` makes them by default
    /// (in the first `--recipe-reps` repetitions; empty in the others).
    pub recipe: Vec<RecipeRecord>,
    /// Other methods (see `extra.rs`).
    pub extra: Vec<MethodRecord>,
    /// The paper's algorithms at the other budgets (empty when skipped).
    pub budgets: Vec<BudgetRecord>,
    /// The attacks beyond the paper, every algorithm (empty when skipped).
    pub more_attacks: Vec<AttackRecord>,
    /// Sweeps (only in the first `sweep_reps` repetitions).
    pub sweeps: Option<RepSweeps>,
    /// Wall-clock seconds of the repetition.
    pub seconds: f64,
}

/// A clean fit of the training set with `cnmf fit`'s defaults (its lambda, per-rating L2,
/// early stopping on a validation share, refit), tested on the repetition's test set.
#[derive(Debug, Clone, Serialize)]
pub struct RecipeRecord {
    /// The algorithm.
    pub method: String,
    /// Test accuracy (predictions clipped to the scale).
    pub accuracy: Accuracy,
    /// The threshold the fit used (None for algorithms without one).
    pub lambda: Option<f64>,
    /// Iterations of the final (refitted) model.
    pub iterations: usize,
    /// Wall-clock seconds of the early-stopped fit and the refit together, while the other
    /// repetitions run beside them (not a measurement of speed: the report leaves it out).
    pub seconds: f64,
}

/// Records for the tests of the summaries and verdicts.
#[cfg(test)]
pub mod fixtures {
    use super::*;
    use cnmf_metrics::{Accuracy, PredictionShift};

    /// A fit with test NMAE `nmae` (MAE, RMSE in proportion) and MAPS `maps` if given.
    pub fn fit(nmae: f64, maps: Option<f64>) -> FitRecord {
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
                maps_unclipped: maps,
                mean_shift: -maps,
                maps_unrated: None,
                n_users: 100,
                n_unrated: 0,
            }),
            detection: None,
            target_detection: None,
            filler_detection: None,
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
    pub fn rep(rep: usize, methods: &[(&str, f64, f64)]) -> RepRecord {
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
            recipe: Vec::new(),
            extra: Vec::new(),
            budgets: Vec::new(),
            more_attacks: Vec::new(),
            sweeps: None,
            seconds: 0.0,
        }
    }
}
