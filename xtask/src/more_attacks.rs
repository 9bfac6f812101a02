//! Attacks beyond the paper, on every algorithm in every repetition: push attacks (the target
//! rated at the top of the scale, where the hit ratio at 10 shows the harm), the average and
//! bandwagon review bombs, the adaptive attacker who knows lambda and the model and rates the
//! target as low as it can without being flagged, and a low-knowledge review bomb on an
//! unpopular target. Each is measured against the same algorithm's Model 1 fit from the same
//! initial factors. On data with timestamps every attack arrives as a one-day burst after the
//! training data; the push by converted accounts and the adaptive attack are also run spread
//! over each item's history (a patient attacker, who leaves no burst in time).

use anyhow::{Context, Result};
use cnmf_attacks::{AttackSpec, Attacked, Direction, FillerSize, TargetChoice, Timing};
use cnmf_engine::{Algorithm, NmfModel};
use cnmf_ratings::Triple;
use serde::Serialize;

use crate::progress::Progress;
use crate::protocol::{engine_record, extend_init, fit, hit_sample, Scenario, Settings};
use crate::records::{AttackRecord, RepSeeds};
use crate::seeds::{derive, Stream};

/// Most popular items every bandwagon profile rates at the maximum.
pub const BANDWAGON_POPULAR: usize = 5;

/// The attacks beyond the paper, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MoreAttack {
    /// Model 3's synthetic profiles rating the target 5.
    PushLowKnowledge,
    /// Model 4's converted accounts rating the target 5.
    PushInformed,
    /// Synthetic profiles whose filler ratings follow each item's mean and spread.
    Average,
    /// Synthetic profiles rating the most popular items 5 besides a random filler.
    Bandwagon,
    /// Model 4's accounts rating the target at the lowest grid value inside the threshold of
    /// the algorithm's own Model 1 predictions.
    Adaptive,
    /// Model 3 on a target drawn from a lower popularity band.
    UnpopularTarget,
    /// [`PushInformed`](MoreAttack::PushInformed) spread over each item's history.
    PushInformedSpread,
    /// [`Adaptive`](MoreAttack::Adaptive) spread over each item's history.
    AdaptiveSpread,
}

impl MoreAttack {
    /// All of them, in report order.
    pub const ALL: [MoreAttack; 8] = [
        MoreAttack::PushLowKnowledge,
        MoreAttack::PushInformed,
        MoreAttack::Average,
        MoreAttack::Bandwagon,
        MoreAttack::Adaptive,
        MoreAttack::UnpopularTarget,
        MoreAttack::PushInformedSpread,
        MoreAttack::AdaptiveSpread,
    ];

    /// Name in the records and the report.
    pub fn name(self) -> &'static str {
        match self {
            MoreAttack::PushLowKnowledge => "push-low-knowledge",
            MoreAttack::PushInformed => "push-informed",
            MoreAttack::Average => "average",
            MoreAttack::Bandwagon => "bandwagon",
            MoreAttack::Adaptive => "adaptive",
            MoreAttack::UnpopularTarget => "unpopular-target",
            MoreAttack::PushInformedSpread => "push-informed-spread",
            MoreAttack::AdaptiveSpread => "adaptive-spread",
        }
    }

    /// Whether the target is pushed up (the others nuke it).
    pub fn pushes(self) -> bool {
        matches!(
            self,
            MoreAttack::PushLowKnowledge
                | MoreAttack::PushInformed
                | MoreAttack::PushInformedSpread
        )
    }

    /// The specification, with the repetition's size, seed and (but for the unpopular target)
    /// the paper block's target. The adaptive attack's threshold is lambda.
    fn spec(self, scn: &Scenario, s: &Settings, seed: u64, band: (f64, f64)) -> AttackSpec {
        let filler = FillerSize::Count(s.filler);
        let same_target = TargetChoice::Indices(vec![scn.target]);
        let spec = match self {
            MoreAttack::PushLowKnowledge => AttackSpec::low_knowledge()
                .direction(Direction::Push)
                .filler(filler),
            MoreAttack::PushInformed => AttackSpec::informed().direction(Direction::Push),
            MoreAttack::PushInformedSpread => AttackSpec::informed()
                .direction(Direction::Push)
                .timing(Timing::Spread),
            MoreAttack::Average => AttackSpec::average().filler(filler),
            MoreAttack::Bandwagon => AttackSpec::bandwagon(BANDWAGON_POPULAR).filler(filler),
            MoreAttack::Adaptive => AttackSpec::adaptive(s.lambda),
            MoreAttack::AdaptiveSpread => AttackSpec::adaptive(s.lambda).timing(Timing::Spread),
            MoreAttack::UnpopularTarget => AttackSpec::low_knowledge().filler(filler),
        };
        let targets = match self {
            MoreAttack::UnpopularTarget => TargetChoice::PopularityBand {
                count: 1,
                lower: band.0,
                upper: band.1,
            },
            _ => same_target,
        };
        spec.size(s.attack_size).targets(targets).seed(seed)
    }
}

/// Settings of the attacks beyond the paper.
#[derive(Debug, Clone, Serialize)]
pub struct MoreAttackSettings {
    /// Popularity band (quantiles) of the unpopular target.
    pub unpopular_band: (f64, f64),
}

/// The attacked data of `attack` for `alg` (only the adaptive attack depends on the algorithm:
/// it reads `clean`'s raw predictions).
fn attacked(
    attack: MoreAttack,
    scn: &Scenario,
    s: &Settings,
    seeds: &RepSeeds,
    m: &MoreAttackSettings,
    clean: &NmfModel,
) -> Result<Attacked> {
    let spec = attack
        .spec(scn, s, seeds.attack, m.unpopular_band)
        .check()?;
    let out = if matches!(attack, MoreAttack::Adaptive | MoreAttack::AdaptiveSpread) {
        spec.generate_adaptive(&scn.train, &|u, i| clean.predict_raw(u, i))
    } else {
        spec.generate(&scn.train)
    };
    out.with_context(|| format!("the {} attack", attack.name()))
}

/// Every attack beyond the paper on every algorithm of the paper block; `clean_models` are its
/// Model 1 fits in `Algorithm::ALL` order.
pub fn run(
    scn: &Scenario,
    test: &[Triple],
    clean_models: &[NmfModel],
    s: &Settings,
    seeds: &RepSeeds,
    progress: &Progress,
) -> Result<Vec<AttackRecord>> {
    let Some(m) = &s.more_attacks else {
        return Ok(Vec::new());
    };
    let hit_seed = derive(seeds.attack, 0, Stream::HitRatio);
    let mut out = Vec::new();
    for attack in MoreAttack::ALL {
        for (alg, clean) in Algorithm::ALL.into_iter().zip(clean_models) {
            let att = attacked(attack, scn, s, seeds, m, clean)?;
            let init = extend_init(
                &scn.init,
                att.ratings.n_users(),
                seeds.init,
                scn.train.mean(),
            )?;
            let params = s.paper_params(alg, s.lambda)?;
            let (model, secs) = fit(&params, &att.ratings, &init, None)?;
            progress.fit_done();
            let hit_users = hit_sample(&scn.train, &att, hit_seed);
            let rec = engine_record(
                &model,
                secs,
                test,
                Some((clean, &scn.train, &att)),
                Some(&att),
                Some(&hit_users),
            )
            .with_context(|| format!("{alg} under the {} attack", attack.name()))?;
            out.push(AttackRecord {
                attack: attack.name().into(),
                method: alg.name().into(),
                target: crate::protocol::target_info(&scn.train, att.truth.targets()[0]),
                fit: rec,
            });
        }
    }
    Ok(out)
}

/// Fits the attacks beyond the paper add to a repetition.
pub fn fits(s: &Settings) -> u64 {
    if s.more_attacks.is_some() {
        (MoreAttack::ALL.len() * Algorithm::ALL.len()) as u64
    } else {
        0
    }
}
