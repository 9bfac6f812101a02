//! Times loading a ratings file a few times (a quick check; the criterion bench is
//! `benches/benches/loading.rs`).
//!
//! ```text
//! cargo run --release -p cnmf-ratings --example load_time -- path/to/u.data [repeats] [--no-times] [--check]
//! ```
//!
//! `--no-times` loads without the timestamps (as `cnmf fit` does for fits that do not read
//! them); `--check` also loads the file with the streaming loader (one thread, from a reader)
//! and checks that both give the same ratings, bit for bit.

use std::time::Instant;

use cnmf_ratings::{load, load_reader, LoadOptions, Ratings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut path = None;
    let mut repeats = 5;
    let mut opts = LoadOptions::default();
    let mut check = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--no-times" => opts = opts.timestamps(false),
            "--check" => check = true,
            _ if path.is_none() => path = Some(arg),
            _ => repeats = arg.parse()?,
        }
    }
    let path = path.ok_or("usage: load_time PATH [repeats] [--no-times] [--check]")?;
    let mut last = None;
    for _ in 0..repeats {
        // The previous load is freed first, so the peak memory is one load's.
        drop(last.take());
        let start = Instant::now();
        let r = load(&path, &opts)?;
        println!(
            "{} ratings in {:.2} ms",
            r.nnz(),
            start.elapsed().as_secs_f64() * 1e3
        );
        last = Some(r);
    }
    if check {
        let streamed = load_reader(std::fs::File::open(&path)?, &path, &opts)?;
        let loaded = match last {
            Some(r) => r,
            None => load(&path, &opts)?,
        };
        if !same(&loaded, &streamed) {
            return Err("the parallel and streaming loads differ".into());
        }
        println!("same ratings as the streaming loader");
    }
    Ok(())
}

/// Whether two loads are the same ratings, bit for bit (ids, CSR, CSC, map, times).
fn same(a: &Ratings, b: &Ratings) -> bool {
    let bits = |d: &[f64]| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let ids = |r: &Ratings| {
        (
            r.users().iter().map(str::to_owned).collect::<Vec<_>>(),
            r.items().iter().map(str::to_owned).collect::<Vec<_>>(),
        )
    };
    ids(a) == ids(b)
        && a.csr().indptr().raw_storage() == b.csr().indptr().raw_storage()
        && a.csr().indices() == b.csr().indices()
        && bits(a.csr().data()) == bits(b.csr().data())
        && a.csc().indptr().raw_storage() == b.csc().indptr().raw_storage()
        && a.csc().indices() == b.csc().indices()
        && bits(a.csc().data()) == bits(b.csc().data())
        && a.csc_to_csr() == b.csc_to_csr()
        && a.times() == b.times()
}
