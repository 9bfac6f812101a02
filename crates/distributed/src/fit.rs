//! The distributed fit of the paper's five algorithms, `huber`, `l1`, `trimmed` and `guarded`.
//!
//! Each rank holds its users' rows of `W` and the whole `H`. Iteration `t` follows the
//! engine's schedule (`cnmf_engine`'s crate docs) step by step:
//!
//! 1. **User half-step**, local: the row pass measures iteration `t - 1` on this rank's entries
//!    (loss, clipped loss, flags, `||W||^2`), sets the flags it then uses as its mask and
//!    writes the new rows of `W`. The replace variants use `G = H H^T`, computed by every rank
//!    from its (identical) `H` in the engine's block order.
//! 2. **Statistics**: the per-rank sums are all-gathered and added in rank order; every rank
//!    applies the same stopping rules to the same numbers, so all stop together.
//! 3. **Item half-step**: every rank sums, for each item, the numerator and denominator of the
//!    multiplicative update over its own users (and the count of active entries); the replace
//!    variants' `k x k` Gram matrices `W1^T W0` and `W1^T W1` likewise. One deterministic
//!    [`Communicator::sum_all`] of these sums; then every rank applies the same update to the
//!    same `H`.
//!
//! `guarded`'s screens run once, before iteration 1 ([`screens`]): the profile screen from the
//! item counts every shard holds and the users' scores gathered from every rank, the burst
//! screen on rank 0's whole data set, which sends every rank the positions it holds.
//!
//! The per-user arithmetic is the engine's (same dot products, same order), so `W` rows agree
//! bit for bit given the same `H`; the item-side sums are added in a different order (per rank,
//! then rank order) than the engine's single pass, so results agree to rounding (the tests ask
//! for 1e-9 relative on every prediction).

use std::time::Instant;

use cnmf_engine::numeric::{dot, split_at_cuts, Isa, Job, Simd, EPS};
use cnmf_engine::{
    init_factors, Algorithm, Best, Burst, Factors, Guard, IterationStats, NmfModel, StopReason,
    ValidNmfParams,
};
use cnmf_ratings::{Ratings, Triple};
use rayon::prelude::*;

use crate::{Communicator, DistError, Shard};

/// The result of a distributed fit on one rank: its rows of `W`, the whole `H`, the flags of
/// its entries (CSR order; empty for the algorithms without flags) and the run's trace (the
/// same on every rank, except the elapsed seconds).
#[derive(Debug, Clone)]
pub struct LocalFit {
    /// This rank's rows of `W` (`local users x k`).
    pub w: Vec<f64>,
    /// `H` (`items x k`, item-major).
    pub h: Vec<f64>,
    /// Flags of this rank's entries (CSR order).
    pub flags: Vec<u8>,
    /// Statistics of iterations `0..=kept` (and beyond when a later stop kept an earlier one).
    pub trace: Vec<IterationStats>,
    /// Why the fit stopped.
    pub stop_reason: StopReason,
    /// The iteration whose factors are kept.
    pub kept_iteration: usize,
    /// Bytes this rank sent during the iterations.
    pub bytes_sent: u64,
    /// Seconds of the iterations (from the initialisation to the end).
    pub seconds: f64,
    /// `guarded`'s screened users (global indices, ascending; the same on every rank; empty
    /// for the other algorithms or with the profile screen off).
    pub screened_users: Vec<u32>,
    /// `guarded`'s bursts, on rank 0 (`None` on the other ranks, for the other algorithms,
    /// with the burst screen off or data without timestamps), as the engine's model has them.
    pub bursts: Option<Vec<Burst>>,
}

/// The algorithms the distributed fit runs: the paper's five, `huber`, `l1`, `trimmed` (its
/// global selection by a distributed bisection) and `guarded` (its screens once per fit,
/// [`screens`]): every algorithm of the engine.
pub const SUPPORTED: [Algorithm; 9] = Algorithm::ALL;

fn supported(alg: Algorithm) -> bool {
    SUPPORTED.contains(&alg)
}

/// Checks that the parameters can be run distributed: one of [`SUPPORTED`], `f64` precision, no
/// early stopping (it needs a validation set: [`fit_rank_with`] takes one), no time budget
/// (ranks would stop at different iterations). The same check on every rank gives the same
/// answer.
pub fn check_params(params: &ValidNmfParams) -> Result<(), DistError> {
    check_common(params)?;
    if params.early_stopping().is_some() {
        return Err(DistError::Unsupported(
            "early stopping (it needs validation triples)".into(),
        ));
    }
    Ok(())
}

/// [`check_params`] less the early-stopping check.
fn check_common(params: &ValidNmfParams) -> Result<(), DistError> {
    if !supported(params.algorithm()) {
        return Err(DistError::Unsupported(format!(
            "algorithm {} (the distributed fit runs {})",
            params.algorithm(),
            SUPPORTED.map(|a| a.name()).join(", ")
        )));
    }
    if params.time_budget().is_some() {
        return Err(DistError::Unsupported(
            "a time budget (ranks would stop at different iterations)".into(),
        ));
    }
    if params.precision() != cnmf_engine::Precision::F64 {
        return Err(DistError::Unsupported(format!(
            "--precision {} (the distributed fit runs in f64 only)",
            params.precision()
        )));
    }
    Ok(())
}

/// The robust baselines' per-entry rule (the engine's `Robust`, for `huber` and `l1`).
#[derive(Debug, Clone, Copy)]
enum Robust {
    Huber {
        lambda: f64,
        delta: f64,
        reweight: bool,
    },
    L1 {
        smoothing: f64,
        reweight: bool,
    },
    /// `trimmed`'s measuring pass: `r^2` of every entry into the weights.
    Squares,
    /// `trimmed`'s update: weight 0 on the entries its selection flagged.
    Flags,
}

/// The per-iteration rule of the passes (the engine's `row_rule`).
#[derive(Debug, Clone, Copy)]
struct Rule {
    lambda: Option<f64>,
    mark: Option<f64>,
    robust: Option<Robust>,
    flagged_weight: f64,
    l2: f64,
    per_rating: bool,
    /// `guarded`'s thresholds (the engine's `ValidNmfParams::guard`).
    guard: Option<Guard>,
}

impl Rule {
    fn of(p: &ValidNmfParams, t: usize) -> Rule {
        let alg = p.algorithm();
        let paper_corrupt = matches!(
            alg,
            Algorithm::IgnoreCorrupt
                | Algorithm::ReplaceCorrupt
                | Algorithm::ReplaceCorruptNoInterp
        );
        let marking = paper_corrupt && t > p.warmup_iters() + 1;
        let reweight = t > p.warmup_iters();
        let robust = match (alg, p.lambda()) {
            (Algorithm::Huber, Some(l)) => Some(Robust::Huber {
                lambda: l,
                delta: l.sqrt(),
                reweight,
            }),
            (Algorithm::L1, _) => Some(Robust::L1 {
                smoothing: cnmf_engine::L1_SMOOTHING,
                reweight,
            }),
            (Algorithm::Trimmed, _) => Some(Robust::Flags),
            _ => None,
        };
        Rule {
            lambda: p.lambda(),
            mark: if marking { p.lambda() } else { None },
            robust,
            flagged_weight: match alg {
                Algorithm::ReplaceCorrupt => p.decay().powi(i32::try_from(t).unwrap_or(i32::MAX)),
                _ => 0.0,
            },
            l2: p.l2_w(),
            per_rating: p.l2_per_rating(),
            guard: p.guard(t),
        }
    }
}

/// `(value, per_rating)`: the weight of a row with `n` ratings in the penalty.
fn l2_weight(per_rating: bool, n: usize) -> f64 {
    if per_rating {
        n as f64
    } else {
        1.0
    }
}

/// Statistics of one row pass (this rank's part).
#[derive(Debug, Clone, Copy, Default)]
struct RowStats {
    loss: f64,
    clipped: f64,
    /// The robust baselines' data term.
    robust: f64,
    flagged: usize,
    sq: f64,
    /// First local user whose update is not finite.
    bad_row: Option<usize>,
}

/// `A^T B` of two row-major matrices with `k` columns, in the engine's order: blocks of 256
/// rows, each summed from zero row by row, then the blocks added in order.
fn gram(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    const BLOCK_ROWS: usize = 256;
    let mut g = vec![0.0; k * k];
    for (ab, bb) in a.chunks(BLOCK_ROWS * k).zip(b.chunks(BLOCK_ROWS * k)) {
        let mut part = vec![0.0; k * k];
        for (ar, br) in ab.chunks_exact(k).zip(bb.chunks_exact(k)) {
            for (x, &ax) in ar.iter().enumerate() {
                for (s, &bj) in part[x * k..x * k + k].iter_mut().zip(br) {
                    *s += ax * bj;
                }
            }
        }
        for (s, &x) in g.iter_mut().zip(&part) {
            *s += x;
        }
    }
    g
}

/// `out = G f` for a row-major `k x k` matrix `G`.
#[inline(always)]
fn matvec(g: &[f64], f: &[f64], out: &mut [f64]) {
    let k = out.len();
    for (a, o) in out.iter_mut().enumerate() {
        *o = dot(&g[a * k..a * k + k], f);
    }
}

/// The state of a rank during the fit.
struct State {
    w: Vec<f64>,
    w_next: Vec<f64>,
    h: Vec<f64>,
    flags: Vec<u8>,
    /// The robust baselines' weight of each local entry (CSR order), for the item half-step.
    weights: Vec<f64>,
    trace: Vec<IterationStats>,
    /// `l2_h`-weighted `||H||^2` of the current `H`.
    h_sq: f64,
    /// Seconds at the end of the last update.
    elapsed: f64,
    /// The rank's threads (`None`: rayon's global pool).
    pool: Option<rayon::ThreadPool>,
    /// `guarded`'s profile screen of each local user (empty: nobody screened).
    screened: Vec<bool>,
    /// `guarded`'s burst screen of each local entry, CSR order (empty: nothing held).
    held: Vec<u8>,
    /// Validation NMAE of the current state (`None` without validation ratings).
    val_nmae: Option<f64>,
    /// Early stopping's best state so far.
    best: Option<Best>,
}

/// The validation ratings of this rank's users and their number on all ranks.
#[derive(Clone, Copy)]
struct Validation<'a> {
    triples: &'a [Triple],
    total: usize,
}

/// NMAE of the clipped predictions of the current state on the validation ratings, as the
/// engine computes it (sums of blocks of 4096 triples, added in order) on each rank, then the
/// ranks' sums added in rank order: with one rank, the engine's bits.
fn validation_nmae<C: Communicator + ?Sized>(
    val: Option<Validation<'_>>,
    shard: &Shard,
    st: &State,
    k: usize,
    comm: &C,
) -> Option<f64> {
    let val = val?;
    let (w, h, scale, first) = (&st.w, &st.h, shard.scale, shard.user_start);
    let partials: Vec<f64> = in_pool(st.pool.as_ref(), || {
        val.triples
            .par_chunks(4096)
            .map(|block| {
                block
                    .iter()
                    .map(|t| {
                        let (u, i) = (t.user as usize - first, t.item as usize);
                        let x = dot(&w[u * k..u * k + k], &h[i * k..i * k + k]);
                        (t.value - scale.clip(x)).abs()
                    })
                    .sum::<f64>()
            })
            .collect()
    });
    let mine: f64 = partials.iter().sum();
    let mut total = 0.0;
    for x in comm.all_gather_f64(&[mine]) {
        total += x;
    }
    Some(total / (val.total as f64 * scale.width()))
}

/// Runs `f` in `pool` (or in rayon's global pool).
fn in_pool<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Runs the distributed fit on this rank's `shard` with `comm`. Every rank must call it with
/// the same parameters and its own shard of the same partition; `root_data` is the whole data
/// set on rank 0 (read there only by `guarded`'s burst screen, which needs its timestamps;
/// `None` elsewhere). Errors (unsupported parameters, a NaN or infinity) are agreed on: every
/// rank returns the same error.
pub fn fit_rank<C: Communicator + ?Sized>(
    params: &ValidNmfParams,
    shard: &Shard,
    root_data: Option<&Ratings>,
    comm: &C,
) -> Result<LocalFit, DistError> {
    check_params(params)?;
    fit_rank_with(params, shard, root_data, None, comm)
}

/// [`fit_rank`] with validation ratings: this rank's users' (global indices, as
/// [`crate::HeldOut`] has them), or `None` on every rank. With them every iteration records
/// the validation NMAE (the engine's, summed over the ranks in rank order) and the parameters'
/// early stopping runs as the engine's: the fit stops `patience` iterations after the lowest
/// NMAE and keeps that iteration's factors. Early stopping without validation ratings on any
/// rank is an error, as in the engine.
pub fn fit_rank_with<C: Communicator + ?Sized>(
    params: &ValidNmfParams,
    shard: &Shard,
    root_data: Option<&Ratings>,
    validation: Option<&[Triple]>,
    comm: &C,
) -> Result<LocalFit, DistError> {
    check_common(params)?;
    let local = validation.unwrap_or(&[]);
    if let Some(t) = local.iter().find(|t| {
        !(shard.user_start..shard.user_end).contains(&(t.user as usize))
            || t.item as usize >= shard.n_items
            || !t.value.is_finite()
    }) {
        return Err(DistError::Partition(format!(
            "validation rating ({}, {}, {}) outside this rank's users {}..{} and {} items or \
             not finite",
            t.user, t.item, t.value, shard.user_start, shard.user_end, shard.n_items
        )));
    }
    let total: f64 = comm.all_gather_f64(&[local.len() as f64]).iter().sum();
    let val = (total > 0.0).then_some(Validation {
        triples: local,
        total: total as usize,
    });
    if params.early_stopping().is_some() && val.is_none() {
        return Err(DistError::Engine(
            "early stopping needs validation ratings".into(),
        ));
    }
    let scale = shard.scale;
    if scale.min() < 0.0 {
        return Err(DistError::Engine(format!(
            "the rating scale [{}, {}] allows negative ratings; nonnegative matrix factorization \
             needs ratings >= 0 (shift the scale)",
            scale.min(),
            scale.max()
        )));
    }
    // The rank's threads, as the engine's `threads` (0: rayon's default).
    let pool = match params.threads() {
        0 => Ok(None),
        t => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map(Some)
            .map_err(|e| format!("a pool of {t} threads: {e}")),
    };
    // Agreed, so that a rank that cannot start its threads does not leave the others waiting.
    let failed = comm.agree(pool.as_ref().err().map(String::as_str));
    if !failed.is_empty() {
        return Err(DistError::Ranks(failed));
    }
    let pool = pool.map_err(DistError::Engine)?;
    let start = Instant::now();
    let screens = screens(params, shard, root_data, comm, pool.as_ref())?;
    let sent0 = comm.bytes_sent();
    let k = params.rank();
    let (n, m) = (shard.n_users, shard.n_items);
    // Every rank draws the whole initialisation and keeps its rows: P = 1 and P = n start from
    // the same factors (and the same as the engine).
    let init = init_factors(n, m, k, shard.mean, params.seed())
        .map_err(|e| DistError::Engine(e.to_string()))?;
    let (w_all, h) = init.into_parts();
    let w = w_all[shard.user_start * k..shard.user_end * k].to_vec();
    drop(w_all);
    let h_sq = h
        .chunks_exact(k)
        .enumerate()
        .map(|(i, hi)| {
            l2_weight(params.l2_per_rating(), shard.item_counts[i] as usize)
                * hi.iter().map(|x| x * x).sum::<f64>()
        })
        .sum();
    let mut st = State {
        w_next: vec![0.0; w.len()],
        w,
        h,
        flags: if params.algorithm().flags_corruption() {
            vec![0u8; shard.local_nnz()]
        } else {
            Vec::new()
        },
        weights: if params.algorithm().is_robust_baseline() {
            vec![0.0; shard.local_nnz()]
        } else {
            Vec::new()
        },
        trace: Vec::new(),
        h_sq,
        elapsed: start.elapsed().as_secs_f64(),
        pool,
        screened: screens.screened_local,
        held: screens.held_local,
        val_nmae: None,
        best: None,
    };
    st.val_nmae = validation_nmae(val, shard, &st, k, comm);
    let mut t = 1usize;
    let (stop_reason, kept) = loop {
        let rule = Rule::of(params, t);
        let global = if params.algorithm() == Algorithm::Trimmed {
            let mut global = trim_measure(params, shard, &mut st, t, comm);
            let update = row_pass(params, shard, &mut st, rule, true);
            global.bad_row = reduce_stats(comm, shard, &update).bad_row;
            global
        } else {
            let rs = row_pass(params, shard, &mut st, rule, true);
            reduce_stats(comm, shard, &rs)
        };
        if let Some(reason) = measure(params, &mut st, t - 1, &global)? {
            break (reason, t - 1);
        }
        if let Some(u) = global.bad_row {
            return Err(DistError::Engine(format!(
                "the user factors of user {u} are not finite at iteration {t}"
            )));
        }
        col_step(params, shard, &mut st, rule, comm, start)?;
        st.val_nmae = validation_nmae(val, shard, &st, k, comm);
        if t == params.max_iters() {
            let rule = Rule::of(params, t + 1);
            let global = if params.algorithm() == Algorithm::Trimmed {
                trim_measure(params, shard, &mut st, t + 1, comm)
            } else {
                let rs = row_pass(params, shard, &mut st, rule, false);
                reduce_stats(comm, shard, &rs)
            };
            let reason = measure(params, &mut st, t, &global)?.unwrap_or(StopReason::MaxIters);
            break (reason, t);
        }
        t += 1;
    };
    // Under early stopping the best state, however the fit stopped (the engine's `finish`).
    let kept = match st.best.take() {
        Some(b) if b.iteration != kept => {
            st.w = b.w;
            st.h = b.h;
            st.flags = b.flags;
            b.iteration
        }
        _ => kept,
    };
    Ok(LocalFit {
        w: st.w,
        h: st.h,
        flags: st.flags,
        trace: st.trace,
        stop_reason,
        kept_iteration: kept,
        bytes_sent: comm.bytes_sent() - sent0,
        seconds: start.elapsed().as_secs_f64(),
        screened_users: screens.screened_users,
        bursts: screens.bursts,
    })
}

/// `guarded`'s screens as one rank sees them.
#[derive(Debug, Default)]
struct Screens {
    /// The profile screen of each local user (empty: nobody screened).
    screened_local: Vec<bool>,
    /// Every screened user (global indices, ascending).
    screened_users: Vec<u32>,
    /// The burst screen of each local entry (empty: nothing held).
    held_local: Vec<u8>,
    /// The bursts found (rank 0).
    bursts: Option<Vec<Burst>>,
}

/// `guarded`'s screens, once per fit, as the engine computes them on the whole data set:
///
/// * **profile**: each rank scores its users from the items' global counts (every shard holds
///   them) with the engine's arithmetic; the scores are all-gathered in rank order (user order,
///   8 bytes per user, absent scores as NaN) and every rank takes the engine's median and MAD
///   of the same vector, so all agree on the screened users;
/// * **burst**: needs every rating of an item with its time. Rank 0 runs the engine's screen
///   on its whole data set (`root_data`) and sends the global CSR positions it holds (8 bytes
///   each, usually few) to every rank, which keeps those in its block (its first position is
///   the sum of the ratings of the ranks before it).
///
/// Other algorithms: nothing, and no communication.
fn screens<C: Communicator + ?Sized>(
    params: &ValidNmfParams,
    shard: &Shard,
    root_data: Option<&Ratings>,
    comm: &C,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Screens, DistError> {
    let mut out = Screens::default();
    if params.algorithm() != Algorithm::Guarded {
        return Ok(out);
    }
    if let Some(z) = params.profile_screen() {
        let log_pop: Vec<f64> = shard
            .item_counts
            .iter()
            .map(|&c| (c as f64).ln_1p())
            .collect();
        let local_users = shard.user_end - shard.user_start;
        let mine: Vec<u8> = (0..local_users)
            .flat_map(|lu| {
                let items = &shard.items[shard.row_ptr[lu]..shard.row_ptr[lu + 1]];
                cnmf_engine::user_score(&log_pop, items)
                    .unwrap_or(f64::NAN)
                    .to_le_bytes()
            })
            .collect();
        let scores: Vec<Option<f64>> = comm
            .all_gather_bytes(&mine)
            .iter()
            .flat_map(|b| b.chunks_exact(8))
            .map(|c| {
                let s = f64::from_le_bytes(c.try_into().expect("8 bytes"));
                (!s.is_nan()).then_some(s)
            })
            .collect();
        if scores.len() != shard.n_users {
            return Err(DistError::Partition(format!(
                "{} users' scores gathered for {} users",
                scores.len(),
                shard.n_users
            )));
        }
        let screened = cnmf_engine::screen_scores(&scores, z);
        out.screened_users = (0..shard.n_users as u32)
            .filter(|&u| screened[u as usize])
            .collect();
        out.screened_local = screened[shard.user_start..shard.user_end].to_vec();
    }
    if let Some(window) = params.burst_window() {
        let root = if comm.rank() == 0 {
            match root_data {
                Some(d) => Ok(in_pool(pool, || {
                    cnmf_engine::burst::burst_screen(d, window)
                })),
                None => Err("rank 0 needs the whole data set for the burst screen".to_string()),
            }
        } else {
            Ok(None)
        };
        let failed = comm.agree(root.as_ref().err().map(String::as_str));
        if !failed.is_empty() {
            return Err(DistError::Ranks(failed));
        }
        let root = root.map_err(DistError::Engine)?;
        let positions: Vec<u8> = root
            .as_ref()
            .map(|b| {
                b.held
                    .iter()
                    .enumerate()
                    .filter(|&(_, &h)| h != 0)
                    .flat_map(|(p, _)| (p as u64).to_le_bytes())
                    .collect()
            })
            .unwrap_or_default();
        let sent = comm.all_gather_bytes(&positions);
        let nnz = comm.all_gather_f64(&[shard.local_nnz() as f64]);
        let first: u64 = nnz[..comm.rank()].iter().map(|&c| c as u64).sum();
        let end = first + shard.local_nnz() as u64;
        let mut held = vec![0u8; shard.local_nnz()];
        let mut any = false;
        for c in sent[0].chunks_exact(8) {
            let p = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            if (first..end).contains(&p) {
                held[(p - first) as usize] = 1;
                any = true;
            }
        }
        if any {
            out.held_local = held;
        }
        out.bursts = root.map(|b| b.bursts);
    }
    Ok(out)
}

/// The ranks' row statistics summed in rank order; `bad_row` is the first global user whose
/// update is not finite.
fn reduce_stats<C: Communicator + ?Sized>(comm: &C, shard: &Shard, rs: &RowStats) -> RowStats {
    let bad = rs
        .bad_row
        .map_or(f64::INFINITY, |u| (shard.user_start + u) as f64);
    let all = comm.all_gather_f64(&[
        rs.loss,
        rs.clipped,
        rs.flagged as f64,
        rs.sq,
        bad,
        rs.robust,
    ]);
    let mut out = RowStats::default();
    let mut first_bad = f64::INFINITY;
    for r in all.chunks_exact(6) {
        out.loss += r[0];
        out.clipped += r[1];
        out.flagged += r[2] as usize;
        out.sq += r[3];
        first_bad = first_bad.min(r[4]);
        out.robust += r[5];
    }
    if first_bad.is_finite() {
        out.bad_row = Some(first_bad as usize);
    }
    out
}

/// Records the statistics of iteration `t` and applies the stopping rules (early stopping,
/// then the tolerance).
fn measure(
    p: &ValidNmfParams,
    st: &mut State,
    t: usize,
    rs: &RowStats,
) -> Result<Option<StopReason>, DistError> {
    let clipped_loss = p.lambda().map(|_| rs.clipped);
    let objective = p.objective(rs.loss, rs.clipped, rs.robust, rs.sq, st.h_sq);
    for (what, v) in [("loss", rs.loss), ("objective", objective)] {
        if !v.is_finite() {
            return Err(DistError::Engine(format!(
                "the {what} is not finite at iteration {t}"
            )));
        }
    }
    st.trace.push(IterationStats {
        iteration: t,
        loss: rs.loss,
        clipped_loss,
        objective,
        flagged: rs.flagged,
        elapsed_secs: st.elapsed,
        validation_nmae: st.val_nmae,
    });
    // Early stopping first, as the engine's `decide`: the same numbers on every rank.
    if let (Some(patience), Some(nmae)) = (p.early_stopping(), st.val_nmae) {
        let state = (&st.w[..], &st.h[..], &st.flags[..]);
        if let Some(stop) = Best::track(&mut st.best, t, nmae, patience, state) {
            return Ok(Some(stop));
        }
    }
    if let (Some(tol), [.., prev, last]) = (p.tolerance(), &st.trace[..]) {
        let change = (prev.objective - last.objective).abs();
        if change <= tol * prev.objective.abs().max(f64::MIN_POSITIVE) {
            return Ok(Some(StopReason::Converged));
        }
    }
    Ok(None)
}

/// The user half-step on this rank's users (the engine's `ignore_row` / `replace_row`):
/// statistics of `(W, H)`, flags under `rule.mark`, and when `update` the new rows in `w_next`.
fn row_pass(
    p: &ValidNmfParams,
    shard: &Shard,
    st: &mut State,
    rule: Rule,
    update: bool,
) -> RowStats {
    let k = p.rank();
    let replaces = p.algorithm().replaces();
    let gram_h = if replaces && update {
        gram(&st.h, &st.h, k)
    } else {
        Vec::new()
    };
    let users = chunk_bounds(&shard.row_ptr);
    let pos: Vec<usize> = users.iter().map(|&u| shard.row_ptr[u]).collect();
    let State {
        w,
        w_next,
        h,
        flags,
        weights,
        pool,
        screened,
        held,
        ..
    } = st;
    let w_next: &mut [f64] = if update { w_next } else { &mut [] };
    let jobs: Vec<RowJob<'_>> = split_at_cuts(w_next, &users, k)
        .into_iter()
        .zip(split_at_cuts(flags, &pos, 1))
        .zip(split_at_cuts(weights, &pos, 1))
        .enumerate()
        .map(|(c, ((w_next, flags), weights))| RowJob {
            k,
            replaces,
            shard,
            users: users[c]..users[c + 1],
            w,
            h,
            w_next,
            flags,
            weights,
            rule,
            update,
            gram_h: &gram_h,
            screened,
            held,
        })
        .collect();
    let isa = Isa::detect();
    let per_chunk: Vec<RowStats> = in_pool(pool.as_ref(), || {
        jobs.into_par_iter().map(|j| isa.run(j)).collect()
    });
    let mut total = RowStats::default();
    for c in &per_chunk {
        total.loss += c.loss;
        total.clipped += c.clipped;
        total.robust += c.robust;
        total.flagged += c.flagged;
        total.sq += c.sq;
        total.bad_row = total.bad_row.or(c.bad_row);
    }
    total
}

/// Chunk boundaries over the local users (or items): about [`CHUNK_NNZ`] ratings and at most
/// [`CHUNK_ROWS`] rows each, fixed by the data, so the per-chunk statistics are added in the
/// same order for any number of threads.
fn chunk_bounds(ptr: &[usize]) -> Vec<usize> {
    let rows = ptr.len() - 1;
    let mut b = vec![0];
    let mut start = 0;
    for r in 0..rows {
        if ptr[r + 1] - ptr[start] >= CHUNK_NNZ || r + 1 - start >= CHUNK_ROWS {
            b.push(r + 1);
            start = r + 1;
        }
    }
    if *b.last().expect("non-empty") != rows {
        b.push(rows);
    }
    b
}

/// Target number of ratings per parallel chunk (as the engine's).
const CHUNK_NNZ: usize = 8192;
/// Maximum number of rows per parallel chunk.
const CHUNK_ROWS: usize = 1024;

/// [`row_pass`] compiled for the widest instruction set of the CPU (the engine's dispatch:
/// the same operations in the same order, hence the same bits, on every instruction set).
struct RowJob<'a> {
    k: usize,
    replaces: bool,
    shard: &'a Shard,
    /// The local users of this chunk.
    users: std::ops::Range<usize>,
    w: &'a [f64],
    h: &'a [f64],
    /// The chunk's rows of the next `W` (empty without update).
    w_next: &'a mut [f64],
    /// The chunk's flags and weights (positions from the chunk's first entry; empty when the
    /// algorithm keeps none).
    flags: &'a mut [u8],
    weights: &'a mut [f64],
    rule: Rule,
    update: bool,
    gram_h: &'a [f64],
    /// `guarded`'s screens of all local users and entries (empty when none).
    screened: &'a [bool],
    held: &'a [u8],
}

impl Job for RowJob<'_> {
    type Output = RowStats;

    #[inline(always)]
    fn run<S: Simd>(self) -> RowStats {
        row_body(self)
    }
}

/// The loop of [`row_pass`].
#[inline(always)]
fn row_body(job: RowJob<'_>) -> RowStats {
    let RowJob {
        k,
        replaces,
        shard,
        users,
        w,
        h,
        w_next,
        flags: chunk_flags,
        weights: chunk_weights,
        rule,
        update,
        gram_h,
        screened,
        held,
    } = job;
    let mut stats = RowStats::default();
    let (mut num, mut den) = (vec![0.0; k], vec![0.0; k]);
    let mut a: Vec<f64> = Vec::new();
    let mut b: Vec<f64> = Vec::new();
    let (u0, base) = (users.start, shard.row_ptr[users.start]);
    for lu in users {
        let (s, e) = (shard.row_ptr[lu], shard.row_ptr[lu + 1]);
        let items = &shard.items[s..e];
        let values = &shard.values[s..e];
        let w0 = &w[lu * k..lu * k + k];
        let (cs, ce) = (s - base, e - base);
        let nn = items.len();
        b.clear();
        b.extend(
            items
                .iter()
                .map(|&i| dot(w0, &h[i as usize * k..i as usize * k + k])),
        );
        a.clear();
        a.resize(nn, 0.0);
        let mut active = 0usize;
        if let Some(guard) = rule.guard {
            // The engine's `guarded_row`: the item side's flags `1 - C_H`, the user side's
            // mask; a held entry is out of both sides once the screens apply.
            let flags = &mut chunk_flags[cs..ce];
            let out_of_items = guard.screen && screened.get(lu).copied().unwrap_or(false);
            let held = if guard.screen {
                held.get(s..e).unwrap_or(&[])
            } else {
                &[]
            };
            for q in 0..nn {
                let (v, x) = (values[q], b[q]);
                let r = v - x;
                let e = r * r;
                if let Some(l) = rule.lambda {
                    stats.clipped += e.min(l);
                }
                let ar = r.abs();
                let is_held = held.get(q).is_some_and(|&h| h != 0);
                let near = ar <= guard.item_cut;
                let item_out = out_of_items | is_held | !near;
                flags[q] = u8::from(item_out);
                stats.flagged += usize::from(item_out);
                stats.loss += if item_out { 0.0 } else { e };
                let keep = !is_held & (ar <= guard.user_cut);
                a[q] = if keep { v } else { 0.0 };
                b[q] = if keep { x } else { 0.0 };
                active += usize::from(keep);
            }
        } else if let Some(robust) = rule.robust {
            let flags: &mut [u8] = if chunk_flags.is_empty() {
                &mut []
            } else {
                &mut chunk_flags[cs..ce]
            };
            active = robust_entries(
                robust,
                rule.lambda,
                values,
                &mut a,
                &mut b,
                flags,
                &mut chunk_weights[cs..ce],
                &mut stats,
            );
        } else if let Some(mark) = rule.mark {
            let flags = &mut chunk_flags[cs..ce];
            for q in 0..nn {
                let (v, x) = (values[q], b[q]);
                let r2 = (v - x) * (v - x);
                if let Some(l) = rule.lambda {
                    stats.clipped += r2.min(l);
                }
                let corrupt = r2 > mark;
                flags[q] = u8::from(corrupt);
                stats.loss += if corrupt { 0.0 } else { r2 };
                stats.flagged += usize::from(corrupt);
                let keep = !corrupt;
                if replaces {
                    let c = if keep { 1.0 } else { rule.flagged_weight };
                    a[q] = c * (v - x);
                    active += usize::from(c != 0.0);
                } else {
                    a[q] = if keep { v } else { 0.0 };
                    b[q] = if keep { x } else { 0.0 };
                    active += usize::from(keep);
                }
            }
        } else {
            for q in 0..nn {
                let (v, x) = (values[q], b[q]);
                let r2 = (v - x) * (v - x);
                if let Some(l) = rule.lambda {
                    stats.clipped += r2.min(l);
                }
                stats.loss += r2;
                a[q] = if replaces { v - x } else { v };
            }
            active = nn;
        }
        stats.sq += l2_weight(rule.per_rating, nn) * dot(w0, w0);
        if !update {
            continue;
        }
        let w1 = &mut w_next[(lu - u0) * k..(lu - u0) * k + k];
        if active == 0 {
            w1.copy_from_slice(w0);
            continue;
        }
        num.fill(0.0);
        den.fill(0.0);
        if replaces {
            for (q, &i) in items.iter().enumerate() {
                let hi = &h[i as usize * k..i as usize * k + k];
                for (s, &x) in num.iter_mut().zip(hi) {
                    *s += a[q] * x;
                }
            }
            matvec(gram_h, w0, &mut den);
            for (nu, &g) in num.iter_mut().zip(den.iter()) {
                *nu = (*nu + g).max(0.0);
            }
        } else {
            for (q, &i) in items.iter().enumerate() {
                let hi = &h[i as usize * k..i as usize * k + k];
                for j in 0..k {
                    num[j] += a[q] * hi[j];
                    den[j] += b[q] * hi[j];
                }
            }
        }
        let l2 = rule.l2 * l2_weight(rule.per_rating, nn);
        let mut finite = true;
        for j in 0..k {
            w1[j] = w0[j] * num[j] / (den[j] + l2 * w0[j] + EPS);
            finite &= w1[j].is_finite();
        }
        if !finite && stats.bad_row.is_none() {
            stats.bad_row = Some(lu);
        }
    }
    stats
}

/// The item half-step: this rank's partial sums per item, one deterministic sum over the
/// ranks, the same update of `H` on every rank; then `W <- W_next`.
fn col_step<C: Communicator + ?Sized>(
    p: &ValidNmfParams,
    shard: &Shard,
    st: &mut State,
    rule: Rule,
    comm: &C,
    start: Instant,
) -> Result<(), DistError> {
    let k = p.rank();
    let m = shard.n_items;
    let replaces = p.algorithm().replaces();
    // Layout of the reduced buffer: per item `k` numerators, then (ignore variants) `k`
    // denominators, then its count of active entries; after the items (replace variants) the
    // Gram matrices `W1^T W0` and `W1^T W1`.
    let per_item = if replaces { k + 1 } else { 2 * k + 1 };
    let grams = if replaces { 2 * k * k } else { 0 };
    let mut buf = vec![0.0; m * per_item + grams];
    let items = chunk_bounds(&shard.col_ptr);
    let weighted = matches!(p.algorithm(), Algorithm::Huber | Algorithm::L1);
    let jobs: Vec<ColJob<'_>> = split_at_cuts(&mut buf[..m * per_item], &items, per_item)
        .into_iter()
        .enumerate()
        .map(|(c, buf)| ColJob {
            k,
            per_item,
            replaces,
            weighted,
            shard,
            items: items[c]..items[c + 1],
            st,
            rule,
            buf,
        })
        .collect();
    let isa = Isa::detect();
    in_pool(st.pool.as_ref(), || {
        jobs.into_par_iter().for_each(|j| isa.run(j))
    });
    if replaces {
        let g = &mut buf[m * per_item..];
        let (g10, g11) = g.split_at_mut(k * k);
        g10.copy_from_slice(&gram(&st.w_next, &st.w, k));
        g11.copy_from_slice(&gram(&st.w_next, &st.w_next, k));
    }
    comm.sum_all(&mut buf);
    // The same update on every rank.
    let (g10, g11) = if replaces {
        let g = &buf[m * per_item..];
        (g[..k * k].to_vec(), g[k * k..].to_vec())
    } else {
        (Vec::new(), Vec::new())
    };
    let mut num = vec![0.0; k];
    let mut den = vec![0.0; k];
    let mut h_sq = 0.0;
    let mut bad = None;
    for i in 0..m {
        let sums = &buf[i * per_item..(i + 1) * per_item];
        let count = shard.item_counts[i] as usize;
        let l2 = p.l2_h() * l2_weight(p.l2_per_rating(), count);
        let hi = &mut st.h[i * k..i * k + k];
        let active = sums[per_item - 1];
        if active > 0.0 {
            num.copy_from_slice(&sums[..k]);
            if replaces {
                matvec(&g10, hi, &mut den);
                for (nu, &g) in num.iter_mut().zip(den.iter()) {
                    *nu = (*nu + g).max(0.0);
                }
                matvec(&g11, hi, &mut den);
            } else {
                den.copy_from_slice(&sums[k..2 * k]);
            }
            let mut finite = true;
            for j in 0..k {
                hi[j] = hi[j] * num[j] / (den[j] + l2 * hi[j] + EPS);
                finite &= hi[j].is_finite();
            }
            if !finite && bad.is_none() {
                bad = Some(i);
            }
        }
        h_sq += l2_weight(p.l2_per_rating(), count) * dot(hi, hi);
    }
    if let Some(i) = bad {
        return Err(DistError::Engine(format!(
            "the item factors of item {i} are not finite"
        )));
    }
    std::mem::swap(&mut st.w, &mut st.w_next);
    st.h_sq = h_sq;
    st.elapsed = start.elapsed().as_secs_f64();
    Ok(())
}

/// Rank 0's side of the end of a fit: gathers every rank's rows of `W` and flags (in rank
/// order, which is user order) and, on rank 0, assembles the model as the engine would
/// (`data` is the whole data set, known on rank 0). Every rank must call it; ranks other than
/// 0 get `None`.
pub fn gather_model<C: Communicator + ?Sized>(
    params: &ValidNmfParams,
    data: Option<&Ratings>,
    fit: LocalFit,
    comm: &C,
) -> Result<Option<NmfModel>, DistError> {
    // Byte strings carry any length; f64 bits and flags as little-endian bytes.
    let w_bytes: Vec<u8> = fit.w.iter().flat_map(|x| x.to_le_bytes()).collect();
    let all_w = comm.gather_bytes(&w_bytes, 0);
    let all_flags = comm.gather_bytes(&fit.flags, 0);
    let (Some(all_w), Some(all_flags)) = (all_w, all_flags) else {
        return Ok(None);
    };
    let data = data.ok_or_else(|| DistError::Partition("rank 0 needs the whole data".into()))?;
    let k = params.rank();
    let w: Vec<f64> = all_w
        .iter()
        .flat_map(|b| b.chunks_exact(8))
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let flags: Vec<u8> = all_flags.concat();
    let factors = Factors::new(data.n_users(), data.n_items(), k, w, fit.h)
        .map_err(|e| DistError::Engine(e.to_string()))?;
    let mut positions = Vec::new();
    let mut entries = Vec::new();
    if !flags.is_empty() {
        let mut p = 0usize;
        for u in 0..data.n_users() as u32 {
            for &i in data.user(u).0 {
                if flags[p] != 0 {
                    positions.push(p as u32);
                    entries.push((u, i));
                }
                p += 1;
            }
        }
    }
    NmfModel::from_parts(
        params.clone(),
        data.scale(),
        data.mean(),
        factors,
        data.nnz(),
        positions,
        entries,
        fit.trace,
        fit.stop_reason,
        fit.kept_iteration,
    )
    .and_then(|m| m.with_screened_users(fit.screened_users))
    .and_then(|m| m.with_bursts(fit.bursts))
    .map(Some)
    .map_err(|e| DistError::Engine(e.to_string()))
}

/// The robust baselines' pass over one row's entries with predictions `b` (the engine's
/// `robust_entries` for `huber` and `l1`): statistics, flags (`huber`, when `flags` is not
/// empty), the weights `c` (into `weights`, for the item half-step) and the weighted sums'
/// factors `a = c v`, `b = c x`. Returns the number of entries of positive weight.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn robust_entries(
    robust: Robust,
    lambda: Option<f64>,
    values: &[f64],
    a: &mut [f64],
    b: &mut [f64],
    flags: &mut [u8],
    weights: &mut [f64],
    st: &mut RowStats,
) -> usize {
    let mut active = 0usize;
    for (q, &v) in values.iter().enumerate() {
        let r = v - b[q];
        let e = r * r;
        if let Some(l) = lambda {
            st.clipped += e.min(l);
        }
        if let Robust::Squares = robust {
            st.loss += e;
            weights[q] = e;
            continue;
        }
        if let Robust::Flags = robust {
            let keep = flags[q] == 0;
            st.loss += if keep { e } else { 0.0 };
            st.flagged += usize::from(!keep);
            a[q] = if keep { v } else { 0.0 };
            b[q] = if keep { b[q] } else { 0.0 };
            active += usize::from(keep);
            continue;
        }
        let c = match robust {
            Robust::Huber {
                lambda,
                delta,
                reweight,
            } => {
                let beyond = e > lambda;
                let ar = r.abs();
                st.robust += if beyond { 2.0 * delta * ar - lambda } else { e };
                let flagged = reweight && beyond;
                if !flags.is_empty() {
                    flags[q] = u8::from(flagged);
                }
                st.flagged += usize::from(flagged);
                st.loss += if flagged { 0.0 } else { e };
                if flagged {
                    delta / ar
                } else {
                    1.0
                }
            }
            Robust::L1 {
                smoothing,
                reweight,
            } => {
                st.loss += e;
                let root = (e + smoothing * smoothing).sqrt();
                st.robust += root;
                if reweight {
                    0.5 / root
                } else {
                    1.0
                }
            }
            Robust::Squares | Robust::Flags => unreachable!("handled above"),
        };
        weights[q] = c;
        a[q] = c * v;
        b[q] *= c;
        active += usize::from(c > 0.0);
    }
    active
}

/// The per-item partial sums of [`col_step`] over this rank's users, compiled for the widest
/// instruction set of the CPU (as [`RowJob`]).
struct ColJob<'a> {
    k: usize,
    per_item: usize,
    replaces: bool,
    /// huber and l1: the entries weigh the row pass's weights (`trimmed` keeps its squared
    /// residuals there and masks by its flags).
    weighted: bool,
    shard: &'a Shard,
    /// The items of this chunk; `buf` holds their sums.
    items: std::ops::Range<usize>,
    st: &'a State,
    rule: Rule,
    buf: &'a mut [f64],
}

impl Job for ColJob<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Simd>(self) {
        col_body(self);
    }
}

/// The loop of [`ColJob`].
#[inline(always)]
fn col_body(job: ColJob<'_>) {
    let ColJob {
        k,
        per_item,
        replaces,
        weighted,
        shard,
        items,
        st,
        rule,
        buf,
    } = job;
    let mut xs: Vec<f64> = Vec::new();
    let i0 = items.start;
    for i in items {
        let (s, e) = (shard.col_ptr[i], shard.col_ptr[i + 1]);
        if s == e {
            continue;
        }
        let hi = &st.h[i * k..i * k + k];
        let users = &shard.col_users[s..e];
        let pos = &shard.col_pos[s..e];
        let out = &mut buf[(i - i0) * per_item..(i - i0 + 1) * per_item];
        let (num, rest) = out.split_at_mut(k);
        let mut active = 0usize;
        if replaces {
            // The residuals of (W0, H0), recomputed as the row pass computed them.
            xs.clear();
            xs.extend(
                users
                    .iter()
                    .map(|&lu| dot(hi, &st.w[lu as usize * k..lu as usize * k + k])),
            );
            for (q, &lu) in users.iter().enumerate() {
                let v = shard.values[pos[q] as usize];
                let x = xs[q];
                let c = match rule.mark {
                    Some(l) if (v - x) * (v - x) > l => rule.flagged_weight,
                    _ => 1.0,
                };
                let r = c * (v - x);
                active += usize::from(c != 0.0);
                let w1 = &st.w_next[lu as usize * k..lu as usize * k + k];
                for (s, &x) in num.iter_mut().zip(w1) {
                    *s += r * x;
                }
            }
            rest[0] = active as f64;
        } else if weighted {
            // huber and l1: the row pass's weights c, `Σ c v w1` and `Σ c x w1`.
            let (den, cnt) = rest.split_at_mut(k);
            for (q, &lu) in users.iter().enumerate() {
                let c = st.weights[pos[q] as usize];
                let w1 = &st.w_next[lu as usize * k..lu as usize * k + k];
                let v = shard.values[pos[q] as usize];
                let (av, bx) = (c * v, dot(hi, w1) * c);
                active += usize::from(c > 0.0);
                for j in 0..k {
                    num[j] += av * w1[j];
                    den[j] += bx * w1[j];
                }
            }
            cnt[0] = active as f64;
        } else {
            let (den, cnt) = rest.split_at_mut(k);
            for (q, &lu) in users.iter().enumerate() {
                let keep = st.flags.is_empty() || st.flags[pos[q] as usize] == 0;
                if !keep {
                    continue;
                }
                active += 1;
                let w1 = &st.w_next[lu as usize * k..lu as usize * k + k];
                let v = shard.values[pos[q] as usize];
                let x = dot(hi, w1);
                for j in 0..k {
                    num[j] += v * w1[j];
                    den[j] += x * w1[j];
                }
            }
            cnt[0] = active as f64;
        }
    }
}

/// `trimmed`'s measurement in the row pass of iteration `t` (the engine's `trim_measure`): the
/// squared residuals of iteration `t - 1` of this rank's entries, then the global selection of
/// the `floor(q |Ω|)` largest (ties by global CSR position, which is rank order then local
/// position), which sets the flags from iteration `warmup + 2` on. Returns the global
/// statistics: `robust` is the trimmed loss; `loss` and `flagged` are the kept loss and the
/// number dropped once the selection flags.
fn trim_measure<C: Communicator + ?Sized>(
    p: &ValidNmfParams,
    shard: &Shard,
    st: &mut State,
    t: usize,
    comm: &C,
) -> RowStats {
    let rule = Rule {
        robust: Some(Robust::Squares),
        ..Rule::of(p, t)
    };
    let rs = row_pass(p, shard, st, rule, false);
    let mut global = reduce_stats(comm, shard, &rs);
    let n = shard.nnz_total;
    let drop = ((p.trim_fraction() * n as f64).floor() as usize).min(n);
    let marking = t > p.warmup_iters() + 1;
    let flags = if marking {
        Some(&mut st.flags[..])
    } else {
        None
    };
    let kept = trim_distributed(comm, &st.weights, drop, flags);
    global.robust = kept;
    if marking {
        global.loss = kept;
        global.flagged = drop;
    }
    global
}

/// The engine's `trim` over the ranks' squared residuals: the threshold `tau` (the `drop`-th
/// largest value over all ranks) by bisection on the bits of the values (nonnegative doubles
/// order as their bits), counting on each rank among its `drop` largest values; the entries
/// equal to `tau` are dropped in global position order (each rank learns how many lie on the
/// ranks before it). Returns the sum over the kept entries (per rank, then in rank order).
fn trim_distributed<C: Communicator + ?Sized>(
    comm: &C,
    squares: &[f64],
    drop: usize,
    flags: Option<&mut [u8]>,
) -> f64 {
    let bits = |e: f64| e.to_bits();
    let (tau, ties_dropped) = if drop == 0 {
        (f64::INFINITY.to_bits(), 0usize)
    } else {
        let mut top: Vec<u64> = squares.iter().map(|&e| bits(e)).collect();
        let truncated = top.len() > drop;
        if truncated {
            top.select_nth_unstable_by(drop - 1, |a, b| b.cmp(a));
            top.truncate(drop);
        }
        top.sort_unstable_by(|a, b| b.cmp(a));
        // min(entries >= t on this rank, drop).
        let count_ge = |t: u64| -> f64 {
            let c = top.partition_point(|&b| b >= t);
            if truncated && c == top.len() {
                drop as f64
            } else {
                c as f64
            }
        };
        let global_ge = |t: u64| -> usize {
            let mut c = [count_ge(t)];
            comm.sum_small(&mut c);
            c[0] as usize
        };
        // The largest t with at least `drop` entries >= t: the value of the drop-th largest.
        let (mut lo, mut hi) = (0u64, 1u64 << 63);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if global_ge(mid) >= drop {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let above = global_ge(lo + 1);
        (lo, drop - above)
    };
    let ties_here = squares.iter().filter(|&&e| bits(e) == tau).count();
    let ties = comm.all_gather_f64(&[ties_here as f64]);
    let mut tie_rank: usize = ties[..comm.rank()].iter().map(|&c| c as usize).sum();
    let mut kept = 0.0;
    let mut flags = flags;
    for (q, &e) in squares.iter().enumerate() {
        let b = bits(e);
        let dropped = match b.cmp(&tau) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => {
                let d = tie_rank < ties_dropped;
                tie_rank += 1;
                d
            }
            std::cmp::Ordering::Less => false,
        };
        if let Some(f) = flags.as_deref_mut() {
            f[q] = u8::from(dropped);
        }
        if !dropped {
            kept += e;
        }
    }
    let mut k = [kept];
    comm.sum_small(&mut k);
    k[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ThreadRanks;

    /// The distributed passes are `f64` only: `f32` is refused by the check, naming it.
    #[test]
    fn f32_precision_is_refused_with_a_clear_error() {
        let p = |precision| {
            cnmf_engine::NmfParams::new(5, Algorithm::IgnoreMissing)
                .precision(precision)
                .check()
                .unwrap()
        };
        assert!(check_params(&p(cnmf_engine::Precision::F64)).is_ok());
        let err = check_params(&p(cnmf_engine::Precision::F32)).unwrap_err();
        assert!(err.to_string().contains("--precision f32"), "{err}");
    }

    /// Ties at the threshold are dropped in global position order (rank order, then local
    /// position), as the engine's selection drops them in CSR order.
    #[test]
    fn the_distributed_selection_drops_ties_in_global_position_order() {
        let parts: [&[f64]; 3] = [&[1.0, 4.0, 2.0], &[4.0, 0.5], &[4.0, 4.0, 1.0]];
        // The dropped values' sum with each expectation.
        for (drop, dropped, expect) in [
            (3, 12.0, [vec![0, 1, 0], vec![1, 0], vec![1, 0, 0]]),
            (0, 0.0, [vec![0, 0, 0], vec![0, 0], vec![0, 0, 0]]),
            (5, 18.0, [vec![0, 1, 1], vec![1, 0], vec![1, 1, 0]]),
        ] {
            let out = ThreadRanks::run(3, |c| {
                let mine = parts[c.rank()];
                let mut flags = vec![9u8; mine.len()];
                let kept = trim_distributed(c, mine, drop, Some(&mut flags));
                (flags, kept)
            });
            let total: f64 = parts.iter().flat_map(|p| p.iter()).sum();
            for (r, (flags, kept)) in out.into_iter().enumerate() {
                assert_eq!(flags, expect[r], "drop {drop} rank {r}");
                assert_eq!(kept, total - dropped, "drop {drop}");
            }
        }
    }
}
