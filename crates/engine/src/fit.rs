//! The fit driver: options, stopping rules, observer.

use std::ops::ControlFlow;

use cnmf_ratings::{Ratings, Triple};

use crate::{EngineError, Factors, IterationStats, NmfModel, ValidNmfParams};

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
    pub(crate) observer: Option<&'a mut dyn FnMut(&IterationStats) -> ControlFlow<()>>,
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
    pub fn observer(
        mut self,
        observer: &'a mut dyn FnMut(&IterationStats) -> ControlFlow<()>,
    ) -> Self {
        self.observer = Some(observer);
        self
    }
}

impl std::fmt::Debug for FitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field(
                "initial",
                &self.initial.map(|x| (x.n_users(), x.n_items(), x.k())),
            )
            .field("validation", &self.validation.map(<[Triple]>::len))
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl ValidNmfParams {
    /// Fits the model to `data` from [`init_factors`](crate::init_factors)`(n, m, k,
    /// data.mean(), seed)`.
    ///
    /// Errors: ratings below zero (NMF needs nonnegative data), a NaN or infinity during the
    /// iterations, a thread pool that cannot be built.
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
        let _ = (data, options);
        unimplemented!("the fit lands in the next commit")
    }
}
