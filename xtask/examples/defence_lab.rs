//! Defence lab: candidate defences against review bombs, written as weight rules on observed
//! ratings, measured under the paper's protocol on MovieLens 100K.
//!
//! Every candidate of the lab is a weighted multiplicative update
//!
//! ```text
//! W <- W .* ((C.*T) H^T) ./ ((C.*(W H)) H^T + eps)      H likewise, with the new W
//! ```
//!
//! with weights `C >= 0` and targets `T` on the observed entries only (`T = V`, or the current
//! prediction for a filled entry), both computed from the residuals at the start of each
//! iteration and held fixed within it; a rule may give the H half-step its own weights
//! (`h_entry`, `h_cap`, and users flagged by its user rule). The engine's ignore-corrupt and
//! replace-corrupt-nointerp run beside them as baselines. Results and the winning rule:
//! `docs/defence-lab.md`.
//!
//! Run (from the repository root, `CNMF_DATA` naming the folder that holds `ml-100k/`):
//!
//! ```text
//! cargo run --release -p xtask --example defence_lab -- table --reps 20 --threads 2
//! cargo run --release -p xtask --example defence_lab -- diag --reps 2
//! ```
//!
//! `table` prints a Markdown table per candidate; `time` the time per iteration of each
//! candidate alone on one thread (relative to `lab-ic`, this file's own ignore-corrupt, which
//! must come first); `diag` how well in-sample residual statistics separate injected from
//! genuine users.

// Index loops over CSR/CSC positions are the natural form of the sparse passes here, and the
// candidate enum is built a handful of times per run.
#![allow(clippy::needless_range_loop, clippy::large_enum_variant)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cnmf_attacks::{AttackSize, AttackSpec, Attacked, Direction, FillerSize, TargetChoice, Timing};
use cnmf_engine::{init_factors, Algorithm, Factors, FitOptions, NmfParams};
use cnmf_metrics::{accuracy_of, mean_ci, paired_difference, prediction_shift, Detection};
use cnmf_ratings::{load, split, LoadOptions, Ratings, Triple};
use xtask::protocol::extend_init;
use xtask::seeds::{derive, Stream};

/// The run's lambda (noise model, p = 0.05, sigma = 0.9566: docs/reproduction).
const LAMBDA: f64 = 3.8823;
/// Rank.
const K: usize = 20;
/// Division guard of the spec.
const EPS: f64 = 1e-12;
/// Filler items of an injected profile.
const FILLER: usize = 19;
/// Minimum training ratings of a target.
const TARGET_MIN: usize = 100;
/// Target mean-rating bands.
const BANDS: [(f64, f64, &str); 3] = [
    (0.0, 3.4, "<3.4"),
    (3.4, 3.8, "3.4-3.8"),
    (3.8, 9.0, "3.8+"),
];

// ------------------------------------------------------------------------------------------
// Weight rules
// ------------------------------------------------------------------------------------------

/// User-level correction: a user whose ratings carry too much residual evidence has every
/// rating dropped (weight 0).
#[derive(Debug, Clone)]
struct UserRule {
    /// A residual is "large" when |r| > t.
    t: f64,
    /// Flag a user when the binomial z-score of their share of large residuals, against the
    /// share over all ratings, exceeds z.
    z: f64,
    /// ... and the share itself is at least this.
    min_share: f64,
    /// First iteration (0-based) at which users can be flagged.
    from_iter: usize,
    /// How users are flagged.
    mode: UserMode,
}

/// The evidence a user rule acts on.
#[derive(Debug, Clone)]
enum UserMode {
    /// The binomial z-score of the user's share of large residuals (`z`, `min_share`).
    Share,
    /// Suspects: the raters whose residual is large on the side of an item where that side
    /// shows a significant excess (observed count of residuals beyond `t` on one side above
    /// the count the global residual distribution at the same prediction level expects, by
    /// more than `zi` Poisson standard deviations and `min_extra` ratings). A suspect is
    /// flagged when, with `pop = Some(q)`, their rated items' mean log popularity is also
    /// below the users' median minus `q` MADs; with `None`, every suspect is flagged.
    Excess {
        zi: f64,
        min_extra: f64,
        pop: Option<f64>,
    },
    /// Every user whose rated items' mean log popularity is below the users' median minus
    /// `q` MADs (no residual evidence).
    Pop(f64),
    /// Every user whose items are best explained (maximum likelihood over a grid of pi) as a
    /// share pi >= `pi_min` of items drawn uniformly from the catalogue mixed with items drawn
    /// in proportion to their popularity: per item, pi / m + (1 - pi) (n_j + 1) / sum(n + 1).
    Mix { pi_min: f64 },
    /// As `Pop`, on the given quantile of the user's items' ln(1 + count) instead of the
    /// median.
    PopQ(f64, f64),
    /// Every user whose share of ratings on the catalogue's less popular half (items with
    /// fewer ratings than the median item) has a binomial z-score above `z` against the share
    /// over all ratings, and is at least `min_share`.
    Unpop { z: f64, min_share: f64 },
}

/// Per-item cap on one-sided large residuals: the total weight of an item's ratings with
/// residual below -t (above +t) may not exceed what the global residual distribution at the
/// same prediction level expects, plus `z` standard deviations.
#[derive(Debug, Clone)]
struct CapRule {
    t: f64,
    z: f64,
}

/// A lab candidate.
#[derive(Debug, Clone)]
struct LabRule {
    /// Entry threshold on |r| (rating units); `None` keeps every rating.
    entry: Option<f64>,
    /// Per-item entry thresholds: `entry` scaled by the item's robust residual scale over the
    /// global one, clamped to [lo, hi] times `entry`.
    item_scale: Option<(f64, f64)>,
    user: Option<UserRule>,
    cap: Option<CapRule>,
    /// Fill dropped entries (of unflagged users) with the current prediction instead of
    /// ignoring them.
    fill: bool,
    /// Iterations at the start with every weight 1 (ignore-corrupt's Z = 0 in iteration 1).
    warm: usize,
    /// Robust start: in the first `warm` iterations, instead of every weight 1, keep a rating
    /// when it lies within this distance of its item's median rating.
    start_median: Option<f64>,
    /// H half-step entry rule, when it differs from the W half-step's: threshold on |r| and
    /// its own count of all-ones iterations at the start.
    h_entry: Option<(f64, usize)>,
    /// Per-item cap applied to the H half-step's weights only.
    h_cap: Option<CapRule>,
    /// Flagged users keep their entry weights in the W half-step (their own fit) and are left
    /// out of the H half-step only; otherwise they are dropped from both.
    user_fit: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Engine(Algorithm),
    /// The engine's `guarded` with its burst screen on (`Some(window)`) or off, and its
    /// user and item threshold scales.
    Guarded {
        window: Option<u64>,
        user_scale: f64,
        item_scale: f64,
    },
    Lab(LabRule),
}

#[derive(Debug, Clone)]
struct Candidate {
    name: String,
    kind: Kind,
    /// The threshold an attacker adapted to this candidate uses (lambda for the paper's).
    own_lambda: f64,
}

/// The engine's default threshold scales of `guarded`.
const DEFAULT_A: f64 = cnmf_engine::DEFAULT_USER_THRESHOLD_SCALE;
const DEFAULT_B: f64 = cnmf_engine::DEFAULT_ITEM_THRESHOLD_SCALE;

fn guarded_kind(window: Option<u64>, user_scale: f64, item_scale: f64) -> Kind {
    Kind::Guarded {
        window,
        user_scale,
        item_scale,
    }
}

fn lab(name: &str, rule: LabRule) -> Candidate {
    // The attacker adapted to the candidate rates inside the threshold that moves the items.
    let own = match rule.h_entry {
        Some((ch, _)) => ch * ch,
        None => rule.entry.map_or(LAMBDA, |c| c * c),
    };
    Candidate {
        name: name.into(),
        kind: Kind::Lab(rule),
        own_lambda: own,
    }
}

fn base_rule() -> LabRule {
    LabRule {
        entry: None,
        item_scale: None,
        user: None,
        cap: None,
        fill: false,
        warm: 1,
        start_median: None,
        user_fit: true,
        h_entry: None,
        h_cap: None,
    }
}

fn user_rule() -> UserRule {
    UserRule {
        t: 1.5,
        z: 3.0,
        min_share: 0.3,
        from_iter: 5,
        mode: UserMode::Share,
    }
}

fn excess_rule(t: f64, pop: Option<f64>) -> UserRule {
    UserRule {
        t,
        z: 0.0,
        min_share: 0.0,
        from_iter: 5,
        mode: UserMode::Excess {
            zi: 3.0,
            min_extra: 5.0,
            pop,
        },
    }
}

/// Every candidate the lab knows, by name.
fn all_candidates() -> Vec<Candidate> {
    let c = LAMBDA.sqrt();
    let mut v = vec![
        Candidate {
            name: "ignore-corrupt".into(),
            kind: Kind::Engine(Algorithm::IgnoreCorrupt),
            own_lambda: LAMBDA,
        },
        Candidate {
            name: "replace-corrupt-nointerp".into(),
            kind: Kind::Engine(Algorithm::ReplaceCorruptNoInterp),
            own_lambda: LAMBDA,
        },
        Candidate {
            name: "guarded".into(),
            kind: guarded_kind(
                Some(cnmf_engine::DEFAULT_BURST_WINDOW),
                DEFAULT_A,
                DEFAULT_B,
            ),
            own_lambda: LAMBDA,
        },
        Candidate {
            name: "guarded-noburst".into(),
            kind: guarded_kind(None, DEFAULT_A, DEFAULT_B),
            own_lambda: LAMBDA,
        },
        lab(
            "lab-ic",
            LabRule {
                entry: Some(c),
                ..base_rule()
            },
        ),
    ];
    // guarded at other threshold scales (the MAPS-NMAE frontier of its item threshold); the
    // attacker adapted to it rates inside the item threshold.
    for (a, b) in [
        (0.8, 0.6),
        (0.8, 0.7),
        (0.8, 0.8),
        (0.8, 0.9),
        (0.8, 1.0),
        (0.9, 0.8),
        (0.9, 0.9),
        (1.0, 0.7),
        (1.0, 0.8),
        (1.0, 0.9),
        (1.0, 1.0),
    ] {
        v.push(Candidate {
            name: format!("guarded-w{a}-h{b}"),
            kind: guarded_kind(Some(cnmf_engine::DEFAULT_BURST_WINDOW), a, b),
            own_lambda: (b * c) * (b * c),
        });
    }
    for f in [0.5, 0.6, 0.7, 0.8, 0.9] {
        v.push(lab(
            &format!("lab-w0-{f}"),
            LabRule {
                entry: Some(f * c),
                warm: 0,
                ..base_rule()
            },
        ));
        v.push(lab(
            &format!("lab-w0-user-{f}"),
            LabRule {
                entry: Some(f * c),
                warm: 0,
                user: Some(user_rule()),
                ..base_rule()
            },
        ));
        v.push(lab(
            &format!("lab-w0-fill-{f}"),
            LabRule {
                entry: Some(f * c),
                warm: 0,
                fill: true,
                ..base_rule()
            },
        ));
        v.push(lab(
            &format!("lab-w0-pop-{f}"),
            LabRule {
                entry: Some(f * c),
                warm: 0,
                user: Some(excess_rule(1.0, Some(2.0))),
                ..base_rule()
            },
        ));
    }
    for f in [0.6, 0.7, 0.8, 0.9, 1.0] {
        for q in [2.5, 3.0, 3.5] {
            let pop = UserRule {
                mode: UserMode::Pop(q),
                ..user_rule()
            };
            v.push(lab(
                &format!("lab-w0-poponly{q}-{f}"),
                LabRule {
                    entry: Some(f * c),
                    warm: 0,
                    user: Some(pop.clone()),
                    ..base_rule()
                },
            ));
            v.push(lab(
                &format!("lab-poponly{q}-{f}"),
                LabRule {
                    entry: Some(f * c),
                    user: Some(pop.clone()),
                    ..base_rule()
                },
            ));
            v.push(lab(
                &format!("lab-poponly{q}-drop-{f}"),
                LabRule {
                    entry: Some(f * c),
                    user: Some(pop),
                    user_fit: false,
                    ..base_rule()
                },
            ));
        }
    }
    for fw in [0.8, 1.0] {
        for fh in [0.6, 0.8, 1.0] {
            for (t, z) in [(0.5, 2.0), (1.0, 2.0), (1.0, 1.0), (0.75, 1.0)] {
                v.push(lab(
                    &format!("lab-split-w{fw}-h{fh}-cap{t}-{z}-pop3"),
                    LabRule {
                        entry: Some(fw * c),
                        h_entry: Some((fh * c, 0)),
                        h_cap: Some(CapRule { t, z }),
                        user: Some(UserRule {
                            mode: UserMode::Pop(3.0),
                            ..user_rule()
                        }),
                        ..base_rule()
                    },
                ));
            }
        }
    }
    for fw in [0.8, 0.9, 1.0] {
        for fh in [0.5, 0.6, 0.65, 0.7, 0.8] {
            for pi in [0.3, 0.4, 0.5, 0.6] {
                v.push(lab(
                    &format!("lab-split-w{fw}-h{fh}-mix{pi}"),
                    LabRule {
                        entry: Some(fw * c),
                        h_entry: Some((fh * c, 0)),
                        user: Some(UserRule {
                            mode: UserMode::Mix { pi_min: pi },
                            ..user_rule()
                        }),
                        ..base_rule()
                    },
                ));
            }
            for q in [2.0, 2.5, 3.0, 3.5] {
                for quantile in [0.25, 0.5] {
                    v.push(lab(
                        &format!("lab-split-w{fw}-h{fh}-popq{q}-{quantile}"),
                        LabRule {
                            entry: Some(fw * c),
                            h_entry: Some((fh * c, 0)),
                            user: Some(UserRule {
                                mode: UserMode::PopQ(q, quantile),
                                ..user_rule()
                            }),
                            ..base_rule()
                        },
                    ));
                }
            }
            for z in [3.0, 4.0, 5.0, 6.0] {
                for ms in [0.2, 0.3] {
                    v.push(lab(
                        &format!("lab-split-w{fw}-h{fh}-unpop{z}-{ms}"),
                        LabRule {
                            entry: Some(fw * c),
                            h_entry: Some((fh * c, 0)),
                            user: Some(UserRule {
                                mode: UserMode::Unpop { z, min_share: ms },
                                ..user_rule()
                            }),
                            ..base_rule()
                        },
                    ));
                }
            }
            for q in [2.5, 3.0] {
                v.push(lab(
                    &format!("lab-split-w{fw}-h{fh}-pop{q}"),
                    LabRule {
                        entry: Some(fw * c),
                        h_entry: Some((fh * c, 0)),
                        user: Some(UserRule {
                            mode: UserMode::Pop(q),
                            ..user_rule()
                        }),
                        ..base_rule()
                    },
                ));
            }
        }
    }
    for f in [0.6, 0.7, 0.8, 0.9] {
        for cm in [1.0, 1.5, 2.0] {
            let start = LabRule {
                entry: Some(f * c),
                start_median: Some(cm),
                ..base_rule()
            };
            v.push(lab(&format!("lab-med{cm}-{f}"), start.clone()));
            v.push(lab(
                &format!("lab-med{cm}-pop-{f}"),
                LabRule {
                    user: Some(excess_rule(1.0, Some(2.0))),
                    ..start.clone()
                },
            ));
            for q in [2.0, 2.5, 3.0] {
                v.push(lab(
                    &format!("lab-med{cm}-poponly{q}-{f}"),
                    LabRule {
                        user: Some(UserRule {
                            mode: UserMode::Pop(q),
                            ..user_rule()
                        }),
                        ..start.clone()
                    },
                ));
            }
        }
    }
    for f in [0.6, 0.7, 0.8] {
        for (tag, t) in [("t1", 1.0), ("tc", f * c)] {
            v.push(lab(
                &format!("lab-excess-{tag}-{f}"),
                LabRule {
                    entry: Some(f * c),
                    user: Some(excess_rule(t, None)),
                    ..base_rule()
                },
            ));
            for q in [1.5, 2.0, 3.0] {
                v.push(lab(
                    &format!("lab-excess-pop{q}-{tag}-{f}"),
                    LabRule {
                        entry: Some(f * c),
                        user: Some(excess_rule(t, Some(q))),
                        ..base_rule()
                    },
                ));
            }
        }
        v.push(lab(
            &format!("lab-ic-{f}"),
            LabRule {
                entry: Some(f * c),
                ..base_rule()
            },
        ));
        v.push(lab(
            &format!("lab-ic-{f}-w0"),
            LabRule {
                entry: Some(f * c),
                warm: 0,
                ..base_rule()
            },
        ));
        v.push(lab(
            &format!("lab-user-{f}"),
            LabRule {
                entry: Some(f * c),
                user: Some(user_rule()),
                ..base_rule()
            },
        ));
        v.push(lab(
            &format!("lab-user-cap-{f}"),
            LabRule {
                entry: Some(f * c),
                user: Some(user_rule()),
                cap: Some(CapRule { t: 1.0, z: 2.0 }),
                ..base_rule()
            },
        ));
        v.push(lab(
            &format!("lab-user-fill-{f}"),
            LabRule {
                entry: Some(f * c),
                user: Some(user_rule()),
                fill: true,
                ..base_rule()
            },
        ));
        v.push(lab(
            &format!("lab-user-iscale-{f}"),
            LabRule {
                entry: Some(f * c),
                user: Some(user_rule()),
                item_scale: Some((0.7, 1.2)),
                ..base_rule()
            },
        ));
    }
    v
}

// ------------------------------------------------------------------------------------------
// The sparse weighted multiplicative update
// ------------------------------------------------------------------------------------------

/// The data in the layout the update streams: CSR for the users, CSC (with each entry's CSR
/// position) for the items.
struct Layout<'a> {
    n: usize,
    m: usize,
    uptr: Vec<usize>,
    items: &'a [u32],
    vals: &'a [f64],
    iptr: Vec<usize>,
    cusers: &'a [u32],
    c2r: &'a [u32],
}

impl<'a> Layout<'a> {
    fn new(r: &'a Ratings) -> Self {
        let (n, m) = (r.n_users(), r.n_items());
        let mut uptr = vec![0usize; n + 1];
        for u in 0..n {
            uptr[u + 1] = uptr[u] + r.user_count(u as u32);
        }
        let mut iptr = vec![0usize; m + 1];
        for i in 0..m {
            iptr[i + 1] = iptr[i] + r.item_count(i as u32);
        }
        Layout {
            n,
            m,
            uptr,
            items: r.csr().indices(),
            vals: r.csr().data(),
            iptr,
            cusers: r.csc().indices(),
            c2r: r.csc_to_csr(),
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for q in 0..4 {
            s[q] += x[q] * y[q];
        }
    }
    let mut t = (s[0] + s[1]) + (s[2] + s[3]);
    for (x, y) in ra.iter().zip(rb) {
        t += x * y;
    }
    t
}

/// A lab fit.
struct LabFit {
    k: usize,
    w: Vec<f64>,
    h: Vec<f64>,
    /// Users flagged by the user rule at the end.
    users: Vec<bool>,
    /// Entries with weight below 1 at the end (CSR order).
    dropped: usize,
    secs: f64,
    iters: usize,
}

impl LabFit {
    fn predict(&self, u: u32, i: u32) -> f64 {
        let k = self.k;
        dot(
            &self.w[u as usize * k..(u as usize + 1) * k],
            &self.h[i as usize * k..(i as usize + 1) * k],
        )
    }
}

/// Scratch of the weight rule.
struct Weights {
    a: Vec<f64>,
    /// H half-step weights (a copy of `a` unless the rule has `h_entry`).
    ah: Vec<f64>,
    t: Vec<f64>,
    users: Vec<bool>,
    /// Users whose rated items are atypically unpopular (static, per threshold).
    atypical: Vec<bool>,
}

/// Global rates of residuals below -t and above t in bins of the prediction.
const NB: usize = 16;
fn bin(xv: f64) -> usize {
    (((xv - 0.5) / 5.0 * NB as f64)
        .floor()
        .clamp(0.0, NB as f64 - 1.0)) as usize
}
fn side_rates(l: &Layout<'_>, x: &[f64], t: f64, skip: &[bool]) -> ([f64; NB], [f64; NB]) {
    let (mut cnt, mut neg, mut pos) = ([0.0f64; NB], [0.0f64; NB], [0.0f64; NB]);
    for u in 0..l.n {
        if skip[u] {
            continue;
        }
        for p in l.uptr[u]..l.uptr[u + 1] {
            let b = bin(x[p]);
            let r = l.vals[p] - x[p];
            cnt[b] += 1.0;
            if r < -t {
                neg[b] += 1.0;
            } else if r > t {
                pos[b] += 1.0;
            }
        }
    }
    for b in 0..NB {
        neg[b] /= cnt[b].max(1.0);
        pos[b] /= cnt[b].max(1.0);
    }
    (neg, pos)
}

/// Users whose maximum-likelihood share of uniformly chosen items is at least `pi_min`.
fn mixture_users(l: &Layout<'_>, pi_min: f64) -> Vec<bool> {
    let counts: Vec<f64> = (0..l.m)
        .map(|j| (l.iptr[j + 1] - l.iptr[j]) as f64 + 1.0)
        .collect();
    let total: f64 = counts.iter().sum();
    let uni = 1.0 / l.m as f64;
    (0..l.n)
        .map(|u| {
            let (b, e) = (l.uptr[u], l.uptr[u + 1]);
            if b == e {
                return false;
            }
            let ll = |pi: f64| -> f64 {
                (b..e)
                    .map(|p| (pi * uni + (1.0 - pi) * counts[l.items[p] as usize] / total).ln())
                    .sum()
            };
            let best = (0..=20)
                .map(|g| g as f64 / 20.0)
                .max_by(|&x, &y| ll(x).total_cmp(&ll(y)))
                .unwrap_or(0.0);
            best >= pi_min
        })
        .collect()
}

/// Users whose share of ratings on the less popular half of the catalogue is atypically high.
fn unpopular_users(l: &Layout<'_>, z0: f64, min_share: f64) -> Vec<bool> {
    let counts: Vec<usize> = (0..l.m).map(|j| l.iptr[j + 1] - l.iptr[j]).collect();
    let mut rated: Vec<usize> = counts.iter().copied().filter(|&c| c > 0).collect();
    rated.sort_unstable();
    let median = rated[rated.len() / 2];
    let unpop: Vec<bool> = counts.iter().map(|&c| c < median).collect();
    let nnz = l.vals.len();
    let total = (0..nnz).filter(|&p| unpop[l.items[p] as usize]).count();
    let p0 = (total as f64 / nnz as f64).clamp(1e-3, 0.5);
    (0..l.n)
        .map(|u| {
            let (b, e) = (l.uptr[u], l.uptr[u + 1]);
            if b == e {
                return false;
            }
            let nu = (e - b) as f64;
            let share = (b..e).filter(|&p| unpop[l.items[p] as usize]).count() as f64 / nu;
            let z = (share - p0) / (p0 * (1.0 - p0) / nu).sqrt();
            z > z0 && share >= min_share
        })
        .collect()
}

/// Users whose rated items' median ln(1 + count) lies below the users' median by more than
/// `q` MADs.
fn atypical_users(l: &Layout<'_>, q: f64, quantile: Option<f64>) -> Vec<bool> {
    let counts: Vec<f64> = (0..l.m)
        .map(|j| ((l.iptr[j + 1] - l.iptr[j]) as f64).ln_1p())
        .collect();
    let score: Vec<f64> = (0..l.n)
        .map(|u| {
            let (b, e) = (l.uptr[u], l.uptr[u + 1]);
            if b == e {
                return f64::NAN;
            }
            let mut v: Vec<f64> = (b..e).map(|p| counts[l.items[p] as usize]).collect();
            match quantile {
                None => v.iter().sum::<f64>() / v.len() as f64,
                Some(qq) => {
                    let at = ((v.len() - 1) as f64 * qq).round() as usize;
                    *v.select_nth_unstable_by(at, f64::total_cmp).1
                }
            }
        })
        .collect();
    let mut v: Vec<f64> = score.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let med = v[v.len() / 2];
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = 1.4826 * dev[dev.len() / 2];
    score
        .iter()
        .map(|&x| x.is_finite() && x < med - q * mad)
        .collect()
}

/// Weights and targets from the predictions `x` (CSR order).
fn weights_w(rule: &LabRule, l: &Layout<'_>, x: &[f64], it: usize, s: &mut Weights) {
    let nnz = l.vals.len();
    if it < rule.warm {
        s.a.iter_mut().for_each(|a| *a = 1.0);
        s.t.copy_from_slice(l.vals);
        if let Some(cm) = rule.start_median {
            let mut buf = Vec::new();
            for j in 0..l.m {
                buf.clear();
                buf.extend((l.iptr[j]..l.iptr[j + 1]).map(|q| l.vals[l.c2r[q] as usize]));
                if buf.is_empty() {
                    continue;
                }
                let mid = buf.len() / 2;
                let med = *buf.select_nth_unstable_by(mid, f64::total_cmp).1;
                for q in l.iptr[j]..l.iptr[j + 1] {
                    let p = l.c2r[q] as usize;
                    if (l.vals[p] - med).abs() > cm {
                        s.a[p] = 0.0;
                    }
                }
            }
        }
        return;
    }
    // Entry rule.
    let mut thr = vec![rule.entry.unwrap_or(f64::INFINITY); l.m];
    if let (Some(c), Some((lo, hi))) = (rule.entry, rule.item_scale) {
        // Robust scale of each item's residuals (1.4826 MAD around 0) against the global one.
        let mut abs: Vec<f64> = (0..nnz).map(|p| (l.vals[p] - x[p]).abs()).collect();
        let global = {
            let mut g = abs.clone();
            let mid = g.len() / 2;
            *g.select_nth_unstable_by(mid, f64::total_cmp).1
        };
        let mut buf = Vec::new();
        for j in 0..l.m {
            buf.clear();
            buf.extend((l.iptr[j]..l.iptr[j + 1]).map(|q| abs[l.c2r[q] as usize]));
            if buf.len() < 10 {
                continue;
            }
            let mid = buf.len() / 2;
            let med = *buf.select_nth_unstable_by(mid, f64::total_cmp).1;
            thr[j] = c * (med / global).clamp(lo, hi);
        }
        abs.clear();
    }
    for p in 0..nnz {
        s.a[p] = 1.0;
    }
    for u in 0..l.n {
        for p in l.uptr[u]..l.uptr[u + 1] {
            let r = l.vals[p] - x[p];
            if r.abs() > thr[l.items[p] as usize] {
                s.a[p] = 0.0;
            }
        }
    }
    // User rule.
    s.users.iter_mut().for_each(|f| *f = false);
    if let (Some(ur), UserMode::Excess { zi, min_extra, pop }) = (
        &rule.user,
        rule.user
            .as_ref()
            .map(|u| &u.mode)
            .unwrap_or(&UserMode::Share),
    ) {
        if it >= ur.from_iter {
            let none = vec![false; l.n];
            let (pn, pp) = side_rates(l, x, ur.t, &none);
            for j in 0..l.m {
                let (mut en, mut ep, mut on, mut op) = (0.0, 0.0, 0.0, 0.0);
                for q in l.iptr[j]..l.iptr[j + 1] {
                    let p = l.c2r[q] as usize;
                    let b = bin(x[p]);
                    en += pn[b];
                    ep += pp[b];
                    let r = l.vals[p] - x[p];
                    if r < -ur.t {
                        on += 1.0;
                    } else if r > ur.t {
                        op += 1.0;
                    }
                }
                let neg = on > en + zi * en.max(1.0).sqrt() + min_extra;
                let pos = op > ep + zi * ep.max(1.0).sqrt() + min_extra;
                if !(neg || pos) {
                    continue;
                }
                for q in l.iptr[j]..l.iptr[j + 1] {
                    let p = l.c2r[q] as usize;
                    let u = l.cusers[q] as usize;
                    let r = l.vals[p] - x[p];
                    let suspect = (neg && r < -ur.t) || (pos && r > ur.t);
                    if suspect && (pop.is_none() || s.atypical[u]) {
                        s.users[u] = true;
                    }
                }
            }
        }
    } else if let Some(
        UserMode::Pop(_) | UserMode::PopQ(..) | UserMode::Unpop { .. } | UserMode::Mix { .. },
    ) = rule.user.as_ref().map(|u| &u.mode)
    {
        s.users.copy_from_slice(&s.atypical);
    } else if let Some(ur) = &rule.user {
        if it >= ur.from_iter {
            let large = (0..nnz)
                .filter(|&p| (l.vals[p] - x[p]).abs() > ur.t)
                .count();
            let p0 = (large as f64 / nnz as f64).max(1e-3);
            for u in 0..l.n {
                let (b, e) = (l.uptr[u], l.uptr[u + 1]);
                if b == e {
                    continue;
                }
                let nu = (e - b) as f64;
                let cnt = (b..e).filter(|&p| (l.vals[p] - x[p]).abs() > ur.t).count() as f64;
                let share = cnt / nu;
                let z = (share - p0) / (p0 * (1.0 - p0) / nu).sqrt();
                if z > ur.z && share >= ur.min_share {
                    s.users[u] = true;
                }
            }
        }
    }
    // Per-item cap on one-sided large residuals (prediction-aware expectation).
    if let Some(cap) = &rule.cap {
        apply_cap(cap, l, x, &s.users, &mut s.a);
    }
    // Targets, fill, flagged users (a flagged user keeps fitting their own factors on their
    // entry weights; the H half-step skips them, so they cannot move any item).
    for u in 0..l.n {
        for p in l.uptr[u]..l.uptr[u + 1] {
            if s.users[u] && !rule.user_fit {
                s.a[p] = 0.0;
                s.t[p] = l.vals[p];
            } else if rule.fill {
                s.t[p] = s.a[p] * l.vals[p] + (1.0 - s.a[p]) * x[p];
                s.a[p] = 1.0;
            } else {
                s.t[p] = l.vals[p];
            }
        }
    }
}

/// Scales down, per item, the weights of ratings with residual beyond -t (beyond +t) so that
/// their total does not exceed the count the global residual distribution at the same
/// prediction level expects, plus `z` Poisson standard deviations.
fn apply_cap(cap: &CapRule, l: &Layout<'_>, x: &[f64], users: &[bool], a: &mut [f64]) {
    let (pn, pp) = side_rates(l, x, cap.t, users);
    for j in 0..l.m {
        let (mut en, mut ep, mut sn, mut sp) = (0.0, 0.0, 0.0, 0.0);
        for q in l.iptr[j]..l.iptr[j + 1] {
            let p = l.c2r[q] as usize;
            if users[l.cusers[q] as usize] {
                continue;
            }
            let b = bin(x[p]);
            en += pn[b];
            ep += pp[b];
            let r = l.vals[p] - x[p];
            if r < -cap.t {
                sn += a[p];
            } else if r > cap.t {
                sp += a[p];
            }
        }
        let limit_n = en + cap.z * en.max(1.0).sqrt();
        let limit_p = ep + cap.z * ep.max(1.0).sqrt();
        let fn_ = if sn > limit_n { limit_n / sn } else { 1.0 };
        let fp = if sp > limit_p { limit_p / sp } else { 1.0 };
        if fn_ < 1.0 || fp < 1.0 {
            for q in l.iptr[j]..l.iptr[j + 1] {
                let p = l.c2r[q] as usize;
                let r = l.vals[p] - x[p];
                if r < -cap.t {
                    a[p] *= fn_;
                } else if r > cap.t {
                    a[p] *= fp;
                }
            }
        }
    }
}

/// W and H weights from the predictions `x` (CSR order).
fn weights(rule: &LabRule, l: &Layout<'_>, x: &[f64], it: usize, s: &mut Weights) {
    weights_w(rule, l, x, it, s);
    s.ah.copy_from_slice(&s.a);
    if let Some((ch, hwarm)) = rule.h_entry {
        if it >= hwarm {
            for p in 0..l.vals.len() {
                if (l.vals[p] - x[p]).abs() > ch {
                    s.ah[p] = 0.0;
                }
            }
        }
    }
    if let Some(cap) = &rule.h_cap {
        if it >= rule.warm {
            apply_cap(cap, l, x, &s.users, &mut s.ah);
        }
    }
}

/// Fits `rule` on `data` from `init` for `iters` iterations.
fn lab_fit(data: &Ratings, init: &Factors, rule: &LabRule, iters: usize) -> LabFit {
    let start = Instant::now();
    let l = Layout::new(data);
    let k = init.rank();
    let (mut w, mut h) = init.clone().into_parts();
    let nnz = l.vals.len();
    let mut x = vec![0.0; nnz];
    let mut s = Weights {
        a: vec![1.0; nnz],
        ah: vec![1.0; nnz],
        t: l.vals.to_vec(),
        users: vec![false; l.n],
        atypical: match rule.user.as_ref().map(|u| &u.mode) {
            Some(UserMode::Excess { pop: Some(q), .. }) | Some(UserMode::Pop(q)) => {
                atypical_users(&l, *q, None)
            }
            Some(UserMode::Mix { pi_min }) => mixture_users(&l, *pi_min),
            Some(UserMode::PopQ(q, quantile)) => atypical_users(&l, *q, Some(*quantile)),
            Some(UserMode::Unpop { z, min_share }) => unpopular_users(&l, *z, *min_share),
            _ => vec![false; l.n],
        },
    };
    let (mut num, mut den) = (vec![0.0; k], vec![0.0; k]);
    let predict_all = |w: &[f64], h: &[f64], x: &mut [f64]| {
        for u in 0..l.n {
            let wu = &w[u * k..(u + 1) * k];
            for p in l.uptr[u]..l.uptr[u + 1] {
                let j = l.items[p] as usize;
                x[p] = dot(wu, &h[j * k..(j + 1) * k]);
            }
        }
    };
    for it in 0..iters {
        predict_all(&w, &h, &mut x);
        weights(rule, &l, &x, it, &mut s);
        // W half-step (x is W H at the start of the iteration).
        for u in 0..l.n {
            num.iter_mut().for_each(|v| *v = 0.0);
            den.iter_mut().for_each(|v| *v = 0.0);
            let mut active = false;
            for p in l.uptr[u]..l.uptr[u + 1] {
                let a = s.a[p];
                if a <= 0.0 {
                    continue;
                }
                active = true;
                let j = l.items[p] as usize;
                let hj = &h[j * k..(j + 1) * k];
                let (at, ax) = (a * s.t[p], a * x[p]);
                for f in 0..k {
                    num[f] += at * hj[f];
                    den[f] += ax * hj[f];
                }
            }
            if active {
                let wu = &mut w[u * k..(u + 1) * k];
                for f in 0..k {
                    wu[f] *= num[f] / (den[f] + EPS);
                }
            }
        }
        // H half-step with the new W.
        for j in 0..l.m {
            num.iter_mut().for_each(|v| *v = 0.0);
            den.iter_mut().for_each(|v| *v = 0.0);
            let mut active = false;
            let hj = &h[j * k..(j + 1) * k];
            for q in l.iptr[j]..l.iptr[j + 1] {
                let p = l.c2r[q] as usize;
                let a = s.ah[p];
                let u = l.cusers[q] as usize;
                if a <= 0.0 || s.users[u] {
                    continue;
                }
                active = true;
                let wu = &w[u * k..(u + 1) * k];
                let xq = dot(wu, hj);
                let (at, ax) = (a * s.t[p], a * xq);
                for f in 0..k {
                    num[f] += at * wu[f];
                    den[f] += ax * wu[f];
                }
            }
            if active {
                let hj = &mut h[j * k..(j + 1) * k];
                for f in 0..k {
                    hj[f] *= num[f] / (den[f] + EPS);
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    // Final flags from the final residuals.
    predict_all(&w, &h, &mut x);
    weights(rule, &l, &x, iters.max(rule.warm), &mut s);
    let dropped = (0..nnz)
        .filter(|&p| s.a[p] < 1.0 || s.t[p] != l.vals[p])
        .count();
    // Without a user rule a user counts as flagged when any of their ratings is (as for the
    // engine's corrupt variants).
    let users = if rule.user.is_some() {
        s.users
    } else {
        (0..l.n)
            .map(|u| (l.uptr[u]..l.uptr[u + 1]).any(|p| s.a[p] < 1.0 || s.t[p] != l.vals[p]))
            .collect()
    };
    LabFit {
        k,
        w,
        h,
        users,
        dropped,
        secs,
        iters,
    }
}

// ------------------------------------------------------------------------------------------
// Fitting a candidate
// ------------------------------------------------------------------------------------------

/// A fitted model of any candidate.
struct Fitted {
    pred: Box<dyn Fn(u32, u32) -> f64 + Send + Sync>,
    /// Users flagged: the user rule's flags, or for the engine's corrupt variants any user
    /// with a flagged rating.
    users: Vec<bool>,
    secs_per_iter: f64,
}

fn fit(c: &Candidate, data: &Ratings, init: &Factors, iters: usize) -> Result<Fitted> {
    match &c.kind {
        Kind::Engine(_) | Kind::Guarded { .. } => {
            let (alg, params) = match c.kind {
                Kind::Engine(a) => (a, NmfParams::new(K, a).burst_window(None)),
                Kind::Guarded {
                    window,
                    user_scale,
                    item_scale,
                } => (
                    Algorithm::Guarded,
                    NmfParams::new(K, Algorithm::Guarded)
                        .burst_window(window)
                        .user_threshold_scale(user_scale)
                        .item_threshold_scale(item_scale),
                ),
                Kind::Lab(_) => unreachable!("matched above"),
            };
            let start = Instant::now();
            let model = params
                .lambda(LAMBDA)
                .max_iters(iters)
                .threads(1)
                .check()?
                .fit_with(data, FitOptions::new().initial(init))
                .with_context(|| format!("fitting {alg}"))?;
            let secs = start.elapsed().as_secs_f64();
            let mut users = vec![false; data.n_users()];
            for &(u, _) in model.corrupt_entries() {
                users[u as usize] = true;
            }
            let f = model.factors().clone();
            Ok(Fitted {
                pred: Box::new(move |u, i| f.predict(u, i)),
                users,
                secs_per_iter: secs / iters as f64,
            })
        }
        Kind::Lab(rule) => {
            let f = lab_fit(data, init, rule, iters);
            let _ = f.dropped;
            let secs = f.secs / f.iters as f64;
            let users = f.users.clone();
            Ok(Fitted {
                pred: Box::new(move |u, i| f.predict(u, i)),
                users,
                secs_per_iter: secs,
            })
        }
    }
}

// ------------------------------------------------------------------------------------------
// Protocol
// ------------------------------------------------------------------------------------------

/// The attacks of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Atk {
    M3,
    M4,
    Adaptive,
    AdaptiveOwn,
    Average,
    Bandwagon,
    PushM3,
    PushM4,
    /// Model 4 and the adaptive attack with their ratings spread over each item's history.
    M4Slow,
    AdaptiveSlow,
}

impl Atk {
    const ALL: [Atk; 10] = [
        Atk::M3,
        Atk::M4,
        Atk::Adaptive,
        Atk::AdaptiveOwn,
        Atk::Average,
        Atk::Bandwagon,
        Atk::PushM3,
        Atk::PushM4,
        Atk::M4Slow,
        Atk::AdaptiveSlow,
    ];
    fn name(self) -> &'static str {
        match self {
            Atk::M3 => "M3",
            Atk::M4 => "M4",
            Atk::Adaptive => "adaptive",
            Atk::AdaptiveOwn => "adaptive-own",
            Atk::Average => "average",
            Atk::Bandwagon => "bandwagon",
            Atk::PushM3 => "push-M3",
            Atk::PushM4 => "push-M4",
            Atk::M4Slow => "M4-slow",
            Atk::AdaptiveSlow => "adaptive-slow",
        }
    }
    fn detects(self) -> bool {
        matches!(self, Atk::M3 | Atk::Average | Atk::Bandwagon)
    }
}

fn generate(
    atk: Atk,
    train: &Ratings,
    target: u32,
    frac: f64,
    seed: u64,
    clean: &Fitted,
    own_lambda: f64,
) -> Result<Attacked> {
    let filler = FillerSize::Count(FILLER);
    let spec = match atk {
        Atk::M3 => AttackSpec::low_knowledge().filler(filler),
        Atk::M4 => AttackSpec::informed(),
        Atk::Adaptive => AttackSpec::adaptive(LAMBDA),
        Atk::AdaptiveOwn => AttackSpec::adaptive(own_lambda),
        Atk::Average => AttackSpec::average().filler(filler),
        Atk::Bandwagon => AttackSpec::bandwagon(5).filler(filler),
        Atk::PushM3 => AttackSpec::low_knowledge()
            .filler(filler)
            .direction(Direction::Push),
        Atk::PushM4 => AttackSpec::informed().direction(Direction::Push),
        Atk::M4Slow => AttackSpec::informed().timing(Timing::Spread),
        Atk::AdaptiveSlow => AttackSpec::adaptive(LAMBDA).timing(Timing::Spread),
    }
    .size(AttackSize::Fraction(frac))
    .targets(TargetChoice::Indices(vec![target]))
    .seed(seed)
    .check()?;
    let out = match atk {
        Atk::Adaptive | Atk::AdaptiveOwn | Atk::AdaptiveSlow => {
            spec.generate_adaptive(train, &|u, i| (clean.pred)(u, i))
        }
        _ => spec.generate(train),
    };
    out.with_context(|| format!("attack {}", atk.name()))
}

/// Settings of a run.
#[derive(Debug, Clone)]
struct Settings {
    reps: usize,
    iters: usize,
    threads: usize,
    seed: u64,
    sizes: Vec<f64>,
    attacks: Vec<Atk>,
    candidates: Vec<Candidate>,
}

/// One measured cell: (candidate, metric) -> (repetition, value) across repetitions.
type Cells = BTreeMap<(String, String), Vec<(usize, f64)>>;

fn push(cells: &Mutex<Cells>, rep: usize, cand: &str, metric: String, v: f64) {
    cells
        .lock()
        .expect("poisoned")
        .entry((cand.to_string(), metric))
        .or_default()
        .push((rep, v));
}

/// Targets of a repetition: one per mean band, among items with >= TARGET_MIN training ratings.
fn band_targets(train: &Ratings, seed: u64) -> Vec<(usize, u32, f64)> {
    let mut out = Vec::new();
    for (b, &(lo, hi, _)) in BANDS.iter().enumerate() {
        let eligible: Vec<(u32, f64)> = (0..train.n_items() as u32)
            .filter_map(|i| {
                let (_, v) = train.item(i);
                if v.len() < TARGET_MIN {
                    return None;
                }
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                (mean >= lo && mean < hi).then_some((i, mean))
            })
            .collect();
        if eligible.is_empty() {
            continue;
        }
        let pick = derive(seed, b as u64, Stream::Attack) % eligible.len() as u64;
        let (i, mean) = eligible[pick as usize];
        out.push((b, i, mean));
    }
    out
}

fn user_f1(flags: &[bool], att: &Attacked) -> f64 {
    let adv = att.truth.adversaries();
    let mut is_adv = vec![false; flags.len()];
    for &a in adv {
        is_adv[a as usize] = true;
    }
    let (mut tp, mut fp, mut fnn) = (0, 0, 0);
    for u in 0..flags.len() {
        match (flags[u], is_adv[u]) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fnn += 1,
            _ => {}
        }
    }
    Detection::from_counts(tp, fp, fnn).f1.unwrap_or(0.0)
}

fn run_rep(
    data: &Ratings,
    s: &Settings,
    rep: usize,
    cells: &Mutex<Cells>,
    targets_log: &Mutex<Vec<String>>,
) -> Result<()> {
    let r = rep as u64;
    let sp = split::random_holdout(data, 0.1, derive(s.seed, r, Stream::Split))?;
    let train = sp.train;
    let test: Vec<Triple> = sp.test;
    let init_seed = derive(s.seed, r, Stream::Init);
    let init = init_factors(data.n_users(), data.n_items(), K, train.mean(), init_seed)?;
    let noisy = AttackSpec::random_noise(0.1)
        .seed(derive(s.seed, r, Stream::Noise))
        .check()?
        .generate(&train)?;
    let targets = band_targets(&train, derive(s.seed, r, Stream::Attack) ^ 0xBA4D);
    targets_log.lock().expect("poisoned").push(format!(
        "rep {rep}: {}",
        targets
            .iter()
            .map(|(b, i, m)| format!(
                "{} (item {}, {} ratings, mean {m:.2})",
                BANDS[*b].2,
                train.items().external(*i),
                train.item_count(*i)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for c in &s.candidates {
        let name = c.name.as_str();
        let clean = fit(c, &train, &init, s.iters)?;
        push(
            cells,
            rep,
            name,
            "sec/iter".into(),
            clean.secs_per_iter * 1e3,
        );
        let acc = accuracy_of(&|u, i| (clean.pred)(u, i), &test, train.scale())?;
        push(cells, rep, name, "NMAE clean".into(), acc.nmae);
        let nf = fit(c, &noisy.ratings, &init, s.iters)?;
        let acc = accuracy_of(&|u, i| (nf.pred)(u, i), &test, train.scale())?;
        push(cells, rep, name, "NMAE M2".into(), acc.nmae);
        drop(nf);
        for &frac in &s.sizes {
            let pct = (frac * 100.0).round() as usize;
            let mut per_attack_mean: BTreeMap<Atk, Vec<f64>> = BTreeMap::new();
            for &atk in &s.attacks {
                if atk == Atk::AdaptiveOwn && (c.own_lambda - LAMBDA).abs() < 1e-9 {
                    continue;
                }
                for &(b, target, _) in &targets {
                    let aseed = derive(s.seed, r, Stream::Attack) ^ (b as u64 + 1);
                    let att = generate(atk, &train, target, frac, aseed, &clean, c.own_lambda)?;
                    let init_a =
                        extend_init(&init, att.ratings.n_users(), init_seed, train.mean())?;
                    let af = fit(c, &att.ratings, &init_a, s.iters)?;
                    let genuine = att.truth.genuine_users();
                    let sh = prediction_shift(
                        &|u, i| (clean.pred)(u, i),
                        &|u, i| (af.pred)(u, i),
                        &train,
                        &genuine,
                        target,
                    )?;
                    push(
                        cells,
                        rep,
                        name,
                        format!("MAPS {} {pct}% {}", atk.name(), BANDS[b].2),
                        sh.maps,
                    );
                    per_attack_mean.entry(atk).or_default().push(sh.maps);
                    if atk.detects() {
                        push(
                            cells,
                            rep,
                            name,
                            format!("F1 {} {pct}%", atk.name()),
                            user_f1(&af.users, &att),
                        );
                    }
                }
            }
            for (atk, v) in per_attack_mean {
                push(
                    cells,
                    rep,
                    name,
                    format!("MAPS {} {pct}% all", atk.name()),
                    v.iter().sum::<f64>() / v.len() as f64,
                );
            }
        }
    }
    Ok(())
}

fn fmt_ci(v: &[f64], digits: usize) -> String {
    match mean_ci(v, 0.95) {
        Ok(ci) => format!(
            "{:.d$} [{:.d$}, {:.d$}]",
            ci.estimate,
            ci.low,
            ci.high,
            d = digits
        ),
        Err(_) if !v.is_empty() => format!("{:.d$}", v[0], d = digits),
        Err(_) => "-".into(),
    }
}

fn table(data: &Ratings, s: &Settings) -> Result<()> {
    let cells = Mutex::new(Cells::new());
    let targets = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    let start = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for _ in 0..s.threads {
            handles.push(scope.spawn(|| -> Result<()> {
                loop {
                    let rep = {
                        let mut n = next.lock().expect("poisoned");
                        let r = *n;
                        *n += 1;
                        r
                    };
                    if rep >= s.reps {
                        return Ok(());
                    }
                    run_rep(data, s, rep, &cells, &targets)
                        .with_context(|| format!("repetition {rep}"))?;
                    eprintln!("rep {rep} done at {:.0} s", start.elapsed().as_secs_f64());
                }
            }));
        }
        for h in handles {
            h.join().expect("thread panicked")?;
        }
        Ok(())
    })?;
    // Values in repetition order, so that candidates pair up by repetition.
    let cells: BTreeMap<(String, String), Vec<f64>> = cells
        .into_inner()
        .expect("poisoned")
        .into_iter()
        .map(|(key, mut v)| {
            v.sort_by_key(|&(rep, _)| rep);
            (key, v.into_iter().map(|(_, x)| x).collect())
        })
        .collect();
    let mut targets = targets.into_inner().expect("poisoned");
    targets.sort();
    // Metrics in a stable order, candidates in the order given.
    let mut metrics: Vec<String> = cells.keys().map(|(_, m)| m.clone()).collect();
    metrics.sort();
    metrics.dedup();
    let order = |m: &str| -> (usize, String) {
        let rank = if m.starts_with("NMAE") {
            0
        } else if m.starts_with("sec") {
            1
        } else if m.starts_with("F1") {
            3
        } else {
            2
        };
        (rank, m.to_string())
    };
    metrics.sort_by_key(|m| order(m));
    let base_time = cells
        .get(&("lab-ic".to_string(), "sec/iter".to_string()))
        .map(|v| v.iter().sum::<f64>() / v.len() as f64);
    println!(
        "\n{} repetitions, {} iterations, sizes {:?}, total {:.0} s\n",
        s.reps,
        s.iters,
        s.sizes,
        start.elapsed().as_secs_f64()
    );
    print!("| metric |");
    for c in &s.candidates {
        print!(" {} |", c.name);
    }
    println!();
    print!("|---|");
    for _ in &s.candidates {
        print!("---|");
    }
    println!();
    for m in &metrics {
        print!("| {m} |");
        for c in &s.candidates {
            let v = cells.get(&(c.name.clone(), m.clone()));
            let digits = if m.starts_with("NMAE") { 4 } else { 3 };
            match v {
                Some(v) if m == "sec/iter" => {
                    let mean = v.iter().sum::<f64>() / v.len() as f64;
                    let rel = base_time.map_or(String::new(), |b| format!(" ({:.2}x)", mean / b));
                    print!(" {mean:.2} ms{rel} |");
                }
                Some(v) => print!(" {} |", fmt_ci(v, digits)),
                None => print!(" - |"),
            }
        }
        println!();
    }
    // Paired NMAE differences against the engine's ignore-corrupt (same splits, noise and
    // initial factors).
    println!("\nPaired NMAE difference against ignore-corrupt (mean [95% CI], relative):\n");
    for m in ["NMAE clean", "NMAE M2"] {
        let key = |c: &str| (c.to_string(), m.to_string());
        let Some(base) = cells.get(&key("ignore-corrupt")) else {
            continue;
        };
        for c in &s.candidates {
            if let Some(v) = cells.get(&key(&c.name)) {
                if v.len() == base.len() && v.len() > 1 && c.name != "ignore-corrupt" {
                    let t = paired_difference(v, base, 0.95)?;
                    println!(
                        "- {m}, {}: {:+.4} [{:+.4}, {:+.4}], {:+.2}%",
                        c.name,
                        t.difference.estimate,
                        t.difference.low,
                        t.difference.high,
                        100.0 * t.relative.unwrap_or(f64::NAN)
                    );
                }
            }
        }
    }
    println!("\nTargets:");
    for t in targets {
        println!("- {t}");
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Diagnostics: user-level statistics
// ------------------------------------------------------------------------------------------

fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut wins = 0.0;
    for &p in pos {
        for &n in neg {
            if p > n {
                wins += 1.0;
            } else if p == n {
                wins += 0.5;
            }
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

fn best_f1(pos: &[f64], neg: &[f64]) -> (f64, f64) {
    let mut all: Vec<f64> = pos.iter().chain(neg).copied().collect();
    all.sort_by(f64::total_cmp);
    let mut best = (0.0, 0.0);
    for &t in &all {
        let tp = pos.iter().filter(|&&p| p >= t).count();
        let fp = neg.iter().filter(|&&n| n >= t).count();
        let fnn = pos.len() - tp;
        let f1 = 2.0 * tp as f64 / (2 * tp + fp + fnn) as f64;
        if f1 > best.0 {
            best = (f1, t);
        }
    }
    best
}

fn diag(data: &Ratings, s: &Settings) -> Result<()> {
    for rep in 0..s.reps {
        let r = rep as u64;
        let sp = split::random_holdout(data, 0.1, derive(s.seed, r, Stream::Split))?;
        let train = sp.train;
        let init_seed = derive(s.seed, r, Stream::Init);
        let init = init_factors(data.n_users(), data.n_items(), K, train.mean(), init_seed)?;
        let targets = band_targets(&train, derive(s.seed, r, Stream::Attack) ^ 0xBA4D);
        let rule = LabRule {
            entry: Some(0.7 * LAMBDA.sqrt()),
            ..base_rule()
        };
        let cand = lab("diag", rule.clone());
        let clean = fit(&cand, &train, &init, s.iters)?;
        for atk in [Atk::M3, Atk::Average, Atk::Bandwagon] {
            let (b, target, _) = targets[0];
            let att = generate(atk, &train, target, 0.05, r ^ (b as u64), &clean, LAMBDA)?;
            let init_a = extend_init(&init, att.ratings.n_users(), init_seed, train.mean())?;
            let f = lab_fit(&att.ratings, &init_a, &rule, s.iters);
            let d = &att.ratings;
            let l = Layout::new(d);
            let n = l.n;
            let mut feats: Vec<(&str, Vec<f64>)> = vec![
                ("share|r|>1", vec![0.0; n]),
                ("share|r|>1.5", vec![0.0; n]),
                ("share|r|>2", vec![0.0; n]),
                ("mean r^2", vec![0.0; n]),
                ("z|r|>1.5", vec![0.0; n]),
                ("z|r|>1", vec![0.0; n]),
            ];
            let nnz = l.vals.len();
            let mut resid = vec![0.0; nnz];
            for u in 0..n {
                for p in l.uptr[u]..l.uptr[u + 1] {
                    resid[p] = l.vals[p] - f.predict(u as u32, l.items[p]);
                }
            }
            let p15 = resid.iter().filter(|r| r.abs() > 1.5).count() as f64 / nnz as f64;
            let p10 = resid.iter().filter(|r| r.abs() > 1.0).count() as f64 / nnz as f64;
            for u in 0..n {
                let rs = &resid[l.uptr[u]..l.uptr[u + 1]];
                let nu = rs.len().max(1) as f64;
                let c = |t: f64| rs.iter().filter(|r| r.abs() > t).count() as f64 / nu;
                feats[0].1[u] = c(1.0);
                feats[1].1[u] = c(1.5);
                feats[2].1[u] = c(2.0);
                feats[3].1[u] = rs.iter().map(|r| r * r).sum::<f64>() / nu;
                feats[4].1[u] = (c(1.5) - p15) / (p15 * (1.0 - p15) / nu).sqrt();
                feats[5].1[u] = (c(1.0) - p10) / (p10 * (1.0 - p10) / nu).sqrt();
            }
            let adv = att.truth.adversaries();
            println!(
                "rep {rep} {} target {} (band {}): p(|r|>1.5) = {p15:.3}",
                atk.name(),
                target,
                BANDS[b].2
            );
            for (name, v) in &feats {
                let pos: Vec<f64> = adv.iter().map(|&a| v[a as usize]).collect();
                let neg: Vec<f64> = (0..n)
                    .filter(|u| !att.truth.is_adversary(*u as u32))
                    .map(|u| v[u])
                    .collect();
                let (f1, t) = best_f1(&pos, &neg);
                println!(
                    "  {name:14} AUC {:.3} best F1 {f1:.3} at {t:.3}; adv median {:.3}",
                    auc(&pos, &neg),
                    {
                        let mut p = pos.clone();
                        p.sort_by(f64::total_cmp);
                        p[p.len() / 2]
                    }
                );
            }
        }
    }
    Ok(())
}

/// Time per iteration of each candidate on repetition 0's clean training set, alone on one
/// thread: the fastest of `reps` fits.
fn time(data: &Ratings, s: &Settings) -> Result<()> {
    let sp = split::random_holdout(data, 0.1, derive(s.seed, 0, Stream::Split))?;
    let init = init_factors(
        data.n_users(),
        data.n_items(),
        K,
        sp.train.mean(),
        derive(s.seed, 0, Stream::Init),
    )?;
    let mut base = None;
    println!(
        "| candidate | ms per iteration (fastest of {}) | relative |",
        s.reps
    );
    println!("|---|---|---|");
    for c in &s.candidates {
        let mut best = f64::INFINITY;
        for _ in 0..s.reps {
            best = best.min(fit(c, &sp.train, &init, s.iters)?.secs_per_iter);
        }
        if c.name == "lab-ic" {
            base = Some(best);
        }
        let rel = base.map_or("-".to_string(), |b| format!("{:.2}x", best / b));
        println!("| {} | {:.2} | {rel} |", c.name, best * 1e3);
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().cloned().unwrap_or_else(|| "table".into());
    let get = |flag: &str| -> Option<String> {
        args.iter()
            .position(|a| a == flag)
            .and_then(|p| args.get(p + 1).cloned())
    };
    let all = all_candidates();
    let candidates = match get("--candidates") {
        Some(list) => list
            .split(',')
            .map(|n| {
                all.iter()
                    .find(|c| c.name == n)
                    .cloned()
                    .with_context(|| format!("unknown candidate {n}"))
            })
            .collect::<Result<Vec<_>>>()?,
        None => all
            .iter()
            .filter(|c| {
                ["ignore-corrupt", "replace-corrupt-nointerp", "lab-ic"].contains(&c.name.as_str())
            })
            .cloned()
            .collect(),
    };
    let attacks = match get("--attacks") {
        Some(list) => list
            .split(',')
            .map(|n| {
                Atk::ALL
                    .into_iter()
                    .find(|a| a.name() == n)
                    .with_context(|| format!("unknown attack {n}"))
            })
            .collect::<Result<Vec<_>>>()?,
        None => Atk::ALL.to_vec(),
    };
    let s = Settings {
        reps: get("--reps").map_or(Ok(20), |v| v.parse())?,
        iters: get("--iters").map_or(Ok(40), |v| v.parse())?,
        threads: get("--threads").map_or(Ok(2), |v| v.parse())?,
        seed: get("--seed").map_or(Ok(1), |v| v.parse())?,
        sizes: match get("--sizes") {
            Some(v) => v
                .split(',')
                .map(|x| x.parse::<f64>())
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![0.05, 0.10],
        },
        attacks,
        candidates,
    };
    let dir = std::env::var("CNMF_DATA").context("set CNMF_DATA to the folder holding ml-100k/")?;
    let data = load(
        std::path::Path::new(&dir).join("ml-100k/u.data"),
        &LoadOptions::default(),
    )?;
    match mode.as_str() {
        "table" => table(&data, &s),
        "diag" => diag(&data, &s),
        "time" => time(&data, &s),
        "list" => {
            for c in &all {
                println!("{}: {:?}", c.name, c.kind);
            }
            Ok(())
        }
        other => bail!("unknown mode {other} (table, diag, list)"),
    }
}
