//! Integration tests of cnmf-distributed: the collectives, agreement with the single-process
//! engine on P = 1..4 ranks (threads), determinism, and (ignored unless MPI is installed) the
//! `cnmf-mpi` binary under `mpirun`.

mod agreement;
mod collectives;
mod common;
mod early_stopping;
// Only with the `mpi` feature, which builds the binary they run: `cargo test --workspace
// --tests -- --ignored` (no feature) must not run them.
#[cfg(feature = "mpi")]
mod mpirun;
mod split_input;
