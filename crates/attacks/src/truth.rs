//! Ground truth: which users and entries an attack made adversarial.

use std::ops::Range;

use cnmf_ratings::Ratings;
use serde::{Deserialize, Serialize};

use crate::{AttackKind, AttackPlan, Direction};

/// One rating an attack injected or changed (or a rating random noise flipped).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CorruptEntry {
    /// Dense user index in the attacked data.
    pub user: u32,
    /// Dense item index.
    pub item: u32,
    /// The rating in the attacked data.
    pub value: f64,
    /// The rating before the attack: `None` when the entry was added, `Some` when an existing
    /// rating was replaced. The informed attack lists every adversary's target rating, so
    /// `Some(v)` with `v == value` happens when an adversary had already given the target that
    /// rating (so does the adaptive attack, for every target it rates); random-noise flips
    /// always change the value.
    pub original: Option<f64>,
}

impl CorruptEntry {
    /// Whether the entry did not exist before the attack.
    pub fn is_injected(&self) -> bool {
        self.original.is_none()
    }
}

/// Which users and entries are adversarial in an attacked data set.
///
/// User indices `0..n_genuine_users()` are the users of the input data, with unchanged indices
/// and external ids; injected users come after them. A genuine user is one of the input's users
/// that is not an adversary (informed attacks convert existing users into adversaries).
///
/// Every rating of the attacked data that is not listed in [`GroundTruth::entries`] is
/// identical to the input's rating of the same (user, item); no input rating is removed, except
/// that a replaced rating appears in `entries` with its original value.
///
/// Serialises to JSON for reports; a deserialised ground truth is trusted to keep the sorted
/// order it was written in (the lookups binary-search it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    plan: AttackPlan,
    seed: u64,
    n_genuine_users: usize,
    adversaries: Vec<u32>,
    entries: Vec<CorruptEntry>,
}

impl GroundTruth {
    /// Assembles a ground truth; `adversaries` and `entries` must be sorted (by user, then
    /// item) without repeats.
    pub(crate) fn new(
        plan: AttackPlan,
        seed: u64,
        n_genuine_users: usize,
        adversaries: Vec<u32>,
        entries: Vec<CorruptEntry>,
    ) -> Self {
        debug_assert!(adversaries.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(entries
            .windows(2)
            .all(|w| (w[0].user, w[0].item) < (w[1].user, w[1].item)));
        GroundTruth {
            plan,
            seed,
            n_genuine_users,
            adversaries,
            entries,
        }
    }

    /// The resolved plan (kind, direction, targets, sizes).
    pub fn plan(&self) -> &AttackPlan {
        &self.plan
    }

    /// The model.
    pub fn kind(&self) -> AttackKind {
        self.plan.kind
    }

    /// The direction.
    pub fn direction(&self) -> Direction {
        self.plan.direction
    }

    /// The seed the data was generated with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Target items, ascending (empty for random noise; for the null-attack control, the items
    /// whose shift under injection alone is to be measured).
    pub fn targets(&self) -> &[u32] {
        &self.plan.targets
    }

    /// Number of users of the input data; injected users have indices from here on.
    pub fn n_genuine_users(&self) -> usize {
        self.n_genuine_users
    }

    /// Adversarial users (injected or converted), ascending. Empty for random noise. For the
    /// null-attack control, its injected users, although they do not rate the targets.
    pub fn adversaries(&self) -> &[u32] {
        &self.adversaries
    }

    /// Whether `user` is adversarial.
    pub fn is_adversary(&self, user: u32) -> bool {
        self.adversaries.binary_search(&user).is_ok()
    }

    /// The injected (synthetic) users: an empty range for random noise and informed attacks.
    pub fn injected_users(&self) -> Range<u32> {
        let first = self.n_genuine_users as u32;
        if self.plan.kind.injects_users() {
            first..first + self.adversaries.len() as u32
        } else {
            first..first
        }
    }

    /// The genuine users: the input's users that are not adversaries, ascending. Users without
    /// ratings are included (they are genuine); filter them if a metric needs ratings.
    pub fn genuine_users(&self) -> Vec<u32> {
        (0..self.n_genuine_users as u32)
            .filter(|&u| !self.is_adversary(u))
            .collect()
    }

    /// For each user of `attacked` (by index), whether it is adversarial.
    ///
    /// # Panics
    /// When `n_users` is smaller than the largest adversary index + 1.
    pub fn user_labels(&self, n_users: usize) -> Vec<bool> {
        let mut labels = vec![false; n_users];
        for &u in &self.adversaries {
            labels[u as usize] = true;
        }
        labels
    }

    /// The injected or changed entries, sorted by (user, item). For random noise: the flipped
    /// ratings.
    pub fn entries(&self) -> &[CorruptEntry] {
        &self.entries
    }

    /// The entry of `(user, item)`, if the attack injected or changed it.
    pub fn entry(&self, user: u32, item: u32) -> Option<&CorruptEntry> {
        self.entries
            .binary_search_by_key(&(user, item), |e| (e.user, e.item))
            .ok()
            .map(|p| &self.entries[p])
    }

    /// The `(user, item)` pairs of [`GroundTruth::entries`], the positives of entry-level
    /// detection.
    pub fn entry_pairs(&self) -> Vec<(u32, u32)> {
        self.entries.iter().map(|e| (e.user, e.item)).collect()
    }

    /// For each stored rating of `attacked` in CSR order, whether the attack injected or
    /// changed it (the layout of the engine's corruption flags).
    ///
    /// # Panics
    /// When `attacked` is not the data this ground truth was generated with (an entry is
    /// missing from it).
    pub fn entry_mask(&self, attacked: &Ratings) -> Vec<bool> {
        let mut mask = vec![false; attacked.nnz()];
        let indptr = attacked.csr().indptr();
        for e in &self.entries {
            let start = indptr.outer_inds_sz(e.user as usize).start;
            let (items, _) = attacked.user(e.user);
            let p = items
                .binary_search(&e.item)
                .expect("ground-truth entry missing from the attacked data");
            mask[start + p] = true;
        }
        mask
    }
}

/// The result of a generation: the attacked data and its ground truth.
#[derive(Debug, Clone)]
pub struct Attacked {
    /// The attacked ratings: a new user id map when users were injected (the input's ids first,
    /// then the synthetic ones), the same item map.
    pub ratings: Ratings,
    /// Which users and entries are adversarial.
    pub truth: GroundTruth,
}
