//! The lecture's users x films example ("Coda: simple NMF example", lecture notes,
//! the project's reference document `nmf-lee-seung-lecture.md`): 7 users, 5 films, K = 2. The lecture
//! shows two topics: the science-fiction films (Matrix, Alien, Star Wars) with their fans
//! Joe..Jack, and the romances (Casablanca, Titanic) with Jill, Jenny and Jane.
//!
//! The lecture prints two runs: a "direct implementation" that treats the zeros as missing
//! (its rounded reconstruction fills every row with the user's own level), and the topic
//! analysis, where the zeros are values. We reproduce both. With the zeros missing, the
//! unseen entries are unconstrained by the data, so what they come out as depends on the
//! initialisation; only the fit of the observed entries is stable.
//!
//! Run with `cargo run -p cnmf-family --example lecture_films`.

use cnmf_family::DMatrix;
use cnmf_family::{FamilyError, LeeSeungModel, LeeSeungParams, Objective, RatingNmfModel};
use cnmf_ratings::{RatingScale, Ratings};

/// The users (rows).
pub const USERS: [&str; 7] = ["Joe", "Jim", "John", "Jack", "Jill", "Jenny", "Jane"];
/// The films (columns).
pub const FILMS: [&str; 5] = ["Matrix", "Alien", "Star Wars", "Casablanca", "Titanic"];
/// The lecture's ratings (Figure 11.6).
pub const R: [[f64; 5]; 7] = [
    [1.0, 1.0, 1.0, 0.0, 0.0],
    [3.0, 3.0, 3.0, 0.0, 0.0],
    [4.0, 4.0, 4.0, 0.0, 0.0],
    [5.0, 5.0, 5.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 4.0, 4.0],
    [0.0, 0.0, 0.0, 5.0, 5.0],
    [0.0, 0.0, 0.0, 2.0, 2.0],
];
/// The lecture's W (user x topic), "Analysis of the result".
pub const LECTURE_W: [[f64; 2]; 7] = [
    [0.0, 0.82037571],
    [0.0, 2.46112713],
    [0.0, 3.28150284],
    [0.0, 4.10187855],
    [1.62445593, 0.0],
    [2.03056992, 0.0],
    [0.81222797, 0.0],
];
/// The lecture's H (topic x film).
pub const LECTURE_H: [[f64; 5]; 2] = [
    [0.0, 0.0, 0.0, 2.46236289, 2.46236289],
    [1.21895369, 1.21895369, 1.21895369, 0.0, 0.0],
];
/// The lecture's `np.rint(np.dot(nP, nQ.T))` of the direct implementation (zeros missing).
pub const LECTURE_RINT: [[f64; 5]; 7] = [
    [1.0, 1.0, 1.0, 1.0, 1.0],
    [3.0, 3.0, 3.0, 3.0, 3.0],
    [4.0, 4.0, 4.0, 4.0, 4.0],
    [5.0, 5.0, 5.0, 5.0, 5.0],
    [4.0, 4.0, 4.0, 4.0, 4.0],
    [5.0, 5.0, 5.0, 5.0, 5.0],
    [2.0, 2.0, 2.0, 2.0, 2.0],
];

/// The ratings as a dense matrix (zeros are values).
pub fn r() -> DMatrix<f64> {
    DMatrix::from_fn(7, 5, |i, j| R[i][j])
}

/// The nonzero ratings only (zeros are missing), on a 1..5 scale.
pub fn observed() -> Result<Ratings, FamilyError> {
    let triples: Vec<(&str, &str, f64)> = (0..7)
        .flat_map(|u| (0..5).map(move |i| (u, i)))
        .filter(|&(u, i)| R[u][i] > 0.0)
        .map(|(u, i)| (USERS[u], FILMS[i], R[u][i]))
        .collect();
    Ratings::from_external(triples, RatingScale::MOVIELENS).map_err(|e| FamilyError::InvalidData {
        method: "lecture films",
        problem: e.to_string(),
    })
}

/// Our two runs: the topic model (dense KL with normalised W, zeros are values) and the
/// direct implementation's analogue (ignore-missing Frobenius on the nonzero ratings).
pub fn compute() -> Result<(LeeSeungModel, RatingNmfModel), FamilyError> {
    let topics = LeeSeungParams::new(2)
        .objective(Objective::KullbackLeibler)
        .normalize_w(true)
        .max_iters(1000)
        .check()?
        .fit(&r())?;
    let missing = LeeSeungParams::new(2)
        .max_iters(1000)
        .check()?
        .fit(&observed()?)?;
    Ok((topics, missing))
}

/// The topic (0 or 1) that dominates each film's column of H.
pub fn film_topics(m: &LeeSeungModel) -> Vec<usize> {
    (0..5)
        .map(|j| usize::from(m.h()[(1, j)] > m.h()[(0, j)]))
        .collect()
}

/// The topic that dominates each user's row of W.
pub fn user_topics(m: &LeeSeungModel) -> Vec<usize> {
    (0..7)
        .map(|i| usize::from(m.w()[(i, 1)] > m.w()[(i, 0)]))
        .collect()
}

#[allow(dead_code)]
fn main() -> Result<(), FamilyError> {
    let (topics, missing) = compute()?;
    println!("Lecture's films example, K = 2\n");
    println!(
        "Topics (zeros are values; KL with normalised W, {} iterations)",
        topics.iterations()
    );
    println!("W (user x topic)      lecture                    ours");
    for (i, user) in USERS.iter().enumerate() {
        println!(
            "  {user:<6} [{:10.6} {:10.6}]   [{:8.5} {:8.5}]",
            LECTURE_W[i][0],
            LECTURE_W[i][1],
            topics.w()[(i, 0)],
            topics.w()[(i, 1)]
        );
    }
    println!("H (topic x film)");
    for (a, lecture_row) in LECTURE_H.iter().enumerate() {
        let lec: Vec<String> = lecture_row.iter().map(|x| format!("{x:8.5}")).collect();
        let ours: Vec<String> = (0..5)
            .map(|j| format!("{:8.5}", topics.h()[(a, j)]))
            .collect();
        println!(
            "  lecture [{}]\n  ours    [{}]",
            lec.join(" "),
            ours.join(" ")
        );
    }
    let ft = film_topics(&topics);
    for t in 0..2 {
        let films: Vec<&str> = (0..5).filter(|&j| ft[j] == t).map(|j| FILMS[j]).collect();
        let users: Vec<&str> = (0..7)
            .filter(|&i| user_topics(&topics)[i] == t)
            .map(|i| USERS[i])
            .collect();
        println!("  our topic {t}: films {films:?}, users {users:?}");
    }
    println!("  lecture: topic 0 = Casablanca, Titanic (Jill, Jenny, Jane); topic 1 = Matrix, Alien, Star Wars (Joe..Jack)");
    println!("  (our W columns sum to 1 because of the normalisation; the lecture's are scaled differently, and the topic order is arbitrary)");
    println!(
        "  ||R - WH||_F = {:.2e}",
        (r() - topics.w() * topics.h()).norm()
    );

    println!(
        "\nZeros as missing (the lecture's direct implementation; ours: ignore-missing Frobenius)"
    );
    println!("rint(P Q)      lecture            ours");
    for (u, user) in USERS.iter().enumerate() {
        let lec: Vec<String> = LECTURE_RINT[u].iter().map(|x| format!("{x:.0}")).collect();
        let ours: Vec<String> = (0..5)
            .map(|i| format!("{:.0}", missing.factors().entry(u, i).round()))
            .collect();
        println!("  {user:<6} [{}]   [{}]", lec.join(" "), ours.join(" "));
    }
    println!(
        "  The observed entries are fitted; the unseen ones are not determined by the data at all:"
    );
    println!("  they depend on the initialisation (this seed happens to give the lecture's picture, many");
    println!(
        "  others do not), which is the lecture's point: without the zeros there are no topics."
    );
    Ok(())
}
