//! Fold-in of a new, partially filled user against a fitted model's fixed item side.

use super::BiasedNmfModel;
use crate::FamilyError;
use cnmf_engine::numeric::dot;

/// Coordinate-descent sweeps before fold-in gives up.
const MAX_SWEEPS: usize = 100_000;
/// Fold-in stops when no coordinate moves by more than this (relative to the largest).
const TOLERANCE: f64 = 1e-13;

/// A user folded into a model: `P_* >= 0` and `b_*` (see [`BiasedNmfModel::fold_in`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedUser {
    factors: Vec<f64>,
    bias: f64,
}

impl FoldedUser {
    /// `P_*`, the user's `k` factors.
    pub fn factors(&self) -> &[f64] {
        &self.factors
    }

    /// `b_*`, the user's bias.
    pub fn bias(&self) -> f64 {
        self.bias
    }
}

impl BiasedNmfModel {
    /// Folds in a new user from `(item, rating)` pairs with the model's own `lambda`:
    /// minimises `sum_{i in S} (P_* . Q_i + b_* + b_i + b - R_i)^2 + lambda (||P_*||^2 + b_*^2)`
    /// over `P_* >= 0` and `b_*`, with `Q`, `b_i` and `b` fixed (see the
    /// [module docs](crate::biased)).
    ///
    /// Errors: no ratings, an unknown item, an item given twice, a rating that is not finite
    /// or outside the model's scale.
    ///
    /// ```
    /// use cnmf_family::BiasedNmfModel;
    /// use cnmf_ratings::RatingScale;
    /// // Two items with factors (1, 0) and (0, 1), no biases, no regularisation.
    /// let model = BiasedNmfModel::from_parts(
    ///     2, vec![], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], vec![], vec![0.0; 3], 0.0,
    ///     RatingScale::new(0.0, 10.0)?, 0.0,
    /// )?;
    /// // Ratings planted from P = (3, 1), b_* = 0.5.
    /// let user = model.fold_in(&[(0, 3.5), (1, 1.5), (2, 4.5)])?;
    /// assert!((user.factors()[0] - 3.0).abs() < 1e-9 && (user.bias() - 0.5).abs() < 1e-9);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fold_in(&self, ratings: &[(u32, f64)]) -> Result<FoldedUser, FamilyError> {
        self.fold_in_with_regularization(ratings, self.regularization)
    }

    /// [`fold_in`](Self::fold_in) with another `lambda` (finite, `>= 0`).
    pub fn fold_in_with_regularization(
        &self,
        ratings: &[(u32, f64)],
        lambda: f64,
    ) -> Result<FoldedUser, FamilyError> {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(FamilyError::param(
                "regularization",
                format!("must be finite and >= 0, got {lambda}"),
            ));
        }
        if ratings.is_empty() {
            return Err(FamilyError::data("fold-in", "the user has no ratings"));
        }
        let mut seen: Vec<u32> = Vec::with_capacity(ratings.len());
        for (pos, &(item, r)) in ratings.iter().enumerate() {
            self.check_item(item)?;
            if !self.scale().contains(r) {
                return Err(FamilyError::data(
                    "fold-in",
                    format!(
                        "rating {pos} (item {item}) is {r}, outside the scale [{}, {}]",
                        self.scale().min(),
                        self.scale().max()
                    ),
                ));
            }
            seen.push(item);
        }
        seen.sort_unstable();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(FamilyError::data(
                "fold-in",
                format!("item {} is rated twice", w[0]),
            ));
        }

        // The quadratic in x = (P_*, b_*): x^T G x - 2 c^T x, with a_i = (Q_i, 1),
        // G = sum a_i a_i^T + lambda I and c = sum a_i (R_i - b - b_i).
        let k = self.rank();
        let d = k + 1;
        let mut g = vec![0.0; d * d];
        let mut c = vec![0.0; d];
        let mut a = vec![0.0; d];
        for &(item, r) in ratings {
            a[..k].copy_from_slice(self.item_factors(item));
            a[k] = 1.0;
            let y = r - self.global_bias() - self.item_biases()[item as usize];
            for j in 0..d {
                c[j] += a[j] * y;
                for l in 0..d {
                    g[j * d + l] += a[j] * a[l];
                }
            }
        }
        for j in 0..d {
            g[j * d + j] += lambda;
        }
        let x = coordinate_descent(&g, &c, d, k)?;
        Ok(FoldedUser {
            factors: x[..k].to_vec(),
            bias: x[k],
        })
    }

    /// The clipped prediction of `item` for a folded-in user.
    pub fn predict_folded(&self, user: &FoldedUser, item: u32) -> Result<f64, FamilyError> {
        self.check_item(item)?;
        if user.factors.len() != self.rank() {
            return Err(FamilyError::param(
                "user",
                format!(
                    "has {} factors, the model has rank {}",
                    user.factors.len(),
                    self.rank()
                ),
            ));
        }
        let raw = dot(&user.factors, self.item_factors(item))
            + user.bias
            + self.item_biases()[item as usize]
            + self.global_bias();
        Ok(self.scale().clip(raw))
    }
}

/// Minimises `x^T G x - 2 c^T x` with `x_j >= 0` for `j < nonneg` by cyclic coordinate
/// descent: each coordinate is set to its exact constrained minimiser in turn. `G` is
/// symmetric positive semidefinite, so the objective is convex and never increases; a
/// coordinate with `G_jj = 0` does not affect the objective and is set to 0.
fn coordinate_descent(
    g: &[f64],
    c: &[f64],
    d: usize,
    nonneg: usize,
) -> Result<Vec<f64>, FamilyError> {
    let mut x = vec![0.0; d];
    for _ in 0..MAX_SWEEPS {
        let mut moved: f64 = 0.0;
        for j in 0..d {
            let gjj = g[j * d + j];
            let mut new = if gjj > 0.0 {
                let off = dot(&g[j * d..(j + 1) * d], &x) - gjj * x[j];
                (c[j] - off) / gjj
            } else {
                0.0
            };
            if j < nonneg && new < 0.0 {
                new = 0.0;
            }
            moved = moved.max((new - x[j]).abs());
            x[j] = new;
        }
        if !x.iter().all(|v| v.is_finite()) {
            return Err(FamilyError::NotFinite {
                what: "fold-in solution",
                iteration: 0,
            });
        }
        let size = x.iter().fold(1.0f64, |s, v| s.max(v.abs()));
        if moved <= TOLERANCE * size {
            return Ok(x);
        }
    }
    Err(FamilyError::NotConverged {
        what: "fold-in coordinate descent",
        limit: MAX_SWEEPS,
    })
}
