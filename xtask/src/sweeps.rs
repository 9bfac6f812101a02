//! The sweeps of one repetition: MAPS against the attack size, and NMAE, MAPS and detection
//! against lambda. They reuse the repetition's split, initial factors, target and Model 1 fits,
//! so a sweep point differs from the main run in the swept setting only.

use anyhow::Result;
use cnmf_attacks::{AttackSize, TargetChoice};
use cnmf_engine::{Algorithm, NmfModel};
use cnmf_ratings::Triple;

use crate::progress::Progress;
use crate::protocol::{
    attacks, engine_record, extend_init, fit, Scenario, Settings, SweepSettings,
};
use crate::records::{LambdaPoint, MethodRecord, RepSeeds, RepSweeps, SizePoint};

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

/// Number of fits the sweeps add to a repetition (points the main run already has are
/// reused, not refitted).
pub fn fits(s: &Settings, sw: &SweepSettings) -> u64 {
    let n_alg = Algorithm::ALL.len() as u64;
    let n_corrupt = Algorithm::ALL
        .iter()
        .filter(|a| a.flags_corruption())
        .count() as u64;
    let sizes = sw
        .sizes
        .iter()
        .filter(|&&x| !main_fraction(s).is_some_and(|f| same(f, x)))
        .count() as u64;
    let mults = sw.multipliers.iter().filter(|&&m| !same(m, 1.0)).count() as u64;
    sizes * 2 * n_alg + mults * 4 * n_corrupt
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
        if main_fraction(s).is_some_and(|f| same(f, fraction)) {
            for rec in paper {
                out.attack_size.push(SizePoint {
                    fraction,
                    adversaries: scn.low.truth.adversaries().len(),
                    method: rec.method.clone(),
                    low_knowledge: rec.low_knowledge.shift.expect("attack fits have a shift"),
                    informed: rec.informed.shift.expect("attack fits have a shift"),
                });
            }
            continue;
        }
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
        for (alg, clean) in Algorithm::ALL.into_iter().zip(clean_models) {
            let params = s.paper_params(alg, s.lambda)?;
            let (m3, secs3) = fit(&params, &low.ratings, &init_low, None)?;
            progress.fit_done();
            let r3 = engine_record(&m3, secs3, test, Some((clean, &scn.train, &low)), None)?;
            drop(m3);
            let (m4, secs4) = fit(&params, &informed.ratings, &scn.init, None)?;
            progress.fit_done();
            let r4 = engine_record(&m4, secs4, test, Some((clean, &scn.train, &informed)), None)?;
            out.attack_size.push(SizePoint {
                fraction,
                adversaries: low.truth.adversaries().len(),
                method: alg.name().to_string(),
                low_knowledge: r3.shift.expect("shift computed"),
                informed: r4.shift.expect("shift computed"),
            });
        }
    }

    for &mult in &sw.multipliers {
        let lambda = s.lambda * mult;
        for (idx, alg) in Algorithm::ALL.into_iter().enumerate() {
            if !alg.flags_corruption() {
                continue;
            }
            if same(mult, 1.0) {
                let rec = &paper[idx];
                out.lambda.push(LambdaPoint {
                    multiplier: mult,
                    lambda,
                    method: rec.method.clone(),
                    clean: rec.clean.clone(),
                    random_noise: rec.random_noise.clone(),
                    low_knowledge: rec.low_knowledge.clone(),
                    informed: rec.informed.clone(),
                });
                continue;
            }
            let params = s.paper_params(alg, lambda)?;
            let (clean, secs) = fit(&params, &scn.train, &scn.init, None)?;
            progress.fit_done();
            let clean_rec = engine_record(&clean, secs, test, None, None)?;
            let (m2, secs) = fit(&params, &scn.noisy.ratings, &scn.init, None)?;
            progress.fit_done();
            let r2 = engine_record(&m2, secs, test, None, Some(&scn.noisy))?;
            drop(m2);
            let (m3, secs) = fit(&params, &scn.low.ratings, &scn.init_low, None)?;
            progress.fit_done();
            let r3 = engine_record(
                &m3,
                secs,
                test,
                Some((&clean, &scn.train, &scn.low)),
                Some(&scn.low),
            )?;
            drop(m3);
            let (m4, secs) = fit(&params, &scn.informed.ratings, &scn.init, None)?;
            progress.fit_done();
            let r4 = engine_record(
                &m4,
                secs,
                test,
                Some((&clean, &scn.train, &scn.informed)),
                Some(&scn.informed),
            )?;
            out.lambda.push(LambdaPoint {
                multiplier: mult,
                lambda,
                method: alg.name().to_string(),
                clean: clean_rec,
                random_noise: r2,
                low_knowledge: r3,
                informed: r4,
            });
        }
    }
    Ok(out)
}
