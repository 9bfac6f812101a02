//! Item neighbours from latent factors (the slides' "Application 1: collaborative
//! filtering"): cosine similarity between item factor vectors, the top-n most similar items,
//! and the slides' rank-weighted nearest-neighbour estimate of a missing rating.
//!
//! Works from any item-factor matrix: the rows of the slides' `W` (shows x r), the columns of
//! `H` of a users x items factorisation, the item factors of [`crate::BiasedNmfModel`], or a
//! plain item-major slice from another crate's model.
//!
//! **Similarity**: `cos(x, y) = <x, y> / (||x||_2 ||y||_2)`; an all-zero factor vector has no
//! direction, and its similarity to every item is defined as 0 (an explicit convention, not a
//! NaN).
//!
//! **Rank-weighted estimate** (slides): the rating of user `u` for item `i` is estimated from
//! the `L` items nearest to `i`, ranked `k_m = 1..L` by decreasing similarity, with weights
//!
//! ```text
//! w_m = 0.5 (1 - k_m / sum_{l=1..L} k_l)        estimate = sum_m w_m r_u,m / sum_m w_m
//! ```
//!
//! For `L = 3` the weights are `5/12, 4/12, 3/12` and sum to 1, as in the slides (whose
//! estimate is the plain weighted sum); for other `L` they do not sum to 1, so the estimate
//! divides by their sum to stay a weighted average. `L = 1` would give the single neighbour a
//! weight of 0, so at least 2 neighbours are needed. The slides take the nearest items
//! whatever the user rated and count an unrated neighbour as 0 (that is how they get 1.175 for
//! Black Mirror: `3/12 x 4.7`); [`MissingRating::AsZero`] reproduces that, and
//! [`MissingRating::RatedOnly`] takes the nearest items among those the user rated (the usual
//! item-based choice).

use nalgebra::DMatrix;

use crate::FamilyError;
use cnmf_engine::numeric::dot;
use cnmf_ratings::ParamGuard;

/// Unit-normalised item factor vectors, ready for cosine queries.
///
/// ```
/// use cnmf_family::ItemNeighbours;
/// // Three items in 2-D: item 1 points like item 0, item 2 is orthogonal to it.
/// let nb = ItemNeighbours::from_item_major(&[1.0, 0.0, 2.0, 0.1, 0.0, 3.0], 2)?;
/// let top = nb.similar_items(0, 2)?;
/// assert_eq!(top[0].0, 1);
/// assert_eq!(top[1], (2, 0.0));
/// # Ok::<(), cnmf_family::FamilyError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ItemNeighbours {
    k: usize,
    unit: Vec<f64>,
}

impl ItemNeighbours {
    /// From an item-major slice: item `i`'s `rank` factors are
    /// `factors[i * rank .. (i + 1) * rank]`.
    pub fn from_item_major(factors: &[f64], rank: usize) -> Result<Self, FamilyError> {
        if rank == 0 {
            return Err(FamilyError::param("rank", "must be at least 1"));
        }
        if !factors.len().is_multiple_of(rank) {
            return Err(FamilyError::param(
                "factors",
                format!("length {} is not a multiple of rank {rank}", factors.len()),
            ));
        }
        if let Some(p) = factors.iter().position(|x| !x.is_finite()) {
            return Err(FamilyError::data(
                "item neighbours",
                format!("factor of item {} is not finite ({})", p / rank, factors[p]),
            ));
        }
        let mut unit = factors.to_vec();
        for row in unit.chunks_mut(rank) {
            let norm = dot(row, row).sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(ItemNeighbours { k: rank, unit })
    }

    /// From a matrix whose rows are the items (the slides' `W`, shows x r).
    pub fn from_rows(items_by_rank: &DMatrix<f64>) -> Result<Self, FamilyError> {
        let t = items_by_rank.transpose();
        Self::from_item_major(t.as_slice(), items_by_rank.ncols())
    }

    /// From a matrix whose columns are the items (`H` of a users x items factorisation).
    pub fn from_columns(rank_by_items: &DMatrix<f64>) -> Result<Self, FamilyError> {
        Self::from_item_major(rank_by_items.as_slice(), rank_by_items.nrows())
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.unit.len() / self.k
    }

    /// The factor dimension.
    pub fn rank(&self) -> usize {
        self.k
    }

    fn check_item(&self, item: u32) -> Result<(), FamilyError> {
        if item as usize >= self.n_items() {
            return Err(FamilyError::UnknownItem {
                item,
                n_items: self.n_items(),
            });
        }
        Ok(())
    }

    fn unit(&self, item: u32) -> &[f64] {
        &self.unit[item as usize * self.k..(item as usize + 1) * self.k]
    }

    /// The cosine similarity of two items (0 when either factor vector is zero).
    pub fn cosine(&self, a: u32, b: u32) -> Result<f64, FamilyError> {
        self.check_item(a)?;
        self.check_item(b)?;
        Ok(dot(self.unit(a), self.unit(b)))
    }

    /// The `n` items most similar to `item` (never `item` itself), by decreasing cosine;
    /// equal cosines are ordered by increasing item index. Fewer than `n` when there are not
    /// that many other items. `n` must be at least 1.
    pub fn similar_items(&self, item: u32, n: usize) -> Result<Vec<(u32, f64)>, FamilyError> {
        self.check_item(item)?;
        let candidates = (0..self.n_items() as u32).filter(|&j| j != item);
        self.top(item, candidates, n)
    }

    /// The `n` best of `candidates` by cosine to `item`, in the order of
    /// [`similar_items`](Self::similar_items).
    fn top(
        &self,
        item: u32,
        candidates: impl Iterator<Item = u32>,
        n: usize,
    ) -> Result<Vec<(u32, f64)>, FamilyError> {
        if n == 0 {
            return Err(FamilyError::param("n", "must be at least 1"));
        }
        let target = self.unit(item);
        let mut scored: Vec<(u32, f64)> =
            candidates.map(|j| (j, dot(target, self.unit(j)))).collect();
        let order = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > n {
            scored.select_nth_unstable_by(n - 1, order);
            scored.truncate(n);
        }
        scored.sort_unstable_by(order);
        Ok(scored)
    }

    /// The slides' rank-weighted estimate of the rating of `item` by a user who rated
    /// `rated_items` (strictly ascending item indices, as [`cnmf_ratings::Ratings::user`]
    /// returns them) with `ratings` (see the [module docs](self)). Not clipped: it is a
    /// weighted average of ratings (and zeros, under [`MissingRating::AsZero`]).
    ///
    /// Errors: unknown items, unsorted or mismatched inputs, a non-finite rating, fewer than
    /// 2 usable neighbours.
    pub fn estimate(
        &self,
        params: &ValidNeighbourParams,
        item: u32,
        rated_items: &[u32],
        ratings: &[f64],
    ) -> Result<NeighbourEstimate, FamilyError> {
        self.check_item(item)?;
        if rated_items.len() != ratings.len() {
            return Err(FamilyError::data(
                "neighbour estimate",
                format!(
                    "{} rated items but {} ratings",
                    rated_items.len(),
                    ratings.len()
                ),
            ));
        }
        if let Some(w) = rated_items.windows(2).find(|w| w[0] >= w[1]) {
            return Err(FamilyError::data(
                "neighbour estimate",
                format!(
                    "rated items must be strictly ascending, found {} then {}",
                    w[0], w[1]
                ),
            ));
        }
        if let Some(&last) = rated_items.last() {
            self.check_item(last)?;
        }
        if let Some(p) = ratings.iter().position(|r| !r.is_finite()) {
            return Err(FamilyError::data(
                "neighbour estimate",
                format!(
                    "rating of item {} is not finite ({})",
                    rated_items[p], ratings[p]
                ),
            ));
        }
        let nearest = match params.missing {
            MissingRating::AsZero => self.similar_items(item, params.neighbours)?,
            MissingRating::RatedOnly => self.top(
                item,
                rated_items.iter().copied().filter(|&j| j != item),
                params.neighbours,
            )?,
        };
        let count = nearest.len();
        if count < 2 {
            return Err(FamilyError::data(
                "neighbour estimate",
                format!("only {count} neighbour(s) available; the rank weights need at least 2"),
            ));
        }
        let rank_sum = (count * (count + 1) / 2) as f64;
        let mut neighbours = Vec::with_capacity(count);
        let (mut num, mut den) = (0.0, 0.0);
        for (m, &(j, similarity)) in nearest.iter().enumerate() {
            let rank = m + 1;
            let weight = 0.5 * (1.0 - rank as f64 / rank_sum);
            let rating = rated_items.binary_search(&j).ok().map(|p| ratings[p]);
            num += weight * rating.unwrap_or(0.0);
            den += weight;
            neighbours.push(Neighbour {
                item: j,
                rank,
                similarity,
                weight,
                rating,
            });
        }
        Ok(NeighbourEstimate {
            value: num / den,
            neighbours,
        })
    }
}

/// What the estimate does with neighbours the user has not rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingRating {
    /// The slides' rule: take the nearest items whatever the user rated and count an unrated
    /// one as a rating of 0.
    #[default]
    AsZero,
    /// Take the nearest items among those the user rated.
    RatedOnly,
}

/// Parameters of the rank-weighted estimate; [`check`](NeighbourParams::check) validates.
///
/// ```
/// use cnmf_family::{MissingRating, NeighbourParams};
/// assert!(NeighbourParams::new(1).check().is_err());
/// let p = NeighbourParams::new(3).missing(MissingRating::RatedOnly).check().unwrap();
/// assert_eq!(p.neighbours(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourParams {
    neighbours: usize,
    missing: MissingRating,
}

impl NeighbourParams {
    /// `neighbours` nearest items (at least 2; the slides use 3), slides' missing rule.
    pub fn new(neighbours: usize) -> Self {
        NeighbourParams {
            neighbours,
            missing: MissingRating::AsZero,
        }
    }

    /// How unrated neighbours are treated.
    pub fn missing(mut self, missing: MissingRating) -> Self {
        self.missing = missing;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<ValidNeighbourParams, FamilyError> {
        if self.neighbours < 2 {
            return Err(FamilyError::param(
                "neighbours",
                format!(
                    "must be at least 2 (with one neighbour its rank weight 0.5 (1 - 1/1) is 0), got {}",
                    self.neighbours
                ),
            ));
        }
        Ok(ValidNeighbourParams {
            neighbours: self.neighbours,
            missing: self.missing,
        })
    }
}

impl ParamGuard for NeighbourParams {
    type Checked = ValidNeighbourParams;
    type Error = FamilyError;
    fn check(self) -> Result<ValidNeighbourParams, FamilyError> {
        NeighbourParams::check(self)
    }
}

/// Checked [`NeighbourParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidNeighbourParams {
    neighbours: usize,
    missing: MissingRating,
}

impl ValidNeighbourParams {
    /// The number of neighbours.
    pub fn neighbours(&self) -> usize {
        self.neighbours
    }

    /// The missing-rating rule.
    pub fn missing(&self) -> MissingRating {
        self.missing
    }
}

/// One neighbour used by an estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    /// The neighbour item.
    pub item: u32,
    /// Its rank `k_m` (1 = most similar).
    pub rank: usize,
    /// Its cosine similarity to the target item.
    pub similarity: f64,
    /// Its weight `0.5 (1 - k_m / sum k)`.
    pub weight: f64,
    /// The user's rating of it (`None`: unrated, counted as 0).
    pub rating: Option<f64>,
}

/// A rank-weighted estimate and the neighbours behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourEstimate {
    /// The estimated rating.
    pub value: f64,
    /// The neighbours, most similar first.
    pub neighbours: Vec<Neighbour>,
}
