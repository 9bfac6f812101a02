//! Helpers shared by the engine's integration tests: made-up data and a dense reference.

#![allow(dead_code)]
// The dense reference reads like the formulas it transcribes: explicit index loops.
#![allow(clippy::needless_range_loop)]

use std::sync::Arc;

use cnmf_engine::{Algorithm, NmfModel};
use cnmf_ratings::{DuplicatePolicy, IdMap, RatingScale, Ratings, Triple};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Ratings over `n` users and `m` items (every index exists) from dense triples.
pub fn ratings(n: usize, m: usize, triples: &[Triple], scale: RatingScale) -> Ratings {
    Ratings::from_triples(
        Arc::new(IdMap::sequential(n)),
        Arc::new(IdMap::sequential(m)),
        scale,
        triples,
        DuplicatePolicy::Error,
    )
    .expect("valid made-up ratings")
}

/// A random `n x m` instance: each entry observed with probability `density`, values uniform
/// in `[1, 5]`; at least one rating.
pub fn random_instance(n: usize, m: usize, density: f64, seed: u64) -> Ratings {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Vec::new();
    for u in 0..n as u32 {
        for i in 0..m as u32 {
            if rng.random_bool(density) {
                t.push(Triple::new(u, i, rng.random_range(1.0..=5.0)));
            }
        }
    }
    if t.is_empty() {
        t.push(Triple::new(0, 0, 3.0));
    }
    ratings(n, m, &t, RatingScale::MOVIELENS)
}

/// Dense reference of the algorithms, written straight from the specification's dense formulas
/// (section 3) and the robust baselines' weighted update on plain `n x m` arrays. `w` is `n x k`, `h` is `k x m` here (the
/// specification's layout), `z` the flags (dense, only meaningful where observed).
pub struct Dense {
    pub n: usize,
    pub m: usize,
    pub k: usize,
    pub v: Vec<Option<f64>>,
    pub w: Vec<f64>,
    pub h: Vec<f64>,
    pub z: Vec<bool>,
}

const EPS: f64 = 1e-12;

pub struct DenseParams {
    pub algorithm: Algorithm,
    pub lambda: f64,
    pub decay: f64,
    pub l2_w: f64,
    pub l2_h: f64,
    /// Each row's penalty times its number of observed ratings.
    pub l2_per_rating: bool,
    pub warmup: usize,
    /// `trimmed`'s share of dropped entries.
    pub trim_fraction: f64,
    /// `guarded`'s threshold scales `a` (user side) and `b` (item side) and profile screen.
    pub user_scale: f64,
    pub item_scale: f64,
    pub screen: Option<f64>,
}

/// `guarded`'s profile screen written out plainly: each user's mean `ln(1 + item count)` over
/// its rated items; flagged when below `median - z 1.4826 MAD` (users with ratings only; the
/// median of an even count is the mean of the middle two; nobody when the MAD is 0).
pub fn reference_screen(
    n: usize,
    m: usize,
    observed: impl Fn(usize, usize) -> bool,
    z: f64,
) -> Vec<bool> {
    let counts: Vec<usize> = (0..m)
        .map(|i| (0..n).filter(|&u| observed(u, i)).count())
        .collect();
    let score: Vec<Option<f64>> = (0..n)
        .map(|u| {
            let rated: Vec<usize> = (0..m).filter(|&i| observed(u, i)).collect();
            if rated.is_empty() {
                return None;
            }
            let sum: f64 = rated.iter().map(|&i| (counts[i] as f64 + 1.0).ln()).sum();
            Some(sum / rated.len() as f64)
        })
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let h = v.len() / 2;
        if v.len() % 2 == 1 {
            v[h]
        } else {
            (v[h - 1] + v[h]) / 2.0
        }
    };
    let s: Vec<f64> = score.iter().flatten().copied().collect();
    if s.is_empty() {
        return vec![false; n];
    }
    let med = median(s.clone());
    let mad = median(s.iter().map(|x| (x - med).abs()).collect());
    if mad == 0.0 {
        return vec![false; n];
    }
    score
        .iter()
        .map(|x| matches!(x, Some(x) if *x < med - z * 1.4826 * mad))
        .collect()
}

impl Dense {
    /// From data and the engine's factor layout (H item-major) to the spec's layout.
    pub fn new(data: &Ratings, k: usize, w: &[f64], h_item_major: &[f64]) -> Dense {
        let (n, m) = (data.n_users(), data.n_items());
        let mut v = vec![None; n * m];
        for t in data.iter() {
            v[t.user as usize * m + t.item as usize] = Some(t.value);
        }
        let mut h = vec![0.0; k * m];
        for i in 0..m {
            for a in 0..k {
                h[a * m + i] = h_item_major[i * k + a];
            }
        }
        Dense {
            n,
            m,
            k,
            v,
            w: w.to_vec(),
            h,
            z: vec![false; n * m],
        }
    }

    /// `W H`.
    pub fn product(&self, w: &[f64], h: &[f64]) -> Vec<f64> {
        let (n, m, k) = (self.n, self.m, self.k);
        let mut x = vec![0.0; n * m];
        for u in 0..n {
            for i in 0..m {
                x[u * m + i] = (0..k).map(|a| w[u * k + a] * h[a * m + i]).sum();
            }
        }
        x
    }

    /// H in the engine's item-major layout.
    pub fn h_item_major(&self) -> Vec<f64> {
        let (m, k) = (self.m, self.k);
        let mut out = vec![0.0; m * k];
        for i in 0..m {
            for a in 0..k {
                out[i * k + a] = self.h[a * m + i];
            }
        }
        out
    }

    /// One iteration `t` of the dense algorithm.
    /// The weight of user `u`'s or item `i`'s L2 penalty: 1, or its number of observed ratings.
    fn l2_weight(&self, p: &DenseParams, u: Option<usize>, i: Option<usize>) -> f64 {
        if !p.l2_per_rating {
            return 1.0;
        }
        let observed = |e: usize| self.v[e].is_some();
        match (u, i) {
            (Some(u), _) => (0..self.m).filter(|&i| observed(u * self.m + i)).count() as f64,
            (_, Some(i)) => (0..self.n).filter(|&u| observed(u * self.m + i)).count() as f64,
            _ => unreachable!("a user or an item"),
        }
    }

    pub fn iterate(&mut self, t: usize, p: &DenseParams) {
        let (n, m, k) = (self.n, self.m, self.k);
        let x = self.product(&self.w, &self.h);
        let corrupt_weight = match p.algorithm {
            Algorithm::ReplaceCorrupt => p.decay.powi(t as i32),
            _ => 0.0,
        };
        // Data weight of each entry: 1 active, c corrupt (replace), 0 missing / ignored; the
        // robust weights of huber and l1 from the residuals of X, once the warm-up is over.
        let mut weight = vec![0.0; n * m];
        for e in 0..n * m {
            if let (Some(v), Algorithm::Huber | Algorithm::L1) = (self.v[e], p.algorithm) {
                let r: f64 = v - x[e];
                weight[e] = if t <= p.warmup {
                    1.0
                } else if p.algorithm == Algorithm::L1 {
                    0.5 / (r * r + cnmf_engine::L1_SMOOTHING.powi(2)).sqrt()
                } else if r * r > p.lambda {
                    p.lambda.sqrt() / r.abs()
                } else {
                    1.0
                };
            } else if self.v[e].is_some() {
                weight[e] = if self.z[e] {
                    if p.algorithm.replaces() {
                        corrupt_weight
                    } else {
                        0.0
                    }
                } else {
                    1.0
                };
            }
        }
        // guarded: the user side's weights C_W (all ones until the warm-up and iteration 1 are
        // over) in `weight`, the item side's C_H in `weight_h`, both from the residuals of X.
        let mut weight_h = weight.clone();
        if p.algorithm == Algorithm::Guarded {
            let screened = match p.screen {
                Some(z) => reference_screen(n, m, |u, i| self.v[u * m + i].is_some(), z),
                None => vec![false; n],
            };
            let root = p.lambda.sqrt();
            for e in 0..n * m {
                if let Some(v) = self.v[e] {
                    let r: f64 = v - x[e];
                    weight[e] = if t <= p.warmup + 1 || r.abs() <= p.user_scale * root {
                        1.0
                    } else {
                        0.0
                    };
                    weight_h[e] = if t <= p.warmup {
                        1.0
                    } else if screened[e / m] || r.abs() > p.item_scale * root {
                        0.0
                    } else {
                        1.0
                    };
                }
            }
        }
        let row_active = |u: usize| (0..m).any(|i| weight[u * m + i] > 0.0);
        let col_active = |i: usize| (0..n).any(|u| weight_h[u * m + i] > 0.0);
        let mut w1 = self.w.clone();
        let mut h1 = self.h.clone();
        if p.algorithm.replaces() {
            // Vbar = A.*V + (1-A).*X with the interpolation on corrupt entries.
            let mut vbar = x.clone();
            for e in 0..n * m {
                if let Some(v) = self.v[e] {
                    vbar[e] = weight[e] * v + (1.0 - weight[e]) * x[e];
                }
            }
            // W <- W .* (Vbar H^T) ./ (W H H^T + l2 W + eps)
            for u in 0..n {
                if !row_active(u) {
                    continue;
                }
                for a in 0..k {
                    let num: f64 = (0..m).map(|i| vbar[u * m + i] * self.h[a * m + i]).sum();
                    let den: f64 = (0..m).map(|i| x[u * m + i] * self.h[a * m + i]).sum();
                    let w = self.w[u * k + a];
                    w1[u * k + a] =
                        w * num / (den + p.l2_w * self.l2_weight(p, Some(u), None) * w + EPS);
                }
            }
            // H <- H .* (W1^T Vbar) ./ (W1^T W1 H + l2 H + eps), Vbar unchanged.
            let x1 = self.product(&w1, &self.h);
            for i in 0..m {
                if !col_active(i) {
                    continue;
                }
                for a in 0..k {
                    let num: f64 = (0..n).map(|u| w1[u * k + a] * vbar[u * m + i]).sum();
                    let den: f64 = (0..n).map(|u| w1[u * k + a] * x1[u * m + i]).sum();
                    let h = self.h[a * m + i];
                    h1[a * m + i] =
                        h * num / (den + p.l2_h * self.l2_weight(p, None, Some(i)) * h + EPS);
                }
            }
        } else {
            // W <- W .* ((A.*V) H^T) ./ ((A.*(W H)) H^T + l2 W + eps)
            for u in 0..n {
                if !row_active(u) {
                    continue;
                }
                for a in 0..k {
                    let (mut num, mut den) = (0.0, 0.0);
                    for i in 0..m {
                        let e = u * m + i;
                        if weight[e] > 0.0 {
                            num += weight[e] * self.v[e].unwrap() * self.h[a * m + i];
                            den += weight[e] * x[e] * self.h[a * m + i];
                        }
                    }
                    let w = self.w[u * k + a];
                    w1[u * k + a] =
                        w * num / (den + p.l2_w * self.l2_weight(p, Some(u), None) * w + EPS);
                }
            }
            // H <- H .* (W^T (A.*V)) ./ (W^T (A.*(W H)) + l2 H + eps), with the new W.
            let x1 = self.product(&w1, &self.h);
            for i in 0..m {
                if !col_active(i) {
                    continue;
                }
                for a in 0..k {
                    let (mut num, mut den) = (0.0, 0.0);
                    for u in 0..n {
                        let e = u * m + i;
                        if weight_h[e] > 0.0 {
                            num += weight_h[e] * w1[u * k + a] * self.v[e].unwrap();
                            den += weight_h[e] * w1[u * k + a] * x1[e];
                        }
                    }
                    let h = self.h[a * m + i];
                    h1[a * m + i] =
                        h * num / (den + p.l2_h * self.l2_weight(p, None, Some(i)) * h + EPS);
                }
            }
        }
        self.w = w1;
        self.h = h1;
        // trimmed: Z <- the floor(q |Omega|) largest squared residuals (ties: lowest position,
        // which is row-major order here), once the warm-up is over.
        if p.algorithm == Algorithm::Trimmed {
            if t > p.warmup {
                let x = self.product(&self.w, &self.h);
                let mut obs: Vec<(f64, usize)> = (0..n * m)
                    .filter_map(|e| self.v[e].map(|v| ((v - x[e]).powi(2), e)))
                    .collect();
                let drop = (p.trim_fraction * obs.len() as f64).floor() as usize;
                obs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                self.z = vec![false; n * m];
                for &(_, e) in &obs[..drop] {
                    self.z[e] = true;
                }
            }
            return;
        }
        // guarded: Z <- the item side's zero weights of the next iteration, from the new
        // product (all zero while the next iteration is still in the warm-up).
        if p.algorithm == Algorithm::Guarded {
            if t >= p.warmup {
                let screened = match p.screen {
                    Some(z) => reference_screen(n, m, |u, i| self.v[u * m + i].is_some(), z),
                    None => vec![false; n],
                };
                let x = self.product(&self.w, &self.h);
                let cut = p.item_scale * p.lambda.sqrt();
                for e in 0..n * m {
                    if let Some(v) = self.v[e] {
                        self.z[e] = screened[e / m] || (v - x[e]).abs() > cut;
                    }
                }
            }
            return;
        }
        // Z <- (V - W H)^2 > lambda on observed entries, once the warm-up is over (huber: the
        // entries beyond delta, flagged as soon as the next iteration reweights).
        let from = if p.algorithm == Algorithm::Huber {
            p.warmup.saturating_sub(1)
        } else {
            p.warmup
        };
        if p.algorithm.flags_corruption() && t > from {
            let x = self.product(&self.w, &self.h);
            for e in 0..n * m {
                if let Some(v) = self.v[e] {
                    self.z[e] = (v - x[e]).powi(2) > p.lambda;
                }
            }
        }
    }
}

/// Largest relative difference `|a - b| / max(|a|, |b|, 1e-300)`.
pub fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-300))
        .fold(0.0, f64::max)
}

/// Each iteration's loss and objective (as bits) and flag count: what "the same trace, bit
/// for bit" compares.
pub fn trace_bits(m: &NmfModel) -> Vec<(u64, u64, usize)> {
    m.trace()
        .iter()
        .map(|s| (s.loss.to_bits(), s.objective.to_bits(), s.flagged))
        .collect()
}
