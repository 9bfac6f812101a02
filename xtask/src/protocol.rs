//! The paper's protocol (spec section 7), one repetition at a time: split, noise and attacks,
//! then every algorithm from the same initial factors with the same budget under the four
//! models; then the regularised block, the extra methods and, in the first repetitions, the
//! sweeps.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cnmf_attacks::{AttackSize, AttackSpec, Attacked, FillerSize, TargetChoice};
use cnmf_engine::{
    init_factors, Algorithm, Factors, FitOptions, NmfModel, NmfParams, ValidNmfParams,
};
use cnmf_metrics::{
    accuracy_of, entry_detection, hit_ratio, prediction_shift, sample_users, user_detection,
    HitRatio, Predictor,
};
use cnmf_ratings::{split, Ratings, Triple};
use serde::Serialize;

use crate::extra::ExtraMethod;
use crate::progress::Progress;
use crate::records::{ControlRecord, FitRecord, MethodRecord, RepRecord, RepSeeds, TargetInfo};
use crate::seeds::{derive, Stream};
use crate::{budgets, more_attacks, sweeps};

/// Settings of the regularised block (chosen on the calibration split).
#[derive(Debug, Clone, Serialize)]
pub struct Regularised {
    /// The first `reps` repetitions run it.
    pub reps: usize,
    /// L2 penalty (l2_w = l2_h) per algorithm, in `Algorithm::ALL` order.
    pub l2: Vec<(Algorithm, f64)>,
    /// Early-stopping patience.
    pub patience: usize,
    /// Iteration cap.
    pub max_iters: usize,
}

/// Settings of the sweeps.
#[derive(Debug, Clone, Serialize)]
pub struct SweepSettings {
    /// The first `reps` repetitions run them.
    pub reps: usize,
    /// Attack sizes, fractions of the users.
    pub sizes: Vec<f64>,
    /// Multiples of lambda.
    pub multipliers: Vec<f64>,
    /// Filler sizes of the low-knowledge attack.
    pub fillers: Vec<usize>,
}

/// Everything a repetition needs, resolved (after calibration).
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Rank.
    pub k: usize,
    /// Iterations per fit (a cap when a time budget is set).
    pub iters: usize,
    /// Wall-clock budget per fit.
    pub time_budget: Option<Duration>,
    /// Corruption threshold.
    pub lambda: f64,
    /// Adversaries.
    pub attack_size: AttackSize,
    /// Minimum training ratings of a target.
    pub target_min_ratings: usize,
    /// Master seed.
    pub seed: u64,
    /// Test share.
    pub test_fraction: f64,
    /// Validation share of the training set (regularised block).
    pub validation_fraction: f64,
    /// Model 2 flip probability.
    pub noise_probability: f64,
    /// Filler items of a low-knowledge profile.
    pub filler: usize,
    /// The regularised block, if it runs.
    pub regularised: Option<Regularised>,
    /// Repetitions of the recommended configuration (the first ones of the run).
    pub recipe_reps: usize,
    /// The sweeps, if they run.
    pub sweeps: Option<SweepSettings>,
    /// The other iteration budgets of the paper's algorithms (empty when skipped).
    pub budgets: Vec<crate::budgets::Budget>,
    /// The attacks beyond the paper, if they run.
    pub more_attacks: Option<crate::more_attacks::MoreAttackSettings>,
}

impl Settings {
    /// Parameters of the paper block for `alg` at threshold `lambda`. Every fit runs in the
    /// caller's rayon pool (`threads(0)`): inside a parallel repetition it is effectively
    /// single-threaded, run alone it uses every worker; the figures are the same either way.
    pub fn paper_params(&self, alg: Algorithm, lambda: f64) -> Result<ValidNmfParams> {
        let mut p = NmfParams::new(self.k, alg)
            .lambda(lambda)
            .max_iters(self.iters);
        if let Some(b) = self.time_budget {
            p = p.time_budget(b);
        }
        Ok(p.check()?)
    }

    /// Parameters of the regularised block for `alg`.
    pub fn regularised_params(&self, alg: Algorithm, r: &Regularised) -> Result<ValidNmfParams> {
        let l2 =
            r.l2.iter()
                .find(|(a, _)| *a == alg)
                .map(|&(_, l)| l)
                .context("no L2 setting for an algorithm")?;
        let mut p = NmfParams::new(self.k, alg)
            .lambda(self.lambda)
            .max_iters(r.max_iters)
            .l2_w(l2)
            .l2_h(l2)
            .early_stopping(r.patience);
        if let Some(b) = self.time_budget {
            p = p.time_budget(b);
        }
        Ok(p.check()?)
    }
}

/// The data of one block of a repetition: the clean training set, its corrupted versions and
/// the shared initial factors.
pub struct Scenario {
    /// Clean training data.
    pub train: Ratings,
    /// Clean validation triples (regularised block only).
    pub validation: Option<Vec<Triple>>,
    /// Model 2.
    pub noisy: Attacked,
    /// Model 3.
    pub low: Attacked,
    /// The null-attack control of Model 3: its injected users without the target ratings.
    pub control: Attacked,
    /// Model 4.
    pub informed: Attacked,
    /// Initial factors of every fit on `train`, `noisy` and `informed`.
    pub init: Factors,
    /// The same factors with rows appended for the injected users of Model 3 (and of the
    /// null control, which injects the same users).
    pub init_low: Factors,
    /// The target item.
    pub target: u32,
    /// The genuine users of Model 3 sampled for the target's hit ratio (none had rated it).
    pub hit_users_low: Vec<u32>,
    /// The same for Model 4.
    pub hit_users_informed: Vec<u32>,
}

/// List length N of the hit ratio.
pub const HIT_RATIO_N: usize = 10;

/// Genuine users sampled for the hit ratio: its cost is O(users · items · k) per model.
pub const HIT_RATIO_USERS: usize = 200;

/// A seeded sample of `att`'s genuine users who had not rated its target in `train`.
pub fn hit_sample(train: &Ratings, att: &Attacked, seed: u64) -> Vec<u32> {
    let target = att.truth.targets()[0];
    let eligible: Vec<u32> = att
        .truth
        .genuine_users()
        .into_iter()
        .filter(|&u| train.get(u, target).is_none())
        .collect();
    sample_users(&eligible, HIT_RATIO_USERS, seed)
}

impl Scenario {
    /// Applies noise and attacks to `train` and builds the initial factors.
    pub fn new(
        train: Ratings,
        validation: Option<Vec<Triple>>,
        s: &Settings,
        seeds: &RepSeeds,
        targets: TargetChoice,
        size: AttackSize,
        init: Factors,
    ) -> Result<Scenario> {
        let noisy = AttackSpec::random_noise(s.noise_probability)
            .seed(seeds.noise)
            .check()?
            .generate(&train)
            .context("Model 2 (random noise)")?;
        let (low, informed) = attacks(&train, s, seeds.attack, targets.clone(), size)?;
        let control = null_control(&train, s, seeds.attack, targets, size, &low)?;
        let target = low.truth.targets()[0];
        let init_low = extend_init(&init, low.ratings.n_users(), seeds.init, train.mean())?;
        let hit_seed = derive(seeds.attack, 0, Stream::HitRatio);
        let hit_users_low = hit_sample(&train, &low, hit_seed);
        let hit_users_informed = hit_sample(&train, &informed, hit_seed);
        Ok(Scenario {
            train,
            validation,
            noisy,
            low,
            control,
            informed,
            init,
            init_low,
            target,
            hit_users_low,
            hit_users_informed,
        })
    }
}

/// `base` (Model 3 or its null control) with Model 3's size, filler, targets and seed: the one
/// place both take their settings from, so the control injects exactly Model 3's users.
pub fn injected_spec(
    base: AttackSpec,
    s: &Settings,
    seed: u64,
    targets: TargetChoice,
    size: AttackSize,
) -> AttackSpec {
    base.size(size)
        .filler(FillerSize::Count(s.filler))
        .targets(targets)
        .seed(seed)
}

/// The null-attack control of `low` (Model 3, generated with the same arguments): the same
/// injected users, filler items and ratings, without the target ratings.
pub fn null_control(
    train: &Ratings,
    s: &Settings,
    seed: u64,
    targets: TargetChoice,
    size: AttackSize,
    low: &Attacked,
) -> Result<Attacked> {
    let control = injected_spec(AttackSpec::null_control(), s, seed, targets, size)
        .check()?
        .generate(train)
        .context("null-attack control of Model 3")?;
    anyhow::ensure!(
        control.truth.targets() == low.truth.targets()
            && control.truth.adversaries() == low.truth.adversaries()
            && control.ratings.n_users() == low.ratings.n_users(),
        "the null control and Model 3 differ in targets or injected users for the same seed"
    );
    Ok(control)
}

/// Models 3 and 4 on `train` with the same seed (so the same target).
pub fn attacks(
    train: &Ratings,
    s: &Settings,
    seed: u64,
    targets: TargetChoice,
    size: AttackSize,
) -> Result<(Attacked, Attacked)> {
    let low = injected_spec(AttackSpec::low_knowledge(), s, seed, targets.clone(), size)
        .check()?
        .generate(train)
        .context("Model 3 (low-knowledge attack)")?;
    let informed = AttackSpec::informed()
        .size(size)
        .targets(targets)
        .seed(seed)
        .check()?
        .generate(train)
        .context("Model 4 (informed attack)")?;
    anyhow::ensure!(
        low.truth.targets() == informed.truth.targets(),
        "Models 3 and 4 drew different targets for the same seed"
    );
    Ok((low, informed))
}

/// `init` with rows for users `init.n_users()..n_users` (injected users), drawn like
/// `init_factors` from their own stream: genuine users and items keep their initial factors.
pub fn extend_init(init: &Factors, n_users: usize, seed: u64, mean: f64) -> Result<Factors> {
    let extra = n_users - init.n_users();
    if extra == 0 {
        return Ok(init.clone());
    }
    let rows = init_factors(
        extra,
        1,
        init.rank(),
        mean,
        derive(seed, 0, Stream::InjectedInit),
    )?;
    let mut w = init.w().to_vec();
    w.extend_from_slice(rows.w());
    Ok(Factors::new(
        n_users,
        init.n_items(),
        init.rank(),
        w,
        init.h().to_vec(),
    )?)
}

/// A fit and its wall-clock time.
pub fn fit(
    params: &ValidNmfParams,
    data: &Ratings,
    init: &Factors,
    validation: Option<&[Triple]>,
) -> Result<(NmfModel, f64)> {
    let start = Instant::now();
    let mut options = FitOptions::new().initial(init);
    if let Some(v) = validation {
        options = options.validation(v);
    }
    let model = params
        .fit_with(data, options)
        .with_context(|| format!("fitting {}", params.algorithm()))?;
    Ok((model, start.elapsed().as_secs_f64()))
}

/// The record of an engine fit: accuracy, shift against `clean` (attacks), hit ratio at 10
/// against `clean` over `hit_users` (when given), entry- and user-level detection against
/// `attacked`'s ground truth (corrupt variants; user-level only when the attack has
/// adversaries).
pub fn engine_record(
    model: &NmfModel,
    seconds: f64,
    test: &[Triple],
    clean: Option<(&NmfModel, &Ratings, &Attacked)>,
    attacked: Option<&Attacked>,
    hit_users: Option<&[u32]>,
) -> Result<FitRecord> {
    let accuracy = accuracy_of(model, test, model.scale())?;
    let shift = match clean {
        Some((p_star, clean_train, att)) => Some(shift_of(p_star, model, clean_train, att)?),
        None => None,
    };
    let flags = || model.corrupt_entries().iter().copied();
    let flagging = attacked.filter(|_| model.algorithm().flags_corruption());
    let detection = flagging.map(|att| entry_detection(flags(), att.truth.entry_pairs()));
    // The target ratings and the filler ratings of an attack, each against the flags.
    let (target_detection, filler_detection) = match flagging {
        Some(att) if att.truth.kind().is_targeted() => {
            let targets = att.truth.targets();
            let (on_target, filler): (Vec<_>, Vec<_>) = att
                .truth
                .entry_pairs()
                .into_iter()
                .partition(|(_, i)| targets.contains(i));
            (
                Some(entry_detection(flags(), on_target)),
                Some(entry_detection(flags(), filler)),
            )
        }
        _ => (None, None),
    };
    let user_detection = match attacked {
        Some(att)
            if model.algorithm().flags_corruption() && !att.truth.adversaries().is_empty() =>
        {
            Some(flagged_users(model, att)?)
        }
        _ => None,
    };
    let hit_ratio_at_10 = match (clean, hit_users) {
        (Some((p_star, clean_train, att)), Some(users)) => {
            hit_ratio_of(p_star, model, clean_train, att, users)?
        }
        _ => None,
    };
    Ok(FitRecord {
        accuracy,
        shift,
        detection,
        target_detection,
        filler_detection,
        hit_ratio_at_10,
        user_detection,
        iterations: model.iterations(),
        stop_reason: format!("{:?}", model.stop_reason()),
        flagged: model.corrupt_entries().len(),
        seconds,
    })
}

/// User-level detection of `model`'s decision on `att`'s data against `att`'s adversaries: the
/// users of [`NmfModel::suspected_users`] (one flagged rating for the paper's variants; for
/// guarded, its screens: its rating-level flags are the ratings its items are not fitted on,
/// about a tenth of the clean ratings, so most users have one).
fn flagged_users(model: &NmfModel, att: &Attacked) -> Result<cnmf_metrics::Detection> {
    // One rating of each suspected user flags the user (a share above zero).
    let entries: Vec<(u32, u32)> = model
        .suspected_users()
        .into_iter()
        .filter_map(|u| att.ratings.user(u).0.first().map(|&i| (u, i)))
        .collect();
    Ok(user_detection(
        &att.ratings,
        entries,
        att.truth.adversaries(),
        f64::MIN_POSITIVE,
    )?)
}

/// Hit ratio at [`HIT_RATIO_N`] of `att`'s target over `users`, P* = `clean`; `None` when no
/// user was sampled (every genuine user had rated the target).
pub fn hit_ratio_of<C: Predictor + Sync + ?Sized, A: Predictor + Sync + ?Sized>(
    clean: &C,
    attacked: &A,
    clean_train: &Ratings,
    att: &Attacked,
    users: &[u32],
) -> Result<Option<HitRatio>> {
    if users.is_empty() {
        return Ok(None);
    }
    Ok(Some(hit_ratio(
        clean,
        attacked,
        clean_train,
        users,
        &att.truth.targets()[..1],
        HIT_RATIO_N,
    )?))
}

/// MAPS of `att`'s target over its genuine users, P* = `clean`.
pub fn shift_of<C: Predictor + ?Sized, A: Predictor + ?Sized>(
    clean: &C,
    attacked: &A,
    clean_train: &Ratings,
    att: &Attacked,
) -> Result<cnmf_metrics::PredictionShift> {
    let genuine = att.truth.genuine_users();
    Ok(prediction_shift(
        clean,
        attacked,
        clean_train,
        &genuine,
        att.truth.targets()[0],
    )?)
}

/// Runs one engine algorithm under the four models of `scn` (with early stopping on the
/// scenario's validation set when it has one). Returns the record and the Model 1 model (P*
/// for the sweeps).
pub fn run_engine_method(
    params: &ValidNmfParams,
    scn: &Scenario,
    test: &[Triple],
    progress: &Progress,
) -> Result<(MethodRecord, NmfModel)> {
    let validation = scn.validation.as_deref();
    let (clean, secs) = fit(params, &scn.train, &scn.init, validation)?;
    progress.fit_done();
    let clean_rec = engine_record(&clean, secs, test, None, None, None)?;
    let (noisy, secs) = fit(params, &scn.noisy.ratings, &scn.init, validation)?;
    progress.fit_done();
    let noisy_rec = engine_record(&noisy, secs, test, None, Some(&scn.noisy), None)?;
    drop(noisy);
    let (low, secs) = fit(params, &scn.low.ratings, &scn.init_low, validation)?;
    progress.fit_done();
    let low_rec = engine_record(
        &low,
        secs,
        test,
        Some((&clean, &scn.train, &scn.low)),
        Some(&scn.low),
        Some(&scn.hit_users_low),
    )?;
    drop(low);
    let (inf, secs) = fit(params, &scn.informed.ratings, &scn.init, validation)?;
    progress.fit_done();
    let inf_rec = engine_record(
        &inf,
        secs,
        test,
        Some((&clean, &scn.train, &scn.informed)),
        Some(&scn.informed),
        Some(&scn.hit_users_informed),
    )?;
    Ok((
        MethodRecord {
            method: params.algorithm().name().to_string(),
            clean: clean_rec,
            random_noise: noisy_rec,
            low_knowledge: low_rec,
            informed: inf_rec,
        },
        clean,
    ))
}

/// Runs an extra method under the four models of `scn` (its own initialisation, seeded per
/// repetition; P* is its own Model 1 fit with the same seed).
fn run_extra_method(
    method: &dyn ExtraMethod,
    scn: &Scenario,
    test: &[Triple],
    seed: u64,
    progress: &Progress,
) -> Result<MethodRecord> {
    let timed = |data: &Ratings| -> Result<(Box<dyn Predictor + Send + Sync>, f64)> {
        let start = Instant::now();
        let m = method
            .fit(data, seed)
            .with_context(|| format!("fitting {}", method.name()))?;
        progress.fit_done();
        Ok((m, start.elapsed().as_secs_f64()))
    };
    let scale = scn.train.scale();
    let record = |m: &dyn Predictor, secs: f64, shift| -> Result<FitRecord> {
        Ok(FitRecord {
            accuracy: accuracy_of(m, test, scale)?,
            shift,
            detection: None,
            target_detection: None,
            filler_detection: None,
            hit_ratio_at_10: None,
            user_detection: None,
            iterations: 0,
            stop_reason: "n/a".into(),
            flagged: 0,
            seconds: secs,
        })
    };
    let (clean, s1) = timed(&scn.train)?;
    let (noisy, s2) = timed(&scn.noisy.ratings)?;
    let (low, s3) = timed(&scn.low.ratings)?;
    let (inf, s4) = timed(&scn.informed.ratings)?;
    let low_shift = shift_of(clean.as_ref(), low.as_ref(), &scn.train, &scn.low)?;
    let inf_shift = shift_of(clean.as_ref(), inf.as_ref(), &scn.train, &scn.informed)?;
    Ok(MethodRecord {
        method: method.name().to_string(),
        clean: record(clean.as_ref(), s1, None)?,
        random_noise: record(noisy.as_ref(), s2, None)?,
        low_knowledge: record(low.as_ref(), s3, Some(low_shift))?,
        informed: record(inf.as_ref(), s4, Some(inf_shift))?,
    })
}

/// The seeds of repetition `rep`.
pub fn rep_seeds(master: u64, rep: usize) -> RepSeeds {
    let r = rep as u64;
    RepSeeds {
        split: derive(master, r, Stream::Split),
        init: derive(master, r, Stream::Init),
        noise: derive(master, r, Stream::Noise),
        attack: derive(master, r, Stream::Attack),
    }
}

/// The 90/10 split of repetition `rep`.
pub fn rep_split(data: &Ratings, s: &Settings, seeds: &RepSeeds) -> Result<split::Split> {
    Ok(split::random_holdout(data, s.test_fraction, seeds.split)?)
}

/// Runs repetition `rep` in full.
pub fn run_rep(
    data: &Ratings,
    s: &Settings,
    extras: &[Box<dyn ExtraMethod>],
    rep: usize,
    progress: &Progress,
) -> Result<RepRecord> {
    let start = Instant::now();
    let seeds = rep_seeds(s.seed, rep);
    let sp = rep_split(data, s, &seeds)?;
    let test = sp.test;
    let init = init_factors(
        data.n_users(),
        data.n_items(),
        s.k,
        sp.train.mean(),
        seeds.init,
    )?;
    let targets = TargetChoice::Drawn {
        count: 1,
        min_ratings: s.target_min_ratings,
    };
    let train_ratings = sp.train.nnz();
    let scn = Scenario::new(
        sp.train,
        None,
        s,
        &seeds,
        targets,
        s.attack_size,
        init.clone(),
    )
    .with_context(|| format!("repetition {rep}"))?;

    let (paper, null_control, clean_models) = paper_block(&scn, &test, s, rep, progress)?;
    let more_attacks = more_attacks::run(&scn, &test, &clean_models, s, &seeds, progress)
        .with_context(|| format!("repetition {rep}, attacks beyond the paper"))?;
    let budgets = budgets::run(&scn, &test, s, &paper, rep, progress)?;
    let extra = extra_block(extras, &scn, &test, s, rep, progress)?;
    let sweeps = match &s.sweeps {
        Some(sw) if rep < sw.reps => Some(
            sweeps::run(&scn, &test, &clean_models, &paper, s, sw, &seeds, progress)
                .with_context(|| format!("repetition {rep}, sweeps"))?,
        ),
        _ => None,
    };
    drop(clean_models);
    let recipe = if rep < s.recipe_reps {
        crate::recipe::run(&scn.train, &test, s, rep, progress)?
    } else {
        Vec::new()
    };
    let regularised = regularised_block(&scn, &test, init, s, &seeds, rep, progress)?;

    Ok(RepRecord {
        rep,
        seeds,
        train_ratings,
        test_ratings: test.len(),
        noise_flips: scn.noisy.truth.entries().len(),
        adversaries: scn.low.truth.adversaries().len(),
        target: target_info(&scn.train, scn.target),
        paper,
        null_control,
        regularised,
        recipe,
        extra,
        budgets,
        more_attacks,
        sweeps,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Item `target` and its ratings in `train`.
pub fn target_info(train: &Ratings, target: u32) -> TargetInfo {
    let (_, target_values) = train.item(target);
    TargetInfo {
        item: target,
        external_id: train.items().external(target).to_string(),
        train_ratings: target_values.len(),
        train_mean: target_values.iter().sum::<f64>() / target_values.len().max(1) as f64,
    }
}

/// The paper block: every algorithm under the four models, then on the null-attack control.
/// Returns the records, the control's records and the Model 1 models (P* for the sweeps), in
/// `Algorithm::ALL` order.
fn paper_block(
    scn: &Scenario,
    test: &[Triple],
    s: &Settings,
    rep: usize,
    progress: &Progress,
) -> Result<(Vec<MethodRecord>, Vec<ControlRecord>, Vec<NmfModel>)> {
    let mut paper = Vec::new();
    let mut control = Vec::new();
    let mut clean_models = Vec::new();
    for alg in Algorithm::ALL {
        let params = s.paper_params(alg, s.lambda)?;
        let (rec, clean) = run_engine_method(&params, scn, test, progress)
            .with_context(|| format!("repetition {rep}, {alg}"))?;
        control.push(
            run_null_control(&params, scn, test, &clean, &rec, progress)
                .with_context(|| format!("repetition {rep}, {alg}, null control"))?,
        );
        paper.push(rec);
        clean_models.push(clean);
    }
    Ok((paper, control, clean_models))
}

/// One algorithm on the null-attack control, fitted and measured as Model 3 is in
/// [`run_engine_method`] (the same initial factors with the injected users' rows, MAPS against
/// `clean` over genuine users), and the attacks' MAPS of `rec` net of it.
fn run_null_control(
    params: &ValidNmfParams,
    scn: &Scenario,
    test: &[Triple],
    clean: &NmfModel,
    rec: &MethodRecord,
    progress: &Progress,
) -> Result<ControlRecord> {
    let validation = scn.validation.as_deref();
    let (model, secs) = fit(params, &scn.control.ratings, &scn.init_low, validation)?;
    progress.fit_done();
    let fit = engine_record(
        &model,
        secs,
        test,
        Some((clean, &scn.train, &scn.control)),
        Some(&scn.control),
        None,
    )?;
    let maps = |f: &FitRecord| f.shift.as_ref().map(|x| x.maps).context("no MAPS recorded");
    let control_maps = maps(&fit)?;
    Ok(ControlRecord {
        method: params.algorithm().name().to_string(),
        low_knowledge_maps_net_of_control: maps(&rec.low_knowledge)? - control_maps,
        informed_maps_net_of_control: maps(&rec.informed)? - control_maps,
        fit,
    })
}

/// The extra methods under the four models, seeded per repetition.
fn extra_block(
    extras: &[Box<dyn ExtraMethod>],
    scn: &Scenario,
    test: &[Triple],
    s: &Settings,
    rep: usize,
    progress: &Progress,
) -> Result<Vec<MethodRecord>> {
    let mut extra = Vec::new();
    for m in extras {
        extra.push(
            run_extra_method(
                m.as_ref(),
                scn,
                test,
                derive(s.seed, rep as u64, Stream::Extra),
                progress,
            )
            .with_context(|| format!("repetition {rep}, {}", m.name()))?,
        );
    }
    Ok(extra)
}

/// The regularised block, when repetition `rep` runs it: a validation set held out of the
/// clean training set, the same noise, attacks (same target) and initial factors, and every
/// algorithm with L2 and early stopping; tested on the repetition's test set.
fn regularised_block(
    scn: &Scenario,
    test: &[Triple],
    init: Factors,
    s: &Settings,
    seeds: &RepSeeds,
    rep: usize,
    progress: &Progress,
) -> Result<Vec<MethodRecord>> {
    let mut regularised = Vec::new();
    let Some(r) = s.regularised.as_ref().filter(|r| rep < r.reps) else {
        return Ok(regularised);
    };
    let inner = split::random_holdout(
        &scn.train,
        s.validation_fraction,
        derive(s.seed, rep as u64, Stream::Validation),
    )?;
    let reg_scn = Scenario::new(
        inner.train,
        Some(inner.test),
        s,
        seeds,
        TargetChoice::Indices(vec![scn.target]),
        s.attack_size,
        init,
    )
    .with_context(|| format!("repetition {rep}, regularised block"))?;
    for alg in Algorithm::ALL {
        let params = s.regularised_params(alg, r)?;
        let (rec, _) = run_engine_method(&params, &reg_scn, test, progress)
            .with_context(|| format!("repetition {rep}, regularised {alg}"))?;
        regularised.push(rec);
    }
    Ok(regularised)
}

/// Number of fits `run_rep` does for repetition `rep` on data with `n_users` users (for the
/// progress bar).
pub fn fits_in_rep(s: &Settings, n_extras: usize, rep: usize, n_users: usize) -> u64 {
    let n_alg = Algorithm::ALL.len() as u64;
    // The paper block's four models and its null control, then the extra methods.
    let mut n = 5 * n_alg + 4 * n_extras as u64 + budgets::fits(s) + more_attacks::fits(s);
    if s.regularised.as_ref().is_some_and(|r| rep < r.reps) {
        n += 4 * n_alg;
    }
    if rep < s.recipe_reps {
        n += crate::recipe::METHODS.len() as u64;
    }
    if let Some(sw) = &s.sweeps {
        if rep < sw.reps {
            n += sweeps::fits(s, sw, n_users);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnmf_attacks::AttackKind;
    use cnmf_ratings::RatingScale;

    fn settings() -> Settings {
        Settings {
            k: 2,
            iters: 5,
            time_budget: None,
            lambda: 1.0,
            attack_size: AttackSize::Count(4),
            target_min_ratings: 5,
            seed: 7,
            test_fraction: 0.1,
            validation_fraction: 0.1,
            noise_probability: 0.1,
            filler: 6,
            regularised: None,
            recipe_reps: 0,
            sweeps: None,
            budgets: Vec::new(),
            more_attacks: None,
        }
    }

    #[test]
    fn null_control_spec_is_model_3_but_for_the_kind() {
        let s = settings();
        let targets = TargetChoice::Drawn {
            count: 1,
            min_ratings: 5,
        };
        let size = AttackSize::Count(4);
        let low = injected_spec(AttackSpec::low_knowledge(), &s, 42, targets.clone(), size)
            .check()
            .unwrap();
        let control = injected_spec(AttackSpec::null_control(), &s, 42, targets.clone(), size)
            .check()
            .unwrap();
        assert_eq!(low.kind(), AttackKind::LowKnowledge);
        assert_eq!(control.kind(), AttackKind::NullControl);
        assert_eq!(control.seed(), 42);
        assert_eq!(control.size(), size);
        assert_eq!(control.filler(), FillerSize::Count(s.filler));
        assert_eq!(control.targets(), &targets);
        // Everything else too: only the kind differs.
        assert_eq!(
            control.spec().clone().kind(AttackKind::LowKnowledge),
            *low.spec()
        );
    }

    #[test]
    fn null_control_injects_model_3_users_without_target_ratings() {
        let (users, items): (Vec<String>, Vec<String>) = (
            (0..30).map(|u| format!("u{u}")).collect(),
            (0..20).map(|i| format!("i{i}")).collect(),
        );
        let triples = (0..30usize).flat_map(|u| {
            let (users, items) = (&users, &items);
            (0..20usize)
                .filter(move |i| (u + i) % 3 != 0)
                .map(move |i| {
                    (
                        users[u].as_str(),
                        items[i].as_str(),
                        ((u + i) % 5 + 1) as f64,
                    )
                })
        });
        let train = Ratings::from_external(triples, RatingScale::MOVIELENS).unwrap();
        let s = settings();
        let targets = TargetChoice::Drawn {
            count: 1,
            min_ratings: 5,
        };
        let (low, _) = attacks(&train, &s, 3, targets.clone(), s.attack_size).unwrap();
        let control = null_control(&train, &s, 3, targets, s.attack_size, &low).unwrap();
        let target = low.truth.targets()[0];
        assert_eq!(control.truth.targets(), low.truth.targets());
        assert_eq!(control.truth.adversaries(), low.truth.adversaries());
        for &a in control.truth.adversaries() {
            assert_eq!(control.ratings.get(a, target), None);
            assert!(low.ratings.get(a, target).is_some());
            let (items, values) = control.ratings.user(a);
            assert_eq!(items.len(), s.filler);
            for (&i, &v) in items.iter().zip(values) {
                assert_eq!(low.ratings.get(a, i), Some(v), "same filler and ratings");
            }
        }
    }
}
