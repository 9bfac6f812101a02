//! Progress of an iterative fit: the library never prints, it tells an [`Observer`], which
//! may also stop the fit. One observer type for every iterative method of the workspace (the
//! engine's algorithms and `cnmf-family`'s).

use std::ops::ControlFlow;

use crate::IterationStats;

/// Receives the statistics of every iteration `t >= 1` of a fit; returning
/// `ControlFlow::Break(())` stops the fit, keeping that iteration's factors.
///
/// Any `FnMut(&IterationStats) -> ControlFlow<()>` closure is an observer:
///
/// ```
/// use std::ops::ControlFlow;
/// use cnmf_engine::{IterationStats, Observer};
/// let mut objectives = Vec::new();
/// let mut observer = |s: &IterationStats| {
///     objectives.push(s.objective);
///     if s.iteration < 10 { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
/// };
/// # let _: &mut dyn Observer = &mut observer;
/// ```
pub trait Observer {
    /// Called once the iteration `stats.iteration` is complete.
    fn on_iteration(&mut self, stats: &IterationStats) -> ControlFlow<()>;
}

impl<F: FnMut(&IterationStats) -> ControlFlow<()>> Observer for F {
    fn on_iteration(&mut self, stats: &IterationStats) -> ControlFlow<()> {
        self(stats)
    }
}

/// The observer that watches nothing and never stops a fit (what `fit` uses).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn on_iteration(&mut self, _stats: &IterationStats) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}
