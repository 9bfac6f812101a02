//! Multiplicative updates on sparse input, by rows then by columns, never building `W H`.
//!
//! `W` is kept row-major (`n x r`, one row per matrix row) and `H` one row per column of `V`
//! (`m x r`), so each half-step is a parallel pass over the outer indices of the CSR (for `W`)
//! or of the CSC (for `H`) in which every output row depends only on its own stored entries:
//! the result is bit-identical whatever the number of threads.

use cnmf_engine::numeric::{
    all_finite, axpy, column_sums, dot, gram, init_factors, Compressed, Isa, Job, Simd, TwoWay, EPS,
};
use cnmf_ratings::Ratings;
use nalgebra::DMatrix;
use rayon::prelude::*;
use sprs::CsMatI;

use super::{check_value, kl_term, LeeSeungModel, Objective, ValidLeeSeungParams};
use crate::observer::Progress;
use crate::{FamilyError, FitOptions};

/// What a half-step accumulates over the stored entries `(v, x = f_out . f_in)` of an outer
/// index, and which denominator it uses. (Ignore-missing Frobenius is the engine's.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Ignore-missing KL: `num += v/x f_in`, `den += f_in`.
    KlMasked,
    /// Zeros-are-data Frobenius: `num += v f_in`, `den = f_out G` (`G` = Gram of `f_in`).
    FrobeniusComplete,
    /// Zeros-are-data KL: `num += v/x f_in`, `den = column sums of f_in`.
    KlComplete,
}

/// Per-outer-index part of the objective, from the entries of that outer index:
/// `KlMasked` gives its whole objective; `KlComplete` gives `sum v ln(v/x) - v` (the
/// `+ sum (WH)` part is global); `FrobeniusComplete` gives `sum v x` (for `<V, WH>`).
#[inline(always)]
fn entry_objective(rule: Rule, v: f64, x: f64) -> f64 {
    match rule {
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

/// The update of one row of `f_out` from its stored entries (a [`Job`], so that it runs on
/// the widest instruction set the CPU has, like the engine's passes).
struct RowStep<'s> {
    idx: &'s [u32],
    val: &'s [f64],
    row: &'s mut [f64],
    f_in: &'s [f64],
    rule: Rule,
    global: &'s [f64],
    want_obj: bool,
    num: &'s mut [f64],
    den: &'s mut [f64],
}

impl Job for RowStep<'_> {
    type Output = f64;

    #[inline(always)]
    fn run<S: Simd>(self) -> f64 {
        let (rule, f_in) = (self.rule, self.f_in);
        let (row, num, den) = (self.row, self.num, self.den);
        let k = row.len();
        if rule == Rule::KlMasked && self.idx.is_empty() {
            // No active entry: keep the factors (num = 0 would zero them forever).
            return 0.0;
        }
        num.fill(0.0);
        den.fill(0.0);
        let mut obj = 0.0;
        for (&j, &v) in self.idx.iter().zip(self.val) {
            let fj = &f_in[j as usize * k..(j as usize + 1) * k];
            if rule == Rule::FrobeniusComplete {
                axpy(num, v, fj);
                continue;
            }
            let x = dot(row, fj);
            if v > 0.0 {
                axpy(num, v / (x + EPS), fj);
            }
            if rule == Rule::KlMasked {
                axpy(den, 1.0, fj);
            }
            if self.want_obj {
                obj += entry_objective(rule, v, x);
            }
        }
        match rule {
            Rule::FrobeniusComplete => {
                if self.want_obj {
                    obj = dot(row, num);
                }
                for (a, d) in den.iter_mut().enumerate() {
                    *d = dot(row, &self.global[a * k..(a + 1) * k]);
                }
            }
            Rule::KlComplete => den.copy_from_slice(self.global),
            Rule::KlMasked => {}
        }
        for a in 0..k {
            row[a] *= num[a] / (den[a] + EPS);
        }
        obj
    }
}

/// One multiplicative half-step: updates every row of `f_out` from the entries of its outer
/// index in `c` and the fixed `f_in`. `global` is the Gram matrix of `f_in`
/// (`FrobeniusComplete`) or its column sums (`KlComplete`); unused otherwise. Returns the sum
/// of [`entry_objective`] over all entries, evaluated before the update, when `want_obj`.
#[allow(clippy::too_many_arguments)]
fn half_step(
    isa: Isa,
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
                isa.run(RowStep {
                    idx,
                    val,
                    row,
                    f_in,
                    rule,
                    global,
                    want_obj,
                    num,
                    den,
                })
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
            (Objective::KullbackLeibler, true) => Rule::KlMasked,
            (Objective::Frobenius, true) => {
                unreachable!(
                    "ignore-missing Frobenius runs on cnmf-engine (lee_seung::frobenius_on_engine)"
                )
            }
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
            Rule::KlMasked => Vec::new(),
        }
    }

    /// The objective from the row-pass partial sum and the global terms of `W` and `H`.
    fn combine(&self, partial: f64, global_w: &[f64], global_h: &[f64]) -> f64 {
        match self.rule() {
            Rule::KlMasked => partial,
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
        options: FitOptions<'_>,
        mean: f64,
    ) -> Result<LeeSeungModel, FamilyError> {
        let (n, m, k) = (self.data.n, self.data.m, params.rank());
        let rule = self.rule();
        let isa = Isa::detect();
        let (mut w, mut h) = init_factors(n, m, k, mean, params.seed())?.into_parts();
        let mut progress = Progress::new(options, "Lee-Seung objective", params.max_iters());
        let mut it = 0;
        loop {
            if it == params.max_iters() {
                let partial = objective_pass(&self.data.rows, &w, &h, k, rule);
                let obj = self.combine(partial, &self.global_of(&w, k), &self.global_of(&h, k));
                // The last iterate: the fit ends whatever the observer answers.
                let _ = progress.record(it, obj)?;
                break;
            }
            // The W half-step also yields the objective of the current iterate (finished with
            // the global terms of W before its update); a stop decided on that objective
            // (tolerance, observer) undoes the fused W update, so W is kept only when one of
            // them can stop the fit.
            let can_stop = params.tolerance() > 0.0 || progress.has_observer();
            let w_before = can_stop.then(|| w.clone());
            let global_w = self.global_of(&w, k);
            let global_h = self.global_of(&h, k);
            let partial = half_step(isa, &self.data.rows, &mut w, &h, k, rule, &global_h, true);
            let obj = self.combine(partial, &global_w, &global_h);
            let stop = progress.record(it, obj)?.is_break();
            if stop || params.converged(&progress.trace) {
                w = w_before.expect("kept whenever the fit can stop here");
                break;
            }
            if params.normalize_w() {
                normalize(&mut w, &mut h, k);
            }
            let g = self.global_of(&w, k);
            half_step(isa, &self.data.cols, &mut h, &w, k, rule, &g, false);
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
            progress.trace,
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
    options: FitOptions<'_>,
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
    problem.run(params, options, mean)
}

/// Ignore-missing KL NMF of ratings (only observed entries count).
pub(super) fn fit_masked(
    r: &Ratings,
    params: &ValidLeeSeungParams,
    options: FitOptions<'_>,
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
    problem.run(params, options, mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row update gives the same bits on AVX2 and AVX-512F as on the portable path (where
    /// the CPU has them), for every rule (the engine's kernels fix their summation order and never
    /// fuse multiply-adds).
    #[test]
    fn row_steps_give_the_same_bits_on_every_instruction_set() {
        let k = 13; // not a multiple of any vector width
        let f_in: Vec<f64> = (0..40 * k)
            .map(|x| ((x * 37 % 101) as f64 + 1.0) / 50.0)
            .collect();
        let idx: Vec<u32> = (0..40).step_by(3).collect();
        let val: Vec<f64> = idx.iter().map(|&j| (j % 5) as f64).collect();
        let global: Vec<f64> = gram(&f_in, k);
        for rule in [Rule::KlMasked, Rule::FrobeniusComplete, Rule::KlComplete] {
            let run = |isa: Isa| {
                let mut row: Vec<f64> = (0..k).map(|a| 0.5 + a as f64 / 7.0).collect();
                let (mut num, mut den) = (vec![0.0; k], vec![0.0; k]);
                let global = if rule == Rule::KlComplete {
                    &global[..k]
                } else {
                    &global[..]
                };
                let obj = isa.run(RowStep {
                    idx: &idx,
                    val: &val,
                    row: &mut row,
                    f_in: &f_in,
                    rule,
                    global,
                    want_obj: true,
                    num: &mut num,
                    den: &mut den,
                });
                (
                    obj.to_bits(),
                    row.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                )
            };
            for isa in [Isa::Avx2, Isa::Avx512] {
                assert_eq!(run(Isa::Portable), run(isa), "{rule:?} on {isa:?}");
            }
        }
    }
}
