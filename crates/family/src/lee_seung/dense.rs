//! Multiplicative updates on a dense matrix (every entry is data).

use nalgebra::DMatrix;

use super::{check_value, kl_term, LeeSeungModel, Objective, ValidLeeSeungParams};
use cnmf_engine::numeric::{init_factors, EPS};

use crate::observer::Progress;
use crate::{FamilyError, FitOptions};

pub(super) fn fit(
    v: &DMatrix<f64>,
    params: &ValidLeeSeungParams,
    options: FitOptions<'_>,
) -> Result<LeeSeungModel, FamilyError> {
    let (n, m) = v.shape();
    if n == 0 || m == 0 {
        return Err(FamilyError::data(
            "Lee-Seung NMF",
            format!("the matrix is {n} x {m}"),
        ));
    }
    for j in 0..m {
        for i in 0..n {
            check_value(v[(i, j)], || format!("({i}, {j})"))?;
        }
    }
    let mean = v.sum() / (n * m) as f64;
    if mean <= 0.0 {
        return Err(FamilyError::data(
            "Lee-Seung NMF",
            "the matrix has no positive entry",
        ));
    }
    let k = params.rank();
    let (w0, h0) = init_factors(n, m, k, mean, params.seed())?.into_parts();
    let mut w = DMatrix::from_row_slice(n, k, &w0);
    let mut h = DMatrix::from_column_slice(k, m, &h0);

    let objective = params.objective();
    let mut progress = Progress::new(options, "Lee-Seung objective", params.max_iters());
    for it in 0.. {
        let obj = dense_objective(v, &w, &h, objective);
        let stop = progress.record(it, obj)?.is_break();
        if stop || it == params.max_iters() || params.converged(&progress.trace) {
            break;
        }
        match objective {
            Objective::Frobenius => {
                let num = v * h.transpose();
                let den = &w * (&h * h.transpose());
                multiply_ratio(&mut w, &num, &den);
                if params.normalize_w() {
                    normalize(&mut w, &mut h);
                }
                let num = w.transpose() * v;
                let den = (w.transpose() * &w) * &h;
                multiply_ratio(&mut h, &num, &den);
            }
            Objective::KullbackLeibler => {
                let ratio = kl_ratio(v, &(&w * &h));
                let num = &ratio * h.transpose();
                let h_sums: Vec<f64> = h.row_iter().map(|r| r.sum()).collect();
                let den = DMatrix::from_fn(n, k, |_, a| h_sums[a]);
                multiply_ratio(&mut w, &num, &den);
                if params.normalize_w() {
                    normalize(&mut w, &mut h);
                }
                let ratio = kl_ratio(v, &(&w * &h));
                let num = w.transpose() * &ratio;
                let w_sums: Vec<f64> = w.column_iter().map(|c| c.sum()).collect();
                let den = DMatrix::from_fn(k, m, |a, _| w_sums[a]);
                multiply_ratio(&mut h, &num, &den);
            }
        }
        if !(w.iter().all(|x| x.is_finite()) && h.iter().all(|x| x.is_finite())) {
            return Err(FamilyError::NotFinite {
                what: "Lee-Seung factors",
                iteration: it + 1,
            });
        }
    }
    Ok(LeeSeungModel::new(w, h, objective, progress.trace))
}

/// `F(W, H)` or `D_I(V || W H)` computed from the dense reconstruction.
fn dense_objective(
    v: &DMatrix<f64>,
    w: &DMatrix<f64>,
    h: &DMatrix<f64>,
    objective: Objective,
) -> f64 {
    let x = w * h;
    match objective {
        Objective::Frobenius => (v - x).norm_squared(),
        Objective::KullbackLeibler => v.iter().zip(x.iter()).map(|(&a, &b)| kl_term(a, b)).sum(),
    }
}

/// `V ./ (X + eps)` with 0 where `V` is 0.
fn kl_ratio(v: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    v.zip_map(x, |a, b| if a > 0.0 { a / (b + EPS) } else { 0.0 })
}

/// `F <- F .* num ./ (den + eps)`.
fn multiply_ratio(f: &mut DMatrix<f64>, num: &DMatrix<f64>, den: &DMatrix<f64>) {
    for ((x, a), b) in f.iter_mut().zip(num.iter()).zip(den.iter()) {
        *x *= a / (b + EPS);
    }
}

/// Column sums of `W` to 1, rows of `H` scaled to compensate (`W H` unchanged). A column
/// that is entirely zero is left alone (its topic is unused; there is nothing to scale).
fn normalize(w: &mut DMatrix<f64>, h: &mut DMatrix<f64>) {
    for a in 0..w.ncols() {
        let s = w.column(a).sum();
        if s > 0.0 {
            w.column_mut(a).scale_mut(1.0 / s);
            h.row_mut(a).scale_mut(s);
        }
    }
}
