//! Full-batch projected Adam for biased NMF, optionally with fast-gradient adversarial
//! perturbations of the factors (see [`crate::adversarial`]).

use cnmf_ratings::Ratings;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::{BiasedNmfModel, ValidBiasedNmfParams};
use crate::observer::Progress;
use crate::FamilyError;
use crate::FitOptions;
use cnmf_engine::numeric::{all_finite, axpy, dot, split_at_cuts, Isa, Job, Simd, TwoWay};

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

/// The adversary of adversarial training: perturbation norm `epsilon` per user and per item
/// vector, weight `alpha` of the perturbed loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Adversary {
    pub epsilon: f64,
    pub alpha: f64,
}

/// The trainable parameters.
struct State {
    p: Vec<f64>,
    q: Vec<f64>,
    bu: Vec<f64>,
    bi: Vec<f64>,
    b: f64,
}

/// Gradient buffers, same shapes as [`State`].
struct Grad {
    p: Vec<f64>,
    q: Vec<f64>,
    bu: Vec<f64>,
    bi: Vec<f64>,
    b: f64,
}

/// Adam's first and second moments for one parameter group.
struct Moments {
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Moments {
    fn new(len: usize) -> Self {
        Moments {
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    /// One bias-corrected Adam step at step `t` (1-based); `project` clamps at 0 afterwards.
    fn step(&mut self, theta: &mut [f64], grad: &[f64], lr: f64, t: i32, project: bool) {
        let c1 = 1.0 - BETA1.powi(t);
        let c2 = 1.0 - BETA2.powi(t);
        theta
            .par_iter_mut()
            .zip(grad.par_iter())
            .zip(self.m.par_iter_mut().zip(self.v.par_iter_mut()))
            .for_each(|((x, &g), (m, v))| {
                *m = BETA1 * *m + (1.0 - BETA1) * g;
                *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                *x -= lr * (*m / c1) / ((*v / c2).sqrt() + ADAM_EPS);
                if project && *x < 0.0 {
                    *x = 0.0;
                }
            });
    }
}

/// Work buffers of one objective-and-gradient evaluation.
struct Scratch {
    /// Residuals in CSR order.
    e: Vec<f64>,
    /// Perturbed factors (adversarial training only).
    p_adv: Vec<f64>,
    q_adv: Vec<f64>,
}

pub(crate) fn train(
    ratings: &Ratings,
    params: &ValidBiasedNmfParams,
    adversary: Option<Adversary>,
    options: FitOptions<'_>,
) -> Result<BiasedNmfModel, FamilyError> {
    let data = TwoWay::of_ratings(ratings);
    let (n, m, k) = (data.n, data.m, params.rank());
    let mut state = init(&data, params, ratings.mean());
    let mut grad = Grad {
        p: vec![0.0; n * k],
        q: vec![0.0; m * k],
        bu: vec![0.0; n],
        bi: vec![0.0; m],
        b: 0.0,
    };
    let mut scratch = Scratch {
        e: vec![0.0; data.nnz()],
        p_adv: Vec::new(),
        q_adv: Vec::new(),
    };
    let (mut mp, mut mq) = (Moments::new(n * k), Moments::new(m * k));
    let (mut mbu, mut mbi, mut mb) = (Moments::new(n), Moments::new(m), Moments::new(1));
    let csc_to_csr = ratings.csc_to_csr();
    let lr = params.learning_rate();
    let lambda = params.regularization();

    let mut progress = Progress::new(options, "biased NMF objective", params.max_iters());
    for epoch in 0..=params.max_iters() {
        let obj = evaluate(
            &data,
            csc_to_csr,
            k,
            lambda,
            adversary,
            &state,
            &mut grad,
            &mut scratch,
        );
        let stop = progress.record(epoch, obj)?.is_break();
        if stop || epoch == params.max_iters() {
            break;
        }
        let t = i32::try_from(epoch + 1).unwrap_or(i32::MAX);
        mp.step(&mut state.p, &grad.p, lr, t, true);
        mq.step(&mut state.q, &grad.q, lr, t, true);
        mbu.step(&mut state.bu, &grad.bu, lr, t, false);
        mbi.step(&mut state.bi, &grad.bi, lr, t, false);
        let mut b = [state.b];
        mb.step(&mut b, &[grad.b], lr, t, false);
        state.b = b[0];
    }
    debug_assert!(all_finite(&state.p) && all_finite(&state.q));
    let model = BiasedNmfModel::from_parts(
        k,
        state.p,
        state.q,
        state.bu,
        state.bi,
        state.b,
        ratings.scale(),
        lambda,
    )?;
    Ok(model.with_trace(progress.trace))
}

/// The mean squared error of `model` on `ratings` after the fast-gradient perturbation of
/// size `epsilon` of its factors (see [`crate::adversarial::fgm_mse`]).
pub(crate) fn fgm_mse(
    model: &BiasedNmfModel,
    ratings: &Ratings,
    epsilon: f64,
) -> Result<f64, FamilyError> {
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(FamilyError::param(
            "epsilon",
            format!("must be finite and >= 0, got {epsilon}"),
        ));
    }
    if (ratings.n_users(), ratings.n_items()) != (model.n_users(), model.n_items()) {
        return Err(FamilyError::data(
            "FGM loss",
            format!(
                "the ratings are {} x {} but the model is {} x {}",
                ratings.n_users(),
                ratings.n_items(),
                model.n_users(),
                model.n_items()
            ),
        ));
    }
    let data = TwoWay::of_ratings(ratings);
    let (n, m, k) = (data.n, data.m, model.k);
    let state = State {
        p: model.p.clone(),
        q: model.q.clone(),
        bu: model.user_bias.clone(),
        bi: model.item_bias.clone(),
        b: model.global_bias,
    };
    let mut grad = Grad {
        p: vec![0.0; n * k],
        q: vec![0.0; m * k],
        bu: vec![0.0; n],
        bi: vec![0.0; m],
        b: 0.0,
    };
    let mut e = vec![0.0; data.nnz()];
    let csc_to_csr = ratings.csc_to_csr();
    data_pass(
        &data, csc_to_csr, k, &state, &state.p, &state.q, 1.0, &mut grad, &mut e,
    );
    let p_adv = perturbed(&state.p, &grad.p, k, epsilon);
    let q_adv = perturbed(&state.q, &grad.q, k, epsilon);
    let sse = data_pass(
        &data, csc_to_csr, k, &state, &p_adv, &q_adv, 1.0, &mut grad, &mut e,
    );
    let mse = sse / data.nnz() as f64;
    if !mse.is_finite() {
        return Err(FamilyError::NotFinite {
            what: "FGM loss",
            iteration: 0,
        });
    }
    Ok(mse)
}

/// Seeded start: `b` = mean, biases 0, factors `init_scale * U(0, 1)` (users first, then
/// items), zero for users and items without ratings.
fn init(data: &TwoWay<'_>, params: &ValidBiasedNmfParams, mean: f64) -> State {
    let (n, m, k) = (data.n, data.m, params.rank());
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed());
    let s = params.init_scale();
    let mut draw =
        |count: usize| -> Vec<f64> { (0..count * k).map(|_| s * rng.random::<f64>()).collect() };
    let mut p = draw(n);
    let mut q = draw(m);
    for (u, row) in p.chunks_mut(k).enumerate() {
        if data.rows.ptr[u] == data.rows.ptr[u + 1] {
            row.fill(0.0);
        }
    }
    for (i, row) in q.chunks_mut(k).enumerate() {
        if data.cols.ptr[i] == data.cols.ptr[i + 1] {
            row.fill(0.0);
        }
    }
    State {
        p,
        q,
        bu: vec![0.0; n],
        bi: vec![0.0; m],
        b: mean,
    }
}

/// The objective `J` of `state` (plus `alpha` times the perturbed loss when adversarial) and
/// its gradient, written into `grad`.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    data: &TwoWay<'_>,
    csc_to_csr: &[u32],
    k: usize,
    lambda: f64,
    adversary: Option<Adversary>,
    s: &State,
    grad: &mut Grad,
    scratch: &mut Scratch,
) -> f64 {
    grad.p.fill(0.0);
    grad.q.fill(0.0);
    grad.bu.fill(0.0);
    grad.bi.fill(0.0);
    let mut loss = data_pass(
        data,
        csc_to_csr,
        k,
        s,
        &s.p,
        &s.q,
        1.0,
        grad,
        &mut scratch.e,
    );
    if let Some(adv) = adversary {
        // Fast gradient method: the data gradient of P_u is c sum_i e_ui Q_i, which is what
        // grad.p holds now (before regularisation), so each user's perturbation is that
        // direction scaled to norm epsilon; likewise for items.
        scratch.p_adv = perturbed(&s.p, &grad.p, k, adv.epsilon);
        scratch.q_adv = perturbed(&s.q, &grad.q, k, adv.epsilon);
        let adv_loss = data_pass(
            data,
            csc_to_csr,
            k,
            s,
            &scratch.p_adv,
            &scratch.q_adv,
            adv.alpha,
            grad,
            &mut scratch.e,
        );
        loss += adv.alpha * adv_loss;
    }
    // b's gradient is the sum of all (weighted) residuals, i.e. of the user-bias data terms;
    // summed in user order so that it is deterministic.
    grad.b = grad.bu.iter().sum();
    let norm2 = |x: &[f64]| dot(x, x);
    let reg = lambda * (norm2(&s.p) + norm2(&s.q) + norm2(&s.bu) + norm2(&s.bi));
    let c = 2.0 / data.nnz() as f64;
    let finish = |g: &mut [f64], theta: &[f64]| {
        g.par_iter_mut().zip(theta.par_iter()).for_each(|(g, &x)| {
            *g = c * (*g + lambda * x);
        });
    };
    finish(&mut grad.p, &s.p);
    finish(&mut grad.q, &s.q);
    finish(&mut grad.bu, &s.bu);
    finish(&mut grad.bi, &s.bi);
    grad.b *= c;
    (loss + reg) / data.nnz() as f64
}

/// `theta + epsilon g / ||g||` row by row (a zero gradient row is not perturbed).
fn perturbed(theta: &[f64], g: &[f64], k: usize, epsilon: f64) -> Vec<f64> {
    let mut out = theta.to_vec();
    if epsilon == 0.0 {
        return out;
    }
    out.par_chunks_mut(k)
        .zip(g.par_chunks(k))
        .for_each(|(row, gr)| {
            let norm = dot(gr, gr).sqrt();
            if norm > 0.0 {
                axpy(row, epsilon / norm, gr);
            }
        });
    out
}

/// One user's residuals (stored in `eu`) and data terms `gp += w sum e q_i`; returns
/// `(sum e^2, sum e)`. A [`Job`], so it runs on the widest instruction set the CPU has.
struct UserTerms<'s> {
    items: &'s [u32],
    values: &'s [f64],
    p_u: &'s [f64],
    qi: &'s [f64],
    bi: &'s [f64],
    base: f64,
    weight: f64,
    eu: &'s mut [f64],
    gp: &'s mut [f64],
}

impl Job for UserTerms<'_> {
    type Output = (f64, f64);

    #[inline(always)]
    fn run<S: Simd>(self) -> (f64, f64) {
        let k = self.p_u.len();
        let (mut loss, mut esum) = (0.0, 0.0);
        for ((&i, &r), slot) in self.items.iter().zip(self.values).zip(self.eu.iter_mut()) {
            let q_i = &self.qi[i as usize * k..(i as usize + 1) * k];
            let err = self.base + self.bi[i as usize] + dot(self.p_u, q_i) - r;
            *slot = err;
            loss += err * err;
            esum += err;
            axpy(self.gp, self.weight * err, q_i);
        }
        (loss, esum)
    }
}

/// One item's data terms `gq += w sum e p_u` from the residuals the user pass stored (CSR
/// order, reached through the item's CSC -> CSR `positions`); returns `sum e`.
struct ItemTerms<'s> {
    users: &'s [u32],
    positions: &'s [u32],
    e: &'s [f64],
    pu: &'s [f64],
    weight: f64,
    gq: &'s mut [f64],
}

impl Job for ItemTerms<'_> {
    type Output = f64;

    #[inline(always)]
    fn run<S: Simd>(self) -> f64 {
        let k = self.gq.len();
        let mut esum = 0.0;
        for (&u, &pos) in self.users.iter().zip(self.positions) {
            let err = self.e[pos as usize];
            esum += err;
            axpy(
                self.gq,
                self.weight * err,
                &self.pu[u as usize * k..(u as usize + 1) * k],
            );
        }
        esum
    }
}

/// Residuals `e = (pu . qi + b_u + b_i + b) - r` with the given user factors `pu` and item
/// factors `qi`, and the data terms of the gradient weighted by `weight`, added into `grad`:
/// `grad.p_u += w sum e qi_i`, `grad.b_u += w sum e`, `grad.q_i += w sum e pu_u`,
/// `grad.b_i += w sum e`. Returns `sum e^2`.
#[allow(clippy::too_many_arguments)]
fn data_pass(
    data: &TwoWay<'_>,
    csc_to_csr: &[u32],
    k: usize,
    s: &State,
    pu: &[f64],
    qi: &[f64],
    weight: f64,
    grad: &mut Grad,
    e: &mut [f64],
) -> f64 {
    let isa = Isa::detect();
    let rows = &data.rows;
    let cuts: Vec<usize> = rows.ptr.iter().map(|&p| p as usize).collect();
    let per_user = split_at_cuts(e, &cuts, 1);
    let losses: Vec<f64> = per_user
        .into_par_iter()
        .zip(grad.p.par_chunks_mut(k))
        .zip(grad.bu.par_iter_mut())
        .enumerate()
        .map(|(u, ((eu, gp), gbu))| {
            let (items, values) = rows.outer(u);
            let (loss, esum) = isa.run(UserTerms {
                items,
                values,
                p_u: &pu[u * k..(u + 1) * k],
                qi,
                bi: &s.bi,
                base: s.b + s.bu[u],
                weight,
                eu,
                gp,
            });
            *gbu += weight * esum;
            loss
        })
        .collect();
    let cols = &data.cols;
    let e: &[f64] = e;
    grad.q
        .par_chunks_mut(k)
        .zip(grad.bi.par_iter_mut())
        .enumerate()
        .for_each(|(i, (gq, gbi))| {
            let (users, _) = cols.outer(i);
            let esum = isa.run(ItemTerms {
                users,
                positions: &csc_to_csr[cols.range(i)],
                e,
                pu,
                weight,
                gq,
            });
            *gbi += weight * esum;
        });
    losses.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnmf_ratings::RatingScale;

    /// The gradient terms give the same bits on AVX2 and AVX-512F as on the portable path (an
    /// instruction set the CPU lacks runs the portable code: the comparison is then trivial).
    #[test]
    fn gradient_terms_give_the_same_bits_on_every_instruction_set() {
        let k = 11;
        let factors: Vec<f64> = (0..30 * k).map(|x| ((x * 53 % 97) as f64) / 40.0).collect();
        let items: Vec<u32> = (0..30).step_by(4).collect();
        let values: Vec<f64> = items.iter().map(|&i| 1.0 + (i % 5) as f64).collect();
        let bi: Vec<f64> = (0..30).map(|i| i as f64 / 60.0 - 0.2).collect();
        let user = |isa: Isa| {
            let (mut eu, mut gp) = (vec![0.0; items.len()], vec![0.0; k]);
            let (loss, esum) = isa.run(UserTerms {
                items: &items,
                values: &values,
                p_u: &factors[..k],
                qi: &factors,
                bi: &bi,
                base: 3.1,
                weight: 0.7,
                eu: &mut eu,
                gp: &mut gp,
            });
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (loss.to_bits(), esum.to_bits(), bits(&eu), bits(&gp))
        };
        for isa in [Isa::Avx2, Isa::Avx512] {
            assert_eq!(user(Isa::Portable), user(isa), "{isa:?}");
        }
        let positions: Vec<u32> = (0..items.len() as u32).rev().collect();
        let item = |isa: Isa| {
            let mut gq = vec![0.0; k];
            let esum = isa.run(ItemTerms {
                users: &items,
                positions: &positions,
                e: &values,
                pu: &factors,
                weight: 0.3,
                gq: &mut gq,
            });
            (
                esum.to_bits(),
                gq.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            )
        };
        for isa in [Isa::Avx2, Isa::Avx512] {
            assert_eq!(item(Isa::Portable), item(isa), "{isa:?}");
        }
    }

    /// 4 users x 3 items, 8 ratings (user 3 rates nothing but item 2).
    fn tiny() -> Ratings {
        Ratings::from_external(
            [
                ("a", "x", 5.0),
                ("a", "y", 3.0),
                ("b", "x", 4.0),
                ("b", "z", 1.0),
                ("c", "y", 2.0),
                ("c", "z", 5.0),
                ("c", "x", 3.0),
                ("d", "z", 4.0),
            ],
            RatingScale::MOVIELENS,
        )
        .unwrap()
    }

    fn state(n: usize, m: usize, k: usize) -> State {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut draw = |len: usize, lo: f64| -> Vec<f64> {
            (0..len).map(|_| lo + rng.random::<f64>()).collect()
        };
        State {
            p: draw(n * k, 0.2),
            q: draw(m * k, 0.2),
            bu: draw(n, -0.5),
            bi: draw(m, -0.5),
            b: 3.1,
        }
    }

    /// `J` written out directly with a fixed perturbation `(dp, dq)`, as the docs define it.
    #[allow(clippy::too_many_arguments)]
    fn direct_j(
        r: &Ratings,
        s: &State,
        k: usize,
        lambda: f64,
        alpha: f64,
        dp: &[f64],
        dq: &[f64],
    ) -> f64 {
        let mut loss = 0.0;
        for t in r.iter() {
            let (u, i) = (t.user as usize, t.item as usize);
            let base = s.b + s.bu[u] + s.bi[i];
            let mut x = base;
            let mut xp = base;
            for a in 0..k {
                x += s.p[u * k + a] * s.q[i * k + a];
                xp += (s.p[u * k + a] + dp[u * k + a]) * (s.q[i * k + a] + dq[i * k + a]);
            }
            loss += (x - t.value).powi(2) + alpha * (xp - t.value).powi(2);
        }
        let n2 = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
        (loss + lambda * (n2(&s.p) + n2(&s.q) + n2(&s.bu) + n2(&s.bi))) / r.nnz() as f64
    }

    /// The fast-gradient perturbation written out directly.
    fn direct_delta(r: &Ratings, s: &State, k: usize, eps: f64) -> (Vec<f64>, Vec<f64>) {
        let (mut gp, mut gq) = (vec![0.0; s.p.len()], vec![0.0; s.q.len()]);
        for t in r.iter() {
            let (u, i) = (t.user as usize, t.item as usize);
            let mut e = s.b + s.bu[u] + s.bi[i] - t.value;
            for a in 0..k {
                e += s.p[u * k + a] * s.q[i * k + a];
            }
            for a in 0..k {
                gp[u * k + a] += e * s.q[i * k + a];
                gq[i * k + a] += e * s.p[u * k + a];
            }
        }
        let scale = |g: &mut Vec<f64>| {
            for row in g.chunks_mut(k) {
                let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
                if norm > 0.0 {
                    row.iter_mut().for_each(|x| *x *= eps / norm);
                }
            }
        };
        scale(&mut gp);
        scale(&mut gq);
        (gp, gq)
    }

    fn check_gradient(adversary: Option<Adversary>) {
        let r = tiny();
        let data = TwoWay::of_ratings(&r);
        let (n, m, k, lambda) = (data.n, data.m, 2, 0.3);
        let s = state(n, m, k);
        let mut grad = Grad {
            p: vec![0.0; n * k],
            q: vec![0.0; m * k],
            bu: vec![0.0; n],
            bi: vec![0.0; m],
            b: 0.0,
        };
        let mut scratch = Scratch {
            e: vec![0.0; data.nnz()],
            p_adv: Vec::new(),
            q_adv: Vec::new(),
        };
        let j = evaluate(
            &data,
            r.csc_to_csr(),
            k,
            lambda,
            adversary,
            &s,
            &mut grad,
            &mut scratch,
        );
        let (eps, alpha) = adversary.map_or((0.0, 0.0), |a| (a.epsilon, a.alpha));
        let (dp, dq) = direct_delta(&r, &s, k, eps);
        let j_direct = direct_j(&r, &s, k, lambda, alpha, &dp, &dq);
        assert!(
            (j - j_direct).abs() < 1e-12 * j_direct,
            "J {j} vs direct {j_direct}"
        );

        // Central differences with the perturbation held fixed (the fast gradient method's
        // gradient treats Delta as a constant).
        let h = 1e-6;
        let central = |apply: &dyn Fn(&mut State, f64)| -> f64 {
            let (mut plus, mut minus) = (state(n, m, k), state(n, m, k));
            apply(&mut plus, h);
            apply(&mut minus, -h);
            (direct_j(&r, &plus, k, lambda, alpha, &dp, &dq)
                - direct_j(&r, &minus, k, lambda, alpha, &dp, &dq))
                / (2.0 * h)
        };
        let close = |analytic: f64, numeric: f64, what: &str| {
            assert!(
                (analytic - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                "{what}: analytic {analytic} vs numeric {numeric}"
            );
        };
        for x in 0..n * k {
            close(grad.p[x], central(&|st, d| st.p[x] += d), "dJ/dP");
        }
        for x in 0..m * k {
            close(grad.q[x], central(&|st, d| st.q[x] += d), "dJ/dQ");
        }
        for x in 0..n {
            close(grad.bu[x], central(&|st, d| st.bu[x] += d), "dJ/db_u");
        }
        for x in 0..m {
            close(grad.bi[x], central(&|st, d| st.bi[x] += d), "dJ/db_i");
        }
        close(grad.b, central(&|st, d| st.b += d), "dJ/db");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        check_gradient(None);
    }

    #[test]
    fn adversarial_objective_and_gradient_match_the_definition() {
        check_gradient(Some(Adversary {
            epsilon: 0.3,
            alpha: 0.7,
        }));
    }
}
