//! The sweeps of one repetition: MAPS against the attack size, NMAE, MAPS and detection
//! against lambda, and Model 3's MAPS against the filler size. They reuse the repetition's split, initial factors, target and Model 1 fits,
//! so a sweep point differs from the main run in the swept setting only.

use anyhow::{Context, Result};
use cnmf_attacks::{AttackSize, AttackSpec, FillerSize, TargetChoice};
use cnmf_engine::{Algorithm, NmfModel};
use cnmf_ratings::Triple;

use crate::progress::Progress;
use crate::protocol::{
    attacks, engine_record, extend_init, fit, injected_spec, run_engine_method, Scenario, Settings,
    SweepSettings,
};
use crate::records::{FillerPoint, LambdaPoint, MethodRecord, RepSeeds, RepSweeps, SizePoint};

/// Whether two settings are the same point (sweep values are written with few digits).
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// The main run's attack size as a fraction, if it was given as one.
fn main_fraction(s: &Settings) -> Option<f64> {
    match s.attack_size {
        AttackSize::Fraction(f) => Some(f),
        AttackSize::Count(_) => None,
    }
}

/// Whether `fraction` of `n_users` rounds to no adversary (as `cnmf-attacks` rounds it): such
/// a size is left out of the sweep, which the report's table then simply lacks.
fn too_small(fraction: f64, n_users: usize) -> bool {
    (fraction * n_users as f64).round() < 1.0
}

/// Number of fits the sweeps add to a repetition (points the main run already has are
/// reused, not refitted; sizes with no adversary among `n_users` are skipped).
pub fn fits(s: &Settings, sw: &SweepSettings, n_users: usize) -> u64 {
    let n_alg = Algorithm::ALL.len() as u64;
    let n_corrupt = Algorithm::ALL.iter().filter(|a| a.needs_lambda()).count() as u64;
    let sizes = sw
        .sizes
        .iter()
        .filter(|&&x| !main_fraction(s).is_some_and(|f| same(f, x)) && !too_small(x, n_users))
        .count() as u64;
    let mults = sw.multipliers.iter().filter(|&&m| !same(m, 1.0)).count() as u64;
    let fillers = sw.fillers.iter().filter(|&&f| f != s.filler).count() as u64;
    sizes * 2 * n_alg + mults * 4 * n_corrupt + fillers * n_alg
}

/// Runs both sweeps for one repetition. `clean_models` and `paper` are the repetition's
/// Model 1 fits and records, in `Algorithm::ALL` order.
#[allow(clippy::too_many_arguments)]
pub fn run(
    scn: &Scenario,
    test: &[Triple],
    clean_models: &[NmfModel],
    paper: &[MethodRecord],
    s: &Settings,
    sw: &SweepSettings,
    seeds: &RepSeeds,
    progress: &Progress,
) -> Result<RepSweeps> {
    let mut out = RepSweeps::default();
    for &fraction in &sw.sizes {
        if too_small(fraction, scn.train.n_users()) {
            continue;
        }
        if main_fraction(s).is_some_and(|f| same(f, fraction)) {
            let adversaries = scn.low.truth.adversaries().len();
            out.attack_size.extend(paper.iter().map(|rec| SizePoint {
                fraction,
                adversaries,
                method: rec.method.clone(),
                low_knowledge: rec.low_knowledge.shift.expect("attack fits have a shift"),
                informed: rec.informed.shift.expect("attack fits have a shift"),
            }));
        } else {
            let points = size_points(scn, test, clean_models, s, seeds, progress, fraction)?;
            out.attack_size.extend(points);
        }
    }
    for &multiplier in &sw.multipliers {
        let lambda = s.lambda * multiplier;
        for (idx, alg) in Algorithm::ALL.into_iter().enumerate() {
            if !alg.needs_lambda() {
                continue;
            }
            let rec = if same(multiplier, 1.0) {
                paper[idx].clone()
            } else {
                let params = s.paper_params(alg, lambda)?;
                run_engine_method(&params, scn, test, progress)?.0
            };
            out.lambda.push(LambdaPoint {
                multiplier,
                lambda,
                method: rec.method,
                clean: rec.clean,
                random_noise: rec.random_noise,
                low_knowledge: rec.low_knowledge,
                informed: rec.informed,
            });
        }
    }
    for &filler in &sw.fillers {
        if filler == s.filler {
            out.filler.extend(paper.iter().map(|rec| FillerPoint {
                filler,
                method: rec.method.clone(),
                low_knowledge: rec.low_knowledge.shift.expect("attack fits have a shift"),
            }));
        } else {
            let points = filler_points(scn, test, clean_models, s, seeds, progress, filler)?;
            out.filler.extend(points);
        }
    }
    Ok(out)
}

/// The filler sweep at a filler size the main run does not have: Model 3 drawn again with
/// `filler` filler items per profile (same target and size), every algorithm fitted to it;
/// shifts against the main run's Model 1 fits.
fn filler_points(
    scn: &Scenario,
    test: &[Triple],
    clean_models: &[NmfModel],
    s: &Settings,
    seeds: &RepSeeds,
    progress: &Progress,
    filler: usize,
) -> Result<Vec<FillerPoint>> {
    let targets = TargetChoice::Indices(vec![scn.target]);
    let low = injected_spec(
        AttackSpec::low_knowledge(),
        s,
        seeds.attack,
        targets,
        s.attack_size,
    )
    .filler(FillerSize::Count(filler))
    .check()?
    .generate(&scn.train)
    .with_context(|| format!("Model 3 with {filler} filler items"))?;
    let mut points = Vec::new();
    for (alg, clean) in Algorithm::ALL.into_iter().zip(clean_models) {
        let params = s.paper_params(alg, s.lambda)?;
        let (m3, secs) = fit(&params, &low.ratings, &scn.init_low, None)?;
        progress.fit_done();
        let r3 = engine_record(&m3, secs, test, Some((clean, &scn.train, &low)), None, None)?;
        points.push(FillerPoint {
            filler,
            method: alg.name().to_string(),
            low_knowledge: r3.shift.context("no shift recorded")?,
        });
    }
    Ok(points)
}

/// The attack-size sweep at a size the main run does not have: Models 3 and 4 drawn again at
/// that size (same target), every algorithm fitted to both; shifts against the main run's
/// Model 1 fits.
fn size_points(
    scn: &Scenario,
    test: &[Triple],
    clean_models: &[NmfModel],
    s: &Settings,
    seeds: &RepSeeds,
    progress: &Progress,
    fraction: f64,
) -> Result<Vec<SizePoint>> {
    let (low, informed) = attacks(
        &scn.train,
        s,
        seeds.attack,
        TargetChoice::Indices(vec![scn.target]),
        AttackSize::Fraction(fraction),
    )?;
    let init_low = extend_init(
        &scn.init,
        low.ratings.n_users(),
        seeds.init,
        scn.train.mean(),
    )?;
    let mut points = Vec::new();
    for (alg, clean) in Algorithm::ALL.into_iter().zip(clean_models) {
        let params = s.paper_params(alg, s.lambda)?;
        let (m3, secs3) = fit(&params, &low.ratings, &init_low, None)?;
        progress.fit_done();
        let r3 = engine_record(
            &m3,
            secs3,
            test,
            Some((clean, &scn.train, &low)),
            None,
            None,
        )?;
        drop(m3);
        let (m4, secs4) = fit(&params, &informed.ratings, &scn.init, None)?;
        progress.fit_done();
        let r4 = engine_record(
            &m4,
            secs4,
            test,
            Some((clean, &scn.train, &informed)),
            None,
            None,
        )?;
        points.push(SizePoint {
            fraction,
            adversaries: low.truth.adversaries().len(),
            method: alg.name().to_string(),
            low_knowledge: r3.shift.expect("shift computed"),
            informed: r4.shift.expect("shift computed"),
        });
    }
    Ok(points)
}
