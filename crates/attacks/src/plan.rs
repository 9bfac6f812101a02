//! Resolving a checked spec against the data: targets, sizes and popular items, all before
//! anything is generated.

use cnmf_ratings::Ratings;
use serde::{Deserialize, Serialize};

use crate::sample::{rng, Pool, RatingGrid, Stream};
use crate::{
    AttackError, AttackKind, AttackSize, Direction, FillerSize, TargetChoice, ValidAttackSpec,
};

/// What a spec resolves to on given data: everything a generation needs except the random
/// draws of profiles. Returned by [`ValidAttackSpec::plan`]; [`ValidAttackSpec::generate`]
/// plans first, so every data-dependent error comes before any generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackPlan {
    /// The model.
    pub kind: AttackKind,
    /// The direction (meaningless for random noise and the null-attack control).
    pub direction: Direction,
    /// Target items, dense indices ascending (empty for random noise).
    pub targets: Vec<u32>,
    /// The rating adversaries give the targets: the scale minimum (nuke) or maximum (push).
    /// The null-attack control gives none; the adaptive attack's ratings depend on each
    /// account's prediction and are in the ground truth's entries (this is the bound they
    /// move towards).
    pub target_value: f64,
    /// Number of adversaries `A` (0 for random noise).
    pub adversaries: usize,
    /// Filler items per injected profile, besides the targets (0 for random noise and the
    /// informed and adaptive attacks).
    pub filler: usize,
    /// The bandwagon attack's popular items, most rated first (empty for other kinds).
    pub popular: Vec<u32>,
}

impl ValidAttackSpec {
    /// Resolves the spec against `data` without generating anything.
    ///
    /// Errors: empty data, unknown or out-of-range targets, too few eligible targets, a fraction
    /// rounding to zero adversaries, more adversaries than users (informed), a filler that does
    /// not fit beside the targets, more popular items than filler, a rating step that does not
    /// fit the scale.
    ///
    /// ```
    /// use cnmf_attacks::{AttackSize, AttackSpec, FillerSize, TargetChoice};
    /// use cnmf_ratings::{Ratings, RatingScale};
    /// let data = Ratings::from_external(
    ///     [("a", "x", 5.0), ("a", "y", 3.0), ("b", "x", 4.0), ("c", "z", 2.0)],
    ///     RatingScale::MOVIELENS,
    /// ).unwrap();
    /// let spec = AttackSpec::low_knowledge()
    ///     .size(AttackSize::Count(2))
    ///     .filler(FillerSize::Count(5))
    ///     .targets(TargetChoice::Items(vec!["x".into()]))
    ///     .check()
    ///     .unwrap();
    /// // 3 items, 1 target: a filler of 5 cannot fit.
    /// assert!(spec.plan(&data).is_err());
    /// ```
    pub fn plan(&self, data: &Ratings) -> Result<AttackPlan, AttackError> {
        if data.nnz() == 0 {
            return Err(AttackError::EmptyRatings);
        }
        let kind = self.kind();
        let scale = data.scale();
        let target_value = match self.direction() {
            Direction::Nuke => scale.min(),
            Direction::Push => scale.max(),
        };
        let mut plan = AttackPlan {
            kind,
            direction: self.direction(),
            targets: Vec::new(),
            target_value,
            adversaries: 0,
            filler: 0,
            popular: Vec::new(),
        };
        if !kind.is_targeted() {
            return Ok(plan);
        }
        plan.targets = resolve_targets(data, self.targets(), self.seed())?;
        plan.adversaries = resolve_size(data, self.size(), kind)?;
        if let AttackKind::Adaptive { .. } = kind {
            RatingGrid::new(scale, self.rating_step())?;
        }
        if kind.injects_users() {
            RatingGrid::new(scale, self.rating_step())?;
            plan.filler = resolve_filler(data, self.filler())?;
            let available = data.n_items() - plan.targets.len();
            if plan.filler > available {
                return Err(AttackError::FillerTooLarge {
                    requested: plan.filler,
                    available,
                });
            }
            // Ratings index their entries with u32: refuse before allocating anything.
            let added = plan
                .adversaries
                .checked_mul(plan.targets.len() + plan.filler)
                .and_then(|x| x.checked_add(data.nnz()));
            if added.is_none_or(|total| total > u32::MAX as usize) {
                return Err(AttackError::TooManyAdversaries {
                    requested: plan.adversaries,
                    available: (u32::MAX as usize - data.nnz())
                        / (plan.targets.len() + plan.filler),
                    why: "the attacked data must hold at most u32::MAX ratings",
                });
            }
            if let AttackKind::Bandwagon { popular } = kind {
                if popular > plan.filler {
                    return Err(AttackError::PopularExceedsFiller {
                        popular,
                        filler: plan.filler,
                    });
                }
                plan.popular = most_popular(data, popular, &plan.targets);
            }
        }
        Ok(plan)
    }
}

fn rounded(x: f64) -> usize {
    // Inputs are finite and nonnegative (checked), so the cast saturates at worst.
    x.round() as usize
}

fn resolve_size(data: &Ratings, size: AttackSize, kind: AttackKind) -> Result<usize, AttackError> {
    let n = data.n_users();
    let a = match size {
        AttackSize::Count(c) => c,
        AttackSize::Fraction(f) => {
            let a = rounded(f * n as f64);
            if a == 0 {
                return Err(AttackError::ZeroAdversaries {
                    fraction: f,
                    n_users: n,
                });
            }
            a
        }
    };
    if kind.injects_users() {
        let room = u32::MAX as usize - n;
        if a > room {
            return Err(AttackError::TooManyAdversaries {
                requested: a,
                available: room,
                why: "injected users must fit the u32 index space",
            });
        }
    } else {
        let active = users_with_ratings(data);
        if a > active {
            return Err(AttackError::TooManyAdversaries {
                requested: a,
                available: active,
                why:
                    "informed and adaptive attacks convert existing users with at least one rating",
            });
        }
    }
    Ok(a)
}

pub(crate) fn users_with_ratings(data: &Ratings) -> usize {
    (0..data.n_users() as u32)
        .filter(|&u| data.user_count(u) > 0)
        .count()
}

fn resolve_filler(data: &Ratings, filler: FillerSize) -> Result<usize, AttackError> {
    Ok(match filler {
        FillerSize::Count(c) => c,
        FillerSize::FractionOfItems(f) => rounded(f * data.n_items() as f64),
        FillerSize::AverageProfile(x) => {
            // data.nnz() > 0 here, so at least one user has a rating.
            let mean_profile = data.nnz() as f64 / users_with_ratings(data) as f64;
            rounded(x * mean_profile)
        }
    })
}

fn resolve_targets(
    data: &Ratings,
    choice: &TargetChoice,
    seed: u64,
) -> Result<Vec<u32>, AttackError> {
    let m = data.n_items();
    let mut targets = match choice {
        TargetChoice::Items(ids) => ids
            .iter()
            .map(|id| {
                data.items()
                    .index(id)
                    .ok_or_else(|| AttackError::UnknownTarget { id: id.clone() })
            })
            .collect::<Result<Vec<u32>, _>>()?,
        TargetChoice::Indices(ix) => {
            if let Some(&index) = ix.iter().find(|&&i| i as usize >= m) {
                return Err(AttackError::TargetOutOfRange { index, n_items: m });
            }
            ix.clone()
        }
        TargetChoice::Drawn { count, min_ratings } => {
            let eligible: Vec<u32> = (0..m as u32)
                .filter(|&i| data.item_count(i) >= *min_ratings)
                .collect();
            draw_targets(
                eligible,
                *count,
                seed,
                format!("items with at least {min_ratings} ratings"),
            )?
        }
        TargetChoice::PopularityBand {
            count,
            lower,
            upper,
        } => {
            let mut by_count: Vec<u32> = (0..m as u32).collect();
            by_count.sort_by_key(|&i| (data.item_count(i), i));
            let eligible: Vec<u32> = by_count
                .iter()
                .enumerate()
                .filter(|&(p, _)| {
                    let q = p as f64 / m as f64;
                    *lower <= q && q < *upper
                })
                .map(|(_, &i)| i)
                .collect();
            draw_targets(
                eligible,
                *count,
                seed,
                format!("items in the popularity quantile band [{lower}, {upper})"),
            )?
        }
    };
    targets.sort_unstable();
    if let Some(w) = targets.windows(2).find(|w| w[0] == w[1]) {
        return Err(AttackError::DuplicateTarget {
            id: data.items().external(w[0]).to_string(),
        });
    }
    Ok(targets)
}

fn draw_targets(
    eligible: Vec<u32>,
    count: usize,
    seed: u64,
    rule: String,
) -> Result<Vec<u32>, AttackError> {
    if eligible.len() < count {
        return Err(AttackError::NotEnoughEligibleTargets {
            requested: count,
            eligible: eligible.len(),
            rule,
        });
    }
    let mut r = rng(seed, Stream::Targets);
    Ok(Pool::new(eligible).draw(count, &mut r).to_vec())
}

/// The `k` most-rated items that are not targets, most rated first, ties to the lower index.
fn most_popular(data: &Ratings, k: usize, targets: &[u32]) -> Vec<u32> {
    let mut items: Vec<u32> = (0..data.n_items() as u32)
        .filter(|i| targets.binary_search(i).is_err())
        .collect();
    items.sort_by_key(|&i| (std::cmp::Reverse(data.item_count(i)), i));
    items.truncate(k);
    items
}
