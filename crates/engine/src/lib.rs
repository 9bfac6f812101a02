//! The Corrective NMF factorization engine: the paper's five masked multiplicative-update NMF
//! variants, three robust-loss baselines and the `guarded` defence, sparse, parallel and
//! deterministic.
//!
//! * [`Algorithm`]: `ignore-missing`, `replace-missing`, `ignore-corrupt`, `replace-corrupt`,
//!   `replace-corrupt-nointerp` ([`Algorithm::PAPER`]), and the baselines `huber`, `l1`,
//!   `trimmed`, and `guarded`, the defence against review bombs (update rules, objectives and
//!   monotonicity in each variant's docs; [`Algorithm::ALL`] lists all nine).
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
//! # Numerical choices (where the specification is silent)
//!
//! * **Schedule.** Iteration `t` updates `W` (user half-step, over the CSR), then `H` with the
//!   new `W` (item half-step, over the CSC), then for the corrupt variants sets
//!   `Z = (V - W H)^2 > λ` on every observed entry. The prediction `X = W H` of every observed
//!   entry is needed both for the statistics of iteration `t` and for the user half-step of
//!   iteration `t + 1`, so it is computed once: the user pass of iteration `t + 1` measures
//!   iteration `t` (loss, clipped loss, flags) and then uses those flags as its mask. The last
//!   iteration is measured by a statistics-only pass. A stop decided on the statistics of
//!   iteration `t` keeps `(W_t, H_t, Z_t)` exactly.
//! * **Flags** start at zero (specification) and are first set at the end of iteration
//!   `warmup_iters + 1`. Hence iteration 1 of `ignore-corrupt` descends the full squared loss
//!   and the clipped loss is non-increasing from iteration 1 on (not necessarily from 0 to 1).
//! * **Replace variants.** Both half-steps of an iteration use the same filled matrix
//!   `Vbar = X + c .* (V - X)` with `X = W0 H0` from the start of the iteration (the dense
//!   formula "Vbar fixed for the whole iteration"): the user pass stores the weighted residuals
//!   `c (V - X)` of the observed entries (CSR order) and the item pass reads them through the
//!   CSC -> CSR map. `c` is 1 on clean observed entries, `decay^t` (replace-corrupt) or 0
//!   (replace-corrupt-nointerp) on flagged ones, 0 on missing ones. The numerator
//!   `(A.*(V-X)) H0^T + W0 (H0 H0^T)` equals a row of `Vbar H0^T >= 0` in exact arithmetic but
//!   subtracts and re-adds `X`; rounding can leave it a hair below zero, so it is clamped at 0.
//! * **Guards.** A user (item) without an active entry in a half-step keeps its factors exactly;
//!   for the replace variants "active" means an observed entry of positive weight `c`, so a
//!   fully flagged row keeps its factors under `replace-corrupt-nointerp` but still moves under
//!   `replace-corrupt` (its flagged entries keep the weight `decay^t`).
//! * **Robust baselines.** `huber` and `l1` are `ignore-missing` with real weights `c` on the
//!   observed entries: the user pass of iteration `t + 1` measures iteration `t` (the loss
//!   `Σ ρ(r)` of the baseline goes into the trace's `objective`), computes `c` from the same
//!   residuals, uses it and stores it (CSR order) for the item pass, which reads it through the
//!   CSC -> CSR map; so both half-steps use the weights of `X = W0 H0`. Weights of exactly 1
//!   give the same sums as `ignore-missing` (bit for bit). `huber` reuses `λ`: `δ = sqrt(λ)`,
//!   `ρ(r) = r^2` inside and `2 δ |r| - δ^2` beyond, and its flags are the entries beyond `δ`
//!   (`r^2 > λ`, the corrupt variants' rule), set whenever it reweights. `l1` minimises
//!   `Σ sqrt(r^2 + e^2)` with `e =` [`L1_SMOOTHING`] and keeps no flags. `trimmed` needs a
//!   global selection before its user pass: a statistics-only pass stores every `r^2`, the
//!   `floor(q |Ω|)` largest (ties by CSR position) are flagged, then the masked update runs
//!   with those flags (one extra dot product per rating per iteration); its `objective` is the
//!   trimmed loss. During `warmup_iters` `huber` and `l1` use weights 1 (their objective is
//!   still reported) and `trimmed` flags nothing.
//! * **`guarded`** keeps one flag per observed entry like the corrupt variants, but its flags
//!   are the *item side's* weights (`1 - C_H`): the user pass of iteration `t + 1` measures
//!   iteration `t`, sets those flags from the residuals of `X = W0 H0` (and the profile
//!   screen, computed once before iteration 1), uses its own user-side threshold for its update
//!   without storing it, and the item pass is `ignore-corrupt`'s masked column update with
//!   those flags. Its only extra work per iteration is one more comparison per rating; the
//!   screen costs one pass over the ratings and two sorts of the users' scores per fit.
//! * **L2** (`l2_w`, `l2_h`) adds `l2 * f` to the denominator of each multiplicative update,
//!   the majorisation step of the objective `loss + l2_w ||W||^2 + l2_h ||H||^2`; the trace's
//!   `objective` includes these terms.
//! * **Determinism.** Rows and columns are processed in parallel chunks fixed by the data
//!   (about 8192 ratings each); per-chunk sums and the `k x k` Gram matrices (fixed blocks of
//!   256 rows) are added in chunk order; dot products use four lanes (eight in `f32`) in a
//!   fixed order. Hence the same bits for any number of threads and any SIMD width (`f64`
//!   never fuses a multiply-add; `f32` fuses them on every path).
//! * **Errors.** A NaN or infinity in an updated row or column, the loss or the objective stops
//!   the fit with [`EngineError::NotFinite`] naming the row/column and iteration.
//!
//! # Example
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
#[cfg(target_arch = "x86_64")]
mod avx2;
pub mod burst;
mod error;
mod factors;
mod fit;
mod flagged;
mod fold_in;
mod isa;
mod kernels;
mod model;
pub mod numeric;
mod observer;
mod params;
mod passes;
mod real;
mod row;
mod screen;
mod tiles;
mod trim;

pub use algorithm::Algorithm;
pub use burst::Burst;
pub use error::EngineError;
pub use factors::{init_factors, Factors};
#[doc(hidden)]
pub use fit::Best;
pub use fit::FitOptions;
#[doc(hidden)]
pub use kernels::Guard;
pub use model::{IterationStats, NmfModel, StopReason};
pub use observer::{Observer, Silent};
pub use params::{
    lambda_from_noise_model, LambdaSource, NmfParams, Precision, ValidNmfParams,
    DEFAULT_BURST_WINDOW, DEFAULT_DECAY, DEFAULT_ITEM_THRESHOLD_SCALE, DEFAULT_MAX_ITERS,
    DEFAULT_PROFILE_SCREEN, DEFAULT_TRIM_FRACTION, DEFAULT_USER_THRESHOLD_SCALE, L1_SMOOTHING,
};
#[doc(hidden)]
pub use screen::{screen_scores, user_score};
