//! Optional inputs of a fit ([`FitOptions`]) and the progress record every iterative method
//! keeps. The observer type is the engine's [`Observer`] (one for the whole workspace): it
//! sees [`IterationStats`] after every iteration `t >= 1` and may stop the fit.

use std::ops::ControlFlow;
use std::time::Instant;

use cnmf_engine::{IterationStats, Observer};

use crate::FamilyError;

/// Optional inputs of a family method's `fit_with` (the engine's `fit_with` takes its own
/// `cnmf_engine::FitOptions`, which adds a warm start and a validation set).
///
/// The observer's [`IterationStats`] carry the method's objective in both `objective` and
/// `loss`; `clipped_loss` and `validation_nmae` are `None` and `flagged` is 0.
///
/// ```
/// use std::ops::ControlFlow;
/// use cnmf_engine::IterationStats;
/// use cnmf_family::{DMatrix, FitOptions, LeeSeungParams};
/// let v = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
/// let mut seen = Vec::new();
/// let mut observer = |s: &IterationStats| {
///     seen.push(s.iteration);
///     ControlFlow::Continue(())
/// };
/// let model = LeeSeungParams::new(1)
///     .max_iters(5)
///     .check()?
///     .fit_with(&v, FitOptions::new().observer(&mut observer))?;
/// assert_eq!(seen, [1, 2, 3, 4, 5]);
/// assert_eq!(model.objective_trace().len(), 6); // the initial state and five iterations
/// # Ok::<(), cnmf_family::FamilyError>(())
/// ```
#[derive(Default)]
pub struct FitOptions<'a> {
    observer: Option<&'a mut dyn Observer>,
}

impl<'a> FitOptions<'a> {
    /// No observer.
    pub fn new() -> Self {
        FitOptions::default()
    }

    /// Called after each iteration `t >= 1`; `ControlFlow::Break(())` stops the fit, keeping
    /// that iteration's factors.
    pub fn observer(mut self, observer: &'a mut dyn Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The observer, if one was given (for delegating to the engine).
    pub(crate) fn into_observer(self) -> Option<&'a mut dyn Observer> {
        self.observer
    }
}

impl std::fmt::Debug for FitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// The objective trace of a running fit and its observer.
pub(crate) struct Progress<'o> {
    observer: Option<&'o mut dyn Observer>,
    start: Instant,
    what: &'static str,
    pub trace: Vec<f64>,
}

impl<'o> Progress<'o> {
    /// A fit of `what` (named in errors) with room for `max_iters` iterations.
    pub fn new(options: FitOptions<'o>, what: &'static str, max_iters: usize) -> Self {
        Progress {
            observer: options.observer,
            start: Instant::now(),
            what,
            trace: Vec::with_capacity(max_iters + 1),
        }
    }

    /// Whether an observer listens (and so may stop the fit).
    pub fn has_observer(&self) -> bool {
        self.observer.is_some()
    }

    /// Records the objective of iterate `it` (0 = initial state) after checking it is finite,
    /// and tells the observer (from iteration 1 on), whose answer is returned.
    pub fn record(&mut self, it: usize, objective: f64) -> Result<ControlFlow<()>, FamilyError> {
        if !objective.is_finite() {
            return Err(FamilyError::NotFinite {
                what: self.what,
                iteration: it,
            });
        }
        self.trace.push(objective);
        match self.observer.as_mut() {
            Some(obs) if it >= 1 => Ok(obs.on_iteration(&IterationStats {
                iteration: it,
                loss: objective,
                clipped_loss: None,
                objective,
                flagged: 0,
                elapsed_secs: self.start.elapsed().as_secs_f64(),
                validation_nmae: None,
            })),
            _ => Ok(ControlFlow::Continue(())),
        }
    }
}
