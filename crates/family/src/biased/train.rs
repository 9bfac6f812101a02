//! Full-batch projected Adam for biased NMF, optionally with fast-gradient adversarial
//! perturbations of the factors (see [`crate::adversarial`]).

use cnmf_ratings::Ratings;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::{BiasedNmfModel, ValidBiasedNmfParams};
use crate::kernels::{all_finite, axpy, dot, split_by_ptr};
use crate::observer::Observer;
use crate::sparse::TwoWay;
use crate::FamilyError;

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
    observer: &mut dyn Observer,
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

    let mut trace = Vec::with_capacity(params.epochs() + 1);
    for epoch in 0..=params.epochs() {
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
        if !obj.is_finite() {
            return Err(FamilyError::NotFinite {
                what: "biased NMF objective",
                iteration: epoch,
            });
        }
        observer.on_iteration(epoch, obj);
        trace.push(obj);
        if epoch == params.epochs() {
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
    Ok(model.with_trace(trace))
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
                axpy(epsilon / norm, gr, row);
            }
        });
    out
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
    let rows = &data.rows;
    let per_user = split_by_ptr(e, &rows.ptr);
    let losses: Vec<f64> = per_user
        .into_par_iter()
        .zip(grad.p.par_chunks_mut(k))
        .zip(grad.bu.par_iter_mut())
        .enumerate()
        .map(|(u, ((eu, gp), gbu))| {
            let (items, values) = rows.outer(u);
            let p_u = &pu[u * k..(u + 1) * k];
            let base = s.b + s.bu[u];
            let mut loss = 0.0;
            let mut esum = 0.0;
            for ((&i, &r), slot) in items.iter().zip(values).zip(eu.iter_mut()) {
                let q_i = &qi[i as usize * k..(i as usize + 1) * k];
                let err = base + s.bi[i as usize] + dot(p_u, q_i) - r;
                *slot = err;
                loss += err * err;
                esum += err;
                axpy(weight * err, q_i, gp);
            }
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
            let start = cols.ptr[i];
            let mut esum = 0.0;
            for (pos, &u) in users.iter().enumerate() {
                let err = e[csc_to_csr[start + pos] as usize];
                esum += err;
                axpy(weight * err, &pu[u as usize * k..(u as usize + 1) * k], gq);
            }
            *gbi += weight * esum;
        });
    losses.iter().sum()
}
