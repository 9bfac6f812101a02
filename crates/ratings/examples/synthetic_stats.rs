//! Prints the shape of a generated data set (or of a ratings file) so the synthetic generator
//! can be compared with real MovieLens: user and item count distributions, the rating
//! histogram and the mean.
//!
//! ```text
//! cargo run --release -p cnmf-ratings --example synthetic_stats -- ml100k [seed]
//! cargo run --release -p cnmf-ratings --example synthetic_stats -- ml1m [seed] [out.dat|out.csv]
//! cargo run --release -p cnmf-ratings --example synthetic_stats -- 480189x17770x100000000
//! cargo run --release -p cnmf-ratings --example synthetic_stats -- file path/to/u.data
//! ```

use std::time::Instant;

use cnmf_ratings::{load, synthetic::SyntheticParams, LoadOptions, Ratings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("ml100k");
    let start = Instant::now();
    let r = match which {
        "file" => load(
            args.get(1).ok_or("file needs a path")?,
            &LoadOptions::default(),
        )?,
        preset => {
            let seed = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(0);
            let p = match preset {
                "ml1m" => SyntheticParams::ml1m(),
                "ml100k" => SyntheticParams::ml100k(),
                shape => {
                    let dims: Vec<usize> = shape
                        .split('x')
                        .map(str::parse)
                        .collect::<Result<_, _>>()
                        .map_err(|_| format!("unknown preset {shape:?}"))?;
                    match dims[..] {
                        [n, m, nnz] => SyntheticParams::new(n, m, nnz),
                        _ => {
                            return Err(
                                format!("expected USERSxITEMSxRATINGS, got {shape:?}").into()
                            )
                        }
                    }
                }
            };
            p.seed(seed).check()?.generate()
        }
    };
    println!("built in {:.3} s", start.elapsed().as_secs_f64());
    if which != "file" {
        if let Some(out) = args.get(2) {
            cnmf_ratings::write(&r, out, cnmf_ratings::Format::Auto)?;
            println!("written to {out}");
        }
    }
    report(&r);
    Ok(())
}

fn report(r: &Ratings) {
    let n = r.nnz();
    println!(
        "{} users, {} items, {} ratings, mean {:.3}",
        r.n_users(),
        r.n_items(),
        n,
        r.mean()
    );
    let mut hist = [0usize; 5];
    for &v in r.csr().data() {
        if (1.0..=5.0).contains(&v) && v.fract() == 0.0 {
            hist[v as usize - 1] += 1;
        }
    }
    let shares: Vec<String> = hist
        .iter()
        .map(|&c| format!("{:.3}", c as f64 / n as f64))
        .collect();
    println!("rating shares 1..5: {}", shares.join(" "));
    for (what, mut counts) in [
        (
            "users",
            (0..r.n_users() as u32)
                .map(|u| r.user_count(u))
                .collect::<Vec<_>>(),
        ),
        (
            "items",
            (0..r.n_items() as u32)
                .map(|i| r.item_count(i))
                .collect::<Vec<_>>(),
        ),
    ] {
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: usize = counts[..counts.len() / 10].iter().sum();
        println!(
            "{what}: max {}, median {}, min {}, top-10% share {:.3}, with < 5 ratings {}",
            counts[0],
            counts[counts.len() / 2],
            counts[counts.len() - 1],
            top as f64 / n as f64,
            counts.iter().filter(|&&c| c < 5).count()
        );
    }
}
