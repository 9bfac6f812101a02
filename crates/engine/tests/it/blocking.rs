//! Cache-blocked passes: the same bits as the unblocked passes, for every algorithm, both
//! precisions, any tiling and any thread count.

use crate::common::random_instance;

use cnmf_engine::{Algorithm, CacheBlocking, FitOptions, NmfModel, NmfParams, Precision};
use cnmf_ratings::Ratings;

fn fit(
    data: &Ratings,
    alg: Algorithm,
    precision: Precision,
    threads: usize,
    blocking: CacheBlocking,
) -> NmfModel {
    NmfParams::new(7, alg)
        .lambda(1.5)
        .l2_w(0.05)
        .l2_h(0.05)
        .warmup_iters(1)
        .max_iters(5)
        .threads(threads)
        .seed(31)
        .precision(precision)
        .check()
        .unwrap()
        .fit_with(data, FitOptions::new().cache_blocking(blocking))
        .unwrap()
}

fn bits(m: &NmfModel) -> (Vec<u64>, Vec<u64>, Vec<(u64, u64, usize)>, Vec<u32>) {
    let f = m.factors();
    (
        f.w().iter().map(|x| x.to_bits()).collect(),
        f.h().iter().map(|x| x.to_bits()).collect(),
        m.trace()
            .iter()
            .map(|s| (s.loss.to_bits(), s.objective.to_bits(), s.flagged))
            .collect(),
        m.corrupt_positions().to_vec(),
    )
}

#[test]
fn blocked_passes_give_the_unblocked_bits() {
    // Long rows and columns, so that entries of one row fall into many tiles and tasks hold
    // several chunks.
    let data = random_instance(700, 450, 0.08, 5);
    let forced = [
        CacheBlocking::Force {
            tile_rows: 37,
            task_nnz: 0,
        },
        CacheBlocking::Force {
            tile_rows: 64,
            task_nnz: 12_000,
        },
        CacheBlocking::Force {
            tile_rows: 1,
            task_nnz: 1 << 30,
        },
    ];
    for precision in [Precision::F64, Precision::F32] {
        for alg in Algorithm::ALL {
            let plain = bits(&fit(&data, alg, precision, 1, CacheBlocking::Off));
            assert_eq!(
                plain,
                bits(&fit(&data, alg, precision, 2, CacheBlocking::Auto)),
                "{alg:?} {precision:?} auto"
            );
            for (f, &mode) in forced.iter().enumerate() {
                for threads in [1, 2] {
                    assert_eq!(
                        plain,
                        bits(&fit(&data, alg, precision, threads, mode)),
                        "{alg:?} {precision:?} tiling {f} threads {threads}"
                    );
                }
            }
        }
    }
}
