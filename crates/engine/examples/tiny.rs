//! Fits every algorithm on a tiny made-up data set with one review-bombing user, then prints
//! predictions and the entries ignore-corrupt flags as corrupt.
//!
//! Run: `cargo run -p cnmf-engine --example tiny`

use cnmf_engine::{init_factors, Algorithm, FitOptions, NmfParams};
use cnmf_ratings::{RatingScale, Ratings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two tastes: action fans (ann, bob, cat) and drama fans (dan, eve, fay); "troll" rates
    // everything 1 except the action film it promotes.
    let rows = [
        ("ann", "heat", 5.0),
        ("ann", "ronin", 5.0),
        ("ann", "jaws", 4.0),
        ("ann", "amour", 1.0),
        ("bob", "heat", 4.0),
        ("bob", "ronin", 5.0),
        ("bob", "amour", 2.0),
        ("bob", "ida", 1.0),
        ("cat", "heat", 5.0),
        ("cat", "jaws", 5.0),
        ("cat", "ida", 1.0),
        ("dan", "heat", 1.0),
        ("dan", "amour", 5.0),
        ("dan", "ida", 5.0),
        ("dan", "jaws", 2.0),
        ("eve", "ronin", 2.0),
        ("eve", "amour", 4.0),
        ("eve", "ida", 5.0),
        ("fay", "heat", 1.0),
        ("fay", "jaws", 1.0),
        ("fay", "amour", 5.0),
        ("troll", "heat", 1.0),
        ("troll", "ronin", 1.0),
        ("troll", "jaws", 5.0),
        ("troll", "amour", 1.0),
        ("troll", "ida", 1.0),
    ];
    let data = Ratings::from_external(rows, RatingScale::MOVIELENS)?;
    let (k, seed) = (2, 42);
    let init = init_factors(data.n_users(), data.n_items(), k, data.mean(), seed)?;
    let bob = data.users().index("bob").expect("bob");
    let fay = data.users().index("fay").expect("fay");
    let jaws = data.items().index("jaws").expect("jaws");
    let ida = data.items().index("ida").expect("ida");

    for alg in Algorithm::ALL {
        let model = NmfParams::new(k, alg)
            .lambda(2.0)
            .warmup_iters(50)
            .max_iters(300)
            .check()?
            .fit_with(&data, FitOptions::new().initial(&init))?;
        let last = model.trace().last().expect("trace");
        println!(
            "{alg:<25} bob->jaws {:.2}  fay->ida {:.2}  loss {:.3}  flagged {}",
            model.predict(bob, jaws),
            model.predict(fay, ida),
            last.loss,
            last.flagged
        );
        if alg == Algorithm::IgnoreCorrupt {
            for &(u, i) in model.corrupt_entries() {
                println!(
                    "    flagged: {} rated {} {}",
                    data.users().external(u),
                    data.items().external(i),
                    data.get(u, i).expect("observed")
                );
            }
        }
    }
    Ok(())
}
