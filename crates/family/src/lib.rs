//! The rest of the NMF family around corrective NMF, from the project's reference documents,
//! all with the project's conventions (checked parameter builders, `fit` returning a model,
//! [`cnmf_metrics::Predictor`] for rating models, predictions clipped to the rating scale,
//! `ChaCha8Rng` seeds, NaN/inf as errors, observers instead of printing, sparse all the way,
//! rayon-parallel and bit-identical whatever the thread count). The numerical core (dot
//! products, Gram matrices, the CSR/CSC view, initialisation, the instruction-set dispatch) is
//! `cnmf_engine::numeric`, shared with the engine; Lee–Seung's Frobenius objective on ratings
//! *is* the engine's ignore-missing:
//!
//! - [`lee_seung`]: classic Lee–Seung multiplicative updates for the Frobenius objective and
//!   the KL (I-)divergence, on dense matrices, sparse count matrices (zeros are data) and
//!   ratings (ignore-missing), with the lecture's optional column normalisation of `W`;
//! - [`biased`]: biased gradient NMF `R_ui ~ P_u . Q_i + b_u + b_i + b` with `P, Q >= 0`,
//!   trained by full-batch projected Adam on observed ratings, and fold-in of a new user;
//! - [`neighbours`]: cosine neighbours between item factor vectors and the slides'
//!   rank-weighted nearest-neighbour estimate of a missing rating;
//! - [`adversarial`]: biased NMF trained against fast-gradient perturbations of its factors.

pub mod adversarial;
pub mod biased;
mod error;
pub mod lee_seung;
pub mod neighbours;
mod observer;

pub use adversarial::{fgm_mse, AdversarialParams, ValidAdversarialParams};
pub use biased::{BiasedNmfModel, BiasedNmfParams, FoldedUser, ValidBiasedNmfParams};
pub use error::FamilyError;
pub use lee_seung::{
    LeeSeungInput, LeeSeungModel, LeeSeungParams, Objective, RatingNmfModel, ValidLeeSeungParams,
};
pub use neighbours::{
    ItemNeighbours, MissingRating, Neighbour, NeighbourEstimate, NeighbourParams,
    ValidNeighbourParams,
};
pub use observer::FitOptions;

/// The one observer type of the workspace (from `cnmf-engine`), re-exported for convenience.
pub use cnmf_engine::{IterationStats, Observer, Silent};
/// The dense input type of Lee–Seung NMF, re-exported so that callers need not depend on
/// nalgebra for it.
pub use nalgebra::DMatrix;
/// The sparse input type of Lee–Seung NMF, re-exported so that callers need not depend on
/// sprs for it.
pub use sprs::CsMatI;
