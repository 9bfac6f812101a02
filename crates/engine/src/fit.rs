//! The fit driver: options, stopping rules, observer.

use std::time::Instant;

use cnmf_ratings::{RatingScale, Ratings, Triple};
use rayon::prelude::*;

use crate::flagged::FlaggedByItem;
use crate::isa::Isa;
use crate::kernels::{gram, Guard, Robust, RowRule, RowStats, L2};
use crate::passes::{ColKind, Problem, RowKind};
use crate::real::Real;
use crate::{
    init_factors, Algorithm, EngineError, Factors, IterationStats, NmfModel, Observer, Precision,
    StopReason, ValidNmfParams,
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
    pub(crate) column_tiles: Option<usize>,
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

    /// Testing and benchmarking hook, not part of the stable API: runs the column pass of the
    /// algorithms that ignore flagged entries in `tiles` ranges of users (1: untiled), in either
    /// precision, instead of the engine's choice (tiles once the user factors pass 8 MiB). The
    /// results are the same bits either way. Ignored by the other algorithms.
    #[doc(hidden)]
    pub fn column_tiles(mut self, tiles: usize) -> Self {
        self.column_tiles = Some(tiles.max(1));
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
            .field("column_tiles", &self.column_tiles)
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
        let screened = match (self.algorithm(), self.profile_screen()) {
            (Algorithm::Guarded, Some(z)) => exec.run(|| crate::screen::profile_screen(data, z)),
            _ => Vec::new(),
        };
        let bursts = match (self.algorithm(), self.burst_window()) {
            (Algorithm::Guarded, Some(w)) => exec.run(|| crate::burst::burst_screen(data, w)),
            _ => None,
        };
        let held: &[u8] = bursts.as_ref().map_or(&[], |b| &b.held);
        let (validation, observer) = (
            options.validation.filter(|v| !v.is_empty()),
            options.observer,
        );
        let tiles = options.column_tiles;
        let out = match self.precision() {
            Precision::F64 => run_in::<f64>(
                self, data, exec, tiles, scale, validation, &screened, held, factors, observer,
            )?,
            Precision::F32 => run_in::<f32>(
                self, data, exec, tiles, scale, validation, &screened, held, factors, observer,
            )?,
        };
        let mut model = finish_model(self, data, out, &screened);
        model.bursts = bursts.map(|b| b.bursts);
        Ok(model)
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

/// Everything a fit reads; `T` is the element type of the passes ([`Precision`]).
struct Run<'r, 'a, T: Real> {
    params: &'r ValidNmfParams,
    problem: &'r Problem<'a, T>,
    exec: Exec<'r>,
    scale: RatingScale,
    validation: Option<&'r [Triple]>,
    /// `guarded`'s profile screen, one value per user (empty: nobody is screened).
    screened: &'r [bool],
    /// `guarded`'s burst screen, one value per rating in CSR order (empty: nothing held).
    held: &'r [u8],
}

/// What the iterations produce.
struct RunOutput {
    factors: Factors,
    flags: Vec<u8>,
    trace: Vec<IterationStats>,
    stop_reason: StopReason,
    kept_iteration: usize,
}

/// Runs the iterations on `data` in precision `T` (see [`dispatch_rank`]); `tiles` overrides
/// the engine's choice of column tiles ([`FitOptions::column_tiles`]).
#[allow(clippy::too_many_arguments)]
fn run_in<T: Real>(
    params: &ValidNmfParams,
    data: &Ratings,
    exec: Exec<'_>,
    tiles: Option<usize>,
    scale: RatingScale,
    validation: Option<&[Triple]>,
    screened: &[bool],
    held: &[u8],
    factors: Factors,
    observer: ObserverSlot<'_>,
) -> Result<RunOutput, EngineError> {
    let k = params.rank();
    let ignores = params.algorithm().column_pass_ignores();
    let tiles = match tiles {
        Some(t) if ignores => t,
        _ => crate::tiles::default_tiles::<T>(data.n_users(), k, ignores),
    };
    let problem = exec.run(|| Problem::<T>::new(data, k, tiles));
    let run = Run {
        params,
        problem: &problem,
        exec,
        scale,
        validation,
        screened,
        held,
    };
    dispatch_rank(k, run, factors, observer)
}

/// Runs the iterations with the rank as a compile-time constant when it is a common one.
fn dispatch_rank<T: Real>(
    k: usize,
    run: Run<'_, '_, T>,
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

/// Best state seen so far under early stopping. Public (hidden) for the distributed fit, so
/// that both keep and stop by one rule ([`Best::track`]).
#[doc(hidden)]
#[derive(Debug)]
pub struct Best<T = f64> {
    /// The iteration with the lowest validation NMAE (the first, on ties).
    pub iteration: usize,
    /// Its validation NMAE.
    pub nmae: f64,
    /// Its `W`, `H` and corruption flags.
    pub w: Vec<T>,
    pub h: Vec<T>,
    pub flags: Vec<u8>,
}

/// Whether `nmae` improves on `best` (strictly lower; a NaN never does).
fn best_so_far(nmae: f64, best: f64) -> bool {
    nmae < best
}

impl<T: Copy> Best<T> {
    /// Early stopping after iteration `t`, whose validation NMAE is `nmae`: a lower NMAE than
    /// the best so far makes `state` (`W`, `H`, flags) the best; `patience` iterations past the
    /// best without one stop the fit.
    pub fn track(
        best: &mut Option<Best<T>>,
        t: usize,
        nmae: f64,
        patience: usize,
        state: (&[T], &[T], &[u8]),
    ) -> Option<StopReason> {
        match best {
            Some(b) if !best_so_far(nmae, b.nmae) => {
                (t - b.iteration >= patience).then_some(StopReason::EarlyStopped {
                    best_iteration: b.iteration,
                })
            }
            _ => {
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
                None
            }
        }
    }
}

/// What the iterations carry from one to the next (factors in the passes' element type `T`).
struct State<T> {
    start: Instant,
    /// `W_t`; the row pass of iteration `t + 1` writes into `w_next`, so that a stop decided on
    /// iteration `t`'s statistics still has `W_t`.
    w: Vec<T>,
    w_next: Vec<T>,
    h: Vec<T>,
    flags: Vec<u8>,
    /// `flags` by item, for the column pass of the ignore kernels.
    flagged: FlaggedByItem,
    /// Whether the last row pass regrouped its flags into `flagged` already.
    flagged_fresh: bool,
    /// The tiled column pass's running sums ([`crate::tiles`]; empty when untiled).
    col_sums: Vec<T>,
    /// Per-entry values of the robust baselines (CSR order; empty for the paper's five):
    /// `huber`'s and `l1`'s weights of the current iteration, `trimmed`'s squared residuals.
    weights: Vec<T>,
    trace: Vec<IterationStats>,
    best: Option<Best<T>>,
    pending: Pending,
}

impl<T: Real> State<T> {
    /// The run's output, keeping iteration `kept` or, under early stopping, the best state
    /// however the fit stopped. The factors are `f64` whatever the precision of the passes.
    fn finish(self, problem: &Problem<'_, T>, stop_reason: StopReason, kept: usize) -> RunOutput {
        let State {
            mut w,
            mut h,
            mut flags,
            trace,
            best,
            ..
        } = self;
        let kept = match best {
            Some(b) if b.iteration != kept => {
                w = b.w;
                h = b.h;
                flags = b.flags;
                b.iteration
            }
            _ => kept,
        };
        RunOutput {
            factors: Factors::from_parts_unchecked(
                problem.n,
                problem.m,
                problem.k,
                T::into_f64_vec(w),
                T::into_f64_vec(h),
            ),
            flags,
            trace,
            stop_reason,
            kept_iteration: kept,
        }
    }
}

impl ValidNmfParams {
    /// The rule of iteration `t`'s passes (the fit's and the fold-in's). Its row pass measures
    /// iteration `t - 1` and sets that iteration's flags once `t - 1 > warmup_iters`; the
    /// replace-corrupt filled matrix uses `decay^t`. `huber` and `l1` reweight (and `huber`
    /// flags) from iteration `warmup_iters + 1` on, measuring iteration `warmup_iters`; for
    /// `trimmed` this is the rule of the update pass, whose flags the selection set
    /// ([`ValidNmfParams::trims`] says whether it sets them). `guarded`'s thresholds are
    /// [`ValidNmfParams::guard`].
    pub(crate) fn row_rule(&self, t: usize) -> RowRule {
        let lambda = self.lambda();
        let alg = self.algorithm();
        let paper_corrupt = matches!(
            alg,
            Algorithm::IgnoreCorrupt
                | Algorithm::ReplaceCorrupt
                | Algorithm::ReplaceCorruptNoInterp
        );
        let marking = paper_corrupt && self.marks(t);
        let reweight = t > self.warmup_iters();
        let robust = match alg {
            Algorithm::Huber => {
                let l = lambda.expect("huber has a checked lambda");
                Some(Robust::Huber {
                    lambda: l,
                    delta: l.sqrt(),
                    reweight,
                })
            }
            Algorithm::L1 => Some(Robust::L1 {
                smoothing: crate::L1_SMOOTHING,
                reweight,
            }),
            Algorithm::Trimmed => Some(Robust::Flags),
            _ => None,
        };
        RowRule {
            lambda,
            mark: if marking { lambda } else { None },
            robust,
            flagged_weight: match self.algorithm() {
                Algorithm::ReplaceCorrupt => {
                    self.decay().powi(i32::try_from(t).unwrap_or(i32::MAX))
                }
                _ => 0.0,
            },
            l2: self.penalty(self.l2_w()),
        }
    }

    /// The L2 penalty `value` of one side, per row or per rating as the parameters say.
    pub(crate) fn penalty(&self, value: f64) -> L2 {
        L2 {
            value,
            per_rating: self.l2_per_rating(),
        }
    }

    /// `guarded`'s rule of iteration `t` (`None` for the other algorithms): its item side (and
    /// screen) acts from iteration `warmup_iters + 1` on, its user side from `warmup_iters + 2`
    /// on (the corrupt variants' first masked iteration). Public (hidden) for the distributed
    /// fit, so that both run one rule.
    #[doc(hidden)]
    pub fn guard(&self, t: usize) -> Option<Guard> {
        (self.algorithm() == Algorithm::Guarded).then(|| {
            let root = self.lambda().expect("guarded has a checked lambda").sqrt();
            let items = t > self.warmup_iters();
            Guard {
                user_cut: if self.marks(t) {
                    self.user_threshold_scale() * root
                } else {
                    f64::INFINITY
                },
                item_cut: if items {
                    self.item_threshold_scale() * root
                } else {
                    f64::INFINITY
                },
                screen: items,
            }
        })
    }

    /// Whether the row pass of iteration `t` sets flags (those of iteration `t - 1`).
    fn marks(&self, t: usize) -> bool {
        t > self.warmup_iters() + 1
    }

    /// `trimmed` only: whether the row pass of iteration `t` sets the flags by the selection.
    pub(crate) fn trims(&self, t: usize) -> bool {
        self.algorithm() == Algorithm::Trimmed && self.marks(t)
    }

    /// The rule of `trimmed`'s measuring pass of iteration `t`: squared residuals, no update.
    pub(crate) fn squares_rule(&self, t: usize) -> RowRule {
        RowRule {
            robust: Some(Robust::Squares),
            ..self.row_rule(t)
        }
    }
}

impl<T: Real> Run<'_, '_, T> {
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
        let mut st = self.initial_state(factors);
        let mut t = 1usize;
        let (stop_reason, kept) = loop {
            let rule = p.row_rule(t);
            let rs = self.row_step::<K>(&mut st, t, rule);
            if let Some(reason) = self.measure(&mut st, t - 1, &rs, &mut observer)? {
                break (reason, t - 1);
            }
            if let Some(u) = rs.bad_row {
                return Err(EngineError::NotFinite {
                    what: format!("user factors of user {u}"),
                    iteration: t,
                });
            }
            self.col_step::<K>(&mut st, t, rule)?;

            let out_of_time = p.time_budget().is_some_and(|b| st.start.elapsed() >= b);
            if t == p.max_iters() || out_of_time {
                let rs = self.stats_pass::<K>(&mut st, t + 1);
                let reason =
                    self.measure(&mut st, t, &rs, &mut observer)?
                        .unwrap_or(if out_of_time {
                            StopReason::TimeBudget
                        } else {
                            StopReason::MaxIters
                        });
                break (reason, t);
            }
            t += 1;
        };
        Ok(st.finish(self.problem, stop_reason, kept))
    }

    /// Iteration 0: the initial factors, no flag set, nothing measured yet.
    fn initial_state(&self, factors: Factors) -> State<T> {
        let problem = self.problem;
        let start = Instant::now();
        let (w, h) = factors.into_parts();
        let (w, h) = (T::from_f64_vec(w), T::from_f64_vec(h));
        // Weighted as the column passes weigh it (by each item's ratings, when per rating).
        let k = problem.k;
        let l2_h = self.params.penalty(self.params.l2_h());
        let h_sq = h
            .chunks_exact(k)
            .enumerate()
            .map(|(i, hi)| {
                l2_h.weight(problem.item_count(i))
                    * hi.iter()
                        .map(|x| {
                            let x = x.to_f64();
                            x * x
                        })
                        .sum::<f64>()
            })
            .sum();
        let pending = self.pending(start, &w, &h, h_sq);
        State {
            start,
            w_next: vec![T::ZERO; problem.n * problem.k],
            flags: if self.params.algorithm().flags_corruption() {
                vec![0u8; problem.nnz()]
            } else {
                Vec::new()
            },
            flagged: FlaggedByItem::default(),
            flagged_fresh: false,
            col_sums: Vec::new(),
            weights: if self.params.algorithm().is_robust_baseline() {
                vec![T::ZERO; problem.nnz()]
            } else {
                Vec::new()
            },
            w,
            h,
            trace: Vec::new(),
            best: None,
            pending,
        }
    }

    /// The statistics of the state `(w, h)` known before the next row pass.
    fn pending(&self, start: Instant, w: &[T], h: &[T], h_sq: f64) -> Pending {
        Pending {
            elapsed_secs: start.elapsed().as_secs_f64(),
            h_sq,
            validation_nmae: self.validation_nmae(w, h, self.problem.k),
        }
    }

    /// Row pass of iteration `t` (`rule` is its rule): measures iteration `t - 1`, sets the
    /// flags it then uses as its mask and writes the new `W` into `w_next`. `trimmed` measures
    /// and selects first ([`Run::trim_measure`]), then updates with the flags it set.
    fn row_step<const K: usize>(&self, st: &mut State<T>, t: usize, rule: RowRule) -> RowStats {
        let (problem, exec) = (self.problem, self.exec);
        if self.params.algorithm() == Algorithm::Trimmed {
            let mut rs = self.trim_measure::<K>(st, t);
            let update = exec.run(|| {
                problem.row_pass::<K, true>(
                    exec.isa,
                    RowKind::Ignore,
                    rule,
                    &st.w,
                    &mut st.w_next,
                    &st.h,
                    &mut st.flags,
                    &mut [],
                    Some(&mut st.flagged),
                )
            });
            st.flagged_fresh = true;
            rs.bad_row = update.bad_row;
            return rs;
        }
        if let Some(guard) = self.params.guard(t) {
            return exec.run(|| {
                problem.guarded_row_pass::<K, true>(
                    exec.isa,
                    rule,
                    guard,
                    self.screened,
                    self.held,
                    &st.w,
                    &mut st.w_next,
                    &st.h,
                    &mut st.flags,
                )
            });
        }
        let gram_h = if self.params.algorithm().replaces() {
            exec.run(|| gram::<K, T>(exec.isa, &st.h, &st.h, problem.k))
        } else {
            Vec::new()
        };
        let kind = if self.params.algorithm().replaces() {
            RowKind::Replace { gram_h: &gram_h }
        } else {
            RowKind::Ignore
        };
        // The flags by item the column pass of the ignore kernels needs, regrouped chunk by
        // chunk while the row pass's flags are in cache.
        st.flagged_fresh = self.params.algorithm().column_pass_ignores();
        let flagged = st.flagged_fresh.then_some(&mut st.flagged);
        exec.run(|| {
            problem.row_pass::<K, true>(
                exec.isa,
                kind,
                rule,
                &st.w,
                &mut st.w_next,
                &st.h,
                &mut st.flags,
                &mut st.weights,
                flagged,
            )
        })
    }

    /// Statistics-only row pass after the last iteration (`t` is the iteration that would
    /// follow): measures it and sets its flags.
    fn stats_pass<const K: usize>(&self, st: &mut State<T>, t: usize) -> RowStats {
        let (problem, exec) = (self.problem, self.exec);
        if self.params.algorithm() == Algorithm::Trimmed {
            return self.trim_measure::<K>(st, t);
        }
        let rule = self.params.row_rule(t);
        if let Some(guard) = self.params.guard(t) {
            return exec.run(|| {
                problem.guarded_row_pass::<K, false>(
                    exec.isa,
                    rule,
                    guard,
                    self.screened,
                    self.held,
                    &st.w,
                    &mut [],
                    &st.h,
                    &mut st.flags,
                )
            });
        }
        exec.run(|| {
            problem.row_pass::<K, false>(
                exec.isa,
                RowKind::Ignore,
                rule,
                &st.w,
                &mut [],
                &st.h,
                &mut st.flags,
                &mut st.weights,
                None,
            )
        })
    }

    /// `trimmed`'s measurement in the row pass of iteration `t`: the squared residuals of
    /// iteration `t - 1` (one statistics-only pass, into `st.weights`), then the global
    /// selection, which sets the flags once [`ValidNmfParams::trims`]. The statistics' `robust`
    /// is the trimmed loss, `loss` the squared loss over the entries not flagged.
    fn trim_measure<const K: usize>(&self, st: &mut State<T>, t: usize) -> RowStats {
        let (problem, exec, p) = (self.problem, self.exec, self.params);
        let rule = p.squares_rule(t);
        let mut rs = exec.run(|| {
            problem.row_pass::<K, false>(
                exec.isa,
                RowKind::Ignore,
                rule,
                &st.w,
                &mut [],
                &st.h,
                &mut [],
                &mut st.weights,
                None,
            )
        });
        let drop = crate::trim::trim_count(p.trim_fraction(), problem.nnz());
        let marking = p.trims(t);
        let flags = marking.then_some(&mut st.flags[..]);
        let squares = T::to_f64_slice(&st.weights);
        let kept = exec.run(|| crate::trim::trim(&squares, drop, flags));
        rs.robust = kept;
        if marking {
            rs.loss = kept;
            rs.flagged = drop;
        }
        rs
    }

    /// Column pass of iteration `t` with the new `W`, which then becomes `W_t`; takes the
    /// statistics of `(W_t, H_t)` known before the next row pass.
    fn col_step<const K: usize>(
        &self,
        st: &mut State<T>,
        t: usize,
        rule: RowRule,
    ) -> Result<(), EngineError> {
        let (problem, exec, k) = (self.problem, self.exec, self.problem.k);
        let replaces = self.params.algorithm().replaces();
        let (g10, g11) = if replaces {
            exec.run(|| {
                rayon::join(
                    || gram::<K, T>(exec.isa, &st.w_next, &st.w, k),
                    || gram::<K, T>(exec.isa, &st.w_next, &st.w_next, k),
                )
            })
        } else {
            (Vec::new(), Vec::new())
        };
        let col_kind = if replaces {
            ColKind::Replace {
                g10: &g10,
                g11: &g11,
                // The weighted residuals c (V - W0 H0) and flags of the row pass, recomputed;
                // a flagged entry of weight 0 (nointerp, or replace-corrupt once decay^t
                // underflows) does not make a column active (as in the row pass).
                w0: &st.w,
                mark: rule.mark,
                flagged_weight: rule.flagged_weight,
            }
        } else if !self.params.algorithm().column_pass_ignores() {
            // The row pass's weights (`huber`, `l1`); `trimmed` stores squared residuals there
            // and masks by its flags (the ignore kernel).
            ColKind::Weighted {
                weights: &st.weights,
            }
        } else {
            if !std::mem::take(&mut st.flagged_fresh) {
                exec.run(|| problem.flagged_by_item(&st.flags, &mut st.flagged));
            }
            ColKind::Ignore {
                flagged: &st.flagged,
            }
        };
        let l2_h = self.params.penalty(self.params.l2_h());
        let (h_sq, bad_item) = exec.run(|| {
            problem.col_pass::<K>(
                exec.isa,
                col_kind,
                l2_h,
                &st.w_next,
                &mut st.h,
                &mut st.col_sums,
            )
        });
        if let Some(i) = bad_item {
            return Err(EngineError::NotFinite {
                what: format!("item factors of item {i}"),
                iteration: t,
            });
        }
        std::mem::swap(&mut st.w, &mut st.w_next);
        st.pending = self.pending(st.start, &st.w, &st.h, h_sq);
        Ok(())
    }

    /// Records the statistics of iteration `t` that a row pass measured and applies the
    /// stopping rules to them.
    fn measure(
        &self,
        st: &mut State<T>,
        t: usize,
        rs: &RowStats,
        observer: &mut ObserverSlot<'_>,
    ) -> Result<Option<StopReason>, EngineError> {
        let stats = self.stats(t, rs, st.pending)?;
        st.trace.push(stats);
        Ok(self.decide(&st.trace, observer, &mut st.best, (&st.w, &st.h, &st.flags)))
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
        let objective = p.objective(rs.loss, rs.clipped, rs.robust, rs.sq, pending.h_sq);
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
        best: &mut Option<Best<T>>,
        state: (&[T], &[T], &[u8]),
    ) -> Option<StopReason> {
        let p = self.params;
        let last = trace.last().expect("statistics pushed");
        let t = last.iteration;
        if let (Some(patience), Some(nmae)) = (p.early_stopping(), last.validation_nmae) {
            if let Some(stop) = Best::track(best, t, nmae, patience, state) {
                return Some(stop);
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
    fn validation_nmae(&self, w: &[T], h: &[T], k: usize) -> Option<f64> {
        let val = self.validation?;
        let scale = self.scale;
        let partials: Vec<f64> = self.exec.run(|| {
            val.par_chunks(4096)
                .map(|block| {
                    block
                        .iter()
                        .map(|t| {
                            let (u, i) = (t.user as usize, t.item as usize);
                            let x =
                                crate::kernels::dot_t(&w[u * k..u * k + k], &h[i * k..i * k + k])
                                    .to_f64();
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

/// Packs the run's output into a model: flags as CSR positions and (user, item) pairs, the
/// screened users as indices.
fn finish_model(
    params: &ValidNmfParams,
    data: &Ratings,
    out: RunOutput,
    screened: &[bool],
) -> NmfModel {
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
        screened_users: (0..screened.len() as u32)
            .filter(|&u| screened[u as usize])
            .collect(),
        bursts: None,
    }
}
