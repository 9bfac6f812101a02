//! Times loading a ratings file a few times (a quick check; the criterion bench is
//! `benches/benches/loading.rs`).
//!
//! ```text
//! cargo run --release -p cnmf-ratings --example load_time -- path/to/u.data [repeats]
//! ```

use std::time::Instant;

use cnmf_ratings::{load, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: load_time PATH [repeats]")?;
    let repeats: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    for _ in 0..repeats {
        let start = Instant::now();
        let r = load(&path, &LoadOptions::default())?;
        println!(
            "{} ratings in {:.2} ms",
            r.nnz(),
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
