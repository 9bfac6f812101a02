//! The passes run on the widest instruction set the CPU has (AVX-512F, AVX2 or the portable
//! baseline); every instruction set must give the same bits.

use crate::common;

use cnmf_engine::numeric::Isa;
use cnmf_engine::{Algorithm, FitOptions, NmfModel, NmfParams};
use cnmf_ratings::Ratings;
use common::{random_instance, trace_bits};

fn fit(data: &Ratings, alg: Algorithm, k: usize, l2: f64, isa: Isa) -> NmfModel {
    NmfParams::new(k, alg)
        .lambda(1.5)
        .l2_w(l2)
        .l2_h(l2)
        .warmup_iters(1)
        .max_iters(6)
        .threads(2)
        .seed(23)
        .check()
        .unwrap()
        .fit_with(data, FitOptions::new().isa(isa))
        .unwrap()
}

/// Every algorithm at ranks compiled as constants (20, 50, 100: several register blocks) and
/// at generic ranks (13, 3), with and without L2: factors, flags and trace bit-identical on
/// the portable path and on every wide path this CPU has.
#[test]
fn every_instruction_set_gives_the_same_bits() {
    let widest = Isa::detect();
    if widest == Isa::Portable {
        eprintln!("this CPU has neither AVX2 nor AVX-512F: only the portable path is tested");
    }
    // Rows of about 20 entries, columns of about 125: many chunks, every remainder length.
    let data = random_instance(2500, 400, 0.05, 7);
    for alg in Algorithm::ALL {
        for (k, l2) in [(20, 0.0), (13, 0.0), (50, 0.1), (100, 0.0), (3, 0.1)] {
            let reference = fit(&data, alg, k, l2, Isa::Portable);
            for isa in [Isa::Avx2, Isa::Avx512] {
                let other = fit(&data, alg, k, l2, isa);
                let what = format!("{alg} at k = {k}, l2 = {l2}, {isa:?} vs portable");
                assert!(
                    other.factors().w() == reference.factors().w(),
                    "{what}: W differs"
                );
                assert!(
                    other.factors().h() == reference.factors().h(),
                    "{what}: H differs"
                );
                assert_eq!(
                    other.corrupt_entries(),
                    reference.corrupt_entries(),
                    "{what}"
                );
                assert_eq!(trace_bits(&other), trace_bits(&reference), "{what}");
            }
        }
    }
}
