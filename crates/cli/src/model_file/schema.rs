//! The payload of a model file as it is laid out on disk (format version 1, `FORMAT.md`), in
//! structs of the CLI's own: renaming a field of the engine's or the ratings crate's types
//! cannot change the file format, only break the conversions here at compile time. Format
//! version 2 keeps its arrays in tensors and spells the rest with these same structs (its
//! `cnmf` metadata, [`v2`](super::v2)).
//!
//! Every struct mirrors the v1 JSON exactly: field names and order, nesting, enum spellings,
//! which structs refuse unknown fields. Conversions to and from the engine's types use their
//! public API only. The parameters, the factors and the id maps are turned into the checked
//! engine and ratings types while the JSON is decoded, as v1 always did, so a bad value gets the
//! same error message (and position) as before.

use std::time::Duration;

use cnmf_engine::{
    Algorithm, Factors, IterationStats, LambdaSource, NmfModel, NmfParams, Precision, StopReason,
    ValidNmfParams,
};
use cnmf_ratings::IdMap;
use serde::{Deserialize, Serialize};

use super::TrainingInfo;

/// The whole payload.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Payload {
    pub(super) training: TrainingInfo,
    pub(super) users: Ids,
    pub(super) items: Ids,
    pub(super) rated: RatedPattern,
    pub(super) user_means: Vec<f64>,
    pub(super) item_means: Vec<f64>,
    pub(super) corrupt_ratings: Vec<f64>,
    pub(super) model: Model,
}

/// External ids in dense-index order, a JSON array of strings; a repeated id is an error.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Vec<Box<str>>", into = "Vec<Box<str>>")]
pub(super) struct Ids(pub(super) IdMap);

impl TryFrom<Vec<Box<str>>> for Ids {
    type Error = String;
    fn try_from(ids: Vec<Box<str>>) -> Result<Self, String> {
        IdMap::try_from(ids).map(Ids)
    }
}

impl From<Ids> for Vec<Box<str>> {
    fn from(ids: Ids) -> Self {
        ids.0.into()
    }
}

/// The rated pattern: CSR offsets and, per user, the first item index followed by the gaps to
/// the next (smaller numbers, so a smaller file).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RatedPattern {
    pub(super) indptr: Vec<u32>,
    pub(super) gaps: Vec<u32>,
    /// Every training rating's value, in the pattern's order (`cnmf fit --keep-times`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) values: Option<Vec<f64>>,
    /// Every training rating's timestamp (seconds since the Unix epoch), with `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) times: Option<Vec<i64>>,
}

/// `model`: the fitted model, field for field as v1 stores it.
#[derive(Serialize, Deserialize)]
pub(super) struct Model {
    pub(super) params: Params,
    pub(super) scale: Scale,
    pub(super) mean_rating: f64,
    pub(super) factors: CheckedFactors,
    pub(super) n_ratings: usize,
    pub(super) corrupt_positions: Vec<u32>,
    pub(super) corrupt_entries: Vec<(u32, u32)>,
    pub(super) trace: Vec<Iteration>,
    pub(super) stop_reason: Stop,
    pub(super) kept_iteration: usize,
    /// `guarded`'s screened users (ascending user indices), written for `guarded` only, so that
    /// the files of the other algorithms keep their layout; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) screened_users: Option<Vec<u32>>,
    /// `guarded`'s burst screen (the engine's `Burst` records), written only when it ran;
    /// absent means it did not (another algorithm, the screen off, or data without times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) bursts: Option<Vec<cnmf_engine::Burst>>,
}

impl Model {
    /// The stored form of `model`.
    pub(super) fn from_engine(model: &NmfModel) -> Model {
        let scale = model.scale();
        Model {
            params: Params(model.params().clone()),
            scale: Scale {
                min: scale.min(),
                max: scale.max(),
            },
            mean_rating: model.mean_rating(),
            factors: CheckedFactors(model.factors().clone()),
            // The engine has no getter for the training size; the mask has one flag per rating.
            n_ratings: model.corrupt_mask().len(),
            corrupt_positions: model.corrupt_positions().to_vec(),
            corrupt_entries: model.corrupt_entries().to_vec(),
            trace: model.trace().iter().map(Iteration::from).collect(),
            stop_reason: model.stop_reason().into(),
            kept_iteration: model.iterations(),
            screened_users: (model.algorithm() == Algorithm::Guarded)
                .then(|| model.screened_users().to_vec()),
            bursts: model.bursts().map(<[_]>::to_vec),
        }
    }

    /// The engine's model; the error is the engine's, on parts that do not fit together.
    /// `scale` is [`Model::scale`], already checked by the caller.
    pub(super) fn into_engine(
        self,
        scale: cnmf_ratings::RatingScale,
    ) -> Result<NmfModel, cnmf_engine::EngineError> {
        NmfModel::from_parts(
            self.params.0,
            scale,
            self.mean_rating,
            self.factors.0,
            self.n_ratings,
            self.corrupt_positions,
            self.corrupt_entries,
            self.trace.into_iter().map(IterationStats::from).collect(),
            self.stop_reason.into(),
            self.kept_iteration,
        )?
        .with_screened_users(self.screened_users.unwrap_or_default())?
        .with_bursts(self.bursts)
    }
}

/// `model.params`: checked into the engine's parameters when decoded.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "ParamsFields", into = "ParamsFields")]
pub(super) struct Params(pub(super) ValidNmfParams);

/// The stored fields of [`Params`].
#[derive(Serialize, Deserialize)]
struct ParamsFields {
    k: usize,
    algorithm: AlgorithmName,
    lambda: Option<Lambda>,
    decay: f64,
    max_iters: usize,
    time_budget: Option<Duration>,
    tolerance: Option<f64>,
    seed: u64,
    threads: usize,
    warmup_iters: usize,
    l2_w: f64,
    l2_h: f64,
    /// Written only when set, so that files without it keep their layout; absent means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    l2_per_rating: bool,
    early_stopping: Option<usize>,
    /// Written for `trimmed` only (the one algorithm that reads it), so that the files of the
    /// other algorithms keep their layout; absent means the engine's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trim_fraction: Option<f64>,
    /// Written for `guarded` only, for the same reason; absent means the engine's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    guard: Option<GuardFields>,
    /// The precision of the iterations: written only when not `f64` (the factors are `f64`
    /// either way), so that `f64` files keep their layout; absent means `f64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    precision: Option<Precision>,
}

/// `model.params.guard`: `guarded`'s parameters (`profile_screen` and `burst_window` are
/// `null` when off; a file without `burst_window` predates the burst screen: off).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardFields {
    user_threshold_scale: f64,
    item_threshold_scale: f64,
    profile_screen: Option<f64>,
    #[serde(default)]
    burst_window: Option<u64>,
}

impl TryFrom<ParamsFields> for Params {
    type Error = cnmf_engine::EngineError;
    fn try_from(f: ParamsFields) -> Result<Self, Self::Error> {
        let mut p = NmfParams::new(f.k, f.algorithm.into())
            .decay(f.decay)
            .max_iters(f.max_iters)
            .seed(f.seed)
            .threads(f.threads)
            .warmup_iters(f.warmup_iters)
            .l2_w(f.l2_w)
            .l2_h(f.l2_h)
            .l2_per_rating(f.l2_per_rating);
        p = match f.lambda {
            None => p,
            Some(Lambda::Value(l)) => p.lambda(l),
            Some(Lambda::NoiseModel { sigma, p: prior }) => p.noise_model(sigma, prior),
        };
        if let Some(b) = f.time_budget {
            p = p.time_budget(b);
        }
        if let Some(t) = f.tolerance {
            p = p.tolerance(t);
        }
        if let Some(patience) = f.early_stopping {
            p = p.early_stopping(patience);
        }
        if let Some(q) = f.trim_fraction {
            p = p.trim_fraction(q);
        }
        if let Some(g) = f.guard {
            p = p
                .user_threshold_scale(g.user_threshold_scale)
                .item_threshold_scale(g.item_threshold_scale)
                .profile_screen(g.profile_screen)
                .burst_window(g.burst_window);
        }
        if let Some(precision) = f.precision {
            p = p.precision(precision);
        }
        p.check().map(Params)
    }
}

impl From<Params> for ParamsFields {
    fn from(Params(p): Params) -> Self {
        ParamsFields {
            k: p.rank(),
            algorithm: p.algorithm().into(),
            lambda: p.lambda_source().map(Lambda::from),
            decay: p.decay(),
            max_iters: p.max_iters(),
            time_budget: p.time_budget(),
            tolerance: p.tolerance(),
            seed: p.seed(),
            threads: p.threads(),
            warmup_iters: p.warmup_iters(),
            l2_w: p.l2_w(),
            l2_h: p.l2_h(),
            l2_per_rating: p.l2_per_rating(),
            early_stopping: p.early_stopping(),
            trim_fraction: (p.algorithm() == Algorithm::Trimmed).then(|| p.trim_fraction()),
            guard: (p.algorithm() == Algorithm::Guarded).then(|| GuardFields {
                user_threshold_scale: p.user_threshold_scale(),
                item_threshold_scale: p.item_threshold_scale(),
                profile_screen: p.profile_screen(),
                burst_window: p.burst_window(),
            }),
            precision: (p.precision() != Precision::F64).then(|| p.precision()),
        }
    }
}

/// `model.params.algorithm`, by its name.
#[derive(Serialize, Deserialize)]
enum AlgorithmName {
    #[serde(rename = "ignore-missing")]
    IgnoreMissing,
    #[serde(rename = "replace-missing")]
    ReplaceMissing,
    #[serde(rename = "ignore-corrupt")]
    IgnoreCorrupt,
    #[serde(rename = "replace-corrupt")]
    ReplaceCorrupt,
    #[serde(rename = "replace-corrupt-nointerp")]
    ReplaceCorruptNoInterp,
    #[serde(rename = "huber")]
    Huber,
    #[serde(rename = "l1")]
    L1,
    #[serde(rename = "trimmed")]
    Trimmed,
    #[serde(rename = "guarded")]
    Guarded,
}

impl From<AlgorithmName> for Algorithm {
    fn from(a: AlgorithmName) -> Self {
        match a {
            AlgorithmName::IgnoreMissing => Algorithm::IgnoreMissing,
            AlgorithmName::ReplaceMissing => Algorithm::ReplaceMissing,
            AlgorithmName::IgnoreCorrupt => Algorithm::IgnoreCorrupt,
            AlgorithmName::ReplaceCorrupt => Algorithm::ReplaceCorrupt,
            AlgorithmName::ReplaceCorruptNoInterp => Algorithm::ReplaceCorruptNoInterp,
            AlgorithmName::Huber => Algorithm::Huber,
            AlgorithmName::L1 => Algorithm::L1,
            AlgorithmName::Trimmed => Algorithm::Trimmed,
            AlgorithmName::Guarded => Algorithm::Guarded,
        }
    }
}

impl From<Algorithm> for AlgorithmName {
    fn from(a: Algorithm) -> Self {
        match a {
            Algorithm::IgnoreMissing => AlgorithmName::IgnoreMissing,
            Algorithm::ReplaceMissing => AlgorithmName::ReplaceMissing,
            Algorithm::IgnoreCorrupt => AlgorithmName::IgnoreCorrupt,
            Algorithm::ReplaceCorrupt => AlgorithmName::ReplaceCorrupt,
            Algorithm::ReplaceCorruptNoInterp => AlgorithmName::ReplaceCorruptNoInterp,
            Algorithm::Huber => AlgorithmName::Huber,
            Algorithm::L1 => AlgorithmName::L1,
            Algorithm::Trimmed => AlgorithmName::Trimmed,
            Algorithm::Guarded => AlgorithmName::Guarded,
        }
    }
}

/// `model.params.lambda`: `{"value": λ}` or `{"noise-model": {"sigma": .., "p": ..}}`.
#[derive(Serialize, Deserialize)]
enum Lambda {
    #[serde(rename = "value")]
    Value(f64),
    #[serde(rename = "noise-model")]
    NoiseModel { sigma: f64, p: f64 },
}

impl From<LambdaSource> for Lambda {
    fn from(l: LambdaSource) -> Self {
        match l {
            LambdaSource::Value(v) => Lambda::Value(v),
            LambdaSource::NoiseModel { sigma, p } => Lambda::NoiseModel { sigma, p },
        }
    }
}

/// `model.scale`; checked by the caller's cross-checks, not when decoded (as in v1).
#[derive(Serialize, Deserialize)]
pub(super) struct Scale {
    pub(super) min: f64,
    pub(super) max: f64,
}

/// `model.factors`: checked into the engine's factors (shapes, finite, nonnegative) when
/// decoded.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "FactorsFields", into = "FactorsFields")]
pub(super) struct CheckedFactors(pub(super) Factors);

/// The stored fields of [`CheckedFactors`]: W row-major n_users x k, H item-major n_items x k.
#[derive(Serialize, Deserialize)]
struct FactorsFields {
    k: usize,
    n_users: usize,
    n_items: usize,
    w: Vec<f64>,
    h: Vec<f64>,
}

impl TryFrom<FactorsFields> for CheckedFactors {
    type Error = cnmf_engine::EngineError;
    fn try_from(f: FactorsFields) -> Result<Self, Self::Error> {
        Factors::new(f.n_users, f.n_items, f.k, f.w, f.h).map(CheckedFactors)
    }
}

impl From<CheckedFactors> for FactorsFields {
    fn from(CheckedFactors(f): CheckedFactors) -> Self {
        let (k, n_users, n_items) = (f.rank(), f.n_users(), f.n_items());
        let (w, h) = f.into_parts();
        FactorsFields {
            k,
            n_users,
            n_items,
            w,
            h,
        }
    }
}

/// One entry of `model.trace`.
#[derive(Serialize, Deserialize)]
pub(super) struct Iteration {
    iteration: usize,
    loss: f64,
    clipped_loss: Option<f64>,
    objective: f64,
    flagged: usize,
    elapsed_secs: f64,
    validation_nmae: Option<f64>,
}

impl From<&IterationStats> for Iteration {
    fn from(s: &IterationStats) -> Self {
        Iteration {
            iteration: s.iteration,
            loss: s.loss,
            clipped_loss: s.clipped_loss,
            objective: s.objective,
            flagged: s.flagged,
            elapsed_secs: s.elapsed_secs,
            validation_nmae: s.validation_nmae,
        }
    }
}

impl From<Iteration> for IterationStats {
    fn from(s: Iteration) -> Self {
        IterationStats {
            iteration: s.iteration,
            loss: s.loss,
            clipped_loss: s.clipped_loss,
            objective: s.objective,
            flagged: s.flagged,
            elapsed_secs: s.elapsed_secs,
            validation_nmae: s.validation_nmae,
        }
    }
}

/// `model.stop_reason`: a string, or `{"early-stopped": {"best_iteration": t}}`.
#[derive(Serialize, Deserialize)]
pub(super) enum Stop {
    #[serde(rename = "max-iters")]
    MaxIters,
    #[serde(rename = "time-budget")]
    TimeBudget,
    #[serde(rename = "converged")]
    Converged,
    #[serde(rename = "early-stopped")]
    EarlyStopped { best_iteration: usize },
    #[serde(rename = "observer")]
    Observer,
}

impl From<StopReason> for Stop {
    fn from(s: StopReason) -> Self {
        match s {
            StopReason::MaxIters => Stop::MaxIters,
            StopReason::TimeBudget => Stop::TimeBudget,
            StopReason::Converged => Stop::Converged,
            StopReason::EarlyStopped { best_iteration } => Stop::EarlyStopped { best_iteration },
            StopReason::Observer => Stop::Observer,
        }
    }
}

impl From<Stop> for StopReason {
    fn from(s: Stop) -> Self {
        match s {
            Stop::MaxIters => StopReason::MaxIters,
            Stop::TimeBudget => StopReason::TimeBudget,
            Stop::Converged => StopReason::Converged,
            Stop::EarlyStopped { best_iteration } => StopReason::EarlyStopped { best_iteration },
            Stop::Observer => StopReason::Observer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The payload of the v1 fixture with every optional parameter set, as this code writes it.
    fn written_payload() -> Value {
        let bytes = include_bytes!("../../tests/fixtures/v1_early_stopped.cnmf");
        let file = super::super::ModelFile::from_bytes(bytes).unwrap();
        let out = file.to_bytes(super::super::ModelFormat::Json).unwrap();
        let nl = out.iter().position(|&b| b == b'\n').unwrap();
        serde_json::from_slice(&out[nl + 1..]).unwrap()
    }

    /// An object's keys, sorted (their order on disk is pinned by the v1 fixtures' round trip).
    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn json_keys_are_the_documented_ones() {
        let p = written_payload();
        let sorted = |mut v: Vec<&'static str>| {
            v.sort_unstable();
            v
        };
        let expect = [
            (
                &p,
                vec![
                    "training",
                    "users",
                    "items",
                    "rated",
                    "user_means",
                    "item_means",
                    "corrupt_ratings",
                    "model",
                ],
            ),
            (
                &p["training"],
                vec![
                    "source",
                    "format",
                    "n_ratings",
                    "fit_seconds",
                    "cnmf_version",
                ],
            ),
            (&p["rated"], vec!["indptr", "gaps"]),
            (
                &p["model"],
                vec![
                    "params",
                    "scale",
                    "mean_rating",
                    "factors",
                    "n_ratings",
                    "corrupt_positions",
                    "corrupt_entries",
                    "trace",
                    "stop_reason",
                    "kept_iteration",
                ],
            ),
            (
                &p["model"]["params"],
                vec![
                    "k",
                    "algorithm",
                    "lambda",
                    "decay",
                    "max_iters",
                    "time_budget",
                    "tolerance",
                    "seed",
                    "threads",
                    "warmup_iters",
                    "l2_w",
                    "l2_h",
                    "early_stopping",
                ],
            ),
            (&p["model"]["params"]["time_budget"], vec!["secs", "nanos"]),
            (&p["model"]["scale"], vec!["min", "max"]),
            (
                &p["model"]["factors"],
                vec!["k", "n_users", "n_items", "w", "h"],
            ),
            (
                &p["model"]["trace"][0],
                vec![
                    "iteration",
                    "loss",
                    "clipped_loss",
                    "objective",
                    "flagged",
                    "elapsed_secs",
                    "validation_nmae",
                ],
            ),
        ];
        for (value, want) in expect {
            assert_eq!(keys(value), sorted(want));
        }
        assert_eq!(p["model"]["params"]["lambda"], json!({"value": 2.5}));
        assert_eq!(
            p["model"]["params"]["algorithm"],
            json!("replace-corrupt-nointerp")
        );
        assert_eq!(
            p["model"]["stop_reason"],
            json!({"early-stopped": {"best_iteration": 11}})
        );
        assert!(p["model"]["corrupt_entries"][0].is_array());
    }

    /// A guarded model file stores its parameters under `params.guard` and its screened users,
    /// and reads back to the same model; the other algorithms' files have neither key.
    #[test]
    fn guarded_files_store_their_parameters_and_screened_users() {
        use cnmf_ratings::{RatingScale, Ratings};
        let mut t: Vec<(String, String, f64)> = Vec::new();
        for u in 0..30 {
            for i in 0..8 {
                if i != u % 8 {
                    t.push((format!("g{u}"), format!("p{i}"), f64::from(2 + (u + i) % 4)));
                }
            }
            for j in 0..(u % 3) {
                t.push((format!("g{u}"), format!("q{}", (u + j) % 5), 4.0));
            }
        }
        for r in ["r0", "r1", "r2"] {
            t.push(("bomber".into(), r.into(), 1.0));
        }
        let data = Ratings::from_external(
            t.iter().map(|(u, i, v)| (u.as_str(), i.as_str(), *v)),
            RatingScale::MOVIELENS,
        )
        .unwrap();
        let info = || super::super::TrainingInfo {
            source: "made up".into(),
            format: "csv".into(),
            n_ratings: data.nnz(),
            fit_seconds: 0.5,
            cnmf_version: "test".into(),
        };
        let model = NmfParams::new(2, Algorithm::Guarded)
            .lambda(2.0)
            .item_threshold_scale(0.7)
            .max_iters(10)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap();
        assert_eq!(model.screened_users().len(), 1);
        let bytes = super::super::ModelFile::from_fit(model.clone(), &data, info())
            .to_bytes(super::super::ModelFormat::Json)
            .unwrap();
        let back = super::super::ModelFile::from_bytes(&bytes).unwrap();
        assert_eq!(back.model(), &model);
        let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        let p: Value = serde_json::from_slice(&bytes[nl + 1..]).unwrap();
        assert_eq!(
            p["model"]["params"]["guard"],
            json!({
                "user_threshold_scale": 1.0,
                "item_threshold_scale": 0.7,
                "profile_screen": 4.0,
                "burst_window": 86400
            })
        );
        let bomber = data.users().index("bomber").unwrap();
        assert_eq!(p["model"]["screened_users"], json!([bomber]));
        let written = written_payload();
        assert!(written["model"].get("screened_users").is_none());
        assert!(written["model"]["params"].get("guard").is_none());
    }

    #[test]
    fn enum_spellings_are_the_documented_ones() {
        let name = |a: Algorithm| serde_json::to_value(AlgorithmName::from(a)).unwrap();
        let names: Vec<Value> = Algorithm::ALL.into_iter().map(name).collect();
        assert_eq!(
            names,
            [
                "ignore-missing",
                "replace-missing",
                "ignore-corrupt",
                "replace-corrupt",
                "replace-corrupt-nointerp",
                "huber",
                "l1",
                "trimmed",
                "guarded"
            ]
        );
        let stop = |s: StopReason| serde_json::to_value(Stop::from(s)).unwrap();
        assert_eq!(stop(StopReason::MaxIters), json!("max-iters"));
        assert_eq!(stop(StopReason::TimeBudget), json!("time-budget"));
        assert_eq!(stop(StopReason::Converged), json!("converged"));
        assert_eq!(stop(StopReason::Observer), json!("observer"));
        let noise = Lambda::from(LambdaSource::NoiseModel {
            sigma: 1.0,
            p: 0.05,
        });
        assert_eq!(
            serde_json::to_value(noise).unwrap(),
            json!({"noise-model": {"sigma": 1.0, "p": 0.05}})
        );
    }
}
