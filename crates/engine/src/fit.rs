//! The fit driver: options, stopping rules, observer.

use std::time::Instant;

use cnmf_ratings::{RatingScale, Ratings, Triple};
use rayon::prelude::*;

use crate::isa::Isa;
use crate::kernels::{gram, RowRule, RowStats};
use crate::passes::{ColKind, Problem, RowKind};
use crate::{
    init_factors, Algorithm, EngineError, Factors, IterationStats, NmfModel, Observer, StopReason,
    ValidNmfParams,
};

/// The observer slot of [`FitOptions`].
type ObserverSlot<'o> = Option<&'o mut dyn Observer>;

/// Optional inputs of [`ValidNmfParams::fit_with`].
///
/// ```
/// use std::ops::ControlFlow;
/// use cnmf_engine::{FitOptions, IterationStats};
/// let mut seen = 0;
/// let mut observer = |s: &IterationStats| {
///     seen = s.iteration;
///     ControlFlow::Continue(())
/// };
/// let options = FitOptions::new().observer(&mut observer);
/// # drop(options);
/// ```
#[derive(Default)]
pub struct FitOptions<'a> {
    pub(crate) initial: Option<&'a Factors>,
    pub(crate) validation: Option<&'a [Triple]>,
    pub(crate) observer: ObserverSlot<'a>,
    pub(crate) isa: Option<Isa>,
}

impl<'a> FitOptions<'a> {
    /// No warm start, no validation, no observer.
    pub fn new() -> Self {
        FitOptions::default()
    }

    /// Starts from these factors instead of [`init_factors`](crate::init_factors) (warm start).
    /// Their shape must match the data and the rank; they must be finite and nonnegative (zero
    /// entries stay zero under multiplicative updates).
    pub fn initial(mut self, factors: &'a Factors) -> Self {
        self.initial = Some(factors);
        self
    }

    /// Validation triples (dense indices of the training data): their NMAE is recorded in the
    /// trace each iteration and drives early stopping when it is enabled.
    pub fn validation(mut self, triples: &'a [Triple]) -> Self {
        self.validation = Some(triples);
        self
    }

    /// Called after each iteration `t >= 1` with its statistics; `ControlFlow::Break(())`
    /// stops the fit, keeping that iteration's factors.
    pub fn observer(mut self, observer: &'a mut dyn Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Testing and benchmarking hook, not part of the stable API: runs the passes on this
    /// instruction set instead of the widest one the CPU has ([`Isa::detect`]). The results
    /// are the same bits on every instruction set; an instruction set the CPU lacks falls back
    /// to [`Isa::Portable`].
    #[doc(hidden)]
    pub fn isa(mut self, isa: Isa) -> Self {
        self.isa = Some(isa);
        self
    }
}

impl std::fmt::Debug for FitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field(
                "initial",
                &self.initial.map(|x| (x.n_users(), x.n_items(), x.rank())),
            )
            .field("validation", &self.validation.map(<[Triple]>::len))
            .field("observer", &self.observer.is_some())
            .field("isa", &self.isa)
            .finish()
    }
}

impl ValidNmfParams {
    /// Fits the model to `data` from [`init_factors`](crate::init_factors)`(n, m, k,
    /// data.mean(), seed)`.
    ///
    /// Errors: a rating scale that allows negative ratings (NMF needs nonnegative data), a NaN
    /// or infinity during the iterations, a thread pool that cannot be built.
    pub fn fit(&self, data: &Ratings) -> Result<NmfModel, EngineError> {
        self.fit_with(data, FitOptions::new())
    }

    /// [`fit`](ValidNmfParams::fit) with a warm start, a validation set and/or an observer.
    ///
    /// Additional errors: warm-start factors of the wrong shape, validation triples out of
    /// range or not finite, early stopping enabled without validation triples. All inputs are
    /// checked before any iteration runs.
    pub fn fit_with(
        &self,
        data: &Ratings,
        options: FitOptions<'_>,
    ) -> Result<NmfModel, EngineError> {
        let scale = data.scale();
        if scale.min() < 0.0 {
            return Err(EngineError::InvalidInput {
                what: "ratings",
                reason: format!(
                    "the rating scale [{}, {}] allows negative ratings; nonnegative matrix \
                     factorization needs ratings >= 0 (shift the scale)",
                    scale.min(),
                    scale.max()
                ),
            });
        }
        let (n, m, k) = (data.n_users(), data.n_items(), self.rank());
        let factors = match options.initial {
            Some(f) => {
                if (f.n_users(), f.n_items(), f.rank()) != (n, m, k) {
                    return Err(EngineError::ShapeMismatch {
                        what: "warm-start factors",
                        expected: format!("{n} users x {m} items at rank {k}"),
                        found: format!(
                            "{} users x {} items at rank {}",
                            f.n_users(),
                            f.n_items(),
                            f.rank()
                        ),
                    });
                }
                f.clone()
            }
            None => init_factors(n, m, k, data.mean(), self.seed())?,
        };
        if let Some(val) = options.validation {
            check_validation(val, n, m)?;
        }
        if self.early_stopping().is_some() && options.validation.is_none_or(|v| v.is_empty()) {
            return Err(EngineError::InvalidParameter {
                name: "early_stopping",
                reason: "needs validation triples (FitOptions::validation)".into(),
            });
        }
        let pool = match self.threads() {
            0 => None,
            t => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .map_err(|e| EngineError::ThreadPool {
                        threads: t,
                        reason: e.to_string(),
                    })?,
            ),
        };
        let exec = Exec {
            pool: pool.as_ref(),
            isa: options.isa.unwrap_or_else(Isa::detect),
        };
        let problem = Problem::new(data, k);
        let run = Run {
            params: self,
            problem: &problem,
            exec,
            scale,
            validation: options.validation.filter(|v| !v.is_empty()),
        };
        let out = dispatch_rank(k, run, factors, options.observer)?;
        Ok(finish_model(self, data, out))
    }
}

/// Checks that validation triples index the data's users and items and are finite.
fn check_validation(val: &[Triple], n: usize, m: usize) -> Result<(), EngineError> {
    for (p, t) in val.iter().enumerate() {
        if t.user as usize >= n || t.item as usize >= m {
            return Err(EngineError::InvalidInput {
                what: "validation triples",
                reason: format!(
                    "triple {p} is (user {}, item {}), outside the data's {n} users x {m} items",
                    t.user, t.item
                ),
            });
        }
        if !t.value.is_finite() {
            return Err(EngineError::InvalidInput {
                what: "validation triples",
                reason: format!("triple {p} has rating {}, not finite", t.value),
            });
        }
    }
    Ok(())
}

/// Where parallel work runs: the caller's rayon pool or a dedicated one, and on which
/// instruction set. The driver itself stays on the calling thread (so the observer need not be
/// `Send`); each pass is installed.
#[derive(Clone, Copy)]
struct Exec<'p> {
    pool: Option<&'p rayon::ThreadPool>,
    /// The instruction set of the passes' kernels.
    isa: Isa,
}

impl Exec<'_> {
    fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }
}

/// Everything a fit reads.
struct Run<'r, 'a> {
    params: &'r ValidNmfParams,
    problem: &'r Problem<'a>,
    exec: Exec<'r>,
    scale: RatingScale,
    validation: Option<&'r [Triple]>,
}

/// What the iterations produce.
struct RunOutput {
    factors: Factors,
    flags: Vec<u8>,
    trace: Vec<IterationStats>,
    stop_reason: StopReason,
    kept_iteration: usize,
}

/// Runs the iterations with the rank as a compile-time constant when it is a common one.
fn dispatch_rank(
    k: usize,
    run: Run<'_, '_>,
    factors: Factors,
    observer: ObserverSlot<'_>,
) -> Result<RunOutput, EngineError> {
    match k {
        5 => run.iterate::<5>(factors, observer),
        8 => run.iterate::<8>(factors, observer),
        10 => run.iterate::<10>(factors, observer),
        16 => run.iterate::<16>(factors, observer),
        20 => run.iterate::<20>(factors, observer),
        25 => run.iterate::<25>(factors, observer),
        30 => run.iterate::<30>(factors, observer),
        32 => run.iterate::<32>(factors, observer),
        40 => run.iterate::<40>(factors, observer),
        50 => run.iterate::<50>(factors, observer),
        64 => run.iterate::<64>(factors, observer),
        100 => run.iterate::<100>(factors, observer),
        _ => run.iterate::<0>(factors, observer),
    }
}

/// Statistics of the state at the end of an iteration that are known before the next row
/// pass measures the loss.
#[derive(Clone, Copy)]
struct Pending {
    elapsed_secs: f64,
    h_sq: f64,
    validation_nmae: Option<f64>,
}

/// Best state seen so far under early stopping.
struct Best {
    iteration: usize,
    nmae: f64,
    w: Vec<f64>,
    h: Vec<f64>,
    flags: Vec<u8>,
}

impl Run<'_, '_> {
    /// The iteration loop (see the crate docs for the schedule).
    ///
    /// The statistics of iteration `t` (loss, clipped loss, flags `Z_t`) need `X = W_t H_t` on
    /// every observed entry; the row pass of iteration `t + 1` computes exactly that `X` for its
    /// own update, so it also measures iteration `t` and sets the flags `Z_t` it then uses as
    /// its mask. The last iteration is measured by a statistics-only row pass. A stop decided
    /// on iteration `t`'s statistics discards the half-computed `W_{t+1}` (kept in a separate
    /// buffer) and keeps `(W_t, H_t, Z_t)`.
    fn iterate<const K: usize>(
        &self,
        factors: Factors,
        mut observer: ObserverSlot<'_>,
    ) -> Result<RunOutput, EngineError> {
        let p = self.params;
        let problem = self.problem;
        let alg = p.algorithm();
        let (n, m, k) = (problem.n, problem.m, problem.k);
        let start = Instant::now();
        let (mut w, mut h) = factors.into_parts();
        let mut w_next = vec![0.0; n * k];
        let mut flags = if alg.flags_corruption() {
            vec![0u8; problem.nnz()]
        } else {
            Vec::new()
        };
        let mut trace: Vec<IterationStats> = Vec::new();
        let mut best: Option<Best> = None;
        let mut pending = Pending {
            elapsed_secs: start.elapsed().as_secs_f64(),
            h_sq: h.iter().map(|x| x * x).sum(),
            validation_nmae: self.validation_nmae(&w, &h, k),
        };
        let mut t = 1usize;
        let (stop_reason, kept) = loop {
            // Row pass of iteration t: measures iteration t-1, updates W into w_next.
            let marking = alg.flags_corruption() && t > p.warmup_iters() + 1;
            let gram_h = if alg.replaces() {
                self.exec.run(|| gram::<K>(self.exec.isa, &h, &h, k))
            } else {
                Vec::new()
            };
            let kind = if alg.replaces() {
                RowKind::Replace { gram_h: &gram_h }
            } else {
                RowKind::Ignore
            };
            let rule = self.row_rule(marking, t, p.l2_w());
            let rs = self.exec.run(|| {
                problem.row_pass::<K, true>(
                    self.exec.isa,
                    kind,
                    rule,
                    &w,
                    &mut w_next,
                    &h,
                    &mut flags,
                )
            });
            let stats = self.stats(t - 1, &rs, pending)?;
            trace.push(stats);
            if let Some(reason) = self.decide(&trace, &mut observer, &mut best, (&w, &h, &flags)) {
                break (reason, t - 1);
            }
            if let Some(u) = rs.bad_row {
                return Err(EngineError::NotFinite {
                    what: format!("user factors of user {u}"),
                    iteration: t,
                });
            }

            // Column pass of iteration t with the new W.
            let (g10, g11) = if alg.replaces() {
                self.exec.run(|| {
                    rayon::join(
                        || gram::<K>(self.exec.isa, &w_next, &w, k),
                        || gram::<K>(self.exec.isa, &w_next, &w_next, k),
                    )
                })
            } else {
                (Vec::new(), Vec::new())
            };
            let col_kind = if alg.replaces() {
                ColKind::Replace {
                    g10: &g10,
                    g11: &g11,
                    // The weighted residuals c (V - W0 H0) and flags of the row pass,
                    // recomputed; a flagged entry of weight 0 (nointerp, or replace-corrupt
                    // once decay^t underflows) does not make a column active (as in the row
                    // pass).
                    w0: &w,
                    mark: rule.mark,
                    flagged_weight: rule.flagged_weight,
                }
            } else {
                ColKind::Ignore
            };
            let (h_sq, bad_item) = self.exec.run(|| {
                problem.col_pass::<K>(self.exec.isa, col_kind, p.l2_h(), &w_next, &mut h, &flags)
            });
            if let Some(i) = bad_item {
                return Err(EngineError::NotFinite {
                    what: format!("item factors of item {i}"),
                    iteration: t,
                });
            }
            std::mem::swap(&mut w, &mut w_next);
            pending = Pending {
                elapsed_secs: start.elapsed().as_secs_f64(),
                h_sq,
                validation_nmae: self.validation_nmae(&w, &h, k),
            };

            let out_of_time = p.time_budget().is_some_and(|b| start.elapsed() >= b);
            if t == p.max_iters() || out_of_time {
                // Statistics-only row pass: measures iteration t and sets Z_t.
                let marking = alg.flags_corruption() && t > p.warmup_iters();
                let rule = self.row_rule(marking, t + 1, p.l2_w());
                let rs = self.exec.run(|| {
                    problem.row_pass::<K, false>(
                        self.exec.isa,
                        RowKind::Ignore,
                        rule,
                        &w,
                        &mut [],
                        &h,
                        &mut flags,
                    )
                });
                let stats = self.stats(t, &rs, pending)?;
                trace.push(stats);
                let reason = self
                    .decide(&trace, &mut observer, &mut best, (&w, &h, &flags))
                    .unwrap_or(if out_of_time {
                        StopReason::TimeBudget
                    } else {
                        StopReason::MaxIters
                    });
                break (reason, t);
            }
            t += 1;
        };
        // Under early stopping the model keeps the best state, however the fit stopped.
        let kept = match best {
            Some(b) if b.iteration != kept => {
                w = b.w;
                h = b.h;
                flags = b.flags;
                b.iteration
            }
            _ => kept,
        };
        Ok(RunOutput {
            factors: Factors::from_parts_unchecked(n, m, k, w, h),
            flags,
            trace,
            stop_reason,
            kept_iteration: kept,
        })
    }

    /// The row rule of the row pass of iteration `t` (whose filled matrix uses `decay^t`).
    fn row_rule(&self, marking: bool, t: usize, l2: f64) -> RowRule {
        let p = self.params;
        let lambda = p.lambda();
        RowRule {
            lambda,
            mark: if marking { lambda } else { None },
            flagged_weight: match p.algorithm() {
                Algorithm::ReplaceCorrupt => p.decay().powi(i32::try_from(t).unwrap_or(i32::MAX)),
                _ => 0.0,
            },
            l2,
        }
    }

    /// Assembles and checks the statistics of iteration `t`.
    fn stats(
        &self,
        t: usize,
        rs: &RowStats,
        pending: Pending,
    ) -> Result<IterationStats, EngineError> {
        let p = self.params;
        let clipped_loss = p.lambda().map(|_| rs.clipped);
        let data_term = if p.algorithm().flags_corruption() {
            rs.clipped
        } else {
            rs.loss
        };
        let objective = data_term + p.l2_w() * rs.sq + p.l2_h() * pending.h_sq;
        for (what, v) in [("loss", rs.loss), ("objective", objective)] {
            if !v.is_finite() {
                return Err(EngineError::NotFinite {
                    what: what.into(),
                    iteration: t,
                });
            }
        }
        Ok(IterationStats {
            iteration: t,
            loss: rs.loss,
            clipped_loss,
            objective,
            flagged: rs.flagged,
            elapsed_secs: pending.elapsed_secs,
            validation_nmae: pending.validation_nmae,
        })
    }

    /// Applies the stopping rules to the last statistics; updates the best state.
    fn decide(
        &self,
        trace: &[IterationStats],
        observer: &mut ObserverSlot<'_>,
        best: &mut Option<Best>,
        state: (&[f64], &[f64], &[u8]),
    ) -> Option<StopReason> {
        let p = self.params;
        let last = trace.last().expect("statistics pushed");
        let t = last.iteration;
        if let (Some(patience), Some(nmae)) = (p.early_stopping(), last.validation_nmae) {
            let improved = best.as_ref().is_none_or(|b| nmae < b.nmae);
            if improved {
                let b = best.get_or_insert_with(|| Best {
                    iteration: t,
                    nmae,
                    w: Vec::new(),
                    h: Vec::new(),
                    flags: Vec::new(),
                });
                b.iteration = t;
                b.nmae = nmae;
                b.w.clear();
                b.w.extend_from_slice(state.0);
                b.h.clear();
                b.h.extend_from_slice(state.1);
                b.flags.clear();
                b.flags.extend_from_slice(state.2);
            } else if let Some(b) = best.as_ref() {
                if t - b.iteration >= patience {
                    return Some(StopReason::EarlyStopped {
                        best_iteration: b.iteration,
                    });
                }
            }
        }
        if t >= 1 {
            if let Some(obs) = observer.as_mut() {
                if obs.on_iteration(last).is_break() {
                    return Some(StopReason::Observer);
                }
            }
        }
        if let (Some(tol), [.., prev, _]) = (p.tolerance(), trace) {
            let change = (prev.objective - last.objective).abs();
            if change <= tol * prev.objective.abs().max(f64::MIN_POSITIVE) {
                return Some(StopReason::Converged);
            }
        }
        None
    }

    /// NMAE of the clipped predictions on the validation triples, summed in fixed blocks.
    fn validation_nmae(&self, w: &[f64], h: &[f64], k: usize) -> Option<f64> {
        let val = self.validation?;
        let scale = self.scale;
        let partials: Vec<f64> = self.exec.run(|| {
            val.par_chunks(4096)
                .map(|block| {
                    block
                        .iter()
                        .map(|t| {
                            let (u, i) = (t.user as usize, t.item as usize);
                            let x = crate::kernels::dot(&w[u * k..u * k + k], &h[i * k..i * k + k]);
                            (t.value - scale.clip(x)).abs()
                        })
                        .sum::<f64>()
                })
                .collect()
        });
        let total: f64 = partials.iter().sum();
        Some(total / (val.len() as f64 * scale.width()))
    }
}

/// Packs the run's output into a model: flags as CSR positions and (user, item) pairs.
fn finish_model(params: &ValidNmfParams, data: &Ratings, out: RunOutput) -> NmfModel {
    let mut corrupt_positions = Vec::new();
    let mut corrupt_entries = Vec::new();
    if !out.flags.is_empty() {
        let mut p = 0usize;
        for u in 0..data.n_users() as u32 {
            let (items, _) = data.user(u);
            for &i in items {
                if out.flags[p] != 0 {
                    corrupt_positions.push(p as u32);
                    corrupt_entries.push((u, i));
                }
                p += 1;
            }
        }
    }
    NmfModel {
        params: params.clone(),
        scale: data.scale(),
        mean_rating: data.mean(),
        factors: out.factors,
        n_ratings: data.nnz(),
        corrupt_positions,
        corrupt_entries,
        trace: out.trace,
        stop_reason: out.stop_reason,
        kept_iteration: out.kept_iteration,
    }
}
