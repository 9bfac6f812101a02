//! The lecture's 3 x 3 example ("Non-negative matrix factorization", lecture notes,
//! the project's reference document `nmf-lee-seung-lecture.md`, section "The numerical problem"):
//! V with r = 2, against the lecture's hand-made W and H, by Lee–Seung's multiplicative
//! updates for both objectives (KL with the lecture's column normalisation of W).
//!
//! Run with `cargo run -p cnmf-family --example lecture_3x3`.

use cnmf_family::DMatrix;
use cnmf_family::{FamilyError, LeeSeungModel, LeeSeungParams, Objective};

/// The lecture's V.
pub const V: [[f64; 3]; 3] = [[4.0, 0.0, 2.0], [0.0, 3.0, 1.0], [2.0, 1.0, 3.0]];
/// The lecture's W (3 x 2).
pub const LECTURE_W: [[f64; 2]; 3] = [[2.0, 0.0], [0.0, 1.5], [1.0, 1.0]];
/// The lecture's H (2 x 3).
pub const LECTURE_H: [[f64; 3]; 2] = [[2.0, 0.0, 1.0], [0.0, 2.0, 1.0]];
/// The lecture's W H, as printed: `(4 0 2; 0 3 1.5; 2 2 2)`.
pub const LECTURE_WH: [[f64; 3]; 3] = [[4.0, 0.0, 2.0], [0.0, 3.0, 1.5], [2.0, 2.0, 2.0]];

/// The lecture's V as a matrix.
pub fn v() -> DMatrix<f64> {
    DMatrix::from_fn(3, 3, |i, j| V[i][j])
}

/// The lecture's W H.
pub fn lecture_wh() -> DMatrix<f64> {
    DMatrix::from_fn(3, 2, |i, a| LECTURE_W[i][a]) * DMatrix::from_fn(2, 3, |a, j| LECTURE_H[a][j])
}

/// Our fits: (Frobenius, KL with normalised W).
pub fn compute() -> Result<(LeeSeungModel, LeeSeungModel), FamilyError> {
    let frobenius = LeeSeungParams::new(2).max_iters(2000).check()?.fit(&v())?;
    let kl = LeeSeungParams::new(2)
        .objective(Objective::KullbackLeibler)
        .normalize_w(true)
        .max_iters(2000)
        .check()?
        .fit(&v())?;
    Ok((frobenius, kl))
}

fn show(m: &DMatrix<f64>) -> String {
    m.row_iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().map(|x| format!("{x:6.3}")).collect();
            format!("    [{}]", cells.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[allow(dead_code)]
fn main() -> Result<(), FamilyError> {
    let (frobenius, kl) = compute()?;
    let v = v();
    println!("Lecture's 3 x 3 example, r = 2\n\nV =\n{}", show(&v));
    println!(
        "\nlecture: W H =\n{}\n  ||V - WH||^2 = {:.4}",
        show(&lecture_wh()),
        (&v - lecture_wh()).norm_squared()
    );
    for (label, m) in [
        ("ours, Frobenius", &frobenius),
        ("ours, KL with normalised W", &kl),
    ] {
        let wh = m.w() * m.h();
        println!(
            "\n{label} ({} iterations): W =\n{}\n  H =\n{}\n  W H =\n{}\n  ||V - WH||^2 = {:.4}, objective {:.4} -> {:.4}",
            m.iterations(),
            show(m.w()),
            show(m.h()),
            show(&wh),
            (&v - &wh).norm_squared(),
            m.objective_trace()[0],
            m.objective_trace().last().copied().unwrap_or(f64::NAN),
        );
    }
    let sv = v.clone().singular_values();
    println!(
        "\nNo rank-2 matrix is closer to V than sigma_3^2 = {:.4} (Eckart–Young), so no NMF can beat it.",
        sv.min().powi(2)
    );
    Ok(())
}
