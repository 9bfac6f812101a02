//! `guarded`'s burst screen: the ratings of an item that arrive in a burst in time whose values
//! are shifted from the item's other ratings — a review bomb as it happens.
//!
//! For each item with timestamps, every window `[t_a, t_a + W)` that starts at one of its
//! ratings is a candidate; a candidate with `c` ratings, mean `m_w`, and the item's other
//! `n - c` ratings of mean `m_r` and population standard deviation `s_r` is a **burst** when
//! - it holds at least [`MIN_BURST`] ratings and the rest at least [`MIN_REST`];
//! - its values are shifted: `|m_w - m_r| >= `[`MIN_SHIFT`]` x (scale width)` and
//!   `|z| >= `[`MIN_Z`] for `z = (m_w - m_r) / (max(s_r, SD_FLOOR x width) / sqrt(c))`;
//! - it is dense: a Poisson count with the rest's rate, `mu = (n - c) W / max(span - W, W)`
//!   (`span` the item's time span), reaches `c` with probability below [`MAX_P`].
//!
//! The burst with the largest `|z|` of each item (the first in time on ties) has its ratings on
//! the side of the shift (below `m_r` for a downward shift, above for an upward one) **held**:
//! `guarded` leaves them out of both half-steps, like flagged ratings. Genuine bursts (a film's
//! release, a site's launch) are dense too but not shifted; on MovieLens 100K their shifts stay
//! within ±0.45 stars. An attacker who spreads the ratings over the item's history leaves no
//! burst and is not caught here.
//!
//! Every step is per item (items in parallel, results written in item order), so the result
//! does not depend on the thread count.

use cnmf_ratings::Ratings;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Fewest ratings in a burst.
pub const MIN_BURST: usize = 5;
/// Fewest other ratings of the item to judge a burst against.
pub const MIN_REST: usize = 5;
/// Smallest shift of a burst's mean, as a share of the rating scale's width (0.5 stars on 1–5).
pub const MIN_SHIFT: f64 = 0.125;
/// Smallest |z| of a burst's mean shift.
pub const MIN_Z: f64 = 4.0;
/// Floor of the rest's standard deviation, as a share of the scale's width (so an item whose
/// other ratings all agree does not make any small shift significant).
pub const SD_FLOOR: f64 = 0.125;
/// Largest Poisson tail probability of a burst's count.
pub const MAX_P: f64 = 1e-4;
/// Smallest |z| of a burst whose held raters count as suspected users
/// ([`NmfModel::suspected_users`](crate::NmfModel::suspected_users)): holding a rating out of
/// the fit costs little, accusing its user needs stronger evidence, twice [`MIN_Z`]. A review
/// bomb of a few dozen ratings lies far beyond it (47 one-star ratings against an item's mean
/// of 3.5: |z| about 17); the one shifted burst of genuine ratings in MovieLens 100K (13
/// ratings of Titanic in one day, mean 3.0 against 4.29, z = -5.2) is held but its raters are
/// not accused.
pub const SUSPECT_Z: f64 = 2.0 * MIN_Z;

/// One burst the screen found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Burst {
    /// The item (dense index).
    pub item: u32,
    /// First and last time of the window's ratings (seconds since the Unix epoch).
    pub start: i64,
    /// Last time of the window's ratings.
    pub end: i64,
    /// Ratings in the window.
    pub count: usize,
    /// Their mean.
    pub mean: f64,
    /// Mean of the item's other ratings.
    pub rest_mean: f64,
    /// The shift's z score.
    pub z: f64,
    /// Ratings held (those of the window on the side of the shift).
    pub held: usize,
    /// The users whose ratings of the item are held, ascending.
    pub users: Vec<u32>,
}

/// What the burst screen found: the bursts (by item) and one flag per rating in CSR order
/// (1: held). Empty flags when the data have no timestamps.
/// Exposed for the distributed fit, which runs the screen on the whole data set.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct BurstScreen {
    /// The bursts, in item order.
    pub bursts: Vec<Burst>,
    /// One flag per rating in CSR order (1: held).
    pub held: Vec<u8>,
}

/// Screens every item of `data` with window `window` seconds; `None` when the data have no
/// timestamps.
#[doc(hidden)]
pub fn burst_screen(data: &Ratings, window: u64) -> Option<BurstScreen> {
    let times = data.times()?;
    let width = data.scale().width();
    let found: Vec<Option<(Burst, Vec<u32>)>> = (0..data.n_items() as u32)
        .into_par_iter()
        .map(|j| item_burst(data, times, j, window as i64, width))
        .collect();
    let mut held = vec![0u8; data.nnz()];
    let mut bursts = Vec::new();
    for (burst, positions) in found.into_iter().flatten() {
        for p in positions {
            held[p as usize] = 1;
        }
        bursts.push(burst);
    }
    Some(BurstScreen { bursts, held })
}

/// The most significant burst of item `j` and the CSR positions it holds.
fn item_burst(
    data: &Ratings,
    times: &[i64],
    j: u32,
    window: i64,
    width: f64,
) -> Option<(Burst, Vec<u32>)> {
    let (raters, values) = data.item(j);
    let n = values.len();
    if n < MIN_BURST + MIN_REST {
        return None;
    }
    let span = data.csc().indptr().outer_inds_sz(j as usize);
    let positions = &data.csc_to_csr()[span];
    // (time, CSR position, value, user), in time order (CSR position breaks ties:
    // deterministic).
    let mut r: Vec<(i64, u32, f64, u32)> = positions
        .iter()
        .zip(values)
        .zip(raters)
        .map(|((&p, &v), &u)| (times[p as usize], p, v, u))
        .collect();
    r.sort_unstable_by_key(|&(t, p, _, _)| (t, p));
    let (sum, sq) = r
        .iter()
        .fold((0.0, 0.0), |(s, q), &(_, _, v, _)| (s + v, q + v * v));
    let time_span = r[n - 1].0.saturating_sub(r[0].0);
    let mut best: Option<(f64, usize, usize)> = None;
    let (mut end, mut ws, mut wq) = (0usize, 0.0, 0.0);
    for a in 0..n {
        while end < n && r[end].0 - r[a].0 < window {
            ws += r[end].2;
            wq += r[end].2 * r[end].2;
            end += 1;
        }
        let c = end - a;
        if c >= MIN_BURST && n - c >= MIN_REST {
            let z = shift_z(c, ws, n - c, sum - ws, sq - wq, width)
                .filter(|z| best.is_none_or(|(b, _, _)| z.abs() > b.abs()));
            if let Some(z) = z {
                let mu = (n - c) as f64 * window as f64 / (time_span - window).max(window) as f64;
                if poisson_tail(c, mu) < MAX_P {
                    best = Some((z, a, end));
                }
            }
        }
        ws -= r[a].2;
        wq -= r[a].2 * r[a].2;
    }
    let (z, a, b) = best?;
    let c = b - a;
    let window_sum = r[a..b].iter().map(|x| x.2).sum::<f64>();
    let mean = window_sum / c as f64;
    let rest_mean = (sum - window_sum) / (n - c) as f64;
    let down = z < 0.0;
    let shifted: Vec<&(i64, u32, f64, u32)> = r[a..b]
        .iter()
        .filter(|x| {
            if down {
                x.2 < rest_mean
            } else {
                x.2 > rest_mean
            }
        })
        .collect();
    let held: Vec<u32> = shifted.iter().map(|x| x.1).collect();
    let mut users: Vec<u32> = shifted.iter().map(|x| x.3).collect();
    users.sort_unstable();
    let burst = Burst {
        item: j,
        start: r[a].0,
        end: r[b - 1].0,
        count: c,
        mean,
        rest_mean,
        z,
        held: held.len(),
        users,
    };
    Some((burst, held))
}

/// The z score of a window's mean shift (window: `c` ratings summing to `ws`; rest: `k`
/// ratings, sum `rs`, sum of squares `rq`), `None` when the shift is below [`MIN_SHIFT`] or
/// [`MIN_Z`].
fn shift_z(c: usize, ws: f64, k: usize, rs: f64, rq: f64, width: f64) -> Option<f64> {
    let (mw, mr) = (ws / c as f64, rs / k as f64);
    let d = mw - mr;
    let sd = (rq / k as f64 - mr * mr)
        .max(0.0)
        .sqrt()
        .max(SD_FLOOR * width);
    let z = d / (sd / (c as f64).sqrt());
    (d.abs() >= MIN_SHIFT * width && z.abs() >= MIN_Z).then_some(z)
}

/// `P(X >= c)` for `X ~ Poisson(mu)`, summed in log space from `c` up until the terms vanish.
fn poisson_tail(c: usize, mu: f64) -> f64 {
    if mu <= 0.0 {
        return if c == 0 { 1.0 } else { 0.0 };
    }
    // ln P(X = c) = -mu + c ln mu - ln c!
    let ln_fact: f64 = (2..=c).map(|k| (k as f64).ln()).sum();
    let mut term = (-mu + c as f64 * mu.ln() - ln_fact).exp();
    let mut total = 0.0;
    let mut k = c as f64;
    while term > total * 1e-17 && term > 0.0 {
        total += term;
        k += 1.0;
        term *= mu / k;
    }
    total.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_tail_matches_hand_computed_values() {
        // P(X >= 0) = 1; P(X >= 1 | mu = 1) = 1 - e^-1; P(X >= 2 | mu = 2) = 1 - 3 e^-2.
        assert!((poisson_tail(0, 1.0) - 1.0).abs() < 1e-12);
        assert!((poisson_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert!((poisson_tail(2, 2.0) - (1.0 - 3.0 * (-2.0f64).exp())).abs() < 1e-12);
        assert!(poisson_tail(40, 1.0) < 1e-40);
        assert_eq!(poisson_tail(3, 0.0), 0.0);
    }

    #[test]
    fn shift_needs_both_size_and_significance() {
        // Rest: 20 ratings of 4 (sd 0 -> floor 0.5 on width 4); window of 5 ratings of 3.
        // d = -1, z = -1 / (0.5 / sqrt 5) = -4.47.
        let z = shift_z(5, 15.0, 20, 80.0, 320.0, 4.0).unwrap();
        assert!((z + 2.0 * 5f64.sqrt()).abs() < 1e-12, "{z}");
        // Shift 0.4 < 0.5: too small, however many ratings.
        assert!(shift_z(500, 1800.0, 20, 80.0, 320.0, 4.0).is_none());
        // Shift 1 on 3 ratings: z = -3.46, not significant.
        assert!(shift_z(3, 9.0, 20, 80.0, 320.0, 4.0).is_none());
    }
}
