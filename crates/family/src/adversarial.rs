//! Adversarially trained biased NMF: a robust baseline after the idea of "Deep Factorization
//! Model for Robust Recommendation" (a factorisation trained against adversarial
//! perturbations; that document's method section is garbled, so the method here is the
//! standard fast-gradient adversarial training of factor models, as in adversarial
//! personalised ranking, applied to the rating loss).
//!
//! The model is [biased NMF](crate::biased): `Rhat_ui = P_u . Q_i + b_u + b_i + b`,
//! `P, Q >= 0`. With `L(P, Q, b) = sum_{ui in Omega} (Rhat_ui - R_ui)^2` the data loss and
//! `R = lambda (||P||^2 + ||Q||^2 + ||b_user||^2 + ||b_item||^2)`, training minimises
//!
//! ```text
//! J = (1/|Omega|) [ L(P, Q) + alpha L(P + Delta_P, Q + Delta_Q) + R ]
//! ```
//!
//! where `Delta` is the worst-case perturbation of the factors of size `epsilon`, found by the
//! fast gradient method (one linearisation of `L` at the current factors):
//!
//! ```text
//! Delta_P,u = epsilon g_u / ||g_u||,   g_u = dL/dP_u = 2 sum_{i in Omega_u} e_ui Q_i
//! Delta_Q,i = epsilon g_i / ||g_i||,   g_i = dL/dQ_i = 2 sum_{u in Omega^i} e_ui P_u
//! ```
//!
//! (a zero gradient gives a zero perturbation). The norm is taken **per user and per item
//! vector**, so `epsilon` is on the scale of one factor vector whatever the data size (a
//! single global norm would spread the budget ever thinner as users are added). The biases
//! are not perturbed. Each epoch: compute the residuals and `g`, build `Delta`, compute the
//! perturbed residuals `e'_ui = (P_u + Delta_P,u).(Q_i + Delta_Q,i) + b_u + b_i + b - R_ui`,
//! and take one full-batch projected Adam step (as in biased NMF) on the gradient of `J`
//! with `Delta` held fixed:
//!
//! ```text
//! dJ/dP_u = c ( sum_i e_ui Q_i + alpha sum_i e'_ui (Q_i + Delta_Q,i) + lambda P_u ),  c = 2/|Omega|
//! dJ/dQ_i = c ( sum_u e_ui P_u + alpha sum_u e'_ui (P_u + Delta_P,u) + lambda Q_i )
//! dJ/db_u = c ( sum_i (e_ui + alpha e'_ui) + lambda b_u ), and likewise b_i and b (no lambda)
//! ```
//!
//! [`fgm_mse`] measures what the adversary achieves against any fitted model. Note that the
//! perturbation is a first-order worst case: a model trained against it can end up fitting
//! the perturbed factors *better* than its own (on planted data the adversarially trained
//! model's MSE drops under its fast-gradient perturbation while the plain model's triples), so
//! robustness to this adversary is not robustness to every perturbation of that size.
//!
//! An epoch costs about twice a biased NMF epoch. Parameters: `epsilon >= 0` the size of the
//! perturbation (0 makes `Delta = 0`, so `J` is `(1 + alpha)` times the data loss plus `R`:
//! plain biased NMF with `lambda / (1 + alpha)`, up to Adam's `eps`), `alpha >= 0` the weight
//! of the adversarial loss (0 is plain biased NMF exactly).

use cnmf_ratings::Ratings;

use crate::biased::train::{self, train, Adversary};
use crate::biased::{BiasedNmfModel, BiasedNmfParams, ValidBiasedNmfParams};
use cnmf_ratings::params::{check_finite_nonnegative, ParamGuard};

use crate::FamilyError;
use crate::FitOptions;

/// Parameters of adversarial training; the biased NMF setters plus `epsilon` and `alpha`.
///
/// ```
/// use cnmf_family::AdversarialParams;
/// let err = AdversarialParams::new(10).epsilon(-1.0).check().unwrap_err();
/// assert!(err.to_string().contains("epsilon"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AdversarialParams {
    base: BiasedNmfParams,
    epsilon: f64,
    alpha: f64,
}

impl AdversarialParams {
    /// Rank `k` with biased NMF's defaults and `epsilon = 0.3`, `alpha = 1` (on a 90% split
    /// of MovieLens 100K at `k = 20` these give a held-out NMAE of about 0.184, like plain
    /// biased NMF; `epsilon = 1` costs accuracy, 0.191).
    pub fn new(rank: usize) -> Self {
        AdversarialParams {
            base: BiasedNmfParams::new(rank),
            epsilon: 0.3,
            alpha: 1.0,
        }
    }

    /// The perturbation size per factor vector (finite, `>= 0`).
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// The weight of the adversarial loss (finite, `>= 0`).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// See [`BiasedNmfParams::rank`].
    pub fn rank(mut self, rank: usize) -> Self {
        self.base = self.base.rank(rank);
        self
    }

    /// See [`BiasedNmfParams::max_iters`].
    pub fn max_iters(mut self, max_iters: usize) -> Self {
        self.base = self.base.max_iters(max_iters);
        self
    }

    /// See [`BiasedNmfParams::learning_rate`].
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.base = self.base.learning_rate(learning_rate);
        self
    }

    /// See [`BiasedNmfParams::regularization`].
    pub fn regularization(mut self, regularization: f64) -> Self {
        self.base = self.base.regularization(regularization);
        self
    }

    /// See [`BiasedNmfParams::init_scale`].
    pub fn init_scale(mut self, init_scale: f64) -> Self {
        self.base = self.base.init_scale(init_scale);
        self
    }

    /// See [`BiasedNmfParams::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.base = self.base.seed(seed);
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<ValidAdversarialParams, FamilyError> {
        let base = self.base.check()?;
        check_finite_nonnegative("epsilon", self.epsilon)?;
        check_finite_nonnegative("alpha", self.alpha)?;
        Ok(ValidAdversarialParams {
            base,
            adversary: Adversary {
                epsilon: self.epsilon,
                alpha: self.alpha,
            },
        })
    }
}

impl ParamGuard for AdversarialParams {
    type Checked = ValidAdversarialParams;
    type Error = FamilyError;
    fn check(self) -> Result<ValidAdversarialParams, FamilyError> {
        AdversarialParams::check(self)
    }
}

/// Checked [`AdversarialParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAdversarialParams {
    base: ValidBiasedNmfParams,
    adversary: Adversary,
}

impl ValidAdversarialParams {
    /// The biased NMF part of the parameters.
    pub fn base(&self) -> &ValidBiasedNmfParams {
        &self.base
    }

    /// The perturbation size.
    pub fn epsilon(&self) -> f64 {
        self.adversary.epsilon
    }

    /// The weight of the adversarial loss.
    pub fn alpha(&self) -> f64 {
        self.adversary.alpha
    }

    /// Trains on the observed ratings.
    pub fn fit(&self, ratings: &Ratings) -> Result<BiasedNmfModel, FamilyError> {
        self.fit_with(ratings, FitOptions::new())
    }

    /// [`fit`](ValidAdversarialParams::fit) with options (an observer of the objective `J`,
    /// which may stop the training).
    pub fn fit_with(
        &self,
        ratings: &Ratings,
        options: FitOptions<'_>,
    ) -> Result<BiasedNmfModel, FamilyError> {
        train(ratings, &self.base, Some(self.adversary), options)
    }
}

/// The mean squared error of `model` on `ratings` when its factors are moved by the
/// fast-gradient perturbation of size `epsilon` (per user and per item vector, along the
/// gradient of the squared error on `ratings`, as in training): the loss an adversary who
/// knows the model and these ratings can force with a perturbation of that size. A robustness
/// measure for any [`BiasedNmfModel`], adversarially trained or not.
///
/// Errors: `epsilon` negative or not finite, ratings of another shape than the model.
pub fn fgm_mse(
    model: &BiasedNmfModel,
    ratings: &Ratings,
    epsilon: f64,
) -> Result<f64, FamilyError> {
    train::fgm_mse(model, ratings, epsilon)
}
