//! The slides' TV-show example ("NMF", Jaiprakash R, IIT Kharagpur, 19 September 2019;
//! the project's reference document `nmf-slides-tv-shows.txt`): factorise the shows x users rating
//! table with r = 2, compute the cosine similarity of the shows' factor vectors (rows of W),
//! and estimate Jai's rating of Black Mirror from its three nearest shows with the slides'
//! rank weights.
//!
//! Run with `cargo run -p cnmf-family --example slides_tv_shows`.

use cnmf_family::DMatrix;
use cnmf_family::{
    FamilyError, ItemNeighbours, LeeSeungModel, LeeSeungParams, NeighbourEstimate, NeighbourParams,
};

/// The shows, in the order of the rows of the slides' X.
pub const SHOWS: [&str; 7] = [
    "F.R.I.E.N.D.S",
    "TBBT",
    "Black Mirror",
    "Modern Family",
    "Sacred Games",
    "GoT",
    "Quantico",
];
/// The users, in the order of the columns of X.
pub const USERS: [&str; 5] = ["Jai", "PB", "Arnab", "Abhi", "Diya"];
/// Row of Black Mirror, column of Jai.
pub const BLACK_MIRROR: usize = 2;
/// Column of Jai ("me": the slides' author) in X.
pub const JAI: usize = 0;

/// The slides' X ("Toy Example", shows x users; 0 = rating not available).
pub const X: [[f64; 5]; 7] = [
    [4.8, 4.0, 0.0, 4.9, 2.1],
    [4.7, 4.1, 3.5, 4.0, 4.4],
    [0.0, 4.8, 4.0, 0.0, 4.7],
    [4.6, 0.0, 0.0, 0.0, 0.0],
    [0.0, 4.9, 0.0, 0.0, 0.0],
    [0.0, 4.7, 4.6, 4.4, 4.9],
    [2.1, 1.5, 2.5, 0.0, 0.0],
];

/// The slides' W ("NMF for the Toy Example", shows x 2).
pub const SLIDES_W: [[f64; 2]; 7] = [
    [0.971, 1.929],
    [1.699, 1.626],
    [1.872, 0.0],
    [0.0, 1.317],
    [0.77, 0.0],
    [2.219, 0.232],
    [0.452, 0.543],
];

/// The slides' H (2 x users).
pub const SLIDES_H: [[f64; 5]; 2] = [
    [0.0, 2.53, 1.898, 1.09, 2.217],
    [2.853, 0.312, 0.0, 1.314, 0.045],
];

/// The slides' similarity matrix S ("Application 1: Collaborative Filtering").
pub const SLIDES_S: [[f64; 7]; 7] = [
    [1.0, 0.942, 0.45, 0.893, 0.45, 0.54, 0.974],
    [0.942, 1.0, 0.722, 0.691, 0.722, 0.79, 0.994],
    [0.45, 0.722, 1.0, 0.0, 1.0, 0.995, 0.64],
    [0.893, 0.691, 0.0, 1.0, 0.0, 0.104, 0.769],
    [0.45, 0.722, 1.0, 0.0, 1.0, 0.995, 0.64],
    [0.54, 0.79, 0.995, 0.104, 0.995, 1.0, 0.716],
    [0.974, 0.994, 0.64, 0.769, 0.64, 0.716, 1.0],
];

/// The slides' three nearest neighbours of Black Mirror, in rank order.
pub const SLIDES_NEIGHBOURS: [usize; 3] = [4, 5, 1]; // Sacred Games, GoT, TBBT
/// The slides' rank weights 5/12, 4/12, 3/12.
pub const SLIDES_WEIGHTS: [f64; 3] = [5.0 / 12.0, 4.0 / 12.0, 3.0 / 12.0];
/// The slides' estimate of Jai's rating of Black Mirror.
pub const SLIDES_ESTIMATE: f64 = 1.175;

/// What the example computes.
pub struct Outcome {
    /// Our factorisation of X (r = 2).
    pub model: LeeSeungModel,
    /// Our show neighbours.
    pub neighbours: ItemNeighbours,
    /// Our estimate of Jai's rating of Black Mirror.
    pub estimate: NeighbourEstimate,
    /// The estimate from the slides' own W (checks our weighting on their factors).
    pub estimate_from_slides_w: NeighbourEstimate,
}

/// The slides' matrix as a dense matrix.
pub fn x() -> DMatrix<f64> {
    DMatrix::from_fn(7, 5, |i, j| X[i][j])
}

/// Fits X with r = 2 and estimates Jai's rating of Black Mirror.
pub fn compute() -> Result<Outcome, FamilyError> {
    // X is the slides' data as it is: zeros are values here, exactly as in the slides (they
    // note that leaving cells empty would "crash" their NMF), so this is the dense
    // Frobenius NMF, not an ignore-missing one.
    let model = LeeSeungParams::new(2)
        .max_iters(5000)
        .seed(1)
        .check()?
        .fit(&x())?;
    // The shows are the rows of W.
    let neighbours = ItemNeighbours::from_rows(model.w())?;
    let params = NeighbourParams::new(3).check()?;
    let (rated, ratings) = jai();
    let estimate = neighbours.estimate(&params, BLACK_MIRROR as u32, &rated, &ratings)?;
    let slides_w = DMatrix::from_fn(7, 2, |i, a| SLIDES_W[i][a]);
    let estimate_from_slides_w = ItemNeighbours::from_rows(&slides_w)?.estimate(
        &params,
        BLACK_MIRROR as u32,
        &rated,
        &ratings,
    )?;
    Ok(Outcome {
        model,
        neighbours,
        estimate,
        estimate_from_slides_w,
    })
}

/// Jai's ratings: the shows (ascending) with a nonzero entry in his column.
pub fn jai() -> (Vec<u32>, Vec<f64>) {
    (0..7)
        .filter(|&i| X[i][JAI] > 0.0)
        .map(|i| (i as u32, X[i][JAI]))
        .unzip()
}

#[allow(dead_code)]
fn main() -> Result<(), FamilyError> {
    let out = compute()?;
    let w = out.model.w();
    let h = out.model.h();
    println!("Slides' TV-show example, r = 2 (zeros are values, as in the slides)\n");
    println!("W (shows x 2)           slides              ours");
    for (i, show) in SHOWS.iter().enumerate() {
        println!(
            "  {show:<14} [{:6.3} {:6.3}]   [{:6.3} {:6.3}]",
            SLIDES_W[i][0],
            SLIDES_W[i][1],
            w[(i, 0)],
            w[(i, 1)]
        );
    }
    println!("\nH (2 x users)");
    for a in 0..2 {
        let slides: Vec<String> = SLIDES_H[a].iter().map(|x| format!("{x:6.3}")).collect();
        let ours: Vec<String> = (0..5).map(|j| format!("{:6.3}", h[(a, j)])).collect();
        println!(
            "  slides [{}]\n  ours   [{}]",
            slides.join(" "),
            ours.join(" ")
        );
    }
    let xhat = w * h;
    let ours_err = (x() - &xhat).norm();
    let slides_wh = DMatrix::from_fn(7, 2, |i, a| SLIDES_W[i][a])
        * DMatrix::from_fn(2, 5, |a, j| SLIDES_H[a][j]);
    println!(
        "\n||X - WH||_F: slides {:.3}, ours {:.3} (NMF is not unique: the factors may differ, the fit should not be worse)",
        (x() - slides_wh).norm(),
        ours_err
    );
    println!("  (the columns of W may come out in the other order: the two categories have no fixed label)");

    println!("\nCosine similarity of the shows (rows of W): slides / ours");
    for (a, show) in SHOWS.iter().enumerate() {
        let row: Vec<String> = (0..7)
            .map(|b| {
                let ours = out
                    .neighbours
                    .cosine(a as u32, b as u32)
                    .unwrap_or(f64::NAN);
                format!("{:.3}/{:.3}", SLIDES_S[a][b], ours)
            })
            .collect();
        println!("  {show:<14} {}", row.join(" "));
    }

    println!("\nBlack Mirror for Jai, from its 3 nearest shows (unrated neighbours count as 0)");
    println!("  slides: neighbours Sacred Games, GoT, TBBT; weights 5/12, 4/12, 3/12; estimate {SLIDES_ESTIMATE}");
    for (label, est) in [
        ("ours", &out.estimate),
        ("slides' W, our weighting", &out.estimate_from_slides_w),
    ] {
        let names: Vec<String> = est
            .neighbours
            .iter()
            .map(|n| {
                format!(
                    "{} (cos {:.3}, weight {:.4}, Jai's rating {})",
                    SHOWS[n.item as usize],
                    n.similarity,
                    n.weight,
                    n.rating.map_or("none = 0".to_string(), |r| r.to_string())
                )
            })
            .collect();
        println!("  {label}: {}; estimate {:.3}", names.join(", "), est.value);
    }
    Ok(())
}
