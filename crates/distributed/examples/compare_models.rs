//! The agreement check of `cnmf-mpi` against `cnmf fit` on data too large for a test: reads two
//! model files fitted on the same ratings and prints the largest relative difference of their
//! raw predictions over every training rating (the rated pattern both files store), and
//! whether their flags are the same.
//!
//! ```text
//! cnmf fit --data ratings.dat --no-early-stopping --iters 10 --k 20 -o engine.cnmf
//! mpirun -np 2 cnmf-mpi fit --data ratings.dat --no-early-stopping --iters 10 --k 20 -o mpi.cnmf
//! cargo run --release -p cnmf-distributed --example compare_models -- engine.cnmf mpi.cnmf
//! ```

use std::path::Path;

use cnmf_cli::api::read_model;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b] = &args[..] else {
        eprintln!("usage: compare_models A.cnmf B.cnmf");
        std::process::exit(2);
    };
    let read = |p: &str| {
        read_model(Path::new(p)).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        })
    };
    let (a, b) = (read(a), read(b));
    let same_ids = a.users() == b.users() && a.items() == b.items();
    if !same_ids || a.n_ratings() != b.n_ratings() {
        eprintln!("the models were not fitted on the same ratings (ids or counts differ)");
        std::process::exit(1);
    }
    let (ma, mb) = (a.model(), b.model());
    let mut worst = 0.0f64;
    let mut n = 0usize;
    for u in 0..a.users().len() as u32 {
        assert_eq!(a.rated(u), b.rated(u), "rated items of user {u} differ");
        for &i in a.rated(u) {
            let (x, y) = (ma.predict_raw(u, i), mb.predict_raw(u, i));
            worst = worst.max((x - y).abs() / x.abs().max(y.abs()).max(1e-300));
            n += 1;
        }
    }
    let same_flags = ma.corrupt_positions() == mb.corrupt_positions();
    println!(
        "{n} training ratings: largest relative difference of the predictions {worst:e}; \
         flags {} ({} and {})",
        if same_flags { "identical" } else { "differ" },
        ma.corrupt_positions().len(),
        mb.corrupt_positions().len()
    );
    if !(worst <= 1e-9 && same_flags) {
        std::process::exit(1);
    }
}
