//! The Corrective NMF engine past one machine: the paper's five algorithms, `huber`, `l1`,
//! `trimmed` and `guarded` ([`SUPPORTED`]: every engine algorithm) with users split across
//! ranks and the item half-step's sums combined by collectives (MPI in production, threads in
//! the tests).
//!
//! * [`Communicator`]: the collectives, with a deterministic sum-reduce
//!   ([`Communicator::sum_all`]: partials summed in rank order, never by `MPI_Allreduce`,
//!   whose order is not fixed) and failure agreement ([`Communicator::agree`]).
//!   Implementations: [`SingleRank`], [`ThreadRanks`] (P ranks as threads) and, with the
//!   `mpi` feature, `MpiComm` over rsmpi.
//! * [`partition_users`] and [`Shard`]: contiguous blocks of users balanced by rating count;
//!   each rank holds its users' ratings (CSR, and the same entries by item).
//! * [`load_split`]: each rank reads only its byte range of a ratings file and receives its
//!   users' ratings from the others (the whole-file loader's ids and shards);
//!   [`load_split_keeping_times`] also gives rank 0 the ratings' timestamps.
//! * [`fit_rank`]: the fit on one rank (same [`cnmf_engine::ValidNmfParams`]
//!   and seeded initialisation as the engine); [`fit_rank_with`] adds validation ratings and
//!   the engine's early stopping on them, [`distribute_holdout`] gives each rank its part of
//!   a validation split drawn on rank 0; [`gather_model`] assembles the engine's
//!   [`cnmf_engine::NmfModel`] on rank 0; [`fit_ranks`] runs the whole thing on P
//!   threads (tests, and a check of the partition on one machine).
//!
//! The binary `cnmf-mpi` (feature `mpi`) is `mpirun -np P cnmf-mpi fit --data FILE -o model`;
//! usage, the communication and memory model and the measured figures are in
//! `docs/distributed.md`.

mod comm;
mod error;
mod fit;
mod input;
#[cfg(feature = "mpi")]
mod mpi_comm;
mod shard;

pub use comm::{Communicator, SingleRank, ThreadRanks};
pub use error::DistError;
pub use fit::{check_params, fit_rank, fit_rank_with, gather_model, LocalFit, SUPPORTED};
pub use input::{load_split, load_split_keeping_times, SplitInput};
#[cfg(feature = "mpi")]
pub use mpi_comm::MpiComm;
pub use shard::{distribute_holdout, partition_users, row_ptr_of, HeldOut, Shard};

use cnmf_engine::{NmfModel, ValidNmfParams};
use cnmf_ratings::Ratings;

/// Fits `params` on `data` with `ranks` ranks as threads of this process ([`ThreadRanks`]):
/// partition, [`fit_rank`] on every rank, [`gather_model`]. Returns the model and the bytes
/// each rank sent during the iterations.
pub fn fit_ranks(
    params: &ValidNmfParams,
    data: &Ratings,
    ranks: usize,
) -> Result<(NmfModel, Vec<u64>), DistError> {
    if ranks == 0 {
        return Err(DistError::Partition("at least one rank".into()));
    }
    let shards = Shard::split(data, ranks)?;
    let results = ThreadRanks::run(ranks, |comm| {
        let shard = &shards[comm.rank()];
        let root_data = (comm.rank() == 0).then_some(data);
        let fit = fit_rank(params, shard, root_data, comm);
        // Agree on failure before the gather, so that every rank returns the same error.
        let failed = comm.agree(fit.as_ref().err().map(|e| e.to_string()).as_deref());
        if !failed.is_empty() {
            return Err(DistError::Ranks(failed));
        }
        let fit = fit.expect("agreed: no rank failed");
        let bytes = fit.bytes_sent;
        gather_model(params, root_data, fit, comm).map(|m| (m, bytes))
    });
    let mut model = None;
    let mut bytes = Vec::with_capacity(ranks);
    for r in results {
        let (m, b) = r?;
        bytes.push(b);
        if m.is_some() {
            model = m;
        }
    }
    let model = model.ok_or_else(|| DistError::Partition("rank 0 returned no model".into()))?;
    Ok((model, bytes))
}
