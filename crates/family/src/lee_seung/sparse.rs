//! Multiplicative updates on sparse input, by rows then by columns, never building `W H`.
//!
//! `W` is kept row-major (`n x r`, one row per matrix row) and `H` one row per column of `V`
//! (`m x r`), so each half-step is a parallel pass over the outer indices of the CSR (for `W`)
//! or of the CSC (for `H`) in which every output row depends only on its own stored entries:
//! the result is bit-identical whatever the number of threads.

use cnmf_ratings::Ratings;
use nalgebra::DMatrix;
use rayon::prelude::*;
use sprs::CsMatI;

use super::dense::record;
use super::{check_value, kl_term, LeeSeungModel, Objective, ValidLeeSeungParams};
use crate::kernels::{all_finite, axpy, column_sums, dot, gram, nmf_init, EPS};
use crate::observer::Observer;
use crate::sparse::{Compressed, TwoWay};
use crate::FamilyError;

/// What a half-step accumulates over the stored entries `(v, x = f_out . f_in)` of an outer
/// index, and which denominator it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Ignore-missing Frobenius: `num += v f_in`, `den += x f_in`.
    FrobeniusMasked,
    /// Ignore-missing KL: `num += v/x f_in`, `den += f_in`.
    KlMasked,
    /// Zeros-are-data Frobenius: `num += v f_in`, `den = f_out G` (`G` = Gram of `f_in`).
    FrobeniusComplete,
    /// Zeros-are-data KL: `num += v/x f_in`, `den = column sums of f_in`.
    KlComplete,
}

impl Rule {
    fn masked(self) -> bool {
        matches!(self, Rule::FrobeniusMasked | Rule::KlMasked)
    }
}

/// Per-outer-index part of the objective, from the entries of that outer index:
/// masked rules give their whole objective; `KlComplete` gives `sum v ln(v/x) - v` (the
/// `+ sum (WH)` part is global); `FrobeniusComplete` gives `sum v x` (for `<V, WH>`).
#[inline]
fn entry_objective(rule: Rule, v: f64, x: f64) -> f64 {
    match rule {
        Rule::FrobeniusMasked => (v - x) * (v - x),
        Rule::KlMasked => kl_term(v, x),
        Rule::KlComplete => {
            if v > 0.0 {
                v * (v / x).ln() - v
            } else {
                0.0
            }
        }
        Rule::FrobeniusComplete => v * x,
    }
}

/// One multiplicative half-step: updates every row of `f_out` from the entries of its outer
/// index in `c` and the fixed `f_in`. `global` is the Gram matrix of `f_in`
/// (`FrobeniusComplete`) or its column sums (`KlComplete`); unused otherwise. Returns the sum
/// of [`entry_objective`] over all entries, evaluated before the update, when `want_obj`.
fn half_step(
    c: &Compressed<'_>,
    f_out: &mut [f64],
    f_in: &[f64],
    k: usize,
    rule: Rule,
    global: &[f64],
    want_obj: bool,
) -> f64 {
    let partials: Vec<f64> = f_out
        .par_chunks_mut(k)
        .enumerate()
        .map_init(
            || (vec![0.0; k], vec![0.0; k]),
            |(num, den), (o, row)| {
                let (idx, val) = c.outer(o);
                if rule.masked() && idx.is_empty() {
                    // No active entry: keep the factors (num = 0 would zero them forever).
                    return 0.0;
                }
                num.fill(0.0);
                den.fill(0.0);
                let mut obj = 0.0;
                for (&j, &v) in idx.iter().zip(val) {
                    let fj = &f_in[j as usize * k..(j as usize + 1) * k];
                    match rule {
                        Rule::FrobeniusComplete => axpy(v, fj, num),
                        Rule::FrobeniusMasked => {
                            let x = dot(row, fj);
                            axpy(v, fj, num);
                            axpy(x, fj, den);
                            if want_obj {
                                obj += entry_objective(rule, v, x);
                            }
                        }
                        Rule::KlMasked | Rule::KlComplete => {
                            let x = dot(row, fj);
                            if v > 0.0 {
                                axpy(v / (x + EPS), fj, num);
                            }
                            if rule == Rule::KlMasked {
                                axpy(1.0, fj, den);
                            }
                            if want_obj {
                                obj += entry_objective(rule, v, x);
                            }
                        }
                    }
                }
                match rule {
                    Rule::FrobeniusComplete => {
                        if want_obj {
                            obj = dot(row, num);
                        }
                        for a in 0..k {
                            den[a] = dot(row, &global[a * k..(a + 1) * k]);
                        }
                    }
                    Rule::KlComplete => den.copy_from_slice(global),
                    Rule::FrobeniusMasked | Rule::KlMasked => {}
                }
                for a in 0..k {
                    row[a] *= num[a] / (den[a] + EPS);
                }
                obj
            },
        )
        .collect();
    partials.iter().sum()
}

/// The same per-entry objective as [`half_step`] without updating anything.
fn objective_pass(c: &Compressed<'_>, f_out: &[f64], f_in: &[f64], k: usize, rule: Rule) -> f64 {
    let partials: Vec<f64> = f_out
        .par_chunks(k)
        .enumerate()
        .map(|(o, row)| {
            let (idx, val) = c.outer(o);
            idx.iter()
                .zip(val)
                .map(|(&j, &v)| {
                    let x = dot(row, &f_in[j as usize * k..(j as usize + 1) * k]);
                    entry_objective(rule, v, x)
                })
                .sum::<f64>()
        })
        .collect();
    partials.iter().sum()
}

/// Everything the iteration needs besides the factors.
struct Problem<'a> {
    data: TwoWay<'a>,
    objective: Objective,
    masked: bool,
    /// `||V||^2` (only used by the zeros-are-data Frobenius objective).
    v_norm2: f64,
}

impl Problem<'_> {
    fn rule(&self) -> Rule {
        match (self.objective, self.masked) {
            (Objective::Frobenius, true) => Rule::FrobeniusMasked,
            (Objective::KullbackLeibler, true) => Rule::KlMasked,
            (Objective::Frobenius, false) => Rule::FrobeniusComplete,
            (Objective::KullbackLeibler, false) => Rule::KlComplete,
        }
    }

    /// The global term of a factor: its Gram matrix (`FrobeniusComplete`) or its column sums
    /// (`KlComplete`); empty for the masked rules. It is both what [`half_step`] needs as
    /// `global` for the fixed factor and what the objective needs from each factor.
    fn global_of(&self, f: &[f64], k: usize) -> Vec<f64> {
        match self.rule() {
            Rule::FrobeniusComplete => gram(f, k),
            Rule::KlComplete => column_sums(f, k),
            Rule::FrobeniusMasked | Rule::KlMasked => Vec::new(),
        }
    }

    /// The objective from the row-pass partial sum and the global terms of `W` and `H`.
    fn combine(&self, partial: f64, global_w: &[f64], global_h: &[f64]) -> f64 {
        match self.rule() {
            Rule::FrobeniusMasked | Rule::KlMasked => partial,
            // sum_ij (WH)_ij = sum_a (sum_i W_ia)(sum_j H_aj).
            Rule::KlComplete => partial + dot(global_w, global_h),
            // ||V||^2 - 2 <V, WH> + <W^T W, H H^T>: a sum of squares, so a negative value can
            // only be rounding (at an exact factorisation) and is clamped to 0.
            Rule::FrobeniusComplete => {
                (self.v_norm2 - 2.0 * partial + dot(global_w, global_h)).max(0.0)
            }
        }
    }

    fn run(
        &self,
        params: &ValidLeeSeungParams,
        observer: &mut dyn Observer,
        mean: f64,
    ) -> Result<LeeSeungModel, FamilyError> {
        let (n, m, k) = (self.data.n, self.data.m, params.rank());
        let rule = self.rule();
        let (mut w, mut h) = nmf_init(params.seed(), n, m, k, mean);
        let mut trace = Vec::with_capacity(params.iterations() + 1);
        let mut it = 0;
        loop {
            if it == params.iterations() {
                let partial = objective_pass(&self.data.rows, &w, &h, k, rule);
                let obj = self.combine(partial, &self.global_of(&w, k), &self.global_of(&h, k));
                record(&mut trace, observer, it, obj)?;
                break;
            }
            // The W half-step also yields the objective of the current iterate; it is
            // finished with the global terms of W before its update.
            // (kept when early stopping may need to undo the fused W update).
            let w_before = (params.tolerance() > 0.0).then(|| w.clone());
            let global_w = self.global_of(&w, k);
            let global_h = self.global_of(&h, k);
            let partial = half_step(&self.data.rows, &mut w, &h, k, rule, &global_h, true);
            let obj = self.combine(partial, &global_w, &global_h);
            record(&mut trace, observer, it, obj)?;
            if params.converged(&trace) {
                if let Some(prev) = w_before {
                    w = prev;
                }
                break;
            }
            if params.normalize_w() {
                normalize(&mut w, &mut h, k);
            }
            let g = self.global_of(&w, k);
            half_step(&self.data.cols, &mut h, &w, k, rule, &g, false);
            it += 1;
            if !(all_finite(&w) && all_finite(&h)) {
                return Err(FamilyError::NotFinite {
                    what: "Lee-Seung factors",
                    iteration: it,
                });
            }
        }
        Ok(LeeSeungModel::new(
            DMatrix::from_row_slice(n, k, &w),
            DMatrix::from_column_slice(k, m, &h),
            self.objective,
            trace,
        ))
    }
}

/// Column sums of `W` to 1, `H` scaled to compensate; all-zero columns are left alone.
fn normalize(w: &mut [f64], h: &mut [f64], k: usize) {
    let s = column_sums(w, k);
    let scale: Vec<f64> = s.iter().map(|&x| if x > 0.0 { x } else { 1.0 }).collect();
    w.par_chunks_mut(k).for_each(|r| {
        for (x, s) in r.iter_mut().zip(&scale) {
            *x /= s;
        }
    });
    h.par_chunks_mut(k).for_each(|r| {
        for (x, s) in r.iter_mut().zip(&scale) {
            *x *= s;
        }
    });
}

/// Zeros-are-data NMF of a sparse matrix (CSR or CSC).
pub(super) fn fit_complete(
    v: &CsMatI<f64, u32>,
    params: &ValidLeeSeungParams,
    observer: &mut dyn Observer,
) -> Result<LeeSeungModel, FamilyError> {
    let (n, m) = v.shape();
    if n == 0 || m == 0 {
        return Err(FamilyError::data(
            "Lee-Seung NMF",
            format!("the matrix is {n} x {m}"),
        ));
    }
    let other = v.to_other_storage();
    let (csr, csc) = if v.is_csr() { (v, &other) } else { (&other, v) };
    let data = TwoWay::new(csr, csc);
    let (mut sum, mut v_norm2) = (0.0, 0.0);
    for i in 0..n {
        let (idx, val) = data.rows.outer(i);
        for (&j, &x) in idx.iter().zip(val) {
            check_value(x, || format!("({i}, {j})"))?;
            sum += x;
            v_norm2 += x * x;
        }
    }
    let mean = sum / (n as f64 * m as f64);
    if mean <= 0.0 {
        return Err(FamilyError::data(
            "Lee-Seung NMF",
            "the matrix has no positive entry",
        ));
    }
    let problem = Problem {
        data,
        objective: params.objective(),
        masked: false,
        v_norm2,
    };
    problem.run(params, observer, mean)
}

/// Ignore-missing NMF of ratings (only observed entries count).
pub(super) fn fit_masked(
    r: &Ratings,
    params: &ValidLeeSeungParams,
    observer: &mut dyn Observer,
) -> Result<LeeSeungModel, FamilyError> {
    let data = TwoWay::of_ratings(r);
    for t in r.iter() {
        check_value(t.value, || format!("(user {}, item {})", t.user, t.item))?;
    }
    let mean = r.mean();
    if mean <= 0.0 {
        return Err(FamilyError::data(
            "Lee-Seung NMF",
            "the ratings have no positive value",
        ));
    }
    let problem = Problem {
        data,
        objective: params.objective(),
        masked: true,
        v_norm2: 0.0,
    };
    problem.run(params, observer, mean)
}
