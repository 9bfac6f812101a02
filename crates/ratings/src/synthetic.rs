//! Synthetic MovieLens-shaped rating data with a known low-rank truth.
//!
//! The model: nonnegative factors `W` (users x rank) and `H` (rank x items) with entries
//! `a * U(0, 1)`, where `a` makes the mean of `W H` equal [`SyntheticParams::mean_rating`];
//! an observed rating is `clip(round(w_u . h_i + N(0, noise_sd)))` on the integer points of the
//! scale. Which (user, item) pairs are observed follows MovieLens' shape:
//!
//! - user activity is a power law: every user has at least [`SyntheticParams::min_per_user`]
//!   ratings and the remaining ratings are shared in proportion to
//!   `(r + user_offset)^-user_exponent - (n_users + user_offset)^-user_exponent` over a random
//!   ranking `r = 0, 1, ...` of users (capped at the number of items; the subtracted term lets
//!   the least active users sit at the minimum, as in MovieLens);
//! - item popularity is Zipf-Mandelbrot: a user's items are drawn without replacement with
//!   probability proportional to `(r + item_offset)^-item_exponent` over a random ranking of
//!   items;
//! - a user rates distinct items, and the total is exactly [`SyntheticParams::n_ratings`].
//!
//! Generation is deterministic for a seed whatever the number of threads: users are cut into
//! fixed chunks of [`CHUNK_USERS`], each chunk draws from its own ChaCha8 stream derived from the
//! seed, and chunks write straight into disjoint parts of the final CSR arrays (no triple list,
//! no second copy), so 100M ratings fit in memory (about 12 bytes per rating for the CSR, then
//! the CSC index that every [`Ratings`] carries).
//!
//! ```
//! use cnmf_ratings::synthetic::SyntheticParams;
//! let params = SyntheticParams::new(200, 300, 10_000).rank(5).seed(7).check().unwrap();
//! let (r, truth) = params.generate_with_truth();
//! assert_eq!((r.n_users(), r.n_items(), r.nnz()), (200, 300, 10_000));
//! assert!((0..200).all(|u| r.user_count(u) >= 20));
//! assert!(truth.w().iter().chain(truth.h()).all(|&x| x >= 0.0));
//! assert_eq!(r.csr().data(), params.generate().csr().data());
//! ```

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use crate::params::{check_at_least_one, check_finite_nonnegative, ParamGuard};
use crate::{IdMap, RatingScale, Ratings, RatingsError};

/// Users per generation chunk. Fixed (not derived from the thread count) so that the output
/// does not depend on how many threads run.
pub const CHUNK_USERS: usize = 256;

/// Parameters of the synthetic generator; [`check`](Self::check) validates them.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticParams {
    /// Number of users (rows).
    pub n_users: usize,
    /// Number of items (columns).
    pub n_items: usize,
    /// Exact number of ratings.
    pub n_ratings: usize,
    /// Rank of the nonnegative truth `W H` (default 10).
    pub rank: usize,
    /// Standard deviation of the Gaussian noise added before rounding (default 0.6).
    pub noise_sd: f64,
    /// Mean of `W H`, before noise and rounding (default 3.55, about MovieLens' mean).
    pub mean_rating: f64,
    /// Zipf exponent of item popularity (default 1.0; 0 makes items equally popular).
    pub item_exponent: f64,
    /// Rank offset of item popularity (default 20): larger flattens the most popular items.
    pub item_offset: f64,
    /// Power-law exponent of user activity beyond the minimum (default 0.5; 0 spreads ratings
    /// evenly).
    pub user_exponent: f64,
    /// Rank offset of user activity (default 25): larger flattens the most active users.
    pub user_offset: f64,
    /// Fewest ratings any user has (default 20, as in MovieLens).
    pub min_per_user: usize,
    /// The scale; ratings are rounded to its integer points (default 1..5).
    pub scale: RatingScale,
    /// The seed (default 0).
    pub seed: u64,
}

impl SyntheticParams {
    /// Parameters with the given sizes and the defaults above.
    pub fn new(n_users: usize, n_items: usize, n_ratings: usize) -> Self {
        SyntheticParams {
            n_users,
            n_items,
            n_ratings,
            rank: 10,
            noise_sd: 0.6,
            mean_rating: 3.55,
            item_exponent: 1.0,
            item_offset: 20.0,
            user_exponent: 0.5,
            user_offset: 25.0,
            min_per_user: 20,
            scale: RatingScale::MOVIELENS,
            seed: 0,
        }
    }

    /// The shape of MovieLens 1M: 6040 users, 3706 items, 1,000,209 ratings.
    pub fn ml1m() -> Self {
        SyntheticParams::new(6040, 3706, 1_000_209)
    }

    /// The shape of MovieLens 100K: 943 users, 1682 items, 100,000 ratings.
    pub fn ml100k() -> Self {
        SyntheticParams::new(943, 1682, 100_000)
    }

    /// Sets the rank of the truth.
    pub fn rank(mut self, rank: usize) -> Self {
        self.rank = rank;
        self
    }

    /// Sets the noise standard deviation.
    pub fn noise_sd(mut self, sd: f64) -> Self {
        self.noise_sd = sd;
        self
    }

    /// Sets the mean of the truth.
    pub fn mean_rating(mut self, mean: f64) -> Self {
        self.mean_rating = mean;
        self
    }

    /// Sets the item popularity exponent.
    pub fn item_exponent(mut self, s: f64) -> Self {
        self.item_exponent = s;
        self
    }

    /// Sets the item popularity offset.
    pub fn item_offset(mut self, q: f64) -> Self {
        self.item_offset = q;
        self
    }

    /// Sets the user activity offset.
    pub fn user_offset(mut self, q: f64) -> Self {
        self.user_offset = q;
        self
    }

    /// Sets the user activity exponent.
    pub fn user_exponent(mut self, s: f64) -> Self {
        self.user_exponent = s;
        self
    }

    /// Sets the minimum number of ratings per user.
    pub fn min_per_user(mut self, n: usize) -> Self {
        self.min_per_user = n;
        self
    }

    /// Sets the scale.
    pub fn scale(mut self, scale: RatingScale) -> Self {
        self.scale = scale;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates every parameter before any work starts.
    pub fn check(self) -> Result<ValidSyntheticParams, RatingsError> {
        let bad = |name: &'static str, reason: String| {
            Err(RatingsError::InvalidParameter { name, reason })
        };
        let p = &self;
        if p.n_users == 0 || p.n_items == 0 {
            return bad(
                "n_users/n_items",
                format!(
                    "need at least one user and one item (got {} x {})",
                    p.n_users, p.n_items
                ),
            );
        }
        if u32::try_from(p.n_users).is_err() || u32::try_from(p.n_items).is_err() {
            return bad("n_users/n_items", "at most u32::MAX users and items".into());
        }
        check_at_least_one("rank", p.rank)?;
        if p.min_per_user > p.n_items {
            return bad(
                "min_per_user",
                format!(
                    "{} exceeds the {} items (a user rates distinct items)",
                    p.min_per_user, p.n_items
                ),
            );
        }
        let floor = p.n_users.saturating_mul(p.min_per_user);
        let ceiling = p.n_users.saturating_mul(p.n_items);
        if p.n_ratings < floor.max(1) || p.n_ratings > ceiling {
            return bad(
                "n_ratings",
                format!(
                    "{} is outside [{}, {}] ({} users x at least {} ratings, at most every item)",
                    p.n_ratings,
                    floor.max(1),
                    ceiling,
                    p.n_users,
                    p.min_per_user
                ),
            );
        }
        if u32::try_from(p.n_ratings).is_err() {
            return bad("n_ratings", format!("{} exceeds u32::MAX", p.n_ratings));
        }
        check_finite_nonnegative("noise_sd", p.noise_sd)?;
        for (name, s) in [
            ("item_exponent", p.item_exponent),
            ("user_exponent", p.user_exponent),
            ("item_offset", p.item_offset),
            ("user_offset", p.user_offset),
        ] {
            check_finite_nonnegative(name, s)?;
        }
        let (lo, hi) = (p.scale.min().ceil(), p.scale.max().floor());
        if lo > hi {
            return bad(
                "scale",
                format!(
                    "[{}, {}] holds no integer rating",
                    p.scale.min(),
                    p.scale.max()
                ),
            );
        }
        if !(p.mean_rating.is_finite() && p.mean_rating > 0.0 && p.scale.contains(p.mean_rating)) {
            return bad(
                "mean_rating",
                format!("{} must be positive and inside the scale", p.mean_rating),
            );
        }
        Ok(ValidSyntheticParams(self))
    }
}

/// Checked [`SyntheticParams`]; generates the data.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSyntheticParams(SyntheticParams);

/// The ground truth of a generated data set: nonnegative `W` (one row of `rank` factors per
/// user, contiguous) and `H` (one row of `rank` factors per item, contiguous, i.e. `H`
/// transposed).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticTruth {
    rank: usize,
    w: Vec<f64>,
    h: Vec<f64>,
}

impl SyntheticTruth {
    /// The rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// User factors, `n_users * rank`, user-major.
    pub fn w(&self) -> &[f64] {
        &self.w
    }

    /// Item factors, `n_items * rank`, item-major.
    pub fn h(&self) -> &[f64] {
        &self.h
    }

    /// The noiseless, unrounded truth `w_u . h_i`.
    ///
    /// # Panics
    /// When `u` or `i` is out of range.
    pub fn value(&self, u: u32, i: u32) -> f64 {
        let k = self.rank;
        let (u, i) = (u as usize, i as usize);
        dot(&self.w[u * k..(u + 1) * k], &self.h[i * k..(i + 1) * k])
    }
}

impl ParamGuard for SyntheticParams {
    type Checked = ValidSyntheticParams;
    type Error = RatingsError;
    fn check(self) -> Result<ValidSyntheticParams, RatingsError> {
        SyntheticParams::check(self)
    }
}

impl ValidSyntheticParams {
    /// The parameters these were checked from.
    pub fn params(&self) -> &SyntheticParams {
        &self.0
    }
}

// Stream ids: one purpose per high word, the chunk index in the low word.
const STREAM_USER_RANKS: u64 = 1 << 32;
const STREAM_ITEM_RANKS: u64 = 2 << 32;
const STREAM_W: u64 = 3 << 32;
const STREAM_H: u64 = 4 << 32;
const STREAM_RATINGS: u64 = 5 << 32;
const CHUNK_ITEMS: usize = 1024;

impl ValidSyntheticParams {
    /// Generates the ratings.
    pub fn generate(&self) -> Ratings {
        self.generate_with_truth().0
    }

    /// Generates the ratings and returns the ground-truth factors too.
    pub fn generate_with_truth(&self) -> (Ratings, SyntheticTruth) {
        let p = &self.0;
        let counts = self.user_counts();
        let sampler = ItemSampler::new(self.item_weights());
        let a = (4.0 * p.mean_rating / p.rank as f64).sqrt();
        let w = self.factors(p.n_users, CHUNK_USERS, STREAM_W, a);
        let h = self.factors(p.n_items, CHUNK_ITEMS, STREAM_H, a);
        let truth = SyntheticTruth { rank: p.rank, w, h };

        let mut indptr = Vec::with_capacity(p.n_users + 1);
        indptr.push(0u32);
        let mut acc = 0u32;
        for &c in &counts {
            acc += c;
            indptr.push(acc);
        }
        let nnz = acc as usize;
        debug_assert_eq!(nnz, p.n_ratings);
        let mut indices = vec![0u32; nnz];
        let mut data = vec![0f64; nnz];

        // Cut the output arrays into per-chunk slices, then fill them in parallel.
        let mut jobs = Vec::with_capacity(p.n_users.div_ceil(CHUNK_USERS));
        let (mut rest_i, mut rest_v) = (&mut indices[..], &mut data[..]);
        for (c, start) in (0..p.n_users).step_by(CHUNK_USERS).enumerate() {
            let end = (start + CHUNK_USERS).min(p.n_users);
            let len = (indptr[end] - indptr[start]) as usize;
            let (ci, ri) = rest_i.split_at_mut(len);
            let (cv, rv) = rest_v.split_at_mut(len);
            rest_i = ri;
            rest_v = rv;
            jobs.push((c as u64, start..end, ci, cv));
        }
        let (lo, hi) = (p.scale.min().ceil(), p.scale.max().floor());
        let noise = Normal::new(0.0, p.noise_sd).expect("checked noise_sd");
        jobs.into_par_iter().for_each(|(c, users, ci, cv)| {
            let mut rng = self.rng(STREAM_RATINGS + c);
            let mut scratch = Scratch::new(p.n_items);
            let mut pos = 0;
            for u in users {
                let n_u = counts[u] as usize;
                let row = &mut ci[pos..pos + n_u];
                sampler.sample_distinct(n_u, &mut rng, &mut scratch, row);
                row.sort_unstable();
                for (slot, &i) in cv[pos..pos + n_u].iter_mut().zip(row.iter()) {
                    let clean = truth.value(u as u32, i);
                    let noisy = clean + noise.sample(&mut rng);
                    *slot = noisy.round().clamp(lo, hi);
                }
                pos += n_u;
            }
        });

        let users = Arc::new(IdMap::sequential(p.n_users));
        let items = Arc::new(IdMap::sequential(p.n_items));
        let ratings = Ratings::from_csr(users, items, p.scale, indptr, indices, data)
            .expect("the generator builds a valid CSR");
        (ratings, truth)
    }

    /// Number of ratings of each user: `min_per_user` plus a power-law share of the rest,
    /// capped at the number of items, summing exactly to `n_ratings`.
    pub fn user_counts(&self) -> Vec<u32> {
        let p = &self.0;
        let n = p.n_users;
        let mut rng = self.rng(STREAM_USER_RANKS);
        let rank_of = random_permutation(n, &mut rng);
        // by_rank[r] = the user of rank r (rank 0 is the most active).
        let mut by_rank = vec![0u32; n];
        for (u, &r) in rank_of.iter().enumerate() {
            by_rank[r as usize] = u as u32;
        }
        // The +1 keeps rank 0 finite when the offset is 0.
        let q = p.user_offset + 1.0;
        let last = (n as f64 + q).powf(-p.user_exponent);
        let weight = |r: usize| (r as f64 + q).powf(-p.user_exponent) - last;
        let cap = (p.n_items - p.min_per_user) as f64;
        let mut extra = vec![0usize; n]; // by rank
        let mut remaining = (p.n_ratings - n * p.min_per_user) as f64;
        let mut tail_weight: f64 = (0..n).map(weight).sum();
        if tail_weight <= 0.0 {
            // user_exponent 0: every weight is 0 after the shift; share evenly.
            return self.even_counts();
        }
        // Water-filling: the most active users hit the cap first (weights decrease with rank).
        let mut first_free = 0;
        while first_free < n {
            let share = remaining * weight(first_free) / tail_weight;
            if share < cap {
                break;
            }
            extra[first_free] = cap as usize;
            remaining -= cap;
            tail_weight -= weight(first_free);
            first_free += 1;
        }
        // Proportional shares for the rest, largest remainders rounded up.
        let remaining = remaining.round() as usize;
        let mut given = 0usize;
        let mut fractions = Vec::with_capacity(n - first_free);
        for (r, e) in extra.iter_mut().enumerate().skip(first_free) {
            let share = remaining as f64 * weight(r) / tail_weight;
            let whole = (share.floor() as usize).min(cap as usize);
            *e = whole;
            given += whole;
            fractions.push((share - whole as f64, r));
        }
        fractions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut left = remaining.saturating_sub(given);
        // Cycling handles the (floating-point) case where a share's rounding left more than one
        // unit per user; every bump respects the cap.
        while left > 0 {
            let mut bumped = false;
            for &(_, r) in &fractions {
                if left == 0 {
                    break;
                }
                if extra[r] < cap as usize {
                    extra[r] += 1;
                    left -= 1;
                    bumped = true;
                }
            }
            if !bumped {
                break;
            }
        }
        let mut counts = vec![0u32; n];
        for (r, &e) in extra.iter().enumerate() {
            counts[by_rank[r] as usize] = (p.min_per_user + e) as u32;
        }
        counts
    }

    /// `min_per_user` plus an even share of the rest (remainder to the first users).
    fn even_counts(&self) -> Vec<u32> {
        let p = &self.0;
        let extra = p.n_ratings - p.n_users * p.min_per_user;
        let (each, rem) = (extra / p.n_users, extra % p.n_users);
        (0..p.n_users)
            .map(|u| (p.min_per_user + each + usize::from(u < rem)) as u32)
            .collect()
    }

    /// Item popularity weights, `(rank + item_offset)^-item_exponent` over a random ranking of
    /// items (the +1 keeps rank 0 finite when the offset is 0).
    fn item_weights(&self) -> Vec<f64> {
        let p = &self.0;
        let mut rng = self.rng(STREAM_ITEM_RANKS);
        random_permutation(p.n_items, &mut rng)
            .into_iter()
            .map(|r| (f64::from(r) + p.item_offset + 1.0).powf(-p.item_exponent))
            .collect()
    }

    /// `n * rank` factors `a * U(0, 1)`, drawn per chunk of rows.
    fn factors(&self, n: usize, chunk: usize, stream: u64, a: f64) -> Vec<f64> {
        let k = self.0.rank;
        let mut out = vec![0f64; n * k];
        out.par_chunks_mut(chunk * k)
            .enumerate()
            .for_each(|(c, block)| {
                let mut rng = self.rng(stream + c as u64);
                for x in block {
                    *x = a * rng.random::<f64>();
                }
            });
        out
    }

    fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.0.seed);
        rng.set_stream(stream);
        rng
    }
}

/// A uniformly random permutation of `0..n` (u32 draws: same on every platform).
fn random_permutation(n: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let mut perm: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i as u32) as usize;
        perm.swap(i, j);
    }
    perm
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Weighted sampling of distinct items.
struct ItemSampler {
    weights: Vec<f64>,
    cdf: Vec<f64>,
}

/// Per-chunk scratch space, reused across users.
struct Scratch {
    seen: Vec<u64>,
    keys: Vec<(f64, u32)>,
}

impl Scratch {
    fn new(n_items: usize) -> Self {
        Scratch {
            seen: vec![0; n_items.div_ceil(64)],
            keys: Vec::new(),
        }
    }
}

impl ItemSampler {
    fn new(weights: Vec<f64>) -> Self {
        let mut acc = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        ItemSampler { weights, cdf }
    }

    /// Fills `out` with `out.len()` distinct items, drawn without replacement with probability
    /// proportional to the weights. Few items: draw and reject repeats. Many items (or too many
    /// rejections): Efraimidis-Spirakis keys `ln(U) / w` over all items, keep the largest.
    fn sample_distinct(&self, c: usize, rng: &mut ChaCha8Rng, s: &mut Scratch, out: &mut [u32]) {
        let m = self.weights.len();
        debug_assert_eq!(out.len(), c);
        if c * 8 <= m {
            let total = *self.cdf.last().expect("at least one item");
            let budget = 16 * c + 64;
            let mut got = 0;
            let mut tries = 0;
            while got < c && tries < budget {
                tries += 1;
                let x = rng.random::<f64>() * total;
                let i = self.cdf.partition_point(|&v| v <= x).min(m - 1);
                let (word, bit) = (i / 64, 1u64 << (i % 64));
                if s.seen[word] & bit == 0 {
                    s.seen[word] |= bit;
                    out[got] = i as u32;
                    got += 1;
                }
            }
            for &i in &out[..got] {
                s.seen[i as usize / 64] = 0;
            }
            if got == c {
                return;
            }
        }
        s.keys.clear();
        s.keys
            .extend(self.weights.iter().enumerate().map(|(i, &w)| {
                // 1 - U is in (0, 1], so ln is finite or 0; larger keys win.
                let u = 1.0 - rng.random::<f64>();
                (u.ln() / w, i as u32)
            }));
        let cmp = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if c < m {
            s.keys.select_nth_unstable_by(c, cmp);
        }
        for (slot, &(_, i)) in out.iter_mut().zip(&s.keys[..c]) {
            *slot = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SyntheticParams {
        SyntheticParams::new(300, 400, 20_000).rank(4).seed(11)
    }

    fn same_bits(a: &Ratings, b: &Ratings) -> bool {
        a.csr().indptr().raw_storage() == b.csr().indptr().raw_storage()
            && a.csr().indices() == b.csr().indices()
            && a.csr().data().iter().map(|x| x.to_bits()).eq(b
                .csr()
                .data()
                .iter()
                .map(|x| x.to_bits()))
    }

    #[test]
    fn output_is_identical_for_any_thread_count() {
        let p = small().check().unwrap();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| p.generate_with_truth())
        };
        let (r1, t1) = run(1);
        let (r3, t3) = run(3);
        assert!(same_bits(&r1, &r3));
        assert_eq!(t1, t3);
        let other = small().seed(12).check().unwrap().generate();
        assert!(!same_bits(&r1, &other));
    }

    #[test]
    fn sizes_minimum_distinct_items_and_scale() {
        let p = small().check().unwrap();
        let r = p.generate();
        assert_eq!((r.n_users(), r.n_items(), r.nnz()), (300, 400, 20_000));
        let counts = p.user_counts();
        for u in 0..300u32 {
            assert!(r.user_count(u) >= 20);
            assert_eq!(r.user_count(u), counts[u as usize] as usize);
            // from_csr already rejects unsorted or repeated items; check again here.
            assert!(r.user(u).0.windows(2).all(|w| w[0] < w[1]));
        }
        assert!(r
            .csr()
            .data()
            .iter()
            .all(|&v| v.fract() == 0.0 && (1.0..=5.0).contains(&v)));
    }

    #[test]
    fn noiseless_ratings_are_the_rounded_clipped_truth() {
        let p = small().noise_sd(0.0).check().unwrap();
        let (r, truth) = p.generate_with_truth();
        for t in r.iter() {
            assert_eq!(t.value, truth.value(t.user, t.item).round().clamp(1.0, 5.0));
        }
        let mean_truth: f64 =
            r.iter().map(|t| truth.value(t.user, t.item)).sum::<f64>() / r.nnz() as f64;
        assert!((mean_truth - 3.55).abs() < 0.3, "{mean_truth}");
    }

    #[test]
    fn activity_and_popularity_are_skewed() {
        let r = small().check().unwrap().generate();
        let mut users: Vec<usize> = (0..300).map(|u| r.user_count(u)).collect();
        let mut items: Vec<usize> = (0..400).map(|i| r.item_count(i)).collect();
        users.sort_unstable_by(|a, b| b.cmp(a));
        items.sort_unstable_by(|a, b| b.cmp(a));
        let top_share = |v: &[usize]| v[..v.len() / 10].iter().sum::<usize>() as f64 / 20_000.0;
        // Uniform would give 0.10; the power laws give far more to the top tenth.
        assert!(top_share(&users) > 0.2, "users {}", top_share(&users));
        assert!(top_share(&items) > 0.2, "items {}", top_share(&items));
        // Flat exponents give near-uniform activity.
        let flat = small().user_exponent(0.0).check().unwrap().user_counts();
        assert!(flat.iter().all(|&c| (66..=67).contains(&c)), "{flat:?}");
    }

    #[test]
    fn heavy_users_hit_the_cap_and_totals_stay_exact() {
        // 50 users over 60 items with 2500 ratings: the top users must be capped at 60.
        let p = SyntheticParams::new(50, 60, 2500)
            .user_exponent(1.5)
            .check()
            .unwrap();
        let counts = p.user_counts();
        assert_eq!(counts.iter().map(|&c| c as usize).sum::<usize>(), 2500);
        assert!(counts.iter().all(|&c| (20..=60).contains(&c)));
        assert!(counts.contains(&60));
        let r = p.generate();
        assert_eq!(r.nnz(), 2500);
        // Every item rated by everyone: the dense corner case.
        let full = SyntheticParams::new(30, 40, 1200)
            .check()
            .unwrap()
            .generate();
        assert!((0..30).all(|u| full.user_count(u) == 40));
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let cases = [
            (SyntheticParams::new(0, 10, 10), "n_users"),
            (
                SyntheticParams::new(10, 10, 10).min_per_user(1).rank(0),
                "rank",
            ),
            (SyntheticParams::new(10, 10, 50), "min_per_user"),
            (SyntheticParams::new(10, 30, 100), "n_ratings"),
            (SyntheticParams::new(10, 30, 301), "n_ratings"),
            (
                SyntheticParams::new(10, 30, 250).noise_sd(f64::NAN),
                "noise_sd",
            ),
            (SyntheticParams::new(10, 30, 250).noise_sd(-1.0), "noise_sd"),
            (
                SyntheticParams::new(10, 30, 250).item_exponent(-0.5),
                "item_exponent",
            ),
            (
                SyntheticParams::new(10, 30, 250).user_exponent(f64::INFINITY),
                "user_exponent",
            ),
            (
                SyntheticParams::new(10, 30, 250).mean_rating(9.0),
                "mean_rating",
            ),
            (
                SyntheticParams::new(10, 30, 250)
                    .scale(RatingScale::new(1.2, 1.8).unwrap())
                    .mean_rating(1.5),
                "scale",
            ),
        ];
        for (p, name) in cases {
            let e = p.check().unwrap_err().to_string();
            assert!(e.contains(name), "{name}: {e}");
        }
    }

    #[test]
    fn presets_have_movielens_shapes() {
        let p = SyntheticParams::ml100k().check().unwrap();
        let r = p.generate();
        assert_eq!((r.n_users(), r.n_items(), r.nnz()), (943, 1682, 100_000));
        assert!((0..943).all(|u| r.user_count(u) >= 20));
        let m = SyntheticParams::ml1m();
        assert_eq!((m.n_users, m.n_items, m.n_ratings), (6040, 3706, 1_000_209));
    }
}
