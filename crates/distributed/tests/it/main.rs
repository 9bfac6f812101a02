//! Integration tests of cnmf-distributed: the collectives, agreement with the single-process
//! engine on P = 1..4 ranks (threads), determinism, and (ignored unless MPI is installed) the
//! `cnmf-mpi` binary under `mpirun`.

mod agreement;
mod collectives;
mod common;
mod mpirun;
