//! Seeded train/test splits: random holdout, k-fold, per-user holdout.
//!
//! Every split is a pure function of the data and the seed: randomness comes from
//! [`ChaCha8Rng::seed_from_u64`] (portable across machines) drawn in a fixed sequential order,
//! so the same seed gives the same split on every machine and for every thread count. Training
//! sets share the data set's id maps (`Arc`), so dense indices mean the same thing in train and
//! test. Held-out ratings come back in CSR order (by user, then item).
//!
//! Parameters are checked before any work starts and a bad one is a
//! [`RatingsError::InvalidParameter`] saying which and why.
//!
//! ```
//! use cnmf_ratings::{split, RatingScale, Ratings};
//! let data = Ratings::from_external(
//!     (0..50).map(|k| (["a", "b", "c", "d", "e"][k % 5], ["p", "q", "r", "s", "t", "u", "v", "w", "x", "y"][k / 5], 3.0)),
//!     RatingScale::MOVIELENS,
//! ).unwrap();
//! let s = split::random_holdout(&data, split::DEFAULT_TEST_FRACTION, 42).unwrap();
//! assert_eq!((s.train.nnz(), s.test.len()), (45, 5));
//! let again = split::random_holdout(&data, 0.1, 42).unwrap();
//! assert_eq!(s.test, again.test);
//!
//! let folds = split::k_fold(&data, 5, 7).unwrap();
//! let total: usize = folds.iter().map(|f| f.test.len()).sum();
//! assert_eq!(total, 50);
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Ratings, RatingsError, Triple};

/// The usual test share of a random holdout: 10% (the paper's 90/10 split).
pub const DEFAULT_TEST_FRACTION: f64 = 0.1;

/// A training set and the ratings held out of it.
#[derive(Debug, Clone)]
pub struct Split {
    /// The ratings to fit on, over the original id maps (shared, not copied).
    pub train: Ratings,
    /// The held-out ratings, in CSR order, by the same dense indices.
    pub test: Vec<Triple>,
}

/// Holds out `round(test_fraction * nnz)` ratings chosen uniformly at random.
///
/// Errors: `test_fraction` not in (0, 1), or a train or test set that would be empty.
pub fn random_holdout(
    data: &Ratings,
    test_fraction: f64,
    seed: u64,
) -> Result<Split, RatingsError> {
    check_fraction("test_fraction", test_fraction)?;
    let n = data.nnz();
    let t = (test_fraction * n as f64).round() as usize;
    if t == 0 || t >= n {
        return Err(RatingsError::InvalidParameter {
            name: "test_fraction",
            reason: format!(
                "{test_fraction} of {n} ratings holds out {t}, leaving an empty {} set",
                if t == 0 { "test" } else { "training" }
            ),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let perm = partial_shuffle(n, t, &mut rng);
    let mut keep = vec![true; n];
    for &p in &perm[..t] {
        keep[p as usize] = false;
    }
    Ok(split_by_mask(data, &keep))
}

/// A k-fold partition of all ratings: fold `f`'s test set is the ratings assigned to `f`, its
/// training set all the others. Fold sizes differ by at most one.
#[derive(Debug, Clone)]
pub struct KFold<'a> {
    data: &'a Ratings,
    fold_of: Vec<u32>,
    k: usize,
}

/// Assigns every rating to one of `k` folds uniformly at random.
///
/// Errors: `k < 2` or `k > nnz` (some fold would be empty).
pub fn k_fold(data: &Ratings, k: usize, seed: u64) -> Result<KFold<'_>, RatingsError> {
    let n = data.nnz();
    if k < 2 || k > n {
        return Err(RatingsError::InvalidParameter {
            name: "k",
            reason: format!("{k} folds of {n} ratings: need 2 <= k <= number of ratings"),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let perm = partial_shuffle(n, n, &mut rng);
    let mut fold_of = vec![0u32; n];
    for (rank, &p) in perm.iter().enumerate() {
        fold_of[p as usize] = (rank * k / n) as u32;
    }
    Ok(KFold { data, fold_of, k })
}

impl KFold<'_> {
    /// Number of folds.
    pub fn n_folds(&self) -> usize {
        self.k
    }

    /// The fold each rating belongs to, by CSR position.
    pub fn assignment(&self) -> &[u32] {
        &self.fold_of
    }

    /// Fold `f`: train on the other folds, test on this one.
    ///
    /// # Panics
    /// When `f >= k`.
    pub fn fold(&self, f: usize) -> Split {
        assert!(f < self.k, "fold {f} of {}", self.k);
        let keep: Vec<bool> = self.fold_of.iter().map(|&g| g as usize != f).collect();
        split_by_mask(self.data, &keep)
    }

    /// All folds in order.
    pub fn iter(&self) -> impl Iterator<Item = Split> + '_ {
        (0..self.k).map(move |f| self.fold(f))
    }
}

/// How many of each user's ratings a per-user holdout takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PerUser {
    /// `round(fraction * n_u)` of a user's `n_u` ratings, fraction in (0, 1).
    Fraction(f64),
    /// This many of each user's ratings (at least 1).
    Count(usize),
}

/// Holds out, for every user, a fraction or a count of that user's ratings, chosen uniformly
/// at random. Every user keeps at least one training rating (a user with `n_u` ratings gives
/// at most `n_u - 1`), so no user becomes unknown to a model fit on the training set.
///
/// Errors: a fraction not in (0, 1), a count of 0, or a holdout that would take nothing.
pub fn per_user_holdout(data: &Ratings, how: PerUser, seed: u64) -> Result<Split, RatingsError> {
    match how {
        PerUser::Fraction(f) => check_fraction("fraction", f)?,
        PerUser::Count(0) => {
            return Err(RatingsError::InvalidParameter {
                name: "count",
                reason: "a per-user holdout of 0 ratings holds nothing out".into(),
            })
        }
        PerUser::Count(_) => {}
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut keep = vec![true; data.nnz()];
    let indptr = data.csr().indptr();
    let indptr = indptr.raw_storage();
    let mut held = 0usize;
    for u in 0..data.n_users() {
        let start = indptr[u] as usize;
        let n_u = indptr[u + 1] as usize - start;
        let h = per_user_count(how, n_u);
        if h == 0 {
            continue;
        }
        let local = partial_shuffle(n_u, h, &mut rng);
        for &p in &local[..h] {
            keep[start + p as usize] = false;
        }
        held += h;
    }
    if held == 0 {
        return Err(RatingsError::InvalidParameter {
            name: "per_user",
            reason: format!(
                "{how:?} holds out no rating (every user keeps at least one training rating)"
            ),
        });
    }
    Ok(split_by_mask(data, &keep))
}

/// How many of a user's `n_u` ratings a per-user holdout takes.
pub fn per_user_count(how: PerUser, n_u: usize) -> usize {
    let want = match how {
        PerUser::Fraction(f) => (f * n_u as f64).round() as usize,
        PerUser::Count(c) => c,
    };
    want.min(n_u.saturating_sub(1))
}

fn check_fraction(name: &'static str, f: f64) -> Result<(), RatingsError> {
    if !(f > 0.0 && f < 1.0) {
        return Err(RatingsError::InvalidParameter {
            name,
            reason: format!("{f} is not in the open interval (0, 1)"),
        });
    }
    Ok(())
}

/// The first `t` entries of a uniformly random permutation of `0..n` (Fisher-Yates, stopped
/// after `t` steps). Draws are `u32` ranges so the stream is the same on 32- and 64-bit
/// machines.
fn partial_shuffle(n: usize, t: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let n32 = u32::try_from(n).expect("Ratings hold at most u32::MAX entries");
    let mut perm: Vec<u32> = (0..n32).collect();
    for i in 0..t.min(n) {
        let j = rng.random_range(i as u32..n32) as usize;
        perm.swap(i, j);
    }
    perm
}

fn split_by_mask(data: &Ratings, keep: &[bool]) -> Split {
    let test = data
        .iter()
        .zip(keep)
        .filter(|(_, &k)| !k)
        .map(|(t, _)| t)
        .collect();
    Split {
        train: data.subset(keep),
        test,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DuplicatePolicy, IdMap, RatingScale};
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    /// Ratings from arbitrary (user, item, value) triples over a small grid; duplicates keep
    /// the last value.
    fn ratings_strategy() -> impl Strategy<Value = Ratings> {
        (1usize..12, 1usize..12)
            .prop_flat_map(|(n, m)| {
                (
                    Just(n),
                    Just(m),
                    prop::collection::vec((0..n as u32, 0..m as u32, 1u8..=5), 2..120),
                )
            })
            .prop_map(|(n, m, t)| {
                let triples: Vec<Triple> = t
                    .into_iter()
                    .map(|(u, i, v)| Triple::new(u, i, f64::from(v)))
                    .collect();
                Ratings::from_triples(
                    Arc::new(IdMap::sequential(n)),
                    Arc::new(IdMap::sequential(m)),
                    RatingScale::MOVIELENS,
                    &triples,
                    DuplicatePolicy::KeepLast,
                )
                .unwrap()
            })
    }

    fn key(t: &Triple) -> (u32, u32, u64) {
        (t.user, t.item, t.value.to_bits())
    }

    /// Train + test is exactly the data, with no rating in both.
    fn assert_partition(data: &Ratings, s: &Split) {
        let all: BTreeSet<_> = data.iter().map(|t| key(&t)).collect();
        let train: BTreeSet<_> = s.train.iter().map(|t| key(&t)).collect();
        let test: BTreeSet<_> = s.test.iter().map(key).collect();
        assert_eq!(test.len(), s.test.len(), "test has a repeated rating");
        assert!(train.is_disjoint(&test));
        let union: BTreeSet<_> = train.union(&test).copied().collect();
        assert_eq!(union, all);
        assert!(Arc::ptr_eq(s.train.users_arc(), data.users_arc()));
        assert!(Arc::ptr_eq(s.train.items_arc(), data.items_arc()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn holdout_partitions_with_the_requested_size(
            data in ratings_strategy(), f in 0.01f64..0.99, seed: u64
        ) {
            let n = data.nnz();
            let t = (f * n as f64).round() as usize;
            match random_holdout(&data, f, seed) {
                Ok(s) => {
                    prop_assert_eq!(s.test.len(), t);
                    prop_assert_eq!(s.train.nnz(), n - t);
                    assert_partition(&data, &s);
                    let again = random_holdout(&data, f, seed).unwrap();
                    prop_assert_eq!(&again.test, &s.test);
                }
                Err(e) => {
                    prop_assert!(t == 0 || t >= n, "unexpected error {}", e);
                }
            }
        }

        #[test]
        fn k_fold_partitions_every_rating_once(
            data in ratings_strategy(), k in 2usize..7, seed: u64
        ) {
            let n = data.nnz();
            prop_assume!(k <= n);
            let folds = k_fold(&data, k, seed).unwrap();
            let mut seen = BTreeSet::new();
            for s in folds.iter() {
                assert_partition(&data, &s);
                prop_assert!(s.test.len() == n / k || s.test.len() == n.div_ceil(k));
                for t in &s.test {
                    prop_assert!(seen.insert(key(t)), "rating in two test folds");
                }
            }
            prop_assert_eq!(seen.len(), n);
        }

        #[test]
        fn per_user_holdout_takes_the_requested_share(
            data in ratings_strategy(), f in 0.05f64..0.95, c in 1usize..6, seed: u64
        ) {
            for how in [PerUser::Fraction(f), PerUser::Count(c)] {
                let expected: Vec<usize> = (0..data.n_users() as u32)
                    .map(|u| per_user_count(how, data.user_count(u)))
                    .collect();
                match per_user_holdout(&data, how, seed) {
                    Ok(s) => {
                        assert_partition(&data, &s);
                        for (u, &want) in expected.iter().enumerate() {
                            let got = s.test.iter().filter(|t| t.user as usize == u).count();
                            prop_assert_eq!(got, want);
                            let n_u = data.user_count(u as u32);
                            prop_assert!(n_u == 0 || s.train.user_count(u as u32) >= 1);
                        }
                    }
                    Err(_) => prop_assert_eq!(expected.iter().sum::<usize>(), 0),
                }
            }
        }
    }

    fn grid(n: usize, m: usize) -> Ratings {
        let triples: Vec<Triple> = (0..n as u32)
            .flat_map(|u| (0..m as u32).map(move |i| Triple::new(u, i, 1.0 + ((u + i) % 5) as f64)))
            .collect();
        Ratings::from_triples(
            Arc::new(IdMap::sequential(n)),
            Arc::new(IdMap::sequential(m)),
            RatingScale::MOVIELENS,
            &triples,
            DuplicatePolicy::Error,
        )
        .unwrap()
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let data = grid(3, 3);
        for f in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
            let e = random_holdout(&data, f, 1).unwrap_err().to_string();
            assert!(e.contains("test_fraction") && e.contains("(0, 1)"), "{e}");
        }
        let e = random_holdout(&data, 0.01, 1).unwrap_err().to_string();
        assert!(e.contains("empty test set"), "{e}");
        let e = random_holdout(&data, 0.99, 1).unwrap_err().to_string();
        assert!(e.contains("empty training set"), "{e}");
        for k in [0, 1, 10] {
            let e = k_fold(&data, k, 1).unwrap_err().to_string();
            assert!(e.contains("invalid parameter k"), "{e}");
        }
        let e = per_user_holdout(&data, PerUser::Count(0), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("count"), "{e}");
        let e = per_user_holdout(&data, PerUser::Fraction(1.0), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fraction"), "{e}");
        let one_each = grid(4, 1);
        let e = per_user_holdout(&one_each, PerUser::Count(1), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds out no rating"), "{e}");
    }

    #[test]
    fn seeds_matter_and_holdout_is_roughly_uniform() {
        let data = grid(40, 50); // 2000 ratings
        let a = random_holdout(&data, 0.1, 1).unwrap();
        let b = random_holdout(&data, 0.1, 2).unwrap();
        assert_ne!(a.test, b.test);
        // Each of the 40 users has 50 ratings; over 20 seeds a user expects 100 held out
        // (sd about 9.5): every user lands well inside [50, 150].
        let mut per_user = vec![0usize; 40];
        for seed in 0..20 {
            for t in random_holdout(&data, 0.1, seed).unwrap().test {
                per_user[t.user as usize] += 1;
            }
        }
        assert!(
            per_user.iter().all(|&c| (50..=150).contains(&c)),
            "{per_user:?}"
        );
    }
}
