//! [`Communicator`] over MPI (rsmpi): `MPI_Alltoall`, `MPI_Allgather(v)`, `MPI_Gatherv`,
//! `MPI_Bcast` and `MPI_Abort` on `MPI_COMM_WORLD`. No `MPI_Allreduce`: the sums are taken in
//! rank order by [`Communicator::sum_all`].

use std::cell::Cell;

use mpi::collective::{CommunicatorCollectives, Root};
use mpi::datatype::{Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::Count;

use crate::{Communicator, DistError};

/// The world communicator of an initialised MPI environment (finalised when dropped).
pub struct MpiComm {
    // Field order: the world communicator before the universe that finalises MPI.
    world: SimpleCommunicator,
    _universe: Universe,
    rank: usize,
    size: usize,
    sent: Cell<u64>,
}

impl std::fmt::Debug for MpiComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiComm")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish()
    }
}

impl MpiComm {
    /// Initialises MPI (once per process). Errors when it was already initialised or the
    /// library cannot start.
    pub fn init() -> Result<MpiComm, DistError> {
        let universe = mpi::initialize().ok_or_else(|| {
            DistError::Partition("MPI could not be initialised (or was already)".into())
        })?;
        let world = universe.world();
        let rank = usize::try_from(world.rank()).unwrap_or(0);
        let size = usize::try_from(world.size()).unwrap_or(1);
        Ok(MpiComm {
            world,
            _universe: universe,
            rank,
            size,
            sent: Cell::new(0),
        })
    }

    fn count(&self, bytes: usize) {
        self.sent.set(self.sent.get() + bytes as u64);
    }

    /// `n` as an MPI count, or the abort path (MPI counts are C `int`s).
    fn mpi_count(&self, n: usize) -> Count {
        Count::try_from(n).unwrap_or_else(|_| {
            self.abort(
                2,
                &format!(
                    "rank {}: a message of {n} elements exceeds MPI's count limit ({}); use \
                     more ranks",
                    self.rank,
                    Count::MAX
                ),
            )
        })
    }

    /// Every rank's length (as MPI counts) and the displacements of the concatenation.
    fn counts_displs(&self, len: usize) -> (Vec<Count>, Vec<Count>, usize) {
        let mine = self.mpi_count(len);
        let mut counts = vec![0 as Count; self.size];
        self.world.all_gather_into(&mine, &mut counts[..]);
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        self.mpi_count(total);
        let displs = counts
            .iter()
            .scan(0 as Count, |acc, &c| {
                let d = *acc;
                *acc += c;
                Some(d)
            })
            .collect();
        (counts, displs, total)
    }
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_to_all_f64(&self, send: &[f64]) -> Vec<f64> {
        assert_eq!(send.len() % self.size, 0, "blocks of equal length");
        self.mpi_count(send.len());
        self.count(send.len() / self.size * (self.size - 1) * 8);
        let mut recv = vec![0.0; send.len()];
        self.world.all_to_all_into(send, &mut recv[..]);
        recv
    }

    fn all_gather_f64(&self, mine: &[f64]) -> Vec<f64> {
        self.mpi_count(mine.len() * self.size);
        self.count(mine.len() * (self.size - 1) * 8);
        let mut recv = vec![0.0; mine.len() * self.size];
        self.world.all_gather_into(mine, &mut recv[..]);
        recv
    }

    fn all_gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        let (counts, displs, total) = self.counts_displs(mine.len());
        if total == 0 {
            // Every rank knows the counts: nothing to send (Open MPI refuses empty buffers).
            return vec![Vec::new(); self.size];
        }
        self.count(mine.len() * (self.size - 1));
        let mut recv = vec![0u8; total];
        {
            let mut part = PartitionMut::new(&mut recv[..], &counts[..], &displs[..]);
            self.world.all_gather_varcount_into(mine, &mut part);
        }
        split(&recv, &counts)
    }

    fn all_to_all_bytes(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>> {
        assert_eq!(send.len(), self.size, "one part per rank");
        let send_counts: Vec<Count> = send.iter().map(|b| self.mpi_count(b.len())).collect();
        let mut recv_counts = vec![0 as Count; self.size];
        self.world
            .all_to_all_into(&send_counts[..], &mut recv_counts[..]);
        let displs = |counts: &[Count]| -> Vec<Count> {
            counts
                .iter()
                .scan(0 as Count, |acc, &c| {
                    let d = *acc;
                    *acc += c;
                    Some(d)
                })
                .collect()
        };
        let flat: Vec<u8> = send.concat();
        let total: usize = recv_counts.iter().map(|&c| c as usize).sum();
        self.mpi_count(flat.len());
        self.mpi_count(total);
        self.count(flat.len() - send[self.rank].len());
        // Open MPI refuses empty buffers: a placeholder byte that no count covers.
        let flat = if flat.is_empty() { vec![0u8] } else { flat };
        let mut recv = vec![0u8; total.max(1)];
        {
            let sd = displs(&send_counts);
            let rd = displs(&recv_counts);
            let part = Partition::new(&flat[..], &send_counts[..], &sd[..]);
            let mut rpart = PartitionMut::new(&mut recv[..], &recv_counts[..], &rd[..]);
            self.world.all_to_all_varcount_into(&part, &mut rpart);
        }
        split(&recv, &recv_counts)
    }

    fn gather_bytes(&self, mine: &[u8], root: usize) -> Option<Vec<Vec<u8>>> {
        let (counts, displs, total) = self.counts_displs(mine.len());
        if total == 0 {
            return (self.rank == root).then(|| vec![Vec::new(); self.size]);
        }
        let process = self.world.process_at_rank(root as i32);
        if self.rank == root {
            let mut recv = vec![0u8; total];
            {
                let mut part = PartitionMut::new(&mut recv[..], &counts[..], &displs[..]);
                process.gather_varcount_into_root(mine, &mut part);
            }
            Some(split(&recv, &counts))
        } else {
            self.count(mine.len());
            process.gather_varcount_into(mine);
            None
        }
    }

    fn broadcast_f64(&self, buf: &mut [f64], root: usize) {
        if self.rank == root {
            self.count(buf.len() * (self.size - 1) * 8);
        }
        self.mpi_count(buf.len());
        self.world
            .process_at_rank(root as i32)
            .broadcast_into(&mut buf[..]);
    }

    fn abort(&self, code: i32, message: &str) -> ! {
        eprintln!("{message}");
        self.world.abort(code)
    }

    fn bytes_sent(&self) -> u64 {
        self.sent.get()
    }
}

/// The concatenation `all` cut into the ranks' parts.
fn split(all: &[u8], counts: &[Count]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(counts.len());
    let mut at = 0usize;
    for &c in counts {
        let c = c as usize;
        out.push(all[at..at + c].to_vec());
        at += c;
    }
    out
}
