//! The Corrective NMF factorization engine: five masked multiplicative-update NMF variants,
//! sparse, parallel and deterministic.
//!
//! * [`Algorithm`]: `ignore-missing`, `replace-missing`, `ignore-corrupt`, `replace-corrupt`,
//!   `replace-corrupt-nointerp` (update rules in each variant's docs).
//! * [`NmfParams`] -> [`check`](NmfParams::check) -> [`ValidNmfParams`] ->
//!   [`fit`](ValidNmfParams::fit) / [`fit_with`](ValidNmfParams::fit_with) -> [`NmfModel`].
//! * [`init_factors`]: the seeded initialisation shared by every algorithm.
//! * [`lambda_from_noise_model`]: the corruption threshold from the paper's noise model.
//!
//! Cost per iteration is `O(|Ω| k + (n + m) k^2)` time and `O(|Ω| + (n + m) k)` memory for every
//! algorithm: nothing of size users x items is ever built, not even the replace variants'
//! filled matrix. Work is split by users (over the CSR) and by items (over the CSC) with rayon;
//! every sum is taken in a fixed order, so the same seed gives bit-identical factors whatever
//! the number of threads.
//!
//! ```
//! use cnmf_engine::{Algorithm, NmfParams};
//! use cnmf_ratings::{RatingScale, Ratings};
//!
//! let data = Ratings::from_external(
//!     [
//!         ("ann", "up", 5.0), ("ann", "heat", 1.0), ("ann", "jaws", 4.0),
//!         ("bob", "up", 4.0), ("bob", "heat", 2.0),
//!         ("cat", "heat", 1.0), ("cat", "jaws", 5.0),
//!         ("dan", "up", 1.0), ("dan", "heat", 5.0), ("dan", "jaws", 1.0),
//!     ],
//!     RatingScale::MOVIELENS,
//! )?;
//! let model = NmfParams::new(2, Algorithm::IgnoreCorrupt)
//!     .lambda(4.0)
//!     .max_iters(200)
//!     .seed(1)
//!     .check()?
//!     .fit(&data)?;
//! let (bob, jaws) = (data.users().index("bob").unwrap(), data.items().index("jaws").unwrap());
//! let p = model.predict(bob, jaws);
//! assert!((1.0..=5.0).contains(&p));
//! println!("bob would rate jaws {p:.2}; flagged: {:?}", model.corrupt_entries());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod algorithm;
mod error;
mod factors;
mod fit;
mod fold_in;
mod kernels;
mod model;
mod params;
mod passes;

pub use algorithm::Algorithm;
pub use error::EngineError;
pub use factors::{init_factors, Factors};
pub use fit::FitOptions;
pub use model::{IterationStats, NmfModel, StopReason};
pub use params::{
    lambda_from_noise_model, LambdaSource, NmfParams, ValidNmfParams, DEFAULT_DECAY,
    DEFAULT_MAX_ITERS,
};
