//! Progress reporting: the library never prints, it tells an [`Observer`].

/// Receives the objective after every iteration of an iterative method.
///
/// Any `FnMut(usize, f64)` closure is an observer:
///
/// ```
/// use cnmf_family::{LeeSeungParams, nalgebra::DMatrix};
/// let v = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
/// let mut seen = Vec::new();
/// LeeSeungParams::new(1)
///     .iterations(5)
///     .check()
///     .unwrap()
///     .fit_with(&v, &mut |it: usize, obj: f64| seen.push((it, obj)))
///     .unwrap();
/// assert_eq!(seen.len(), 6); // the initial state and five iterations
/// ```
pub trait Observer {
    /// Called with the iteration number (0 = initial state, then 1, 2, ...) and the objective
    /// of the model at that point.
    fn on_iteration(&mut self, iteration: usize, objective: f64);
}

impl<F: FnMut(usize, f64)> Observer for F {
    fn on_iteration(&mut self, iteration: usize, objective: f64) {
        self(iteration, objective)
    }
}

/// The observer that ignores everything (what `fit` uses).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn on_iteration(&mut self, _iteration: usize, _objective: f64) {}
}
