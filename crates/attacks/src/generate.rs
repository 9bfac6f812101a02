//! The generators: random noise, informed conversion and injected profiles.

use std::sync::Arc;

use cnmf_ratings::{DuplicatePolicy, IdMap, Ratings, Triple};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::sample::{rng, Pool, RatingGrid, Stream};
use crate::timing::Clock;
use crate::{
    AttackError, AttackKind, AttackPlan, AttackSpec, Attacked, CorruptEntry, GroundTruth,
    ValidAttackSpec,
};

impl ValidAttackSpec {
    /// Generates the attacked data and its ground truth. Plans first
    /// ([`ValidAttackSpec::plan`]), so every error comes before any generation.
    ///
    /// Deterministic: the same spec (seed included) on the same data gives the same result on
    /// every machine (ChaCha8). Costs O(nnz) to copy the data plus O(A (filler + targets)) for
    /// injected profiles (O(n_items) once for the filler pool).
    ///
    /// ```
    /// use cnmf_attacks::{AttackSize, AttackSpec, FillerSize, TargetChoice};
    /// use cnmf_ratings::{Ratings, RatingScale};
    /// let data = Ratings::from_external(
    ///     [("a", "x", 5.0), ("a", "y", 3.0), ("b", "x", 4.0), ("c", "z", 2.0)],
    ///     RatingScale::MOVIELENS,
    /// ).unwrap();
    /// let out = AttackSpec::low_knowledge()
    ///     .size(AttackSize::Count(2))
    ///     .filler(FillerSize::Count(1))
    ///     .targets(TargetChoice::Items(vec!["x".into()]))
    ///     .seed(1)
    ///     .check()
    ///     .unwrap()
    ///     .generate(&data)
    ///     .unwrap();
    /// assert_eq!(out.ratings.n_users(), 5);
    /// assert_eq!(out.ratings.users().external(3), "attacker-0");
    /// assert_eq!(out.truth.adversaries(), &[3, 4]);
    /// // Each synthetic user rates the target 1 and one filler item.
    /// assert_eq!(out.truth.entries().len(), 4);
    /// assert_eq!(out.ratings.get(3, data.items().index("x").unwrap()), Some(1.0));
    /// ```
    ///
    /// The adaptive attack needs the model's predictions: generate it with
    /// [`ValidAttackSpec::generate_adaptive`]; here it is an error.
    pub fn generate(&self, data: &Ratings) -> Result<Attacked, AttackError> {
        if let AttackKind::Adaptive { .. } = self.kind() {
            return Err(AttackError::InvalidParameter {
                name: "kind",
                reason: "the adaptive attack needs the model's predictions: use generate_adaptive"
                    .into(),
            });
        }
        let plan = self.plan(data)?;
        let seed = self.seed();
        match plan.kind {
            AttackKind::RandomNoise { probability } => random_noise(data, plan, probability, seed),
            AttackKind::Informed => {
                let value = plan.target_value;
                informed(data, plan, self, |_, _| Ok(Some(value)))
            }
            AttackKind::LowKnowledge
            | AttackKind::Average
            | AttackKind::Bandwagon { .. }
            | AttackKind::NullControl => injected(data, plan, self, seed),
            AttackKind::Adaptive { .. } => unreachable!("refused above"),
        }
    }

    /// Generates like [`ValidAttackSpec::generate`], giving the adaptive attack the model's
    /// current predictions: `predict(user, item)` for a user and item of `data` (dense
    /// indices). Other kinds do not use `predict`.
    ///
    /// The adaptive attacker asks for the prediction of every target for every account it
    /// controls (existing users, as in the informed attack), then rates each target at
    /// the most extreme grid value inside the threshold of that prediction (see
    /// [`AttackKind::Adaptive`]); a target with no grid value inside keeps the account's
    /// original rating, if any, and has no ground-truth entry.
    ///
    /// Errors: as [`ValidAttackSpec::generate`], and a prediction that is not finite (before
    /// anything is built).
    ///
    /// ```
    /// use cnmf_attacks::{AttackSize, AttackSpec, TargetChoice};
    /// use cnmf_ratings::{Ratings, RatingScale};
    /// let data = Ratings::from_external(
    ///     [("a", "x", 5.0), ("a", "y", 3.0), ("b", "x", 4.0), ("c", "y", 2.0)],
    ///     RatingScale::MOVIELENS,
    /// ).unwrap();
    /// // Threshold 2.25 (residuals up to 1.5) and a model predicting 4.2 everywhere: a nuke
    /// // rates the target 3, the lowest grid value within 1.5 of 4.2.
    /// let out = AttackSpec::adaptive(2.25)
    ///     .size(AttackSize::Count(1))
    ///     .targets(TargetChoice::Items(vec!["x".into()]))
    ///     .check()
    ///     .unwrap()
    ///     .generate_adaptive(&data, &|_, _| 4.2)
    ///     .unwrap();
    /// let adversary = out.truth.adversaries()[0];
    /// let x = data.items().index("x").unwrap();
    /// assert_eq!(out.ratings.get(adversary, x), Some(3.0));
    /// ```
    pub fn generate_adaptive(
        &self,
        data: &Ratings,
        predict: &dyn Fn(u32, u32) -> f64,
    ) -> Result<Attacked, AttackError> {
        let AttackKind::Adaptive { lambda } = self.kind() else {
            return self.generate(data);
        };
        let plan = self.plan(data)?;
        let grid = RatingGrid::new(data.scale(), self.rating_step())?;
        let direction = plan.direction;
        informed(data, plan, self, |user, item| {
            let x = predict(user, item);
            if !x.is_finite() {
                return Err(AttackError::InvalidParameter {
                    name: "prediction",
                    reason: format!("the prediction {x} of user {user}, item {item} is not finite"),
                });
            }
            Ok(grid.extreme_within(x, lambda, direction))
        })
    }
}

/// Checks `spec` and generates: `spec.clone().check()?.generate(data)`.
pub fn attack(data: &Ratings, spec: &AttackSpec) -> Result<Attacked, AttackError> {
    spec.clone().check()?.generate(data)
}

fn random_noise(
    data: &Ratings,
    plan: AttackPlan,
    probability: f64,
    seed: u64,
) -> Result<Attacked, AttackError> {
    let scale = data.scale();
    let middle = 0.5 * (scale.min() + scale.max());
    let mut r = rng(seed, Stream::Noise);
    let mut triples = Vec::with_capacity(data.nnz());
    let mut entries = Vec::new();
    // CSR order, one Bernoulli draw per rating: the draws do not depend on anything but the
    // rating's position, and the flipped entries come out sorted.
    for mut t in data.iter() {
        if r.random_bool(probability) {
            let flipped = if t.value <= middle {
                scale.max()
            } else {
                scale.min()
            };
            entries.push(CorruptEntry {
                user: t.user,
                item: t.item,
                value: flipped,
                original: Some(t.value),
            });
            t.value = flipped;
        }
        triples.push(t);
    }
    // Same positions as the input: each rating keeps its time.
    let mut ratings = data.with_triples(&triples, DuplicatePolicy::Error)?;
    if let Some(times) = data.times() {
        ratings = ratings.with_times(times.to_vec())?;
    }
    let truth = GroundTruth::new(plan, seed, data.n_users(), Vec::new(), entries);
    Ok(Attacked { ratings, truth })
}

/// Converts `A` existing users into adversaries; each rates every target at `rate(user, item)`
/// (adding or replacing the rating), or leaves it as it was when that is `None`. Every rating is
/// decided before the data is built, so an error from `rate` comes first.
fn informed(
    data: &Ratings,
    plan: AttackPlan,
    spec: &ValidAttackSpec,
    mut rate: impl FnMut(u32, u32) -> Result<Option<f64>, AttackError>,
) -> Result<Attacked, AttackError> {
    let n = data.n_users();
    let seed = spec.seed();
    let candidates: Vec<u32> = (0..n as u32).filter(|&u| data.user_count(u) > 0).collect();
    let mut r = rng(seed, Stream::Adversaries);
    let mut adversaries = Pool::new(candidates)
        .draw(plan.adversaries, &mut r)
        .to_vec();
    adversaries.sort_unstable();
    let mut is_adversary = vec![false; n];
    for &u in &adversaries {
        is_adversary[u as usize] = true;
    }
    let targets = &plan.targets;
    let mut entries = Vec::with_capacity(adversaries.len() * targets.len());
    for &u in &adversaries {
        for &item in targets {
            if let Some(value) = rate(u, item)? {
                entries.push(CorruptEntry {
                    user: u,
                    item,
                    value,
                    original: data.get(u, item),
                });
            }
        }
    }
    let replaced = |t: &Triple| {
        is_adversary[t.user as usize]
            && entries
                .binary_search_by_key(&(t.user, t.item), |e| (e.user, e.item))
                .is_ok()
    };
    let kept: Vec<bool> = data.iter().map(|t| !replaced(&t)).collect();
    let mut triples: Vec<Triple> = data
        .iter()
        .zip(&kept)
        .filter(|(_, &k)| k)
        .map(|(t, _)| t)
        .collect();
    triples.extend(entries.iter().map(|e| Triple::new(e.user, e.item, e.value)));
    let ratings = match Clock::new(data, spec.timing(), seed) {
        None => data.with_triples(&triples, DuplicatePolicy::Error)?,
        Some(mut clock) => {
            let old = data.times().unwrap_or_default().iter().zip(&kept);
            let mut times: Vec<i64> = old.filter(|(_, &k)| k).map(|(&t, _)| t).collect();
            times.extend(entries.iter().map(|e| clock.time(e.item)));
            data.with_timed_triples(&triples, &times, DuplicatePolicy::Error)?
        }
    };
    let truth = GroundTruth::new(plan, seed, n, adversaries, entries);
    Ok(Attacked { ratings, truth })
}

/// How an injected profile rates its random filler.
enum FillerRating {
    /// Uniform on the grid (low-knowledge).
    Uniform,
    /// N(item mean, item sd) per item (average).
    PerItem(Vec<(f64, f64)>),
    /// N(global mean, global sd) (bandwagon).
    Global(f64, f64),
}

impl FillerRating {
    fn draw(&self, item: u32, grid: &RatingGrid, r: &mut ChaCha8Rng) -> f64 {
        match self {
            FillerRating::Uniform => grid.uniform(r),
            FillerRating::PerItem(stats) => {
                let (mean, sd) = stats[item as usize];
                grid.round(mean + sd * r.sample::<f64, _>(StandardNormal))
            }
            FillerRating::Global(mean, sd) => {
                grid.round(mean + sd * r.sample::<f64, _>(StandardNormal))
            }
        }
    }
}

/// Mean and population standard deviation.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn injected(
    data: &Ratings,
    plan: AttackPlan,
    spec: &ValidAttackSpec,
    seed: u64,
) -> Result<Attacked, AttackError> {
    let n = data.n_users();
    let scale = data.scale();
    let grid = RatingGrid::new(scale, spec.rating_step())?;
    // data.nnz() > 0 (checked by the plan), so the global statistics exist.
    let global = mean_sd(data.csr().data());
    let rating = match plan.kind {
        AttackKind::Average => FillerRating::PerItem(
            (0..data.n_items() as u32)
                .map(|i| {
                    let (_, values) = data.item(i);
                    if values.is_empty() {
                        global
                    } else {
                        mean_sd(values)
                    }
                })
                .collect(),
        ),
        AttackKind::Bandwagon { .. } => FillerRating::Global(global.0, global.1),
        _ => FillerRating::Uniform,
    };

    let mut users: IdMap = data.users().clone();
    for id in synthetic_ids(data.users(), spec.id_prefix(), plan.adversaries) {
        users.intern(&id);
    }
    let mut set_aside: Vec<u32> = plan.targets.iter().chain(&plan.popular).copied().collect();
    set_aside.sort_unstable();
    let pool_items: Vec<u32> = (0..data.n_items() as u32)
        .filter(|i| set_aside.binary_search(i).is_err())
        .collect();
    let mut pool = Pool::new(pool_items);
    let random_filler = plan.filler - plan.popular.len();

    // The null-attack control draws exactly what the low-knowledge attack draws (same pool,
    // same stream, same order), so only the target ratings differ.
    let profile_len = plan.targets.len() + plan.filler;
    let mut triples = Vec::with_capacity(data.nnz() + plan.adversaries * profile_len);
    triples.extend(data.iter());
    let mut entries = Vec::with_capacity(plan.adversaries * profile_len);
    let mut r = rng(seed, Stream::Profiles);
    let mut profile: Vec<(u32, f64)> = Vec::with_capacity(profile_len);
    for a in 0..plan.adversaries {
        let user = (n + a) as u32;
        profile.clear();
        if plan.kind != AttackKind::NullControl {
            profile.extend(plan.targets.iter().map(|&t| (t, plan.target_value)));
        }
        profile.extend(plan.popular.iter().map(|&i| (i, scale.max())));
        let drawn = pool.draw(random_filler, &mut r);
        for &item in drawn {
            profile.push((item, rating.draw(item, &grid, &mut r)));
        }
        profile.sort_unstable_by_key(|&(item, _)| item);
        for &(item, value) in &profile {
            triples.push(Triple::new(user, item, value));
            entries.push(CorruptEntry {
                user,
                item,
                value,
                original: None,
            });
        }
    }
    let (users, items) = (Arc::new(users), data.items_arc().clone());
    let ratings = match Clock::new(data, spec.timing(), seed) {
        None => Ratings::from_triples(users, items, scale, &triples, DuplicatePolicy::Error)?,
        Some(mut clock) => {
            let mut times = data.times().unwrap_or_default().to_vec();
            times.extend(entries.iter().map(|e| clock.time(e.item)));
            let policy = DuplicatePolicy::Error;
            Ratings::from_timed_triples(users, items, scale, &triples, &times, policy)?
        }
    };
    let adversaries = (n as u32..(n + plan.adversaries) as u32).collect();
    let truth = GroundTruth::new(plan, seed, n, adversaries, entries);
    Ok(Attacked { ratings, truth })
}

/// `count` external ids `{prefix}{i}` that clash with no existing user; on a clash, the prefix
/// becomes `{prefix}{round}-` for the first round that clashes with nothing. Terminates: each
/// failed round needs an existing id with that round's prefix, and there are finitely many ids.
fn synthetic_ids(users: &IdMap, prefix: &str, count: usize) -> Vec<String> {
    for round in 0usize.. {
        let p = if round == 0 {
            prefix.to_string()
        } else {
            format!("{prefix}{round}-")
        };
        let ids: Vec<String> = (0..count).map(|i| format!("{p}{i}")).collect();
        if ids.iter().all(|id| users.index(id).is_none()) {
            return ids;
        }
    }
    unreachable!("an unbounded range ends only when a free prefix is found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_ids_avoid_clashes() {
        let mut m = IdMap::new();
        m.intern("attacker-1");
        m.intern("attacker-1-0");
        let ids = synthetic_ids(&m, "attacker-", 3);
        assert_eq!(ids, ["attacker-2-0", "attacker-2-1", "attacker-2-2"]);
        let ids = synthetic_ids(&m, "attacker-", 1);
        assert_eq!(ids, ["attacker-0"]);
    }

    #[test]
    fn mean_sd_hand_computed() {
        // mean 2, deviations -1, 0, 1 -> population variance 2/3
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((s - (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }
}
