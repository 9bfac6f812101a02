//! Bias lab: can nonnegative multiplicative updates reach LIBMF's accuracy on MovieLens 100K?
//!
//! Ignore-missing NMF with optional nonnegative user and item biases
//! (`x_ui = w_u . h_i + b_u + c_i`, i.e. W and H each augmented by a learned and a pinned
//! column) and an L2 penalty that is either constant per row (the engine's) or proportional to
//! the row's number of ratings (as SGD's per-rating regularisation is), with early stopping on a
//! validation split of the training data. Prints the test NMAE at the best validation
//! iteration of every configuration. A research harness, as `defence_lab.rs` is.
//!
//! ```text
//! CNMF_DATA=<folder holding ml-100k/> cargo run --release -p xtask --example bias_lab -- --reps 3
//! ```

use anyhow::{Context, Result};
use cnmf_engine::{Algorithm, FitOptions, NmfParams};
use cnmf_ratings::split::random_holdout;
use cnmf_ratings::{load, LoadOptions, Ratings, Triple};

const EPS: f64 = 1e-12;

#[derive(Clone, Copy, Debug)]
struct Config {
    k: usize,
    biases: bool,
    /// L2 per row: `l2` (constant) or `l2 * n_row` (per rating).
    l2: f64,
    per_rating: bool,
    max_iters: usize,
}

struct Fit {
    k: usize,
    w: Vec<f64>,
    h: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
}

impl Fit {
    fn predict(&self, u: u32, i: u32) -> f64 {
        let (u, i) = (u as usize, i as usize);
        let k = self.k;
        let dot: f64 = (0..k).map(|f| self.w[u * k + f] * self.h[i * k + f]).sum();
        dot + self.b[u] + self.c[i]
    }
}

fn nmae(f: &Fit, t: &[Triple]) -> f64 {
    t.iter()
        .map(|t| (f.predict(t.user, t.item).clamp(1.0, 5.0) - t.value).abs())
        .sum::<f64>()
        / t.len() as f64
        / 4.0
}

/// One multiplicative half-step over rows of `csr`-like access: `rows(r)` gives (cols, values).
#[allow(clippy::too_many_arguments)]
fn half_step(
    n_rows: usize,
    k: usize,
    rows: &dyn Fn(usize) -> (Vec<u32>, Vec<f64>),
    w: &mut [f64],
    b: &mut [f64],
    h: &[f64],
    c: &[f64],
    cfg: &Config,
) {
    let mut num = vec![0.0; k];
    let mut den = vec![0.0; k];
    for r in 0..n_rows {
        let (cols, vals) = rows(r);
        if cols.is_empty() {
            continue;
        }
        num.iter_mut().for_each(|x| *x = 0.0);
        den.iter_mut().for_each(|x| *x = 0.0);
        let (mut nb, mut db) = (0.0, 0.0);
        for (&j, &v) in cols.iter().zip(&vals) {
            let j = j as usize;
            let hj = &h[j * k..j * k + k];
            let wr = &w[r * k..r * k + k];
            let x: f64 = wr.iter().zip(hj).map(|(a, b)| a * b).sum::<f64>() + b[r] + c[j];
            for f in 0..k {
                num[f] += v * hj[f];
                den[f] += x * hj[f];
            }
            nb += v;
            db += x;
        }
        let l2 = if cfg.per_rating {
            cfg.l2 * cols.len() as f64
        } else {
            cfg.l2
        };
        for f in 0..k {
            let wf = w[r * k + f];
            w[r * k + f] = wf * num[f] / (den[f] + l2 * wf + EPS);
        }
        if cfg.biases {
            b[r] = b[r] * nb / (db + l2 * b[r] + EPS);
        }
    }
}

/// Test NMAE after exactly `iters` iterations on `train` (no early stopping).
fn refit(train: &Ratings, test: &[Triple], cfg: &Config, seed: u64, iters: usize) -> f64 {
    let cfg = Config {
        max_iters: iters,
        ..*cfg
    };
    // The test set as "validation" only records the last iteration's figure when it is the
    // best; run without stopping and read the final model instead.
    fit_inner(train, test, test, &cfg, seed, false).2
}

fn fit(train: &Ratings, val: &[Triple], test: &[Triple], cfg: &Config, seed: u64) -> (f64, usize) {
    let (t, it, _) = fit_inner(train, val, test, cfg, seed, true);
    (t, it)
}

fn fit_inner(
    train: &Ratings,
    val: &[Triple],
    test: &[Triple],
    cfg: &Config,
    seed: u64,
    stop: bool,
) -> (f64, usize, f64) {
    let (n, m, k) = (train.n_users(), train.n_items(), cfg.k);
    let mean = train.mean();
    // splitmix64: the lab needs uniform draws, not a particular generator.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        0.5 + ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let share = if cfg.biases { 0.5 } else { 1.0 };
    let scale = (share * mean / k as f64).sqrt();
    let mut f = Fit {
        k,
        w: (0..n * k).map(|_| scale * uniform()).collect(),
        h: (0..m * k).map(|_| scale * uniform()).collect(),
        b: vec![if cfg.biases { 0.25 * mean } else { 0.0 }; n],
        c: vec![if cfg.biases { 0.25 * mean } else { 0.0 }; m],
    };
    let by_user = |u: usize| {
        let (i, v) = train.user(u as u32);
        (i.to_vec(), v.to_vec())
    };
    let by_item = |i: usize| {
        let (u, v) = train.item(i as u32);
        (u.to_vec(), v.to_vec())
    };
    let (mut best, mut best_it, mut best_test) = (f64::INFINITY, 0, f64::NAN);
    for it in 1..=cfg.max_iters {
        let (h, c) = (f.h.clone(), f.c.clone());
        half_step(n, k, &by_user, &mut f.w, &mut f.b, &h, &c, cfg);
        let (w, b) = (f.w.clone(), f.b.clone());
        half_step(m, k, &by_item, &mut f.h, &mut f.c, &w, &b, cfg);
        let v = nmae(&f, val);
        if v < best {
            (best, best_it, best_test) = (v, it, nmae(&f, test));
        }
        if stop && it > best_it + 20 {
            break;
        }
    }
    (best_test, best_it, nmae(&f, test))
}

/// The engine's own algorithms with its per-rating L2 and validation early stopping, then
/// refitted on all the training data for the chosen iteration count: test NMAE.
fn engine_table(data: &Ratings, reps: usize) -> Result<()> {
    println!("| algorithm | k | L2 | test NMAE, early-stopped (mean over {reps}) | best iteration | refit |");
    println!("|---|---|---|---|---|---|");
    for alg in [
        Algorithm::IgnoreMissing,
        Algorithm::IgnoreCorrupt,
        Algorithm::Guarded,
    ] {
        for (k, l2, per_rating) in [(20, 0.0, false), (20, 0.05, true), (20, 0.1, true)] {
            let (mut sum, mut its, mut re) = (0.0, 0, 0.0);
            for rep in 0..reps {
                let split = random_holdout(data, 0.1, 100 + rep as u64)?;
                let inner = random_holdout(&split.train, 0.1, 200 + rep as u64)?;
                let params = |iters: usize, stop: bool| {
                    let p = NmfParams::new(k, alg)
                        .noise_model(0.9566, 0.05)
                        .l2_w(l2)
                        .l2_h(l2)
                        .l2_per_rating(per_rating)
                        .max_iters(iters)
                        .seed(rep as u64);
                    if stop {
                        p.early_stopping(20)
                    } else {
                        p
                    }
                };
                let m = params(600, true)
                    .check()?
                    .fit_with(&inner.train, FitOptions::new().validation(&inner.test))?;
                let it = m.iterations();
                let score = |m: &cnmf_engine::NmfModel| {
                    split
                        .test
                        .iter()
                        .map(|t| (m.predict(t.user, t.item) - t.value).abs())
                        .sum::<f64>()
                        / split.test.len() as f64
                        / 4.0
                };
                sum += score(&m);
                its += it;
                let full = params(it.max(1), false).check()?.fit(&split.train)?;
                re += score(&full);
            }
            let l2s = if per_rating {
                format!("{l2} x n")
            } else {
                format!("{l2}")
            };
            println!(
                "| {alg} | {k} | {l2s} | {:.4} | {} | {:.4} |",
                sum / reps as f64,
                its / reps,
                re / reps as f64
            );
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|p| args.get(p + 1))
        .map_or(Ok(3), |v| v.parse())?;
    let dir = std::env::var("CNMF_DATA").context("set CNMF_DATA to the folder holding ml-100k/")?;
    let data = load(
        std::path::Path::new(&dir).join("ml-100k/u.data"),
        &LoadOptions::default(),
    )?;
    if args.iter().any(|a| a == "--engine") {
        return engine_table(&data, reps);
    }
    let grid = args.iter().any(|a| a == "--fine");
    let mut configs = Vec::new();
    if grid {
        for k in [20, 50] {
            for l2 in [0.06, 0.08, 0.1] {
                configs.push(Config {
                    k,
                    biases: true,
                    l2,
                    per_rating: true,
                    max_iters: 2000,
                });
            }
        }
    } else {
        for k in [10, 20, 50] {
            for biases in [false, true] {
                for (l2, per_rating) in [
                    (0.0, false),
                    (1.0, false),
                    (0.02, true),
                    (0.05, true),
                    (0.1, true),
                    (0.2, true),
                ] {
                    configs.push(Config {
                        k,
                        biases,
                        l2,
                        per_rating,
                        max_iters: 400,
                    });
                }
            }
        }
    }
    println!(
        "| k | biases | L2 | test NMAE (mean over {reps}) | best iteration | refit on all training data |"
    );
    println!("|---|---|---|---|---|---|");
    for cfg in &configs {
        let (mut sum, mut its, mut re) = (0.0, 0, 0.0);
        for rep in 0..reps {
            let split = random_holdout(&data, 0.1, 100 + rep as u64)?;
            let inner = random_holdout(&split.train, 0.1, 200 + rep as u64)?;
            let (t, it) = fit(&inner.train, &inner.test, &split.test, cfg, rep as u64);
            sum += t;
            its += it;
            re += refit(&split.train, &split.test, cfg, rep as u64, it);
        }
        let l2 = if cfg.per_rating {
            format!("{} x n", cfg.l2)
        } else {
            format!("{}", cfg.l2)
        };
        println!(
            "| {} | {} | {} | {:.4} | {} | {:.4} |",
            cfg.k,
            cfg.biases,
            l2,
            sum / reps as f64,
            its / reps,
            re / reps as f64
        );
    }
    Ok(())
}
