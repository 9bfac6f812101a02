//! The factor matrices and their seeded initialisation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::EngineError;

/// The factors `W` (n x k) and `H` (k x m) of a factorization, both nonnegative and finite.
///
/// Storage is row-major and contiguous per user *and* per item: `W` as n rows of k, and `H`
/// item-major (m rows of k, i.e. `H^T`), so [`w_row`](Factors::w_row) and
/// [`h_col`](Factors::h_col) are slices of exactly `k` values and a prediction is their dot
/// product.
///
/// ```
/// use cnmf_engine::Factors;
/// let f = Factors::new(2, 1, 2, vec![1.0, 0.0, 0.5, 2.0], vec![3.0, 1.0]).unwrap();
/// assert_eq!(f.w_row(1), &[0.5, 2.0]);
/// assert_eq!(f.predict(1, 0), 0.5 * 3.0 + 2.0 * 1.0);
/// assert!(Factors::new(1, 1, 1, vec![-1.0], vec![1.0]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FactorsRepr", into = "FactorsRepr")]
pub struct Factors {
    k: usize,
    n_users: usize,
    n_items: usize,
    w: Vec<f64>,
    h: Vec<f64>,
}

/// Serialised form of [`Factors`], validated on the way back in.
#[derive(Serialize, Deserialize)]
struct FactorsRepr {
    rank: usize,
    n_users: usize,
    n_items: usize,
    w: Vec<f64>,
    h: Vec<f64>,
}

impl TryFrom<FactorsRepr> for Factors {
    type Error = EngineError;
    fn try_from(r: FactorsRepr) -> Result<Self, Self::Error> {
        Factors::new(r.n_users, r.n_items, r.rank, r.w, r.h)
    }
}

impl From<Factors> for FactorsRepr {
    fn from(f: Factors) -> Self {
        FactorsRepr {
            rank: f.k,
            n_users: f.n_users,
            n_items: f.n_items,
            w: f.w,
            h: f.h,
        }
    }
}

impl Factors {
    /// Factors from `w` (n_users x k, row-major) and `h` (n_items x k, item-major).
    ///
    /// Errors when `k == 0`, the lengths do not match the shapes, or any entry is negative or
    /// not finite.
    pub fn new(
        n_users: usize,
        n_items: usize,
        k: usize,
        w: Vec<f64>,
        h: Vec<f64>,
    ) -> Result<Factors, EngineError> {
        if k == 0 {
            return Err(EngineError::InvalidParameter {
                name: "rank",
                reason: "the rank must be at least 1".into(),
            });
        }
        for (what, v, rows) in [("W", &w, n_users), ("H", &h, n_items)] {
            let expected = rows.checked_mul(k);
            if expected != Some(v.len()) {
                return Err(EngineError::ShapeMismatch {
                    what: if what == "W" {
                        "user factors W"
                    } else {
                        "item factors H"
                    },
                    expected: format!("{rows} x {k} = {:?} values", expected),
                    found: format!("{} values", v.len()),
                });
            }
            if let Some(p) = v.iter().position(|x| !x.is_finite()) {
                return Err(EngineError::InvalidInput {
                    what: if what == "W" {
                        "user factors W"
                    } else {
                        "item factors H"
                    },
                    reason: format!("entry ({}, {}) is {}, not finite", p / k, p % k, v[p]),
                });
            }
            if let Some(p) = v.iter().position(|&x| x < 0.0) {
                return Err(EngineError::InvalidInput {
                    what: if what == "W" {
                        "user factors W"
                    } else {
                        "item factors H"
                    },
                    reason: format!("entry ({}, {}) is negative ({})", p / k, p % k, v[p]),
                });
            }
        }
        Ok(Factors {
            k,
            n_users,
            n_items,
            w,
            h,
        })
    }

    /// Internal constructor for factors the engine produced (already checked).
    pub(crate) fn from_parts_unchecked(
        n_users: usize,
        n_items: usize,
        k: usize,
        w: Vec<f64>,
        h: Vec<f64>,
    ) -> Factors {
        debug_assert_eq!(w.len(), n_users * k);
        debug_assert_eq!(h.len(), n_items * k);
        Factors {
            k,
            n_users,
            n_items,
            w,
            h,
        }
    }

    /// The rank.
    pub fn rank(&self) -> usize {
        self.k
    }

    /// Number of users (rows of `W`).
    pub fn n_users(&self) -> usize {
        self.n_users
    }

    /// Number of items (columns of `H`).
    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// User `u`'s `k` factors.
    ///
    /// # Panics
    /// When `u >= n_users()`.
    pub fn w_row(&self, u: u32) -> &[f64] {
        let k = self.k;
        &self.w[u as usize * k..(u as usize + 1) * k]
    }

    /// Item `i`'s `k` factors (column `i` of `H`).
    ///
    /// # Panics
    /// When `i >= n_items()`.
    pub fn h_col(&self, i: u32) -> &[f64] {
        let k = self.k;
        &self.h[i as usize * k..(i as usize + 1) * k]
    }

    /// All of `W`, row-major (n_users x k).
    pub fn w(&self) -> &[f64] {
        &self.w
    }

    /// All of `H`, item-major (n_items x k).
    pub fn h(&self) -> &[f64] {
        &self.h
    }

    /// The unclipped prediction `(W H)_ui`.
    ///
    /// # Panics
    /// When `u` or `i` is out of range.
    pub fn predict(&self, u: u32, i: u32) -> f64 {
        crate::kernels::dot(self.w_row(u), self.h_col(i))
    }

    /// The two matrices `(w, h)`, consuming the factors.
    pub fn into_parts(self) -> (Vec<f64>, Vec<f64>) {
        (self.w, self.h)
    }
}

/// Seeded initial factors (specification section 2): every entry of `W` and `H` is
/// `s * U(0.5, 1.5)` with `s = sqrt(mean_rating / k)`, so that the mean of `W H` is about the
/// mean rating and every entry is strictly positive.
///
/// The draws come from one `ChaCha8Rng::seed_from_u64(seed)` stream, `W` row by row, then `H`
/// item by item; the same `(seed, n, m, k, mean_rating)` gives bit-identical factors on every
/// machine, so every algorithm can start from the same point.
///
/// Errors when `k == 0` or `mean_rating` is not finite and positive.
///
/// ```
/// use cnmf_engine::init_factors;
/// let a = init_factors(3, 4, 2, 3.5, 42).unwrap();
/// let b = init_factors(3, 4, 2, 3.5, 42).unwrap();
/// assert_eq!(a, b);
/// let s = (3.5f64 / 2.0).sqrt();
/// assert!(a.w().iter().chain(a.h()).all(|&x| x >= 0.5 * s && x < 1.5 * s));
/// ```
pub fn init_factors(
    n_users: usize,
    n_items: usize,
    k: usize,
    mean_rating: f64,
    seed: u64,
) -> Result<Factors, EngineError> {
    cnmf_ratings::params::check_at_least_one("rank", k)?;
    if !(mean_rating.is_finite() && mean_rating > 0.0) {
        return Err(EngineError::InvalidInput {
            what: "mean rating",
            reason: format!(
                "the initial scale sqrt(mean / k) needs a finite positive mean rating, got {mean_rating}"
            ),
        });
    }
    let s = (mean_rating / k as f64).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw =
        |len: usize| -> Vec<f64> { (0..len).map(|_| s * rng.random_range(0.5..1.5)).collect() };
    let w = draw(n_users * k);
    let h = draw(n_items * k);
    Ok(Factors::from_parts_unchecked(n_users, n_items, k, w, h))
}
