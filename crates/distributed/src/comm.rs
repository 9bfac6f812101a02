//! The collectives the distributed fit needs, behind one small trait.
//!
//! [`Communicator`] has four primitives (all-to-all and all-gather of `f64` blocks, all-gather of
//! byte strings, broadcast) plus the abort path; everything else is built on them here, in a
//! fixed order, so that any implementation gives the same bits:
//!
//! * [`Communicator::sum_all`], the deterministic sum-reduce: each rank owns one block of
//!   the buffer, receives every rank's partial of that block (all-to-all) and sums them **in
//!   rank order**, then the sums are all-gathered. MPI's own `MPI_Allreduce` may sum in any
//!   order (and differently on different runs or ranks), so it is not used. The traffic is
//!   that of a ring allreduce: `2 (P - 1) / P` times the buffer per rank.
//! * [`Communicator::sum_small`], for a few scalars: all-gather and sum in rank order.
//! * [`Communicator::agree`], for errors: every rank learns every rank's error message (or
//!   none), so all ranks fail together, naming the ranks that failed and why.
//!
//! Implementations: [`SingleRank`] (one process, nothing sent), [`ThreadRanks`] (P ranks as
//! threads of one process, for the tests), and `MpiComm` (feature `mpi`, over rsmpi).

use std::sync::{Arc, Barrier, Mutex};

/// The collectives of the distributed fit. Every rank must call the same collectives in the
/// same order with buffers of the same length (as MPI requires).
pub trait Communicator {
    /// This rank, `0..size()`.
    fn rank(&self) -> usize;

    /// The number of ranks.
    fn size(&self) -> usize;

    /// All-to-all of equal blocks: `send` holds `size()` blocks of `send.len() / size()`
    /// values; block `r` goes to rank `r`. Returns the blocks this rank received, in rank order
    /// (`result[r * b..(r + 1) * b]` came from rank `r`). `send.len()` must be a multiple of
    /// `size()`.
    fn all_to_all_f64(&self, send: &[f64]) -> Vec<f64>;

    /// All-gather of equal blocks: every rank's `mine` (all of the same length), concatenated
    /// in rank order, on every rank.
    fn all_gather_f64(&self, mine: &[f64]) -> Vec<f64>;

    /// All-gather of byte strings of any length: every rank's `mine`, in rank order.
    fn all_gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>>;

    /// All-to-all of byte strings of any length: `send[r]` goes to rank `r`; returns what each
    /// rank sent to this one, in rank order. `send.len()` must be `size()`.
    fn all_to_all_bytes(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>>;

    /// Gather of byte strings of any length to `root`: `Some(every rank's mine, in rank
    /// order)` on `root`, `None` elsewhere.
    fn gather_bytes(&self, mine: &[u8], root: usize) -> Option<Vec<Vec<u8>>>;

    /// Broadcast of `buf` from `root` to every rank (`buf` has the same length everywhere).
    fn broadcast_f64(&self, buf: &mut [f64], root: usize);

    /// Ends every rank of the job with `code`, after printing `message` to standard error. For
    /// failures that cannot be agreed on with [`Communicator::agree`] (a rank that cannot take
    /// part in collectives any more); the fit itself never calls it.
    fn abort(&self, code: i32, message: &str) -> !;

    /// Bytes this rank has sent through the collectives so far (payload only), the measure
    /// of the communication model in `docs/distributed.md`.
    fn bytes_sent(&self) -> u64;

    /// Deterministic sum-reduce of `buf` to every rank: afterwards `buf` holds, on every rank,
    /// the element-wise sum of all ranks' buffers, each element summed in rank order starting
    /// from rank 0's value. The same bits for a given number of ranks on every run and every
    /// rank, whatever the MPI library does.
    fn sum_all(&self, buf: &mut [f64]) {
        let p = self.size();
        if p == 1 || buf.is_empty() {
            return;
        }
        let len = buf.len();
        let block = len.div_ceil(p);
        let mut send = vec![0.0; block * p];
        send[..len].copy_from_slice(buf);
        let received = self.all_to_all_f64(&send);
        let mut mine = received[..block].to_vec();
        for r in 1..p {
            for (s, &x) in mine.iter_mut().zip(&received[r * block..(r + 1) * block]) {
                *s += x;
            }
        }
        let all = self.all_gather_f64(&mine);
        buf.copy_from_slice(&all[..len]);
    }

    /// [`Communicator::sum_all`] for a few values: all-gather, then sum in rank order (one
    /// message instead of two; for buffers much shorter than the number of ranks' blocks).
    fn sum_small(&self, buf: &mut [f64]) {
        let p = self.size();
        if p == 1 {
            return;
        }
        let len = buf.len();
        let all = self.all_gather_f64(buf);
        buf.copy_from_slice(&all[..len]);
        for r in 1..p {
            for (s, &x) in buf.iter_mut().zip(&all[r * len..(r + 1) * len]) {
                *s += x;
            }
        }
    }

    /// Agrees on failure: every rank passes its own error message (`None`: this rank is fine)
    /// and every rank gets the same list of `(rank, message)` of the ranks that failed, in rank
    /// order (empty: every rank is fine).
    fn agree(&self, mine: Option<&str>) -> Vec<(usize, String)> {
        let bytes = match mine {
            None => Vec::new(),
            // A leading 1 so that an empty message still counts as a failure.
            Some(m) => std::iter::once(1u8).chain(m.bytes()).collect(),
        };
        self.all_gather_bytes(&bytes)
            .into_iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .map(|(r, b)| (r, String::from_utf8_lossy(&b[1..]).into_owned()))
            .collect()
    }
}

/// One rank: every collective is the identity and nothing is sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct SingleRank;

impl Communicator for SingleRank {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_to_all_f64(&self, send: &[f64]) -> Vec<f64> {
        send.to_vec()
    }

    fn all_gather_f64(&self, mine: &[f64]) -> Vec<f64> {
        mine.to_vec()
    }

    fn all_gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        vec![mine.to_vec()]
    }

    fn all_to_all_bytes(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>> {
        send.to_vec()
    }

    fn gather_bytes(&self, mine: &[u8], _root: usize) -> Option<Vec<Vec<u8>>> {
        Some(vec![mine.to_vec()])
    }

    fn broadcast_f64(&self, _buf: &mut [f64], _root: usize) {}

    fn abort(&self, code: i32, message: &str) -> ! {
        eprintln!("{message}");
        std::process::exit(code)
    }

    fn bytes_sent(&self) -> u64 {
        0
    }
}

/// What a rank deposits for a collective.
#[derive(Debug, Clone)]
enum Slot {
    Empty,
    F64(Vec<f64>),
    Bytes(Vec<u8>),
    Parts(Vec<Vec<u8>>),
}

/// The state the ranks of one [`ThreadRanks`] group share.
#[derive(Debug)]
struct Shared {
    slots: Mutex<Vec<Slot>>,
    barrier: Barrier,
}

/// P ranks as threads of one process (the tests' communicator): each collective deposits this
/// rank's contribution, waits for every rank, reads what it needs and waits again. The same
/// contract as MPI's collectives, so the fit runs unchanged; [`ThreadRanks::run`] starts the
/// ranks.
#[derive(Debug)]
pub struct ThreadRanks {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
    sent: std::cell::Cell<u64>,
}

impl ThreadRanks {
    /// Runs `f` on `size` ranks (threads), each with its own communicator; returns the ranks'
    /// results in rank order. A rank that panics makes this panic (after the others finish or
    /// block: use it in tests only).
    pub fn run<T, F>(size: usize, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(&ThreadRanks) -> T + Sync,
    {
        assert!(size >= 1, "at least one rank");
        let shared = Arc::new(Shared {
            slots: Mutex::new(vec![Slot::Empty; size]),
            barrier: Barrier::new(size),
        });
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..size)
                .map(|rank| {
                    let comm = ThreadRanks {
                        rank,
                        size,
                        shared: Arc::clone(&shared),
                        sent: std::cell::Cell::new(0),
                    };
                    let f = &f;
                    s.spawn(move || f(&comm))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a rank panicked"))
                .collect()
        })
    }

    /// Deposits `slot`, waits for every rank, reads with `read`, waits again (so the slots can
    /// be reused by the next collective).
    fn exchange<T>(&self, slot: Slot, read: impl FnOnce(&[Slot]) -> T) -> T {
        self.shared.slots.lock().expect("slots")[self.rank] = slot;
        self.shared.barrier.wait();
        let out = read(&self.shared.slots.lock().expect("slots"));
        self.shared.barrier.wait();
        out
    }

    fn all_gather_bytes_uncounted(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        self.exchange(Slot::Bytes(mine.to_vec()), |slots| {
            slots
                .iter()
                .map(|s| match s {
                    Slot::Bytes(b) => b.clone(),
                    _ => panic!("ranks called different collectives"),
                })
                .collect()
        })
    }

    fn count(&self, bytes: usize) {
        self.sent.set(self.sent.get() + bytes as u64);
    }
}

fn f64s(slot: &Slot) -> &[f64] {
    match slot {
        Slot::F64(v) => v,
        _ => panic!("ranks called different collectives"),
    }
}

impl Communicator for ThreadRanks {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_to_all_f64(&self, send: &[f64]) -> Vec<f64> {
        assert_eq!(send.len() % self.size, 0, "blocks of equal length");
        let b = send.len() / self.size;
        self.count(b * (self.size - 1) * 8);
        let me = self.rank;
        self.exchange(Slot::F64(send.to_vec()), |slots| {
            slots
                .iter()
                .flat_map(|s| f64s(s)[me * b..(me + 1) * b].iter().copied())
                .collect()
        })
    }

    fn all_gather_f64(&self, mine: &[f64]) -> Vec<f64> {
        self.count(mine.len() * (self.size - 1) * 8);
        self.exchange(Slot::F64(mine.to_vec()), |slots| {
            slots.iter().flat_map(|s| f64s(s).iter().copied()).collect()
        })
    }

    fn all_gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        self.count(mine.len() * (self.size - 1));
        self.all_gather_bytes_uncounted(mine)
    }

    fn all_to_all_bytes(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>> {
        assert_eq!(send.len(), self.size, "one part per rank");
        let me = self.rank;
        self.count(
            send.iter()
                .enumerate()
                .filter(|&(r, _)| r != me)
                .map(|(_, b)| b.len())
                .sum(),
        );
        self.exchange(Slot::Parts(send.to_vec()), |slots| {
            slots
                .iter()
                .map(|s| match s {
                    Slot::Parts(p) => p[me].clone(),
                    _ => panic!("ranks called different collectives"),
                })
                .collect()
        })
    }

    fn gather_bytes(&self, mine: &[u8], root: usize) -> Option<Vec<Vec<u8>>> {
        if self.rank != root {
            self.count(mine.len());
        }
        let all = self.all_gather_bytes_uncounted(mine);
        (self.rank == root).then_some(all)
    }

    fn broadcast_f64(&self, buf: &mut [f64], root: usize) {
        if self.rank == root {
            self.count(buf.len() * (self.size - 1) * 8);
        }
        let got = self.exchange(Slot::F64(buf.to_vec()), |slots| f64s(&slots[root]).to_vec());
        buf.copy_from_slice(&got);
    }

    fn abort(&self, code: i32, message: &str) -> ! {
        panic!("rank {} aborted with code {code}: {message}", self.rank)
    }

    fn bytes_sent(&self) -> u64 {
        self.sent.get()
    }
}
